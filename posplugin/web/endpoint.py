"""HTTP plumbing both services' blueprints stand on: JSON bodies, tokens and
roles, errors.

Routes are declared with :meth:`ApiBlueprint.operation`, which records what the OpenAPI
document needs (roles, request and response schemas) beside the handler, so
the document is generated from the same schemas that validate requests. Each
app says once, with :class:`Gate`, how its tokens are checked and rate limited.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import wraps
from typing import Callable

from flask import Blueprint, Flask, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..errors import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    PospluginError,
    Unauthorized,
    UnsupportedMediaType,
    ValidationError,
)
from ..tokens import Caller, bearer, require_role
from .ratelimit import RateLimiter
from .schemas import SchemaSet, check_value, describe_value

log = logging.getLogger("posplugin.web")
MAX_BODY = 64 * 1024
# The query parameter of routes that take their token there (query_token).
ACCESS_TOKEN = {"name": "access_token", "in": "query", "required": False,
                "schema": {"type": "string", "maxLength": 256},
                "description": "the token, where a request cannot carry headers (EventSource)"}
# An id in a path (``<int:...>``) past this cannot be a row: SQLite's and
# PostgreSQL's integers stop at 2**63 - 1, and both fail on larger values.
MAX_ID = 2**63 - 1


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    roles: tuple[str, ...] | None
    body: str | None
    response: str | None
    errors: tuple[int, ...]
    parameters: list[dict] = field(default_factory=list)
    response_type: str = "application/json"
    tag: str = "store"
    redirect: bool = False  # answers 302 (a browser's callback), not 200
    query_token: bool = False  # takes the token as ?access_token= (EventSource sends no headers)


@dataclass(frozen=True)
class Gate:
    """How one service checks callers: ``authenticate`` turns a token into a
    :class:`Caller` (or raises ``Unauthorized``), ``ratelimit`` limits each
    token, and ``superuser`` is the role every route allows (None: none)."""
    authenticate: Callable[[str | None], Caller]
    ratelimit: RateLimiter
    superuser: str | None = None


GATE = "posplugin.gate"


def gate() -> Gate:
    """The running app's :class:`Gate`."""
    return current_app.extensions[GATE]


class ApiBlueprint(Blueprint):
    """A blueprint whose routes are declared with :meth:`operation`, so each
    carries what the OpenAPI document needs beside its handler; ``schemas``
    (a :class:`posplugin.web.schemas.SchemaSet`) names its bodies."""

    def __init__(self, name: str, import_name: str, *, schemas: SchemaSet, url_prefix: str = "",
                 tag: str = "store"):
        super().__init__(name, import_name, url_prefix=url_prefix or None)
        self.prefix = url_prefix
        self.tag = tag
        self.schemas = schemas
        self.operations: list[Operation] = []

    def operation(self, method: str, path: str, *, summary: str, roles: tuple[str, ...] | None,
                  body: str | None = None, response: str | None = None,
                  parameters: list[dict] | None = None, response_type: str = "application/json",
                  tag: str | None = None, errors: tuple[int, ...] = (), redirect: bool = False,
                  query_token: bool = False):
        """Register a route and describe it for OpenAPI.

        ``roles`` None means no token is needed. With ``body`` the handler gets
        the validated JSON body as its ``body`` argument. ``errors`` adds status
        codes the handler itself may answer (409, say); ``redirect`` says it
        answers 302 instead of 200. ``query_token`` lets the route take its
        token as ``?access_token=`` (only where a header is impossible:
        EventSource); everywhere else a token in the URL is refused, since
        URLs end up in proxy and server logs.
        """
        codes = (400, 413, 415, 422) if body else (422,)
        if roles is not None:
            codes += (401, 403, 429)
        if "<" in path:
            codes += (404,)
        if query_token:
            parameters = [*(parameters or []), ACCESS_TOKEN]
        self.operations.append(Operation(method, self.prefix + path, summary, roles, body, response,
                                         codes + errors, parameters or [], response_type,
                                         tag or self.tag, redirect, query_token))
        query = [p for p in parameters or [] if p["in"] == "query" and p is not ACCESS_TOKEN]
        known_query = {p["name"] for p in query} | ({"access_token"} if query_token else set())

        def decorate(handler):
            @wraps(handler)
            def view(**kwargs):
                if roles is not None:
                    checks = gate()
                    caller = checks.authenticate(bearer_token(query_token))
                    require_role(caller, roles, checks.superuser)
                    checks.ratelimit.check(caller.token_id)
                    g.caller = caller
                for name, value in kwargs.items():
                    if isinstance(value, int) and not 0 <= value <= MAX_ID or isinstance(value, str) and "\0" in value:
                        raise NotFound(f"no such {name.replace('_', ' ')}", field=name)
                unknown = set(request.args) - known_query
                for name, value in request.args.items(multi=True):
                    # No name nor text has a NUL; PostgreSQL fails on one in any string.
                    if "\0" in value:
                        raise ValidationError(f"{name[:40]} contains characters that are not allowed here",
                                              field=name[:40])
                if unknown:
                    name = sorted(unknown)[0][:40]
                    raise ValidationError(f"unknown query parameter {name!r}", field=name)
                for param in query:
                    check_query(param)
                if body:
                    kwargs["body"] = json_body(self.schemas, body)
                return handler(**kwargs)

            self.add_url_rule(path, endpoint=handler.__name__, view_func=view, methods=[method])
            return view

        return decorate


def new_app(import_name: str, *, max_body: int, language: str, gate: Gate) -> Flask:
    """A Flask app as every posplugin service has it: no static folder of
    Flask's own, bodies up to ``max_body`` bytes, JSON in the order written and
    unescaped, every error in the JSON shape, no caching and no type sniffing,
    callers checked by ``gate``."""
    app = Flask(import_name, static_folder=None)
    app.extensions[GATE] = gate
    app.config["MAX_CONTENT_LENGTH"] = max_body
    app.config["POSPLUGIN_LANGUAGE"] = language
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.register_error_handler(Exception, handle_error)
    app.after_request(_no_store)
    return app


def _no_store(response):
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def check_query(param: dict) -> None:
    """Validate one declared query parameter against its schema (422 naming it)."""
    name = param["name"]
    values = request.args.getlist(name)
    if len(values) > 1:
        raise ValidationError(f"{name} may be given once", field=name)
    if values and not check_value(param["schema"], values[0]):
        raise ValidationError(f"{name} {describe_value(param['schema'])}", field=name)


def bearer_token(query_token: bool = False) -> str | None:
    """The request's token: its ``Authorization: Bearer`` header, else, where
    ``query_token`` allows it (EventSource cannot send headers), ``access_token``
    in the query. A token in the query of any other route is refused (401
    ``token_in_url``), whatever the header says: it is already in a log."""
    if "access_token" in request.args and not query_token:
        raise Unauthorized("send the token in the Authorization header: a token in a URL ends up in "
                           "proxy logs (access_token is taken only by the live stream)", code="token_in_url")
    return bearer(request.headers.get("Authorization")) or (
        request.args.get("access_token") if query_token else None)


def json_body(schema_set: SchemaSet, schema: str) -> dict:
    """The request's JSON body, checked against ``schema`` of ``schema_set``; raises typed errors."""
    limit = request.max_content_length or MAX_BODY  # the route's own limit where it set one
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    mimetype = request.mimetype or ""
    if not (mimetype == "application/json" or mimetype.endswith("+json")):
        raise UnsupportedMediaType("send the body as JSON with Content-Type: application/json")
    raw = _read_body(limit)
    try:
        # Strict UTF-8 first: json.loads(bytes) lets raw surrogate bytes through
        # ("surrogatepass"), and SQLite would fail on them later.
        value = json.loads(raw.decode("utf-8"))
        # "\ud800" is valid JSON but not text; catch it here, not in SQLite. A lone
        # surrogate can only arrive escaped, so most bodies skip the full check.
        if b"\\ud" in raw or b"\\uD" in raw:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {_short(exc)}") from None
    except RecursionError:
        raise BadRequest("the body is nested too deeply") from None
    try:
        return schema_set.validate(schema, value)
    except RecursionError:
        raise BadRequest("the body is nested too deeply") from None


def _read_body(limit: int) -> bytes:
    """The body, at most ``limit`` bytes (413 past it). A body without a length
    (chunked) is read from the server's input directly: werkzeug's limited
    stream would cut it at the limit silently."""
    if request.content_length is not None:
        return request.get_data(cache=False)
    raw = request.environ["wsgi.input"].read(limit + 1)
    if len(raw) > limit:
        raise RequestEntityTooLarge()
    return raw


def _short(exc: Exception) -> str:
    return str(exc).split("\n")[0][:120]


def error_response(exc: PospluginError):
    response = jsonify(exc.to_dict())
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response, exc.status


def handle_error(exc: Exception):
    """Map any exception to the JSON error shape; never a stack trace to the client."""
    if isinstance(exc, PospluginError):
        return error_response(exc)
    if isinstance(exc, RequestEntityTooLarge):
        limit = request.max_content_length or MAX_BODY
        return error_response(PayloadTooLarge(f"the body is larger than {limit // 1024:,} KiB"))
    if isinstance(exc, HTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.code, "http_error")
        message = {404: "no such route; see /api/v1/openapi.json",
                   405: f"{request.method} is not allowed here"}.get(exc.code, exc.description)
        response = jsonify({"error": {"code": code, "message": message}})
        if getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response, exc.code
    log.exception("unhandled error on %s %s", request.method, request.path)
    return jsonify({"error": {"code": "internal_error",
                              "message": "something went wrong on our side; it has been logged"}}), 500
