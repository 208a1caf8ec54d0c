"""The Settings tab: the CRM connection, the sync settings form and the field mapping panel.

The form checks what it can before sending (the sync interval must be 10 minutes to 24 hours, the
interest-level threshold a whole number of 0 or more) and sends only what changed; if the agent still
refuses, its message is shown on the form. Enter moves to the next field; ctrl+s (or Save) sends. Turning
push off is sent as soon as the switch flips; turning it on, or lowering the threshold, first shows what it
would write and asks (:mod:`leadsync.tui.settings_confirm`).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import msgspec
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Label, Select, Static, Switch

from leadsync.common.models import CrmStatus
from leadsync.common.rpc import RpcError
from leadsync.tui import formatting
from leadsync.tui.connection import AgentLink
from leadsync.tui.errors import ReportsWorkerErrors, notify_problem
from leadsync.tui.formatting import MISSING, format_interval
from leadsync.tui.mappings_view import MappingsPanel
from leadsync.tui.records import key_values
from leadsync.tui.settings_confirm import ConfirmWritesScreen, risky_changes

INTERVAL_MIN, INTERVAL_MAX = 10, 1440  # minutes: 10 minutes to 24 hours (the agent's allowed range)
_INTERVAL = re.compile(r"^\s*(\d+)\s*(m|min|mins|minutes?|h|hrs?|hours?|d|days?)?\s*$", re.IGNORECASE)


class SettingsAnswer(msgspec.Struct, kw_only=True):
    """The shape of ``settings.get`` / ``settings.update`` (unknown keys are ignored)."""

    sync_interval_minutes: int
    push_enabled: bool
    score_threshold: int | None = None
    fallback_owner: str | None = None


class FormError(ValueError):
    """A value the form refuses before sending anything; the message is for a person."""


def parse_interval(text: str) -> int:
    """Minutes from ``90``, ``90m``, ``2h`` or ``1d``; raises FormError outside 10 minutes to 24 hours."""
    match = _INTERVAL.match(text)
    if not match:
        raise FormError(f"Sync interval: {text.strip()!r} is not a duration; write minutes (90) or hours (2h)")
    number, unit = int(match.group(1)), (match.group(2) or "m").lower()
    minutes = number * (1440 if unit.startswith("d") else 60 if unit.startswith("h") else 1)
    if not INTERVAL_MIN <= minutes <= INTERVAL_MAX:
        raise FormError(f"Sync interval: {format_interval(minutes)} is out of range; allowed "
                        f"{INTERVAL_MIN} minutes to 24 hours")
    return minutes


def parse_threshold(text: str) -> int | None:
    """The interest-level threshold: None (off) for an empty field, else a whole number >= 0."""
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise FormError("Interest level threshold: a whole number of 0 or more, or empty for off")
    return int(text)


def settings_changes(current: SettingsAnswer, interval: int, threshold: int | None,
                     fallback: str | None) -> dict[str, Any]:
    """The ``settings.update`` params for what differs from ``current`` (``clear`` for emptied values)."""
    changes: dict[str, Any] = {}
    clear: list[str] = []
    if interval != current.sync_interval_minutes:
        changes["sync_interval_minutes"] = interval
    if threshold != current.score_threshold:
        if threshold is None:
            clear.append("score_threshold")
        else:
            changes["score_threshold"] = threshold
    if fallback != current.fallback_owner:
        if fallback is None:
            clear.append("fallback_owner")
        else:
            changes["fallback_owner"] = fallback
    if clear:
        changes["clear"] = clear
    return changes


def crm_status_text(status: CrmStatus) -> Any:
    if not status.connected:
        return Text("No CRM is connected. Connect one with: leadsync call crm.connect "
                    "'{\"crm\": \"hubspot\", \"credentials\": {\"token\": \"…\"}}'")
    return key_values([
        ("CRM", status.crm), ("URL", status.base_url), ("connected as", status.user_email),
        ("admin", Text("yes") if status.is_admin else Text("NO — sees only this user's records", style="bold")),
        ("status", status.status or "ok"), ("connected", formatting.format_time(status.connected_at)),
    ])


class SettingsView(ReportsWorkerErrors, VerticalScroll):
    """CRM connection, sync settings and field mapping."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save settings"),
        Binding("c", "check_mappings", "Check mapped fields"),
    ]

    class Loaded(Message, bubble=False):
        def __init__(self, settings: SettingsAnswer, crm: CrmStatus) -> None:
            super().__init__()
            self.settings = settings
            self.crm = crm

    def __init__(self, link: AgentLink, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.link = link
        self.settings: SettingsAnswer | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="crm-box", classes="settings-box"):
            yield Static("Waiting for the agent…", id="crm-status", markup=False)
            yield Static("", id="crm-warning", markup=False)
        with Vertical(id="settings-form", classes="settings-box"):
            with Horizontal(classes="form-row"):
                yield Label("Sync interval", classes="form-label")
                yield Input(id="interval", placeholder="minutes, or 2h", compact=True)
                yield Static("10 min to 24 h: 45, 90m, 2h", classes="form-hint")
            with Horizontal(classes="form-row"):
                yield Label("Push to the CRM", classes="form-label")
                yield Switch(value=True, id="push-enabled")
                yield Static("", id="push-state", classes="form-hint", markup=False)
            with Horizontal(classes="form-row"):
                yield Label("Interest level threshold", classes="form-label")
                yield Input(id="threshold", placeholder="off", compact=True)
                yield Static("push at once at this score", classes="form-hint")
            with Horizontal(classes="form-row"):
                yield Label("Fallback owner", classes="form-label")
                yield Select[str]([], prompt="none", id="fallback-owner", compact=True)
                yield Static("when the creator has none", classes="form-hint")
            with Horizontal(classes="form-row"):
                yield Button("Save", id="settings-save", variant="primary", compact=True)
                yield Button("Revert", id="settings-revert", compact=True)
            yield Static("", id="settings-message", markup=False)
        yield MappingsPanel(self.link, id="mappings-box", classes="settings-box")

    def on_mount(self) -> None:
        self.query_one("#crm-box").border_title = "CRM connection"
        self.query_one("#settings-form").border_title = "Sync settings"
        self.query_one("#settings-message").display = False

    def agent_ready(self) -> None:
        self.load()

    @work(group="settings-load", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        settings = await self.link.fetch("settings.get", None, SettingsAnswer)
        crm = await self.link.fetch("crm.status", None, CrmStatus)
        self.post_message(self.Loaded(settings, crm))
        self.query_one(MappingsPanel).load()

    def on_settings_view_loaded(self, message: Loaded) -> None:
        self.query_one("#crm-status", Static).update(crm_status_text(message.crm))
        warning = self.query_one("#crm-warning", Static)
        warning.update(f"⚠ {message.crm.warning}" if message.crm.warning else "")
        warning.display = bool(message.crm.warning)
        self.show_settings(message.settings, force=True)

    def show_settings(self, settings: SettingsAnswer, *, force: bool = False) -> None:
        """Show ``settings``; a field the user is editing keeps their text unless ``force``."""
        old = self.settings
        self.settings = settings
        interval = self.query_one("#interval", Input)
        if force or old is None or interval.value == str(old.sync_interval_minutes):
            interval.value = str(settings.sync_interval_minutes)
        threshold = self.query_one("#threshold", Input)
        old_threshold = "" if old is None or old.score_threshold is None else str(old.score_threshold)
        if force or threshold.value == old_threshold:
            threshold.value = "" if settings.score_threshold is None else str(settings.score_threshold)
        self.directory_changed()
        switch = self.query_one("#push-enabled", Switch)
        with switch.prevent(Switch.Changed):
            switch.value = settings.push_enabled
        self._show_push_state(settings.push_enabled)

    def directory_changed(self) -> None:
        """Offer the current CRM owners as fallback owner, keeping the chosen one (even if unknown)."""
        owners: Select[str] = self.query_one("#fallback-owner", Select)
        chosen = owners.value if isinstance(owners.value, str) else None
        current = chosen or (self.settings.fallback_owner if self.settings else None)
        options = self.link.directory.owner_options()
        if current and current not in {v for _, v in options}:
            options.append((f"#{current} (not in the owner list)", current))
        with owners.prevent(Select.Changed):
            owners.set_options(options)
            if current:
                owners.value = current

    def _show_push_state(self, enabled: bool) -> None:
        state = self.query_one("#push-state", Static)
        state.update("on: contacts are sent to the CRM" if enabled
                     else "OFF: nothing is sent to the CRM (pulling still runs)")
        state.set_class(not enabled, "push-disabled")

    def settings_changed(self) -> None:
        """Someone changed settings (event): show the agent's values."""
        self.load_settings_only()

    @work(group="settings-reload", exclusive=True, exit_on_error=False)
    async def load_settings_only(self) -> None:
        self.show_settings(await self.link.fetch("settings.get", None, SettingsAnswer))

    # --- the form ------------------------------------------------------------------------------

    def _message(self, text: str, *, error: bool = False) -> None:
        message = self.query_one("#settings-message", Static)
        message.update(text)
        message.set_class(error, "form-error")
        message.display = bool(text)

    @on(Input.Submitted, "#interval, #threshold")
    def _next_field(self, event: Input.Submitted) -> None:
        event.stop()
        self.screen.focus_next()  # Enter never saves: ctrl+s or the Save button does

    @on(Button.Pressed, "#settings-save")
    def action_save(self) -> None:
        if self.settings is None:
            return
        try:
            interval = parse_interval(self.query_one("#interval", Input).value)
            threshold = parse_threshold(self.query_one("#threshold", Input).value)
        except FormError as exc:
            self._message(str(exc), error=True)
            return
        owner = self.query_one("#fallback-owner", Select).value
        changes = settings_changes(self.settings, interval, threshold, owner if isinstance(owner, str) else None)
        if not changes:
            self._message("Nothing to save: these are the current settings.")
            return
        self.confirm_and_send(changes)

    @on(Button.Pressed, "#settings-revert")
    def _revert(self) -> None:
        if self.settings is not None:
            self.show_settings(self.settings, force=True)
            self._message("")

    @on(Switch.Changed, "#push-enabled")
    def _push_switched(self, event: Switch.Changed) -> None:
        self._show_push_state(event.value)
        if self.settings is not None and event.value != self.settings.push_enabled:
            self.confirm_and_send({"push_enabled": event.value})

    @work(group="settings-confirm", exclusive=True, exit_on_error=False)
    async def confirm_and_send(self, changes: dict[str, Any]) -> None:
        """Send ``changes``; one that can push contacts (push on, a lower threshold) is confirmed first."""
        current = self.settings
        if current is None:
            return
        risky = risky_changes(current.push_enabled, current.score_threshold, changes)
        if risky:
            threshold = "lower the threshold" if current.score_threshold is not None else "set a threshold"
            title = "Turn push on?" if risky == ["push"] else f"{threshold.capitalize()}?" \
                if risky == ["threshold"] else f"Turn push on and {threshold}?"
            new = changes.get("score_threshold")
            confirmed = await self.app.push_screen_wait(ConfirmWritesScreen(
                self.link, title, risky, current.score_threshold, new if isinstance(new, int) else None))
            if not confirmed:
                self._restore_switch(current.push_enabled)
                self._message("Not saved: nothing was changed.")
                return
        self.send_update(changes)

    def _restore_switch(self, enabled: bool) -> None:
        switch = self.query_one("#push-enabled", Switch)
        with switch.prevent(Switch.Changed):
            switch.value = enabled
        self._show_push_state(enabled)

    @work(group="settings-save", exclusive=False, exit_on_error=False)
    async def send_update(self, changes: dict[str, Any]) -> None:
        """``settings.update``; the agent's refusal is shown on the form and in a notification."""
        try:
            settings = await self.link.fetch("settings.update", changes, SettingsAnswer)
        except RpcError as exc:
            problem = notify_problem(self, exc)
            self._message(problem.message, error=True)
            if self.settings is not None:
                self._restore_switch(self.settings.push_enabled)
            return
        self.show_settings(settings, force=True)
        saved = ", ".join(_describe_change(k, v) for k, v in changes.items())
        self._message(f"Saved: {saved}")
        if "push_enabled" in changes:
            self.notify("Push enabled: contacts are sent to the CRM" if settings.push_enabled
                        else "Push disabled: nothing is sent to the CRM", title="Push",
                        severity="information" if settings.push_enabled else "warning")

    def action_check_mappings(self) -> None:
        self.query_one(MappingsPanel).check()


def _describe_change(key: str, value: Any) -> str:
    if key == "sync_interval_minutes":
        return f"sync interval {format_interval(int(value))}"
    if key == "push_enabled":
        return "push " + ("on" if value else "off")
    if key == "score_threshold":
        return f"threshold {value}"
    if key == "fallback_owner":
        return f"fallback owner {value}"
    if key == "clear":
        return "cleared " + ", ".join(str(v).replace("_", " ") for v in value)
    return f"{key} {value if value is not None else MISSING}"
