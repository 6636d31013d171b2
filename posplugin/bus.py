"""In-process publish/subscribe for live events (``prompt``, ``queue``).

Publishers never block: each subscriber has a bounded queue, and a subscriber
that falls behind loses its oldest events and is told so (``overflowed``), so a
slow tablet cannot hold up the till.
"""

from __future__ import annotations

import collections
import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field

from .timeutil import whole_number


@dataclass(frozen=True)
class Event:
    id: int
    kind: str
    data: dict
    # The encoded form, made once however many streams send it.
    _frames: dict = field(default_factory=dict, compare=False, repr=False)

    def sse_id(self, epoch: str) -> str:
        return f"{epoch}.{self.id}"

    def frame(self, epoch: str) -> str:
        """This event in the text/event-stream format (encoded once, then reused)."""
        text = self._frames.get(epoch)
        if text is None:
            text = self._frames[epoch] = (f"id: {self.sse_id(epoch)}\nevent: {self.kind}\n"
                                          f"data: {json.dumps(self.data)}\n\n")
        return text

    def frame_bytes(self, epoch: str) -> bytes:
        """:meth:`frame` encoded as UTF-8, also once however many streams send it."""
        key = ("bytes", epoch)
        data = self._frames.get(key)
        if data is None:
            data = self._frames[key] = self.frame(epoch).encode()
        return data


class Subscription:
    def __init__(self, bus: "Bus", maxlen: int):
        self._bus = bus
        self._events: collections.deque[Event] = collections.deque(maxlen=maxlen)
        self._ready = threading.Condition(threading.Lock())
        self.overflowed = False

    def _put(self, event: Event) -> None:
        with self._ready:
            if len(self._events) == self._events.maxlen:
                self.overflowed = True
            self._events.append(event)
            self._ready.notify()

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None after ``timeout`` seconds without one."""
        with self._ready:
            if not self._events:
                self._ready.wait(timeout)
            return self._events.popleft() if self._events else None

    def close(self) -> None:
        self._bus._unsubscribe(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Bus:
    """Numbered events fanned out to subscribers; keeps the last ``history`` for replay.

    ``epoch`` names this run of the process: event ids restart at 1 with every
    run, so a client's last id means something only within the same epoch.
    """

    def __init__(self, history: int = 1000, per_subscriber: int = 500):
        self.epoch = f"{int(time.time() * 1000):x}{secrets.token_hex(2)}"
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._subscribers: set[Subscription] = set()
        self._history: collections.deque[Event] = collections.deque(maxlen=history)
        self._per_subscriber = per_subscriber
        self._listeners: list = []

    def listen(self, callback):
        """Call ``callback(event)`` on every publish, in id order (under the
        bus's lock, so it must be quick: an event loop's call_soon_threadsafe).
        Returns the function that stops it."""
        with self._lock:
            self._listeners.append(callback)

        def unlisten():
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)
        return unlisten

    @property
    def per_subscriber(self) -> int:
        return self._per_subscriber

    def publish(self, kind: str, data: dict) -> Event:
        with self._lock:
            event = Event(next(self._ids), kind, data)
            self._history.append(event)
            subscribers = list(self._subscribers)
            for listener in self._listeners:
                try:
                    listener(event)
                except RuntimeError:  # a closed event loop: its front door has stopped
                    pass
        for sub in subscribers:
            sub._put(event)
        return event

    def subscribe(self) -> Subscription:
        sub = Subscription(self, self._per_subscriber)
        with self._lock:
            self._subscribers.add(sub)
        return sub

    def replay(self, last_event_id: str | None) -> list[Event] | None:
        """Events after an SSE ``Last-Event-ID``; None when the client must
        reload its state instead (another epoch, or events already dropped)."""
        if not last_event_id:
            return []
        epoch, _, number = last_event_id.partition(".")
        if epoch != self.epoch or whole_number(number) is None:
            return None
        return self.since(whole_number(number))

    def since(self, last_id: int) -> list[Event] | None:
        """Events after ``last_id`` still held, or None if some were already dropped."""
        with self._lock:
            events = [e for e in self._history if e.id > last_id]
            oldest = self._history[0].id if self._history else None
        if oldest is not None and last_id < oldest - 1:
            return None
        return events

    def last_id(self) -> int:
        """The id of the newest event (0 before the first)."""
        with self._lock:
            return self._history[-1].id if self._history else 0

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(sub)
