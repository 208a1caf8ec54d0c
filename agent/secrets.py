"""CRM credentials on disk: one JSON file per CRM, mode 0600, written atomically.

Under systemd, credentials also come from ``$CREDENTIALS_DIRECTORY`` (``LoadCredential=``,
``LoadCredentialEncrypted=``, ``ImportCredential=``; see :func:`system_credentials`): ``<crm>.json`` holds
every credential of the CRM as a JSON object, ``<crm>-<name>`` one value (``hubspot-token``,
``salesforce-refresh_token``, ``autotask-secret``). ``crm.connect`` and ``crm.reauth`` without credentials
take them from there. Which copy wins: the stored file records a digest of the system credentials it came
from; while those are unchanged, the stored values win (they hold refreshed or rotated OAuth tokens); once
an operator changes them (a new credential, a restart), the system credentials win. Secrets never go to
logs or answers: :func:`redact` masks them for anything shown to a person.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Final

import msgspec

from leadsync.common.errors import ValidationError

DIGEST_KEY: Final = "__system_credentials_sha256__"
"""The stored file's record of the system credentials its values came from (see the module docstring)."""


def system_credentials(crm: str) -> dict[str, str]:
    """``crm``'s credentials in ``$CREDENTIALS_DIRECTORY``: ``<crm>.json`` (a JSON object of strings), then
    ``<crm>-<name>`` files (one value each, surrounding whitespace dropped) over it; {} outside systemd.
    Raises ValidationError for a ``<crm>.json`` that is not such an object (the message names the file only)."""
    folder = os.environ.get("CREDENTIALS_DIRECTORY")
    if not folder or not Path(folder).is_dir():
        return {}
    values: dict[str, str] = {}
    whole = Path(folder) / f"{crm}.json"
    if whole.is_file():
        try:
            values.update(msgspec.json.decode(whole.read_bytes(), type=dict[str, str]))
        except msgspec.DecodeError:
            raise ValidationError(f"credentials: {whole} is not a JSON object of credential names and text "
                                  "values") from None
    for item in sorted(Path(folder).glob(f"{crm}-*")):
        if item.is_file():
            values[item.name.removeprefix(f"{crm}-")] = item.read_text(encoding="utf-8").strip()
    return values


def _digest(values: dict[str, str]) -> str:
    return hashlib.sha256(msgspec.json.encode(dict(sorted(values.items())))).hexdigest()


class SecretStore:
    """Credentials of the connected CRM, under ``<data dir>/secrets/``."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "secrets"

    def _path(self, crm: str) -> Path:
        return self.dir / f"{crm}.json"

    def save(self, crm: str, values: dict[str, str]) -> None:
        """Write atomically (temp file, fsync, rename, fsync of the directory) with mode 0600, with the digest
        of the system credentials in force."""
        system = system_credentials(crm)
        values = {**values, DIGEST_KEY: _digest(system)} if system else dict(values)
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
        """The stored credentials merged with the system credentials (which wins: see the module docstring);
        {} when there are none."""
        stored: dict[str, str] = {}
        path = self._path(crm)
        if path.exists():
            stored.update(msgspec.json.decode(path.read_bytes(), type=dict[str, str]))
        digest = stored.pop(DIGEST_KEY, None)
        system = system_credentials(crm)
        if system and digest == _digest(system):
            return {**system, **stored}
        return {**stored, **system}

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
