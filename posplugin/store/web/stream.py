"""GET /api/v1/stream: live ``prompt`` and ``queue`` events as Server-Sent Events.

The route checks the token, its role and the stream limits like any route,
then hands the stream to the front door's event loop (posplugin.web.live),
which replays what a reconnecting client missed (``Last-Event-ID``) and sends
live events and heartbeats.
"""

from __future__ import annotations

import threading

from flask import Response, current_app, g, request

from ...errors import NotImplementedHere, RateLimited
from ...web.endpoint import ApiBlueprint
from ...web.frontdoor import LIVE_KEY, STREAM_KEY
from ...web.live import StreamSpec
from .api import store
from .schemas import SCHEMAS

bp = ApiBlueprint("stream", __name__, url_prefix="/api/v1", schemas=SCHEMAS)
STREAM_LIMIT = "posplugin.streams"
LIVE_TOKENS = "posplugin.live_tokens"


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


@bp.operation("GET", "/stream", summary="Live prompt and queue events (Server-Sent Events)",
          roles=("staff", "till"), response_type="text/event-stream",
          tag="live", parameters=[{"name": "last_event_id", "in": "query", "required": False,
                                   "schema": {"type": "string", "maxLength": 64}}], query_token=True)
def stream():
    if LIVE_KEY not in request.environ:
        # Streams live on the front door's event loop (posplugin serve); a WSGI
        # server of another kind would park a thread per tablet.
        raise NotImplementedHere("live streams are served by posplugin serve's front door only")
    limit: StreamLimit = current_app.extensions[STREAM_LIMIT]
    caller = g.caller
    release = limit.acquire(caller.token_id)
    last = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    heartbeat = current_app.config.get("POSPLUGIN_HEARTBEAT_S", 15.0)
    # Served from the front door's event loop, not from this worker thread.
    request.environ[STREAM_KEY] = StreamSpec(store().bus, last, heartbeat, caller.token_id, release,
                                             valid_tokens=current_app.extensions[LIVE_TOKENS])
    response = Response(b"", mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response
