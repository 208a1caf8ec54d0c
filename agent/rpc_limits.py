"""The socket server's limits (issue 16): how many clients, how long they may idle or dawdle over a request,
how much each may have in flight, and the error frames that say so before a connection is closed.

Every limit is a field of :class:`SocketLimits`; ``leadsync agent --socket-limit NAME=VALUE`` sets one
(repeatable). They are start-up options, not store settings (``settings.update``): a client of the socket
must not be able to lift or tighten the limits that protect the other clients.

Each notice is a JSON-RPC error object with ``id: null`` (an error that belongs to no request), sent as
the last line before the agent closes the connection; :class:`~leadsync.common.rpc.RpcClient` raises it
as :class:`~leadsync.common.rpc.RpcError` from the call that was cut short.
"""

from __future__ import annotations

import logging
import resource
from collections.abc import Iterable
from typing import Any

import msgspec

from leadsync.common.errors import RpcCode

log = logging.getLogger("leadsync.rpc")

FD_RESERVE = 64  # file descriptors kept for the store, its WAL, logs and CRM connections


class SocketLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Limits of the agent's socket server; each must be above 0.

    - ``max_connections``: open client connections; the next client gets one ``TOO_MANY_CONNECTIONS``
      error and is closed. 256 by default: with as many refusals lingering (see ``close_grace_s``) and
      ``FD_RESERVE``, well under systemd's default soft ``LimitNOFILE`` of 1024 (the units set none).
    - ``backlog``: the listen backlog, so a burst of that many clients connecting at once waits in the
      kernel's queue (capped by ``net.core.somaxconn``) instead of getting EAGAIN.
    - ``idle_timeout_s``: seconds without a request (none in flight, not subscribed to events) before the
      agent closes the connection with an ``IDLE_TIMEOUT`` notice.
    - ``request_deadline_s``: seconds from the first byte of a request line to its newline; a slower line
      (slowloris) gets ``REQUEST_TIMEOUT`` and the connection is closed.
    - ``max_in_flight``: requests of one connection being answered (the answer not yet taken by the
      client included); at the cap the agent stops reading that connection until one is done.
    - ``max_working``: request handlers starting work at once, shared round-robin by client process
      (:mod:`~leadsync.agent.rpc_fairness`), so one process's crowd of requests cannot hold up another's.
    - ``write_buffer_bytes``: bytes of answers the agent buffers for a connection before a writer waits
      for the client to read (the transport's high-water mark).
    - ``event_buffer``: events queued for a subscriber that is not reading; when full, the subscriber gets
      a ``SLOW_READER`` notice and its connection is closed.
    - ``accept_per_s``: new connections taken from the listen backlog per second at most (in steps of
      ``ACCEPT_BATCH``), whether served or refused: a burst of clients is spread over the time it needs instead
      of one long stretch of the event loop that every other client's request waits behind. 4,000/s takes a
      burst of 1,000 in a quarter of a second; the backlog holds the rest meanwhile.
    - ``close_grace_s``: seconds a closing connection has to take its last lines before it is cut, and a
      refused one is kept to read its request and close cleanly.
    """

    max_connections: int = 256
    backlog: int = 2048
    idle_timeout_s: float = 300.0
    request_deadline_s: float = 10.0
    max_in_flight: int = 32
    max_working: int = 2
    write_buffer_bytes: int = 256 * 1024
    event_buffer: int = 1000
    close_grace_s: float = 1.0
    accept_per_s: float = 4000.0

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be above 0, not {getattr(self, name)}")

    @property
    def open_files_needed(self) -> int:
        """File descriptors these limits may hold at once: connections, as many lingering refusals, the reserve."""
        return 2 * self.max_connections + FD_RESERVE


def parse_limits(pairs: Iterable[str]) -> SocketLimits:
    """``["max_connections=512", "idle_timeout_s=60"]`` -> SocketLimits; ValueError naming a bad pair or field."""
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--socket-limit {pair!r}: expected NAME=VALUE, NAME one of "
                             + ", ".join(SocketLimits.__struct_fields__))
        values[name.strip()] = value.strip()
    try:
        return msgspec.convert(values, SocketLimits, strict=False)
    except msgspec.ValidationError as exc:
        raise ValueError(f"--socket-limit: {exc}; names: {', '.join(SocketLimits.__struct_fields__)}") from None


def ensure_open_files(limits: SocketLimits) -> int:
    """Raise this process's soft ``RLIMIT_NOFILE`` towards :attr:`SocketLimits.open_files_needed` when the hard
    limit allows; returns the soft limit then in force. Logs a warning naming both numbers when it stays short
    (e.g. under systemd's ``SystemCallFilter=~@resources``, which forbids setrlimit: raise ``LimitNOFILE=``)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = limits.open_files_needed
    if soft >= need:
        return soft
    target = need if hard == resource.RLIM_INFINITY else min(need, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    except (OSError, ValueError):
        pass
    if soft < need:
        log.warning("the socket limits (max_connections %s) need %s open files but the limit is %s; raise "
                    "LimitNOFILE or lower --socket-limit max_connections", limits.max_connections, need, soft)
    return soft


def error(code: int, message: str, msg_id: Any = None, data: Any = None) -> dict[str, Any]:
    """A JSON-RPC error answer: ``{"jsonrpc": "2.0", "id": msg_id, "error": {code, message, data?}}``."""
    err: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "id": msg_id, "error": err}


def too_many_connections(cap: int) -> dict[str, Any]:
    """The refusal of a client beyond ``max_connections``."""
    return error(RpcCode.TOO_MANY_CONNECTIONS, f"too many connections (cap {cap}); try again later",
                 data={"cap": cap})


def out_of_files(limit: int) -> dict[str, Any]:
    """The refusal of a client while the agent has no file descriptor to spare (EMFILE)."""
    return error(RpcCode.TOO_MANY_CONNECTIONS, f"the agent has run out of open files (limit {limit}); "
                                               "try again later", data={"open_files_limit": limit})


def idle_timeout(seconds: float) -> dict[str, Any]:
    """The notice before an idle connection is closed."""
    return error(RpcCode.IDLE_TIMEOUT, f"no request for {seconds:g} s; connection closed (connect again)",
                 data={"idle_timeout_s": seconds})


def request_timeout(seconds: float) -> dict[str, Any]:
    """The notice before a connection whose request line did not complete in time is closed."""
    return error(RpcCode.REQUEST_TIMEOUT, f"the request line was not complete {seconds:g} s after its first "
                                          "byte; connection closed", data={"request_deadline_s": seconds})


def slow_reader(queued: int) -> dict[str, Any]:
    """The final notice to an event subscriber that stopped reading."""
    return error(RpcCode.SLOW_READER, f"{queued} events were waiting unread; the event subscription is dropped "
                                      "and the connection closed (subscribe again and read them)",
                 data={"event_buffer": queued})
