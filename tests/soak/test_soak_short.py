"""The soak's short version in the default test run (``make soak`` is the long one): each CRM's simulated week
in ``SHORT_MINUTES`` of wall time on a small sandbox, every invariant checked. The seed is random unless
``LEADSYNC_SOAK_SEED`` is set, and is in the failure message: ``python -m tests.soak --crm CRM --seed S
--minutes M --contacts N`` replays it."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.crm_worlds import CRMS
from tests.soak.__main__ import report
from tests.soak.runner import Options, run_soak

SHORT_MINUTES = 0.2
SHORT_CONTACTS = 200
WITHOUT: dict[str, frozenset[str]] = {}
"""Operations a CRM's short soak leaves out (``--without``), e.g. while a known issue waits for its fix."""


@pytest.mark.slow  # ~17 s per CRM: a 12 s week, set-up and the quiet sync
@pytest.mark.parametrize("crm", CRMS)
async def test_a_short_soak_keeps_every_invariant(crm: str, short_tmp: Path) -> None:
    seed = int(os.environ.get("LEADSYNC_SOAK_SEED") or random.randrange(1, 1_000_000))
    without = WITHOUT.get(crm, frozenset())
    result = await run_soak(Options(crm, SHORT_MINUTES, seed, SHORT_CONTACTS, without), short_tmp)
    replay = (f"replay: python -m tests.soak --crm {crm} --seed {seed} --minutes {SHORT_MINUTES} "
              f"--contacts {SHORT_CONTACTS}" + "".join(f" --without {op}" for op in sorted(without)))
    assert result.verdict.ok, f"{replay}\n{report(result)}"
    done = result.done
    assert done["sync"] >= 5 and done["local edit"] > 0 and done["CRM edit"] > 0, report(result)
    # the week's edits were checked field by field (how many edits fit in 12 s depends on the machine's load)
    assert result.verdict.figures["fields_checked"] > 0, report(result)
