"""The ``leadsync`` command: agent, tui, demo, sandbox, call, and friendly verbs for scripts.

Exit status: 0 on success, 1 when the agent answered with an error (or refused to start, or a restore was
refused), 2 for usage errors, 3 when no agent answers on the socket.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from leadsync.agent.cli_health import add_parser as add_health_parser
from leadsync.agent.cli_live import add_parsers as add_live_parsers
from leadsync.agent.cli_mappings import add_parser as add_mapping_parser
from leadsync.agent.cli_recovery import add_parsers as add_recovery_parsers
from leadsync.agent.cli_store import add_parsers as add_store_parsers
from leadsync.agent.connectors.sandboxes import SANDBOX_CRMS
from leadsync.common.errors import LeadsyncError
from leadsync.common.paths import data_dir, prepare_socket_dir, socket_note, socket_path
from leadsync.common.rpc import AgentUnavailableError, RpcError, call_once

Call = Callable[[str, dict[str, Any]], Any]
_Subparsers = argparse._SubParsersAction  # the type of ``ArgumentParser.add_subparsers()``'s answer


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False))


def _call(args: argparse.Namespace, method: str, params: dict[str, Any] | None = None) -> Any:
    return call_once(socket_path(args.socket), method, params, timeout_s=args.timeout)


def cmd_agent(args: argparse.Namespace) -> int:
    from leadsync.agent.rpc_limits import parse_limits
    from leadsync.agent.rpc_server import resolve_group, resolve_user
    from leadsync.agent.service import run_agent

    try:  # unknown names and bad limits are a usage error, reported before anything starts
        for user in args.allow_user:
            resolve_user(user)
        for group in args.allow_group:
            resolve_group(group)
        limits = parse_limits(args.socket_limit)
    except ValueError as exc:
        print(f"leadsync agent: {exc}", file=sys.stderr)
        return 2
    prepare_socket_dir(socket_path(args.socket))
    return asyncio.run(run_agent(data_dir(args.data_dir), socket_path(args.socket),
                                 socket_mode=int(args.socket_mode, 8), allow_users=args.allow_user,
                                 allow_groups=args.allow_group, full_check=args.integrity_check,
                                 socket_limits=limits))


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
    note = socket_note(Path(status["socket"]))
    if note:
        print(f"  {note}")
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
    problem = sync.get("last_problem")
    if problem and (not last or problem["id"] != last["id"]):
        print(f"last problem: sync #{problem['id']} {problem['status']} ({problem['trigger']}): "
              f"failed {problem['failed']}" + (f" — {problem['error']}" if problem.get("error") else "")
              + " (leadsync call errors.list)")
    print(f"push {'enabled' if sync['push_enabled'] else 'DISABLED'}, every {sync['interval_minutes']} min, "
          f"{sync['pending_push']} contacts waiting to push, {sync['held_with_errors']} held by an error "
          "(leadsync errors)")
    watch = sync.get("watch")
    if watch and watch["interval_s"]:
        print(f"watch pull every {watch['interval_s']} s: {watch['runs_24h']:,} pulls, {watch['api_calls_24h']:,} API "
              f"calls in 24 h ({watch['changed_runs_24h']:,} brought changes)")
    elif watch:
        print("watch pull off (settings watch_interval_seconds); CRM changes arrive with the interval sync")
    return 0


def owner_filter(call: Call, owner: str) -> tuple[dict[str, Any], str | None]:
    """The ``contacts.list`` filter for ``--owner``: a CRM owner (id or email), or a user (email or id) who has
    no CRM owner, whose contacts are the ones they created (with a note saying so). ValidationError (exit 2)
    for anything else, like ``leadsync export``."""
    from leadsync.agent.exporting import check_filter, owner_names

    owners = owner_names(call)
    text = owner.strip().lower()
    if owner in owners or text in {email.lower() for _, email in owners.values()}:
        return {"owner": owner}, None
    for user in call("users.list", {})["users"]:
        if text in (user["email"].lower(), str(user["id"])):
            return {"created_by": user["id"]}, f"{user['email']} has no CRM owner: the contacts they created"
    check_filter({"owner": owner}, owners)  # raises, naming where owners are listed
    return {"owner": owner}, None


def cmd_contacts(args: argparse.Namespace) -> int:
    from leadsync.agent.exporting import owner_names

    def call(method: str, params: dict[str, Any]) -> Any:
        return _call(args, method, params)

    flt = {k: v for k, v in {"q": args.search, "lifecycle_stage": args.stage}.items() if v}
    if args.owner:
        by_owner, note = owner_filter(call, args.owner)
        flt.update(by_owner)
        if note:
            print(note, file=sys.stderr)
    names = {} if args.json else owner_names(call)
    after = args.after
    while True:
        page = call("contacts.list", {"filter": flt, "limit": min(args.limit, 500) if args.all else args.limit,
                                      "after": after})
        if args.json and args.all:
            print(json.dumps(page, ensure_ascii=False), flush=True)
        elif args.json:
            _print_json(page)
        else:
            for c in page["contacts"]:
                print(contact_line(c, names))
        after = page["next_after"]
        if after is None:
            return 0
        if not args.all:
            if not args.json:
                print(f"more: leadsync contacts --after {after} (or --all)", file=sys.stderr)
            return 0


def contact_line(contact: dict[str, Any], owners: dict[str, tuple[str, str]]) -> str:
    """One contact for a person: id, email, name, Lead or Contact, lifecycle stage, owner by name, sync state."""
    name = " ".join(x for x in (contact["first_name"], contact["last_name"]) if x)
    owner_id = contact["owner_id"]
    owner = owners.get(owner_id, (owner_id, ""))[0] if owner_id else "-"
    kind = {"lead": "Lead", "contact": "Contact"}.get(contact.get("crm_object_type") or "", "-")
    return (f"{contact['id']:>8}  {contact['email'] or '':<36} {name[:24]:<24} {kind:<7} "
            f"{contact['lifecycle_stage'] or '':<12} owner {owner[:24]:<24} {contact['sync_state']}")


def cmd_import(args: argparse.Namespace) -> int:
    from leadsync.common.importfile.report import render
    from leadsync.common.importfile.upload import import_file

    mapping: dict[str, str] = {}
    for item in args.map:
        column, sep, field = item.rpartition("=")
        if not sep or not column.strip() or not field.strip():
            print(f"leadsync import: --map {item!r}: give COLUMN=FIELD", file=sys.stderr)
            return 2
        mapping[column.strip()] = field.strip()
    answer = import_file(lambda method, params: _call(args, method, params), args.file, as_user=args.as_user,
                         dry_run=args.dry_run, mapping=mapping or None, skip=args.skip or None,
                         date_format=args.date_format, sheet=args.sheet, encoding=args.encoding)
    if args.json:
        _print_json(answer)
    else:
        print("\n".join(render(answer, limit_per_kind=5 if args.dry_run else 20)))
    return 1 if answer["failed"] else 0


def cmd_export(args: argparse.Namespace) -> int:
    from leadsync.agent.exporting import export_file

    flt = {k: v for k, v in {"owner": args.owner, "q": args.search, "lifecycle_stage": args.stage}.items() if v}
    count = export_file(lambda method, params: _call(args, method, params), args.file, flt)
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
    _add_process_verbs(sub)
    _add_agent_call_verbs(sub)
    _add_contact_verbs(sub)
    _add_local_verbs(sub)
    add_recovery_parsers(sub)
    add_store_parsers(sub)
    add_live_parsers(sub)
    add_health_parser(sub)
    add_mapping_parser(sub)
    for name, client in sub.choices.items():  # `leadsync tui --socket X` works as well as `leadsync --socket X tui`
        if name not in ("agent", "sandbox", "demo", "restore"):
            client.add_argument("--socket", default=argparse.SUPPRESS, help="agent socket (same as the global one)")
    return parser


def _add_process_verbs(sub: _Subparsers[argparse.ArgumentParser]) -> None:
    """``agent`` and ``sandbox``: the long-running processes."""
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
    p.add_argument("--integrity-check", action="store_true",
                   help="check the whole store with SQLite's integrity_check before serving (default: quick_check)")
    p.add_argument("--socket-limit", action="append", default=[], metavar="NAME=VALUE",
                   help="a socket limit, e.g. max_connections=512 or idle_timeout_s=60 (see README "
                        "\"Socket limits\"); repeatable")
    p.set_defaults(func=cmd_agent)

    p = sub.add_parser("sandbox", help="serve a sandbox CRM on loopback")
    p.add_argument("--crm", default="hubspot", choices=SANDBOX_CRMS)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    p.add_argument("--contacts", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--token", default="sandbox-token")
    p.set_defaults(func=cmd_sandbox)


def _add_agent_call_verbs(sub: _Subparsers[argparse.ArgumentParser]) -> None:
    """``call`` and ``status``: ask the running agent."""
    p = sub.add_parser("call", help="call one API method and print the JSON result")
    p.add_argument("method")
    p.add_argument("params", nargs="?", help="params as a JSON object; - reads them from stdin, @FILE from a file "
                                             "(keeps credentials out of process arguments)")
    p.set_defaults(func=cmd_call)

    p = sub.add_parser("status", help="agent, CRM and sync status")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)


def _add_contact_verbs(sub: _Subparsers[argparse.ArgumentParser]) -> None:
    """``contacts``, ``import`` and ``export``: list contacts, bring them in from a file, write them out."""
    p = sub.add_parser("contacts", help="list contacts")
    p.add_argument("--owner", help="a CRM owner (id or email), or a user without one (their contacts)")
    p.add_argument("--search", "-q")
    p.add_argument("--stage")
    p.add_argument("--limit", type=int, default=50, help="contacts per page (at most 500)")
    p.add_argument("--after", type=int, help="the page after this contact id (printed at the end of a page)")
    p.add_argument("--all", action="store_true", help="every page (JSON: one page object per line)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_contacts)

    p = sub.add_parser("import", help="import contacts from a CSV or .xlsx file (any encoding and delimiter)")
    p.add_argument("file")
    p.add_argument("--as", dest="as_user", required=True,
                   help="the importing user (email or id): owns new contacts unless a row names another owner")
    p.add_argument("--dry-run", action="store_true", help="show what would happen; write nothing")
    p.add_argument("--map", action="append", default=[], metavar="COLUMN=FIELD",
                   help="import COLUMN into FIELD (a contact field, owner, or a custom name; FIELD[] keeps a list); "
                        "repeatable")
    p.add_argument("--skip", action="append", default=[], metavar="COLUMN", help="do not import COLUMN; repeatable")
    p.add_argument("--date-format", metavar="ORDER",
                   help="DMY, MDY or YMD (or DD.MM.YYYY...): for date columns whose rows do not decide it")
    p.add_argument("--sheet", metavar="NAME", help="the sheet of an .xlsx workbook (default: the first)")
    p.add_argument("--encoding", help="the file's encoding, when detection picks the wrong one")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", help="export a filtered list of contacts to CSV")
    p.add_argument("file")
    p.add_argument("--owner")
    p.add_argument("--search", "-q")
    p.add_argument("--stage")
    p.set_defaults(func=cmd_export)


def _add_local_verbs(sub: _Subparsers[argparse.ArgumentParser]) -> None:
    """``tui`` and ``demo``: the dashboard and the throwaway demo."""
    p = sub.add_parser("tui", help="open the terminal dashboard")
    p.set_defaults(func=cmd_tui)

    p = sub.add_parser("demo", help="sandbox CRM + agent + first sync in a throwaway data dir")
    p.add_argument("--headless", action="store_true", help="print a JSON summary instead of opening the TUI")
    p.add_argument("--contacts", type=int, default=10_000, help="contacts in the sandbox CRM")
    p.add_argument("--leads", type=int, default=25, help="new leads created locally and pushed")
    p.add_argument("--keep", action="store_true", help="keep the data dir")
    p.add_argument("--crm", default="hubspot", choices=SANDBOX_CRMS, help="which CRM's sandbox")
    p.set_defaults(func=cmd_demo)


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
    except LeadsyncError as exc:  # bad input found before reaching the agent (an empty CSV...), at start-up, or
        print(f"leadsync: {exc.message}", file=sys.stderr)  # a restore refused (a running agent, a damaged backup)
        return 1 if args.command in ("agent", "restore") else 2
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
