"""The sandbox clock: every timestamp the sandbox writes comes from ``SandboxState.clock`` (epoch ms, UTC);
tests inject :class:`ManualClock` to control time exactly."""

from leadsync.agent.connectors.sandbox_kit import ManualClock

__all__ = ["ManualClock"]
