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
- one refresh at a time (:class:`asyncio.Lock`), so concurrent 401s spend a rotating refresh token once;
- new tokens go to ``save_credentials`` (the agent's secret store) before they are used, so a rotated
  refresh token survives a crash right after the refresh;
- a refused refresh (400/401/403, e.g. ``invalid_grant`` "expired access/refresh token") raises
  :class:`~leadsync.common.errors.CrmAuthError` (category ``needs_reauth``, naming Salesforce's reason) and
  marks the connection ``needs_reauth`` through ``on_status``; every later request fails the same way at
  once instead of asking again.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final
from urllib.parse import quote, urlsplit

from leadsync.agent.connectors.http import HttpClient, check_token
from leadsync.agent.connectors.salesforce.errors import CRM
from leadsync.common.errors import CrmAuthError, CrmError, CrmProtocolError, ValidationError

log = logging.getLogger("leadsync.oauth")

TOKEN_PATH: Final = "/services/oauth2/token"
OAUTH_KEYS: Final = ("client_id", "refresh_token")
DEFAULT_SESSION_TIMEOUT_S: Final = 7200.0
"""Salesforce's default session timeout (2 hours); set the org's own value when it is shorter."""
REFRESH_MARGIN_S: Final = 300.0
MAX_LIFETIME_S: Final = 86_400.0
NEEDS_REAUTH: Final = "needs_reauth"
CONNECTED: Final = "connected"

SaveCredentials = Callable[[dict[str, str]], None]
"""Stores the connection's credentials (all of them, as strings) atomically."""
StatusHook = Callable[[str], Awaitable[None] | None]
"""Told ``"connected"`` after a refresh and ``"needs_reauth"`` when the refresh token is refused."""
NowMs = Callable[[], int]


def is_oauth(credentials: Mapping[str, str]) -> bool:
    """True when ``credentials`` hold a connected app's client id and a refresh token."""
    return all(credentials.get(key) for key in OAUTH_KEYS)


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value) and value > 0:
        return float(value)
    return None


def session_lifetime_s(answer: Mapping[str, Any], default_s: float) -> float:
    """Seconds an issued access token is good for.

    Salesforce's token answer names no lifetime, so ``default_s`` (the org's session timeout) is the
    usual result. If the answer has ``expires_in_sec``/``expires_in_seconds`` (explicitly seconds) they
    win; a bare ``expires_in`` above a day is read as milliseconds (case B24). Capped at a day.
    """
    explicit = next((s for key in ("expires_in_sec", "expires_in_seconds")
                     if (s := _seconds(answer.get(key))) is not None), None)
    if explicit is not None:
        return min(explicit, MAX_LIFETIME_S)
    seconds = _seconds(answer.get("expires_in"))
    if seconds is None:
        return min(max(default_s, 1.0), MAX_LIFETIME_S)
    if seconds > MAX_LIFETIME_S:
        log.warning("salesforce: token endpoint sent expires_in=%s, too long for seconds; read as milliseconds",
                    int(seconds))
        seconds /= 1000
    return min(max(seconds, 1.0), MAX_LIFETIME_S)


def refresh_margin_s(lifetime_s: float) -> float:
    """How long before its end a session of ``lifetime_s`` seconds is refreshed."""
    return min(REFRESH_MARGIN_S, lifetime_s / 10)


def _int(value: str | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def check_instance_url(url: str, login_url: str) -> str:
    """``url`` without a trailing slash if it can be an API base: https, or http only when the login
    URL is http too (a local sandbox). Raises CrmProtocolError otherwise."""
    parts = urlsplit(url)
    allowed = ("https",) if urlsplit(login_url).scheme == "https" else ("https", "http")
    if parts.scheme not in allowed or not parts.netloc or parts.query or parts.fragment:
        raise CrmProtocolError(f"Salesforce named an unusable instance_url {url!r}", crm=CRM)
    return url.rstrip("/")


class SalesforceSession:
    """The session (access token and instance URL) of one OAuth connection; see the module docstring.

    ``http`` sends the token requests (its base URL is ``login_url``; never with an ``Authorization``
    header). ``now_ms`` is the wall clock (epoch ms UTC). ``session_timeout_s`` is how long the org keeps
    a session. Raises ValidationError when ``client_id`` or ``refresh_token`` is missing.
    """

    def __init__(self, http: HttpClient, credentials: Mapping[str, str], *, login_url: str, now_ms: NowMs,
                 session_timeout_s: float = DEFAULT_SESSION_TIMEOUT_S,
                 save_credentials: SaveCredentials | None = None, on_status: StatusHook | None = None) -> None:
        missing = [key for key in OAUTH_KEYS if not credentials.get(key)]
        if missing:
            raise ValidationError(f"credentials: a Salesforce OAuth connection needs {', '.join(missing)}")
        self._http = http
        self._login_url = login_url.rstrip("/")
        self._client_id = credentials["client_id"]
        self._client_secret = credentials.get("client_secret") or ""
        self._refresh_token = credentials["refresh_token"]
        self._access_token = credentials.get("access_token") or ""
        stored_url = credentials.get("instance_url") or ""
        self._instance_url = check_instance_url(stored_url, self._login_url) if stored_url else ""
        self._identity_url = credentials.get("id") or ""
        self._expires_at_ms = _int(credentials.get("access_token_expires_at"))
        self._default_lifetime_s = session_timeout_s
        self._lifetime_s = session_lifetime_s({}, session_timeout_s)
        self._now_ms = now_ms
        self._save = save_credentials
        self._on_status = on_status
        self._lock = asyncio.Lock()
        self._refused: CrmAuthError | None = None
        self.refreshes = 0
        http.add_secrets(self._client_secret, self._refresh_token, self._access_token,
                         quote(self._access_token, safe=""))

    def __repr__(self) -> str:
        return f"SalesforceSession(instance_url={self._instance_url!r}, refreshes={self.refreshes})"

    def credentials(self) -> dict[str, str]:
        """The connection's credentials as they stand (latest refresh token, session and instance URL),
        in the shape ``__init__`` takes, to store."""
        values = {"client_id": self._client_id, "refresh_token": self._refresh_token}
        if self._client_secret:
            values["client_secret"] = self._client_secret
        if self._access_token and self._instance_url and self._expires_at_ms is not None:
            values.update(access_token=self._access_token, instance_url=self._instance_url,
                          access_token_expires_at=str(self._expires_at_ms))
        if self._identity_url:
            values["id"] = self._identity_url
        return values

    @property
    def needs_reauth(self) -> bool:
        """True once the refresh token was refused: new credentials are needed (crm.connect)."""
        return self._refused is not None

    @property
    def identity_url(self) -> str:
        """The identity URL (``id``) of the last token answer, "" before one."""
        return self._identity_url

    async def instance_url(self) -> str:
        """The API base URL (``https://MyDomain.my.salesforce.com``), refreshing first if there is none."""
        await self.authorization()
        return self._instance_url

    async def authorization(self) -> str:
        """``Bearer <access token>``, refreshing first when there is no session or it is about to end."""
        if self._refused is not None:
            raise self._refused
        if self._stale():
            async with self._lock:
                if self._refused is not None:
                    raise self._refused
                if self._stale():
                    await self._refresh()
        return f"Bearer {self._access_token}"

    async def unauthorized(self, rejected: str) -> bool:
        """A request sent with ``rejected`` got 401: refresh unless a concurrent caller already did."""
        async with self._lock:
            if self._refused is not None:
                raise self._refused
            if rejected != f"Bearer {self._access_token}" and not self._stale():
                return True
            await self._refresh()
        return True

    def _stale(self) -> bool:
        if not self._access_token or not self._instance_url or self._expires_at_ms is None:
            return True
        return self._now_ms() >= self._expires_at_ms - refresh_margin_s(self._lifetime_s) * 1000

    async def _refresh(self) -> None:
        sent_at = self._now_ms()
        form = {"grant_type": "refresh_token", "client_id": self._client_id, "refresh_token": self._refresh_token}
        if self._client_secret:
            form["client_secret"] = self._client_secret
        try:
            answer = await self._http.request_json("POST", TOKEN_PATH, form=form, authenticate=False)
        except CrmError as exc:
            if exc.status in (400, 401, 403):
                raise await self._refuse(exc) from None
            raise
        if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str) \
                or not answer["access_token"]:
            raise CrmProtocolError("salesforce: the token endpoint answered without an access_token", crm=CRM)
        access: str = answer["access_token"]
        try:
            check_token("access_token", access)
        except ValidationError:
            raise CrmProtocolError("salesforce: the token endpoint issued an access token that cannot be sent in a "
                                   "header", crm=CRM) from None
        raw_refresh = answer.get("refresh_token")
        refresh = raw_refresh if isinstance(raw_refresh, str) and raw_refresh else ""
        self._http.add_secrets(access, quote(access, safe=""), refresh)
        raw_url = answer.get("instance_url")
        instance = check_instance_url(raw_url, self._login_url) if isinstance(raw_url, str) and raw_url \
            else self._instance_url
        if not instance:
            raise CrmProtocolError("salesforce: the token endpoint answered without an instance_url", crm=CRM)
        lifetime = session_lifetime_s(answer, self._default_lifetime_s)
        expires_at = sent_at + int(lifetime * 1000)  # counted from before the request: never late
        identity = answer.get("id")
        credentials: dict[str, str] = {
            "client_id": self._client_id, "refresh_token": refresh or self._refresh_token, "access_token": access,
            "instance_url": instance, "access_token_expires_at": str(expires_at),
            "issued_at": str(answer.get("issued_at") or sent_at)}
        if self._client_secret:
            credentials["client_secret"] = self._client_secret
        if isinstance(identity, str) and identity:
            credentials["id"] = identity
        if self._save is not None:
            try:  # store first: a rotated refresh token is spent the moment Salesforce answered
                await asyncio.to_thread(self._save, credentials)
            except OSError as exc:
                log.warning("salesforce: could not store the new OAuth tokens (%s); keeping them in memory",
                            type(exc).__name__)
        self._refresh_token = credentials["refresh_token"]
        self._access_token = access
        self._instance_url = instance
        self._identity_url = credentials.get("id", self._identity_url)
        self._lifetime_s = lifetime
        self._expires_at_ms = expires_at
        self.refreshes += 1
        log.info("salesforce: session refreshed (instance %s, refreshed again in %.0f s)", instance,
                 lifetime - refresh_margin_s(lifetime))
        await self._status(CONNECTED)

    async def _refuse(self, exc: CrmError) -> CrmAuthError:
        refused = self._refused = CrmAuthError(
            f"salesforce: the refresh token was refused ({exc.message}); the connection needs "
            "re-authentication: crm.reauth with new credentials",
            crm=CRM, status=401, category=NEEDS_REAUTH)
        log.warning("salesforce: OAuth refresh refused (HTTP %s); the connection needs re-authentication", exc.status)
        await self._status(NEEDS_REAUTH)
        return refused

    async def _status(self, status: str) -> None:
        if self._on_status is None:
            return
        try:
            result = self._on_status(status)
            if inspect.isawaitable(result):
                await result
        except Exception:  # a status display must never break a sync
            log.exception("salesforce: could not record the connection status %s", status)
