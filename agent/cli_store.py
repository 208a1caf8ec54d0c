"""The ``leadsync backup`` and ``leadsync restore`` verbs. Registered by :mod:`leadsync.agent.cli`
(:func:`add_parsers`); same exit statuses (restore: 0 restored, 1 refused)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from leadsync.common.paths import data_dir, socket_path
from leadsync.common.rpc import call_once


def cmd_backup(args: argparse.Namespace) -> int:
    path = Path(os.path.abspath(os.path.expanduser(args.path)))  # the agent does not share our working directory
    answer = call_once(socket_path(args.socket), "store.backup", {"path": str(path)}, timeout_s=args.timeout)
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        print(f"store backed up to {answer['path']} ({answer['bytes']} bytes, {answer['took_ms']} ms); "
              f"restore it with: leadsync restore {answer['path']}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from leadsync.agent.backups import restore_store

    data = data_dir(args.data_dir)
    aside = restore_store(data, Path(os.path.abspath(os.path.expanduser(args.path))))
    print(f"restored {args.path} as the store of {data}"
          + (f"; the previous store is kept at {aside}" if aside else "") + ". Start the agent again.")
    return 0


def add_parsers(sub: Any) -> None:
    """Add ``backup`` and ``restore`` to the ``leadsync`` subcommands ``sub``."""
    p = sub.add_parser("backup", help="back the store up to PATH while the agent runs (SQLite online backup)")
    p.add_argument("path", help="a file, or a directory to put leadsync-<UTC time>.db in")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="make a backup the store again (the agent must be stopped)")
    p.add_argument("path", help="a backup made by leadsync backup (checked with integrity_check first)")
    p.add_argument("--data-dir", help="the data dir to restore into (default: $LEADSYNC_DATA_DIR or the user data "
                                      "dir)")
    p.set_defaults(func=cmd_restore)
