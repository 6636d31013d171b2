"""Listening in ``posplugin demo``: what customers post reaches the floor.

A stand-in Instagram (it answers Graph reads of mentioned media; head office
gets a signed ``mentions`` webhook for each post) and a stand-in Jetstream
(Bluesky posts over a WebSocket, each with its ``time_us``) feed the demo's
head office now and then: a complaint about lane 2's queue while lane 2 is
long, praise of the staff, and a post about another chain, which head office
drops unread. Head office listens as it would in a chain
(:mod:`posplugin.hq.listening`); the demo store asks it every
``heard_poll_s`` (1 s in the demo), so the floor page shows each ``heard``
prompt within seconds, and :func:`tell` says so on the console. The
stand-ins answer in the shapes the platforms document (docs/listening.md);
the tests use the same Jetstream and webhook delivery.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from secrets import token_hex
from urllib.parse import parse_qs, urlsplit

import requests

from ..hq.listening.hub import ListeningHub
from ..hq.listening.runner import Runner
from ..store import heard
from ..store.sync import session
from ..timeutil import iso, parse_iso
from ..web.server import Housekeeper
from ..webhooks import hmac_sha256_hex
from .world import DemoStore

CHAIN_ACCOUNT = "17841400000000099"   # the chain's own Instagram professional account
CHAIN_DID = "did:plc:nordshopdemo000000000000"
STORE = "demo-store"                  # the demo store's name at head office
STORE_HANDLES = "@nordshop_sentrum, #nordshopsentrum"
LANE = "2"
# What the demo's customers post, per language: kind -> texts, one picked
# each time (a floor that hears the same words all shift looks canned). The
# other chain's posts name none of ours: Jetstream hands them over, head office
# drops them. tests/test_demo_listening.py checks each is heard as meant.
POSTS = {
    "en": {"complaint": (f"20 minutes in the queue at till {LANE} and only one till open 🙄 @nordshop @nordshop_sentrum",
                         f"The queue at till {LANE} in @nordshop_sentrum is out the door again, one till open for the whole shop 😤",
                         f"Waited forever at till {LANE} at @nordshop_sentrum, why is only one checkout open?"),
           "praise": ("Big thanks to the staff at Nordshop Sentrum, Ana helped me find everything 🙌 #nordshop",
                      "Shoutout to Jonas on till 3 at @nordshop_sentrum, so friendly and quick 😊",
                      "The cashier at Nordshop Sentrum packed my bags and made my day, lovely service #nordshop"),
           "other": ("The queue at the other chain's shop is a joke again #othershop",
                     "Othershop has run out of bread again, third time this week #othershop")},
    "nb": {"complaint": (f"20 minutter i kø ved kasse {LANE} og bare én kasse åpen 🙄 @nordshop @nordshop_sentrum",
                         f"Køen ved kasse {LANE} på @nordshop_sentrum går helt ut døra igjen, én kasse åpen 😤",
                         f"Evig venting ved kasse {LANE} på @nordshop_sentrum, hvorfor er bare én kasse åpen?"),
           "praise": ("Tusen takk til de ansatte på Nordshop Sentrum, Ana hjalp meg å finne alt 🙌 #nordshop",
                      "Så hjelpsom betjening på Nordshop Sentrum i dag, de fant kortet jeg mistet! 🙏 #nordshop",
                      "Kassadamen på #nordshopsentrum var så blid og rask, takk!"),
           "other": ("Køen hos den andre kjeden er en vits igjen #annenbutikk",
                     "Den andre kjeden er tom for brød igjen, tredje gang denne uka #annenbutikk")},
}


def meta_signature(body: bytes, secret: str) -> str:
    """``X-Hub-Signature-256`` as Meta computes it: HMAC-SHA256 of the raw body with the app secret."""
    return "sha256=" + hmac_sha256_hex(secret, body)


def meta_delivery(*, media_id: str | None = None, comment_id: str | None = None,
                  account: str = CHAIN_ACCOUNT) -> bytes:
    """A ``mentions`` webhook delivery as Meta sends it."""
    value = {"media_id": media_id, **({"comment_id": comment_id} if comment_id else {})}
    return json.dumps({"object": "instagram", "entry": [{"id": account, "time": int(time.time()),
                                                         "changes": [{"field": "mentions", "value": value}]}]}).encode()


class Graph:
    """A stand-in Graph API on 127.0.0.1: the chain's mentioned media
    (``GET /{version}/{ig-user-id}?fields=mentioned_media.media_id(ID){…}``)
    and the media it is tagged in (``/tags``, none here), for its token only."""

    def __init__(self, token: str):
        self.token = token
        self.media: dict[str, dict] = {}
        graph = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the standard library's name)
                graph._answer(self)

            def log_message(self, *args):
                pass  # the demo's console is the shift's story

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="demo-graph", daemon=True).start()

    def _answer(self, request: BaseHTTPRequestHandler) -> None:
        url = urlsplit(request.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        parts = url.path.strip("/").split("/")
        if query.get("access_token") != self.token:
            status, body = 400, {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException",
                                           "code": 190}}
        elif parts[-1] == "tags":
            status, body = 200, {"data": []}
        else:
            media_id = query.get("fields", "").partition("media_id(")[2].partition(")")[0]
            media = self.media.get(media_id)
            status, body = (200, {"mentioned_media": {"id": media_id, **media}, "id": parts[-1]}) if media else \
                (400, {"error": {"message": f"Object with ID '{media_id}' does not exist", "code": 100}})
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Jetstream:
    """A stand-in Jetstream on 127.0.0.1: a WebSocket that sends the queued
    events (Jetstream's JSON, with ``time_us``) after the client's ``cursor``,
    and can drop every connection (a network fault)."""

    def __init__(self):
        from websockets.sync.server import serve

        self.events: list[dict] = []
        self.queries: list[str] = []
        self.connections: list = []
        self.closed = False
        self._lock = threading.Lock()
        self._server = serve(self._handle, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/subscribe"
        threading.Thread(target=self._server.serve_forever, name="demo-jetstream", daemon=True).start()

    def post(self, did: str, rkey: str, text: str, time_us: int | None = None, *, mention: str | None = None,
             tag: str | None = None, langs=("en",)) -> dict:
        """Queue an ``app.bsky.feed.post`` create by ``did``, with a mention or tag facet."""
        time_us = time_us or int(time.time() * 1e6)
        facets = [{"index": {"byteStart": 0, "byteEnd": 5}, "features": [feature]} for feature in (
            {"$type": "app.bsky.richtext.facet#mention", "did": mention} if mention else None,
            {"$type": "app.bsky.richtext.facet#tag", "tag": tag} if tag else None) if feature]
        record = {"$type": "app.bsky.feed.post", "createdAt": iso(time.time()).replace("+00:00", "Z"),
                  "langs": list(langs), "text": text, **({"facets": facets} if facets else {})}
        event = {"did": did, "time_us": time_us, "kind": "commit", "commit": {
            "rev": "3l3qo2vuowo2b", "operation": "create", "collection": "app.bsky.feed.post", "rkey": rkey,
            "record": record, "cid": "bafyreib"}}
        with self._lock:
            self.events.append(event)
        return event

    def _handle(self, socket) -> None:
        self.connections.append(socket)
        self.queries.append(socket.request.path)
        cursor = int(parse_qs(urlsplit(socket.request.path).query).get("cursor", ["0"])[0])
        sent = 0
        try:
            while not self.closed:
                with self._lock:
                    pending = [e for e in self.events if e["time_us"] > cursor][sent:]
                for event in pending:
                    socket.send(json.dumps(event))
                sent += len(pending)
                time.sleep(0.02)
        except Exception:
            return  # the client went, or drop() closed it

    def drop(self) -> None:
        for socket in self.connections:
            socket.close()
        self.connections.clear()

    def stop(self) -> None:
        self.closed = True
        self.drop()
        self._server.shutdown()


@dataclass
class DemoListening:
    """The demo's listening: the stand-ins, head office's hub on them, its
    runner, and the store's poll of head office."""

    hub: ListeningHub
    graph: Graph
    jetstream: Jetstream
    secret: str
    hq_url: str = ""
    language: str = "en"
    stoppers: list = field(default_factory=list)

    @classmethod
    def open(cls, office, settings) -> "DemoListening":
        """Stand-ins up, and head office's listening pointed at them (before its app is made)."""
        graph, jetstream, secret = Graph(token_hex(8)), Jetstream(), token_hex(16)
        s = settings.replace(chain_handles="@nordshop, #nordshop", listen_sources="instagram, bluesky",
                             instagram_client_secret=secret, instagram_webhook_verify_token=token_hex(8),
                             instagram_account_id=CHAIN_ACCOUNT, instagram_account_token=graph.token,
                             instagram_graph_url=graph.url, bluesky_jetstream_url=jetstream.url,
                             bluesky_chain_dids=CHAIN_DID)
        hub = ListeningHub.open(office, s)
        hub.listening.placements.set(STORE, handles=STORE_HANDLES, place="Sentrum")
        return cls(hub, graph, jetstream, secret, language=settings.language)

    def attach(self, demo: DemoStore) -> None:
        """Run the sources, and the store's poll of head office every ``heard_poll_s``."""
        self.hq_url = demo.hq_server.url
        runner = Runner(self.hub, demo.office.engine, demo.office.data_dir, clock=demo.office.clock).start()
        http = session()
        poll = Housekeeper([lambda: heard.poll(demo.store, http)], interval_s=demo.store.settings.heard_poll_s,
                           name="posplugin-demo-heard")
        poll.start()
        self.stoppers += [poll.stop, runner.stop, self.graph.stop, self.jetstream.stop]
        demo.housekeepers.append(self)
        demo.listening = self

    def stop(self) -> None:
        for stop in self.stoppers:
            stop()

    def instagram(self, n: int, text: str) -> None:
        """A customer's post mentioning the chain: the media at the Graph, Meta's signed webhook to head office."""
        media_id = f"demo-media-{n}-{token_hex(4)}"
        self.graph.media[media_id] = {"caption": text, "permalink": f"https://www.instagram.com/p/{media_id}/",
                                      "timestamp": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000"),
                                      "username": "a.demo.customer", "media_type": "IMAGE"}
        body = meta_delivery(media_id=media_id)
        requests.post(self.hq_url + "/hq/v1/hooks/instagram", data=body, timeout=5, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(body, self.secret)})

    def bluesky(self, n: int, text: str, addressed: bool) -> None:
        """A Bluesky post on Jetstream: one that mentions the chain, or one about another chain."""
        self.jetstream.post(f"did:plc:democustomer{n:012d}", f"3demo{n}{token_hex(3)}", text,
                            mention=CHAIN_DID if addressed else None, tag="nordshop" if addressed else None,
                            langs=(self.language,))


def tell(demo: DemoStore, key: str, **values) -> None:
    """Listening's line of the shift's story on the console."""
    demo.tell(f"heard.{key}", **values)


def simulate_listening(demo: DemoStore, rng, out, pace_s: float = 3.0) -> None:
    """Customers post now and then (praise of the staff, a post about another
    chain), and about lane 2's queue once each time it is long; each heard
    prompt that reaches the floor is told with how long after the post it
    came. Runs until ``demo.stop`` is set."""
    listening: DemoListening = demo.listening
    posts = POSTS.get(demo.store.settings.language, POSTS["en"])
    n, posted, due, complained, told = 0, 0, time.monotonic() + pace_s, False, set()
    with demo.store.bus.subscribe() as events:
        while not demo.stop.is_set():
            event = events.get(timeout=0.2)
            kind, data = (event.kind, event.data) if event is not None else ("", {})
            n += 1
            try:
                if kind == "queue" and data.get("lane") == LANE and data["status"] == "long" and not complained:
                    complained = True
                    listening.instagram(n, rng.choice(posts["complaint"]))
                    tell(demo, "complaint", lane=LANE)
                elif kind == "queue" and data.get("lane") == LANE and data["status"] == "ok":
                    complained = False
                elif kind == "prompt" and data.get("kind") == "heard" and data["id"] not in told:
                    told.add(data["id"])
                    waited = max(0, round(time.time() - parse_iso(data["posted_at"])))
                    tell(demo, "on_floor", id=data["id"], seconds=waited, title=data["title"])
                elif time.monotonic() >= due:
                    post = ("praise", "other")[posted % 2]   # praise first, then the other chain's post
                    posted += 1
                    listening.bluesky(n, rng.choice(posts[post]), addressed=post == "praise")
                    tell(demo, post)
                    due = time.monotonic() + rng.uniform(pace_s * 4, pace_s * 8)
            except (requests.RequestException, ValueError, KeyError) as exc:
                tell(demo, "failed", error=exc.__class__.__name__)
