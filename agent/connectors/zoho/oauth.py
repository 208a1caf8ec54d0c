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
- one refresh at a time (an :class:`asyncio.Lock`): Zoho allows only a few access tokens per refresh token
  in ten minutes, so concurrent 401s must not each ask; a token is refreshed a tenth of its life (at most 5
  minutes) before it ends, and a 401 ``INVALID_TOKEN`` anyway refreshes once and the request is retried once;
- Zoho does not rotate refresh tokens; the new access token and its expiry still go to ``save_credentials``
  so a restarted agent does not ask again;
- the accounts server refuses a bad refresh token with **HTTP 200** ``{"error": "invalid_code"}`` (or
  4xx ``invalid_client``...): that raises :class:`~leadsync.common.errors.CrmAuthError` (category
  ``needs_reauth``), tells ``on_status`` ``"needs_reauth"``, and every later request fails the same way
  at once. ``{"error": "Access Denied"}`` ("too many requests") is a rate limit, not a refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final
from urllib.parse import quote, urlsplit

from leadsync.agent.connectors.http import HttpClient, check_token
from leadsync.agent.connectors.zoho.errors import CRM, oauth_error
from leadsync.common.errors import CrmAuthError, CrmError, CrmProtocolError, CrmRateLimitedError, ValidationError

log = logging.getLogger("leadsync.oauth")

TOKEN_PATH: Final = "/oauth/v2/token"
OAUTH_KEYS: Final = ("client_id", "client_secret", "refresh_token")
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
MAX_LIFETIME_S: Final = 86_400.0
REFRESH_MARGIN_S: Final = 300.0
NEEDS_REAUTH: Final = "needs_reauth"
CONNECTED: Final = "connected"
_THROTTLED: Final = "access denied"

SaveCredentials = Callable[[dict[str, str]], None]
"""Stores the connection's credentials (all of them, as strings) atomically."""
StatusHook = Callable[[str], Awaitable[None] | None]
"""Told ``"connected"`` after a refresh and ``"needs_reauth"`` when the refresh token is refused."""
NowMs = Callable[[], int]


def token_lifetime_s(answer: Mapping[str, Any]) -> float:
    """Seconds an issued access token lives (see the module docstring; case B24).

    ``{"expires_in": 3600000, "expires_in_sec": 3600}`` -> 3600; ``{"expires_in": 3600}`` -> 3600;
    ``{"expires_in": 3600000}`` -> 3600 (too long for seconds); nothing usable -> one hour. Capped at a day.
    """
    for key, per_second in (("expires_in_sec", 1.0), ("expires_in", 1.0)):
        raw = answer.get(key)
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            continue
        try:
            value = float(raw)
        except ValueError:
            continue
        if not math.isfinite(value) or value <= 0:
            continue
        if key == "expires_in" and value > MAX_LIFETIME_S:
            per_second = 1000.0
        return min(max(value / per_second, 1.0), MAX_LIFETIME_S)
    return DEFAULT_LIFETIME_S


def check_api_domain(url: str, accounts_url: str) -> str:
    """``url`` without a trailing slash if it can be an API domain: https, or http only when the accounts
    URL is http too (a local sandbox). Raises CrmProtocolError otherwise."""
    parts = urlsplit(url)
    allowed = ("https",) if urlsplit(accounts_url).scheme == "https" else ("https", "http")
    if parts.scheme not in allowed or not parts.netloc or parts.query or parts.fragment:
        raise CrmProtocolError(f"Zoho named an unusable api_domain {url!r}", crm=CRM)
    return url.rstrip("/")


def _epoch_ms(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


class ZohoSession:
    """The access token and API domain of one OAuth connection; see the module docstring.

    ``http`` sends the token requests (its base URL is ``accounts_url``; never with an ``Authorization``
    header). ``now_ms`` is the wall clock (epoch ms UTC). Raises ValidationError when ``client_id``,
    ``client_secret`` or ``refresh_token`` is missing. ``refreshes`` counts the tokens obtained.
    """

    def __init__(self, http: HttpClient, credentials: Mapping[str, str], *, accounts_url: str, now_ms: NowMs,
                 save_credentials: SaveCredentials | None = None, on_status: StatusHook | None = None) -> None:
        missing = [key for key in OAUTH_KEYS if not credentials.get(key)]
        if missing:
            raise ValidationError(f"credentials: a Zoho CRM connection needs {', '.join(missing)} (a self client "
                                  "or server-based client of the data center's API console)")
        self._http = http
        self._accounts_url = accounts_url.rstrip("/")
        self._stored = {key: credentials[key] for key in OAUTH_KEYS}
        self._token = credentials.get("access_token") or ""
        domain = credentials.get("api_domain") or ""
        self._api_domain = check_api_domain(domain, self._accounts_url) if domain else ""
        self._expires_at_ms = _epoch_ms(credentials.get("access_token_expires_at"))
        self._lifetime_s = DEFAULT_LIFETIME_S
        self._now_ms = now_ms
        self._save = save_credentials
        self._on_status = on_status
        self._lock = asyncio.Lock()
        self._refused: CrmAuthError | None = None
        self.refreshes = 0
        http.add_secrets(self._stored["client_secret"], self._stored["refresh_token"], self._token,
                         quote(self._token, safe=""))

    def __repr__(self) -> str:
        return f"ZohoSession(api_domain={self._api_domain!r}, refreshes={self.refreshes})"

    def credentials(self) -> dict[str, str]:
        """The credentials as they stand (latest access token, API domain and expiry), to store."""
        values = dict(self._stored)
        if self._token and self._api_domain and self._expires_at_ms is not None:
            values.update(access_token=self._token, api_domain=self._api_domain,
                          access_token_expires_at=str(self._expires_at_ms))
        return values

    @property
    def needs_reauth(self) -> bool:
        """True once the refresh token was refused: new credentials are needed (crm.connect)."""
        return self._refused is not None

    async def api_domain(self) -> str:
        """The API base URL (``https://www.zohoapis.eu``), getting a token first if there is none."""
        if not self._usable():
            await self._refresh_once(rejected=None)
        return self._api_domain

    async def authorization(self) -> str:
        """``Zoho-oauthtoken <access token>``, refreshing first when there is none or it is about to end."""
        if self._usable():
            return self._header()
        await self._refresh_once(rejected=None)
        return self._header()

    async def unauthorized(self, rejected: str) -> bool:
        """A request sent with ``rejected`` got 401: refresh unless a concurrent caller already did."""
        await self._refresh_once(rejected=rejected)
        return True

    def _header(self) -> str:
        return f"Zoho-oauthtoken {self._token}"

    def _usable(self) -> bool:
        if self._refused is not None:
            raise self._refused
        if not self._token or not self._api_domain or self._expires_at_ms is None:
            return False
        margin_ms = min(REFRESH_MARGIN_S, self._lifetime_s / 10) * 1000
        return self._now_ms() < self._expires_at_ms - margin_ms

    async def _refresh_once(self, *, rejected: str | None) -> None:
        """Refresh under the lock, unless the token changed while waiting for it (another caller refreshed)."""
        async with self._lock:
            fresh = self._usable()
            if fresh and (rejected is None or rejected != self._header()):
                return
            await self._refresh()

    async def _refresh(self) -> None:
        sent_at = self._now_ms()
        form = {"grant_type": "refresh_token", **self._stored}
        try:
            answer = await self._http.request_json("POST", TOKEN_PATH, form=form, authenticate=False)
        except CrmError as exc:
            if exc.status in (400, 401, 403) and not _throttled(exc.category, exc.message):
                raise await self._refuse(exc.category or exc.message) from None
            raise
        error = oauth_error(answer)
        if error is not None:
            if _throttled(error, str(answer.get("error_description") or "")):
                raise CrmRateLimitedError(f"zoho: the accounts server refused a new token for now ({error}); "
                                          "too many token requests", crm=CRM, status=400, category=error)
            raise await self._refuse(error)
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise CrmProtocolError("zoho: the accounts server answered without an access_token", crm=CRM)
        try:
            check_token("access_token", token)
        except ValidationError:
            raise CrmProtocolError("zoho: the accounts server issued a token that cannot be sent in a header",
                                   crm=CRM) from None
        self._http.add_secrets(token, quote(token, safe=""))
        assert isinstance(answer, dict)
        raw_domain = answer.get("api_domain")
        domain = check_api_domain(raw_domain, self._accounts_url) if isinstance(raw_domain, str) and raw_domain \
            else self._api_domain
        if not domain:
            raise CrmProtocolError("zoho: the accounts server answered without an api_domain", crm=CRM)
        lifetime = token_lifetime_s(answer)
        self._token, self._api_domain, self._lifetime_s = token, domain, lifetime
        self._expires_at_ms = sent_at + int(lifetime * 1000)  # counted from before the request: never late
        self.refreshes += 1
        if self._save is not None:
            try:
                await asyncio.to_thread(self._save, self.credentials())
            except OSError as exc:
                log.warning("zoho: could not store the new access token (%s); keeping it in memory",
                            type(exc).__name__)
        log.info("zoho: access token refreshed (api domain %s, valid %.0f s)", domain, lifetime)
        await self._status(CONNECTED)

    async def _refuse(self, reason: str) -> CrmAuthError:
        refused = self._refused = CrmAuthError(
            f"zoho: the refresh token was refused ({reason}); the connection needs re-authentication: "
            "crm.reauth with new credentials", crm=CRM, status=401, category=NEEDS_REAUTH)
        log.warning("zoho: OAuth refresh refused (%s); the connection needs re-authentication", reason)
        await self._status(NEEDS_REAUTH)
        return refused

    async def _status(self, status: str) -> None:
        await announce(self._on_status, status)


async def announce(hook: StatusHook | None, status: str) -> None:
    """Tell ``hook`` the connection's ``status``; a failing hook is logged, never raised (a status display
    must not break a sync)."""
    outcome = None
    with contextlib.suppress(Exception):
        outcome = hook(status) if hook is not None else None
        if inspect.isawaitable(outcome):
            await outcome
        return
    log.warning("zoho: could not record the connection status %s (the status hook failed)", status)


def _throttled(error: str | None, description: str) -> bool:
    return _THROTTLED in (error or "").lower() or "too many requests" in description.lower()
