"""OAuth state of the sandbox org: connected apps, refresh tokens (with rotation) and sessions.

- ``POST /services/oauth2/token`` with ``grant_type=refresh_token`` issues a session (access token) for a
  known refresh token of the client; with rotation on (the default here, "Refresh Token Rotation" of a
  connected app) it also issues a new refresh token and the one used is spent: using it again answers
  400 ``invalid_grant`` "expired access/refresh token";
- a session ends ``session_timeout_s`` after it was issued (Salesforce's token answer names no lifetime:
  "the session timeout value determines when an access token is no longer valid"); a request with an
  ended, revoked or unknown session answers 401 ``INVALID_SESSION_ID``. The sandbox counts the timeout
  from issue, never extending it on use (stricter than Salesforce, which may extend active sessions);
- the static sandbox token (``SandboxState.api_user_id``'s session id for demos and the official client)
  never times out.

Access tokens look like Salesforce session ids: ``<org id 15>!<random>``. Thread-safe.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

DEFAULT_CLIENT_ID = "sandbox-client-id"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"
DEFAULT_REFRESH_TOKEN = "sandbox-refresh-token"
DEFAULT_SESSION_TIMEOUT_S = 7200

SessionState = Literal["valid", "expired", "unknown"]


@dataclass(slots=True)
class Session:
    """An issued access token: whose, from which client, when it was issued and when it ends (epoch ms)."""

    user_id: str
    client_id: str
    issued_ms: int
    expires_ms: int


@dataclass(frozen=True, slots=True)
class Issued:
    """A token endpoint answer's parts: the access token, the new refresh token (None without rotation),
    the user, and the issue time (epoch ms)."""

    access_token: str
    refresh_token: str | None
    user_id: str
    issued_ms: int


class OAuthServer:
    """Connected apps, refresh tokens and sessions; ``clock`` returns epoch ms (the state's clock)."""

    def __init__(self, clock: Callable[[], int], org_id: str, *, client_id: str = DEFAULT_CLIENT_ID,
                 client_secret: str = DEFAULT_CLIENT_SECRET, refresh_token: str | None = DEFAULT_REFRESH_TOKEN,
                 user_id: str = "", session_timeout_s: int = DEFAULT_SESSION_TIMEOUT_S,
                 rotate_refresh_tokens: bool = True) -> None:
        self.clock = clock
        self.org_id = org_id
        self.clients: dict[str, str] = {client_id: client_secret}
        self.refresh_tokens: dict[str, tuple[str, str]] = {}
        self.sessions: dict[str, Session] = {}
        self.session_timeout_s = session_timeout_s
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.issued = 0
        self.refused = 0
        self._lock = threading.Lock()
        if refresh_token:
            self.refresh_tokens[refresh_token] = (client_id, user_id)

    def add_refresh_token(self, refresh_token: str, user_id: str, client_id: str = DEFAULT_CLIENT_ID) -> None:
        """Make ``refresh_token`` valid for ``client_id`` acting as ``user_id`` (a new authorization)."""
        with self._lock:
            self.refresh_tokens[refresh_token] = (client_id, user_id)

    def bind_default_user(self, user_id: str) -> None:
        """Give refresh tokens issued before any user existed (the default one) to ``user_id``."""
        with self._lock:
            for token, (client, user) in list(self.refresh_tokens.items()):
                if not user:
                    self.refresh_tokens[token] = (client, user_id)

    def revoke_refresh_tokens(self) -> None:
        """Revoke every refresh token and session (the app was uninstalled or the user's access revoked)."""
        with self._lock:
            self.refresh_tokens.clear()
            self.sessions.clear()

    def expire_sessions(self) -> None:
        """End every session now (as if the session timeout had passed)."""
        with self._lock:
            now = self.clock()
            for session in self.sessions.values():
                session.expires_ms = min(session.expires_ms, now)

    def check_client(self, client_id: str, client_secret: str | None) -> Literal["ok", "invalid_client_id",
                                                                                  "invalid_client"]:
        """Whether the client id is known and, when a secret is sent, the secret matches."""
        with self._lock:
            known = self.clients.get(client_id)
        if known is None:
            return "invalid_client_id"
        if client_secret is not None and not secrets.compare_digest(known, client_secret):
            return "invalid_client"
        return "ok"

    def refresh(self, client_id: str, refresh_token: str) -> Issued | None:
        """A new session for a valid refresh token of ``client_id`` (rotating it when on); None otherwise."""
        with self._lock:
            owner = self.refresh_tokens.get(refresh_token)
            if owner is None or owner[0] != client_id:
                self.refused += 1
                return None
            user_id = owner[1]
            now = self.clock()
            access = f"{self.org_id[:15]}!AQ" + secrets.token_urlsafe(36).replace("-", "x").replace("_", "y")
            self.sessions[access] = Session(user_id, client_id, now, now + self.session_timeout_s * 1000)
            self.issued += 1
            new_refresh: str | None = None
            if self.rotate_refresh_tokens:
                del self.refresh_tokens[refresh_token]
                new_refresh = "5Aep861" + secrets.token_urlsafe(40).replace("-", "x").replace("_", "y")
                self.refresh_tokens[new_refresh] = (client_id, user_id)
            return Issued(access, new_refresh, user_id, now)

    def session(self, access_token: str) -> tuple[SessionState, str]:
        """``(state, user id)`` of an access token (user id "" when unknown)."""
        with self._lock:
            session = self.sessions.get(access_token)
            if session is None:
                return "unknown", ""
            if self.clock() >= session.expires_ms:
                return "expired", session.user_id
            return "valid", session.user_id

    def signature(self, client_id: str, identity_url: str, issued_at: str) -> str:
        """The answer's ``signature``: base64 HMAC-SHA256 of ``id + issued_at`` keyed by the client secret."""
        with self._lock:
            key = self.clients.get(client_id, "")
        digest = hmac.new(key.encode(), (identity_url + issued_at).encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    def summary(self) -> dict[str, object]:
        """JSON-ready counts (``GET /__sandbox/oauth``)."""
        with self._lock:
            return {"issued": self.issued, "refused": self.refused, "sessions": len(self.sessions),
                    "refresh_tokens": len(self.refresh_tokens), "session_timeout_s": self.session_timeout_s,
                    "rotate_refresh_tokens": self.rotate_refresh_tokens}
