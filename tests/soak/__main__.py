"""``python -m tests.soak [--crm NAME ...] [--minutes N] [--seed S] [--contacts N]``: the soak (``make soak``).

Runs one soak per CRM (all four by default) for ``--minutes`` each, prints its figures (operations per kind,
syncs by status, restarts, kills, faults answered, token refreshes, the agent's RSS and open files at the
start and end of the week, seconds, each invariant) and a Markdown table row per CRM; exits 1 when an
invariant broke. The seed (random unless given) is printed first, so a failing soak replays with
``--seed S --crm NAME``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from tests.crm_worlds import CRMS
from tests.soak.actions import DAILY, WEIGHTS
from tests.soak.runner import Options, Result, run_soak

COLUMNS = ["CRM", "minutes", "seed", "edits local/CRM", "creates local/CRM", "imports (rows)", "to-dos",
           "score changes local+CRM", "syncs (ok)", "restarts / kill -9", "faults 429/5xx",
           "storms / quota / token expiries", "RSS MiB start→end", "fds start→end", "invariants"]
TABLE_HEADER = "| " + " | ".join(COLUMNS) + " |\n" + "|---" * len(COLUMNS) + "|"


def table_row(r: Result) -> str:
    d, f = r.done, r.figures
    held = "all held" if r.verdict.ok else "BROKEN: " + ", ".join(k for k, v in r.verdict.broken.items() if v)
    return (f"| {r.options.crm} | {r.seconds / 60:.1f} | {r.options.seed} | {d.get('local edit', 0)}/"
            f"{d.get('CRM edit', 0)} | {d.get('local create', 0)}/{d.get('CRM create', 0)} | {d.get('import', 0)} "
            f"({d.get('imported row', 0)}) | {d.get('to-do', 0)} | {d.get('score change', 0)}+"
            f"{d.get('CRM score change', 0)} | {d.get('sync', 0)} ({r.sync_status.get('ok', 0)}) | "
            f"{d.get('restart', 0)} / {d.get('kill -9', 0)} | {r.faults['429']}/{r.faults['5xx']} | "
            f"{d.get('fault storm', 0)} / {d.get('quota exhausted', 0)} / {d.get('token expiry', 0)} | "
            f"{f.get('rss_first_quarter_mib')}→{f.get('rss_last_quarter_mib')} | {f.get('fds_first_quarter')}→"
            f"{f.get('fds_last_quarter')} | {held} |")


def report(r: Result) -> str:
    without = f", without {', '.join(sorted(r.options.without))}" if r.options.without else ""
    lines = [f"== soak {r.options.crm}: seed {r.options.seed}, {r.seconds:.0f} s, {r.options.contacts} seeded records"
             f"{without}",
             "operations: " + ", ".join(f"{k} {v}" for k, v in sorted(r.done.items())),
             "syncs by status: " + ", ".join(f"{k} {v}" for k, v in sorted(r.sync_status.items())),
             f"faults answered by the sandbox: 429 x{r.faults['429']}, 5xx x{r.faults['5xx']}; "
             f"access tokens issued: {r.token_grants}; quiet sync after {r.quiet_runs} run(s)",
             "figures: " + ", ".join(f"{k} {v}" for k, v in r.figures.items())]
    if r.refused:
        lines.append("refused calls: " + "; ".join(f"{k} x{v}" for k, v in sorted(r.refused.items())))
    for name, problems in r.verdict.broken.items():
        lines.append(f"  [{'ok' if not problems else 'BROKEN'}] {name}")
        lines += [f"      {p}" for p in problems]
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--crm", action="append", choices=CRMS, help="repeat for several (default: all four)")
    parser.add_argument("--minutes", type=float, default=3.0, help="wall time of each CRM's simulated week")
    parser.add_argument("--seed", type=int, default=None, help="default: a random one (printed)")
    parser.add_argument("--contacts", type=int, default=600, help="records the sandbox is seeded with")
    names = sorted(op.__name__ for op in (*WEIGHTS, *DAILY))
    parser.add_argument("--without", action="append", default=[], choices=names, metavar="OPERATION",
                        help=f"leave an operation out (repeatable): {', '.join(names)}")
    return parser.parse_args(argv)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # asyncio.run cancels the soak, whose clean-up stops the agent and the sandbox


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    seed = args.seed if args.seed is not None else random.randrange(1, 1_000_000)
    print(f"soak seed {seed} (replay: python -m tests.soak --seed {seed} --crm NAME --minutes {args.minutes})",
          flush=True)
    results = []
    for crm in args.crm or CRMS:
        tmp = Path(tempfile.mkdtemp(prefix="ls-soak-"))
        result = asyncio.run(run_soak(Options(crm, args.minutes, seed, args.contacts, frozenset(args.without)), tmp))
        print(report(result), flush=True)
        if result.verdict.ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"  (agent log and store kept in {tmp})")
        results.append(result)
    print("\n" + TABLE_HEADER)
    print("\n".join(table_row(r) for r in results))
    return 0 if all(r.verdict.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
