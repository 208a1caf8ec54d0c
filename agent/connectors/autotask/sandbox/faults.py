"""Autotask's fault switches: the shared ones (:mod:`leadsync.agent.connectors.sandbox.faults`) plus the
request threshold and the query page size.

E.g. ``faults.fail_next("/atservicesrest/V1.0/Contacts/query/next", "POST", 503, times=10)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from leadsync.agent.connectors.sandbox.faults import DROP_CONNECTION, ScriptedFault
from leadsync.agent.connectors.sandbox.faults import FaultSwitches as SharedFaultSwitches

__all__ = ["DROP_CONNECTION", "FaultSwitches", "ScriptedFault"]


@dataclass
class FaultSwitches(SharedFaultSwitches):
    """Run-time switches of the sandbox; the shared ones (latency, random faults, ``seed``) are described
    in :mod:`leadsync.agent.connectors.sandbox.faults`.

    - ``hourly_threshold``: API requests per rolling 60 minutes for the database (Autotask: 10,000;
      ``None`` = unlimited); past it every API call answers 429 with ``Retry-After``.
    - ``threshold_window_s``: the length of that rolling window (Autotask: 3,600 s; shorter only to measure a
      client at the threshold in a benchmark or test); ``GET /V1.0/ThresholdInformation`` reports it in whole
      minutes as ``requestThresholdTimeframe`` (0 under a minute).
    - ``page_size``: the most items a query page holds (Autotask: 500; ``MaxRecords`` may ask for fewer).
    - ``unique_contact_email``: a contact create or update whose email (``emailAddress``, ``emailAddress2``
      or ``emailAddress3``) is one of another active contact's is refused (500, ``DUPLICATE_EMAIL_MESSAGE``
      of :mod:`.state`: the message names the address, not the contact).
    """

    default_fault_status: ClassVar[int] = 503

    hourly_threshold: int | None = 10_000
    threshold_window_s: int = 3_600
    page_size: int = 500
    unique_contact_email: bool = False
