"""How a CRM folder declares itself: one :class:`CrmSpec` in ``<crm>/spec.py``, collected by
:mod:`leadsync.agent.connectors.registry`.

A spec module imports nothing of its connector or sandbox at load time (their imports are inside the
functions it names), so the agent learns every CRM's name and default field mappings without loading any
connector.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from leadsync.agent.connectors.base import Connector
from leadsync.common.answers import FieldMapping

if TYPE_CHECKING:
    import httpx

SaveCredentials = Callable[[dict[str, str]], None]
"""``save(values)``: keep credentials a connector refreshed or rotated (the agent's secret store)."""
ConnectionStatusHook = Callable[[str], Awaitable[None] | None]
"""Told a connection's status when auth changes it: ``"connected"`` or ``"needs_reauth"``."""


class ConnectorFactory(Protocol):
    """``connect(base_url, credentials, ...)`` -> the CRM's connector. Raises ValidationError for missing
    credentials (naming what is missing, never a secret's value). ``options`` are the connector's own
    keyword arguments (rate limits, clocks, page sizes); ones another CRM's connector takes are dropped."""

    def __call__(self, base_url: str, credentials: dict[str, str], *, transport: httpx.AsyncBaseTransport | None,
                 save_credentials: SaveCredentials, on_status: ConnectionStatusHook | None,
                 **options: Any) -> Connector: ...


class SandboxServer(Protocol):
    """``serve(host, port, contacts=, seed=, token=)``: serve the CRM's sandbox seeded with ``contacts``
    records (from ``seed``), blocking; prints ``{"event": "listening", "url": URL}`` once it listens."""

    def __call__(self, host: str, port: int, *, contacts: int, seed: int, token: str) -> None: ...


class CrmSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One CRM as leadsync knows it.

    ``name`` is the ``crm`` of ``crm.connect`` (``"hubspot"``), ``display_name`` the CRM's own name.
    ``credential_keys`` lists the sets of credentials ``crm.connect`` takes (any one set; see each
    connector). ``default_base_url`` is used when ``crm.connect`` names none. ``default_mappings`` are the
    field mappings a new connection starts with. ``connect`` builds the connector; ``serve_sandbox`` serves
    the local stand-in of the CRM and ``sandbox_credentials(token)`` is what ``crm.connect`` takes to reach
    a sandbox served with ``token``.
    """

    name: str
    display_name: str
    credential_keys: tuple[tuple[str, ...], ...]
    default_base_url: str
    default_mappings: tuple[FieldMapping, ...]
    connect: ConnectorFactory
    serve_sandbox: SandboxServer
    sandbox_credentials: Callable[[str], dict[str, str]]
