"""The ``leadsync`` command: agent, tui, demo, sandbox, call, and friendly verbs for scripts.

Exit status: 0 on success, 1 when the agent answered with an error, 2 for usage errors, 3 when no
agent answers on the socket.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from leadsync.agent.connectors.sandboxes import SANDBOX_CRMS
from leadsync.common.errors import LeadsyncError
from leadsync.common.paths import data_dir, socket_path
from leadsync.common.rpc import AgentUnavailableError, RpcError, call_once


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False))


def _call(args: argparse.Namespace, method: str, params: dict[str, Any] | None = None) -> Any:
    return call_once(socket_path(args.socket), method, params, timeout_s=args.timeout)


def cmd_agent(args: argparse.Namespace) -> int:
    from leadsync.agent.rpc_server import resolve_group, resolve_user
    from leadsync.agent.service import run_agent

    try:  # unknown names are a usage error, reported before anything starts
        for user in args.allow_user:
            resolve_user(user)
        for group in args.allow_group:
            resolve_group(group)
    except ValueError as exc:
        print(f"leadsync agent: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(run_agent(data_dir(args.data_dir), socket_path(args.socket),
                                 socket_mode=int(args.socket_mode, 8), allow_users=args.allow_user,
                                 allow_groups=args.allow_group))


def cmd_sandbox(args: argparse.Namespace) -> int:
    from leadsync.agent.connectors.sandboxes import serve

    serve(args.crm, args.host, args.port, contacts=args.contacts, seed=args.seed, token=args.token)
    return 0


def cmd_call(args: argparse.Namespace) -> int:
    text = args.params
    try:
        if text == "-":  # secrets (crm.connect credentials) stay out of process arguments and shell history
            text = sys.stdin.read()
        elif text is not None and text.startswith("@"):
            with open(text[1:], encoding="utf-8") as handle:
                text = handle.read()
    except OSError as exc:
        print(f"leadsync call: cannot read {text[1:]}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        params = json.loads(text) if text else None
    except json.JSONDecodeError as exc:
        print(f"leadsync call: PARAMS_JSON is not valid JSON: {exc}", file=sys.stderr)
        return 2
    if params is not None and not isinstance(params, dict):
        print("leadsync call: PARAMS_JSON must be a JSON object of named params", file=sys.stderr)
        return 2
    _print_json(_call(args, args.method, params))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    status = _call(args, "agent.status")
    crm = _call(args, "crm.status")
    sync = _call(args, "sync.status")
    if args.json:
        _print_json({"agent": status, "crm": crm, "sync": sync})
        return 0
    print(f"agent {status['version']} (pid {status['pid']}), {status['contacts']} contacts, socket {status['socket']}")
    if crm["connected"]:
        print(f"CRM: {crm['crm']} at {crm['base_url']} as {crm['user_email']}"
              + ("" if crm["is_admin"] else "  [non-admin connection: sees less]"))
        if crm.get("status") == "needs_reauth" or crm.get("warning"):
            print(f"  {crm['status'].upper()}: {crm['warning']}")
    else:
        print("CRM: not connected (leadsync call crm.connect ...)")
    last = sync["last"]
    if last:
        print(f"last sync #{last['id']} {last['status']} ({last['trigger']}): pulled {last['pulled']}, "
              f"created in CRM {last['created_crm']}, updated in CRM {last['updated_crm']}, "
              f"failed {last['failed']}, {last['api_calls']} API calls")
        if last.get("error"):
            print(f"  {last['error']}")
    print(f"push {'enabled' if sync['push_enabled'] else 'DISABLED'}, every {sync['interval_minutes']} min, "
          f"{sync['pending_push']} contacts waiting to push, {sync['held_with_errors']} held by an error "
          "(leadsync call errors.list)")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    run = _call(args, "sync.run", {"wait": not args.no_wait})
    if args.json:
        _print_json(run)
    elif run["status"] in ("queued", "running"):
        print(f"sync {'#' + str(run['id']) + ' ' if run['id'] else ''}{run['status']}; "
              "follow it with: leadsync status")
    else:
        print(f"sync #{run['id']} {run['status']}: pulled {run['pulled']}, created locally {run['created_local']}, "
              f"updated locally {run['updated_local']}, created in CRM {run['created_crm']}, "
              f"updated in CRM {run['updated_crm']}, linked {run['linked']}, failed {run['failed']}, "
              f"{run['api_calls']} API calls" + (f" — {run['error']}" if run["error"] else "")
              + (" (leadsync call errors.list shows the failed records)" if run["failed"] else ""))
    return 0 if run["status"] in ("ok", "partial", "running", "queued") else 1


def cmd_contacts(args: argparse.Namespace) -> int:
    flt = {k: v for k, v in {"owner": args.owner, "q": args.search, "lifecycle_stage": args.stage}.items() if v}
    after = args.after
    while True:
        page = _call(args, "contacts.list", {"filter": flt, "limit": min(args.limit, 500) if args.all else args.limit,
                                             "after": after})
        if args.json and args.all:
            print(json.dumps(page, ensure_ascii=False), flush=True)
        elif args.json:
            _print_json(page)
        else:
            for c in page["contacts"]:
                name = " ".join(x for x in (c["first_name"], c["last_name"]) if x)
                print(f"{c['id']:>8}  {c['email'] or '':<40} {name:<28} {c['lifecycle_stage'] or '':<12} "
                      f"owner {c['owner_id'] or '-':<6} {c['sync_state']}")
        after = page["next_after"]
        if after is None:
            return 0
        if not args.all:
            if not args.json:
                print(f"more: leadsync contacts --after {after} (or --all)", file=sys.stderr)
            return 0


def cmd_import(args: argparse.Namespace) -> int:
    from leadsync.common.csvio import batches, read_csv

    try:
        with open(args.file, encoding="utf-8", newline="") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"leadsync import: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    header, rows = read_csv(text)
    total: dict[str, Any] = {"rows": 0, "created": 0, "updated": 0, "unchanged": 0, "failed": []}
    for batch in batches(rows):
        report = _call(args, "contacts.import", {"as_user": args.as_user, "header": header,
                                                 "rows": [[r.line, r.values] for r in batch]})
        for key in ("rows", "created", "updated", "unchanged"):
            total[key] += report[key]
        total["failed"] += report["failed"]
        total.setdefault("duplicates", [])
        total["duplicates"] += report.get("duplicates", [])
        total["unmapped_columns"] = report["unmapped_columns"]
    if args.json:
        _print_json(total)
    else:
        print(f"{total['rows']} rows: {total['created']} created, {total['updated']} updated, "
              f"{total['unchanged']} unchanged, {len(total['failed'])} failed")
        for failure in total["failed"]:
            print(f"  line {failure['line']}: {failure['reason']}")
        for duplicate in total.get("duplicates", []):
            print(f"  line {duplicate['line']}: {duplicate['reason']}")
        if total.get("unmapped_columns"):
            print(f"  columns not imported: {', '.join(total['unmapped_columns'])}")
    return 1 if total["failed"] else 0


def cmd_export(args: argparse.Namespace) -> int:
    from leadsync.common.csvio import write_csv

    flt = {k: v for k, v in {"owner": args.owner, "q": args.search, "lifecycle_stage": args.stage}.items() if v}

    def pages() -> Any:
        after = None
        while True:
            page = _call(args, "contacts.list", {"filter": flt, "after": after, "limit": 500})
            yield from page["contacts"]
            after = page["next_after"]
            if after is None:
                return

    with open(args.file, "w", encoding="utf-8", newline="") as handle:
        count = write_csv(handle, pages())
    print(f"{count} contacts written to {args.file}")
    return 0


def cmd_tui(args: argparse.Namespace) -> int:
    from leadsync.tui.app import run_tui

    run_tui(socket_path(args.socket))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from leadsync.agent.demo import run_demo

    return run_demo(headless=args.headless, contacts=args.contacts, new_leads=args.leads, keep=args.keep,
                    crm=args.crm)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leadsync", description="Contact and lead sync between a "
                                     "marketing contact store and a CRM.")
    parser.add_argument("--socket", help="agent socket (default: $LEADSYNC_SOCKET or the user runtime dir)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for an answer")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("agent", help="run the agent (the long-running daemon)")
    p.add_argument("--data-dir", help="store and secrets (default: $LEADSYNC_DATA_DIR or the user data dir)")
    p.add_argument("--socket-mode", default="600", help="octal mode of the socket (660 for a group)")
    p.add_argument("--socket", default=argparse.SUPPRESS, help="agent socket (same as the global --socket)")
    p.add_argument("--allow-user", action="append", default=[], metavar="USER",
                   help="a user (name or uid) who may use the socket besides the agent's own user and root; "
                        "repeatable")
    p.add_argument("--allow-group", action="append", default=[], metavar="GROUP",
                   help="members of this group (name or gid) may use the socket (with --socket-mode 660); "
                        "repeatable")
    p.set_defaults(func=cmd_agent)

    p = sub.add_parser("sandbox", help="serve a sandbox CRM on loopback")
    p.add_argument("--crm", default="hubspot", choices=SANDBOX_CRMS)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    p.add_argument("--contacts", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--token", default="sandbox-token")
    p.set_defaults(func=cmd_sandbox)

    p = sub.add_parser("call", help="call one API method and print the JSON result")
    p.add_argument("method")
    p.add_argument("params", nargs="?", help="params as a JSON object; - reads them from stdin, @FILE from a file "
                                             "(keeps credentials out of process arguments)")
    p.set_defaults(func=cmd_call)

    p = sub.add_parser("status", help="agent, CRM and sync status")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("sync", help="run a sync now and wait for it")
    p.add_argument("--no-wait", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser("contacts", help="list contacts")
    p.add_argument("--owner")
    p.add_argument("--search", "-q")
    p.add_argument("--stage")
    p.add_argument("--limit", type=int, default=50, help="contacts per page (at most 500)")
    p.add_argument("--after", type=int, help="the page after this contact id (printed at the end of a page)")
    p.add_argument("--all", action="store_true", help="every page (JSON: one page object per line)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_contacts)

    p = sub.add_parser("import", help="import contacts from a CSV file (header row required)")
    p.add_argument("file")
    p.add_argument("--as", dest="as_user", required=True, help="the importing user (email or id): owns new contacts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", help="export a filtered list of contacts to CSV")
    p.add_argument("file")
    p.add_argument("--owner")
    p.add_argument("--search", "-q")
    p.add_argument("--stage")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("tui", help="open the terminal dashboard")
    p.set_defaults(func=cmd_tui)

    p = sub.add_parser("demo", help="sandbox CRM + agent + first sync in a throwaway data dir")
    p.add_argument("--headless", action="store_true", help="print a JSON summary instead of opening the TUI")
    p.add_argument("--contacts", type=int, default=10_000, help="contacts in the sandbox CRM")
    p.add_argument("--leads", type=int, default=25, help="new leads created locally and pushed")
    p.add_argument("--keep", action="store_true", help="keep the data dir")
    p.add_argument("--crm", default="hubspot", choices=SANDBOX_CRMS, help="which CRM's sandbox")
    p.set_defaults(func=cmd_demo)
    for name, client in sub.choices.items():  # `leadsync tui --socket X` works as well as `leadsync --socket X tui`
        if name not in ("agent", "sandbox", "demo"):
            client.add_argument("--socket", default=argparse.SUPPRESS, help="agent socket (same as the global one)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # request lines carry emails in query strings: personal data stays out of info-level logs
    for noisy in ("httpx", "httpcore", "uvicorn.access", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        code: int = args.func(args)
        return code
    except AgentUnavailableError as exc:
        print(f"leadsync: {exc.message}\nstart one with: leadsync agent", file=sys.stderr)
        return 3
    except RpcError as exc:
        print(f"leadsync: {exc.message} (code {exc.code})", file=sys.stderr)
        if exc.data is not None:
            print(json.dumps(exc.data), file=sys.stderr)
        return 1
    except LeadsyncError as exc:  # bad input found before reaching the agent (an empty CSV...) or at start-up
        print(f"leadsync: {exc.message}", file=sys.stderr)
        return 1 if args.command == "agent" else 2
    except TimeoutError:
        print(f"leadsync: no answer within --timeout {args.timeout} s (the agent may still be working)",
              file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `leadsync call ... | head`
        sys.stderr.close()
        return 0
    except OSError as exc:
        print(f"leadsync: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
