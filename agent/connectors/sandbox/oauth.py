"""OAuth bookkeeping every CRM sandbox shares: apps, refresh tokens and the access tokens issued from them.

:class:`TokenBook` keeps, under one lock (tests revoke or expire tokens while a uvicorn thread serves):

- ``clients``: client id -> client secret (one app by default);
- ``refresh_tokens``: refresh token -> ``(client id, user id)``;
- ``access_tokens``: access token -> :class:`AccessToken` (who, which client, issued / expires epoch ms);
- ``issued`` / ``refused``: refreshes answered and refused; ``rotate_refresh_tokens``: a refresh spends
  the refresh token used and hands out a new one.

A sandbox subclasses it, overriding :meth:`TokenBook.new_access_token` / :meth:`TokenBook.new_refresh_token`
for its token formats, and maps :meth:`TokenBook.check_client` / :meth:`TokenBook.grant` /
:meth:`TokenBook.lookup` onto its token endpoint's and its API's answers::

    class ZohoOAuth(TokenBook):
        def new_access_token(self) -> str: return "1000." + secrets.token_hex(16)

    book = ZohoOAuth(state.clock, rotate_refresh_tokens=False)
    grant = book.grant(client_id, refresh_token, lifetime_s=3600)   # None: unknown refresh token
    status, token = book.lookup(bearer)                              # "valid" | "expired" | "unknown"
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

DEFAULT_CLIENT_ID = "sandbox-client-id"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"
DEFAULT_REFRESH_TOKEN = "sandbox-refresh-token"

TokenState = Literal["valid", "expired", "unknown"]
ClientCheck = Literal["ok", "unknown_client", "bad_secret"]


@dataclass(slots=True)
class AccessToken:
    """An issued access token: whose, from which client and refresh token, issued and ending (epoch ms)."""

    user_id: str
    client_id: str
    refresh_token: str
    issued_ms: int
    expires_ms: int


@dataclass(frozen=True, slots=True)
class Grant:
    """A refresh's result: the access token, the new refresh token (None unless rotated), the user, and
    when the access token was issued and ends (epoch ms)."""

    access_token: str
    refresh_token: str | None
    user_id: str
    issued_ms: int
    expires_ms: int


class TokenBook:
    """Apps, refresh tokens and access tokens of a sandbox account; ``clock`` returns epoch ms."""

    def __init__(self, clock: Callable[[], int], *, client_id: str = DEFAULT_CLIENT_ID,
                 client_secret: str = DEFAULT_CLIENT_SECRET, refresh_token: str | None = DEFAULT_REFRESH_TOKEN,
                 user_id: str = "", rotate_refresh_tokens: bool = False) -> None:
        self.clock = clock
        self.clients: dict[str, str] = {client_id: client_secret}
        self.refresh_tokens: dict[str, tuple[str, str]] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.issued = 0
        self.refused = 0
        self._lock = threading.Lock()
        if refresh_token:
            self.refresh_tokens[refresh_token] = (client_id, user_id)

    def new_access_token(self) -> str:
        """A fresh access token (override for the CRM's format)."""
        return "at-" + secrets.token_urlsafe(24)

    def new_refresh_token(self) -> str:
        """A fresh refresh token when rotating (override for the CRM's format)."""
        return "rt-" + secrets.token_urlsafe(24)

    def add_refresh_token(self, refresh_token: str, *, client_id: str = DEFAULT_CLIENT_ID, user_id: str = "") -> None:
        """Authorize the app once more: ``refresh_token`` becomes valid for ``client_id`` acting as ``user_id``."""
        with self._lock:
            self.refresh_tokens[refresh_token] = (client_id, user_id)

    def revoke_refresh_tokens(self) -> None:
        """Uninstall the app: every refresh token (and the access tokens issued from them) stops working."""
        with self._lock:
            self.refresh_tokens.clear()
            self.access_tokens.clear()

    def expire_access_tokens(self) -> None:
        """Make every issued access token expire now (as if its lifetime were over)."""
        with self._lock:
            now = self.clock()
            for token in self.access_tokens.values():
                token.expires_ms = min(token.expires_ms, now)

    def check_client(self, client_id: str, client_secret: str | None) -> ClientCheck:
        """Whether ``client_id`` names an app and ``client_secret`` (None: not sent, not checked) is its secret."""
        with self._lock:
            known = self.clients.get(client_id)
        if known is None:
            return "unknown_client"
        if client_secret is not None and not secrets.compare_digest(known, client_secret):
            return "bad_secret"
        return "ok"

    def grant(self, client_id: str, refresh_token: str, lifetime_s: int) -> Grant | None:
        """Issue an access token living ``lifetime_s`` for a valid refresh token of ``client_id`` (rotating
        the refresh token when on); None (counted in ``refused``) for an unknown one."""
        with self._lock:
            owner = self.refresh_tokens.get(refresh_token)
            if owner is None or owner[0] != client_id:
                self.refused += 1
                return None
            user_id = owner[1]
            now = self.clock()
            access = self.new_access_token()
            expires = now + lifetime_s * 1000
            self.access_tokens[access] = AccessToken(user_id, client_id, refresh_token, now, expires)
            self.issued += 1
            new_refresh: str | None = None
            if self.rotate_refresh_tokens:
                del self.refresh_tokens[refresh_token]
                new_refresh = self.new_refresh_token()
                self.refresh_tokens[new_refresh] = (client_id, user_id)
            return Grant(access, new_refresh, user_id, now, expires)

    def lookup(self, access_token: str) -> tuple[TokenState, AccessToken | None]:
        """``("valid" | "expired" | "unknown", the token's record or None)`` of an access token."""
        with self._lock:
            token = self.access_tokens.get(access_token)
            if token is None:
                return "unknown", None
            return ("expired" if self.clock() >= token.expires_ms else "valid"), token
