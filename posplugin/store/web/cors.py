"""Cross-origin calls to ``/api/v1/*`` from web pages on other origins (a
browser POS such as Odoo's calling the store service with a till token).

Off unless the ``cors_origins`` setting names origins. Requests carry bearer
tokens, never cookies, so no credentials mode is needed. A preflight
(``OPTIONS`` with ``Access-Control-Request-Method``) is answered here, before
any token check, since browsers send it without the Authorization header.
"""

from __future__ import annotations

from flask import Flask, Response, request

from ...config.store import cors_origins

PREFIX = "/api/v1/"
METHODS = "GET, POST"
HEADERS = "Authorization, Content-Type, Last-Event-ID"
MAX_AGE_S = "600"


def install(app: Flask, setting: str) -> None:
    """Answer preflights and add CORS headers on ``/api/v1/*`` for ``setting``'s origins."""
    origins = cors_origins(setting)
    if not origins:
        return
    any_origin = "*" in origins

    def allowed(origin: str | None) -> bool:
        return bool(origin) and (any_origin or origin.rstrip("/").lower() in origins)

    @app.before_request
    def preflight():
        if (request.method != "OPTIONS" or not request.path.startswith(PREFIX)
                or "Access-Control-Request-Method" not in request.headers):
            return None
        response = Response(status=204)
        origin = request.headers.get("Origin")
        if allowed(origin):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Methods"] = METHODS
            response.headers["Access-Control-Allow-Headers"] = HEADERS
            response.headers["Access-Control-Max-Age"] = MAX_AGE_S
            # Chrome's Private Network Access: a public page calling a store PC.
            if request.headers.get("Access-Control-Request-Private-Network") == "true":
                response.headers["Access-Control-Allow-Private-Network"] = "true"
        response.headers["Vary"] = "Origin"
        return response

    @app.after_request
    def allow(response):
        if request.path.startswith(PREFIX):
            response.vary.add("Origin")
            origin = request.headers.get("Origin")
            if allowed(origin) and "Access-Control-Allow-Origin" not in response.headers:
                response.headers["Access-Control-Allow-Origin"] = origin
        return response
