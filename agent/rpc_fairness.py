"""Fair shares of the agent's work between client processes (issue 16).

Every request's handler starts through one :class:`FairGate`: at most ``width`` handlers start work at a
time, and waiting ones are let in round-robin by client process (the peer pid from ``SO_PEERCRED``), so one
process with hundreds of requests queued (a burst of connections, pipelining clients) makes another
process's request wait for at most one of its own plus those at work, not for all of them. The store has one
connection: starting more handlers at once only lengthens its queue.

A handler holds its place until it finishes or for ``HOLD_S``, whichever is first: a request that waits on
something else (``sync.run`` with ``wait``, a CRM call) lets the next one in instead of blocking the gate.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Coroutine, Hashable
from typing import Any

HOLD_S = 0.02


class FairGate:
    """At most ``width`` handlers starting at once; waiters admitted round-robin by ``key`` (see the module)."""

    def __init__(self, width: int, hold_s: float = HOLD_S) -> None:
        self.width = width
        self.hold_s = hold_s
        self.busy = 0
        self._waiting: OrderedDict[Hashable, deque[asyncio.Future[None]]] = OrderedDict()

    @property
    def waiting(self) -> int:
        """Handlers waiting for their turn."""
        return sum(len(queue) for queue in self._waiting.values())

    async def run(self, key: Hashable, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` once the gate lets ``key`` in; returns when ``work`` is done."""
        if self.busy < self.width and not self._waiting:
            self.busy += 1
        else:
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.setdefault(key, deque()).append(turn)
            try:
                await turn  # the one who let us in counted us as busy
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._release()
                work.close()
                raise
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._release()

        # ``work`` runs in the caller's task (no task of its own: one event-loop turn less per request)
        timer = asyncio.get_running_loop().call_later(self.hold_s, release)
        try:
            await work
        finally:
            timer.cancel()
            release()

    def _release(self) -> None:
        self.busy -= 1
        while self.busy < self.width and self._waiting:
            key, queue = next(iter(self._waiting.items()))
            turn = queue.popleft()
            if queue:
                self._waiting.move_to_end(key)  # round-robin: this client goes to the back
            else:
                del self._waiting[key]
            if turn.cancelled():
                continue
            self.busy += 1
            turn.set_result(None)
