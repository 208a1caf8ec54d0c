"""The agent's JSON-RPC methods: each one a params Struct (validated by msgspec) and a handler.

Names follow ``../shared/docs/architecture.md`` ("Interface names others rely on"). Handlers raise
:mod:`leadsync.common.errors` types, which the server turns into JSON-RPC errors.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

import msgspec

from leadsync.agent import conflicts, contacts, mappings, sharing, smartlists, todos, users
from leadsync.agent.backlog import drain_estimate
from leadsync.agent.connectors.base import Connector
from leadsync.agent.connectors.registry import CRMS
from leadsync.agent.daemon import INTERVAL_JOB, Agent
from leadsync.agent.engine.push import PENDING_SQL
from leadsync.agent.engine.runner import get_run, run_from_row
from leadsync.agent.importing.apply import import_contacts
from leadsync.agent.rpc_server import Method, NoParams, Session
from leadsync.agent.settings import SettingsUpdate, apply_update
from leadsync.agent.store.store import loads, now_ms
from leadsync.common.answers import ContactFilter
from leadsync.common.csvio import ImportRow
from leadsync.common.errors import (
    CrmAlreadyConnectedError,
    CrmAuthError,
    CrmError,
    CrmNotConnectedError,
    NotFoundError,
    PushDisabledError,
    ValidationError,
)
from leadsync.common.models import CrmStatus, SyncError, SyncRun

VERSION = "0.1.0"
PRIVATE_APP_NOTE = ("the CRM does not say which user these credentials belong to (a private-app token): "
                    "they see every record their scopes allow, like an admin")
_STARTED = time.monotonic()


class _P(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of params Structs: unknown params are refused, so a typo is an error, not ignored."""


class UsersCreate(_P):
    email: str
    name: str = ""
    role: str = "user"


class ContactsList(_P):
    filter: ContactFilter = msgspec.field(default_factory=ContactFilter)
    after: int | None = None
    limit: int = 100
    as_user: int | str | None = None
    smart_list: int | None = None


class ContactsGet(_P):
    id: int
    as_user: int | str | None = None
    include: list[Literal["provenance", "conflicts", "owner_history", "errors", "todos"]] = []


class ConflictsList(_P):
    contact_id: int | None = None
    include_resolved: bool = False
    limit: int = 100


class ConflictsResolve(_P):
    id: int
    choice: Literal["keep", "restore", "local", "crm"]


class ContactsIds(_P):
    ids: list[int]
    wait: bool = True


class ContactId(_P):
    id: int


class ContactsDelete(_P):
    id: int
    also_in_crm: bool = False


class ContactScore(_P):
    id: int
    score: int


class TodosAssign(_P):
    contact_id: int
    assignee: int | str
    title: str
    due: str | None = None
    created_by: int | str | None = None


class TodosList(_P):
    assignee: int | None = None
    contact_id: int | None = None


class SmartListCreate(_P):
    name: str
    filter: ContactFilter = msgspec.field(default_factory=ContactFilter)
    created_by: int | None = None
    shared_with: list[int] = []


class SmartListUpdate(_P):
    id: int
    name: str | None = None
    filter: ContactFilter | None = None
    shared_with: list[int] | None = None


class ContactsCreate(_P):
    fields: dict[str, Any]
    created_by: int | str
    source: Literal["api", "form", "import"] = "api"


class ContactsUpdate(_P):
    id: int
    fields: dict[str, Any]


class CrmConnect(_P):
    crm: str
    credentials: dict[str, str]
    base_url: str | None = None


class CrmReauth(_P):
    credentials: dict[str, str]


class SyncRunParams(_P):
    wait: bool = False
    pull: bool = True
    push: bool = True


class SyncHistory(_P):
    limit: int = 20
    before: int | None = None


class ErrorsList(_P):
    include_resolved: bool = False
    contact_id: int | None = None
    limit: int = 100


class SyncLog(_P):
    contact_id: int | None = None
    sync_run_id: int | None = None
    limit: int = 100


class Subscribe(_P):
    pass


class ContactsImport(_P):
    as_user: int | str
    header: list[str]
    rows: list[ImportRow]
    dry_run: bool = False
    import_id: str | None = None
    mapping: dict[str, str] | None = None
    skip: list[str] | None = None
    date_format: str | None = None
    date_columns: dict[str, str] | None = None


def build_methods(agent: Agent) -> dict[str, Method]:
    """Every method the agent serves, keyed by name."""
    table: dict[str, Method] = {}

    H = TypeVar("H", bound=Callable[[Any, Session], Awaitable[Any]])

    def method(name: str, params: type[msgspec.Struct] = NoParams) -> Callable[[H], H]:
        def register(handler: H) -> H:
            table[name] = Method(name, params, handler, (handler.__doc__ or "").strip())
            return handler
        return register

    store = agent.store

    @method("agent.status")
    async def agent_status(_: NoParams, __: Session) -> dict[str, Any]:
        """Version, pid, uptime (s), data dir, socket and whether a CRM is connected and a sync runs."""
        return {
            "version": VERSION, "pid": os.getpid(), "uptime_s": round(time.monotonic() - _STARTED, 1),
            "data_dir": str(agent.data_dir), "socket": str(agent.socket_path),
            "crm": agent.connector.name if agent.connector else None, "sync_running": agent.current_run,
            "contacts": await store.scalar("SELECT count(*) FROM contacts"),
        }

    @method("agent.methods")
    async def agent_methods(_: NoParams, __: Session) -> list[dict[str, Any]]:
        """The methods this agent serves: name, description and the JSON Schema of the params."""
        return [{"name": m.name, "doc": " ".join(m.doc.split("\n\n")[0].split()),
                 "params": msgspec.json.schema(m.params)} for m in table.values()]

    @method("users.list")
    async def users_list(_: NoParams, __: Session) -> dict[str, Any]:
        """Users with their CRM owner id and status, and the CRM owners no user matches."""
        return {"users": await users.list_users(store),
                "unmatched_owners": await users.list_owners(store, unmatched_only=True)}

    @method("users.create", UsersCreate)
    async def users_create(p: UsersCreate, _: Session) -> Any:
        """Add a user (email, name, role user|admin)."""
        user = await users.create_user(store, p.email, p.name, p.role)
        agent.emit({"type": "users_changed", "user_id": user.id})
        return user

    @method("contacts.list", ContactsList)
    async def contacts_list(p: ContactsList, _: Session) -> Any:
        """A page of contacts (keyset: pass next_after back as after), filtered; as_user: only what that user sees."""
        flt = p.filter
        if p.smart_list is not None:
            saved = (await smartlists.get_smart_list(store, p.smart_list)).filter
            flt = msgspec.structs.replace(saved, **{k: v for k, v in msgspec.structs.asdict(p.filter).items()
                                                    if v is not None})
        visible = await sharing.visibility_condition(store, p.as_user) if p.as_user is not None else None
        return await contacts.list_contacts(store, flt, after=p.after, limit=p.limit, visible=visible)

    @method("contacts.get", ContactsGet)
    async def contacts_get(p: ContactsGet, _: Session) -> Any:
        """One contact by id (as_user: NOT_FOUND unless that user may see it)."""
        if p.as_user is not None:
            visible = await sharing.visibility_condition(store, p.as_user)
            if visible is not None and not await store.fetchone(
                    f"SELECT 1 FROM contacts c WHERE c.id = ? AND {visible[0]}", [p.id, *visible[1]]):
                raise NotFoundError(f"no contact with id {p.id} visible to {p.as_user}")
        contact = await contacts.get_contact(store, p.id)
        if not p.include:
            return contact
        answer: dict[str, Any] = msgspec.to_builtins(contact)
        if "provenance" in p.include:
            answer["provenance"] = await contacts.get_provenance(store, p.id)
        if "conflicts" in p.include:
            answer["conflicts"] = await conflicts.list_conflicts(store, contact_id=p.id, include_resolved=True)
        if "owner_history" in p.include:
            answer["owner_history"] = await contacts_owner_history(ContactId(id=p.id), _)
        if "errors" in p.include:
            answer["errors"] = await errors_list(ErrorsList(contact_id=p.id, include_resolved=True), _)
        if "todos" in p.include:
            answer["todos"] = await todos.list_todos(store, contact_id=p.id)
        return answer

    @method("contacts.restore", ContactId)
    async def contacts_restore(p: ContactId, _: Session) -> Any:
        """Re-create in the CRM a contact archived (deleted) there: unlinks it and marks it for push."""
        contact = await contacts.get_contact(store, p.id)
        if contact.crm_state != "archived":
            raise ValidationError(f"contact {p.id} is {contact.crm_state}, not archived in the CRM")
        async with store.transaction() as db:
            await db.execute("DELETE FROM crm_links WHERE contact_id = ?", (p.id,))
            await db.execute("DELETE FROM base_values WHERE contact_id = ?", (p.id,))
            await db.execute("UPDATE contacts SET crm_state = 'none', crm_note = NULL, push_wanted = 1, "
                             "local_rev = local_rev + 1 WHERE id = ?", (p.id,))
        return await contacts.get_contact(store, p.id)

    @method("contacts.delete", ContactsDelete)
    async def contacts_delete(p: ContactsDelete, _: Session) -> Any:
        """Delete a contact locally; the CRM record stays unless also_in_crm and the crm_delete_enabled setting."""
        contact = await contacts.get_contact(store, p.id)
        archived = False
        if p.also_in_crm:
            if not agent.settings.crm_delete_enabled:
                raise ValidationError("also_in_crm: deleting in the CRM is off (settings crm_delete_enabled=false)")
            if not agent.settings.push_enabled:
                raise PushDisabledError("push is disabled (settings push_enabled=false): nothing was deleted")
            if contact.crm_id is not None and contact.crm_state == "linked":
                connector = agent.require_connector()
                [result] = await connector.archive(connector.capabilities.new_lead_object, [contact.crm_id])
                if not result.ok:
                    raise CrmError(f"the CRM refused to delete record {contact.crm_id}: {result.error}",
                                   crm=connector.name)
                archived = True
        async with store.transaction() as db:
            await db.execute("DELETE FROM contacts WHERE id = ?", (p.id,))
        agent.emit({"type": "contact_changed", "contact_id": p.id, "change": "deleted"})
        return {"deleted": p.id, "crm_id": contact.crm_id, "deleted_in_crm": archived}

    @method("mappings.list")
    async def mappings_list(_: NoParams, __: Session) -> Any:
        """The field mappings in force: local field, CRM property, direction, conflict policy, skew, value map."""
        return agent.mappings(agent.require_connector())

    @method("mappings.update", mappings.MappingUpdate)
    async def mappings_update(p: mappings.MappingUpdate, _: Session) -> Any:
        """Change (or add, or remove) one field mapping; run mappings.check and sync.plan after."""
        connector = agent.require_connector()
        result = await mappings.update_mapping(store, connector.name, p,
                                               owner_property=connector.capabilities.owner_property)
        await agent.reload_mappings()
        return result

    @method("mappings.check")
    async def mappings_check(_: NoParams, __: Session) -> Any:
        """Check mapped fields against the CRM's field list: unknown properties, type mismatches, read-only
        targets, required CRM fields with no source, enumeration values with no match."""
        connector = agent.require_connector()
        return await mappings.check_mappings(store, connector, agent.mappings(connector))

    @method("conflicts.list", ConflictsList)
    async def conflicts_list(p: ConflictsList, _: Session) -> Any:
        """Fields changed on both sides, with both values, the policy and the winner (open ones by default)."""
        return await conflicts.list_conflicts(store, contact_id=p.contact_id, include_resolved=p.include_resolved,
                                              limit=p.limit)

    @method("conflicts.resolve", ConflictsResolve)
    async def conflicts_resolve(p: ConflictsResolve, _: Session) -> Any:
        """Resolve a conflict: keep the winner, restore the losing value, or pick local/crm."""
        return await conflicts.resolve_conflict(store, p.id, p.choice)

    @method("contacts.sharing", ContactId)
    async def contacts_sharing(p: ContactId, _: Session) -> Any:
        """The owner and every user the contact is shared to, each with the reasons (owner, team, admin,
        smart_list, todo, creator)."""
        return await sharing.contact_sharing(store, p.id)

    @method("contacts.owner_history", ContactId)
    async def contacts_owner_history(p: ContactId, _: Session) -> Any:
        """Ownership changes of a contact: old and new CRM owner, source (crm, todo, create), sync run, when."""
        await contacts.get_contact(store, p.id)
        rows = await store.fetchall("SELECT * FROM ownership_history WHERE contact_id = ? ORDER BY id", (p.id,))
        return [{k: r[k] for k in r.keys()} for r in rows]

    @method("contacts.mark_lead", ContactId)
    async def contacts_mark_lead(p: ContactId, _: Session) -> Any:
        """Make a contact a lead (lifecycle stage lead); it is pushed as such."""
        contact = await contacts.update_contact(store, p.id, {"lifecycle_stage": "lead"})
        async with store.transaction() as db:
            await db.execute("UPDATE contacts SET push_wanted = 1 WHERE id = ?", (p.id,))
        agent.emit({"type": "contact_changed", "contact_id": p.id, "change": "marked_lead"})
        return contact

    @method("contacts.push", ContactsIds)
    async def contacts_push(p: ContactsIds, _: Session) -> Any:
        """Sync to CRM now: push these contacts (manual trigger); answers with the run and its writes."""
        if not p.ids:
            raise ValidationError("ids: give at least one contact id")
        if len(p.ids) > 10_000:
            raise ValidationError("ids: at most 10000 contacts per call")
        for contact_id in p.ids:
            contact = await contacts.get_contact(store, contact_id)
            if contact.crm_state in ("archived", "merged"):
                raise ValidationError(f"contact {contact_id} is {contact.crm_state} in the CRM and is not pushed"
                                      + ("; contacts.restore re-creates it" if contact.crm_state == "archived"
                                         else "; its CRM record was merged into another contact's"))
        async with store.transaction() as db:
            await db.execute(f"UPDATE contacts SET push_wanted = 1 WHERE id IN ({','.join('?' * len(p.ids))})", p.ids)
            # a push on request retries records whose last attempt failed, even if unchanged
            await db.execute(f"UPDATE sync_errors SET local_rev = NULL WHERE resolved_at IS NULL AND contact_id IN "
                             f"({','.join('?' * len(p.ids))})", p.ids)
        return await agent.request_sync("manual", wait=p.wait, pull=False, contact_ids=p.ids)

    @method("todos.assign", TodosAssign)
    async def todos_assign(p: TodosAssign, _: Session) -> Any:
        """Assign a to-do: shares the contact to the assignee and pushes it with the assignee as CRM owner."""
        todo = await todos.assign_todo(store, p.contact_id, p.assignee, p.title, p.due, p.created_by)
        agent.emit({"type": "contact_changed", "contact_id": p.contact_id, "change": "todo_assigned"})
        answer: dict[str, Any] = {"todo": todo, "run": None, "pushed": False}
        if agent.connector is None:
            answer["note"] = "no CRM connected: the owner is written at the first sync after crm.connect"
        elif not agent.settings.push_enabled:
            answer["note"] = "push is disabled: the owner is written to the CRM once push is enabled"
        else:
            run = await agent.request_sync("todo", wait=True, pull=False, contact_ids=[p.contact_id])
            answer["run"] = run
            contact = await contacts.get_contact(store, p.contact_id)
            answer["pushed"] = contact.owner_id == (await users.find_user(store, p.assignee)).crm_owner_id
        return answer

    @method("todos.list", TodosList)
    async def todos_list(p: TodosList, _: Session) -> Any:
        """To-dos, by assignee and/or contact."""
        return await todos.list_todos(store, assignee=p.assignee, contact_id=p.contact_id)

    @method("smartlists.list")
    async def smartlists_list(_: NoParams, __: Session) -> Any:
        """Saved filters and who they are shared to."""
        return await smartlists.list_smart_lists(store)

    @method("smartlists.create", SmartListCreate)
    async def smartlists_create(p: SmartListCreate, _: Session) -> Any:
        """Save a filter as a smart list; shared_with user ids see its contacts."""
        return await smartlists.save_smart_list(store, list_id=None, name=p.name, flt=p.filter,
                                                created_by=p.created_by, shared_with=p.shared_with)

    @method("smartlists.update", SmartListUpdate)
    async def smartlists_update(p: SmartListUpdate, _: Session) -> Any:
        """Rename, refilter or reshare a smart list (shared_with replaces the list)."""
        return await smartlists.save_smart_list(store, list_id=p.id, name=p.name, flt=p.filter, created_by=None,
                                                shared_with=p.shared_with)

    @method("smartlists.delete", ContactId)
    async def smartlists_delete(p: ContactId, _: Session) -> Any:
        """Delete a smart list (its contacts stay)."""
        return await smartlists.delete_smart_list(store, p.id)

    @method("contacts.create", ContactsCreate)
    async def contacts_create(p: ContactsCreate, _: Session) -> Any:
        """Create a contact owned by its creator (a user id or email); it is pushed as a lead."""
        creator = await users.find_user(store, p.created_by)
        contact = await contacts.create_contact(store, p.fields, created_by=creator.id, source=p.source)
        agent.emit({"type": "contact_changed", "contact_id": contact.id, "change": "created"})
        return contact

    @method("contacts.update", ContactsUpdate)
    async def contacts_update(p: ContactsUpdate, _: Session) -> Any:
        """Edit a contact's fields locally (None clears a field); owners are refused (the CRM decides)."""
        before = await contacts.get_contact(store, p.id)
        contact = await contacts.update_contact(store, p.id, p.fields)
        agent.emit({"type": "contact_changed", "contact_id": contact.id, "change": "updated"})
        if "lead_score" in p.fields:
            await agent.score_changed(contact.id, before.lead_score, contact.lead_score)
        return contact

    @method("contacts.score", ContactScore)
    async def contacts_score(p: ContactScore, _: Session) -> Any:
        """Set a contact's lead score (interest level); reaching the threshold pushes it within seconds."""
        before = await contacts.get_contact(store, p.id)
        contact = await contacts.update_contact(store, p.id, {"lead_score": p.score})
        pushed = await agent.score_changed(contact.id, before.lead_score, contact.lead_score)
        agent.emit({"type": "contact_changed", "contact_id": contact.id, "change": "scored"})
        return {"contact": contact, "threshold_push": pushed}

    @method("contacts.import", ContactsImport)
    async def contacts_import(p: ContactsImport, _: Session) -> Any:
        """Import CSV rows ([line, values] under a header) owned by as_user (or the owner a row names); bad rows
        come back in failed, rows to review in warnings (line, column, value, message); dry_run writes nothing."""
        return await import_contacts(agent, **msgspec.structs.asdict(p))

    def candidate_connector(crm: str, base_url: str | None,
                            credentials: dict[str, str]) -> tuple[Connector, Callable[[], None]]:
        """A connector for credentials still being checked: until ``accept()`` its refreshed tokens are not
        stored and its auth troubles do not change the connection's status (a refused ``crm.reauth`` leaves
        the working connection as it was)."""
        accepted = False

        def save(name: str, values: dict[str, str]) -> None:
            if accepted:
                agent.secrets.save(name, values)

        def on_status(status: str) -> Awaitable[None] | None:
            return agent.set_connection_status(status) if accepted else None

        def accept() -> None:
            nonlocal accepted
            accepted = True

        options = {**agent.connector_options, "save_credentials": save, "on_connection_status": on_status}
        return agent.connector_factory(crm, base_url, credentials, **options), accept

    @method("crm.connect", CrmConnect)
    async def crm_connect(p: CrmConnect, _: Session) -> CrmStatus:
        """Connect the organization's one CRM; refused while another is connected."""
        row = await store.fetchone("SELECT crm FROM crm_connection WHERE id = 1")
        if row is not None:
            raise CrmAlreadyConnectedError(
                f"{row['crm']} is already connected; one CRM per organization: crm.disconnect first",
                data={"connected": row["crm"]})
        if p.crm not in CRMS:
            raise ValidationError(f"crm: {p.crm!r} is not supported; one of {', '.join(CRMS)}")
        connector, accept = candidate_connector(p.crm, p.base_url, p.credentials)
        try:
            info = await connector.connection_info()  # validate the credentials before saving them
        except CrmError as exc:
            await connector.aclose()
            reason = exc.data.get("reason") if isinstance(exc, CrmAuthError) and isinstance(exc.data, dict) else None
            if reason:  # nothing is connected yet: "re-authenticate with crm.reauth" would mislead
                raise CrmAuthError(f"{p.crm}: the CRM refused these credentials ({reason}); check client_id, "
                                   "client_secret and refresh_token", crm=p.crm, status=401,
                                   category="refused") from None
            raise
        accept()
        # an OAuth connector already holds newer tokens than the ones given (a rotated refresh token): keep those
        current = getattr(connector, "current_credentials", None)
        agent.secrets.save(p.crm, (current() if callable(current) else None) or p.credentials)
        async with store.transaction() as db:
            await db.execute(
                "INSERT INTO crm_connection(id, crm, base_url, user_email, user_id, is_admin, account_id, "
                "connected_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
                (p.crm, connector.base_url, info.user_email, info.user_id, int(info.is_admin),
                 info.account_id, now_ms()))
        agent.connector = connector
        return await crm_status_value()

    @method("crm.reauth", CrmReauth)
    async def crm_reauth(p: CrmReauth, _: Session) -> CrmStatus:
        """Replace the connected CRM's credentials (a new token, or a new OAuth refresh token after
        ``needs_reauth``) without disconnecting: links, cursors and history stay. The new credentials are
        checked first and must reach the same CRM account; the old ones stay in force if they fail."""
        row = await store.fetchone("SELECT crm, base_url, account_id FROM crm_connection WHERE id = 1")
        if row is None:
            raise CrmNotConnectedError("no CRM is connected: crm.connect first")
        connector, accept = candidate_connector(row["crm"], row["base_url"], p.credentials)
        try:
            info = await connector.connection_info()
        except CrmError:
            await connector.aclose()
            raise
        if row["account_id"] and info.account_id and info.account_id != row["account_id"]:
            await connector.aclose()
            raise ValidationError(f"credentials: they reach {row['crm']} account {info.account_id}, not the connected "
                                  f"account {row['account_id']}; crm.disconnect first to switch accounts")
        accept()
        current = getattr(connector, "current_credentials", None)
        agent.secrets.save(row["crm"], (current() if callable(current) else None) or p.credentials)
        async with store.transaction() as db:
            await db.execute("UPDATE crm_connection SET user_email = ?, user_id = ?, is_admin = ?, "
                             "status = 'connected' WHERE id = 1", (info.user_email, info.user_id, int(info.is_admin)))
        old, agent.connector = agent.connector, connector
        if old is not None:
            await old.aclose()
        agent.emit({"type": "crm_status", "status": "connected"})
        return await crm_status_value()

    @method("crm.disconnect")
    async def crm_disconnect(_: NoParams, __: Session) -> CrmStatus:
        """Remove the CRM connection and its credentials (links and history stay)."""
        row = await store.fetchone("SELECT crm FROM crm_connection WHERE id = 1")
        if row is None:
            raise CrmNotConnectedError("no CRM is connected")
        if agent.connector is not None:
            await agent.connector.aclose()
        agent.connector = None
        agent.secrets.delete(row["crm"])
        async with store.transaction() as db:
            await db.execute("DELETE FROM crm_connection")
        return await crm_status_value()

    async def crm_status_value() -> CrmStatus:
        row = await store.fetchone("SELECT * FROM crm_connection WHERE id = 1")
        if row is None:
            return CrmStatus(connected=False)
        admin = bool(row["is_admin"])
        warning = None if admin else "connected with a non-admin CRM user: leadsync sees only that user's records"
        if row["status"] == "needs_reauth":  # issue 7: the CRM refused the OAuth refresh token
            warning = ("the CRM refused the stored OAuth refresh token: syncs stop until it is reconnected "
                       "(crm.reauth with new credentials)")
        return CrmStatus(
            connected=True, crm=row["crm"], base_url=row["base_url"], user_email=row["user_email"],
            is_admin=admin, status=row["status"], connected_at=row["connected_at"], warning=warning,
            note=PRIVATE_APP_NOTE if admin and not row["user_email"] else None,
        )

    @method("crm.status")
    async def crm_status(_: NoParams, __: Session) -> CrmStatus:
        """The CRM connection: which CRM, who connected it, whether that user is an admin."""
        return await crm_status_value()

    @method("settings.get")
    async def settings_get(_: NoParams, __: Session) -> Any:
        """Current settings."""
        return agent.settings

    @method("settings.update", SettingsUpdate)
    async def settings_update(p: SettingsUpdate, _: Session) -> Any:
        """Change settings; an interval outside 10..1440 minutes is refused with the allowed range; the
        fallback owner is a CRM owner id or email of an active owner."""
        changes = apply_update(agent.settings, p)
        if changes.get("fallback_owner"):
            changes["fallback_owner"] = await users.resolve_active_owner(store, changes["fallback_owner"])
        await store.put_settings(changes)
        if "fallback_owner" in changes:
            async with store.transaction() as db:  # contacts held for want of an owner are retried
                await db.execute("UPDATE sync_errors SET local_rev = NULL WHERE code = 'no_owner' "
                                 "AND resolved_at IS NULL")
        await agent.apply_settings(changes)
        agent.emit({"type": "settings_changed", "changes": changes})
        return agent.settings

    @method("sync.run", SyncRunParams)
    async def sync_run(p: SyncRunParams, _: Session) -> SyncRun:
        """Run a sync now (or join the running one); wait=true answers with the finished run."""
        return await agent.request_sync("manual", wait=p.wait, pull=p.pull, push=p.push)

    @method("sync.status")
    async def sync_status(_: NoParams, __: Session) -> dict[str, Any]:
        """The running sync, the queue of requests, the push backlog (size, oldest, estimated seconds to
        drain), contacts held by an open sync error (``held_with_errors``: retried once they change; see
        errors.list), the last finished run and the next interval run (epoch ms UTC)."""
        running = await get_run(store, agent.current_run) if agent.current_run else None
        last = await store.fetchone("SELECT id FROM sync_runs WHERE status NOT IN ('running') ORDER BY id DESC LIMIT 1")
        backlog = await store.fetchone(f"SELECT count(*), min(c.updated_at) FROM contacts c WHERE {PENDING_SQL}")
        pending = int(backlog[0]) if backlog else 0
        held = int(await store.scalar("SELECT count(DISTINCT contact_id) FROM sync_errors WHERE resolved_at IS NULL "
                                      "AND contact_id IS NOT NULL"))
        job = agent.scheduler.get_job(INTERVAL_JOB)
        next_run = job.next_run_time if job is not None else None
        return {"running": running, "queue": agent.queue_status(),
                "backlog": {"pending_push": pending, "oldest_changed_at": backlog[1] if backlog else None,
                            "estimated_drain_s": await drain_estimate(store, agent.connector, agent.push_rate,
                                                                         pending)},
                "pending_push": pending,
                "held_with_errors": held,
                "last": await get_run(store, last[0]) if last else None,
                "push_enabled": agent.settings.push_enabled,
                "quota_blocked_until": agent.quota_blocked_until_ms,
                "interval_minutes": agent.settings.sync_interval_minutes,
                "next_interval_run": int(next_run.timestamp() * 1000) if next_run else None}

    @method("sync.plan")
    async def sync_plan(_: NoParams, __: Session) -> Any:
        """A dry run: the writes a sync would make on each side, per record and field; nothing is written."""
        return await agent.plan()

    @method("sync.history", SyncHistory)
    async def sync_history(p: SyncHistory, _: Session) -> list[SyncRun]:
        """Past sync runs, newest first, with counts and trigger."""
        if not 1 <= p.limit <= 500:
            raise ValidationError("limit: must be 1..500")
        rows = await store.fetchall("SELECT * FROM sync_runs WHERE id < ? ORDER BY id DESC LIMIT ?",
                                    (p.before or 2**62, p.limit))
        return [run_from_row(r) for r in rows]

    @method("sync.log", SyncLog)
    async def sync_log(p: SyncLog, _: Session) -> list[dict[str, Any]]:
        """Outbound writes the CRM confirmed, newest first: contact, CRM id, operation, properties sent,
        note (e.g. a fallback owner), sync run and its trigger."""
        where: list[str] = ["1=1"]
        params: list[Any] = []
        if p.contact_id is not None:
            where.append("w.contact_id = ?")
            params.append(p.contact_id)
        if p.sync_run_id is not None:
            where.append("w.sync_run_id = ?")
            params.append(p.sync_run_id)
        rows = await store.fetchall(
            "SELECT w.*, r.trigger FROM write_log w JOIN sync_runs r ON r.id = w.sync_run_id "
            f"WHERE {' AND '.join(where)} ORDER BY w.id DESC LIMIT ?", [*params, min(p.limit, 1000)])
        return [{**{k: r[k] for k in r.keys()}, "properties": loads(r["properties"])} for r in rows]

    @method("errors.list", ErrorsList)
    async def errors_list(p: ErrorsList, _: Session) -> list[SyncError]:
        """Records that failed alone, with the reason; open ones unless include_resolved."""
        where = ["1=1"] if p.include_resolved else ["resolved_at IS NULL"]
        params: list[Any] = []
        if p.contact_id is not None:
            where.append("contact_id = ?")
            params.append(p.contact_id)
        rows = await store.fetchall(
            f"SELECT * FROM sync_errors WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?", [*params, p.limit])
        return [SyncError(**{k: r[k] for k in r.keys() if k != "local_rev"}) for r in rows]

    @method("events.subscribe", Subscribe)
    async def events_subscribe(_: Subscribe, session: Session) -> dict[str, Any]:
        """Stream events (sync progress, run start/end, contact changes) as notifications on this connection."""
        if session.events is None:
            session.events = asyncio.Queue(maxsize=session.EVENT_QUEUE)
            task = asyncio.create_task(_pump(session))
            _pumps.add(task)
            task.add_done_callback(_pumps.discard)
        return {"subscribed": True}

    return table


_pumps: set[asyncio.Task[None]] = set()


async def _pump(session: Session) -> None:
    assert session.events is not None
    try:
        while True:
            event = await session.events.get()
            await session.send({"jsonrpc": "2.0", "method": "event", "params": event})
    except (ConnectionError, OSError):
        return



