"""Fault switches every CRM sandbox shares: latency, random and scripted faults, changeable while it runs.

Each sandbox subclasses :class:`FaultSwitches` (a dataclass) to add its own switches and defaults::

    @dataclass
    class ZohoFaults(FaultSwitches):
        daily_limit: int | None = 5_000            # override a shared default
        page_size: int = 200                       # a switch of its own
        default_fault_status: ClassVar[int] = 503  # what ``fail_next`` answers without a status

Set attributes directly, call :meth:`FaultSwitches.update` (the admin endpoint ``POST /__sandbox/faults``
does) with a JSON object of the same names (plus ``fail_next`` entries and ``clear_scripted``). Values
are checked against the field's annotation: ``bool``, ``int``, ``float``, ``X | None`` (may be null);
other types need :meth:`FaultSwitches.coerce_other`. Random faults draw from a ``random.Random`` seeded
with ``seed``, so a run is reproducible.

Scripted faults answer the next ``times`` matching calls with ``status`` (and ``Retry-After``) before
anything else happens, e.g. ``faults.fail_next("/crm/v3/objects/contacts/search", "POST", 429, times=2,
retry_after=1)``. Status ``0`` (:data:`DROP_CONNECTION`) drops the connection instead.
"""

from __future__ import annotations

import fnmatch
import random
import threading
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

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
    body: Any = None

    def matches(self, method: str, path: str, template: str | None = None) -> bool:
        """True if this fault applies to a ``method`` call on ``path`` (route ``template``, if known)."""
        if self.method not in ("*", method.upper()):
            return False
        return (template is not None and self.route == template) or fnmatch.fnmatchcase(path, self.route)


@dataclass
class FaultSwitches:
    """Run-time switches every sandbox has (subclass to add more):

    - ``latency_ms``: added before every answer.
    - ``daily_limit``: the CRM's daily request quota (``None`` = unlimited); each sandbox sets its default.
    - ``error_429_rate`` / ``error_5xx_rate`` / ``drop_connection_rate``: probability per request.
    - ``error_5xx_status``: the status random 5xx faults use (default 503).
    - ``oauth_expires_in_ms``: the token endpoint answers ``expires_in`` in milliseconds beside
      ``expires_in_sec`` in seconds (case B24's unit trap).
    - ``seed``: seed of the random faults.
    """

    default_fault_status: ClassVar[int] = 429
    """The status :meth:`fail_next` scripts when none is given."""

    latency_ms: int = 0
    daily_limit: int | None = None
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

    def fail_next(self, route: str, method: str = "*", status: int | None = None, times: int = 1,
                  retry_after: float | None = None, body: Any = None) -> ScriptedFault:
        """Script the next ``times`` matching calls to answer ``status`` (0 = drop the connection;
        default :attr:`default_fault_status`)."""
        status = self.default_fault_status if status is None else status
        fault = ScriptedFault(route, method.upper(), status, times, retry_after, body)
        with self._lock:
            self.scripted.append(fault)
        return fault

    def take_scripted(self, method: str, path: str, template: str | None = None) -> ScriptedFault | None:
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
        """Apply ``{switch: value}`` (admin endpoint); ``fail_next`` takes a list of scripted faults,
        ``clear_scripted: true`` forgets them. Raises ``ValueError`` for unknown names or wrongly typed
        values."""
        kinds = _kinds(type(self))
        for name, value in changes.items():
            if name == "fail_next":
                for entry in value if isinstance(value, list) else [value]:
                    if not isinstance(entry, dict) or "route" not in entry:
                        raise ValueError("fail_next entries need at least a 'route'")
                    self.fail_next(**entry)
            elif name == "clear_scripted":
                if value:
                    self.clear_scripted()
            elif name in kinds:
                setattr(self, name, self._coerce(name, value, *kinds[name]))
                if name == "seed":
                    self._rng = random.Random(self.seed)
            else:
                raise ValueError(f"unknown fault switch '{name}'")

    def coerce_other(self, name: str, value: Any) -> Any:
        """Check a non-null ``value`` for a switch whose type is not bool, int or float; override for
        such switches (raise ``ValueError`` when it is wrong)."""
        raise ValueError(f"'{name}' cannot be set")

    def to_dict(self) -> dict[str, Any]:
        """Current switches (and pending scripted faults) as JSON-ready data."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "scripted"}
        with self._lock:
            data["scripted"] = [asdict(fault) for fault in self.scripted]
        return data

    def _coerce(self, name: str, value: Any, kind: type | None, nullable: bool) -> Any:
        if value is None:
            if nullable:
                return None
            raise ValueError(f"'{name}' cannot be null")
        if kind is None:
            return self.coerce_other(name, value)
        if kind is bool:
            if not isinstance(value, bool):
                raise ValueError(f"'{name}' must be true or false")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"'{name}' must be a number")
        return float(value) if kind is float else int(value)


_KINDS: dict[type, dict[str, tuple[type | None, bool]]] = {}


def _kinds(cls: type[FaultSwitches]) -> dict[str, tuple[type | None, bool]]:
    """``{switch: (bool | int | float | None for other types, nullable)}`` from the annotations."""
    if cls in _KINDS:
        return _KINDS[cls]
    hints = typing.get_type_hints(cls)
    kinds: dict[str, tuple[type | None, bool]] = {}
    for f in fields(cls):
        if f.name == "scripted":
            continue
        hint = hints[f.name]
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        nullable = type(None) in args
        simple = [a for a in args if a is not type(None)]
        kind = simple[0] if len(simple) == 1 and simple[0] in (bool, int, float) else None
        kinds[f.name] = (kind, nullable)
    _KINDS[cls] = kinds
    return kinds
