"""The transport under every connector's :class:`httpx.AsyncClient`: TLS state only once a request needs it.

httpx builds a verified SSL context when a transport is made, loading certifi's CA bundle (about 1.2 MB of the
agent's resident memory, 2026-12-08), whether or not a request will ever use TLS. :class:`TlsOnDemand` sends
``http://`` requests (a sandbox, a local proxy) through a transport with no certificates loaded, and makes the
verified one, with httpx's defaults, at the first ``https://`` request: every https request is verified as
before; plain http simply carries no TLS state. :class:`~leadsync.agent.connectors.http.HttpClient` uses it only
when no proxy is set in the environment (``HTTP(S)_PROXY``, ``ALL_PROXY``): httpx routes to those only from the
transports it makes itself.
"""

from __future__ import annotations

import httpx


class TlsOnDemand(httpx.AsyncBaseTransport):
    """``http://`` on a plain transport, ``https://`` on a verified :class:`httpx.AsyncHTTPTransport` made at the
    first https request; both keep their connections alive. Any other scheme raises
    :class:`httpx.UnsupportedProtocol`, as httpx's own transport does."""

    def __init__(self) -> None:
        self._plain = httpx.AsyncHTTPTransport(verify=False)  # never used for TLS: https goes to ``_tls``
        self._tls: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        scheme = request.url.scheme
        if scheme == "https":
            if self._tls is None:
                self._tls = httpx.AsyncHTTPTransport()
            return await self._tls.handle_async_request(request)
        if scheme == "http":
            return await self._plain.handle_async_request(request)
        raise httpx.UnsupportedProtocol(f"Request URL has an unsupported protocol '{scheme}://'.")

    async def aclose(self) -> None:
        await self._plain.aclose()
        if self._tls is not None:
            await self._tls.aclose()
