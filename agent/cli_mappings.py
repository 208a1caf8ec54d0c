"""The ``leadsync mapping`` verb: change (or add, or remove) one field mapping after seeing what the next sync would
write with it (``mappings.preview``, a dry run) and saying yes. Registered by :mod:`leadsync.agent.cli`.

Exit statuses: 0 saved (or nothing to save), 1 not confirmed, 2 no terminal to ask on and no ``--yes``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from leadsync.common.paths import socket_path
from leadsync.common.rpc import call_once


def _params(args: argparse.Namespace) -> dict[str, Any]:
    params: dict[str, Any] = {"local": args.local}
    for name in ("crm", "direction", "policy"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    if args.remove:
        params["remove"] = True
    return params


def plan_summary(plan: dict[str, Any]) -> list[str]:
    """What a ``mappings.preview`` plan would write, one line per side (contacts and field values)."""
    lines = []
    for side, where in (("crm", "to the CRM"), ("local", "in the store")):
        ops = plan["counts"].get(side) or {}
        contacts = sum(ops.values())
        fields = sum((plan["field_counts"].get(side) or {}).values())
        detail = ", ".join(f"{n:,} {op}" for op, n in sorted(ops.items()) if n)
        lines.append(f"the next sync would write {contacts:,} contacts {where}" + (f" ({detail})" if detail else "")
                     + f", {fields:,} field values")
    if plan.get("push_disabled"):
        lines.append("push is off: nothing goes to the CRM until it is on")
    return lines


def cmd_mapping(args: argparse.Namespace) -> int:
    sock = socket_path(args.socket)
    params = _params(args)
    plan = call_once(sock, "mappings.preview", params, timeout_s=args.timeout)
    lines = plan_summary(plan)
    writes = sum(sum((plan["field_counts"].get(side) or {}).values()) for side in ("crm", "local"))
    if args.json:
        print(json.dumps({"plan": plan}, indent=2))
    else:
        print(f"mapping {args.local}: " + "; ".join(lines))
    if writes and not args.yes:
        if not sys.stdin.isatty():
            print("not saved: confirm with --yes (no terminal to ask on)", file=sys.stderr)
            return 2
        if input("Save this mapping? [y/N] ").strip().lower() not in ("y", "yes"):
            print("not saved")
            return 1
    saved = call_once(sock, "mappings.update", params, timeout_s=args.timeout)
    if not args.json:
        print(f"saved: {len(saved)} mappings in force; the next sync writes what is shown above")
    return 0


def add_parser(sub: Any) -> None:
    """Add ``mapping`` to the ``leadsync`` subcommands ``sub``."""
    p = sub.add_parser("mapping", help="change, add or remove a field mapping after seeing what it would write")
    p.add_argument("local", help="the local field (e.g. job_title, or a custom field)")
    p.add_argument("--crm", help="the CRM property it maps to")
    p.add_argument("--direction", help="two_way, to_crm, from_crm or off")
    p.add_argument("--policy", help="the conflict policy (crm_wins, local_wins, crm_unless_blank, newest_wins)")
    p.add_argument("--remove", action="store_true", help="remove the mapping (the field stops syncing)")
    p.add_argument("--yes", action="store_true", help="save without asking (scripts)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_mapping)
