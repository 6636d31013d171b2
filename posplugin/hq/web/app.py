"""Head office's application factory: the routes for stores and
administrators (api), the customer's side (/join, /me), one gate for tokens."""

from __future__ import annotations

from flask import Flask, request

from ...config import HeadOfficeSettings
from ...web.endpoint import Gate, new_app
from ...web.ratelimit import RateLimiter
from ..customer_side import CustomerSide
from ..office import HeadOffice
from ..listening.hub import ListeningHub
from . import api, join, listening, me

MAX_UPLOAD = 2 << 30  # a tier CSV of tens of millions of customers
MAX_REPORT = 8 << 20  # a store's batch of 5,000 outbox rows is well under this
MAX_OTHER = 64 << 10
# Each route's body limit: only the /hq page's upload may be large.
MAX_STORES = 8 << 20  # a chain's stores: 100,000 names of 80 characters
BODY_LIMITS = {"hq.imports": MAX_UPLOAD, "hq.reports": MAX_REPORT, "hq.add_stores": MAX_STORES,
               "hq_listening.heard_floor_report": MAX_REPORT}
BLUEPRINTS = (api.bp, api.page_bp, join.bp, join.page_bp, me.bp, me.page_bp, listening.bp)


def create_hq_app(office: HeadOffice, *, language: str = "en", workers: int = 1, settings=None,
                  side: CustomerSide | None = None, hub: ListeningHub | None = None, **overrides) -> Flask:
    """The head office service around ``office``, as one of ``workers``
    processes. ``side`` is its customer's side, else one made from
    ``settings`` (code senders, platforms) with ``overrides`` (``send``,
    ``platforms``; tests and the demo); ``hub`` its listening, else one made
    from ``settings``."""
    # Stores poll every few minutes; the rate limit only stops a runaway client. Each
    # of several processes allows its share, so a client spread over them by
    # the load balancer gets the same limit in all, with no state shared.
    # Head office's roles are separate: an admin token does not send a store's reports.
    gate = Gate(office.caller, RateLimiter(per_second=50 / workers, burst=max(1, 200 // workers)), superuser=None)
    app = new_app(__name__, max_body=MAX_UPLOAD, language=language, gate=gate)
    app.extensions[api.OFFICE] = office
    app.extensions[join.SIDE] = side or CustomerSide.open(office, settings, **overrides)
    app.extensions[listening.HUB] = hub or ListeningHub.open(office, settings or HeadOfficeSettings(
        data_dir=office.data_dir))
    # /me shows the customer what was heard from them and lets them remove it.
    app.extensions[join.SIDE].page.heard = app.extensions[listening.HUB].listening
    app.config["POSPLUGIN_PUBLIC_URL"] = getattr(settings, "public_url", "")
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)

    @app.before_request
    def body_limit():
        request.max_content_length = BODY_LIMITS.get(request.endpoint, MAX_OTHER)

    return app
