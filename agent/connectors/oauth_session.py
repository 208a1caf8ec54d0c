"""The client side of an OAuth refresh-token connection, shared by the HubSpot, Salesforce and Zoho connectors.

:class:`RefreshTokenSession` is the :class:`~leadsync.agent.connectors.http.Authenticator` of one connection;
a connector subclasses it, naming what differs (class attributes and two hooks): the token endpoint
(``TOKEN_PATH``, posted the form ``grant_type=refresh_token`` plus the app keys), which app keys are required
(``REQUIRED``), where the answer names the API base (``BASE_KEY``: ``instance_url``, ``api_domain``, none),
the header scheme, the lifetime assumed when an answer names none, and how a refusal looks
(:meth:`~RefreshTokenSession.refusal`, :meth:`~RefreshTokenSession.answer_refusal`). What they share:

- one refresh at a time per connection (an :class:`asyncio.Lock`): concurrent 401s, or requests that all
  find the token about to expire, cause one refresh (a rotating refresh token is spent once);
- a token is refreshed :func:`refresh_margin_s` (5 minutes, at most a tenth of its life) before it ends, and
  a 401 anyway refreshes once unless another caller already did;
- the new tokens go to ``save_credentials`` (the agent's secret store) before they are used, so a rotated
  refresh token survives a crash right after the refresh; a new ``refresh_token`` in an answer replaces
  the old one (RFC 6749 section 6);
- a refused refresh raises :class:`~leadsync.common.errors.CrmAuthError` (category ``needs_reauth``) once,
  tells ``on_status`` ``"needs_reauth"``, and every later request fails the same way at once instead of
  asking the token endpoint again;
- :func:`token_lifetime_s` reads an answer's lifetime defensively (case B24).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Final
from urllib.parse import quote, urlsplit

from leadsync.agent.connectors.http import HttpClient, check_token
from leadsync.common.errors import CrmAuthError, CrmError, CrmProtocolError, ValidationError

log = logging.getLogger("leadsync.oauth")

REFRESH_MARGIN_S: Final = 300.0
"""Refresh this many seconds before expiry (or a tenth of the lifetime, if that is shorter)."""
MAX_LIFETIME_S: Final = 86_400.0
"""No access token is trusted for longer than a day; a larger ``expires_in`` is not seconds."""
NEEDS_REAUTH: Final = "needs_reauth"
CONNECTED: Final = "connected"

SaveCredentials = Callable[[dict[str, str]], None]
"""Stores the connection's credentials (all of them, as strings) atomically."""
StatusHook = Callable[[str], Awaitable[None] | None]
"""Told ``"connected"`` after a refresh and ``"needs_reauth"`` when the refresh token is refused."""
NowMs = Callable[[], int]


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


def token_lifetime_s(answer: Mapping[str, Any], default_s: float) -> float:
    """Seconds an issued access token lives, from a token endpoint's answer (case B24).

    ``expires_in_sec`` / ``expires_in_seconds`` (explicitly seconds) win over ``expires_in``
    (``{"expires_in": 3600000, "expires_in_sec": 3600}`` is one hour). Without them, an ``expires_in``
    above a day is not a plausible number of seconds and is read as milliseconds. Anything missing or
    unreadable gives ``default_s``; the result is kept between a second and a day, so a wrong unit can only
    make refreshes early, never late.
    """
    seconds = next((s for key in ("expires_in_sec", "expires_in_seconds")
                    if (s := _seconds(answer.get(key))) is not None), None)
    if seconds is None and (seconds := _seconds(answer.get("expires_in"))) is not None \
            and seconds > MAX_LIFETIME_S:
        log.warning("token endpoint sent expires_in=%s, too long for seconds; read as milliseconds (%.0f s)",
                    int(seconds), seconds / 1000)
        seconds /= 1000
    return min(max(default_s if seconds is None else seconds, 1.0), MAX_LIFETIME_S)


def refresh_margin_s(lifetime_s: float) -> float:
    """How long before expiry a token of ``lifetime_s`` seconds is refreshed."""
    return min(REFRESH_MARGIN_S, lifetime_s / 10)


def check_base_url(url: str, issuer_url: str, *, crm: str, key: str) -> str:
    """``url`` (an answer's ``key``) without a trailing slash if it can be an API base: https, or http only
    when ``issuer_url`` (the token endpoint's base) is http too (a local sandbox). Raises CrmProtocolError
    otherwise."""
    parts = urlsplit(url)
    allowed = ("https",) if urlsplit(issuer_url).scheme == "https" else ("https", "http")
    if parts.scheme not in allowed or not parts.netloc or parts.query or parts.fragment:
        raise CrmProtocolError(f"{crm}: the token endpoint named an unusable {key} {url!r}", crm=crm)
    return url.rstrip("/")


def _epoch_ms(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


class RefreshTokenSession:
    """The access token (and API base) of one OAuth connection; see the module docstring.

    ``http`` sends the token requests (its base URL is ``issuer_url`` when the session has one; never with
    an ``Authorization`` header). ``credentials`` holds the app keys (``client_id``, ``client_secret``,
    ``refresh_token``), and once a token was issued ``access_token``, ``access_token_expires_at`` (epoch ms),
    the API base under ``BASE_KEY`` and the ``KEPT`` answer fields. ``now_ms`` is the wall clock (epoch ms
    UTC); ``lifetime_s`` the lifetime assumed when an answer names none (default ``DEFAULT_LIFETIME_S``).
    Raises ValidationError when a ``REQUIRED`` key is missing. ``refreshes`` counts the tokens obtained.
    """

    CRM: ClassVar[str]
    TOKEN_PATH: ClassVar[str]
    REQUIRED: ClassVar[tuple[str, ...]] = ("client_id", "client_secret", "refresh_token")
    MISSING: ClassVar[str] = "credentials: an OAuth connection needs {}"
    """The ValidationError message for missing keys (``{}``: their names)."""
    SCHEME: ClassVar[str] = "Bearer"
    BASE_KEY: ClassVar[str | None] = None
    """The answer field naming the API base every later call goes to (None: the API is at a fixed URL)."""
    KEPT: ClassVar[tuple[str, ...]] = ()
    """Further answer fields stored with the credentials."""
    DEFAULT_LIFETIME_S: ClassVar[float] = 3600.0

    def __init__(self, http: HttpClient, credentials: Mapping[str, str], *, now_ms: NowMs, issuer_url: str = "",
                 lifetime_s: float | None = None, save_credentials: SaveCredentials | None = None,
                 on_status: StatusHook | None = None, crm: str | None = None) -> None:
        missing = [key for key in self.REQUIRED if not credentials.get(key)]
        if missing:
            raise ValidationError(self.MISSING.format(", ".join(missing)))
        self.crm = crm or self.CRM
        self._http = http
        self._issuer_url = issuer_url.rstrip("/")
        self._app = {key: credentials[key] for key in ("client_id", "client_secret", "refresh_token")
                     if credentials.get(key)}
        self._token = credentials.get("access_token") or ""
        base = credentials.get(self.BASE_KEY) if self.BASE_KEY else None
        self._base = self._checked_base(base) if base else ""
        self._kept = {key: credentials[key] for key in self.KEPT if credentials.get(key)}
        self._expires_at_ms = _epoch_ms(credentials.get("access_token_expires_at"))
        self._default_lifetime_s = self.DEFAULT_LIFETIME_S if lifetime_s is None else lifetime_s
        self._lifetime_s = token_lifetime_s({}, self._default_lifetime_s)
        self._now_ms = now_ms
        self._save = save_credentials
        self._on_status = on_status
        self._lock = asyncio.Lock()
        self._refused: CrmAuthError | None = None
        self.refreshes = 0
        http.add_secrets(self._app.get("client_secret", ""), self._app["refresh_token"], self._token,
                         quote(self._token, safe=""))

    def __repr__(self) -> str:
        shown = (self.BASE_KEY, self._base) if self.BASE_KEY else ("client_id", self._app["client_id"])
        return f"{type(self).__name__}({shown[0]}={shown[1]!r}, refreshes={self.refreshes})"

    def credentials(self) -> dict[str, str]:
        """The connection's credentials as they stand (the latest refresh and access tokens, API base and
        expiry), in the shape ``__init__`` takes, to store."""
        return self._compose(self._app, self._token, self._base, self._expires_at_ms, self._kept)

    @property
    def needs_reauth(self) -> bool:
        """True once the refresh token was refused: new credentials are needed (crm.reauth)."""
        return self._refused is not None

    async def access_token(self) -> str:
        """A valid access token (refreshed first when missing or about to expire)."""
        await self.authorization()
        return self._token

    async def api_base(self) -> str:
        """The API base URL the last answer named, getting a token first when needed ("" without ``BASE_KEY``)."""
        await self.authorization()
        return self._base

    async def authorization(self) -> str:
        """``<SCHEME> <access token>``, refreshing first when the token is missing or about to expire."""
        if self._stale():
            async with self._lock:
                if self._stale():
                    await self._refresh()
        return self._header()

    async def unauthorized(self, rejected: str) -> bool:
        """A request sent with ``rejected`` got 401: refresh unless a concurrent caller already did."""
        async with self._lock:
            if self._stale() or rejected == self._header():
                await self._refresh()
        return True

    def refusal(self, exc: CrmError) -> str | None:
        """Why a failed token request means the refresh token was refused (400/401/403: ``invalid_grant``,
        a revoked app...), or None: the error is raised as it is (unreachable, failing: the next request
        tries again)."""
        return exc.message if exc.status in (400, 401, 403) else None

    def answer_refusal(self, answer: Any) -> str | None:
        """Why a successful (HTTP 200) token answer is a refusal after all, or None; may raise instead."""
        return None

    def _header(self) -> str:
        return f"{self.SCHEME} {self._token}"

    def _stale(self) -> bool:
        """True when a refresh is due; raises the refusal once the refresh token was refused."""
        if self._refused is not None:
            raise self._refused
        if not self._token or self._expires_at_ms is None or (self.BASE_KEY and not self._base):
            return True
        return self._now_ms() >= self._expires_at_ms - refresh_margin_s(self._lifetime_s) * 1000

    def _checked_base(self, url: str) -> str:
        assert self.BASE_KEY is not None
        return check_base_url(url, self._issuer_url, crm=self.crm, key=self.BASE_KEY)

    def _compose(self, app: Mapping[str, str], token: str, base: str, expires_at_ms: int | None,
                 kept: Mapping[str, str]) -> dict[str, str]:
        values = dict(app)
        if token and expires_at_ms is not None and (base or not self.BASE_KEY):
            values["access_token"] = token
            if self.BASE_KEY:
                values[self.BASE_KEY] = base
            values["access_token_expires_at"] = str(expires_at_ms)
        return {**values, **kept}

    async def _refresh(self) -> None:
        sent_at = self._now_ms()
        try:
            answer = await self._http.request_json("POST", self.TOKEN_PATH, authenticate=False,
                                                   form={"grant_type": "refresh_token", **self._app})
        except CrmError as exc:
            if (reason := self.refusal(exc)) is None:
                raise
            raise await self._refuse(reason, exc.status) from None
        if (reason := self.answer_refusal(answer)) is not None:
            raise await self._refuse(reason, 200)
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise CrmProtocolError(f"{self.crm}: the token endpoint answered without an access_token",
                                   crm=self.crm, status=200)
        try:
            check_token("access_token", token)
        except ValidationError:
            raise CrmProtocolError(f"{self.crm}: the token endpoint issued an access token that cannot be sent "
                                   "in a header", crm=self.crm, status=200) from None
        assert isinstance(answer, dict)
        refresh = answer.get("refresh_token")
        app = {**self._app, **({"refresh_token": refresh} if isinstance(refresh, str) and refresh else {})}
        self._http.add_secrets(token, quote(token, safe=""), app["refresh_token"])
        raw_base = answer.get(self.BASE_KEY) if self.BASE_KEY else None
        base = self._checked_base(raw_base) if isinstance(raw_base, str) and raw_base else self._base
        if self.BASE_KEY and not base:
            raise CrmProtocolError(f"{self.crm}: the token endpoint answered without an {self.BASE_KEY}",
                                   crm=self.crm, status=200)
        lifetime = token_lifetime_s(answer, self._default_lifetime_s)
        expires_at = sent_at + int(lifetime * 1000)  # counted from before the request: never late
        kept = {**self._kept, **{key: str(answer[key]) for key in self.KEPT if answer.get(key)}}
        if self._save is not None:
            try:  # store first: a rotated refresh token must survive a crash right after this
                await asyncio.to_thread(self._save, self._compose(app, token, base, expires_at, kept))
            except OSError as exc:
                log.warning("%s: could not store the new OAuth tokens (%s); keeping them in memory",
                            self.crm, type(exc).__name__)
        self._app, self._token, self._base, self._kept = app, token, base, kept
        self._lifetime_s, self._expires_at_ms = lifetime, expires_at
        self.refreshes += 1
        log.info("%s: OAuth access token refreshed (valid %.0f s%s)", self.crm, lifetime,
                 f", {self.BASE_KEY} {base}" if self.BASE_KEY else "")
        await self._status(CONNECTED)

    async def _refuse(self, reason: str, status: int) -> CrmAuthError:
        refused = self._refused = CrmAuthError(
            f"{self.crm}: the refresh token was refused ({reason}); the connection needs re-authentication: "
            "crm.reauth with new credentials", crm=self.crm, status=401, category=NEEDS_REAUTH,
            data={"reason": reason})
        log.warning("%s: OAuth refresh refused (HTTP %s); the connection needs re-authentication",
                    self.crm, status)
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
            log.exception("%s: could not record the connection status %s", self.crm, status)
