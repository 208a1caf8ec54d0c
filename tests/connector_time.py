"""A connector's time sources on a sandbox's manual clock, for the connector tests of every CRM."""

from __future__ import annotations

from leadsync.agent.connectors.sandbox.clock import ManualClock

T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z, epoch ms


class ConnectorTime:
    """``sleep`` (s) moves the clock forward instead of waiting; ``monotonic`` (s) and ``now_ms`` (epoch ms)
    read it; ``sleeps`` lists every wait asked for."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(int(seconds * 1000))

    def monotonic(self) -> float:
        return self.clock() / 1000

    def now_ms(self) -> int:
        return self.clock()
