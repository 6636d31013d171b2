"""The Flask application factory."""

from __future__ import annotations

import time

from flask import Flask, g, request

from ..config import Settings
from ..store import auth
from ..store.service import Store
from . import api, cors, hooks, pages, queues, stream
from .endpoint import MAX_BODY, new_app
from .metrics import Metrics
from .ratelimit import RateLimiter

# Every blueprint of the store service.
BLUEPRINTS = (api.bp, api.root, queues.bp, stream.bp, pages.bp)


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> Flask:
    """Build the store service for ``settings`` (or around an existing ``store``)."""
    if store is None:
        store = Store(settings)
    app = new_app(__name__, max_body=MAX_BODY, language=store.settings.language)
    app.extensions["posplugin"] = store
    app.extensions["posplugin.metrics"] = metrics = Metrics(lambda: store.tiers.info().rows)
    app.extensions["posplugin.streams"] = stream.StreamLimit(store.settings.max_streams)
    app.extensions["posplugin.auth"] = auth.Authenticator(lambda: store.db.conn)
    app.extensions["posplugin.ratelimit"] = RateLimiter(store.settings.rate_limit_per_s,
                                                        store.settings.rate_limit_burst)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    hooks.mount(app, store)
    cors.install(app, store.settings.cors_origins)

    @app.before_request
    def start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def record(response):
        route = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.observe_request(route, request.method, response.status_code,
                                time.perf_counter() - g.get("started", time.perf_counter()))
        return response

    return app
