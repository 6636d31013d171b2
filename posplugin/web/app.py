"""The Flask application factory."""

from __future__ import annotations

import time

from flask import Flask, g, request

from ..store import auth
from ..config import Settings
from .metrics import Metrics
from .ratelimit import RateLimiter
from ..store.service import Store
from .endpoint import MAX_BODY, handle_error


def blueprints() -> list:
    """Every blueprint of the store service (importing them declares their routes)."""
    from . import api, queues as api_queues, pages, stream
    return [api.bp, api.root, api_queues.bp, stream.bp, pages.bp]


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> Flask:
    """Build the store service for ``settings`` (or around an existing ``store``)."""
    if store is None:
        store = Store(settings)
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.extensions["posplugin"] = store
    app.config["POSPLUGIN_LANGUAGE"] = store.settings.language
    app.extensions["posplugin.metrics"] = metrics = Metrics(lambda: store.tiers.info().rows)
    from .stream import StreamLimit
    app.extensions["posplugin.streams"] = StreamLimit(store.settings.max_streams)
    app.extensions["posplugin.auth"] = auth.Authenticator(lambda: store.db.conn)
    app.extensions["posplugin.ratelimit"] = RateLimiter(store.settings.rate_limit_per_s,
                                                        store.settings.rate_limit_burst)
    for blueprint in blueprints():
        app.register_blueprint(blueprint)
    from .hooks import mount
    mount(app, store)
    app.register_error_handler(Exception, handle_error)
    from .cors import install as install_cors
    install_cors(app, store.settings.cors_origins)

    @app.before_request
    def start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def record(response):
        route = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.observe_request(route, request.method, response.status_code,
                                time.perf_counter() - g.get("started", time.perf_counter()))
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    return app
