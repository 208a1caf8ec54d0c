"""The soak's invariants, checked on snapshots of both sides taken after set-up and after the final quiet sync:

- no duplicate: no email held twice on either side that was not already twice in the seeded data;
- every contact on both sides: each CRM record's email is local and linked, each local contact is in the CRM;
- no lost edit: each field the soak wrote ends, on both sides, with the value the merge rules pick
  (:meth:`tests.soak.ledger.Ledger.expected`);
- both sides agree field by field on every mapped field of every linked contact;
- the final sync is quiet (a run that changes nothing within ``runner.QUIET_RUNS``) and no error stays open;
- memory and open files flat: the agent's median RSS in the last quarter of the week within
  ``RSS_TOLERANCE`` (relative, or ``RSS_SLACK_KIB``, whichever is larger) of the first quarter's, its peak open
  file count within ``FD_SLACK`` of the first quarter's peak.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.soak.ledger import Verdict, duplicates, text

if TYPE_CHECKING:
    from tests.soak.actions import Soak

RSS_TOLERANCE = 0.20
RSS_SLACK_KIB = 10 * 1024
FD_SLACK = 4
SHOWN = 8  # problems listed per invariant
EXPECTED_ERRORS = {"autotask": {"OWNER_READ_ONLY"}}
"""Open errors that are the CRM's documented answer, not a fault: an Autotask contact's owner is its company's,
so a to-do's owner change is refused with this code (README, Autotask)."""


@dataclass
class Snapshot:
    """Every local contact (as ``contacts.list`` answers) and every live CRM record (local field names)."""

    local: list[dict[str, Any]]
    crm: dict[str, dict[str, Any]]
    open_errors: list[dict[str, Any]]

    @classmethod
    async def take(cls, soak: Soak) -> Snapshot:
        local: list[dict[str, Any]] = []
        after = None
        while True:
            page = await soak.world.call("contacts.list", {"limit": 500, "after": after})
            local += page["contacts"]
            if (after := page["next_after"]) is None:
                break
        side = soak.world.side
        errors = await soak.world.call("errors.list", {"limit": 1000})
        return cls(local, {crm_id: side.get(crm_id) for crm_id in side.ids()}, list(errors))


def compared_fields(crm: str, names: dict[str, str], object_type: str | None) -> list[str]:
    """The mapped fields both sides hold for a record of ``object_type``: a Salesforce or Zoho Contact has no
    company or lead status of its own (its Account's, a Lead's)."""
    out = [n for n in names if n != "owner"]
    if crm in ("salesforce", "zoho") and object_type == "contact":
        out = [n for n in out if n not in ("company", "lifecycle_stage")]
    return out


def _pairs(soak: Soak, after: Snapshot) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], list[str]]:
    by_id = {c["crm_id"]: c for c in after.local if c["crm_id"]}
    missing = [f"CRM {crm_id} ({record['email']}) not linked locally"
               for crm_id, record in after.crm.items() if crm_id not in by_id]
    missing += [f"local {c['id']} ({c['email']}) not in the CRM ({c['crm_id'] or 'never pushed'})"
                for c in after.local if c["crm_id"] not in after.crm]
    return [(by_id[i], r) for i, r in after.crm.items() if i in by_id], missing


def _field_checks(soak: Soak, pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> tuple[list[str], list[str]]:
    lost: list[str] = []
    disagree: list[str] = []
    names = soak.world.side.names
    for local, record in pairs:
        email = (local["email"] or "").strip().lower()
        for name in compared_fields(soak.crm, names, local.get("crm_object_type")):
            mine, theirs = text(local.get(name)), text(record.get(name))
            if mine != theirs:
                disagree.append(f"{email} {name}: local {mine!r}, CRM {theirs!r}")
            wanted = soak.ledger.expected(email, name)
            if wanted is not None and (mine not in wanted or theirs not in wanted):
                lost.append(f"{email} {name}: wanted {sorted(map(str, wanted))}, local {mine!r}, CRM {theirs!r}")
    return lost, disagree


def _longest_life(soak: Soak) -> dict[str, Any]:
    """The longest-lived agent process: seconds sampled, RSS (MiB) and fds at its first and last sample."""
    lives: dict[int, list[Any]] = {}
    for sample in soak.world.samples:
        lives.setdefault(sample.pid, []).append(sample)
    life = max(lives.values(), key=lambda s: s[-1].t - s[0].t, default=[])
    if not life:
        return {}
    return {"longest_life_s": round(life[-1].t - life[0].t), "longest_life_rss_mib":
            f"{life[0].rss_kib / 1024:.1f}→{life[-1].rss_kib / 1024:.1f}",
            "longest_life_fds": f"{life[0].fds}→{life[-1].fds}"}


def _flat(soak: Soak, window: tuple[float, float]) -> tuple[list[str], dict[str, Any]]:
    # the quarters of the span the agent was sampled in: a kill -9 or restart at an edge of the window leaves
    # that edge without an agent to sample
    sampled = sorted(s.t for s in soak.world.samples if window[0] <= s.t <= window[1])
    if len(sampled) < 2:
        return ["too few samples of the agent process"], {}
    start, end = sampled[0], sampled[-1]
    quarter = (end - start) / 4
    first = [s for s in soak.world.samples if start <= s.t <= start + quarter]
    last = [s for s in soak.world.samples if end - quarter <= s.t <= end]
    rss0, rss1 = statistics.median(s.rss_kib for s in first), statistics.median(s.rss_kib for s in last)
    fd0, fd1 = max(s.fds for s in first), max(s.fds for s in last)
    figures = {"rss_first_quarter_mib": round(rss0 / 1024, 1), "rss_last_quarter_mib": round(rss1 / 1024, 1),
               "rss_peak_mib": round(max(s.rss_kib for s in soak.world.samples) / 1024, 1),
               "fds_first_quarter": fd0, "fds_last_quarter": fd1, "samples": len(soak.world.samples),
               "agent_processes": len({s.pid for s in soak.world.samples}), **_longest_life(soak)}
    problems = []
    if rss1 > rss0 + max(rss0 * RSS_TOLERANCE, RSS_SLACK_KIB):
        problems.append(f"RSS grew from {rss0 / 1024:.1f} MiB to {rss1 / 1024:.1f} MiB")
    if fd1 > fd0 + FD_SLACK:
        problems.append(f"open files grew from {fd0} to {fd1}")
    return problems, figures


def check_all(soak: Soak, before: Snapshot, after: Snapshot, window: tuple[float, float], quiet: bool,
              last_run: dict[str, Any]) -> Verdict:
    """Every invariant of the module docstring; ``window`` is the week's span in the world's sample times."""
    verdict = Verdict()
    seeded_local = duplicates(c["email"] for c in before.local)
    seeded_crm = duplicates(r["email"] for r in before.crm.values())
    verdict.check("no duplicate (store)", [f"{e} x{n}" for e, n in duplicates(c["email"] for c in after.local).items()
                                           if seeded_local.get(e, 1) < n][:SHOWN])
    verdict.check("no duplicate (CRM)", [f"{e} x{n}" for e, n in duplicates(r["email"] for r in after.crm.values())
                                         .items() if seeded_crm.get(e, 1) < n][:SHOWN])
    pairs, missing = _pairs(soak, after)
    verdict.check("every contact on both sides", missing[:SHOWN])
    lost, disagree = _field_checks(soak, pairs)
    verdict.check("no lost edit", lost[:SHOWN])
    verdict.check("both sides agree field by field", disagree[:SHOWN])
    verdict.check("final sync quiet", [] if quiet else [f"still changing after the quiet runs: {last_run}"])
    expected = EXPECTED_ERRORS.get(soak.crm, set())
    verdict.check("no open error", [f"{e.get('code')}: {e.get('reason')}" for e in after.open_errors
                                    if e.get("code") not in expected][:SHOWN])
    flat, figures = _flat(soak, window)
    verdict.check("memory and open files flat", flat)
    written = sum(len(f) for f in soak.ledger.writes.values())
    verdict.figures = {**figures, "contacts_local": len(after.local), "contacts_crm": len(after.crm),
                       "fields_checked": written, "lost": len(lost), "disagreeing": len(disagree),
                       "missing": len(missing), "person_decided": len(soak.ledger.person_decided),
                       "expected_errors": sum(e.get("code") in expected for e in after.open_errors)}
    return verdict
