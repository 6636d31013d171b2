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

from flask import Response, current_app, g, request

from ..errors import RateLimited
from ..store.bus import Bus
from .endpoint import ApiBlueprint, store
from .frontdoor import LIVE_KEY, STREAM_KEY
from .live import StreamSpec

bp = ApiBlueprint("stream", __name__, url_prefix="/api/v1")


class StreamLimit:
    """Counts open streams, in all and per token, so that neither the streams
    nor one token's streams can take every slot."""

    def __init__(self, limit: int, per_token: int = 0):
        self.limit = limit
        self.per_token = per_token or limit
        self.open = 0
        self._by_token: dict = {}
        self._lock = threading.Lock()

    def acquire(self, token_id=None):
        """Take a slot for ``token_id``; returns the function that frees it (once)."""
        with self._lock:
            if self.open >= self.limit:
                raise RateLimited(f"{self.limit} live streams are open already; try again shortly",
                                  code="too_many_streams", retry_after=5)
            if self._by_token.get(token_id, 0) >= self.per_token:
                raise RateLimited(f"this token has {self.per_token} live streams open already; "
                                  "close one or give each device its own token", code="too_many_streams", retry_after=5)
            self.open += 1
            self._by_token[token_id] = self._by_token.get(token_id, 0) + 1
        released = []

        def release():
            with self._lock:
                if released:
                    return
                released.append(True)
                self.open -= 1
                left = self._by_token.pop(token_id) - 1
                if left:
                    self._by_token[token_id] = left
        return release


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
    caller = g.caller
    release = limit.acquire(caller.token_id)
    last = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    heartbeat = current_app.config.get("POSPLUGIN_HEARTBEAT_S", 15.0)
    bus = store().bus
    if LIVE_KEY in request.environ:
        # Served from the front door's event loop, not from this worker thread.
        request.environ[STREAM_KEY] = StreamSpec(
            bus, last, heartbeat, caller.token_id, release,
            valid_tokens=current_app.extensions["posplugin.live_tokens"])
        response = Response(b"", mimetype="text/event-stream")
    else:  # another WSGI server: the stream holds this thread
        response = Response(events(bus, last, heartbeat), mimetype="text/event-stream")
        # On close, not in the generator: a stream the client drops before its
        # first byte never runs the generator's cleanup.
        response.call_on_close(release)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response
