"""Per-request extra headers (``If-Modified-Since``) under the shared HTTP client.

:meth:`~leadsync.agent.connectors.http.HttpClient.request` takes no per-request headers, and Zoho's
incremental list needs one: ``If-Modified-Since: 2024-03-11T07:00:00+00:00`` limits a records list to
records modified after that instant. :class:`HeaderTransport` wraps the real transport and adds the
headers set with :func:`extra_headers` for the duration of a ``with`` block. A context variable carries
them, so concurrent tasks never see each other's headers, and every retry of the request carries them too.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import httpx

from leadsync.agent.connectors.http_transport import TlsOnDemand

_EXTRA: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar("zoho_extra_headers", default=None)


@contextmanager
def extra_headers(headers: Mapping[str, str]) -> Iterator[None]:
    """Send ``headers`` with every request made inside the block (by this task)."""
    token = _EXTRA.set(dict(headers))
    try:
        yield
    finally:
        _EXTRA.reset(token)


class HeaderTransport(httpx.AsyncBaseTransport):
    """``inner`` (default: the network transport every connector uses, :class:`TlsOnDemand`) plus the headers of
    :func:`extra_headers`."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._inner = inner if inner is not None else TlsOnDemand()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for name, value in (_EXTRA.get() or {}).items():
            request.headers[name] = value
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
