"""Fixtures for the TUI tests: agents with fixed data, the app on them, and waits that poll a condition.

The pilot tests run the app and a real agent in the test's event loop. Snapshot tests
(``snap_compare``) run the app in an event loop of their own, so their agent runs in a thread
(:class:`ThreadedAgent`) with the same fixed data.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from leadsync.agent.daemon import Agent
from leadsync.common.rpc import RpcClient
from leadsync.tui import formatting
from leadsync.tui.app import LeadsyncApp
from tests.waiting import eventually

FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Niklaus")
LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton", "Wirth")
COMPANIES = ("Analytical Engines", "Cobol Works", "Bletchley Labs", "Shortest Path BV", "Substitution Inc")
STAGES = ("lead", "subscriber", "marketingqualifiedlead", "salesqualifiedlead", "customer")


def contact_fields(i: int) -> dict[str, Any]:
    """Contact number ``i`` of the fixed data set (the same every run)."""
    first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
    return {"email": f"{first}.{last}.{i}@example.org".lower(), "first_name": first, "last_name": last,
            "company": COMPANIES[i % len(COMPANIES)], "lifecycle_stage": STAGES[i % len(STAGES)],
            "lead_score": (i * 37) % 101}


async def seed(client: RpcClient, contacts: int) -> None:
    """Two users and ``contacts`` local contacts, created through the API (no CRM needed)."""
    await client.call("users.create", {"email": "mia@corp.example", "name": "Mia Marketing"})
    await client.call("users.create", {"email": "sam@corp.example", "name": "Sam Sales"})
    for i in range(contacts):  # one at a time, so contact i gets id i + 1 every run
        await client.call("contacts.create", {"created_by": 1 + i % 2, "fields": contact_fields(i)})


@pytest.fixture
async def populated_agent(agent: Agent) -> Agent:
    """The ``agent`` fixture (no CRM) holding two users and 450 contacts: more than two pages."""
    async with RpcClient(agent.socket_path) as client:
        await seed(client, 450)
    return agent


@pytest.fixture
async def small_agent(agent: Agent) -> Agent:
    """The ``agent`` fixture (no CRM) holding two users and 30 contacts: one page, quick to make."""
    async with RpcClient(agent.socket_path) as client:
        await seed(client, 30)
    return agent


@pytest.fixture
def frozen_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every time the TUI shows reads the same, so screenshots do not depend on the clock."""
    monkeypatch.setattr(formatting, "format_time", lambda ms: "2024-05-01 09:30" if ms is not None else "—")


def make_app(socket_path: Path) -> LeadsyncApp:
    """The app on ``socket_path``, retrying every 0.2 s and without animations (they only cost time here)."""
    app = LeadsyncApp(socket_path, reconnect_s=0.2)
    app.animation_level = "none"
    return app


async def wait_until(pilot: Pilot[Any], condition: Callable[[], bool], *, timeout_s: float = 10.0,
                     what: str = "the condition", state: Callable[[], object] | None = None) -> None:
    """Let the app run until ``condition()`` holds (a state on screen: the app sends no signal for it); fail
    after ``timeout_s`` seconds, with ``state()`` in the message when given."""
    await eventually(condition, timeout_s=timeout_s, what=what, pause=pilot.pause, state=state)


class ThreadedAgent:
    """An agent served from its own thread and event loop, for tests whose app runs in another loop."""

    def __init__(self, contacts: int) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ls-snap-"))
        self.socket_path = self.dir / "agent.sock"
        self.contacts = contacts
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.agent: Agent | None = None

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def __enter__(self) -> ThreadedAgent:
        self.thread.start()

        async def start() -> None:
            self.agent = Agent(self.dir / "data", self.socket_path)
            await self.agent.start()
            async with RpcClient(self.socket_path) as client:
                await seed(client, self.contacts)

        self.run(start())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.agent is not None:
            self.run(self.agent.stop())

        async def cancel_the_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.run(cancel_the_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def threaded_agent() -> Iterator[ThreadedAgent]:
    """An agent (no CRM, two users, 60 contacts) in its own thread, shared by a module's snapshot tests."""
    with ThreadedAgent(contacts=60) as served:
        yield served



def notifications(messages: list[Any]) -> list[str]:
    """The text of every notification among the recorded messages (title: message)."""
    from textual.notifications import Notify

    seen = {id(m): m for m in messages if isinstance(m, Notify)}
    return [f"{m.notification.title}: {m.notification.message}" for m in seen.values()]


def contacts_state(view: Any) -> dict[str, object]:
    """What a Contacts view holds (its query, paging and workers): the state a paging wait reports on timeout."""
    table = view.table
    return {"generation": view.generation, "shown": view.shown_generation, "loaded": view.loaded,
            "pages": view.pages_loaded, "loading_more": view.loading_more, "next_after": view.next_after,
            "params": view.params, "connected": view.link.connected, "cursor_row": table.cursor_row,
            "rows": table.row_count, "scroll_y": table.scroll_y, "max_scroll_y": table.max_scroll_y,
            "workers": [(w.group, w.state.name, repr(w.error)) for w in view.workers if w.node is view]}
