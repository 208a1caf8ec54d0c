"""Salesforce OAuth 2.0 refresh-token flow: sessions, ``instance_url``, rotation (cases B24, S05-style).

A connection's credentials are ``{"client_id", "refresh_token"}`` plus ``client_secret`` when the
connected app requires it, and, once a token was issued, ``access_token``, ``instance_url``,
``issued_at`` and ``access_token_expires_at`` (epoch ms UTC, as strings). :class:`SalesforceSession`
is their :class:`~leadsync.agent.connectors.http.Authenticator`:

- ``POST {login_url}/services/oauth2/token`` (form: ``grant_type=refresh_token``, ``client_id``,
  ``client_secret``, ``refresh_token``; "OAuth 2.0 Refresh Token Flow for Renewed Sessions") answers
  ``{access_token, instance_url, id, token_type, issued_at (epoch ms), signature, scope}`` and, with
  refresh-token rotation on, a new ``refresh_token``: the old one is then spent. ``instance_url`` is the
  base of every API call afterwards;
- the answer has no lifetime: an access token is a session that ends after the org's session timeout
  (Setup > Session Settings; 2 hours by default). The session is therefore refreshed
  ``session_timeout_s`` after it was requested (minus a margin: 5 minutes or a tenth of it), and a 401
  ``INVALID_SESSION_ID`` anyway (a shorter timeout, a revoked session) refreshes once and the request is
  sent once more. When an answer does carry ``expires_in`` / ``expires_in_sec`` it is read defensively
  (case B24: ``expires_in_sec`` wins; an ``expires_in`` too large for seconds is milliseconds);
- the rest is :class:`~leadsync.agent.connectors.oauth_session.RefreshTokenSession`: one refresh at a time,
  so concurrent 401s spend a rotating refresh token once; new tokens go to ``save_credentials`` (the agent's
  secret store) before they are used; a refused refresh (400/401/403, e.g. ``invalid_grant`` "expired
  access/refresh token") raises :class:`~leadsync.common.errors.CrmAuthError` (category ``needs_reauth``,
  naming Salesforce's reason) once and tells ``on_status``; every later request fails the same way at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from leadsync.agent.connectors.http import HttpClient
from leadsync.agent.connectors.oauth_session import (
    NowMs,
    RefreshTokenSession,
    SaveCredentials,
    StatusHook,
    check_base_url,
)
from leadsync.agent.connectors.salesforce.errors import CRM
from leadsync.agent.connectors.salesforce.spec import OAUTH_KEYS

__all__ = ["DEFAULT_SESSION_TIMEOUT_S", "OAUTH_KEYS", "SalesforceSession", "SaveCredentials", "StatusHook",
           "check_instance_url", "is_oauth"]

DEFAULT_SESSION_TIMEOUT_S: Final = 7200.0
"""Salesforce's default session timeout (2 hours); set the org's own value when it is shorter."""


def is_oauth(credentials: Mapping[str, str]) -> bool:
    """True when ``credentials`` hold a connected app's client id and a refresh token."""
    return all(credentials.get(key) for key in OAUTH_KEYS)


def check_instance_url(url: str, login_url: str) -> str:
    """``url`` without a trailing slash if it can be an API base: https, or http only when the login
    URL is http too (a local sandbox). Raises CrmProtocolError otherwise."""
    return check_base_url(url, login_url, crm=CRM, key="instance_url")


class SalesforceSession(RefreshTokenSession):
    """The session (access token and instance URL) of one OAuth connection; see the module docstring.

    ``http`` sends the token requests (its base URL is ``login_url``). ``session_timeout_s`` is how long
    the org keeps a session. Raises ValidationError when ``client_id`` or ``refresh_token`` is missing.
    """

    CRM = CRM
    TOKEN_PATH = "/services/oauth2/token"
    REQUIRED = OAUTH_KEYS
    MISSING = "credentials: a Salesforce OAuth connection needs {}"
    BASE_KEY = "instance_url"
    KEPT = ("id", "issued_at")

    def __init__(self, http: HttpClient, credentials: Mapping[str, str], *, login_url: str, now_ms: NowMs,
                 session_timeout_s: float = DEFAULT_SESSION_TIMEOUT_S,
                 save_credentials: SaveCredentials | None = None, on_status: StatusHook | None = None) -> None:
        super().__init__(http, credentials, now_ms=now_ms, issuer_url=login_url, lifetime_s=session_timeout_s,
                         save_credentials=save_credentials, on_status=on_status)

    @property
    def identity_url(self) -> str:
        """The identity URL (``id``) of the last token answer, "" before one."""
        return self._kept.get("id", "")

    async def instance_url(self) -> str:
        """The API base URL (``https://MyDomain.my.salesforce.com``), refreshing first if there is none."""
        return await self.api_base()
