"""``agent.*``: the agent itself (version, process, socket) and the methods it serves."""

from __future__ import annotations

import os
import time
from typing import Any

from leadsync.agent.api.registry import ApiContext, NoParams, method
from leadsync.agent.hardening import process_guards
from leadsync.agent.store.queries.contacts import count_contacts
from leadsync.agent.store.search_index import backlog_size

VERSION = "0.1.0"
_STARTED = time.monotonic()


@method("agent.status", NoParams)
async def agent_status(ctx: ApiContext, _: NoParams) -> dict[str, Any]:
    """Version, pid, uptime (s), data dir, socket, whether a CRM is connected and a sync runs, contacts, the
    contacts not in the search index yet (search_backlog: a first full pull indexes them in bulk at its end;
    0 when it is in step), and the process guards in force (process: dumpable, core_limit_bytes)."""
    agent = ctx.agent
    return {
        "version": VERSION, "pid": os.getpid(), "uptime_s": round(time.monotonic() - _STARTED, 1),
        "data_dir": str(agent.data_dir), "socket": str(agent.socket_path),
        "crm": agent.connector.name if agent.connector else None, "sync_running": agent.current_run,
        "contacts": await count_contacts(ctx.store), "search_backlog": await backlog_size(ctx.store.reader),
        "process": process_guards(),
    }


@method("agent.methods", NoParams)
async def agent_methods(ctx: ApiContext, _: NoParams) -> list[dict[str, Any]]:
    """The methods this agent serves: name, description and the JSON Schema of the params."""
    return [m.describe() for m in ctx.methods]
