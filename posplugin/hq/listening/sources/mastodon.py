"""Mastodon, through its streaming API (Server-Sent Events): the chain
account's notifications (``/api/v1/streaming/user/notification``, events
``notification`` whose payload is a Notification; mentions have type
``mention`` and carry the ``status``) and one hashtag stream per chain
hashtag (``/api/v1/streaming/hashtag?tag=…``, events ``update`` whose
payload is a Status). Lines starting with ``:`` are heartbeats.

Streams replay nothing after a disconnect, so each stream keeps the id of
the last status it handed on, and on (re)connecting first reads what it
missed over REST (``/api/v1/notifications?types[]=mention&since_id=`` and
``/api/v1/timelines/tag/:tag?since_id=``).
"""

from __future__ import annotations

import json
import logging
import time

import requests

from ....timeutil import parse_iso
from ..posts import Post, plain_text

log = logging.getLogger("posplugin.hq.listening.mastodon")
TIMEOUT = (5, 90)   # heartbeats come about every 15 s; silence for 90 s is a dead stream


def post_of(status: dict) -> Post | None:
    if not isinstance(status, dict) or not status.get("id") or status.get("visibility") not in (None, "public",
                                                                                               "unlisted"):
        return None
    try:
        at = parse_iso(status.get("created_at", ""))
    except (TypeError, ValueError):
        at = time.time()
    account = status.get("account") or {}
    return Post("mastodon", str(status.get("uri") or status["id"]), str(status.get("url") or status.get("uri") or ""),
                plain_text(str(status.get("content", "")), html=True), at, addressed=True, language=status.get("language"),
                author=account.get("acct"))


def events(lines):
    """``(event, data)`` pairs from an SSE line iterator; a comment (a
    heartbeat) is ``(":", "")``, so a reader can look up between events."""
    name, data = "message", []
    for line in lines:
        if line is None:
            continue
        if line == "":
            if data:
                yield name, "\n".join(data)
            name, data = "message", []
        elif line.startswith(":"):
            yield ":", ""
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())


class MastodonStream:
    """One stream: the account's notifications (``tag`` None) or one hashtag."""

    def __init__(self, base_url: str, token: str, cursors, tag: str | None = None, *, session=None):
        self.base = base_url.rstrip("/")
        self.cursors = cursors
        self.tag = tag
        self.name = "mastodon" if tag is None else f"mastodon:#{tag}"
        self.http = session or requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    @property
    def key(self) -> str:
        return "mastodon:notifications" if self.tag is None else f"mastodon:tag:{self.tag}"

    def _item(self, event: str, payload) -> tuple[dict | None, str | None]:
        """The status an event carries and the id to resume after: a
        notification's own id (``since_id`` of /notifications), or the status's."""
        if not isinstance(payload, dict):
            return None, None
        if self.tag is None:
            if event != "notification" or payload.get("type") != "mention":
                return None, None
            return payload.get("status"), str(payload.get("id", ""))
        return (payload, str(payload.get("id", ""))) if event == "update" else (None, None)

    def _hand_on(self, sink, status: dict | None, cursor: str | None) -> None:
        post = post_of(status) if status else None
        if post is not None:
            sink(post)
        if cursor:
            self.cursors.set(self.key, cursor)

    def catch_up(self, sink) -> None:
        since = self.cursors.get(self.key)
        if not since:
            return
        if self.tag is None:
            url, params = self.base + "/api/v1/notifications", {"types[]": "mention", "since_id": since}
        else:
            url, params = f"{self.base}/api/v1/timelines/tag/{self.tag}", {"since_id": since}
        response = self.http.get(url, params=params, timeout=TIMEOUT)
        response.raise_for_status()
        items = response.json()
        # Newest first in Mastodon's answer; handed on oldest first so the cursor moves forward.
        for item in sorted(items, key=lambda i: int(i.get("id", 0)) if str(i.get("id", "")).isdigit() else 0):
            self._hand_on(sink, *self._item("notification" if self.tag is None else "update", item))

    def run(self, sink, stop) -> None:
        self.catch_up(sink)
        if self.tag is None:
            url, params = self.base + "/api/v1/streaming/user/notification", {}
        else:
            url, params = self.base + "/api/v1/streaming/hashtag", {"tag": self.tag}
        with self.http.get(url, params=params, stream=True, timeout=TIMEOUT) as response:
            response.raise_for_status()
            log.info("Mastodon: reading %s", self.name)
            for event, data in events(response.iter_lines(decode_unicode=True)):
                if stop.is_set():
                    return
                if event == ":":
                    continue
                try:
                    payload = json.loads(data)
                except ValueError:
                    continue  # delete events carry a bare id
                self._hand_on(sink, *self._item(event, payload))


def MastodonStreams(base_url: str, token: str, cursors, *, handles=()) -> list[MastodonStream]:
    """The chain account's notification stream and a stream per chain hashtag."""
    return [MastodonStream(base_url, token, cursors)] + [
        MastodonStream(base_url, token, cursors, h[1:]) for h in handles if h.startswith("#")]
