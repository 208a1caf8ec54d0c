"""The sandbox's OAuth server: apps, refresh tokens and the access tokens issued from them.

HubSpot OAuth as the sandbox plays it (HubSpot "OAuth tokens" v1 API), on the shared bookkeeping of
:class:`leadsync.agent.connectors.sandbox.oauth.TokenBook`:

- one app, ``DEFAULT_CLIENT_ID`` / ``DEFAULT_CLIENT_SECRET``, installed with the refresh token
  ``DEFAULT_REFRESH_TOKEN`` (more with :meth:`OAuthServer.add_refresh_token`);
- ``POST /oauth/v1/token`` with ``grant_type=refresh_token`` issues an access token that lives
  ``FaultSwitches.oauth_token_lifetime_s`` seconds (HubSpot: 1800) by the sandbox's clock; the refresh
  token does not change (HubSpot's do not rotate) unless ``rotate_refresh_tokens`` is set;
- an expired access token answers 401 ``EXPIRED_AUTHENTICATION`` ("The OAuth token used to make this
  call expired N second(s) ago."), an unknown one 401 ``INVALID_AUTHENTICATION``;
- a private-app token (``pat-...``) is a bearer token too, but the token lookup
  (``/oauth/v1/access-tokens/{token}``) refuses it as HubSpot does.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from leadsync.agent.connectors.sandbox.oauth import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    TokenBook,
    TokenState,
)

__all__ = ["ACCESS_TOKEN_PREFIX", "DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "DEFAULT_PRIVATE_APP_TOKEN",
           "DEFAULT_REFRESH_TOKEN", "OAuthServer", "TokenState"]

DEFAULT_PRIVATE_APP_TOKEN = "pat-na1-00000000-0000-4000-8000-sandbox00000"
ACCESS_TOKEN_PREFIX = "CJ-sandbox-"


class OAuthServer(TokenBook):
    """OAuth state of the sandbox account; ``clock`` returns epoch ms (the state's clock)."""

    def __init__(self, clock: Callable[[], int], *, client_id: str = DEFAULT_CLIENT_ID,
                 client_secret: str = DEFAULT_CLIENT_SECRET, refresh_token: str | None = DEFAULT_REFRESH_TOKEN,
                 private_app_token: str | None = DEFAULT_PRIVATE_APP_TOKEN) -> None:
        super().__init__(clock, client_id=client_id, client_secret=client_secret, refresh_token=refresh_token)
        self.private_app_token = private_app_token

    def new_access_token(self) -> str:
        return ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(24)

    def state_of(self, access_token: str) -> tuple[TokenState, int]:
        """``("valid" | "expired" | "unknown", expires_at_ms)`` of an access token (0 when unknown)."""
        status, token = self.lookup(access_token)
        return status, token.expires_ms if token is not None else 0
