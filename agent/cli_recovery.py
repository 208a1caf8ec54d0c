"""The ``leadsync errors`` and ``leadsync undo`` verbs: list failed records and retry them, take a sync run
back. Registered by :mod:`leadsync.agent.cli` (:func:`add_parsers`); same exit statuses."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from leadsync.common.paths import socket_path
from leadsync.common.rpc import call_once


def _call(args: argparse.Namespace, method: str, params: dict[str, Any] | None = None) -> Any:
    return call_once(socket_path(args.socket), method, params, timeout_s=args.timeout)


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _when(epoch_ms: int | None) -> str:
    if epoch_ms is None:
        return "-"
    return dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def error_lines(error: dict[str, Any]) -> list[str]:
    """Two lines for one error: what, where, how often, when; then its reason."""
    record = f"contact {error['contact_id']}" if error["contact_id"] is not None else "no contact"
    if error["crm_id"]:
        record += f" (CRM {error['crm_id']})"
    seen = f"seen {error['count']}x, last {_when(error['last_seen_at'] or error['created_at'])}"
    if error["resolved_at"]:
        state = f"resolved {_when(error['resolved_at'])}"
    elif error["next_retry_at"]:
        state = f"retries on its own {_when(error['next_retry_at'])}"
    else:
        state = "waits for a change or a retry"
    return [f"#{error['id']}  {record}  {error['operation']}  {error['code'] or '-'}  {seen}  {state}",
            f"    {error['reason']}"]


def cmd_errors(args: argparse.Namespace) -> int:
    if getattr(args, "errors_command", None) == "retry":
        return cmd_errors_retry(args)
    params = {"include_resolved": args.resolved, "limit": args.limit, "code": args.code, "contact_id": args.contact}
    errors = _call(args, "errors.list", params)
    if args.json:
        _print_json(errors)
        return 0
    for error in errors:
        print("\n".join(error_lines(error)))
    if not errors:
        print("no open errors" if not args.resolved else "no errors")
    elif not args.resolved:
        print(f"{len(errors)} open; retry with: leadsync errors retry ID... | --code CODE | --all", file=sys.stderr)
    return 0


def cmd_errors_retry(args: argparse.Namespace) -> int:
    if bool(args.ids) == bool(args.code or args.all):
        print("leadsync errors retry: give error ids, or --code CODE and/or --all", file=sys.stderr)
        return 2
    params: dict[str, Any] = {"wait": not args.no_wait}
    if args.ids:
        params["ids"] = args.ids
    else:
        params.update({"code": args.code} if args.code else {}, **({"all": True} if args.all else {}))
    answer = _call(args, "errors.retry", params)
    if args.json:
        _print_json(answer)
        return 0 if answer["retried"] else 1
    if not answer["retried"]:
        print(f"leadsync errors retry: nothing to retry: {_nothing_matched(args, answer)} (leadsync errors lists "
              "the open ones)", file=sys.stderr)
        return 1
    print(f"retried {len(answer['retried'])} errors: {len(answer['contacts'])} contacts pushed again, "
          f"{len(answer['reread'])} CRM records read again")
    if not args.no_wait:
        print(f"closed {len(answer['closed'])}, still open {len(answer['still_open'])}"
              + (f" ({', '.join('#' + str(i) for i in answer['still_open'][:20])}; leadsync errors)"
                 if answer["still_open"] else ""))
    for skip in answer["skipped"]:
        print(f"skipped #{skip['id']}: {skip['reason']}")
    return 1 if answer["still_open"] else 0


def _nothing_matched(args: argparse.Namespace, answer: dict[str, Any]) -> str:
    """Why an ``errors.retry`` retried nothing, as a clause."""
    if answer["skipped"]:
        return "; ".join(f"#{s['id']} {s['reason']}" for s in answer["skipped"][:20])
    if args.code:
        return f"no open error has code {args.code!r}"
    return "no error is open"


def cmd_undo(args: argparse.Namespace) -> int:
    answer = _call(args, "sync.undo", {"run": args.run, "dry_run": args.dry_run,
                                       "archive_created": args.archive_created})
    if args.json:
        _print_json(answer)
        return 0
    counts = answer["counts"]
    verb = "would put back" if answer["dry_run"] else "put back"
    print(f"undo of sync #{answer['run']}: {verb} {counts['local']} local fields and {counts['crm']} CRM "
          f"properties; {counts['changed_since']} changed since (left as they are); {counts['archive']} created "
          f"records {'to archive' if answer['dry_run'] else 'archived'}" + (f"; {counts['failed']} failed"
                                                                            if counts.get("failed") else ""))
    kept = sum(not c["archive"] for c in answer["created"])
    if kept:
        print(f"  {kept} records the run created in the CRM are kept" + ("" if args.archive_created else
                                                                      " (--archive-created archives them)"))
    for item in answer["restore"][:50]:
        print(f"  contact {item['contact_id']} {item['field']}: {item['run_value']!r} -> {item['before']!r} "
              f"({', '.join(item['sides'])})")
    for item in answer["changed_since"][:50]:
        print(f"  left: contact {item['contact_id']} {item['field']}: {item['note']}")
    if answer["undo_run"]:
        print(f"undo run #{answer['undo_run']['id']} {answer['undo_run']['status']}")
    elif not answer["dry_run"]:
        print("nothing to put back: no undo run was recorded")
    return 0 if answer["undo_run"] is None or answer["undo_run"]["status"] in ("ok", "partial") else 1


def add_parsers(sub: Any) -> None:
    """Add ``errors`` (with ``retry``) and ``undo`` to the ``leadsync`` subcommands ``sub``."""
    p = sub.add_parser("errors", help="records that failed alone, with the reason; retry them")
    p.add_argument("--code", help="only errors of this code")
    p.add_argument("--contact", type=int, help="only this contact's errors")
    p.add_argument("--resolved", action="store_true", help="resolved ones too")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_errors)
    retry = p.add_subparsers(dest="errors_command").add_parser(
        "retry", help="retry errors now: ids, every one of a code, or every open one")
    retry.add_argument("ids", nargs="*", type=int, metavar="ID")
    retry.add_argument("--code", help="every open error of this code (with or without --all)")
    retry.add_argument("--all", action="store_true", help="every open error (of --code, when given)")
    retry.add_argument("--no-wait", action="store_true", help="queue the retry; do not wait for its outcome")
    retry.add_argument("--json", action="store_true")
    retry.add_argument("--socket", default=argparse.SUPPRESS, help="agent socket (same as the global one)")

    p = sub.add_parser("undo", help="put back what a sync run wrote, on both sides (see --dry-run first)")
    p.add_argument("run", type=int, help="the sync run (leadsync call sync.history)")
    p.add_argument("--dry-run", action="store_true", help="show the plan; change nothing")
    p.add_argument("--archive-created", action="store_true", help="also archive the records the run created in the CRM")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_undo)
