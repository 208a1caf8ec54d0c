"""Owners, teams and settings users of the sandbox account (HubSpot "Owners" and "Users" APIs).

A deactivated user's owner stays, ``archived`` with ``userId`` null (case B17); the settings user
disappears. The API token belongs to ``token_user_id`` or, by default, the super admin.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .properties import PropertyOption
from .records import Owner, Team, User


class Directory:
    """Mixin of ``SandboxState``: ``owners``, ``teams`` and ``users`` by id (decimal strings)."""

    lock: threading.RLock
    clock: Callable[[], int]

    def _init_directory(self) -> None:
        self.owners: dict[str, Owner] = {}
        self.teams: dict[str, Team] = {}
        self.users: dict[str, User] = {}
        self.token_user_id: str | None = None
        self._next_owner_id = 10_000_001
        self._next_user_id = 20_000_001
        self._next_team_id = 3_000_001

    def add_team(self, name: str, *, team_id: str | None = None) -> Team:
        """Create a team and return it."""
        with self.lock:
            tid = team_id or str(self._next_team_id)
            self._next_team_id += 1
            team = Team(tid, name)
            self.teams[tid] = team
            return team

    def add_owner(
        self,
        email: str,
        first_name: str,
        last_name: str,
        *,
        owner_id: str | None = None,
        team_ids: tuple[str, ...] | list[str] = (),
        archived: bool = False,
        super_admin: bool = False,
        created_at_ms: int | None = None,
    ) -> Owner:
        """Create an owner and, unless ``archived``, its settings user.

        An ``archived`` owner is a deactivated user: ``userId`` null, shown only by
        ``GET /crm/v3/owners?archived=true`` (case B17). ``team_ids[0]`` is the primary team.
        """
        with self.lock:
            oid = owner_id or str(self._next_owner_id)
            self._next_owner_id += 1
            uid = self._next_user_id
            self._next_user_id += 1
            at = self.clock() if created_at_ms is None else created_at_ms
            owner = Owner(
                id=oid,
                email=email,
                first_name=first_name,
                last_name=last_name,
                user_id=None if archived else uid,
                user_id_including_inactive=uid,
                created_ms=at,
                updated_ms=at,
                archived=archived,
                team_ids=list(team_ids),
            )
            self.owners[oid] = owner
            if not archived:
                self.users[str(uid)] = User(
                    id=str(uid),
                    email=email,
                    first_name=first_name,
                    last_name=last_name,
                    role_ids=[] if super_admin else ["100001"],
                    primary_team_id=team_ids[0] if team_ids else None,
                    secondary_team_ids=list(team_ids[1:]),
                    super_admin=super_admin,
                )
            return owner

    def deactivate_owner(self, owner_id: str) -> None:
        """Deactivate an owner's user: the owner becomes archived with ``userId`` null."""
        with self.lock:
            owner = self.owners[owner_id]
            if owner.user_id is not None:
                self.users.pop(str(owner.user_id), None)
            owner.archived = True
            owner.user_id = None
            owner.updated_ms = self.clock()

    def owner_options(self) -> list[PropertyOption]:
        """Options of ``hubspot_owner_id``: the active owners, labelled "First Last"."""
        active = [o for o in self.owners.values() if not o.archived]
        return [
            PropertyOption(f"{o.first_name} {o.last_name}".strip() or o.email, o.id, n)
            for n, o in enumerate(active)
        ]

    def token_user(self) -> User | None:
        """The settings user the API token belongs to: ``token_user_id`` or the super admin."""
        if self.token_user_id is not None:
            return self.users.get(self.token_user_id)
        return next((u for u in self.users.values() if u.super_admin), None)
