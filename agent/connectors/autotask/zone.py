"""Autotask's zones: each database lives in one zone (``webservices<N>.autotask.net``), which the global URL
names for a user (``GET /V1.0/zoneInformation?user=``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from leadsync.agent.connectors.autotask.errors import CRM
from leadsync.agent.connectors.http import check_base_url
from leadsync.common.errors import CrmProtocolError

GLOBAL_URL: Final = "https://webservices.autotask.net/atservicesrest"
"""The zone-independent URL: only good for ``zoneInformation`` (zone discovery)."""
REST_ROOT: Final = "/atservicesrest"


def rest_root(url: str) -> str:
    """``url`` without a trailing slash, with ``/atservicesrest`` added when it has no path at all."""
    url = check_base_url(url.strip()).rstrip("/")
    return url + REST_ROOT if urlsplit(url).path in ("", "/") else url


def trusted_zone_url(information: Mapping[str, Any], base_url: str, username: str) -> str:
    """The REST URL of the zone a ``zoneInformation`` answer names for ``username``.

    A discovered URL must be https on an ``autotask.net`` host, or on the host ``base_url`` names: the
    credentials never travel anywhere else. CrmProtocolError when no zone is named or the URL is not
    trusted."""
    url = information.get("url")
    if not isinstance(url, str) or not url.strip():
        raise CrmProtocolError(f"Autotask named no zone for the user {username}", crm=CRM)
    zone = rest_root(url)
    parts, ours = urlsplit(zone), urlsplit(base_url)
    trusted = (parts.scheme == "https" and (parts.hostname or "").endswith(".autotask.net")) or (
        (parts.scheme, parts.netloc) == (ours.scheme, ours.netloc))
    if not trusted:
        raise CrmProtocolError(f"Autotask named an unexpected zone URL {zone}; not sending the "
                               "credentials there", crm=CRM)
    return zone
