"""Typed errors. Each maps to one HTTP status and the JSON error shape in DESIGN.md.

Domain code raises these; the web layer turns them into
``{"error": {"code", "message", "field"?}}`` in one place
(``posplugin.web.endpoint.handle_error``).
"""

from __future__ import annotations


class PospluginError(Exception):
    """Base class. ``status`` and ``code`` say how the API reports it."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def to_dict(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        return {"error": error}


class BadRequest(PospluginError):
    status = 400
    code = "invalid_json"


class Unauthorized(PospluginError):
    status = 401
    code = "unauthorized"


class Forbidden(PospluginError):
    status = 403
    code = "forbidden"


class NotFound(PospluginError):
    status = 404
    code = "not_found"


class Conflict(PospluginError):
    status = 409
    code = "conflict"


class PayloadTooLarge(PospluginError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(PospluginError):
    status = 415
    code = "unsupported_media_type"


class ValidationError(PospluginError):
    """Valid JSON (or CSV) that breaks the schema or the domain rules."""

    status = 422
    code = "invalid"


class InvalidIdentifier(ValidationError):
    code = "invalid_identifier"


class PassRefused(ValidationError):
    """A scanned pass that cannot be trusted (unreadable, forged, another chain's,
    expired); ``code`` says which, and no tier is given."""

    code = "pass_refused"


class NotImplementedHere(PospluginError):
    """A route this server cannot serve (a live stream outside the front door)."""

    status = 501
    code = "not_implemented"


class RateLimited(PospluginError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, code: str | None = None, retry_after: int = 1):
        super().__init__(message, code=code)
        self.retry_after = max(1, int(retry_after))  # seconds, sent as Retry-After


class Busy(PospluginError):
    """The database stayed busy (a deadlock's victim, a lock not handed over)
    through every retry: nothing was kept, and the same request may be sent
    again after ``retry_after`` seconds."""

    status = 503
    code = "busy"

    def __init__(self, message: str, *, retry_after: int = 1):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class ConfigError(PospluginError):
    """Settings that cannot be used; ``problems`` lists each with what to fix."""

    code = "config_error"

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def _rows(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


class ImportRefused(PospluginError):
    """A file refused whole; ``problems`` are ``(line_number, reason)`` pairs."""

    status = 422
    code = "import_refused"

    def __init__(self, problems: list[tuple[int, str]], *, total_bad: int | None = None):
        self.problems = problems
        self.total_bad = total_bad if total_bad is not None else len(problems)
        lines = [f"line {n}: {reason}" for n, reason in problems]
        more = self.total_bad - len(problems)
        if more > 0:
            lines.append(f"... and {_rows(more, 'more bad row')}")
        super().__init__(f"{_rows(self.total_bad, 'bad row')}, nothing loaded\n" + "\n".join(lines))

    def to_dict(self) -> dict:
        """The error shape, with the bad lines also as ``problems: [{line, reason}]``."""
        shape = super().to_dict()
        shape["error"]["message"] = self.message.split("\n", 1)[0] + " (see problems)"
        shape["error"]["problems"] = [{"line": n, "reason": reason} for n, reason in self.problems]
        return shape


class ListShrinks(PospluginError):
    """A new tier list that would replace the one in use with none, or far
    fewer, rows (a file cut short, the wrong file): refused unless asked for."""

    status = 422
    code = "list_shrinks"
