"""A sandbox's Starlette app (:func:`sandbox_app`) and the handlers' way back to its bundle (:func:`bundle_of`)."""

from __future__ import annotations

from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ExceptionHandler

B = TypeVar("B")


def sandbox_app(routes: list[BaseRoute], sandbox: Any, *, middleware: Middleware,
                exception_handlers: dict[Any, ExceptionHandler]) -> Starlette:
    """The Starlette app of a sandbox: ``routes`` behind ``middleware``, no slash redirects; ``app.state``
    has ``sandbox`` (the bundle), ``crm`` / ``faults`` / ``oauth`` (its ``state``, ``faults``, ``oauth``)."""
    app = Starlette(routes=routes, middleware=[middleware], exception_handlers=exception_handlers)
    app.router.redirect_slashes = False
    app.state.sandbox = sandbox
    app.state.crm = sandbox.state
    app.state.faults = sandbox.faults
    app.state.oauth = sandbox.oauth
    return app


def bundle_of(request: Request, kind: type[B]) -> B:
    """The sandbox bundle (``app.state.sandbox``, set by :func:`sandbox_app`) of the app serving ``request``,
    checked to be a ``kind``; ``TypeError`` when the app holds another kind of bundle.

    Route handlers are module-level functions; each sandbox wraps this in its own ``sandbox_of(request)``."""
    bundle = request.app.state.sandbox
    if not isinstance(bundle, kind):
        raise TypeError(f"the app serves a {type(bundle).__name__}, not a {kind.__name__}")
    return bundle
