"""Live streams (Server-Sent Events) served from the front door's event loop.

The stream route (web/stream.py) checks the token, the role and the stream
limits in Flask like any route, then hands the response over as a
:class:`StreamSpec`; from there each open stream is a few objects on the loop:
a bounded queue of pending events and a wake-up flag. The bus fans each event
out to them with one thread-safe call, however many tablets are connected.

A stream whose client left is freed as soon as the connection drops (the
handler is cancelled), and a stream whose token was revoked is closed within
``REVOKE_CHECK_S`` seconds.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from dataclasses import dataclass
from typing import Callable

from aiohttp import web
from multidict import CIMultiDict

from ..bus import Bus, Event

log = logging.getLogger("posplugin.stream")

REVOKE_CHECK_S = 0.5
# Streams woken per turn of the loop, and the pause between slices. Each woken
# stream costs the loop some 30-50 µs; a request that arrives while a hundred
# wake at once waits for all of them, and one whose every step waits behind a
# slice waits for many. So they wake a slice at a time with the loop free in
# between: a hundred tablets have an event within some 25 ms, and a till's
# request is rarely behind more than one slice.
WAKE_SLICE = 4
WAKE_GAP_S = 0.001
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


@dataclass
class StreamSpec:
    """What the stream route hands to the loop."""
    bus: Bus
    last_event_id: str | None
    heartbeat_s: float
    token_id: int | None
    release: Callable[[], None]                         # frees the stream's slot, once
    valid_tokens: Callable[[frozenset], set] | None = None  # which of these token ids still hold


def reset_frame(bus: Bus, reason: str) -> str:
    """The ``reset`` event telling a client to reload its state."""
    return (f"id: {bus.epoch}.{bus.last_id()}\nevent: reset\n"
            f"data: {json.dumps({'reason': reason})}\n\n")


class _Live:
    """One open stream: its pending events and its wake-up flag."""

    __slots__ = ("spec", "pending", "wake", "overflowed", "closed")

    def __init__(self, spec: StreamSpec, maxlen: int):
        self.spec = spec
        self.pending: collections.deque[Event] = collections.deque(maxlen=maxlen)
        self.wake = asyncio.Event()
        self.overflowed = False
        self.closed = False

    def put(self, event: Event) -> None:
        """Queue ``event``; the stream is woken by its caller."""
        if len(self.pending) == self.pending.maxlen:
            self.overflowed = True
        self.pending.append(event)

    def close(self) -> None:
        self.closed = True
        self.wake.set()


class LiveStreams:
    """Every live stream of one front door, on its event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, pool, per_stream: int = 500):
        self.loop = loop
        self.pool = pool
        self.per_stream = per_stream
        self._streams: set[_Live] = set()
        self._buses: dict[int, Callable[[], None]] = {}
        self._watcher: asyncio.Task | None = None

    @property
    def open(self) -> int:
        return len(self._streams)

    def start(self) -> None:
        """Start watching for revoked tokens (called on the loop)."""
        self._watcher = self.loop.create_task(self._watch_tokens())

    async def close(self) -> None:
        """End every stream and stop listening to the buses."""
        if self._watcher:
            self._watcher.cancel()
        for live in list(self._streams):
            live.close()
        for unlisten in self._buses.values():
            unlisten()
        self._buses.clear()
        await asyncio.sleep(0)

    def _attach(self, bus: Bus) -> None:
        if id(bus) not in self._buses:
            call = self.loop.call_soon_threadsafe
            streams = self._streams
            # Waking the loop costs the tills' requests; with no stream open there is no one to tell.
            self._buses[id(bus)] = bus.listen(lambda event: streams and call(self._fan_out, bus, event))

    def _fan_out(self, bus: Bus, event: Event) -> None:
        targets = [live for live in self._streams if live.spec.bus is bus]
        for live in targets:
            live.put(event)  # every stream has the event now, in order; they wake in slices
        self._wake(targets)

    def _wake(self, lives: list[_Live]) -> None:
        for live in lives[:WAKE_SLICE]:
            if live.pending or live.closed:  # else an earlier wake-up already sent what it had
                live.wake.set()
        if len(lives) > WAKE_SLICE:
            self.loop.call_later(WAKE_GAP_S, self._wake, lives[WAKE_SLICE:])

    async def serve(self, request, status: str, headers, spec: StreamSpec) -> web.StreamResponse:
        """Send ``spec``'s stream: replay what the client missed, then live
        events and heartbeats until the client leaves or its token is revoked."""
        live = _Live(spec, self.per_stream)
        try:
            self._attach(spec.bus)
            self._streams.add(live)  # before the replay, so nothing falls in between
            code, _, reason = status.partition(" ")
            response = web.StreamResponse(status=int(code), reason=reason or None, headers=CIMultiDict(
                [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP] + [("Server", "posplugin")]))
            response.force_close()
            await response.prepare(request)
            await self._send(response, live)
            return response
        except (ConnectionError, asyncio.TimeoutError):
            return web.Response(status=499)  # the client is gone; nothing more is written
        finally:
            self._streams.discard(live)
            spec.release()

    async def _send(self, response: web.StreamResponse, live: _Live) -> None:
        bus = live.spec.bus
        await response.write(b"retry: 2000\n\n")
        missed = bus.replay(live.spec.last_event_id)
        seen = 0
        if missed is None:
            await response.write(reset_frame(bus, "reload").encode())
        elif missed:
            seen = missed[-1].id
            await response.write(b"".join(e.frame_bytes(bus.epoch) for e in missed))
        while True:
            if not live.pending and not live.closed:
                live.wake.clear()
                try:
                    # asyncio.timeout, not wait_for: no extra task per wake-up, and a
                    # hundred tablets wake ten times a second each.
                    async with asyncio.timeout(live.spec.heartbeat_s):
                        await live.wake.wait()
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
            if live.closed:
                return
            frames = []
            if live.overflowed:
                live.overflowed = False
                frames.append(reset_frame(bus, "overflow").encode())
            while live.pending:
                event = live.pending.popleft()
                if event.id > seen:
                    frames.append(event.frame_bytes(bus.epoch))
                    seen = event.id
            if frames:
                await response.write(frames[0] if len(frames) == 1 else b"".join(frames))

    async def _watch_tokens(self) -> None:
        """Close the streams of revoked tokens, every REVOKE_CHECK_S seconds."""
        while True:
            await asyncio.sleep(REVOKE_CHECK_S)
            checks: dict[Callable, set[int]] = {}
            for live in self._streams:
                if live.spec.valid_tokens is not None and live.spec.token_id is not None:
                    checks.setdefault(live.spec.valid_tokens, set()).add(live.spec.token_id)
            for check, ids in checks.items():
                try:
                    valid = await self.loop.run_in_executor(self.pool, check, frozenset(ids))
                except Exception:
                    log.exception("checking the tokens of open streams failed; trying again")
                    continue
                for live in list(self._streams):
                    if live.spec.valid_tokens == check and live.spec.token_id not in valid:
                        log.info("closing a stream: its token was revoked")
                        live.close()
