"""Switches for latency, rate limits and injected faults, changeable while the sandbox runs.

Set attributes directly, call :meth:`FaultSwitches.update`, or ``POST /__sandbox/faults`` with a
JSON object of the same names (plus ``fail_next`` entries). Random faults draw from a
``random.Random`` seeded with ``seed``, so a run is reproducible.

Scripted faults answer the next ``times`` matching calls with ``status`` (and ``Retry-After``)
before anything else happens, e.g. case B15: ``faults.fail_next("/crm/v3/objects/contacts/search",
"POST", 429, times=2, retry_after=1)``. Status ``0`` drops the connection instead.
"""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any

DROP_CONNECTION = 0
"""Scripted-fault status meaning: cut the connection instead of answering."""


@dataclass(slots=True)
class ScriptedFault:
    """Answer the next ``times`` calls matching ``route`` and ``method`` with ``status``.

    ``route`` is a glob over the request path (``/crm/v3/objects/contacts/batch/*``) or a route
    template (``/crm/v3/objects/contacts/{contactId}``); ``method`` ``"*"`` matches any method.
    ``retry_after`` (seconds) becomes the ``Retry-After`` header; ``body`` replaces the error body.
    """

    route: str
    method: str = "*"
    status: int = 429
    times: int = 1
    retry_after: float | None = None
    body: dict[str, Any] | None = None

    def matches(self, method: str, path: str, template: str | None) -> bool:
        """True if this fault applies to a ``method`` call on ``path`` (route ``template``)."""
        if self.method not in ("*", method.upper()):
            return False
        return self.route == template or fnmatch.fnmatchcase(path, self.route)


@dataclass
class FaultSwitches:
    """Run-time switches of the sandbox (all off except HubSpot's own rate limits).

    - ``latency_ms``: added before every answer.
    - ``rate_limit_per_10s``: requests per rolling 10 s per token (``None`` = unlimited);
      HubSpot's default is 100 (190 on higher tiers).
    - ``search_rate_limit_per_s``: search requests per second per token (HubSpot: 5).
    - ``daily_limit``: requests per UTC day (``None`` = unlimited).
    - ``error_429_rate`` / ``error_5xx_rate`` / ``drop_connection_rate``: probability per request.
    - ``error_5xx_status``: the status random 5xx faults use (default 503).
    - ``slow_body_ms``: pause between the answer's headers and its body.
    - ``search_lag_s``: seconds before a write becomes visible to search.
    - ``reject_batch_if_any_invalid``: batch endpoints refuse the whole batch with 400 when any
      input is invalid (case B23 b) instead of answering 207 with per-record errors.
    - ``merged_ids_resolve``: reading a merged-away id answers with the surviving contact
      instead of 404.
    - ``oauth_token_lifetime_s``: seconds an access token issued by ``POST /oauth/v1/token`` lives
      (HubSpot: 1800).
    - ``oauth_expires_in_ms``: the token endpoint answers ``expires_in`` in milliseconds beside
      ``expires_in_sec`` in seconds (case B24) instead of HubSpot's ``expires_in`` in seconds.
    - ``seed``: seed of the random faults.
    """

    latency_ms: int = 0
    rate_limit_per_10s: int | None = 190
    search_rate_limit_per_s: int | None = 5
    daily_limit: int | None = 250_000
    error_429_rate: float = 0.0
    error_5xx_rate: float = 0.0
    error_5xx_status: int = 503
    drop_connection_rate: float = 0.0
    slow_body_ms: int = 0
    search_lag_s: float = 0.0
    reject_batch_if_any_invalid: bool = False
    merged_ids_resolve: bool = False
    oauth_token_lifetime_s: int = 1800
    oauth_expires_in_ms: bool = False
    seed: int = 0
    scripted: list[ScriptedFault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def fail_next(
        self,
        route: str,
        method: str = "*",
        status: int = 429,
        times: int = 1,
        retry_after: float | None = None,
        body: dict[str, Any] | None = None,
    ) -> ScriptedFault:
        """Script the next ``times`` matching calls to answer ``status`` (0 = drop the connection)."""
        fault = ScriptedFault(route, method.upper(), status, times, retry_after, body)
        with self._lock:
            self.scripted.append(fault)
        return fault

    def take_scripted(self, method: str, path: str, template: str | None) -> ScriptedFault | None:
        """Consume one use of the first scripted fault matching this call, if any."""
        with self._lock:
            for fault in self.scripted:
                if fault.times > 0 and fault.matches(method, path, template):
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

    def update(self, changes: dict[str, Any]) -> None:
        """Apply ``{switch: value}`` (admin endpoint); ``fail_next`` takes a list of scripted
        faults, ``clear_scripted: true`` forgets them. Raises ``ValueError`` for unknown names or
        wrongly typed values."""
        known = {f.name: f for f in fields(self) if f.name != "scripted"}
        for name, value in changes.items():
            if name == "fail_next":
                entries = value if isinstance(value, list) else [value]
                for entry in entries:
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
    nullable = name in ("rate_limit_per_10s", "search_rate_limit_per_s", "daily_limit")
    if value is None:
        if nullable:
            return None
        raise ValueError(f"'{name}' cannot be null")
    if isinstance(current, bool) or name in ("reject_batch_if_any_invalid", "merged_ids_resolve",
                                             "oauth_expires_in_ms"):
        if not isinstance(value, bool):
            raise ValueError(f"'{name}' must be true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"'{name}' must be a number")
    if name in ("error_429_rate", "error_5xx_rate", "drop_connection_rate", "search_lag_s"):
        return float(value)
    return int(value)
