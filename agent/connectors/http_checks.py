"""What a connection's settings must be before a request is sent: the base URL and an access token.

Both raise :class:`~leadsync.common.errors.ValidationError` naming the setting (never a token's value);
:mod:`.http` re-exports them.
"""

from __future__ import annotations

import httpx

from leadsync.common.errors import ValidationError

__all__ = ["check_base_url", "check_token"]


def check_base_url(base_url: str) -> str:
    """``base_url`` if it is an absolute http(s) URL with a host; raises ValidationError saying why not."""
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise ValidationError(f"base_url: {base_url[:200]!r} is not a valid URL ({exc})") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValidationError(f"base_url: {base_url[:200]!r} must be an http:// or https:// URL with a host")
    return base_url


def check_token(name: str, token: str) -> str:
    """``token`` if it can travel in an HTTP header (printable ASCII, no spaces); raises ValidationError
    naming ``name`` (never the value) otherwise."""
    if not token or not all(33 <= ord(char) <= 126 for char in token):
        raise ValidationError(f"credentials: {name!r} has characters an access token never has "
                              "(spaces, control or non-ASCII characters)")
    return token
