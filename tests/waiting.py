"""How tests wait, in one place: on a signal the code under test sends where it sends one (an agent event
after ``events.subscribe``), else on the state itself with a bounded deadline (a record landing in a
sandbox, a request entering the agent's queue, a process that signals nothing).

Every helper fails with AssertionError naming what it waited for; none waits without a deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from leadsync.common.rpc import RpcClient

Event = dict[str, Any]


async def eventually(condition: Callable[[], bool], *, timeout_s: float = 10.0, what: str = "the condition",
                     pause: Callable[[float], Awaitable[Any]] = asyncio.sleep, every_s: float = 0.02,
                     state: Callable[[], object] | None = None) -> None:
    """Until ``condition()`` holds, checking every ``every_s`` seconds with ``await pause(every_s)``
    (a Textual pilot passes ``pilot.pause``); AssertionError after ``timeout_s`` seconds, with ``state()``
    in its message when given (what the code under test held when the wait gave up).

    Only for states nothing signals: where the agent sends an event, wait with :func:`next_event`.
    """
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            held = f"; state: {state()}" if state is not None else ""
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}{held}")
        await pause(every_s)


def eventually_blocking(condition: Callable[[], bool], *, timeout_s: float = 10.0, what: str = "the condition",
                        every_s: float = 0.05) -> None:
    """:func:`eventually` for tests that drive a subprocess from plain (not async) code."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(every_s)


async def next_event(client: RpcClient, match: Callable[[Event], bool], *, timeout_s: float = 30.0,
                     what: str = "the event") -> Event:
    """The first event on ``client`` (already subscribed with ``events.subscribe``) that ``match`` accepts;
    the events before it are consumed. AssertionError after ``timeout_s`` seconds or when the connection
    closes first."""

    async def first() -> Event:
        async for event in client.events():
            if match(event):
                return event
        raise AssertionError(f"the agent closed the connection before {what}")

    try:
        return await asyncio.wait_for(first(), timeout_s)
    except TimeoutError:
        raise AssertionError(f"no {what} within {timeout_s} s") from None


async def run_started(client: RpcClient, trigger: str, *, timeout_s: float = 30.0) -> int:
    """The id of the next sync run with ``trigger`` (manual, interval, threshold, todo) to start."""
    event = await next_event(client, lambda e: e.get("type") == "run_started" and e["trigger"] == trigger,
                             timeout_s=timeout_s, what=f"the start of a {trigger} run")
    run_id: int = event["run_id"]
    return run_id


async def run_finished(client: RpcClient, trigger: str, *, timeout_s: float = 30.0) -> dict[str, Any]:
    """The next sync run with ``trigger`` to finish, as ``sync.history`` gives it; the agent sends the event
    once the run and its writes are committed."""
    event = await next_event(client, lambda e: e.get("type") == "run_finished" and e["run"]["trigger"] == trigger,
                             timeout_s=timeout_s, what=f"the end of a {trigger} run")
    run: dict[str, Any] = event["run"]
    return run
