"""leadsync's own error vocabulary.

One base class, a shallow tree under it. Third-party errors (httpx, sqlite, a CRM's error body) are
translated once, at the boundary that sees them; code above that boundary only deals with these.

Each error carries a JSON-RPC error ``code`` so the agent can answer a request with it unchanged.
"""

from __future__ import annotations

from typing import Any


class RpcCode:
    """JSON-RPC 2.0 error codes: the standard ones and leadsync's application range (-32000..-32099)."""

    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    # application errors
    NOT_FOUND = -32001
    CRM_NOT_CONNECTED = -32002
    CRM_ALREADY_CONNECTED = -32003
    PUSH_DISABLED = -32004
    OWNER_READ_ONLY = -32005
    VALIDATION = -32006
    PERMISSION_DENIED = -32007  # the connecting user may not use the agent (socket peer check)
    CRM_ERROR = -32010
    CRM_AUTH = -32011
    CRM_RATE_LIMITED = -32012
    CRM_UNAVAILABLE = -32013
    SYNC_BUSY = -32020
    DISK_FULL = -32030  # data: {"reason": "disk_full", "path": ...}
    STORE_DAMAGED = -32031
    # the socket's limits (agent/rpc_limits.py): sent with id null just before the agent closes the connection
    TOO_MANY_CONNECTIONS = -32050
    IDLE_TIMEOUT = -32051
    REQUEST_TIMEOUT = -32052
    SLOW_READER = -32053


class LeadsyncError(Exception):
    """Base of every error leadsync raises on purpose.

    ``message`` is meant for a person; ``data`` (JSON-serialisable) for a script.
    """

    code: int = RpcCode.INTERNAL_ERROR

    def __init__(self, message: str, *, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class NotFoundError(LeadsyncError):
    """A record (contact, user, sync run...) named in a request does not exist."""

    code = RpcCode.NOT_FOUND


class ValidationError(LeadsyncError):
    """Input that breaks a domain rule: an invalid email, an over-long field, an interval out of range."""

    code = RpcCode.VALIDATION


class InvalidParamsError(LeadsyncError):
    """JSON-RPC params that do not have the shape a method takes."""

    code = RpcCode.INVALID_PARAMS


class CrmNotConnectedError(LeadsyncError):
    """An operation needs a CRM connection and there is none (`crm.connect` first)."""

    code = RpcCode.CRM_NOT_CONNECTED


class CrmAlreadyConnectedError(LeadsyncError):
    """`crm.connect` while another CRM is connected; only one CRM per organization."""

    code = RpcCode.CRM_ALREADY_CONNECTED


class PushDisabledError(LeadsyncError):
    """The push master switch is off: no outbound write is made."""

    code = RpcCode.PUSH_DISABLED


class OwnerReadOnlyError(LeadsyncError):
    """Ownership comes from the CRM; a local owner change is refused."""

    code = RpcCode.OWNER_READ_ONLY


class CrmError(LeadsyncError):
    """A CRM answered with an error, or could not be reached.

    ``status`` is the HTTP status (0 when no answer arrived), ``crm`` the connector name,
    ``correlation_id`` the CRM's request id when it gave one.
    """

    code = RpcCode.CRM_ERROR

    def __init__(
        self,
        message: str,
        *,
        crm: str = "",
        status: int = 0,
        correlation_id: str | None = None,
        category: str | None = None,
        data: Any = None,
    ) -> None:
        super().__init__(message, data=data)
        self.crm = crm
        self.status = status
        self.correlation_id = correlation_id
        self.category = category


class CrmAuthError(CrmError):
    """The CRM refused the credentials (401/403 on auth); the connection needs re-authentication."""

    code = RpcCode.CRM_AUTH


class CrmRateLimitedError(CrmError):
    """HTTP 429. ``retry_after_s`` is the wait the CRM asked for (seconds), ``policy`` e.g. SECONDLY or DAILY."""

    code = RpcCode.CRM_RATE_LIMITED

    def __init__(self, message: str, *, retry_after_s: float | None = None, policy: str | None = None,
                 **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after_s = retry_after_s
        self.policy = policy


class CrmQuotaExhaustedError(CrmRateLimitedError):
    """The CRM's daily quota is spent: no retry helps until it resets (``retry_after_s`` when known)."""


class CrmUnavailableError(CrmError):
    """5xx answers and network failures (connect, read, timeout): worth retrying later."""

    code = RpcCode.CRM_UNAVAILABLE


def is_transient(error: CrmError) -> bool:
    """Whether ``error`` says the CRM could not be reached or asked to slow down (5xx, network failure, a
    429 that is not the daily quota), so the same request is worth sending later; not a refusal of it."""
    if isinstance(error, CrmQuotaExhaustedError):
        return False
    return isinstance(error, CrmUnavailableError | CrmRateLimitedError)


class CrmNotFoundError(CrmError):
    """The CRM says the record or endpoint does not exist (404)."""


class CrmRecordError(CrmError):
    """The CRM refused one record's data (validation). Fails that record alone."""


class CrmProtocolError(CrmError):
    """The CRM answered in a shape leadsync cannot trust (e.g. a page that says more follows but gives no
    link). The run fails instead of ending quietly."""


class SyncBusyError(LeadsyncError):
    """A sync is already running and the request cannot be coalesced into it."""

    code = RpcCode.SYNC_BUSY


class DiskFullError(LeadsyncError):
    """The disk (or the file system quota) holding ``path`` is full: the write was refused and rolled back.

    ``data`` is ``{"reason": "disk_full", "path": str}`` for scripts; the message reads "disk full at PATH,
    nothing was written"."""

    code = RpcCode.DISK_FULL

    def __init__(self, path: str) -> None:
        super().__init__(f"disk full at {path}, nothing was written", data={"reason": "disk_full", "path": path})
        self.path = path


class StoreDamagedError(LeadsyncError):
    """The store failed SQLite's integrity check (or is not a database): it is refused, never served."""

    code = RpcCode.STORE_DAMAGED
