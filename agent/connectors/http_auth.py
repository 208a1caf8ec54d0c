"""What an :class:`~leadsync.agent.connectors.http.HttpClient` asks of an OAuth token session (:mod:`.http`
re-exports it)."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Authenticator"]


class Authenticator(Protocol):
    """Gives requests their ``Authorization`` header and recovers from a 401 (an OAuth token session).

    :meth:`authorization` is awaited before every attempt; :meth:`unauthorized` after a 401 to a request
    sent with ``rejected`` (the header value it carried): it returns True when a new token is in place
    and the request is worth sending once more, and raises :class:`~leadsync.common.errors.CrmAuthError`
    when no new token can be had (the refresh was refused).
    """

    async def authorization(self) -> str:
        """The ``Authorization`` header value for the next attempt (``"Bearer ..."``)."""
        ...

    async def unauthorized(self, rejected: str) -> bool:
        """The CRM answered 401 to a request sent with ``rejected``; True: retry with the new token."""
        ...
