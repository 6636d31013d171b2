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
import time
from dataclasses import dataclass, field
from functools import wraps
from typing import Callable

from inspect import iscoroutinefunction

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from flask.globals import request_ctx
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wsgi import get_content_length

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
        # Any route answers 400 to a request head the front door cannot read.
        codes = (400, 413, 415, 422) if body else (400, 422)
        if roles is not None:
            codes += (401, 403, 429)
        if "<" in path:
            codes += (404,)
        if query_token:
            parameters = [*(parameters or []), ACCESS_TOKEN]
        self.operations.append(Operation(method, self.prefix + path, summary, roles, body, response,
                                         tuple(dict.fromkeys(codes + errors)), parameters or [], response_type,
                                         tag or self.tag, redirect, query_token))
        query = [p for p in parameters or [] if p["in"] == "query" and p is not ACCESS_TOKEN]
        known_query = {p["name"] for p in query} | ({"access_token"} if query_token else set())

        def decorate(handler):
            @wraps(handler)
            def view(**kwargs):
                # The request object itself, not the context-local proxy: each
                # use of the proxy costs a context look-up on the till's path.
                req = request._get_current_object()
                if roles is not None:
                    checks = current_app.extensions[GATE]
                    caller = checks.authenticate(bearer_token(req, query_token))
                    require_role(caller, roles, checks.superuser)
                    checks.ratelimit.check(caller.token_id)
                    g.caller = caller
                for name, value in kwargs.items():
                    if isinstance(value, int) and not 0 <= value <= MAX_ID or isinstance(value, str) and "\0" in value:
                        raise NotFound(f"no such {name.replace('_', ' ')}", field=name)
                if req.environ.get("QUERY_STRING"):
                    check_args(req.args, known_query)
                for param in query:
                    check_query(param)
                if body:
                    kwargs["body"] = json_body(self.schemas, body, req)
                return handler(**kwargs)

            self.add_url_rule(path, endpoint=handler.__name__, view_func=view, methods=[method])
            return view

        return decorate


ROUTE = "posplugin.route"  # the environ key naming the matched route's rule
# Every answer carries these unless its route set them: no caching, no type sniffing.
SAFE_HEADERS = (("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"))
Observer = Callable[[str, str, int, float], None]  # (route, method, status, seconds)


class App(Flask):
    """Flask as posplugin runs it, lean on the till's path.

    Around each request (not in per-request hooks, which cost more than what
    they do): the safe headers are added where missing, and ``observe``, when
    set, is told the matched route's rule, the method, the status and the
    time taken. Whether a view or hook is a coroutine is asked once per
    function, not for every hook of every request as Flask does."""

    observe: Observer | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sync: set = set()

    def wsgi_app(self, environ, start_response):
        started = time.perf_counter()
        status = []

        def start(line, headers, exc_info=None):
            status.append(line)
            present = {name.lower() for name, _ in headers}
            headers.extend(h for h in SAFE_HEADERS if h[0].lower() not in present)
            return start_response(line, headers, exc_info)

        answer = super().wsgi_app(environ, start)
        if self.observe is not None:
            self.observe(environ.get(ROUTE, "unmatched"), environ["REQUEST_METHOD"],
                         int(status[0][:3]) if status else 500, time.perf_counter() - started)
        return answer

    def ensure_sync(self, func):
        try:
            if func in self._sync:
                return func
        except TypeError:  # an unhashable callable: ask every time
            return super().ensure_sync(func)
        if iscoroutinefunction(func):
            return super().ensure_sync(func)
        self._sync.add(func)
        return func

    def dispatch_request(self):
        req = request_ctx.request
        if req.url_rule is not None:
            req.environ[ROUTE] = req.url_rule.rule
        return super().dispatch_request()


def new_app(import_name: str, *, max_body: int, language: str, gate: Gate) -> App:
    """A Flask app as every posplugin service has it: no static folder of
    Flask's own, bodies up to ``max_body`` bytes, JSON in the order written and
    unescaped, every error in the JSON shape, no caching and no type sniffing,
    callers checked by ``gate``."""
    app = App(import_name, static_folder=None)
    app.extensions[GATE] = gate
    app.config["MAX_CONTENT_LENGTH"] = max_body
    app.config["POSPLUGIN_LANGUAGE"] = language
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.register_error_handler(Exception, handle_error)
    return app


def check_args(args, known: set[str]) -> None:
    """Refuse a query with a NUL anywhere or a parameter the route does not know (422)."""
    for name, value in args.items(multi=True):
        # No name nor text has a NUL; PostgreSQL fails on one in any string.
        if "\0" in value:
            raise ValidationError(f"{name[:40]} contains characters that are not allowed here", field=name[:40])
    unknown = set(args) - known
    if unknown:
        name = sorted(unknown)[0][:40]
        raise ValidationError(f"unknown query parameter {name!r}", field=name)


def check_query(param: dict) -> None:
    """Validate one declared query parameter against its schema (422 naming it)."""
    name = param["name"]
    values = request.args.getlist(name)
    if len(values) > 1:
        raise ValidationError(f"{name} may be given once", field=name)
    if values and not check_value(param["schema"], values[0]):
        raise ValidationError(f"{name} {describe_value(param['schema'])}", field=name)


def bearer_token(req=None, query_token: bool = False) -> str | None:
    """The request's token: its ``Authorization: Bearer`` header, else, where
    ``query_token`` allows it (EventSource cannot send headers), ``access_token``
    in the query. A token in the query of any other route is refused (401
    ``token_in_url``), whatever the header says: it is already in a log."""
    req = req or request
    # The query string is parsed only when it may hold a token: not on the till's path.
    if not query_token and "access_token" in req.environ.get("QUERY_STRING", "") and "access_token" in req.args:
        raise Unauthorized("send the token in the Authorization header: a token in a URL ends up in "
                           "proxy logs (access_token is taken only by the live stream)", code="token_in_url")
    token = bearer(req.environ.get("HTTP_AUTHORIZATION"))
    if token is None and query_token:
        token = req.args.get("access_token")
    return token


def json_body(schema_set: SchemaSet, schema: str, req=None) -> dict:
    """The request's JSON body, checked against ``schema`` of ``schema_set``; raises typed errors."""
    req = req or request._get_current_object()
    limit = req.max_content_length or MAX_BODY  # the route's own limit where it set one
    # From the environ, as werkzeug reads them, without its header objects on the till's path.
    length = get_content_length(req.environ)
    if length is not None and length > limit:
        raise RequestEntityTooLarge()
    mimetype = req.environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
    if not (mimetype == "application/json" or mimetype.endswith("+json")):
        raise UnsupportedMediaType("send the body as JSON with Content-Type: application/json")
    raw = _read_body(req, length, limit)
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


def _read_body(req, length: int | None, limit: int) -> bytes:
    """The body, at most ``limit`` bytes (413 past it). A body of known length
    is read from the server's input at once (the front door has it whole in
    memory); one without a length (chunked) is read from the input directly
    too: werkzeug's limited stream would cut it at the limit silently."""
    stream = req.environ["wsgi.input"]
    if length is not None:
        return stream.read(length) if length else b""
    raw = stream.read(limit + 1)
    if len(raw) > limit:
        raise RequestEntityTooLarge()
    return raw


def _short(exc: Exception) -> str:
    return str(exc).split("\n")[0][:120]


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def json_answer(payload) -> Response:
    """``payload`` (plain JSON types) as a JSON answer, as ``jsonify`` writes it,
    without its per-call set-up: for the till's routes."""
    return current_app.response_class(_ENCODER.encode(payload) + "\n", mimetype="application/json")


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
