"""The live verbs: ``leadsync sync`` (a progress bar on a terminal, plain lines when piped) and ``leadsync
events`` (the agent's events as lines or JSON lines until Ctrl-C, reconnecting when the agent goes away).

Both follow the agent's events (``events.subscribe``: ``run_started``, ``progress`` with ``phase``, ``done``
and ``total`` when known, ``run_finished`` with the run). The progress bar is rich's (``rich.progress``);
whether stdout is a terminal is rich's ``Console.is_terminal``. Exit statuses as in :mod:`leadsync.agent.cli`;
``events`` exits 0 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from leadsync.common.paths import socket_path
from leadsync.common.rpc import AgentUnavailableError, RpcClient

if TYPE_CHECKING:  # rich is imported on use: the agent process imports this module for its parsers only
    from rich.console import Console
    from rich.progress import TaskID

PHASES: Final = {"pull": "pulling from the CRM", "push": "pushing to the CRM",
                 "search_index": "building the search index"}
FINAL: Final = ("ok", "partial", "failed", "interrupted")
LINE_EVERY_S: Final = 2.0
"""Plain progress lines (stdout not a terminal): one per phase change, then at most one per this many s."""
RECONNECT_S: Final = 1.0

def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


make_console: Callable[[], Console] = _console
"""The console the verbs print to (tests replace it with one writing to a buffer)."""


def run_line(run: dict[str, Any]) -> str:
    """The one-line outcome of a finished run (as ``leadsync sync`` always printed it)."""
    return (f"sync #{run['id']} {run['status']}: pulled {run['pulled']}, created locally {run['created_local']}, "
            f"updated locally {run['updated_local']}, created in CRM {run['created_crm']}, "
            f"updated in CRM {run['updated_crm']}, linked {run['linked']}, failed {run['failed']}, "
            f"{run['api_calls']} API calls" + (f" — {run['error']}" if run["error"] else "")
            + (" (leadsync errors shows the failed records)" if run["failed"] else ""))


def _progress_text(event: dict[str, Any]) -> str:
    what = f"{event['object_type']}s" if event.get("object_type") else "contacts"
    return f"{PHASES.get(str(event.get('phase')), str(event.get('phase')))} ({what})"


class PlainProgress:
    """Progress as lines: the phase when it changes, then its count every :data:`LINE_EVERY_S` seconds."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.phase: str | None = None
        self.last_line = 0.0

    def show(self, event: dict[str, Any]) -> None:
        phase, now = _progress_text(event), time.monotonic()
        if phase == self.phase and now - self.last_line < LINE_EVERY_S:
            return
        self.phase, self.last_line = phase, now
        of = f" of {event['total']:,}" if event.get("total") else ""
        self.console.print(f"sync #{event.get('run_id')}: {phase} {int(event.get('done') or 0):,}{of}", markup=False)


class BarProgress:
    """Progress as a rich bar, one task per phase (a phase without a known total pulses)."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=console)
        self.tasks: dict[str, TaskID] = {}

    def show(self, event: dict[str, Any]) -> None:
        key, total = _progress_text(event), event.get("total")
        if key not in self.tasks:
            self.tasks[key] = self.bar.add_task(key, total=total)
        self.bar.update(self.tasks[key], completed=int(event.get("done") or 0), total=total)

    def finish(self) -> None:
        """The run ended: a phase whose total was never known is full at what it did; then stop drawing."""
        for task in self.bar.tasks:
            if task.total is None:
                self.bar.update(task.id, total=task.completed)
        self.bar.stop()


async def follow_sync(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """Start (or join) a sync and show its progress until its ``run_finished``; the finished run."""
    async with RpcClient(socket_path(args.socket), timeout_s=args.timeout) as client:
        await client.call("events.subscribe")
        run = await client.call("sync.run", {"wait": False})
        if run["status"] in FINAL:
            return dict(run)
        run_id: int | None = run["id"] or None  # a queued run has none until its run_started
        if run_id is not None:
            console.print(f"sync #{run_id} {run['status']} ({run['trigger']})", markup=False)
        progress = BarProgress(console) if console.is_terminal else PlainProgress(console)
        if isinstance(progress, BarProgress):
            progress.bar.start()
        try:
            async with asyncio.timeout(args.timeout):
                async for event in client.events():
                    if event.get("type") == "run_started" and run_id is None:
                        run_id = int(event["run_id"])
                        console.print(f"sync #{run_id} running ({event.get('trigger')})", markup=False)
                    elif event.get("type") == "progress" and event.get("run_id") == run_id:
                        progress.show(event)
                    elif event.get("type") == "run_finished" and event["run"]["id"] == run_id:
                        return dict(event["run"])
        finally:
            if isinstance(progress, BarProgress):
                progress.finish()
    raise AgentUnavailableError("the agent closed the connection before the sync finished")


def cmd_sync(args: argparse.Namespace) -> int:
    from leadsync.common.rpc import call_once

    if args.no_wait or args.json:
        run = call_once(socket_path(args.socket), "sync.run", {"wait": not args.no_wait}, timeout_s=args.timeout)
        if args.json:
            print(json.dumps(run, indent=2, ensure_ascii=False))
        else:
            print(f"sync {'#' + str(run['id']) + ' ' if run['id'] else ''}{run['status']}; "
                  "follow it with: leadsync events (or leadsync status)")
        return 0 if run["status"] in ("ok", "partial", "running", "queued") else 1
    console = make_console()
    run = asyncio.run(follow_sync(args, console))
    console.print(run_line(run), markup=False)
    return 0 if run["status"] in ("ok", "partial") else 1


def event_line(event: dict[str, Any]) -> str:
    """One event as a line for a person: the time (UTC), its type and what it says."""
    kind = str(event.get("type"))
    stamp = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
    if kind == "run_started":
        text = f"sync #{event.get('run_id')} started ({event.get('trigger')})"
    elif kind == "progress":
        of = f" of {event['total']:,}" if event.get("total") else ""
        text = f"sync #{event.get('run_id')}: {_progress_text(event)} {int(event.get('done') or 0):,}{of}"
    elif kind == "run_finished":
        text = run_line(event["run"])
    else:
        rest = {k: v for k, v in event.items() if k != "type"}
        text = json.dumps(rest, ensure_ascii=False, separators=(", ", ": "))
    return f"{stamp} {kind:<17} {text}"


async def stream_events(args: argparse.Namespace, console: Console) -> None:
    """Print events until cancelled; when the agent goes away, say so and reconnect (every second). No agent
    at the start raises AgentUnavailableError (exit 3, like every other verb)."""
    path = socket_path(args.socket)
    connected_once = lost = False
    while True:
        try:
            async with RpcClient(path, timeout_s=args.timeout) as client:
                await client.call("events.subscribe")
                if lost:
                    print(f"leadsync events: reconnected to the agent at {path}", file=sys.stderr, flush=True)
                connected_once, lost = True, False
                async for event in client.events():
                    if args.json:
                        console.file.write(json.dumps(event, ensure_ascii=False) + "\n")
                        console.file.flush()
                    else:
                        console.print(event_line(event), markup=False)
        except AgentUnavailableError:
            if not connected_once:
                raise
        if not lost:
            print(f"leadsync events: the agent at {path} went away; reconnecting (Ctrl-C to stop)…",
                  file=sys.stderr, flush=True)
            lost = True
        await asyncio.sleep(RECONNECT_S)


def cmd_events(args: argparse.Namespace) -> int:
    try:
        asyncio.run(stream_events(args, make_console()))
    except KeyboardInterrupt:  # Ctrl-C is how this verb ends
        pass
    return 0


def add_parsers(sub: Any) -> None:
    """Add ``sync`` and ``events`` to the ``leadsync`` subcommands ``sub``."""
    p = sub.add_parser("sync", help="run a sync now and follow it (a progress bar on a terminal, lines when piped)")
    p.add_argument("--no-wait", action="store_true", help="start it and return")
    p.add_argument("--json", action="store_true", help="wait, then print the finished run as JSON")
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser("events", help="stream the agent's events until Ctrl-C (sync progress, runs, changes)")
    p.add_argument("--json", action="store_true", help="one JSON object per line, as the agent sends them")
    p.set_defaults(func=cmd_events)
