"""The connectors' transport (``agent/connectors/http_transport.py``): plain http carries no TLS state, every
https request goes through a verified transport made at the first one, and no other scheme is sent."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from leadsync.agent.connectors.http import HttpClient
from leadsync.agent.connectors.http_transport import TlsOnDemand
from leadsync.agent.connectors.hubspot.errors import hubspot_error
from leadsync.agent.connectors.sandbox.serve import serve_in_thread


async def hello(_: object) -> JSONResponse:
    return JSONResponse({"hello": "world"})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_http_goes_plain_and_makes_no_tls_transport() -> None:
    transport = TlsOnDemand()
    with serve_in_thread(Starlette(routes=[Route("/hello", hello)])) as server:
        async with httpx.AsyncClient(base_url=server.url, transport=transport) as client:
            for _ in range(3):  # kept alive between requests
                answer = await client.get("/hello")
                assert answer.json() == {"hello": "world"}
    assert transport._tls is None


async def test_https_goes_through_a_verified_transport_made_at_the_first_request() -> None:
    transport = TlsOnDemand()
    port = free_port()  # nothing listens: the connection fails, after the transport for it was chosen
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"https://127.0.0.1:{port}/")
        tls = transport._tls
        assert tls is not None
        context = tls._pool._ssl_context
        assert context is not None
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
        with pytest.raises(httpx.ConnectError):
            await client.get(f"https://127.0.0.1:{port}/again")
        assert transport._tls is tls  # one, reused


async def test_an_https_server_with_a_certificate_nobody_signed_is_refused(tmp_path: Path) -> None:
    """A TLS server with a self-signed certificate: the verified transport refuses it, as httpx's own does."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    folder = tmp_path
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                        serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def accept_one() -> None:
            conn, _ = listener.accept()
            try:
                with server_context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass  # the client hung up on the certificate

        thread = threading.Thread(target=accept_one, daemon=True)
        thread.start()
        async with httpx.AsyncClient(transport=TlsOnDemand()) as client:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get(f"https://localhost:{port}/")
        thread.join(5)


async def test_no_other_scheme_is_sent() -> None:
    transport = TlsOnDemand()
    with pytest.raises(httpx.UnsupportedProtocol):
        await transport.handle_async_request(httpx.Request("GET", "ftp://127.0.0.1/file"))
    await transport.aclose()


async def test_http_clients_use_it_unless_the_environment_names_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    plain = HttpClient(crm="hubspot", base_url="http://127.0.0.1:1", error_mapper=hubspot_error)
    assert isinstance(plain._client._transport, TlsOnDemand)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    proxied = HttpClient(crm="hubspot", base_url="https://api.hubapi.com", error_mapper=hubspot_error)
    assert not isinstance(proxied._client._transport, TlsOnDemand)
    assert any(mount is not None for mount in proxied._client._mounts.values())  # httpx's route to the proxy
    await plain.aclose()
    await proxied.aclose()
