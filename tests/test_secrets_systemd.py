"""CRM credentials from systemd (``LoadCredential=``/``LoadCredentialEncrypted=``/``ImportCredential=`` put
them in ``$CREDENTIALS_DIRECTORY``): ``crm.connect`` without credentials takes them, and the stored copy wins
only while they are unchanged (it holds refreshed tokens)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from leadsync.agent.daemon import Agent
from leadsync.agent.secrets import SecretStore, system_credentials
from leadsync.common.errors import ValidationError
from leadsync.common.rpc import RpcClient, RpcError
from tests.conftest import SANDBOX_URL, make_sandbox


@pytest.fixture
def creds(short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = short_tmp / "creds"
    folder.mkdir()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(folder))
    return folder


def test_a_json_credential_and_one_value_files_merge(creds: Path) -> None:
    (creds / "salesforce.json").write_text(json.dumps({"client_id": "id-1", "client_secret": "s-1"}))
    (creds / "salesforce-refresh_token").write_text("r-1\n")
    (creds / "hubspot-token").write_text("pat-x")
    assert system_credentials("salesforce") == {"client_id": "id-1", "client_secret": "s-1", "refresh_token": "r-1"}
    assert system_credentials("hubspot") == {"token": "pat-x"}
    assert system_credentials("zoho") == {}
    (creds / "zoho.json").write_text("[1, 2]")
    with pytest.raises(ValidationError, match=r"zoho\.json is not a JSON object"):
        system_credentials("zoho")


def test_the_stored_copy_wins_until_the_system_credential_changes(creds: Path, short_tmp: Path) -> None:
    store = SecretStore(short_tmp / "data")
    (creds / "salesforce.json").write_text(json.dumps({"client_id": "id", "refresh_token": "r-1"}))
    store.save("salesforce", {"client_id": "id", "refresh_token": "r-2"})  # rotated by the CRM since
    assert store.load("salesforce")["refresh_token"] == "r-2"
    (creds / "salesforce.json").write_text(json.dumps({"client_id": "id", "refresh_token": "r-new"}))
    assert store.load("salesforce")["refresh_token"] == "r-new"  # an operator put in a new one: it wins


def test_a_file_stored_before_any_system_credential_loses_to_it(creds: Path, short_tmp: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    store = SecretStore(short_tmp / "data")
    store.save("hubspot", {"token": "old"})
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    (creds / "hubspot-token").write_text("from-systemd")
    assert store.load("hubspot") == {"token": "from-systemd"}


async def test_crm_connect_without_credentials_takes_the_systemd_ones(creds: Path, short_tmp: Path) -> None:
    _, app = make_sandbox(contacts=5)
    agent = Agent(short_tmp / "data", short_tmp / "agent.sock",
                  connector_options={"transport": httpx.ASGITransport(app=app), "rate_limit_per_10s": 100_000})
    await agent.start()
    try:
        async with RpcClient(agent.socket_path) as client:
            with pytest.raises(RpcError, match="HubSpot needs a private-app or OAuth access token"):
                await client.call("crm.connect", {"crm": "hubspot", "base_url": SANDBOX_URL})
            (creds / "hubspot-token").write_text("sandbox-token\n")
            status = await client.call("crm.connect", {"crm": "hubspot", "base_url": SANDBOX_URL})
            assert status["connected"] and status["status"] == "connected"
            run = await client.call("sync.run", {"wait": True})
            assert run["status"] == "ok" and run["pulled"] == 5
    finally:
        await agent.stop()
    stored = (short_tmp / "data" / "secrets" / "hubspot.json").read_text()
    assert "sandbox-token" in stored and "__system_credentials_sha256__" in stored
