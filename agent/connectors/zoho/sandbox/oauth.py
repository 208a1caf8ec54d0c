"""The sandbox's accounts server bookkeeping: Zoho-shaped tokens on the shared :class:`TokenBook`.

Zoho access and refresh tokens look like ``1000.<32 hex>.<32 hex>``; refresh tokens do not rotate.
"""

from __future__ import annotations

import secrets

from leadsync.agent.connectors.sandbox.oauth import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    TokenBook,
)

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "DEFAULT_REFRESH_TOKEN", "ZohoTokenBook"]


class ZohoTokenBook(TokenBook):
    """Apps, refresh tokens and access tokens of the sandbox org, in Zoho's token format."""

    def new_access_token(self) -> str:
        return f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"

    def new_refresh_token(self) -> str:
        return f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
