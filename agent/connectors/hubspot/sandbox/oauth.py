"""The sandbox's OAuth server: apps, refresh tokens and the access tokens issued from them.

HubSpot OAuth as the sandbox plays it (HubSpot "OAuth tokens" v1 API):

- one app, ``DEFAULT_CLIENT_ID`` / ``DEFAULT_CLIENT_SECRET``, installed with the refresh token
  ``DEFAULT_REFRESH_TOKEN`` (more with :meth:`OAuthServer.add_refresh_token`);
- ``POST /oauth/v1/token`` with ``grant_type=refresh_token`` issues an access token that lives
  ``FaultSwitches.oauth_token_lifetime_s`` seconds (HubSpot: 1800) by the sandbox's clock; the refresh
  token does not change (HubSpot's do not rotate) unless ``rotate_refresh_tokens`` is set;
- an expired access token answers 401 ``EXPIRED_AUTHENTICATION`` ("The OAuth token used to make this
  call expired N second(s) ago."), an unknown one 401 ``INVALID_AUTHENTICATION``;
- a private-app token (``pat-...``) is a bearer token too, but the token lookup
  (``/oauth/v1/access-tokens/{token}``) refuses it as HubSpot does.

Thread-safe: tests may revoke or expire tokens while a uvicorn thread serves.
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
DEFAULT_PRIVATE_APP_TOKEN = "pat-na1-00000000-0000-4000-8000-sandbox00000"
ACCESS_TOKEN_PREFIX = "CJ-sandbox-"

TokenState = Literal["valid", "expired", "unknown"]


@dataclass(slots=True)
class IssuedToken:
    """An access token: when it stops working (epoch ms) and the refresh token it was issued for."""

    expires_at_ms: int
    refresh_token: str


class OAuthServer:
    """OAuth state of the sandbox account; ``clock`` returns epoch ms (the state's clock)."""

    def __init__(self, clock: Callable[[], int], *, client_id: str = DEFAULT_CLIENT_ID,
                 client_secret: str = DEFAULT_CLIENT_SECRET, refresh_token: str | None = DEFAULT_REFRESH_TOKEN,
                 private_app_token: str | None = DEFAULT_PRIVATE_APP_TOKEN) -> None:
        self.clock = clock
        self.apps: dict[str, str] = {client_id: client_secret}
        self.refresh_tokens: dict[str, str] = {}
        self.access_tokens: dict[str, IssuedToken] = {}
        self.private_app_token = private_app_token
        self.issued = 0
        self.rotate_refresh_tokens = False
        self._lock = threading.Lock()
        if refresh_token:
            self.refresh_tokens[refresh_token] = client_id

    def add_refresh_token(self, refresh_token: str, client_id: str = DEFAULT_CLIENT_ID) -> None:
        """Install the app once more: ``refresh_token`` becomes valid for ``client_id``."""
        with self._lock:
            self.refresh_tokens[refresh_token] = client_id

    def revoke_refresh_tokens(self) -> None:
        """Uninstall the app: every refresh token (and the access tokens issued from them) stops working."""
        with self._lock:
            self.refresh_tokens.clear()
            self.access_tokens.clear()

    def expire_access_tokens(self) -> None:
        """Make every issued access token expire now (as if their 30 minutes were over)."""
        with self._lock:
            now = self.clock()
            for token in self.access_tokens.values():
                token.expires_at_ms = min(token.expires_at_ms, now)

    def check_client(self, client_id: str, client_secret: str) -> Literal["ok", "BAD_CLIENT_ID", "BAD_CLIENT_SECRET"]:
        """Whether ``client_id``/``client_secret`` name the app."""
        with self._lock:
            known = self.apps.get(client_id)
        if known is None:
            return "BAD_CLIENT_ID"
        return "ok" if secrets.compare_digest(known, client_secret) else "BAD_CLIENT_SECRET"

    def refresh(self, client_id: str, refresh_token: str, lifetime_s: int) -> tuple[str, str] | None:
        """Issue an access token for a valid refresh token of ``client_id``; returns ``(access, refresh)``
        (the refresh token is new only when rotating) or None for an unknown refresh token."""
        with self._lock:
            if self.refresh_tokens.get(refresh_token) != client_id:
                return None
            access = ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(24)
            self.access_tokens[access] = IssuedToken(self.clock() + lifetime_s * 1000, refresh_token)
            self.issued += 1
            if self.rotate_refresh_tokens:
                del self.refresh_tokens[refresh_token]
                refresh_token = "rt-" + secrets.token_urlsafe(24)
                self.refresh_tokens[refresh_token] = client_id
            return access, refresh_token

    def state_of(self, access_token: str) -> tuple[TokenState, int]:
        """``("valid" | "expired" | "unknown", expires_at_ms)`` of an access token (0 when unknown)."""
        with self._lock:
            issued = self.access_tokens.get(access_token)
            if issued is None:
                return "unknown", 0
            if self.clock() >= issued.expires_at_ms:
                return "expired", issued.expires_at_ms
            return "valid", issued.expires_at_ms
