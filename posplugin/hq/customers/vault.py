"""Secrets at rest: platform access and refresh tokens, and PKCE verifiers,
encrypted with a key kept outside the database (``hq-tokens.key`` in head
office's data folder, owner-readable only, like the signing key).

A copy of the database alone reveals no token. Losing the key file means
every customer links again; it never means a token leaks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE = "hq-tokens.key"


def secret_file(path: Path, make) -> bytes:
    """The bytes of the secret at ``path``; on first use ``make()``'s, written
    readable by the owner only. Two processes starting at once agree on one."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_bytes()
        with os.fdopen(fd, "wb") as f:
            f.write(make())
    return path.read_bytes()


class VaultError(Exception):
    """A sealed value that cannot be opened (another key, or damaged)."""


class Vault:
    """Seal and open small JSON values with Fernet (AES-128-CBC + HMAC-SHA256)."""

    def __init__(self, key: bytes):
        self._fernet = Fernet(key)

    @classmethod
    def in_folder(cls, data_dir: Path) -> "Vault":
        """The vault whose key is ``hq-tokens.key`` in ``data_dir``, made on first use."""
        return cls(secret_file(Path(data_dir) / KEY_FILE, Fernet.generate_key).strip())

    def seal(self, value) -> str:
        """``value`` (JSON-able) encrypted, as text for a database column."""
        return self._fernet.encrypt(json.dumps(value, separators=(",", ":")).encode()).decode()

    def open(self, sealed: str):
        """The value :meth:`seal` sealed; raises :class:`VaultError`."""
        try:
            return json.loads(self._fernet.decrypt(sealed.encode()))
        except (InvalidToken, ValueError) as exc:
            raise VaultError("a sealed token cannot be opened with this key") from exc
