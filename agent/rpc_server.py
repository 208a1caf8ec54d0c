"""The agent's JSON-RPC 2.0 server on a Unix socket: framing, validation and dispatch.

One UTF-8 JSON object per line, at most ``MAX_FRAME_BYTES`` per line. Malformed input of any kind
(invalid JSON or UTF-8, oversize lines, deep nesting, wrong shapes) gets a standard JSON-RPC error;
nothing a client sends can stop the server. Params are validated with msgspec against each method's
params Struct, so a bad call answers -32602 with the field at fault.

Under load and abuse (issue 16) the server keeps to :class:`~leadsync.agent.rpc_limits.SocketLimits`: the
accept loop and the cap on connections are in :mod:`~leadsync.agent.rpc_accept`; idle and request-line
deadlines, requests in flight and the event buffer of each connection in :mod:`~leadsync.agent.rpc_session`.

Who may connect: the socket's file mode is the first gate (0600, or 0660 for a group); then
:class:`PeerAuthorizer` checks the connecting process's credentials as the kernel recorded them at
``connect()`` (``SO_PEERCRED``: pid, uid, gid; ``SO_PEERGROUPS``: supplementary groups) against the
allowed users and groups. A refused peer gets one error frame (code ``PERMISSION_DENIED``) naming its
uid, and the connection is closed.
"""

from __future__ import annotations

import asyncio
import grp
import logging
import os
import pwd
import socket
import struct
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from leadsync.agent.rpc_accept import Listener
from leadsync.agent.rpc_fairness import FairGate
from leadsync.agent.rpc_limits import SocketLimits, ensure_open_files, error
from leadsync.agent.rpc_session import READ_CHUNK, Closing, Session
from leadsync.common.errors import LeadsyncError, RpcCode
from leadsync.common.rpc import encode

__all__ = ["Method", "NoParams", "PeerAuthorizer", "PeerCredentials", "RpcServer", "Session", "error",
           "peer_credentials", "resolve_group", "resolve_user"]

log = logging.getLogger("leadsync.rpc")

Handler = Callable[[Any, "Session"], Awaitable[Any]]


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def out_of_range(value: Any, where: str = "$") -> str | None:
    """The path (``$.ids[0]``) of the first integer in decoded JSON ``value`` that SQLite cannot store
    (outside -2**63..2**63-1), or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return where if not INT64_MIN <= value <= INT64_MAX else None
    items: Iterable[tuple[str, Any]] = ()
    if isinstance(value, dict):
        items = ((f"{where}.{k}", v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{where}[{i}]", v) for i, v in enumerate(value))
    return next((found for path, item in items if (found := out_of_range(item, path)) is not None), None)


class NoParams(msgspec.Struct, forbid_unknown_fields=True):
    """For methods that take no params."""


@dataclass(frozen=True)
class Method:
    name: str
    params: type[msgspec.Struct]
    handler: Handler
    doc: str


@dataclass(frozen=True)
class PeerCredentials:
    """The connecting process as the kernel saw it at ``connect()``: pid, uid, gid, supplementary groups."""

    pid: int
    uid: int
    gid: int
    groups: frozenset[int]


_SO_PEERGROUPS = getattr(socket, "SO_PEERGROUPS", 59)  # Linux >= 4.13; Python does not name it
_CRED = struct.Struct("3i")


def peer_credentials(writer: asyncio.StreamWriter) -> PeerCredentials | None:
    """``SO_PEERCRED`` (and ``SO_PEERGROUPS`` when the kernel has it) of a Unix-socket connection;
    None when the transport is not a Unix socket or the kernel does not say."""
    sock = writer.get_extra_info("socket")
    if sock is None or getattr(sock, "family", None) != socket.AF_UNIX:
        return None
    try:
        pid, uid, gid = _CRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size))
    except (OSError, struct.error):
        return None
    groups: set[int] = {gid}
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, _SO_PEERGROUPS, 4 * 256)
        groups.update(x[0] for x in struct.iter_unpack("I", raw[: len(raw) - len(raw) % 4]))
    except OSError:
        pass
    return PeerCredentials(pid, uid, gid, frozenset(groups))


def _user_groups(uid: int) -> set[int]:
    """Groups of the user ``uid`` per the system's user database (when SO_PEERGROUPS is unavailable)."""
    try:
        entry = pwd.getpwuid(uid)
        return set(os.getgrouplist(entry.pw_name, entry.pw_gid))
    except (KeyError, OSError):
        return set()


def resolve_user(name: str) -> int:
    """A user name or numeric uid -> uid; raises ValueError naming an unknown user."""
    if name.strip().isdigit():
        return int(name)
    try:
        return pwd.getpwnam(name.strip()).pw_uid
    except KeyError:
        raise ValueError(f"no user named {name!r}") from None


def resolve_group(name: str) -> int:
    """A group name or numeric gid -> gid; raises ValueError naming an unknown group."""
    if name.strip().isdigit():
        return int(name)
    try:
        return grp.getgrnam(name.strip()).gr_gid
    except KeyError:
        raise ValueError(f"no group named {name!r}") from None


class PeerAuthorizer:
    """An ``RpcServer.authorize`` hook: a peer may connect when its uid is in ``uids`` or one of its groups
    (primary or supplementary) is in ``gids``.

    :meth:`default` allows the agent's own user and root, plus ``--allow-user``/``--allow-group``.
    Under systemd the service must not use ``PrivateUsers=yes`` for this to work: inside a private
    user namespace every other user's uid reads as 65534 (nobody).
    """

    def __init__(self, uids: Iterable[int], gids: Iterable[int] = ()) -> None:
        self.uids = frozenset(uids)
        self.gids = frozenset(gids)

    @classmethod
    def default(cls, users: Iterable[str | int] = (), groups: Iterable[str | int] = ()) -> PeerAuthorizer:
        """Own uid, root, and the named users and groups (names or numbers; ValueError for unknown ones)."""
        uids = {os.getuid(), 0, *(u if isinstance(u, int) else resolve_user(u) for u in users)}
        gids = {g if isinstance(g, int) else resolve_group(g) for g in groups}
        return cls(uids, gids)

    def __repr__(self) -> str:
        return f"PeerAuthorizer(uids={sorted(self.uids)}, gids={sorted(self.gids)})"

    def allows(self, peer: PeerCredentials) -> bool:
        if peer.uid in self.uids:
            return True
        if not self.gids:
            return False
        groups = set(peer.groups) if len(peer.groups) > 1 else {peer.gid, *_user_groups(peer.uid)}
        return bool(groups & self.gids)

    def __call__(self, writer: asyncio.StreamWriter) -> bool:
        peer = peer_credentials(writer)
        return peer is not None and self.allows(peer)


class RpcServer:
    """Serves ``methods`` on ``path`` (created with ``mode``, 0600 by default) within ``limits``
    (:class:`~leadsync.agent.rpc_limits.SocketLimits`: connections, idle and request deadlines, requests in
    flight, write and event buffers)."""

    def __init__(self, methods: dict[str, Method], *, mode: int = 0o600,
                 authorize: Callable[[asyncio.StreamWriter], bool] | None = None,
                 limits: SocketLimits | None = None) -> None:
        self.methods = methods
        self.mode = mode
        self.authorize = authorize
        self.limits = limits or SocketLimits()
        self.sessions: set[Session] = set()
        self.listener = Listener(self.limits, self._serve_socket)
        self.gate = FairGate(self.limits.max_working)
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, path: Path) -> None:
        # once at start-up, before serving: blocking file calls are fine here
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if path.exists() or path.is_symlink():  # noqa: ASYNC240
            path.unlink()  # noqa: ASYNC240
        ensure_open_files(self.limits)
        self.listener.listen(path, self.mode)

    async def close(self) -> None:
        self.listener.close()
        for session in list(self.sessions):
            session.close()
        for task in list(self._tasks):
            task.cancel()

    def broadcast(self, event: dict[str, Any]) -> None:
        for session in list(self.sessions):
            session.offer_event(event)

    async def _serve_socket(self, conn: socket.socket) -> None:
        try:
            reader, writer = await asyncio.open_unix_connection(sock=conn, limit=READ_CHUNK)
        except OSError:
            conn.close()
            return
        writer.transport.set_write_buffer_limits(high=self.limits.write_buffer_bytes)
        await self._serve(reader, writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(writer, self.limits)
        peer = peer_credentials(writer)
        session.peer_uid = peer.uid if peer is not None else None
        session.peer_pid = peer.pid if peer is not None else None
        if self.authorize is not None and not self.authorize(writer):
            who = f"uid {peer.uid}" if peer is not None else "this user"
            log.warning("refused a connection from %s (pid %s): not an allowed user or group", who,
                        peer.pid if peer is not None else "?")
            try:
                await session.send(error(RpcCode.PERMISSION_DENIED,
                                         f"permission denied: {who} may not use this leadsync agent; its "
                                         "administrator can allow it (leadsync agent --allow-user/--allow-group)",
                                         data={"uid": session.peer_uid}))
                await self._discard_then_close(reader, writer)
            except (ConnectionError, OSError):
                writer.close()
            return
        self.sessions.add(session)
        try:
            await self._read_requests(reader, session)
        except Closing as closing:
            log.info("closed a connection (uid %s): %s", session.peer_uid, closing)
            session.close(closing.notice)
        except (ConnectionError, OSError):
            pass
        finally:
            self.sessions.discard(session)
            session.close()

    async def _read_requests(self, reader: asyncio.StreamReader, session: Session) -> None:
        """Answer each request line in its own task, at most ``max_in_flight`` at a time; at EOF, wait for
        the answers in flight (a client may half-close after its last request)."""
        while (line := await session.next_line(reader)) is not None:
            if not line.strip():
                continue
            if not await session.take_slot():
                return
            task = asyncio.create_task(self._answer(line, session))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await session.settle()

    @staticmethod
    async def _discard_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Close after the peer has read our last frame: end our side, read (and drop) what the peer sent
        for up to a second, then close. Closing with unread input would reset the connection and could
        lose the frame."""
        if writer.can_write_eof():
            writer.write_eof()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1.0
        try:
            while (left := deadline - loop.time()) > 0:
                if not await asyncio.wait_for(reader.read(65536), left):
                    break
        except (TimeoutError, ConnectionError, OSError):
            pass
        writer.close()

    async def _answer(self, line: bytes, session: Session) -> None:
        """Answer one request line: its handler runs through the fair gate; the answer is written after, outside
        it, so a client that does not read holds its own connection back, not the gate."""
        try:
            if session.closed:
                return
            answers: list[bytes | None] = []
            await self.gate.run(session.peer_key, self._handle_line(line, session, answers))
            frame = answers.pop() if answers else None
            if frame is not None and not session.closed:
                try:
                    await session.send_frame(frame)
                except (ConnectionError, OSError):
                    session.close()  # the client is gone: what it left unread is not worth answering
        finally:
            session.release_slot()

    async def _handle_line(self, line: bytes, session: Session, answers: list[bytes | None]) -> None:
        """Answer ``line`` into ``answers`` as one encoded frame (None for a notification): encoded here, so
        what waits for the client to read is bytes (see :meth:`Session.send_frame`)."""
        if session.closed:  # closed while this request waited for its turn: nobody to answer
            return
        try:
            answer = await self.dispatch(line, session)
            answers.append(None if answer is None else encode(answer))
        except Exception:  # the last guard: never let a request kill the server
            log.exception("unexpected error while answering a request")
            answers.append(encode(error(RpcCode.INTERNAL_ERROR, "internal error")))

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
        if (where := out_of_range(raw)) is not None:
            return error(RpcCode.INVALID_PARAMS, f"invalid params for {name}: the number at `{where}` is outside "
                                                 "the 64-bit integer range", msg_id)
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
