"""The small named messages the TUI's workers post.

The connection watcher (:mod:`leadsync.tui.connection`) turns the agent's state and its event
notifications into these; view workers post the results of their calls. Each message carries only
what its handler needs. :class:`SyncProgress` coalesces: when several wait in a queue only the
newest is handled, so a flood of progress events cannot lag the UI.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from leadsync.common.models import ContactPage, SyncRun


class AgentConnected(Message):
    """The watcher reached the agent and subscribed to its events.

    ``status``: the ``agent.status`` answer (version, pid, crm, contacts...);
    ``methods``: the names ``agent.methods`` lists.
    """

    def __init__(self, status: dict[str, Any], methods: frozenset[str]) -> None:
        super().__init__()
        self.status = status
        self.methods = methods


class AgentLost(Message):
    """No agent answers on the socket (at start, or after it went away). ``reason`` is for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class RetryNow(Message):
    """Asks the watcher to try the socket now instead of waiting for the next attempt."""


class SyncStarted(Message):
    """A sync run started (event ``run_started``); ``trigger`` is manual, interval, threshold or todo."""

    def __init__(self, run_id: int, trigger: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.trigger = trigger


class SyncProgress(Message):
    """Progress of a sync (event ``progress``): ``phase`` pull, push or ``search_index`` (the bulk build that
    goes on after a first full pull's run has ended), ``done`` records so far, ``total`` when the agent knows it
    (None: unknown), ``run_id`` the run's. Coalesces with the next SyncProgress of the same run and phase."""

    def __init__(self, phase: str, done: int, total: int | None = None, object_type: str | None = None,
                 run_id: int | None = None) -> None:
        super().__init__()
        self.phase = phase
        self.done = done
        self.total = total
        self.object_type = object_type
        self.run_id = run_id

    @property
    def complete(self) -> bool:
        """Whether ``done`` has reached a known ``total``."""
        return self.total is not None and self.done >= self.total

    def after_its_run(self, running: int | None) -> bool:
        """Whether this is the search index's build after its run has ended (``running``: the run on now)."""
        return self.phase == "search_index" and self.run_id != running

    def can_replace(self, message: Message) -> bool:
        # Textual drops the queued ``message`` for this one: only the same run's same phase (a build's last
        # event must not be lost to the next run's first).
        return isinstance(message, SyncProgress) and (message.run_id, message.phase) == (self.run_id, self.phase)


class SyncFinished(Message):
    """A sync run ended (event ``run_finished``) with its counts."""

    def __init__(self, run: SyncRun) -> None:
        super().__init__()
        self.run = run


class ContactChanged(Message):
    """A contact was created or changed through the agent (event ``contact_changed``)."""

    def __init__(self, contact_id: int, change: str) -> None:
        super().__init__()
        self.contact_id = contact_id
        self.change = change


class ContactsImported(Message):
    """A CSV import went through (event ``contacts_imported``): how many were created and updated."""

    def __init__(self, created: int, updated: int) -> None:
        super().__init__()
        self.created = created
        self.updated = updated


class SettingsChanged(Message):
    """Settings were changed (event ``settings_changed``), by this TUI or anyone else."""

    def __init__(self, changes: dict[str, Any]) -> None:
        super().__init__()
        self.changes = changes


class OpenContact(Message):
    """The user chose a contact to open (from the contact list, an error, a search result)."""

    def __init__(self, contact_id: int) -> None:
        super().__init__()
        self.contact_id = contact_id


class ContactsPageLoaded(Message, bubble=False):
    """A page of ``contacts.list`` arrived for query ``generation``; ``first`` replaces the table."""

    def __init__(self, generation: int, page: ContactPage, *, first: bool) -> None:
        super().__init__()
        self.generation = generation
        self.page = page
        self.first = first
