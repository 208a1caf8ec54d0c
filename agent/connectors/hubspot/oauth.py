"""HubSpot OAuth: access tokens from a refresh token, refreshed before they expire (case B24).

An OAuth connection is ``{"client_id", "client_secret", "refresh_token"}`` (plus, once a token was
issued, ``access_token`` and ``access_token_expires_at`` in epoch ms UTC). :class:`OAuthSession` is
the :class:`~leadsync.agent.connectors.http.Authenticator` of such a connection: the token comes from
``POST /oauth/v1/token`` (form-encoded ``grant_type=refresh_token``, ``client_id``, ``client_secret``,
``refresh_token``), which answers ``{access_token, refresh_token, expires_in, token_type}`` with
``expires_in`` in **seconds** (HubSpot "Refresh an access token"; tokens last 30 minutes).
:func:`token_lifetime_s` reads the lifetime defensively: an explicit seconds field (``expires_in_sec``,
as Zoho sends) wins, and a value too large to be seconds is taken as milliseconds.

The rest is :class:`~leadsync.agent.connectors.oauth_session.RefreshTokenSession`: one refresh at a time,
a refresh 5 minutes (at most a tenth of the lifetime) before expiry so interval syncs never meet a 401,
new tokens stored through ``save_credentials`` (the agent's :class:`~leadsync.agent.secrets.SecretStore`)
before they are used, and a refused refresh (400/401/403: ``BAD_REFRESH_TOKEN``, OAuth ``invalid_grant``,
a revoked app) marking the connection ``needs_reauth`` once, every later request failing at once with
:class:`~leadsync.common.errors.CrmAuthError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from leadsync.agent.connectors import oauth_session
from leadsync.agent.connectors.hubspot.spec import OAUTH_KEYS
from leadsync.agent.connectors.oauth_session import RefreshTokenSession, SaveCredentials, StatusHook

__all__ = ["DEFAULT_LIFETIME_S", "OAUTH_KEYS", "OAuthSession", "SaveCredentials", "StatusHook", "is_oauth",
           "token_lifetime_s"]

DEFAULT_LIFETIME_S: Final = 1800.0
"""HubSpot's access-token lifetime, assumed when an answer gives none."""


def is_oauth(credentials: Mapping[str, str]) -> bool:
    """True when ``credentials`` name an OAuth app and refresh token rather than a private-app token."""
    return all(credentials.get(key) for key in OAUTH_KEYS)


def token_lifetime_s(answer: Mapping[str, Any]) -> float:
    """Seconds an issued access token lives (HubSpot's 30 minutes when the answer gives none usable)."""
    return oauth_session.token_lifetime_s(answer, DEFAULT_LIFETIME_S)


class OAuthSession(RefreshTokenSession):
    """The access token of one HubSpot OAuth connection; see the module docstring."""

    CRM = "hubspot"
    TOKEN_PATH = "/oauth/v1/token"
    DEFAULT_LIFETIME_S = DEFAULT_LIFETIME_S
