"""Bluesky, through Jetstream: JSON over a WebSocket, one event per repo
commit (``{"did", "time_us", "kind": "commit", "commit": {"operation":
"create", "collection": "app.bsky.feed.post", "rkey", "record": {"text",
"createdAt", "langs", "facets"}}}``), asked for ``app.bsky.feed.post`` only.

A post is handed on when its facets mention one of the chain's DIDs or tag
one of its hashtags, or when its author is a customer who linked that DID
and consented to listening; every other event is dropped where it is read.
The ``time_us`` of the last event read is saved, and a reconnect or restart
resumes from it minus a few seconds (``cursor``); what that replays is
deduplicated by the record's URI. Without chain DIDs or hashtags to look
for, only consented customers' posts are asked for (``wantedDids``).
"""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import urlencode

from websockets.sync.client import connect

from ....timeutil import parse_iso
from ..posts import Post, plain_text

log = logging.getLogger("posplugin.hq.listening.bluesky")
COLLECTION = "app.bsky.feed.post"
REWIND_US = 5_000_000   # resume a few seconds early: Jetstream's events are at-least-once around the cursor
SAVE_EVERY_S = 1.0
MAX_DIDS = 10_000       # Jetstream's documented limit on wantedDids
REREAD_S = 60.0         # how often the consented customers' DIDs are read again (a customer links or leaves)


def post_of(event: dict, chain_dids: set[str], tags: set[str], customers: set[str]) -> Post | None:
    """The post an event carries, if head office may hear it; None otherwise."""
    if event.get("kind") != "commit" or not isinstance(event.get("commit"), dict):
        return None
    commit = event["commit"]
    record = commit.get("record")
    if commit.get("operation") != "create" or commit.get("collection") != COLLECTION or not isinstance(record, dict):
        return None
    did = str(event.get("did", ""))
    mentioned, tagged = set(), set()
    for facet in record.get("facets") or []:
        for feature in (facet.get("features") or []) if isinstance(facet, dict) else []:
            if not isinstance(feature, dict):
                continue
            kind = feature.get("$type", "")
            if kind.endswith("#mention"):
                mentioned.add(str(feature.get("did", "")))
            elif kind.endswith("#tag"):
                tagged.add(str(feature.get("tag", "")).casefold())
    addressed = bool(mentioned & chain_dids or tagged & tags)
    if not addressed and did not in customers:
        return None
    rkey = str(commit.get("rkey", ""))
    try:
        at = parse_iso(record.get("createdAt", ""))
    except (TypeError, ValueError):
        at = event.get("time_us", time.time() * 1e6) / 1e6
    langs = record.get("langs") or []
    return Post("bluesky", f"at://{did}/{COLLECTION}/{rkey}", f"https://bsky.app/profile/{did}/post/{rkey}",
                plain_text(str(record.get("text", ""))), at, addressed=addressed,
                language=langs[0] if langs and isinstance(langs[0], str) else None,
                author=did if did in customers else None)


class Jetstream:
    """The Bluesky source (see the module's docstring)."""
    name = "bluesky"

    def __init__(self, url: str, cursors, *, chain_dids: str = "", handles=(), consented_dids=lambda: []):
        self.url = url
        self.cursors = cursors
        self.chain_dids = {d.strip() for d in chain_dids.split(",") if d.strip()}
        self.tags = {h[1:] for h in handles if h.startswith("#")}
        self.consented_dids = consented_dids
        self.reread_s = REREAD_S

    def address(self, customers: list[str]) -> str:
        params = [("wantedCollections", COLLECTION)]
        if not (self.chain_dids or self.tags):
            params += [("wantedDids", d) for d in customers[:MAX_DIDS]]
        saved = self.cursors.get("bluesky")
        if saved:
            params.append(("cursor", str(max(0, int(saved) - REWIND_US))))
        return self.url + ("&" if "?" in self.url else "?") + urlencode(params)

    def run(self, sink, stop) -> None:
        customers = set(self.consented_dids())
        if not (self.chain_dids or self.tags or customers):
            stop.wait(self.reread_s)  # nothing to listen for yet: look again for a customer who links
            return
        last, saved_at, read_at = None, time.monotonic(), time.monotonic()
        with connect(self.address(sorted(customers)), open_timeout=10, close_timeout=2,
                     max_size=2**20) as socket:
            log.info("Bluesky: reading Jetstream")
            while not stop.is_set():
                try:
                    message = socket.recv(timeout=1.0)
                except TimeoutError:
                    message = None
                if message is not None:
                    event = json.loads(message)
                    post = post_of(event, self.chain_dids, self.tags, customers)
                    if post is not None:
                        sink(post)
                    last = event.get("time_us", last)
                if last and (message is None or time.monotonic() - saved_at >= SAVE_EVERY_S):
                    self.cursors.set("bluesky", str(int(last)))
                    saved_at = time.monotonic()
                if time.monotonic() - read_at >= self.reread_s:
                    read_at = time.monotonic()
                    if not self._still(customers):
                        if last:
                            self.cursors.set("bluesky", str(int(last)))
                        log.info("Bluesky: the consented customers changed; reconnecting with their DIDs")
                        return  # the runner starts it again, from the saved cursor, asking for the new DIDs

    def _still(self, customers: set[str]) -> bool:
        """Whether the connection still asks for the right DIDs: with chain DIDs
        or hashtags every post comes, and ``customers`` is updated in place."""
        now = set(self.consented_dids())
        if self.chain_dids or self.tags:
            customers.clear()
            customers.update(now)
            return True
        return now == customers
