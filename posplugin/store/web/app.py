"""The store service's application factory."""

from __future__ import annotations

import time

from flask import Flask

from ...config import StoreSettings
from ...web.endpoint import MAX_BODY, ROUTE, Gate, new_app
from ...web.ratelimit import RateLimiter
from .. import auth
from ..service import Store
from . import api, cors, hooks, pages, stream
from .metrics import METRICS, Metrics

# Every blueprint of the store service.
BLUEPRINTS = (api.bp, api.queues, api.root, stream.bp, pages.bp)


def create_app(settings: StoreSettings | None = None, *, store: Store | None = None) -> Flask:
    """Build the store service for ``settings`` (or around an existing ``store``)."""
    if store is None:
        store = Store(settings)
    s = store.settings
    gate = Gate(auth.authenticator(lambda: store.db.conn), RateLimiter(s.rate_limit_per_s, s.rate_limit_burst),
                superuser=auth.SUPERUSER)
    app = new_app(__name__, max_body=MAX_BODY, language=s.language, gate=gate)
    app.extensions[api.STORE] = store
    app.config["POSPLUGIN_FRAME_ANCESTORS"] = pages.frame_ancestors(s.cors_origins)
    app.extensions[METRICS] = metrics = Metrics(lambda: store.tiers.info().rows)
    metrics.watch_writes(store.db.deferred)
    app.extensions[stream.STREAM_LIMIT] = stream.StreamLimit(s.max_streams, s.max_streams_per_token)
    # One function for the app, so open streams' tokens are checked in one query.
    app.extensions[stream.LIVE_TOKENS] = lambda ids: auth.live_token_ids(store.db.conn, ids)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    hooks.mount(app, store)
    cors.install(app, s.cors_origins)

    app.wsgi_app = _timed(app.wsgi_app, metrics)
    return app


def _timed(wsgi_app, metrics: Metrics):
    """``wsgi_app`` with every request counted and timed by route and status.
    Around the app rather than in its hooks: two hooks cost the till's path
    more than the measurement itself."""

    def timed(environ, start_response):
        started = time.perf_counter()
        status = []

        def start(line, headers, exc_info=None):
            status.append(line)
            return start_response(line, headers, exc_info)

        answer = wsgi_app(environ, start)
        metrics.observe_request(environ.get(ROUTE, "unmatched"), environ["REQUEST_METHOD"],
                                int(status[0][:3]) if status else 500, time.perf_counter() - started)
        return answer

    return timed
