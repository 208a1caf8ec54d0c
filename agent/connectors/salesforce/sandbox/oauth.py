"""OAuth state of the sandbox org: connected apps, refresh tokens (with rotation) and sessions, on the
shared bookkeeping of :class:`leadsync.agent.connectors.sandbox.oauth.TokenBook`.

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
from collections.abc import Callable

from leadsync.agent.connectors.sandbox.oauth import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    AccessToken,
    Grant,
    TokenBook,
    TokenState,
)

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "DEFAULT_REFRESH_TOKEN", "DEFAULT_SESSION_TIMEOUT_S",
           "Grant", "OAuthServer", "TokenState"]

DEFAULT_SESSION_TIMEOUT_S = 7200


class OAuthServer(TokenBook):
    """Connected apps, refresh tokens and sessions; ``clock`` returns epoch ms (the state's clock)."""

    def __init__(self, clock: Callable[[], int], org_id: str, *, client_id: str = DEFAULT_CLIENT_ID,
                 client_secret: str = DEFAULT_CLIENT_SECRET, refresh_token: str | None = DEFAULT_REFRESH_TOKEN,
                 user_id: str = "", session_timeout_s: int = DEFAULT_SESSION_TIMEOUT_S,
                 rotate_refresh_tokens: bool = True) -> None:
        super().__init__(clock, client_id=client_id, client_secret=client_secret, refresh_token=refresh_token,
                         user_id=user_id, rotate_refresh_tokens=rotate_refresh_tokens)
        self.org_id = org_id
        self.session_timeout_s = session_timeout_s

    @property
    def sessions(self) -> dict[str, AccessToken]:
        """The issued sessions by access token (``access_tokens``)."""
        return self.access_tokens

    def new_access_token(self) -> str:
        return f"{self.org_id[:15]}!AQ" + secrets.token_urlsafe(36).replace("-", "x").replace("_", "y")

    def new_refresh_token(self) -> str:
        return "5Aep861" + secrets.token_urlsafe(40).replace("-", "x").replace("_", "y")

    def add_refresh_token(self, refresh_token: str, user_id: str = "", client_id: str = DEFAULT_CLIENT_ID) -> None:
        """Make ``refresh_token`` valid for ``client_id`` acting as ``user_id`` (a new authorization)."""
        super().add_refresh_token(refresh_token, client_id=client_id, user_id=user_id)

    def bind_default_user(self, user_id: str) -> None:
        """Give refresh tokens issued before any user existed (the default one) to ``user_id``."""
        with self._lock:
            for token, (client, user) in list(self.refresh_tokens.items()):
                if not user:
                    self.refresh_tokens[token] = (client, user_id)

    def expire_sessions(self) -> None:
        """End every session now (as if the session timeout had passed)."""
        self.expire_access_tokens()

    def refresh(self, client_id: str, refresh_token: str) -> Grant | None:
        """A new session for a valid refresh token of ``client_id`` (rotating it when on); None otherwise."""
        return self.grant(client_id, refresh_token, self.session_timeout_s)

    def session(self, access_token: str) -> tuple[TokenState, str]:
        """``(state, user id)`` of an access token (user id "" when unknown)."""
        status, token = self.lookup(access_token)
        return status, token.user_id if token is not None else ""

    def signature(self, client_id: str, identity_url: str, issued_at: str) -> str:
        """The answer's ``signature``: base64 HMAC-SHA256 of ``id + issued_at`` keyed by the client secret."""
        with self._lock:
            key = self.clients.get(client_id, "")
        digest = hmac.new(key.encode(), (identity_url + issued_at).encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    def summary(self) -> dict[str, object]:
        """JSON-ready counts (``GET /__sandbox/oauth``)."""
        with self._lock:
            return {"issued": self.issued, "refused": self.refused, "sessions": len(self.access_tokens),
                    "refresh_tokens": len(self.refresh_tokens), "session_timeout_s": self.session_timeout_s,
                    "rotate_refresh_tokens": self.rotate_refresh_tokens}
