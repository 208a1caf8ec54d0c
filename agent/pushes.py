"""Pushes asked for outside the interval: manual (``contacts.push``), threshold (a lead score reaching
``score_threshold``), to-do (the assignee written as owner) and deletes in the CRM, with the rules that
refuse or defer them (``push_enabled``, ``crm_delete_enabled``, archived and merged contacts).
"""

from __future__ import annotations

import logging

import msgspec

from leadsync.agent.contacts import get_contact
from leadsync.agent.runtime import Runtime
from leadsync.agent.store.queries import contacts as contact_rows
from leadsync.agent.store.queries import sync_errors
from leadsync.agent.users import find_user
from leadsync.common.errors import CrmError, PushDisabledError, ValidationError
from leadsync.common.models import Contact, SyncRun

log = logging.getLogger("leadsync.agent")
MAX_MANUAL_PUSH = 10_000


async def push_contacts(agent: Runtime, contact_ids: list[int], *, wait: bool) -> SyncRun:
    """Push these contacts now (trigger ``manual``), retrying their open errors even if unchanged.

    Raises ValidationError for no ids, more than ``MAX_MANUAL_PUSH``, or a contact archived or merged in the
    CRM (never pushed: ``contacts.restore`` re-creates an archived one); NotFoundError for an unknown id;
    CrmNotConnectedError, PushDisabledError from the sync queue."""
    if not contact_ids:
        raise ValidationError("ids: give at least one contact id")
    if len(contact_ids) > MAX_MANUAL_PUSH:
        raise ValidationError("ids: at most 10000 contacts per call")
    for contact_id in contact_ids:
        contact = await get_contact(agent.store, contact_id)
        if contact.crm_state in ("archived", "merged"):
            raise ValidationError(f"contact {contact_id} is {contact.crm_state} in the CRM and is not pushed"
                                  + ("; contacts.restore re-creates it" if contact.crm_state == "archived"
                                     else "; its CRM record was merged into another contact's"))
    async with agent.store.transaction() as db:
        await contact_rows.want_push(db, contact_ids)
        await sync_errors.retry_contacts(db, contact_ids)  # a push on request retries records whose last attempt failed
    return await agent.request_sync("manual", wait=wait, pull=False, contact_ids=contact_ids)


def reaches_threshold(threshold: int | None, old: int | None, new: int | None) -> bool:
    """Whether a lead score going from ``old`` to ``new`` reaches ``threshold`` from below (None: no
    threshold, or no score)."""
    if threshold is None or new is None or new < threshold:
        return False
    return old is None or old < threshold


async def score_changed(agent: Runtime, contact_id: int, old: int | None, new: int | None) -> bool:
    """Push a contact at once (trigger ``threshold``) when its lead score reaches the threshold from below
    and a CRM is connected; with push disabled it is only marked to push. An unchanged score never pushes.
    Returns True when a push was queued.

    The one rule of the third push trigger, called by every path that sets a local lead score:
    ``contacts.create`` (the API and forms: ``old`` None), ``contacts.update``, ``contacts.score``,
    ``contacts.import`` (rows created and updated) and ``conflicts.resolve``. A pull does not call it: a
    pulled score is the CRM's already."""
    if agent.connector is None or not reaches_threshold(agent.settings.threshold_score(), old, new):
        return False
    async with agent.store.transaction() as db:
        await contact_rows.want_push(db, [contact_id])
    if not agent.settings.push_enabled:
        log.info("contact %s reached the threshold; push is disabled, so it waits", contact_id)
        return False
    await agent.request_sync("threshold", wait=False, pull=False, contact_ids=[contact_id])
    return True


class OwnerPush(msgspec.Struct, kw_only=True):
    """The outcome of pushing a to-do's owner: the run (None when not pushed now), whether the CRM now has
    the assignee as owner, and why it waits (``note``) when it does."""

    run: SyncRun | None = None
    pushed: bool = False
    note: str | None = None


async def push_todo_owner(agent: Runtime, contact_id: int, assignee: int | str) -> OwnerPush:
    """Push the contact of a new to-do (trigger ``todo``) and wait, so the assignee becomes its CRM owner.
    Without a CRM, or with push disabled, the owner is written later and ``note`` says when."""
    if agent.connector is None:
        return OwnerPush(note="no CRM connected: the owner is written at the first sync after crm.connect")
    if not agent.settings.push_enabled:
        return OwnerPush(note="push is disabled: the owner is written to the CRM once push is enabled")
    run = await agent.request_sync("todo", wait=True, pull=False, contact_ids=[contact_id])
    contact = await get_contact(agent.store, contact_id)
    return OwnerPush(run=run, pushed=contact.owner_id == (await find_user(agent.store, assignee)).crm_owner_id)


async def delete_in_crm(agent: Runtime, contact: Contact) -> bool:
    """Archive (delete) a contact's CRM record before it is deleted locally. Returns True when a record
    was archived (False when the contact is not linked to one).

    Raises ValidationError when ``crm_delete_enabled`` is off, PushDisabledError when push is disabled,
    CrmNotConnectedError, and CrmError when the CRM refuses."""
    if not agent.settings.crm_delete_enabled:
        raise ValidationError("also_in_crm: deleting in the CRM is off (settings crm_delete_enabled=false)")
    if not agent.settings.push_enabled:
        raise PushDisabledError("push is disabled (settings push_enabled=false): nothing was deleted")
    if contact.crm_id is None or contact.crm_state != "linked":
        return False
    connector = agent.require_connector()
    [result] = await connector.archive(connector.capabilities.new_lead_object, [contact.crm_id])
    if not result.ok:
        raise CrmError(f"the CRM refused to delete record {contact.crm_id}: {result.error}", crm=connector.name)
    return True
