"""One serving process per data folder.

A store's service keeps state in memory (lane lengths, the next visit id), so
two ``serve`` processes on one folder would disagree and corrupt each other's
counts. Other commands (imports, ``sync --once``) may run beside a serving
process; they work through the database and the list pointer only.
"""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock, Timeout

from .errors import ConfigError

LOCK_NAME = "serve.lock"


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
