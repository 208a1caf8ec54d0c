"""JSON-RPC 2.0 over a Unix socket, one UTF-8 JSON object per line: framing and the client.

Requests ``{"jsonrpc": "2.0", "id": N, "method": "contacts.list", "params": {...}}``; answers carry
``result`` or ``error: {code, message, data?}``; notifications (no ``id``) carry subscribed events as
``{"jsonrpc": "2.0", "method": "event", "params": {...}}``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec

from leadsync.common.errors import LeadsyncError, RpcCode

MAX_FRAME_BYTES = 1 << 20  # 1 MiB per line, both ways
_encoder = msgspec.json.Encoder()


class RpcError(LeadsyncError):
    """An error answer from the agent: ``code`` (JSON-RPC code), ``message`` and optional ``data``."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message, data=data)
        self.code = code

    def __str__(self) -> str:
        return f"{self.message} (code {self.code})"


class AgentUnavailableError(LeadsyncError):
    """No agent answers on the socket (not running, wrong path, or no permission)."""


def encode(message: Any) -> bytes:
    """One frame: the message as compact JSON plus a newline."""
    return _encoder.encode(message) + b"\n"


class RpcClient:
    """An async client for the agent's socket.

    Use as ``async with RpcClient(path) as client: await client.call("agent.status")``. ``call``
    raises :class:`RpcError` on an error answer (also for the agent's last line before it closed the
    connection: too many connections, a slow event reader...) and :class:`AgentUnavailableError` when the
    socket cannot be reached or closes. A connection the agent closed as idle is opened again by the next
    ``call``. Event notifications land in :meth:`events`.
    """

    def __init__(self, path: str | Path, *, timeout_s: float | None = 60.0) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._read_task: asyncio.Task[None] | None = None
        self._refusal: RpcError | None = None  # an error the agent sent before closing (e.g. permission denied)

    async def __aenter__(self) -> RpcClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        try:
            self._reader, self._writer = await asyncio.open_unix_connection(
                str(self.path), limit=MAX_FRAME_BYTES * 64
            )
        except (FileNotFoundError, ConnectionRefusedError, PermissionError) as exc:
            raise AgentUnavailableError(f"no leadsync agent at {self.path}: {exc.strerror or exc}") from None
        self._read_task = asyncio.create_task(self._read_loop())

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except OSError:
                pass
        if self._read_task is not None:
            self._read_task.cancel()
            try:
                await self._read_task
            except asyncio.CancelledError:
                pass
        self._writer = None

    async def _read_loop(self) -> None:
        assert self._reader is not None
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                message = msgspec.json.decode(line)
                if not isinstance(message, dict):
                    continue
                msg_id = message.get("id")
                if msg_id is None and isinstance(message.get("error"), dict):
                    err = message["error"]
                    self._refusal = RpcError(int(err.get("code", -32603)), str(err.get("message", "error")),
                                             err.get("data"))
                    continue
                if msg_id is None and "method" in message:
                    self._events.put_nowait(message.get("params") or {})
                    continue
                future = self._pending.pop(msg_id, None) if isinstance(msg_id, int) else None
                if future is None or future.done():
                    continue
                if "error" in message:
                    err = message["error"] or {}
                    future.set_exception(
                        RpcError(int(err.get("code", -32603)), str(err.get("message", "error")), err.get("data"))
                    )
                else:
                    future.set_result(message.get("result"))
        except (ConnectionError, msgspec.DecodeError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(self._refusal or AgentUnavailableError(
                        f"the agent at {self.path} closed the connection"))
            self._pending.clear()
            self._events.put_nowait(None)

    async def call(self, method: str, params: dict[str, Any] | None = None, *,
                   timeout_s: float | None = -1.0) -> Any:
        """Send one request and wait for its answer (``timeout_s`` in seconds; -1: the client's default).

        A request cut short by the agent's idle timeout never ran (the agent reads nothing after that
        notice): it is sent once more on a new connection."""
        try:
            return await self._call(method, params, timeout_s)
        except RpcError as exc:
            if exc.code != RpcCode.IDLE_TIMEOUT:
                raise
        return await self._call(method, params, timeout_s)

    async def _call(self, method: str, params: dict[str, Any] | None, timeout_s: float | None) -> Any:
        if self._read_task is not None and self._read_task.done() and self._closed_idle():
            await self.close()  # the agent closed this connection for want of requests: open a new one
        if self._writer is None:
            self._refusal = None
            await self.connect()
        assert self._writer is not None
        if self._read_task is not None and self._read_task.done():
            raise self._refusal or AgentUnavailableError(f"the agent at {self.path} closed the connection")
        msg_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        request: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            request["params"] = params
        try:
            self._writer.write(encode(request))
            await self._writer.drain()
        except ConnectionError as exc:
            self._pending.pop(msg_id, None)
            if self._refusal is not None:
                raise self._refusal from None
            raise AgentUnavailableError(f"the agent at {self.path} closed the connection: {exc}") from None
        wait = self.timeout_s if timeout_s == -1.0 else timeout_s
        return await asyncio.wait_for(future, wait)

    def _closed_idle(self) -> bool:
        return self._refusal is not None and self._refusal.code == RpcCode.IDLE_TIMEOUT

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Event notifications as they arrive (after ``events.subscribe``); ends when the connection closes."""
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event


def call_once(path: str | Path, method: str, params: dict[str, Any] | None = None,
              *, timeout_s: float | None = None) -> Any:
    """Blocking helper for scripts and the CLI: connect, call one method, close."""

    async def run() -> Any:
        async with RpcClient(path, timeout_s=timeout_s) as client:
            return await client.call(method, params)

    return asyncio.run(run())
