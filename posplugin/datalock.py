"""One serving process per data folder, and where it listens.

A store's service keeps state in memory (lane lengths, the next visit id), so
two ``serve`` processes on one folder would disagree and corrupt each other's
counts. Other commands (imports, ``sync --once``) may run beside a serving
process; they work through the database and the list pointer only.

The serving process also writes its address beside the lock
(``serving.json``), so a command like ``posplugin pair`` can ask the running
service where it is instead of guessing from the settings (``--port 0``
picks any free port).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from filelock import FileLock, Timeout

from .errors import ConfigError

LOCK_NAME = "serve.lock"
ADDRESS_NAME = "serving.json"


def hold(data_dir: Path, command: str = "serve") -> FileLock:
    """The folder's serving lock, held until released or the process ends;
    raises :class:`ConfigError` when another process holds it."""
    lock = FileLock(Path(data_dir) / LOCK_NAME)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ConfigError([f"another posplugin process is already serving {data_dir} (it holds {LOCK_NAME}); "
                           f"stop it first, or give this {command} its own --data"]) from None
    return lock


def announce(data_dir: Path, host: str, port: int) -> None:
    """Say where the process holding the folder's lock listens (written whole, then renamed)."""
    path = Path(data_dir) / ADDRESS_NAME
    part = path.with_suffix(".part")
    part.write_text(json.dumps({"host": host, "port": port, "pid": os.getpid()}), encoding="utf-8")
    os.replace(part, path)


def serving(data_dir: Path) -> dict | None:
    """Where the service holding ``data_dir``'s lock listens (``{"host", "port",
    "pid"}``), or None when no process serves the folder now. An address left
    behind by a service that stopped is not believed: the lock says who runs."""
    lock = FileLock(Path(data_dir) / LOCK_NAME)
    if not (Path(data_dir) / LOCK_NAME).exists():
        return None
    try:
        lock.acquire(timeout=0)
    except Timeout:
        pass  # held: a service runs
    else:
        lock.release()
        return None
    try:
        address = json.loads((Path(data_dir) / ADDRESS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return address if isinstance(address, dict) and isinstance(address.get("port"), int) else None
