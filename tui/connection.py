"""The TUI's one connection to the agent: calls, capability checks and the watcher that reconnects.

The TUI talks to the agent only through its Unix socket (:class:`leadsync.common.rpc.RpcClient`).
:class:`AgentLink` holds the live client; :func:`watch_agent` connects, subscribes to events, turns
each event into a :mod:`leadsync.tui.messages` message, and when the agent goes away (or was never
there) reports it and tries again every ``reconnect_s`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from textual.message import Message

from leadsync.common.errors import RpcCode
from leadsync.common.models import SyncRun
from leadsync.common.rpc import AgentUnavailableError, RpcClient, RpcError
from leadsync.tui.messages import (
    AgentConnected,
    AgentLost,
    ContactChanged,
    ContactsImported,
    SettingsChanged,
    SyncFinished,
    SyncProgress,
    SyncStarted,
)
from leadsync.tui.owners import OwnerDirectory

T = TypeVar("T")

CALL_TIMEOUT_S = 30.0
RECONNECT_S = 2.0


class MethodUnavailableError(RpcError):
    """The agent does not serve ``method`` (JSON-RPC -32601): an older agent, or a feature not built yet."""

    def __init__(self, method: str) -> None:
        super().__init__(RpcCode.METHOD_NOT_FOUND, f"{method} is not available in this agent")
        self.method = method


class AgentLink:
    """The live connection, shared by every view.

    ``call`` raises :class:`AgentUnavailableError` while disconnected, :class:`MethodUnavailableError`
    for a method the agent lacks, :class:`RpcError` for any other error answer and
    :class:`TimeoutError` after ``CALL_TIMEOUT_S`` seconds.
    """

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        self.client: RpcClient | None = None
        self.methods: frozenset[str] = frozenset()
        self.status: dict[str, Any] = {}
        self.directory = OwnerDirectory()
        self.wake = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self.client is not None

    def has(self, method: str) -> bool:
        """Whether the connected agent lists ``method`` in ``agent.methods``."""
        return method in self.methods

    async def call(self, method: str, params: dict[str, Any] | None = None, *,
                   timeout_s: float = CALL_TIMEOUT_S) -> Any:
        client = self.client
        if client is None:
            raise AgentUnavailableError(f"no leadsync agent at {self.socket_path}")
        try:
            return await client.call(method, params, timeout_s=timeout_s)
        except RpcError as exc:
            if exc.code == RpcCode.METHOD_NOT_FOUND:
                raise MethodUnavailableError(method) from None
            raise

    async def fetch(self, method: str, params: dict[str, Any] | None, shape: type[T], *,
                    timeout_s: float = CALL_TIMEOUT_S) -> T:
        """``call`` and decode the result into ``shape`` (a msgspec Struct or a typed container)."""
        return msgspec.convert(await self.call(method, params, timeout_s=timeout_s), shape)

    async def supports_param(self, method: str, params: dict[str, Any]) -> bool:
        """Whether ``method`` accepts ``params`` (a harmless read): False when the agent answers
        -32601 (no method) or -32602 (unknown param); any other answer means it understood them."""
        try:
            await self.call(method, params)
        except RpcError as exc:
            return exc.code not in (RpcCode.METHOD_NOT_FOUND, RpcCode.INVALID_PARAMS)
        return True


def event_message(event: dict[str, Any]) -> Message | None:
    """The message for one agent event notification; None for events the TUI does not show."""
    kind = event.get("type")
    try:
        if kind == "progress":
            total = event.get("total")
            run_id = event.get("run_id")
            return SyncProgress(str(event.get("phase", "")), int(event.get("done", 0)),
                                int(total) if total is not None else None, event.get("object_type"),
                                int(run_id) if run_id is not None else None)
        if kind == "run_started":
            return SyncStarted(int(event["run_id"]), str(event.get("trigger", "")))
        if kind == "run_finished":
            return SyncFinished(msgspec.convert(event["run"], SyncRun))
        if kind == "contact_changed":
            return ContactChanged(int(event["contact_id"]), str(event.get("change", "")))
        if kind == "contacts_imported":
            return ContactsImported(int(event.get("created") or 0), int(event.get("updated") or 0))
        if kind == "settings_changed":
            return SettingsChanged(dict(event.get("changes") or {}))
    except (KeyError, TypeError, ValueError, msgspec.ValidationError):
        return None  # an event of a shape this TUI does not know: skip it, keep listening
    return None


async def watch_agent(link: AgentLink, post: Callable[[Message], object], *,
                      reconnect_s: float = RECONNECT_S) -> None:
    """Keep ``link`` connected for as long as the app runs (run it as a worker).

    Posts :class:`AgentConnected` after connecting and subscribing, the event messages while connected,
    and :class:`AgentLost` for each failed attempt and when the connection closes; between attempts it
    waits ``reconnect_s`` seconds or until ``link.wake`` is set.
    """
    while True:
        client = RpcClient(link.socket_path, timeout_s=CALL_TIMEOUT_S)
        try:
            await client.connect()
            await client.call("events.subscribe")
            status = await client.call("agent.status")
            listed = await client.call("agent.methods")
        except (AgentUnavailableError, RpcError, OSError, TimeoutError) as exc:
            await client.close()
            post(AgentLost(_reason(exc)))
            await _pause(link, reconnect_s)
            continue
        link.methods = frozenset(str(m.get("name")) for m in listed if isinstance(m, dict))
        link.status = status if isinstance(status, dict) else {}
        link.client = client
        post(AgentConnected(link.status, link.methods))
        try:
            async for event in client.events():
                message = event_message(event)
                if message is not None:
                    post(message)
        finally:
            link.client = None
            await client.close()
        post(AgentLost(f"the agent at {link.socket_path} closed the connection"))
        await _pause(link, reconnect_s)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, AgentUnavailableError | RpcError):
        return exc.message
    if isinstance(exc, TimeoutError):
        return "the agent did not answer in time"
    return f"{type(exc).__name__}: {exc}"


async def _pause(link: AgentLink, seconds: float) -> None:
    link.wake.clear()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(link.wake.wait(), seconds)
