"""The store service's application factory."""

from __future__ import annotations

from flask import Flask

from ...config import StoreSettings
from ...web.endpoint import MAX_BODY, Gate, new_app
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
    app.observe = metrics.observe_request  # every request counted and timed by route and status
    return app
