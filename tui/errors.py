"""The TUI's one error ladder: every failure a person should see ends here, as a notification.

Workers run with ``exit_on_error=False``; widgets and screens that start them mix in
:class:`ReportsWorkerErrors`, whose one handler turns a failed worker's exception into a readable
notification with :func:`describe`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, cast

from textual.widget import Widget
from textual.worker import Worker, WorkerState

from leadsync.common.errors import RpcCode
from leadsync.common.rpc import AgentUnavailableError, RpcError
from leadsync.tui.connection import MethodUnavailableError

log = logging.getLogger("leadsync.tui")

Severity = Literal["information", "warning", "error"]


@dataclass(frozen=True)
class Problem:
    """What to tell a person: ``title``, ``message`` and how loud (``severity``)."""

    title: str
    message: str
    severity: Severity


def describe(exc: BaseException) -> Problem:
    """The ladder, most specific first: agent gone, method missing, push disabled, refusals, timeouts,
    then anything unexpected (logged with its traceback)."""
    if isinstance(exc, AgentUnavailableError):
        return Problem("Agent unavailable", exc.message, "warning")
    if isinstance(exc, MethodUnavailableError):
        return Problem("Not available", exc.message, "warning")
    if isinstance(exc, RpcError):
        if exc.code == RpcCode.PUSH_DISABLED:
            return Problem("Push is disabled", exc.message, "warning")
        if exc.code == RpcCode.CRM_NOT_CONNECTED:
            return Problem("No CRM connected", exc.message, "warning")
        if exc.code in (RpcCode.VALIDATION, RpcCode.OWNER_READ_ONLY, RpcCode.INVALID_PARAMS):
            return Problem("Refused by the agent", exc.message, "error")
        if exc.code in (RpcCode.CRM_AUTH, RpcCode.CRM_RATE_LIMITED, RpcCode.CRM_UNAVAILABLE, RpcCode.CRM_ERROR):
            return Problem("CRM error", exc.message, "error")
        return Problem("Agent error", f"{exc.message} (code {exc.code})", "error")
    if isinstance(exc, TimeoutError):
        return Problem("No answer", "the agent did not answer in time; it may be busy", "warning")
    log.error("unexpected error in the TUI", exc_info=exc)
    return Problem("Unexpected error", f"{type(exc).__name__}: {exc}", "error")


class ReportsWorkerErrors:
    """Mixin for widgets and screens: a worker that fails ends in one notification. A lost agent is not
    notified: the no-agent screen already says so, once, whatever number of workers noticed."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        error = event.worker.error
        if event.state == WorkerState.ERROR and error is not None and not isinstance(error, AgentUnavailableError):
            notify_problem(cast(Widget, self), error)


def notify_problem(widget: Widget, exc: BaseException) -> Problem:
    """Show ``exc`` as a notification from ``widget``; returns what was shown."""
    problem = describe(exc)
    widget.notify(problem.message, title=problem.title, severity=problem.severity, markup=False)
    return problem
