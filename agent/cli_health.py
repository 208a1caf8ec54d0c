"""The ``leadsync health`` verb: ``sync.health`` for a person (or ``--json``): connection, API budget with a
sparkline of calls per hour, push backlog, last runs (partial and failed ones stand out), open errors by
cause with the command that retries them, and every problem with its next step.

Exit status: 0 when nothing needs a person, 1 when a problem is shown (for monitoring scripts), 3 without
an agent. Colours only on a terminal (rich decides; ``NO_COLOR`` is honoured).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any, Final

from leadsync.common.paths import socket_path
from leadsync.common.rpc import call_once


def escape(text: str) -> str:
    """``text`` with rich's markup escaped (rich is imported on use: the agent process, which imports this
    module for its parser, never loads it)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


BARS: Final = "▁▂▃▄▅▆▇█"
STATUS_STYLE: Final = {"ok": "green", "partial": "bold yellow", "failed": "bold red", "interrupted": "bold yellow",
                       "running": "cyan"}
STATE_TEXT: Final = {"ok": "[green]ok[/]", "needs_reauth": "[bold red]NEEDS REAUTH[/]",
                     "quota_spent": "[bold red]QUOTA SPENT[/]", "not_connected": "[bold red]NOT CONNECTED[/]"}


def sparkline(values: list[int]) -> str:
    """One block character per value, scaled to the largest (``▁`` for 0 too, so the axis stays visible)."""
    top = max(values, default=0)
    if top <= 0:
        return BARS[0] * len(values)
    return "".join(BARS[0] if v <= 0 else BARS[min(len(BARS) - 1, max(1, round(v / top * (len(BARS) - 1))))]
                   for v in values)


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _seconds(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    return f"{s / 60:.0f} min" if s < 5400 else f"{s / 3600:.1f} h"


def _window_name(window: dict[str, Any]) -> str:
    period = float(window["period_s"])
    span = f"{period:.0f} s" if period < 60 else f"{period / 60:.0f} min" if period < 3600 else \
        f"{period / 3600:.0f} h"
    return ("requests" if window["name"] == "default" else f"{window['name']} requests") + f" per {span}"


def connection_lines(health: dict[str, Any]) -> list[str]:
    conn = health["connection"]
    line = f"[bold]Connection[/]  {STATE_TEXT.get(conn['state'], escape(conn['state']))}"
    if conn.get("crm"):
        line += escape(f"  {conn['crm']} at {conn['base_url']}" + (f" as {conn['user_email']}"
                                                                    if conn.get("user_email") else ""))
    if conn.get("quota_blocked_until"):
        line += escape(f"  until {_when(conn['quota_blocked_until'])}")
    return [line]


def budget_lines(health: dict[str, Any]) -> list[str]:
    budget = health["budget"]
    lines = ["[bold]API budget[/]"]
    for window in budget["windows"]:
        lines.append(escape(f"  {_window_name(window)}: {window['used']:,} of {window['limit']:,} used, "
                            f"{window['left']:,} left"))
    day = f"  last 24 h: {budget['day_calls']:,} calls by this agent"
    quota = budget.get("quota")
    if quota:
        day += f"; the CRM reports {quota['used']:,} of {quota['limit']:,} for the day used, {quota['left']:,} left"
    lines.append(escape(day))
    per_hour = budget["calls_per_hour"]
    lines.append(escape(f"  calls per hour, 24 h to now: {sparkline(per_hour)}  (peak {max(per_hour, default=0):,}"
                        f"/h; counted since {_when(budget['since'])})"))
    return lines


def backlog_lines(health: dict[str, Any]) -> list[str]:
    backlog = health["backlog"]
    line = f"  {backlog['pending_push']:,} contacts waiting to push"
    if backlog["pending_push"]:
        line += f", the oldest changed {_when(backlog['oldest_changed_at'])}"
        drain = backlog.get("estimated_drain_s")
        line += f", about {_seconds(float(drain))} to push them all" if drain is not None else ""
    line += f"; push {'on' if health['push_enabled'] else 'OFF'}, every {health['interval_minutes']} min"
    if health["held_with_errors"]:
        line += f"; {health['held_with_errors']:,} held by an open error"
    return ["[bold]Push backlog[/]", escape(line)]


def run_lines(health: dict[str, Any]) -> list[str]:
    lines = ["[bold]Last runs[/]"]
    for run in health["runs"]:
        style = STATUS_STYLE.get(run["status"], "")
        status = run["status"].upper() if run["problem"] else run["status"]
        text = (f"#{run['id']:<5} {run['trigger']:<9} {_when(run['started_at'])}  pulled {run['pulled']:,}, "
                f"pushed {run['pushed']:,}, failed {run['failed']:,}, {run['api_calls']:,} calls")
        error = f"  — {run['error']}" if run.get("error") else ""
        lines.append(f"  [{style}]{status:<11}[/] " + escape(text + error) if style else
                     "  " + escape(f"{status:<11} {text}{error}"))
    if not health["runs"]:
        lines.append("  no sync has run yet")
    return lines


def error_lines(health: dict[str, Any]) -> list[str]:
    lines = ["[bold]Open errors by cause[/]"]
    for group in health["errors"]:
        sample = group["sample"]
        record = f"contact {sample['contact_id']}" if sample["contact_id"] is not None else f"CRM {sample['crm_id']}"
        lines.append(escape(f"  {group['code'] or '(no code)'}: {group['errors']:,} errors, {group['contacts']:,} "
                            f"contacts; e.g. #{sample['id']} {record}: {sample['reason']}"))
        lines.append(escape(f"    retry all of these: {retry_command(group)}"))
    if not health["errors"]:
        lines.append("  none")
    return lines


def retry_command(group: dict[str, Any]) -> str:
    """The ``leadsync errors retry`` line of a group's ``retry`` params."""
    retry = group["retry"]
    if "code" in retry:
        return f"leadsync errors retry --code {retry['code']}"
    ids = retry.get("ids") or []
    return "leadsync errors retry " + " ".join(str(i) for i in ids[:20]) + (" ..." if len(ids) > 20 else "")


def problem_lines(health: dict[str, Any]) -> list[str]:
    problems = health["problems"]
    if not problems:
        return ["[bold green]No problems.[/]"]
    lines = [f"[bold red]Problems ({len(problems)})[/]"]
    for problem in problems:
        lines.append("  [bold red]![/] " + escape(problem["message"]))
        lines.append("    [bold]next:[/] " + escape(problem["next_step"]))
    return lines


def render(health: dict[str, Any]) -> list[str]:
    """Rich-markup lines of a ``sync.health`` answer, section by section, problems last."""
    sections = (connection_lines, budget_lines, backlog_lines, run_lines, error_lines, problem_lines)
    return [line for section in sections for line in section(health)]


def cmd_health(args: argparse.Namespace) -> int:
    health = call_once(socket_path(args.socket), "sync.health", None, timeout_s=args.timeout)
    if args.json:
        print(json.dumps(health, indent=2, ensure_ascii=False))
    else:
        from rich.console import Console

        console = Console(highlight=False, soft_wrap=True)
        for line in render(health):
            console.print(line)
    return 1 if health["problems"] else 0


def add_parser(sub: Any) -> None:
    """Add ``health`` to the ``leadsync`` subcommands ``sub``."""
    p = sub.add_parser("health", help="sync health: connection, API budget, backlog, last runs, errors by cause, "
                                      "and what to do next (exit 1 when something needs a person)")
    p.add_argument("--json", action="store_true", help="the sync.health answer as JSON")
    p.set_defaults(func=cmd_health)
