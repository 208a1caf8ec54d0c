"""The agent's JSON-RPC 2.0 server on a Unix socket: framing, validation and dispatch.

One UTF-8 JSON object per line, at most ``MAX_FRAME_BYTES`` per line. Malformed input of any kind
(invalid JSON or UTF-8, oversize lines, deep nesting, wrong shapes) gets a standard JSON-RPC error;
nothing a client sends can stop the server. Params are validated with msgspec against each method's
params Struct, so a bad call answers -32602 with the field at fault.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from leadsync.common.errors import LeadsyncError, RpcCode
from leadsync.common.rpc import MAX_FRAME_BYTES, encode

log = logging.getLogger("leadsync.rpc")

Handler = Callable[[Any, "Session"], Awaitable[Any]]


class NoParams(msgspec.Struct, forbid_unknown_fields=True):
    """For methods that take no params."""


@dataclass(frozen=True)
class Method:
    name: str
    params: type[msgspec.Struct]
    handler: Handler
    doc: str


class Session:
    """One client connection: writes are serialised; event notifications go through a bounded queue so
    a slow subscriber drops its oldest events instead of blocking the agent."""

    EVENT_QUEUE = 1000

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self._lock = asyncio.Lock()
        self.events: asyncio.Queue[dict[str, Any]] | None = None
        self.dropped_events = 0
        self.peer_uid: int | None = None

    async def send(self, message: dict[str, Any]) -> None:
        data = encode(message)
        async with self._lock:
            self.writer.write(data)
            await self.writer.drain()

    def offer_event(self, event: dict[str, Any]) -> None:
        if self.events is None:
            return
        if self.events.full():
            self.events.get_nowait()
            self.dropped_events += 1
        self.events.put_nowait(event)


def error(code: int, message: str, msg_id: Any = None, data: Any = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "id": msg_id, "error": err}


class RpcServer:
    """Serves ``methods`` on ``path`` (created with ``mode``, 0600 by default)."""

    def __init__(self, methods: dict[str, Method], *, mode: int = 0o600,
                 authorize: Callable[[asyncio.StreamWriter], bool] | None = None) -> None:
        self.methods = methods
        self.mode = mode
        self.authorize = authorize
        self.sessions: set[Session] = set()
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, path: Path) -> None:
        # once at start-up, before serving: blocking file calls are fine here
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if path.exists() or path.is_symlink():  # noqa: ASYNC240
            path.unlink()  # noqa: ASYNC240
        old_umask = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._serve, str(path), limit=MAX_FRAME_BYTES)
        finally:
            os.umask(old_umask)
        os.chmod(path, self.mode)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for session in list(self.sessions):
                session.writer.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()

    def broadcast(self, event: dict[str, Any]) -> None:
        for session in self.sessions:
            session.offer_event(event)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(writer)
        if self.authorize is not None and not self.authorize(writer):
            await session.send(error(RpcCode.INVALID_REQUEST, "this user may not use the leadsync agent"))
            writer.close()
            return
        self.sessions.add(session)
        try:
            while True:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as exc:
                    if exc.partial.strip():
                        await self._handle_line(exc.partial, session)
                    break
                except asyncio.LimitOverrunError:
                    await session.send(error(RpcCode.INVALID_REQUEST,
                                             f"request larger than {MAX_FRAME_BYTES} bytes; connection closed"))
                    break
                if line.strip():
                    task = asyncio.create_task(self._handle_line(line, session))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
        except (ConnectionError, OSError):
            pass
        finally:
            self.sessions.discard(session)
            writer.close()

    async def _handle_line(self, line: bytes, session: Session) -> None:
        try:
            answer = await self.dispatch(line, session)
        except Exception:  # the last guard: never let a request kill the server
            log.exception("unexpected error while answering a request")
            answer = error(RpcCode.INTERNAL_ERROR, "internal error")
        if answer is not None:
            try:
                await session.send(answer)
            except (ConnectionError, OSError):
                pass

    async def dispatch(self, line: bytes, session: Session) -> dict[str, Any] | None:
        """Answer one frame; None for a notification (a request without ``id``)."""
        try:
            request = msgspec.json.decode(line)
        except msgspec.DecodeError as exc:
            return error(RpcCode.PARSE_ERROR, f"parse error: {exc}")
        except RecursionError:
            return error(RpcCode.PARSE_ERROR, "parse error: JSON nested too deeply")
        if not isinstance(request, dict):
            return error(RpcCode.INVALID_REQUEST, "a request is a JSON object")
        msg_id = request.get("id")
        if not (msg_id is None or (isinstance(msg_id, (str, int)) and not isinstance(msg_id, bool))):
            return error(RpcCode.INVALID_REQUEST, "id: must be a string, a number or absent")
        if request.get("jsonrpc") != "2.0":
            return error(RpcCode.INVALID_REQUEST, 'jsonrpc: must be "2.0"', msg_id)
        name = request.get("method")
        if not isinstance(name, str):
            return error(RpcCode.INVALID_REQUEST, "method: must be a string", msg_id)
        method = self.methods.get(name)
        if method is None:
            return error(RpcCode.METHOD_NOT_FOUND, f"no method {name[:100]!r}; see agent.methods", msg_id)
        raw = request.get("params", {})
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            return error(RpcCode.INVALID_PARAMS, "params: must be an object of named params", msg_id)
        try:
            params = msgspec.convert(raw, method.params)
        except msgspec.ValidationError as exc:
            return error(RpcCode.INVALID_PARAMS, f"invalid params for {name}: {exc}", msg_id)
        try:
            result = await method.handler(params, session)
        except LeadsyncError as exc:
            return error(exc.code, exc.message, msg_id, exc.data)
        except Exception:
            log.exception("method %s failed", name)
            return error(RpcCode.INTERNAL_ERROR, f"internal error in {name}; see the agent's log", msg_id)
        if msg_id is None:
            return None
        return {"jsonrpc": "2.0", "id": msg_id, "result": msgspec.to_builtins(result)}
