"""Switches for latency, paging, limits and injected faults, changeable while the sandbox runs.

Set attributes directly, call :meth:`FaultSwitches.update`, or ``POST /__sandbox/faults`` with a JSON
object of the same names (plus ``fail_next`` entries). Random faults draw from a ``random.Random``
seeded with ``seed``, so a run is reproducible.

Scripted faults answer the next ``times`` matching calls with ``status`` (and ``Retry-After``) before
anything else happens, e.g. ``faults.fail_next("/services/data/*/composite/sobjects", "POST", 503)``.
Status ``0`` drops the connection instead.
"""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any

DROP_CONNECTION = 0
_NULLABLE = frozenset({"daily_limit", "query_page_sizes"})
_RATES = frozenset({"error_429_rate", "error_5xx_rate", "drop_connection_rate"})


@dataclass(slots=True)
class ScriptedFault:
    """Answer the next ``times`` calls whose path matches the glob ``route`` (and ``method``, ``"*"`` for
    any) with ``status``; ``retry_after`` seconds become ``Retry-After``; ``body`` replaces the error body."""

    route: str
    method: str = "*"
    status: int = 503
    times: int = 1
    retry_after: float | None = None
    body: Any = None

    def matches(self, method: str, path: str) -> bool:
        """True if this fault applies to a ``method`` call on ``path``."""
        return self.method in ("*", method.upper()) and fnmatch.fnmatchcase(path, self.route)


@dataclass
class FaultSwitches:
    """Run-time switches of the sandbox (all off by default).

    - ``latency_ms``: added before every answer.
    - ``daily_limit``: API requests per rolling 24 hours (Salesforce's "Total API Request Allocation";
      ``None`` = unlimited); past it every API call answers 403 ``REQUEST_LIMIT_EXCEEDED``.
    - ``query_page_size``: rows per query page (Salesforce: 2,000 by default; a ``Sforce-Query-Options:
      batchSize=N`` header asks for 200..2,000).
    - ``query_page_sizes``: explicit sizes of successive pages (the last repeats), e.g. ``[1000, 1000]``;
      wins over ``query_page_size``.
    - ``drop_next_records_url``: pages that are not the last say ``done: false`` but carry no
      ``nextRecordsUrl`` (case B03's broken answer).
    - ``error_429_rate`` / ``error_5xx_rate`` / ``drop_connection_rate``: probability per request.
    - ``error_5xx_status``: the status random 5xx faults use (default 503).
    - ``oauth_expires_in_ms``: the token answer adds ``expires_in`` in milliseconds and ``expires_in_sec``
      (case B24's unit trap; Salesforce itself sends neither).
    - ``seed``: seed of the random faults.
    """

    latency_ms: int = 0
    daily_limit: int | None = 100_000
    query_page_size: int = 2000
    query_page_sizes: list[int] | None = None
    drop_next_records_url: bool = False
    error_429_rate: float = 0.0
    error_5xx_rate: float = 0.0
    error_5xx_status: int = 503
    drop_connection_rate: float = 0.0
    oauth_expires_in_ms: bool = False
    seed: int = 0
    scripted: list[ScriptedFault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def fail_next(self, route: str, method: str = "*", status: int = 503, times: int = 1,
                  retry_after: float | None = None, body: Any = None) -> ScriptedFault:
        """Script the next ``times`` matching calls to answer ``status`` (0 = drop the connection)."""
        fault = ScriptedFault(route, method.upper(), status, times, retry_after, body)
        with self._lock:
            self.scripted.append(fault)
        return fault

    def take_scripted(self, method: str, path: str) -> ScriptedFault | None:
        """Consume one use of the first scripted fault matching this call, if any."""
        with self._lock:
            for fault in self.scripted:
                if fault.times > 0 and fault.matches(method, path):
                    fault.times -= 1
                    if fault.times == 0:
                        self.scripted.remove(fault)
                    return fault
        return None

    def clear_scripted(self) -> None:
        """Forget every scripted fault."""
        with self._lock:
            self.scripted.clear()

    def roll(self, rate: float) -> bool:
        """Draw once from the seeded generator: True with probability ``rate``."""
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def page_sizes(self, requested: int | None) -> list[int]:
        """Sizes of successive query pages: the scripted sizes, else the header's batch size (200..2,000),
        else ``query_page_size``."""
        if self.query_page_sizes:
            return list(self.query_page_sizes)
        if requested is not None:
            return [min(max(requested, 200), 2000)]
        return [self.query_page_size]

    def update(self, changes: dict[str, Any]) -> None:
        """Apply ``{switch: value}`` (admin endpoint); ``fail_next`` takes a list of scripted faults,
        ``clear_scripted: true`` forgets them. Raises ValueError for unknown names or wrong types."""
        known = {f.name for f in fields(self) if f.name != "scripted"}
        for name, value in changes.items():
            if name == "fail_next":
                for entry in value if isinstance(value, list) else [value]:
                    if not isinstance(entry, dict) or "route" not in entry:
                        raise ValueError("fail_next entries need at least a 'route'")
                    self.fail_next(**entry)
            elif name == "clear_scripted":
                if value:
                    self.clear_scripted()
            elif name in known:
                setattr(self, name, _coerce(name, value, getattr(self, name)))
                if name == "seed":
                    self._rng = random.Random(self.seed)
            else:
                raise ValueError(f"unknown fault switch '{name}'")

    def to_dict(self) -> dict[str, Any]:
        """Current switches (and pending scripted faults) as JSON-ready data."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "scripted"}
        with self._lock:
            data["scripted"] = [asdict(fault) for fault in self.scripted]
        return data


def _coerce(name: str, value: Any, current: Any) -> Any:
    if value is None:
        if name in _NULLABLE:
            return None
        raise ValueError(f"'{name}' cannot be null")
    if name == "query_page_sizes":
        if not isinstance(value, list) or not value or not all(isinstance(v, int) and v > 0 for v in value):
            raise ValueError("'query_page_sizes' must be a list of positive whole numbers")
        return list(value)
    if isinstance(current, bool) or name in ("drop_next_records_url", "oauth_expires_in_ms"):
        if not isinstance(value, bool):
            raise ValueError(f"'{name}' must be true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"'{name}' must be a number")
    return float(value) if name in _RATES else int(value)
