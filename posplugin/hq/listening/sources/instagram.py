"""Instagram: Meta's webhook for the chain's professional account
(``mentions`` field), the mentioned media and comments read with the
chain's own token, and the posts the chain is tagged in, polled.

From Meta's documentation (docs/listening.md names the pages): the webhook
subscription is verified with a GET carrying ``hub.mode=subscribe``,
``hub.verify_token`` and ``hub.challenge`` (answer the challenge when the
token matches); every POST carries ``X-Hub-Signature-256: sha256=<hex>``,
HMAC-SHA256 of the raw body with the app secret. A ``mentions`` change's
value holds ``media_id`` (a caption mention) and ``comment_id`` (a comment
mention). Meta keeps no webhook data and retries deliveries, so head office
answers 200 at once and reads the post off the request path:
``GET /{ig-user-id}?fields=mentioned_media.media_id(ID){caption,timestamp,permalink,username}``
and ``mentioned_comment.comment_id(ID){text,timestamp,…}``; tagged media from
``GET /{ig-user-id}/tags``. Stories and private accounts' media are not available.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import queue
import threading
import time

import requests

from ....errors import Unauthorized, ValidationError
from ....timeutil import parse_iso
from ...platforms.instagram import GRAPH_VERSION, business_usage, graph_error
from ...platforms.oauth import PlatformError, PlatformRateLimited
from ..posts import Post, plain_text

log = logging.getLogger("posplugin.hq.listening.instagram")
SIGNATURE = "X-Hub-Signature-256"
MEDIA_FIELDS = "id,caption,timestamp,permalink,username,media_type"
COMMENT_FIELDS = "id,text,timestamp,username,media{id,permalink}"
TIMEOUT = (3.05, 15)
RETRIES = 5


def handshake(args, verify_token: str) -> str:
    """The ``hub.challenge`` to answer Meta's subscription check; raises when the token does not match."""
    if not verify_token:
        raise Unauthorized("the Instagram webhook is not set up: set instagram_webhook_verify_token")
    if args.get("hub.mode") != "subscribe" or not hmac.compare_digest(
            args.get("hub.verify_token", "").encode(), verify_token.encode()):
        raise Unauthorized("hub.verify_token does not match", code="bad_verify_token")
    challenge = args.get("hub.challenge", "")
    if not challenge or len(challenge) > 200:
        raise ValidationError("hub.challenge is missing", field="hub.challenge")
    return challenge


def check_signature(raw: bytes, header: str | None, app_secret: str) -> None:
    """Raise :class:`Unauthorized` unless ``header`` is Meta's signature of ``raw`` with ``app_secret``."""
    if not app_secret:
        raise Unauthorized("the Instagram webhook is not set up: set instagram_client_secret (the app secret)")
    if not header or not header.startswith("sha256="):
        raise Unauthorized(f"send {SIGNATURE}: sha256=<HMAC-SHA256 of the body>", code="bad_signature")
    expected = hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(header[7:].strip().lower().encode(), expected.encode()):
        raise Unauthorized(f"{SIGNATURE} does not match the body", code="bad_signature")


def mentions_in(body, account_id: str) -> list[tuple[str | None, str | None]]:
    """``(media_id, comment_id)`` of each ``mentions`` change for the chain's
    account in a delivery; raises :class:`ValidationError` for a body in a shape
    Meta does not send. Changes of other fields or accounts are left out."""
    if not isinstance(body, dict) or body.get("object") != "instagram" or not isinstance(body.get("entry"), list):
        raise ValidationError("not an Instagram webhook delivery (object instagram, entry [...])", field="object")
    found = []
    for entry in body["entry"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("changes", []), list):
            raise ValidationError("an entry must be an object with a list of changes", field="entry")
        if account_id and str(entry.get("id")) != account_id:
            continue
        for change in entry.get("changes", []):
            if not isinstance(change, dict) or change.get("field") != "mentions":
                continue
            value = change.get("value")
            if not isinstance(value, dict) or not (value.get("media_id") or value.get("comment_id")):
                raise ValidationError("a mentions change needs media_id or comment_id", field="entry.changes")
            media, comment = value.get("media_id"), value.get("comment_id")
            found.append((str(media) if media else None, str(comment) if comment else None))
    return found


class Graph:
    """The Graph API, read with the chain's own professional account and token."""

    def __init__(self, base_url: str, account_id: str, token: str, *, session=None, clock=time.time):
        self.base = base_url.rstrip("/") + "/" + GRAPH_VERSION
        self.account_id = account_id
        self.token = token
        self.http = session or requests.Session()
        self.clock = clock
        self.paused_until = 0.0

    def _get(self, path: str, params: dict) -> dict:
        if self.clock() < self.paused_until:
            raise PlatformRateLimited("Instagram is paused after throttling us", self.paused_until - self.clock())
        try:
            response = self.http.get(self.base + path, params={**params, "access_token": self.token},
                                     timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise PlatformError(f"Instagram unreachable: {exc.__class__.__name__}") from None
        usage = business_usage(response)
        if response.status_code == 200 and (usage is None or usage[0] < 90):
            try:
                return response.json()
            except ValueError:
                raise PlatformError("Instagram answered something that is not JSON") from None
        error = graph_error(response, usage) if response.status_code != 200 else \
            PlatformRateLimited(f"Instagram usage at {usage[0]}% of its budget", usage[1])
        if isinstance(error, PlatformRateLimited):
            self.paused_until = self.clock() + error.retry_after_s
            if response.status_code == 200:
                return response.json()  # answered; only the next calls wait
        raise error

    def _mentioned(self, kind: str, key: str, fields: str) -> dict:
        """``mentioned_media`` or ``mentioned_comment`` (``kind``) with id ``key``."""
        body = self._get(f"/{self.account_id}", {"fields": f"mentioned_{kind}.{kind}_id({key}){{{fields}}}"})
        found = body.get(f"mentioned_{kind}")
        if not isinstance(found, dict):
            raise PlatformError(f"Instagram gave no mentioned_{kind} for that {kind} id")
        return found

    def mentioned_media(self, media_id: str) -> Post:
        return _media_post(self._mentioned("media", media_id, MEDIA_FIELDS), media_id)

    def mentioned_comment(self, comment_id: str) -> Post:
        comment = self._mentioned("comment", comment_id, COMMENT_FIELDS)
        media = comment.get("media") or {}
        return Post("instagram", f"comment:{comment.get('id') or comment_id}", media.get("permalink") or "",
                    plain_text(comment.get("text", "")), _time(comment.get("timestamp")), addressed=True,
                    author=comment.get("username"))

    def tags(self, limit: int = 50) -> list[Post]:
        body = self._get(f"/{self.account_id}/tags", {"fields": MEDIA_FIELDS, "limit": str(limit)})
        return [_media_post(m, m.get("id", "")) for m in body.get("data", []) if isinstance(m, dict) and m.get("id")]


def _time(text) -> float:
    try:
        return parse_iso(text)
    except (TypeError, ValueError):
        return time.time()


def _media_post(media: dict, media_id: str) -> Post:
    return Post("instagram", str(media.get("id") or media_id), media.get("permalink") or "",
                plain_text(media.get("caption", "")), _time(media.get("timestamp")), addressed=True,
                author=media.get("username"))


class WebhookReader:
    """Reads the posts of webhook deliveries off the request path, in a
    thread of its own: the handler queues ids and answers Meta at once."""

    def __init__(self, graph: Graph, sink, seen):
        self.graph = graph
        self.sink = sink
        self.seen = seen  # seen(source, id) -> bool: heard already (Meta retries deliveries)
        self.queue: queue.Queue = queue.Queue(maxsize=10_000)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, mentions: list[tuple[str | None, str | None]]) -> int:
        """Queue what is new of ``mentions``; returns how many were queued."""
        queued = 0
        for media, comment in mentions:
            key = f"comment:{comment}" if comment else media
            if self.seen("instagram", key):
                continue
            try:
                self.queue.put_nowait((media, comment, 0))
                queued += 1
            except queue.Full:
                log.error("Instagram mentions queue full; Meta will deliver again")
        if queued:
            self._start()
        return queued

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="posplugin-instagram-reader", daemon=True)
                self._thread.start()

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until every queued mention was read (tests, the demo)."""
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def _run(self) -> None:
        while True:
            try:
                media, comment, tries = self.queue.get(timeout=30)
            except queue.Empty:
                return
            try:
                self.sink(self.graph.mentioned_comment(comment) if comment else self.graph.mentioned_media(media))
            except PlatformError as exc:
                wait = getattr(exc, "retry_after_s", None) or min(60.0, 2.0 ** tries)
                if tries + 1 < RETRIES:
                    log.warning("Instagram mention not read (%s); trying again in %.0f s", exc.message, wait)
                    threading.Timer(min(wait, 300.0), self._retry, ((media, comment, tries + 1),)).start()
                else:
                    log.error("Instagram mention not read after %s tries: %s", RETRIES, exc.message)
            except Exception:
                log.exception("Instagram mention could not be heard")
            finally:
                self.queue.task_done()

    def _retry(self, item) -> None:
        self.queue.put(item)
        self._start()


class TaggedMedia:
    """The source that polls the media the chain is tagged in (``/tags``)."""
    name = "instagram"

    def __init__(self, graph: Graph, every_s: float):
        self.graph = graph
        self.every_s = every_s

    def run(self, sink, stop) -> None:
        while not stop.is_set():
            for post in self.graph.tags():
                sink(post)
            stop.wait(self.every_s)
