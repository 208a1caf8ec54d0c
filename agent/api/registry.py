"""How an API method is declared: a params Struct, a module-level handler and its one-line description,
collected by :func:`method` into an :class:`ApiMethod` record; :func:`bind` serves the records.

A handler is ``async (ctx: ApiContext, params) -> answer``; its docstring's first paragraph is the
description ``agent.methods`` lists (whitespace collapsed). Handlers raise :mod:`leadsync.common.errors`
types, which the server turns into JSON-RPC errors; a full disk, wherever a handler meets it, becomes
:class:`~leadsync.common.errors.DiskFullError` ("disk full at PATH, nothing was written", code ``DISK_FULL``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from leadsync.agent.rpc_server import Method, NoParams, Session
from leadsync.agent.runtime import Runtime
from leadsync.agent.store.disk import disk_full
from leadsync.agent.store.store import Store

__all__ = ["ApiContext", "ApiMethod", "NoParams", "Params", "bind", "method"]


class Params(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of params Structs: unknown params are refused, so a typo is an error, not ignored."""


@dataclass(frozen=True)
class ApiContext:
    """What a handler works with: the agent (store, settings, connector, sync queue), the client's
    connection, and the methods served (for ``agent.methods``)."""

    agent: Runtime
    session: Session
    methods: tuple[ApiMethod, ...]

    @property
    def store(self) -> Store:
        return self.agent.store


P = TypeVar("P", bound=msgspec.Struct)
Handler = Callable[[ApiContext, Any], Awaitable[Any]]


@dataclass(frozen=True)
class ApiMethod:
    """One method: its name (``domain.verb``), params Struct, handler and description."""

    name: str
    params: type[msgspec.Struct]
    handler: Handler
    doc: str

    def describe(self) -> dict[str, Any]:
        """The method as ``agent.methods`` lists it: name, description, JSON Schema of the params."""
        return {"name": self.name, "doc": self.doc, "params": msgspec.json.schema(self.params)}


def method(name: str, params: type[P]) -> Callable[[Callable[[ApiContext, P], Awaitable[Any]]], ApiMethod]:
    """Declare the decorated handler as method ``name`` taking ``params``."""
    def declare(handler: Callable[[ApiContext, P], Awaitable[Any]]) -> ApiMethod:
        doc = " ".join((handler.__doc__ or "").strip().split("\n\n")[0].split())
        return ApiMethod(name, params, handler, doc)
    return declare


def bind(methods: Iterable[ApiMethod], agent: Runtime) -> dict[str, Method]:
    """The methods as the RPC server serves them, keyed by name, each handler given its context."""
    catalogue = tuple(methods)

    def serve(declared: ApiMethod) -> Method:
        async def handle(params: Any, session: Session) -> Any:
            try:
                return await declared.handler(ApiContext(agent, session, catalogue), params)
            except (sqlite3.Error, OSError) as exc:  # a full disk is the same error on every method
                if (full := disk_full(exc, agent.store.path)) is not None:
                    raise full from exc
                raise
        return Method(declared.name, declared.params, handle, declared.doc)

    return {m.name: serve(m) for m in catalogue}
