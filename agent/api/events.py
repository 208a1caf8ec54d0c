"""``events.*``: the agent's events as JSON-RPC notifications (``method`` ``event``) on a connection."""

from __future__ import annotations

import asyncio
from typing import Any

from leadsync.agent.api.registry import ApiContext, Params, method
from leadsync.agent.rpc_server import Session


class Subscribe(Params):
    pass


_pumps: set[asyncio.Task[None]] = set()


@method("events.subscribe", Subscribe)
async def events_subscribe(ctx: ApiContext, _: Subscribe) -> dict[str, Any]:
    """Stream events (sync progress, run start/end, contact changes) as notifications on this connection.

    A subscriber that stops reading is dropped once ``event_buffer`` events wait for it (socket limits):
    a final error with id null, code ``SLOW_READER``, then the connection closes."""
    session = ctx.session
    if session.subscribe():
        task = asyncio.create_task(_pump(session))
        _pumps.add(task)
        task.add_done_callback(_pumps.discard)
    return {"subscribed": True}


async def _pump(session: Session) -> None:
    """Send the session's queued events until its connection closes."""
    assert session.events is not None
    try:
        while (event := await session.events.get()) is not None:
            await session.send({"jsonrpc": "2.0", "method": "event", "params": event})
    except (ConnectionError, OSError):
        return
