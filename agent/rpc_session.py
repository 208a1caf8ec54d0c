"""One client connection of the agent's socket: its request lines read under deadlines, its requests in
flight, its event subscription, and how it is closed.

Memory a connection can hold is bounded by :class:`~leadsync.agent.rpc_limits.SocketLimits`: at most
``max_in_flight`` answers being made or waiting for the client to read them, ``write_buffer_bytes`` of
written answers, one request line being read (at most ``MAX_FRAME_BYTES``) plus ``READ_CHUNK``, the stream
reader's buffer (at most ``2 * READ_CHUNK`` before it stops reading the socket), and ``event_buffer`` events.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from leadsync.agent.rpc_limits import SocketLimits, error, idle_timeout, request_timeout, slow_reader
from leadsync.common.errors import RpcCode
from leadsync.common.rpc import MAX_FRAME_BYTES, encode

log = logging.getLogger("leadsync.rpc")

READ_CHUNK = 64 * 1024  # bytes read from a connection at a time (and the stream reader's limit)


class Closing(Exception):
    """The connection must close after sending ``notice`` (a JSON-RPC error with id null)."""

    def __init__(self, notice: dict[str, Any]) -> None:
        super().__init__(notice["error"]["message"])
        self.notice = notice


class Session:
    """One client connection.

    Writes are serialised (:meth:`send`). Requests take a slot (:meth:`take_slot`, at most ``max_in_flight``)
    until their answer is written and drained. Event notifications go through a queue of ``event_buffer``
    events; a subscriber that lets it fill is dropped with a final notice (:meth:`offer_event`).
    """

    def __init__(self, writer: asyncio.StreamWriter, limits: SocketLimits | None = None) -> None:
        self.writer = writer
        self.limits = limits or SocketLimits()
        self._lock = asyncio.Lock()
        self.events: asyncio.Queue[dict[str, Any] | None] | None = None
        self.peer_uid: int | None = None
        self.peer_pid: int | None = None
        self.closed = False
        self.in_flight = 0
        self.requests = 0  # requests started on this connection
        self.inbox = bytearray()  # bytes read and not yet split into request lines
        self._scanned = 0  # bytes of ``inbox`` known to hold no newline
        self._line_started: float | None = None  # loop time the first byte of the pending line came
        self._slot_free = asyncio.Event()
        self._timeout: asyncio.Timeout | None = None

    @property
    def peer_key(self) -> int | tuple[str, int]:
        """Whose share of the agent's work this connection's requests take: its client process (pid), or the
        connection itself when the kernel does not say."""
        return self.peer_pid if self.peer_pid is not None else ("connection", id(self))

    @property
    def buffered_bytes(self) -> int:
        """Bytes this connection holds in the agent: request bytes not yet split into lines, plus answers
        and events written and not yet taken by the client."""
        return len(self.inbox) + self.writer.transport.get_write_buffer_size()

    async def send(self, message: dict[str, Any]) -> None:
        """Write one frame and wait while the client has ``write_buffer_bytes`` or more unread; a no-op once
        the connection is closing. Raises ConnectionError when it is lost."""
        await self.send_frame(encode(message))

    async def send_frame(self, data: bytes) -> None:
        """:meth:`send` for a frame already encoded (:func:`~leadsync.common.rpc.encode`). An answer waiting
        for a client to read is held as these bytes, not as the objects it was made from: a client that
        pipelines and never reads holds no Python objects for the garbage collector to walk."""
        async with self._lock:
            if self.closed:
                return
            self.writer.write(data)
            await self.writer.drain()

    # -- requests ----------------------------------------------------------------------------------

    async def take_slot(self) -> bool:
        """Wait until fewer than ``max_in_flight`` requests are in flight, then count one more; False (and
        nothing counted) when the connection closed meanwhile. While it waits the connection is not read,
        so a client that pipelines and never reads is held at the cap."""
        waited = False
        while self.in_flight >= self.limits.max_in_flight and not self.closed:
            waited = True
            self._slot_free.clear()
            await self._slot_free.wait()
        if waited and self._line_started is not None:  # the pending line's deadline counts reading time only
            self._line_started = asyncio.get_running_loop().time()
        if self.closed:
            return False
        self.in_flight += 1
        self.requests += 1
        return True

    async def settle(self) -> None:
        """Wait until no request is in flight (or the connection closed)."""
        while self.in_flight and not self.closed:
            self._slot_free.clear()
            await self._slot_free.wait()

    def release_slot(self) -> None:
        """A request's answer is written (or cannot be); the last one out starts the idle clock."""
        self.in_flight -= 1
        self._slot_free.set()
        if self._timeout is not None:
            self._timeout.reschedule(self._read_deadline())

    async def next_line(self, reader: asyncio.StreamReader) -> bytes | None:
        """The next request line (newline included; at EOF what is left, if not blank), or None at EOF or
        once closed. Raises :class:`Closing` for a line over ``MAX_FRAME_BYTES``, a line not complete
        ``request_deadline_s`` after its first byte, or ``idle_timeout_s`` without a request."""
        while not self.closed:
            end = self.inbox.find(b"\n", self._scanned)
            if end > MAX_FRAME_BYTES or (end < 0 and len(self.inbox) > MAX_FRAME_BYTES):
                raise Closing(error(RpcCode.INVALID_REQUEST,
                                    f"request larger than {MAX_FRAME_BYTES} bytes; connection closed"))
            if end >= 0:
                line = bytes(self.inbox[:end + 1])
                del self.inbox[:end + 1]
                self._scanned = 0
                self._line_started = asyncio.get_running_loop().time() if self.inbox else None
                return line
            self._scanned = len(self.inbox)
            if self.inbox and self._line_started is None:
                self._line_started = asyncio.get_running_loop().time()
            data = await self._read_some(reader)
            if not data:
                rest = bytes(self.inbox)
                self.inbox.clear()
                return rest if rest.strip() else None
            self.inbox += data
        return None

    def _read_deadline(self) -> float | None:
        """Loop time by which more bytes must come: the pending line's deadline; else, with nothing in
        flight and no subscription, the idle timeout from now; else none."""
        if self._line_started is not None:
            return self._line_started + self.limits.request_deadline_s
        if self.in_flight == 0 and self.events is None:
            return asyncio.get_running_loop().time() + self.limits.idle_timeout_s
        return None

    async def _read_some(self, reader: asyncio.StreamReader) -> bytes:
        try:
            async with asyncio.timeout_at(self._read_deadline()) as timeout:
                self._timeout = timeout
                return await reader.read(READ_CHUNK)
        except TimeoutError:
            if self._line_started is not None:
                raise Closing(request_timeout(self.limits.request_deadline_s)) from None
            raise Closing(idle_timeout(self.limits.idle_timeout_s)) from None
        finally:
            self._timeout = None

    # -- events ------------------------------------------------------------------------------------

    def subscribe(self) -> bool:
        """Start queueing events for this connection; False when it already was subscribed."""
        if self.events is not None:
            return False
        self.events = asyncio.Queue(maxsize=self.limits.event_buffer)
        return True

    def offer_event(self, event: dict[str, Any]) -> None:
        """Queue ``event`` for a subscribed connection (never blocks). A full queue means the client has
        stopped reading: it gets a ``SLOW_READER`` notice (best effort) and the connection is closed."""
        if self.events is None or self.closed:
            return
        if self.events.full():
            log.warning("dropped an event subscriber (uid %s) that left %s events unread", self.peer_uid,
                        self.events.qsize())
            self.close(slow_reader(self.events.qsize()))
            return
        self.events.put_nowait(event)

    # -- closing -----------------------------------------------------------------------------------

    def close(self, notice: dict[str, Any] | None = None) -> None:
        """Close once: write ``notice`` (best effort, after what is already buffered), then close; a client
        that has not taken it all within ``close_grace_s`` is cut off. Ends the event subscription."""
        if self.closed:
            return
        self.closed = True
        self._slot_free.set()
        if self.events is not None:
            while not self.events.empty():
                self.events.get_nowait()
            self.events.put_nowait(None)  # ends the event pump
        transport = self.writer.transport
        try:
            if notice is not None and not transport.is_closing():
                self.writer.write(encode(notice))
            self.writer.close()
        except (ConnectionError, OSError, RuntimeError):
            transport.abort()
            return
        if transport.get_write_buffer_size():
            asyncio.get_running_loop().call_later(self.limits.close_grace_s, transport.abort)
