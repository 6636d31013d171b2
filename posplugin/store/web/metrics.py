"""Prometheus metrics, on a registry of the app's own (no global state)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METRICS = "posplugin.metrics"  # the app extension holding its Metrics


class Metrics:
    """The store's metrics. Each labelled child is looked up once and kept
    (routes, statuses, tiers and levels are few): prometheus_client's
    ``labels()`` takes a lock and builds a key on every call."""

    def __init__(self, tier_rows=lambda: 0):
        self._children: dict[tuple, tuple] = {}
        self.registry = CollectorRegistry()
        self.requests = Counter("posplugin_http_requests", "HTTP requests by route and status",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("posplugin_http_request_seconds", "HTTP request latency by route",
                                 ["route"], registry=self.registry,
                                 buckets=(.001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5))
        self.identify = Counter("posplugin_identify", "Identify outcomes by tier and service level",
                                ["tier", "service_level", "known"], registry=self.registry)
        self.prompts = Counter("posplugin_prompts_created", "Prompts created by kind and level",
                               ["kind", "level"], registry=self.registry)
        rows = Gauge("posplugin_tier_list_rows", "Customers in the current tier list",
                     registry=self.registry)
        rows.set_function(tier_rows)

    def watch_writes(self, writer) -> None:
        """Gauges of the deferred writer: rows refused for good, rows waiting for a retry."""
        refused = Gauge("posplugin_deferred_writes_refused", "Deferred writes SQLite refused and dropped",
                        registry=self.registry)
        refused.set_function(lambda: writer.refused)
        waiting = Gauge("posplugin_deferred_writes_waiting", "Deferred writes that failed and wait for a retry",
                        registry=self.registry)
        waiting.set_function(lambda: writer.waiting)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = ("request", route, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self.requests.labels(route, method, str(status)),
                                              self.latency.labels(route))
        children[0].inc()
        children[1].observe(seconds)

    def identified(self, tier: str, service_level: str, known: bool, prompt_created: bool) -> None:
        """Count one identify: its outcome, and the service prompt it made, if it made one."""
        key = ("identify", tier, service_level, known)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self.identify.labels(tier, service_level, str(known).lower()),
                                              self.prompts.labels("service", service_level))
        children[0].inc()
        if prompt_created:
            children[1].inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
