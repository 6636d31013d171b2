"""Start-up problems as one sentence that says what to fix, instead of a
traceback: a port in use, a data folder that cannot be written, a damaged
database or signing key."""

from __future__ import annotations

import errno
import sqlite3

# EADDRINUSE is 98 on Linux, 48 on macOS, 10048 (WSAEADDRINUSE) on Windows.
ADDRESS_IN_USE = {errno.EADDRINUSE, 10048}
READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}


def explain(exc: BaseException, args) -> str | None:
    """The sentence for a start-up problem ``exc``, or None when it is not one
    we know (the caller lets it through)."""
    data = getattr(args, "data", None) or "the data folder"
    if isinstance(getattr(exc, "orig", None), sqlite3.Error):  # SQLAlchemy's wrapper (head office)
        exc = exc.orig
    if isinstance(exc, OSError) and (exc.errno in ADDRESS_IN_USE or getattr(exc, "winerror", None) == 10048):
        port = getattr(args, "port", None) or "the port"
        return (f"port {port} is already in use (another posplugin serve, or another program): "
                "stop it, or choose another port with --port")
    if isinstance(exc, OSError) and exc.errno in READ_ONLY:
        where = exc.filename or data
        return (f"cannot write {where} ({exc.strerror}): give the service's user write access to the "
                "data folder, or choose another with --data")
    if isinstance(exc, sqlite3.OperationalError) and any(
            words in str(exc) for words in ("readonly", "read-only", "unable to open")):
        return (f"cannot write the database in {data} ({exc}): give the service's user write access "
                "to the data folder, or choose another with --data")
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return (f"a database file in {data} is damaged ({exc}): restore it from a backup, or move it "
                "aside to start with an empty one")
    return None
