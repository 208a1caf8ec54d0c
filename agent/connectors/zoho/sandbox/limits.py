"""Zoho's API limits ("API Limits" of the Zoho CRM API): credits spent in a rolling 24 hours (a call costs 1,
a lead conversion 5; ``faults.daily_limit`` a day) and a burst allowance of ``faults.requests_per_10s``
requests in any 10 s. The middleware answers 429 ``TOO_MANY_REQUESTS`` past either; refused calls cost
nothing. Stamps are epoch ms from the state's clock; ``faults.credits_window_s`` shortens the 24 hours for
benchmarks and tests.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Final

from .faults import ZohoFaults

DAY_MS: Final = 86_400_000


@dataclass
class Credits:
    """API credits spent in the rolling 24 hours and requests in the last 10 s (epoch ms stamps)."""

    spent: deque[tuple[int, int]] = field(default_factory=deque)
    recent: deque[int] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, now: int, cost: int, faults: ZohoFaults) -> str | None:
        """Spend ``cost`` credits at ``now``; ``"daily"`` or ``"burst"`` when a limit refuses the call."""
        with self.lock:
            while self.spent and self.spent[0][0] <= now - faults.credits_window_s * 1000:
                self.spent.popleft()
            while self.recent and self.recent[0] <= now - 10_000:
                self.recent.popleft()
            if faults.daily_limit is not None and sum(c for _, c in self.spent) + cost > faults.daily_limit:
                return "daily"
            if faults.requests_per_10s is not None and len(self.recent) >= faults.requests_per_10s:
                return "burst"
            self.spent.append((now, cost))
            self.recent.append(now)
            return None

    def used(self, now: int) -> int:
        """Credits spent in the 24 hours before ``now``."""
        with self.lock:
            return sum(c for t, c in self.spent if t > now - DAY_MS)
