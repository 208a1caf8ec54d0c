"""Versioned schema migrations for the SQLite store.

Each migration is a list of SQL statements applied in one transaction; ``PRAGMA user_version`` holds
the number of migrations applied. Append new migrations; never edit a released one.
"""

from __future__ import annotations

import aiosqlite

_SAME_OPEN_PROBLEM = (
    "d.resolved_at IS NULL AND coalesce(d.contact_id, -1) = coalesce(sync_errors.contact_id, -1) "
    "AND coalesce(d.crm_id, '') = coalesce(sync_errors.crm_id, '') AND d.operation = sync_errors.operation "
    "AND coalesce(d.code, '') = coalesce(sync_errors.code, '')"
)
"""Migration 7: an open error ``d`` about the same record and problem as the ``sync_errors`` row at hand."""

SEARCH_DOC = ("coalesce({p}.first_name, '') || ' ' || coalesce({p}.last_name, '') || ' ' || coalesce({p}.email, '') "
              "|| ' ' || coalesce({p}.company, '') || ' ' || coalesce({p}.phone, '') || ' ' || "
              "replace(replace(replace(replace(replace(replace(coalesce({p}.phone, ''), ' ', ''), '-', ''), '(', ''), "
              "')', ''), '.', ''), '+', '') || ' '")
"""The text search document of a contact row ``{p}``: first and last name, email, company, phone as
written and as digits, each followed by a space (so every fragment of a value is followed by a character)."""

MIGRATIONS: list[list[str]] = [
    # 1: the skeleton: users, owners, contacts, CRM links, base values, cursors, sync runs and errors
    [
        """CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL            -- JSON
        )""",
        """CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL,           -- as entered, trimmed
            email_norm TEXT NOT NULL UNIQUE,  -- trimmed, lower-case: the match key to CRM owners
            name TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL DEFAULT 'user',
            created_at INTEGER NOT NULL    -- epoch ms UTC
        )""",
        """CREATE TABLE crm_connection (
            id INTEGER PRIMARY KEY CHECK (id = 1),   -- one CRM per organization
            crm TEXT NOT NULL,
            base_url TEXT NOT NULL,
            user_email TEXT,
            user_id TEXT,
            is_admin INTEGER NOT NULL DEFAULT 0,
            account_id TEXT,
            status TEXT NOT NULL DEFAULT 'connected',
            connected_at INTEGER NOT NULL
        )""",
        """CREATE TABLE owners (
            crm_id TEXT PRIMARY KEY,
            email TEXT NOT NULL,
            email_norm TEXT NOT NULL,
            first_name TEXT NOT NULL DEFAULT '',
            last_name TEXT NOT NULL DEFAULT '',
            active INTEGER NOT NULL DEFAULT 1,
            teams TEXT NOT NULL DEFAULT '[]',         -- JSON list of {id, name, primary}
            updated_at INTEGER NOT NULL
        )""",
        "CREATE INDEX owners_email ON owners(email_norm)",
        """CREATE TABLE contacts (
            id INTEGER PRIMARY KEY,
            email TEXT,
            email_norm TEXT,
            first_name TEXT,
            last_name TEXT,
            company TEXT,
            job_title TEXT,
            phone TEXT,
            lifecycle_stage TEXT,
            lead_score INTEGER,
            owner_id TEXT,                 -- CRM owner id; the CRM decides it
            created_by INTEGER REFERENCES users(id),
            source TEXT NOT NULL,          -- crm | api | import | form
            fields TEXT NOT NULL DEFAULT '{}',  -- JSON: other mapped fields
            created_at INTEGER NOT NULL,   -- epoch ms UTC
            updated_at INTEGER NOT NULL,
            local_rev INTEGER NOT NULL DEFAULT 1,   -- bumped by every local edit
            synced_rev INTEGER NOT NULL DEFAULT 0,  -- local_rev the CRM last confirmed
            push_wanted INTEGER NOT NULL DEFAULT 0, -- 1: push when the rules allow (new lead, manual...)
            crm_state TEXT NOT NULL DEFAULT 'none'  -- none | linked | archived | merged
        )""",
        "CREATE UNIQUE INDEX contacts_email ON contacts(email_norm) WHERE email_norm IS NOT NULL",
        "CREATE INDEX contacts_owner ON contacts(owner_id, id)",
        "CREATE INDEX contacts_dirty ON contacts(push_wanted, id) WHERE local_rev > synced_rev",
        """CREATE TABLE crm_links (
            contact_id INTEGER PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
            crm TEXT NOT NULL,
            object_type TEXT NOT NULL,     -- contact | lead
            crm_id TEXT NOT NULL,
            crm_updated_at INTEGER,        -- the CRM's modified time we last saw, epoch ms
            linked_at INTEGER NOT NULL,
            UNIQUE (crm, object_type, crm_id)
        )""",
        """CREATE TABLE base_values (
            contact_id INTEGER PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
            vals TEXT NOT NULL,            -- JSON {local field: last value both sides agreed on}
            sync_run_id INTEGER,
            synced_at INTEGER NOT NULL
        )""",
        """CREATE TABLE cursors (
            crm TEXT NOT NULL,
            object_type TEXT NOT NULL,
            value TEXT NOT NULL,           -- JSON, connector-defined checkpoint
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (crm, object_type)
        )""",
        """CREATE TABLE sync_runs (
            id INTEGER PRIMARY KEY,
            trigger TEXT NOT NULL,         -- manual | interval | threshold | todo | demo | api
            status TEXT NOT NULL,          -- running | ok | partial | failed | interrupted
            started_at INTEGER NOT NULL,
            finished_at INTEGER,
            pulled INTEGER NOT NULL DEFAULT 0,
            created_local INTEGER NOT NULL DEFAULT 0,
            updated_local INTEGER NOT NULL DEFAULT 0,
            created_crm INTEGER NOT NULL DEFAULT 0,
            updated_crm INTEGER NOT NULL DEFAULT 0,
            linked INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            api_calls INTEGER NOT NULL DEFAULT 0,
            error TEXT
        )""",
        """CREATE TABLE sync_errors (
            id INTEGER PRIMARY KEY,
            sync_run_id INTEGER REFERENCES sync_runs(id),
            contact_id INTEGER,
            crm_id TEXT,
            operation TEXT NOT NULL,       -- create | update | upsert | pull | link
            code TEXT,
            reason TEXT NOT NULL,
            local_rev INTEGER,             -- the contact's local_rev when it failed: retried once it changes
            created_at INTEGER NOT NULL,
            resolved_at INTEGER
        )""",
        "CREATE INDEX sync_errors_open ON sync_errors(contact_id) WHERE resolved_at IS NULL",
    ],
    # 2: ownership history, smart lists and their shares, to-dos, owner writes requested by a to-do
    [
        """CREATE TABLE ownership_history (
            id INTEGER PRIMARY KEY,
            contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
            old_owner TEXT,
            new_owner TEXT,
            source TEXT NOT NULL,          -- crm (pulled) | todo (pushed) | create
            sync_run_id INTEGER,
            changed_at INTEGER NOT NULL    -- epoch ms UTC
        )""",
        "CREATE INDEX ownership_history_contact ON ownership_history(contact_id, id)",
        """CREATE TABLE smart_lists (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            filter TEXT NOT NULL,          -- JSON ContactFilter
            created_by INTEGER REFERENCES users(id),
            created_at INTEGER NOT NULL
        )""",
        """CREATE TABLE smart_list_shares (
            smart_list_id INTEGER NOT NULL REFERENCES smart_lists(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            PRIMARY KEY (smart_list_id, user_id)
        )""",
        """CREATE TABLE todos (
            id INTEGER PRIMARY KEY,
            contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
            assignee INTEGER NOT NULL REFERENCES users(id),
            title TEXT NOT NULL,
            due TEXT,                      -- ISO date or datetime as given
            done INTEGER NOT NULL DEFAULT 0,
            created_by INTEGER REFERENCES users(id),
            created_at INTEGER NOT NULL
        )""",
        "CREATE INDEX todos_assignee ON todos(assignee, contact_id)",
        "CREATE INDEX todos_contact ON todos(contact_id)",
        "ALTER TABLE contacts ADD COLUMN owner_push TEXT",  # an owner write a to-do asked for, until confirmed
    ],
    # 3: every outbound write the CRM confirmed, attributed to its sync run (and so its trigger)
    [
        """CREATE TABLE write_log (
            id INTEGER PRIMARY KEY,
            sync_run_id INTEGER NOT NULL REFERENCES sync_runs(id),
            contact_id INTEGER NOT NULL,
            crm_id TEXT,
            op TEXT NOT NULL,              -- create | update | link
            properties TEXT NOT NULL,      -- JSON wire values sent
            note TEXT,                     -- e.g. the fallback owner used and why
            written_at INTEGER NOT NULL
        )""",
        "CREATE INDEX write_log_run ON write_log(sync_run_id)",
        "CREATE INDEX write_log_contact ON write_log(contact_id, id)",
        "ALTER TABLE sync_runs ADD COLUMN dry_run INTEGER NOT NULL DEFAULT 0",
    ],
    # 4: field mappings, conflicts, per-field provenance, merged contacts
    [
        """CREATE TABLE field_mappings (
            local TEXT PRIMARY KEY,        -- local field name
            crm TEXT NOT NULL,             -- CRM property name
            direction TEXT NOT NULL,       -- two_way | to_crm | from_crm | off
            policy TEXT NOT NULL,          -- crm_wins | local_wins | crm_unless_blank | newest_wins
            skew_ms INTEGER NOT NULL DEFAULT 0,
            value_map TEXT NOT NULL DEFAULT '{}',   -- JSON {local value: CRM value} for enumerations
            default_value TEXT                       -- JSON: value sent on create when the local one is blank
        )""",
        """CREATE TABLE conflicts (
            id INTEGER PRIMARY KEY,
            contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
            field TEXT NOT NULL,
            base_value TEXT,               -- JSON
            local_value TEXT,              -- JSON
            crm_value TEXT,                -- JSON
            local_changed_at INTEGER,
            crm_changed_at INTEGER,
            policy TEXT NOT NULL,
            winner TEXT NOT NULL,          -- crm | local | none (undecided: nothing written either way)
            sync_run_id INTEGER,
            created_at INTEGER NOT NULL,
            resolved_at INTEGER,
            resolution TEXT                -- kept | restored | local | crm
        )""",
        "CREATE INDEX conflicts_open ON conflicts(contact_id, field) WHERE resolved_at IS NULL",
        """CREATE TABLE provenance (
            contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
            field TEXT NOT NULL,
            source TEXT NOT NULL,          -- crm | local | import | conflict | merge
            sync_run_id INTEGER,
            changed_at INTEGER NOT NULL,   -- epoch ms UTC
            previous TEXT,                 -- JSON of the value before
            PRIMARY KEY (contact_id, field)
        ) WITHOUT ROWID""",
        "ALTER TABLE contacts ADD COLUMN merged_into INTEGER",
        "ALTER TABLE contacts ADD COLUMN crm_note TEXT",  # why crm_state is archived or merged
    ],
    # 5: indexes for lookups by CRM id alone and for the push backlog (both were full scans)
    [
        "CREATE INDEX crm_links_crm_id ON crm_links(crm_id)",
        "DROP INDEX contacts_dirty",
        "CREATE INDEX contacts_pending ON contacts(id) WHERE local_rev > synced_rev",
    ],
    # 6: a mapping may name another property on one object (Zoho: Designation on Leads, Title on Contacts)
    [
        "ALTER TABLE field_mappings ADD COLUMN crm_by_object TEXT NOT NULL DEFAULT '{}'",
    ],
    # 7: one open error per record and problem (how often, last seen), the CRM's raw answer, automatic retries
    [
        "ALTER TABLE sync_errors ADD COLUMN count INTEGER NOT NULL DEFAULT 1",   # times seen while open
        "ALTER TABLE sync_errors ADD COLUMN last_seen_at INTEGER",                # epoch ms UTC
        "ALTER TABLE sync_errors ADD COLUMN detail TEXT",                         # the CRM's raw answer (JSON or text)
        "ALTER TABLE sync_errors ADD COLUMN next_retry_at INTEGER",  # automatic retry due (epoch ms); NULL: none
        "UPDATE sync_errors SET last_seen_at = created_at",
        # open duplicates (same record, operation and code) fold into the newest: counted, first seen kept
        f"""UPDATE sync_errors SET count = (SELECT count(*) FROM sync_errors d WHERE {_SAME_OPEN_PROBLEM}),
               created_at = (SELECT min(d.created_at) FROM sync_errors d WHERE {_SAME_OPEN_PROBLEM})
           WHERE resolved_at IS NULL""",
        f"""DELETE FROM sync_errors WHERE resolved_at IS NULL AND EXISTS (
               SELECT 1 FROM sync_errors d WHERE {_SAME_OPEN_PROBLEM} AND d.id > sync_errors.id)""",
        """CREATE UNIQUE INDEX sync_errors_one_open ON sync_errors(
               coalesce(contact_id, -1), coalesce(crm_id, ''), operation, coalesce(code, ''))
           WHERE resolved_at IS NULL""",
        "CREATE INDEX sync_errors_retry ON sync_errors(next_retry_at) WHERE resolved_at IS NULL",
    ],
    # 8: what each sync run changed, field by field on either side, so that the run can be undone
    [
        """CREATE TABLE run_changes (
            id INTEGER PRIMARY KEY,
            sync_run_id INTEGER NOT NULL REFERENCES sync_runs(id),
            contact_id INTEGER NOT NULL,
            side TEXT NOT NULL,            -- local (the store) | crm
            op TEXT NOT NULL,              -- update | create (a CRM record the run created)
            field TEXT NOT NULL,           -- local field name
            property TEXT,                 -- the CRM property written (crm side)
            object_type TEXT,              -- the CRM object written (crm side)
            crm_id TEXT,
            before TEXT,                   -- JSON local value before the run
            after TEXT,                    -- JSON local value the run wrote
            changed_at INTEGER NOT NULL    -- epoch ms UTC
        )""",
        "CREATE INDEX run_changes_run ON run_changes(sync_run_id, contact_id)",
        "ALTER TABLE sync_runs ADD COLUMN undoes INTEGER",   # an undo run: the run it undid
    ],
    # 9: text search: each contact's name, email, company and phone (as written and as digits) in one
    # trigram-indexed document (any fragment of 3+ characters found through the index), kept in step
    # by triggers (each statement flushes FTS5's pending terms: bulk writes insert many rows per statement);
    # the vocabulary table answers shorter fragments (the trigrams they begin)
    [
        "CREATE VIRTUAL TABLE contacts_search USING fts5(doc, tokenize = 'trigram')",
        "CREATE VIRTUAL TABLE contacts_search_terms USING fts5vocab(contacts_search, 'row')",
        f"INSERT INTO contacts_search(rowid, doc) SELECT id, {SEARCH_DOC.format(p='contacts')} FROM contacts",
        f"""CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts BEGIN
            INSERT INTO contacts_search(rowid, doc) VALUES (new.id, {SEARCH_DOC.format(p='new')});
        END""",
        f"""CREATE TRIGGER contacts_search_update AFTER UPDATE OF first_name, last_name, email, company, phone
            ON contacts WHEN old.first_name IS NOT new.first_name OR old.last_name IS NOT new.last_name
                OR old.email IS NOT new.email OR old.company IS NOT new.company OR old.phone IS NOT new.phone
            BEGIN
            UPDATE contacts_search SET doc = {SEARCH_DOC.format(p='new')} WHERE rowid = new.id;
        END""",
        """CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts BEGIN
            DELETE FROM contacts_search WHERE rowid = old.id;
        END""",
    ],
    # 10: the search index's backlog (issue 15): while its one row exists, the contacts with an id from
    # pending_from up are not indexed row by row (the insert trigger skips them) but in bulk later, in id
    # order (agent/store/search_index.py); edits and deletes stay row by row (no-ops on rows not indexed yet)
    [
        """CREATE TABLE search_backlog (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            pending_from INTEGER NOT NULL,   -- contacts with id >= this are not in contacts_search yet
            suspended_at INTEGER NOT NULL    -- epoch ms UTC
        )""",
        "DROP TRIGGER contacts_search_insert",
        f"""CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts
            WHEN NOT EXISTS (SELECT 1 FROM search_backlog WHERE new.id >= pending_from) BEGIN
            INSERT INTO contacts_search(rowid, doc) VALUES (new.id, {SEARCH_DOC.format(p='new')});
        END""",
    ],
]


async def migrate(db: aiosqlite.Connection) -> int:
    """Apply the migrations not yet applied; returns the schema version now in force.

    Raises ``RuntimeError`` if the database is newer than this code (a downgrade).
    """
    async with db.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    version = int(row[0]) if row else 0
    if version > len(MIGRATIONS):
        raise RuntimeError(f"store schema v{version} is newer than this leadsync (v{len(MIGRATIONS)})")
    for number in range(version + 1, len(MIGRATIONS) + 1):
        await db.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[number - 1]:
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {number}")
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)
