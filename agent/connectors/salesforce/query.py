"""SOQL queries through the REST API: ``GET /query`` (``/queryAll`` with deleted rows), then each
``nextRecordsUrl`` until ``done``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from leadsync.agent.connectors.salesforce.errors import CRM
from leadsync.agent.connectors.salesforce.wire import records_of
from leadsync.common.errors import CrmProtocolError


class Queries:
    """The queries of one connector, through what it gives: ``call(method, url, params=, json=)`` (one API
    request, its decoded answer), ``instance_url()`` and ``data(path)`` (the URL of a
    ``/services/data/{version}`` path)."""

    def __init__(self, *, call: Callable[..., Awaitable[Any]], instance_url: Callable[[], Awaitable[str]],
                 data: Callable[[str], Awaitable[str]]) -> None:
        self.call = call
        self.instance_url = instance_url
        self.data = data

    async def first(self, soql: str, *, include_deleted: bool = False) -> Mapping[str, Any]:
        """The first page of ``soql`` (``/queryAll`` with ``include_deleted``, else ``/query``)."""
        endpoint = "/queryAll" if include_deleted else "/query"
        page = await self.call("GET", await self.data(endpoint), params={"q": soql})
        if not isinstance(page, dict):
            raise CrmProtocolError("Salesforce answered a query without a JSON object", crm=CRM)
        return page

    async def more(self, next_records_url: str) -> Mapping[str, Any]:
        """The page at ``nextRecordsUrl``, fetched exactly as given (relative to the instance URL)."""
        instance = await self.instance_url()
        if next_records_url.startswith("/") and not next_records_url.startswith("//"):
            url = instance + next_records_url
        else:
            given, ours = urlsplit(next_records_url), urlsplit(instance)
            if (given.scheme, given.netloc) != (ours.scheme, ours.netloc):
                raise CrmProtocolError(f"Salesforce sent a nextRecordsUrl outside the instance: {next_records_url}",
                                       crm=CRM)
            url = next_records_url
        page = await self.call("GET", url)
        if not isinstance(page, dict):
            raise CrmProtocolError("Salesforce answered a query page without a JSON object", crm=CRM)
        return page

    async def pages(self, soql: str, *, include_deleted: bool = False) -> AsyncIterator[list[Mapping[str, Any]]]:
        """Every page of rows of ``soql`` (built with :mod:`~.soql`), following ``nextRecordsUrl`` until
        ``done``; CrmProtocolError for a page with ``done: false`` and no ``nextRecordsUrl`` (case B03)."""
        page = await self.first(soql, include_deleted=include_deleted)
        seen: set[str] = set()
        while True:
            yield records_of(page)
            if page.get("done") is True:
                return
            url = page.get("nextRecordsUrl")
            if page.get("done") is not False or not isinstance(url, str) or not url or url in seen:
                raise CrmProtocolError("Salesforce said more query results follow (done: false) but gave no "
                                       "usable nextRecordsUrl; stopping instead of ending quietly", crm=CRM)
            seen.add(url)
            page = await self.more(url)

    async def all(self, soql: str, *, include_deleted: bool = False) -> list[Mapping[str, Any]]:
        """Every row of ``soql``, all pages."""
        return [row async for page in self.pages(soql, include_deleted=include_deleted) for row in page]
