"""The agent's listening Unix socket and its accept loop (issue 16).

- The listen backlog is ``SocketLimits.backlog`` (2048; the kernel caps it at ``net.core.somaxconn``), so
  a burst of a thousand clients connecting at once waits in the kernel's queue, never EAGAIN.
- Connections are accepted ``ACCEPT_BATCH`` at a time per event-loop turn, and after a full batch (more may
  wait) accepting pauses so that at most ``SocketLimits.accept_per_s`` are taken a second: a burst is taken in
  small steps spread between the other clients' work instead of in long turns they all wait behind
  (measured: ``contacts.list`` p99 under bursts of 1,000 clients 15 -> 7.5 ms, idle 3.7 ms).
- Past ``max_connections`` open connections, a client gets one ``TOO_MANY_CONNECTIONS`` error line at once,
  written on the raw socket (no transport, no task); the agent then reads and drops what it sent until it
  closes (at most ``close_grace_s``), so the client reads the line before EOF. As many refusals linger as
  the open-files limit leaves room for besides ``max_connections`` and ``FD_RESERVE`` (at least
  ``max_connections``); beyond that a refusal is closed at once (a client that writes after that close
  may see EPIPE before the line).
- Out of file descriptors (EMFILE/ENFILE), the accept loop frees one it keeps in reserve, accepts, refuses
  with an error naming the limit and takes the reserve back once that client has gone: clients are told;
  while the reserve is in use the others wait in the backlog (accepting resumes every 50 ms, never spins).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import resource
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from leadsync.agent.rpc_limits import FD_RESERVE, SocketLimits, out_of_files, too_many_connections
from leadsync.common.rpc import encode

log = logging.getLogger("leadsync.rpc")

ACCEPT_BATCH = 8  # connections accepted per event-loop turn
NO_FILES_PAUSE_S = 0.05  # out of file descriptors and of the reserve: accept again after this long
_RETRY = {errno.EINTR, errno.ECONNABORTED, errno.EPROTO}
_NO_FILES = {errno.EMFILE, errno.ENFILE}


class Listener:
    """Listens on a Unix socket and hands each admitted connection (a non-blocking socket) to ``serve``,
    run as its own task; ``open`` counts those not yet finished, ``refused`` the clients turned away."""

    def __init__(self, limits: SocketLimits, serve: Callable[[socket.socket], Awaitable[None]]) -> None:
        self.limits = limits
        self._serve = serve
        self.open = 0
        self.refused = 0
        self._sock: socket.socket | None = None
        self._spare: int | None = None
        self._lingering: dict[socket.socket, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._warned_at = float("-inf")
        self._linger_cap = limits.max_connections
        self._spare_conn: socket.socket | None = None  # a refusal holding the reserve descriptor

    def listen(self, path: Path, mode: int) -> None:
        """Bind ``path`` (file mode ``mode``; a stale file there must be gone) and start accepting."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            sock.bind(str(path))
        except OSError:
            sock.close()
            raise
        finally:
            os.umask(old_umask)
        os.chmod(path, mode)
        sock.listen(self.limits.backlog)
        sock.setblocking(False)
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        room = soft - FD_RESERVE - self.limits.max_connections if soft != resource.RLIM_INFINITY else 1 << 16
        self._linger_cap = max(self.limits.max_connections, room)
        self._warn_if_backlog_capped()
        self._sock = sock
        self._spare = _open_spare()
        asyncio.get_running_loop().add_reader(sock.fileno(), self._accept_some)

    def close(self) -> None:
        """Stop accepting and close the listening socket and lingering refusals (admitted connections stay)."""
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        for conn in list(self._lingering):
            self._finish(conn)
        if self._spare is not None:
            os.close(self._spare)
            self._spare = None

    def _warn_if_backlog_capped(self) -> None:
        try:
            somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
        except (OSError, ValueError):
            return
        if somaxconn < self.limits.backlog:
            log.warning("listen backlog %s is capped by net.core.somaxconn=%s", self.limits.backlog, somaxconn)

    def _accept_some(self) -> None:
        assert self._sock is not None
        if self._accept_batch():  # more may wait: take them after a pause
            self._pause_accepting(ACCEPT_BATCH / self.limits.accept_per_s)

    def _accept_batch(self) -> bool:
        """Accept up to ``ACCEPT_BATCH`` connections; True when it took that many (more may wait)."""
        assert self._sock is not None
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = self._sock.accept()
            except BlockingIOError:
                return False
            except OSError as exc:
                if exc.errno in _RETRY:
                    continue
                if exc.errno in _NO_FILES:
                    self._refuse_without_files()
                    return False
                log.warning("accept on the agent socket failed: %s", exc)
                return False
            conn.setblocking(False)
            if self.open >= self.limits.max_connections:
                self._refuse(conn, too_many_connections(self.limits.max_connections))
                continue
            self.open += 1
            task = asyncio.get_running_loop().create_task(self._run(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return True

    async def _run(self, conn: socket.socket) -> None:
        try:
            await self._serve(conn)
        except Exception:  # the last guard: a connection never stops the accept loop
            log.exception("unexpected error on a socket connection")
            conn.close()
        finally:
            self.open -= 1

    def _refuse(self, conn: socket.socket, notice: dict[str, Any]) -> None:
        """Send ``notice`` on a fresh connection (its buffer is empty: one send takes it) and close."""
        self.refused += 1
        try:
            conn.send(encode(notice))
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            conn.close()
            return
        if len(self._lingering) >= self._linger_cap:
            self._discard(conn)
            self._finish(conn)
            return
        loop = asyncio.get_running_loop()
        self._lingering[conn] = loop.call_later(self.limits.close_grace_s, self._finish, conn)
        loop.add_reader(conn.fileno(), self._discard, conn)

    def _discard(self, conn: socket.socket) -> None:
        """Read and drop what a refused client sent; close at its EOF."""
        try:
            while conn.recv(65536):
                pass
        except BlockingIOError:
            return
        except OSError:
            pass
        if conn in self._lingering:
            self._finish(conn)

    def _finish(self, conn: socket.socket) -> None:
        timer = self._lingering.pop(conn, None)
        if timer is not None:
            timer.cancel()
            asyncio.get_running_loop().remove_reader(conn.fileno())
        conn.close()
        if conn is self._spare_conn:  # the reserve descriptor is free again
            self._spare_conn = None
            self._spare = _open_spare()

    def _refuse_without_files(self) -> None:
        """EMFILE: spend the reserve descriptor on accepting one client and refusing it (lingering like any
        refusal; the reserve is taken back when it closes). Without a reserve, accepting pauses for
        ``NO_FILES_PAUSE_S`` rather than spinning; clients wait in the backlog."""
        assert self._sock is not None
        loop = asyncio.get_running_loop()
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if loop.time() - self._warned_at > 10:
            self._warned_at = loop.time()
            log.warning("the agent is out of open files (limit %s): refusing connections", limit)
        if self._spare is None:
            self._pause_accepting()
            return
        os.close(self._spare)
        self._spare = None
        try:
            conn, _ = self._sock.accept()
        except OSError:
            self._spare = _open_spare()
            self._pause_accepting()
            return
        conn.setblocking(False)
        self._spare_conn = conn
        self._refuse(conn, out_of_files(limit))
        if conn.fileno() == -1:  # closed at once: the reserve is free again
            self._spare_conn = None
            self._spare = _open_spare()

    def _pause_accepting(self, seconds: float = NO_FILES_PAUSE_S) -> None:
        assert self._sock is not None
        loop = asyncio.get_running_loop()
        fd = self._sock.fileno()
        loop.remove_reader(fd)
        loop.call_later(seconds, self._resume_accepting, self._sock)

    def _resume_accepting(self, sock: socket.socket) -> None:
        if sock is self._sock:  # not closed meanwhile
            asyncio.get_running_loop().add_reader(sock.fileno(), self._accept_some)


def _open_spare() -> int | None:
    try:
        return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
