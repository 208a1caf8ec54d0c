"""The agent's JSON-RPC API, one module per domain: each method a params Struct, a handler and its
description (see :mod:`.registry`). Names follow ``../shared/docs/architecture.md`` ("Interface names
others rely on"); ``tests/fixtures/agent_methods.json`` pins what ``agent.methods`` answers.

The handlers are only params, calls and answers: the rules they call live in the domain modules
(``agent/contacts.py``, ``pushes.py``, ``connection.py``, ``sync_status.py``...), the SQL in
``agent/store/queries/``.
"""

from __future__ import annotations

from leadsync.agent.api import (
    conflicts,
    contacts,
    crm,
    errors,
    events,
    mappings,
    meta,
    settings,
    smartlists,
    store,
    sync,
    todos,
    users,
)
from leadsync.agent.api.registry import ApiMethod, bind
from leadsync.agent.rpc_server import Method
from leadsync.agent.runtime import Runtime

METHODS: tuple[ApiMethod, ...] = (  # in the order agent.methods lists them
    meta.agent_status, meta.agent_methods,
    users.users_list, users.users_create,
    contacts.contacts_list, contacts.contacts_count, contacts.contacts_get, contacts.contacts_restore,
    contacts.contacts_delete,
    mappings.mappings_list, mappings.mappings_update, mappings.mappings_preview, mappings.mappings_check,
    conflicts.conflicts_list, conflicts.conflicts_resolve,
    contacts.contacts_sharing, contacts.contacts_owner_history, contacts.contacts_mark_lead, contacts.contacts_push,
    todos.todos_assign, todos.todos_list,
    smartlists.smartlists_list, smartlists.smartlists_create, smartlists.smartlists_update,
    smartlists.smartlists_delete,
    contacts.contacts_create, contacts.contacts_update, contacts.contacts_score, contacts.contacts_import,
    crm.crm_connect, crm.crm_reauth, crm.crm_disconnect, crm.crm_status,
    settings.settings_get, settings.settings_update,
    sync.sync_run, sync.sync_status, sync.sync_health, sync.sync_plan, sync.sync_history, sync.sync_log, sync.sync_undo,
    errors.errors_list,
    errors.errors_retry,
    events.events_subscribe,
    store.store_backup,
)


def build_methods(agent: Runtime) -> dict[str, Method]:
    """Every method the agent serves, keyed by name, bound to ``agent``."""
    return bind(METHODS, agent)


__all__ = ["METHODS", "build_methods"]
