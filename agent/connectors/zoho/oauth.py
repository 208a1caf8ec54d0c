"""Zoho OAuth 2.0 per data center: access tokens from a refresh token, and the ``api_domain`` (case B24).

Each Zoho data center has its own accounts server (:data:`ACCOUNTS_URLS`: ``https://accounts.zoho.com``,
``.eu``, ``.in``, ``.com.au``, ``.jp``, ``.com.cn``, ``zohocloud.ca``, ``.sa``) and its own API domain
(``https://www.zohoapis.com``, ``.eu``...). A connection's credentials are ``{"client_id",
"client_secret", "refresh_token"}`` and, once a token was issued, ``access_token``, ``api_domain`` and
``access_token_expires_at`` (epoch ms UTC, as strings). :class:`ZohoSession` is their
:class:`~leadsync.agent.connectors.http.Authenticator`:

- ``POST {accounts}/oauth/v2/token`` with the form ``grant_type=refresh_token``, ``client_id``,
  ``client_secret``, ``refresh_token`` ("Refresh Access Token"; the form body, not the query string, so no
  secret travels in a URL) answers ``{access_token, api_domain, token_type: "Bearer", expires_in}``. Today
  ``expires_in`` is seconds (3600); older answers carried ``expires_in`` in **milliseconds** (3600000)
  beside ``expires_in_sec`` (3600). :func:`token_lifetime_s`: ``expires_in_sec`` wins, and an
  ``expires_in`` above a day is milliseconds. Tokens last an hour;
- every API call goes to the ``api_domain`` of the last answer (the accounts URL only issues tokens),
  ``Authorization: Zoho-oauthtoken <token>``;
- one refresh at a time (:class:`~leadsync.agent.connectors.oauth_session.RefreshTokenSession`, as for
  every CRM): Zoho allows only a few access tokens per refresh token in ten minutes, so concurrent 401s must
  not each ask; a token is refreshed a tenth of its life (at most 5 minutes) before it ends, and a 401
  ``INVALID_TOKEN`` anyway refreshes once and the request is retried once;
- Zoho does not rotate refresh tokens; the new access token and its expiry still go to ``save_credentials``
  so a restarted agent does not ask again;
- the accounts server refuses a bad refresh token with **HTTP 200** ``{"error": "invalid_code"}`` (or
  4xx ``invalid_client``...): that raises :class:`~leadsync.common.errors.CrmAuthError` (category
  ``needs_reauth``), tells ``on_status`` ``"needs_reauth"``, and every later request fails the same way
  at once. ``{"error": "Access Denied"}`` ("too many requests") is a rate limit, not a refusal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from leadsync.agent.connectors import oauth_session
from leadsync.agent.connectors.http import HttpClient
from leadsync.agent.connectors.oauth_session import NowMs, RefreshTokenSession, SaveCredentials, StatusHook
from leadsync.agent.connectors.zoho.errors import CRM, oauth_error
from leadsync.common.errors import CrmError, CrmRateLimitedError

__all__ = ["ACCOUNTS_URLS", "SaveCredentials", "StatusHook", "ZohoSession", "token_lifetime_s"]

ACCOUNTS_URLS: Final[Mapping[str, str]] = {
    "us": "https://accounts.zoho.com",
    "eu": "https://accounts.zoho.eu",
    "in": "https://accounts.zoho.in",
    "au": "https://accounts.zoho.com.au",
    "jp": "https://accounts.zoho.jp",
    "cn": "https://accounts.zoho.com.cn",
    "ca": "https://accounts.zohocloud.ca",
    "sa": "https://accounts.zoho.sa",
}
"""Zoho accounts server of each data center: the connector's ``base_url``."""
DEFAULT_LIFETIME_S: Final = 3600.0
_THROTTLED: Final = "access denied"


def token_lifetime_s(answer: Mapping[str, Any]) -> float:
    """Seconds an issued access token lives (see the module docstring; case B24).

    ``{"expires_in": 3600000, "expires_in_sec": 3600}`` -> 3600; ``{"expires_in": 3600}`` -> 3600;
    ``{"expires_in": 3600000}`` -> 3600 (too long for seconds); nothing usable -> one hour. Capped at a day.
    """
    return oauth_session.token_lifetime_s(answer, DEFAULT_LIFETIME_S)


class ZohoSession(RefreshTokenSession):
    """The access token and API domain of one OAuth connection; see the module docstring.

    ``http`` sends the token requests (its base URL is ``accounts_url``). Raises ValidationError when
    ``client_id``, ``client_secret`` or ``refresh_token`` is missing.
    """

    CRM = CRM
    TOKEN_PATH = "/oauth/v2/token"
    MISSING = ("credentials: a Zoho CRM connection needs {} (a self client or server-based client of the data "
               "center's API console)")
    SCHEME = "Zoho-oauthtoken"
    BASE_KEY = "api_domain"
    DEFAULT_LIFETIME_S = DEFAULT_LIFETIME_S

    def __init__(self, http: HttpClient, credentials: Mapping[str, str], *, accounts_url: str, now_ms: NowMs,
                 save_credentials: SaveCredentials | None = None, on_status: StatusHook | None = None) -> None:
        super().__init__(http, credentials, now_ms=now_ms, issuer_url=accounts_url,
                         save_credentials=save_credentials, on_status=on_status)

    async def api_domain(self) -> str:
        """The API base URL (``https://www.zohoapis.eu``), getting a token first if there is none."""
        return await self.api_base()

    def refusal(self, exc: CrmError) -> str | None:
        """A 4xx from the accounts server (``invalid_client``...) refuses the refresh token, unless it is
        "Access Denied" / "too many requests": a rate limit, raised as it is."""
        if exc.status in (400, 401, 403) and not _throttled(exc.category, exc.message):
            return exc.category or exc.message
        return None

    def answer_refusal(self, answer: Any) -> str | None:
        """``{"error": "invalid_code"}`` with HTTP 200 refuses the refresh token; ``{"error": "Access Denied"}``
        raises CrmRateLimitedError."""
        error = oauth_error(answer)
        if error is not None and _throttled(error, str(answer.get("error_description") or "")):
            raise CrmRateLimitedError(f"zoho: the accounts server refused a new token for now ({error}); "
                                      "too many token requests", crm=CRM, status=400, category=error)
        return error


def _throttled(error: str | None, description: str) -> bool:
    return _THROTTLED in (error or "").lower() or "too many requests" in description.lower()
