"""CRM credentials on disk: one JSON file per CRM, mode 0600, written atomically.

With systemd credentials (``$CREDENTIALS_DIRECTORY``, e.g. ``LoadCredential=hubspot-token:...``), a
file named ``<crm>-token`` there is used and nothing is written. Secrets never go to logs or answers:
:func:`redact` masks them for anything shown to a person.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import msgspec


class SecretStore:
    """Credentials of the connected CRM, under ``<data dir>/secrets/``."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "secrets"

    def _path(self, crm: str) -> Path:
        return self.dir / f"{crm}.json"

    def save(self, crm: str, values: dict[str, str]) -> None:
        """Write atomically (temp file, fsync, rename, fsync of the directory) with mode 0600."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(msgspec.json.encode(values))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._path(crm))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(self.dir)  # the rename itself survives a crash (a refreshed OAuth token must not be lost)

    def load(self, crm: str) -> dict[str, str]:
        """The stored credentials merged with systemd credentials (which win); {} when none."""
        values: dict[str, str] = {}
        path = self._path(crm)
        if path.exists():
            values.update(msgspec.json.decode(path.read_bytes(), type=dict[str, str]))
        cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
        if cred_dir:
            token_file = Path(cred_dir) / f"{crm}-token"
            if token_file.exists():
                values["token"] = token_file.read_text().strip()
        return values

    def delete(self, crm: str) -> None:
        self._path(crm).unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def redact(secret: str | None) -> str:
    """A secret as it may be shown: its last four characters at most."""
    if not secret:
        return ""
    return "…" + secret[-4:] if len(secret) > 12 else "…"
