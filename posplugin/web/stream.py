"""GET /api/v1/stream: live ``prompt`` and ``queue`` events as Server-Sent Events.

Each event carries an id; a client that reconnects with ``Last-Event-ID`` gets
what it missed from the bus's history, or a ``reset`` event telling it to
reload its state when that is no longer possible (the service restarted, or it
was away too long). Each stream reads from its own bounded subscription, so a
slow or dead client never holds up the till or other clients; a stream that
overflows gets a ``reset`` too. Comments every ``heartbeat_s`` keep proxies
from closing idle streams and let the server notice clients that left.
"""

from __future__ import annotations

import json
import threading

from flask import Response, current_app, request

from ..errors import RateLimited
from ..store.bus import Bus
from .endpoint import ApiBlueprint, store

bp = ApiBlueprint("stream", __name__, url_prefix="/api/v1")


class StreamLimit:
    """Counts open streams so they cannot take every server thread."""

    def __init__(self, limit: int):
        self.limit = limit
        self.open = 0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            if self.open >= self.limit:
                raise RateLimited(f"{self.limit} live streams are open already; try again shortly",
                                  code="too_many_streams")
            self.open += 1

    def release(self) -> None:
        with self._lock:
            self.open -= 1


def reset_frame(bus: Bus, reason: str) -> str:
    last = bus.last_id()
    return (f"id: {bus.epoch}.{last}\nevent: reset\n"
            f"data: {json.dumps({'reason': reason})}\n\n")


def events(bus: Bus, last_event_id: str | None, heartbeat_s: float):
    """The body of one stream: replay, then live events and heartbeats."""
    subscription = bus.subscribe()  # before replaying, so nothing falls in between
    try:
        yield "retry: 2000\n\n"
        missed = bus.replay(last_event_id)
        seen = 0
        if missed is None:
            yield reset_frame(bus, "reload")
        else:
            for event in missed:
                seen = event.id
                yield event.frame(bus.epoch)
        while True:
            event = subscription.get(timeout=heartbeat_s)
            if subscription.overflowed:
                subscription.overflowed = False
                yield reset_frame(bus, "overflow")
            if event is None:
                yield ": keep-alive\n\n"
            elif event.id > seen:
                yield event.frame(bus.epoch)
    finally:
        subscription.close()


@bp.operation("GET", "/stream", summary="Live prompt and queue events (Server-Sent Events)",
          roles=("staff", "till"), response_type="text/event-stream",
          tag="live", parameters=[{"name": "last_event_id", "in": "query", "required": False,
                                   "schema": {"type": "string", "maxLength": 64}}])
def stream():
    limit: StreamLimit = current_app.extensions["posplugin.streams"]
    limit.acquire()
    last = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    heartbeat = current_app.config.get("POSPLUGIN_HEARTBEAT_S", 15.0)
    response = Response(events(store().bus, last, heartbeat), mimetype="text/event-stream")
    # On close, not in the generator: a stream the client drops before its first
    # byte never runs the generator's cleanup.
    response.call_on_close(limit.release)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response
