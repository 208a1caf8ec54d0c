"""Helpers for import tests: files written in an exporter's encoding, imported through the socket as
``leadsync import`` does, and the fate of each value read back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from leadsync.agent.connectors.base import CrmOwner
from leadsync.agent.daemon import Agent
from leadsync.agent.users import save_owners
from leadsync.common.importfile.upload import import_file
from leadsync.common.rpc import RpcClient, call_once


async def run_import(agent: Agent, path: Path, **options: Any) -> dict[str, Any]:
    """``leadsync import PATH --as importer@corp.com`` with ``options``, as the CLI runs it."""
    sock = str(agent.socket_path)
    options.setdefault("as_user", "importer@corp.com")
    answer: dict[str, Any] = await asyncio.to_thread(
        import_file, lambda method, params: call_once(sock, method, params, timeout_s=60), str(path), **options)
    return answer


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


async def contact(client: RpcClient, email: str) -> dict[str, Any]:
    page = await client.call("contacts.list", {"filter": {"q": email}})
    [found] = [c for c in page["contacts"] if c["email"].lower() == email.lower()]
    return dict(found)


def problems(answer: dict[str, Any], key: str = "warnings") -> set[tuple[int, str | None, str]]:
    """(line, column, kind) of each item in ``answer[key]``."""
    return {(p["line"], p["column"], p["kind"]) for p in answer[key]}


def fields_of(answer: dict[str, Any]) -> dict[str, str | None]:
    return {c["column"]: c["field"] for c in answer["columns"]}


@pytest.fixture
async def importer(client: RpcClient) -> dict[str, Any]:
    user: dict[str, Any] = await client.call("users.create", {"email": "importer@corp.com", "name": "Imp"})
    return user


OWNERS = (
    CrmOwner(id="1001", email="alice@corp.com", first_name="Alice", last_name="Admin"),  # HubSpot-style id
    CrmOwner(id="0055g00000XyZaBAAX", email="carol@corp.com", first_name="Carol", last_name="Sales"),  # Salesforce
    CrmOwner(id="4876876000000098001", email="dana@corp.com", first_name="Dana", last_name="Zoho"),  # Zoho
    CrmOwner(id="1002", email="dan@corp.com", first_name="Departed", last_name="Dan", active=False),
    CrmOwner(id="1003", email="nouser@corp.com", first_name="Nora", last_name="Nouser"),
)


@pytest.fixture
async def team(agent: Agent, client: RpcClient, importer: dict[str, Any]) -> dict[str, int]:
    """CRM owners as a sync would have saved them, and users for four of them: email -> user id."""
    async with agent.store.transaction() as db:
        await save_owners(db, OWNERS)
    ids = {"importer@corp.com": importer["id"]}
    for email, name in (("alice@corp.com", "Alice Admin"), ("carol@corp.com", "Carol Sales"),
                        ("dana@corp.com", "Dana Zoho"), ("dan@corp.com", "Departed Dan")):
        ids[email] = (await client.call("users.create", {"email": email, "name": name}))["id"]
    return ids
