"""HubSpot OAuth: access tokens from a refresh token, refreshed before they expire (case B24).

An OAuth connection is ``{"client_id", "client_secret", "refresh_token"}`` (plus, once a token was
issued, ``access_token`` and ``access_token_expires_at`` in epoch ms UTC). :class:`OAuthSession` is
the :class:`~leadsync.agent.connectors.http.Authenticator` of such a connection:

- the token comes from ``POST /oauth/v1/token`` (form-encoded ``grant_type=refresh_token``,
  ``client_id``, ``client_secret``, ``refresh_token``), which answers ``{access_token, refresh_token,
  expires_in, token_type}`` with ``expires_in`` in **seconds** (HubSpot "Refresh an access token";
  tokens last 30 minutes). :func:`token_lifetime_s` reads the lifetime defensively: an explicit
  seconds field (``expires_in_sec``, as Zoho sends) wins, and a value too large to be seconds is
  taken as milliseconds;
- one refresh at a time per connection (an :class:`asyncio.Lock`): concurrent 401s, or requests that
  all find the token about to expire, cause one refresh;
- a token is refreshed ``REFRESH_MARGIN_S`` (at most a tenth of its lifetime) before it expires, so
  interval syncs never meet a 401; a 401 anyway (revoked, clock skew) refreshes once and the request
  is retried once;
- new tokens are handed to ``save_credentials`` (the agent's :class:`~leadsync.agent.secrets.SecretStore`:
  mode 0600, temp file + fsync + rename) before they are used, so a rotated refresh token is never lost;
- a refused refresh (400/401/403: ``BAD_REFRESH_TOKEN``, OAuth ``invalid_grant``, a revoked app) marks the
  connection ``needs_reauth`` through ``on_status`` and every later request fails at once with
  :class:`~leadsync.common.errors.CrmAuthError` instead of asking the token endpoint again.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final
from urllib.parse import quote

from leadsync.agent.connectors.http import HttpClient, check_token
from leadsync.common.errors import CrmAuthError, CrmError, CrmProtocolError, ValidationError

log = logging.getLogger("leadsync.oauth")

TOKEN_PATH: Final = "/oauth/v1/token"
OAUTH_KEYS: Final = ("client_id", "client_secret", "refresh_token")
REFRESH_MARGIN_S: Final = 300.0
"""Refresh this many seconds before expiry (or a tenth of the lifetime, if that is shorter)."""
DEFAULT_LIFETIME_S: Final = 1800.0
"""HubSpot's access-token lifetime, assumed when an answer gives none."""
MAX_LIFETIME_S: Final = 86_400.0
"""No access token is trusted for longer than a day; a larger ``expires_in`` is not seconds."""
NEEDS_REAUTH: Final = "needs_reauth"
CONNECTED: Final = "connected"

SaveCredentials = Callable[[dict[str, str]], None]
"""Stores the connection's credentials (all of them, as strings) atomically."""
StatusHook = Callable[[str], Awaitable[None] | None]
"""Told ``"connected"`` after a refresh and ``"needs_reauth"`` when the refresh token is refused."""
NowMs = Callable[[], int]


def is_oauth(credentials: Mapping[str, str]) -> bool:
    """True when ``credentials`` name an OAuth app and refresh token rather than a private-app token."""
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


def token_lifetime_s(answer: Mapping[str, Any]) -> float:
    """Seconds an issued access token lives, from a token endpoint's answer.

    ``expires_in_sec`` / ``expires_in_seconds`` (explicitly seconds) win over ``expires_in`` (case B24:
    ``expires_in`` 3600000 with ``expires_in_sec`` 3600 is one hour). Without them, an ``expires_in``
    above a day (``MAX_LIFETIME_S``) is not a plausible number of seconds and is read as milliseconds.
    Anything missing or unreadable gives HubSpot's 30 minutes; the result is capped at a day, so a
    wrong unit can only make refreshes early, never late.
    """
    explicit = next((s for key in ("expires_in_sec", "expires_in_seconds")
                     if (s := _seconds(answer.get(key))) is not None), None)
    if explicit is not None:
        return min(explicit, MAX_LIFETIME_S)
    seconds = _seconds(answer.get("expires_in"))
    if seconds is None:
        return DEFAULT_LIFETIME_S
    if seconds > MAX_LIFETIME_S:
        as_ms = seconds / 1000
        log.warning("token endpoint sent expires_in=%s, too long for seconds; read as milliseconds (%.0f s)",
                    int(seconds), as_ms)
        seconds = as_ms
    return min(max(seconds, 1.0), MAX_LIFETIME_S)


def refresh_margin_s(lifetime_s: float) -> float:
    """How long before expiry a token of ``lifetime_s`` seconds is refreshed."""
    return min(REFRESH_MARGIN_S, lifetime_s / 10)


class OAuthSession:
    """The access token of one OAuth connection; see the module docstring.

    ``http`` sends the token requests (same base URL, rate limits and retries as the API calls;
    never with an ``Authorization`` header). ``credentials`` holds ``client_id``, ``client_secret``,
    ``refresh_token`` and optionally a stored ``access_token`` with ``access_token_expires_at``
    (epoch ms). ``now_ms`` is the wall clock (epoch ms UTC). Raises ValidationError when a key is missing.
    """

    def __init__(self, http: HttpClient, credentials: Mapping[str, str], *, now_ms: NowMs,
                 save_credentials: SaveCredentials | None = None, on_status: StatusHook | None = None,
                 crm: str = "hubspot") -> None:
        missing = [key for key in OAUTH_KEYS if not credentials.get(key)]
        if missing:
            raise ValidationError(f"credentials: an OAuth connection needs {', '.join(missing)}")
        self._http = http
        self._crm = crm
        self._client_id = credentials["client_id"]
        self._client_secret = credentials["client_secret"]
        self._refresh_token = credentials["refresh_token"]
        self._access_token = credentials.get("access_token") or ""
        self._expires_at_ms = _int(credentials.get("access_token_expires_at"))
        self._lifetime_s = DEFAULT_LIFETIME_S
        self._now_ms = now_ms
        self._save = save_credentials
        self._on_status = on_status
        self._lock = asyncio.Lock()
        self._refused: CrmAuthError | None = None
        self.refreshes = 0
        http.add_secrets(self._client_secret, self._refresh_token, self._access_token,
                         quote(self._access_token, safe=""))

    def __repr__(self) -> str:
        return f"OAuthSession(client_id={self._client_id!r}, refreshes={self.refreshes})"

    def credentials(self) -> dict[str, str]:
        """The connection's credentials as they stand (the latest refresh and access tokens), to store."""
        values = {"client_id": self._client_id, "client_secret": self._client_secret,
                  "refresh_token": self._refresh_token}
        if self._access_token and self._expires_at_ms is not None:
            values.update(access_token=self._access_token, access_token_expires_at=str(self._expires_at_ms))
        return values

    @property
    def needs_reauth(self) -> bool:
        """True once the refresh token was refused: new credentials are needed (crm.connect)."""
        return self._refused is not None

    async def access_token(self) -> str:
        """A valid access token (refreshed first when missing or about to expire)."""
        await self.authorization()
        return self._access_token

    async def authorization(self) -> str:
        """``Bearer <access token>``, refreshing first when the token is missing or about to expire."""
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
        """A request sent with ``rejected`` got 401: refresh unless another caller already did."""
        async with self._lock:
            if self._refused is not None:
                raise self._refused
            if rejected != f"Bearer {self._access_token}" and not self._stale():
                return True  # a concurrent request refreshed meanwhile
            await self._refresh()
        return True

    def _stale(self) -> bool:
        if not self._access_token or self._expires_at_ms is None:
            return True
        margin_ms = refresh_margin_s(self._lifetime_s) * 1000
        return self._now_ms() >= self._expires_at_ms - margin_ms

    async def _refresh(self) -> None:
        sent_at = self._now_ms()
        form = {"grant_type": "refresh_token", "client_id": self._client_id,
                "client_secret": self._client_secret, "refresh_token": self._refresh_token}
        try:
            answer = await self._http.request_json("POST", TOKEN_PATH, form=form, authenticate=False)
        except CrmError as exc:
            if exc.status not in (400, 401, 403):
                raise  # unreachable or failing: try again at the next request
            raise await self._refuse(exc) from None
        if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str) \
                or not answer["access_token"]:
            raise CrmProtocolError(f"{self._crm}: the token endpoint answered without an access_token",
                                   crm=self._crm, status=200)
        access = answer["access_token"]
        refresh = answer.get("refresh_token")
        try:
            check_token("access_token", access)
        except ValidationError:
            raise CrmProtocolError(f"{self._crm}: the token endpoint issued an access token that cannot be sent "
                                   "in a header", crm=self._crm, status=200) from None
        self._http.add_secrets(access, quote(access, safe=""),
                               *([refresh] if isinstance(refresh, str) and refresh else []))
        lifetime = token_lifetime_s(answer)
        credentials = {"client_id": self._client_id, "client_secret": self._client_secret,
                       "refresh_token": refresh if isinstance(refresh, str) and refresh else self._refresh_token,
                       "access_token": access, "access_token_expires_at": str(sent_at + int(lifetime * 1000))}
        if self._save is not None:
            try:  # store first: a rotated refresh token must survive a crash right after this
                await asyncio.to_thread(self._save, credentials)
            except OSError as exc:
                log.warning("%s: could not store the new OAuth tokens (%s); keeping them in memory",
                            self._crm, type(exc).__name__)
        self._refresh_token = credentials["refresh_token"]
        self._access_token = access
        self._lifetime_s = lifetime
        self._expires_at_ms = sent_at + int(lifetime * 1000)  # counted from before the request: never late
        self.refreshes += 1
        log.info("%s: OAuth access token refreshed (valid %.0f s)", self._crm, lifetime)
        await self._status(CONNECTED)

    async def _refuse(self, exc: CrmError) -> CrmAuthError:
        refused = self._refused = CrmAuthError(
            f"{self._crm}: the CRM refused the OAuth refresh token ({exc.message}); the connection needs "
            "re-authentication: crm.reauth with new credentials",
            crm=self._crm, status=401, category=NEEDS_REAUTH)
        log.warning("%s: OAuth refresh refused (HTTP %s); the connection needs re-authentication",
                    self._crm, exc.status)
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
            log.exception("%s: could not record the connection status %s", self._crm, status)


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None
