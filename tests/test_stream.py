"""GET /api/v1/stream without a browser: ids, resume with Last-Event-ID, resets,
heartbeats, the stream limit, and 100 streams open at once."""

import contextlib
import http.client
import json
import threading
import time
from urllib.parse import urlparse

import pytest
from helpers import identify

from posplugin.store.web.app import create_app
from posplugin.web.server import BackgroundServer


class SSE:
    """A minimal Server-Sent Events reader over one HTTP connection."""

    def __init__(self, url: str, token: str, last_event_id: str | None = None, timeout: float = 5):
        parts = urlparse(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.conn.request("GET", "/api/v1/stream", headers=headers)
        self.response = self.conn.getresponse()

    def next(self, skip_comments: bool = True) -> dict:
        """The next event as {"id", "event", "data"} (or {"comment"})."""
        event = {}
        while True:
            line = self.response.readline().decode("utf-8")
            if line == "":
                raise EOFError("stream closed")
            line = line.rstrip("\n")
            if line == "":
                if event:
                    return event
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "":
                if not skip_comments:
                    return {"comment": value}
            elif field == "data":
                event["data"] = json.loads(value)
            elif field in ("id", "event"):
                event[field] = value

    def close(self):
        self.conn.close()


def test_events_carry_ids_and_data(server, clients, tokens):
    stream = SSE(server.url, tokens["staff"])
    try:
        assert stream.response.status == 200
        assert stream.response.getheader("Content-Type").startswith("text/event-stream")
        prompt = identify(clients["till"]).json()["prompt"]
        event = stream.next()
        assert event["event"] == "prompt" and event["data"]["id"] == prompt["id"]
        assert event["id"].count(".") == 1
        clients["queue"].post("/api/v1/queue", json={"lane": "2", "length": 1})
        queue = stream.next()
        assert queue["event"] == "queue" and queue["data"]["lane"] == "2"
    finally:
        stream.close()


def test_resume_with_last_event_id_gets_the_missed_events_once(server, clients, tokens):
    stream = SSE(server.url, tokens["staff"])
    identify(clients["till"])
    first = stream.next()
    while "id" not in first:
        first = stream.next()
    stream.close()
    missed = [identify(clients["till"], lane=lane).json()["prompt"]["id"] for lane in ("4", "5")]
    again = SSE(server.url, tokens["staff"], last_event_id=first["id"])
    try:
        got = [again.next(), again.next()]
        assert [e["data"]["id"] for e in got] == missed
        later = identify(clients["till"], lane="6").json()["prompt"]["id"]
        assert again.next()["data"]["id"] == later  # live after the replay, nothing twice
    finally:
        again.close()


@pytest.mark.parametrize("last_id", ["someotherepoch.5", "garbage"])
def test_unknown_last_event_id_gets_a_reset(server, tokens, last_id):
    stream = SSE(server.url, tokens["staff"], last_event_id=last_id)
    try:
        event = stream.next()
        assert event["event"] == "reset" and event["data"] == {"reason": "reload"}
    finally:
        stream.close()


def test_heartbeats_keep_idle_streams_alive(loaded_store, tokens):
    app = create_app(store=loaded_store)
    app.config["POSPLUGIN_HEARTBEAT_S"] = 0.2
    server = BackgroundServer(app).start()
    stream = SSE(server.url, tokens["staff"])
    try:
        assert stream.next(skip_comments=False) == {"comment": "keep-alive"}
    finally:
        stream.close()
        server.stop()


def assert_stream_refused(server, token):
    """One more stream for ``token`` is refused: 429 too_many_streams."""
    refused = SSE(server.url, token)
    assert refused.response.status == 429
    assert json.loads(refused.response.read())["error"]["code"] == "too_many_streams"


@contextlib.contextmanager
def streams_open(store, token: str, count: int, **limits):
    """``store`` served with the stream ``limits`` (settings) and ``count``
    streams open for ``token``; yields (server, streams), closes them after."""
    store.settings = store.settings.replace(**limits)
    server = BackgroundServer(create_app(store=store)).start()
    streams = [SSE(server.url, token) for _ in range(count)]
    try:
        yield server, streams
    finally:
        for s in streams:
            s.close()
        server.stop()


def test_roles_and_stream_limit(loaded_store, tokens, clients):
    assert clients["queue"].get("/api/v1/stream").status_code == 403
    with streams_open(loaded_store, tokens["till"], 2, max_streams=2) as (server, _):
        assert_stream_refused(server, tokens["till"])


def test_a_hundred_streams_all_get_the_event_and_identify_still_answers(loaded_store, tokens):
    loaded_store.settings = loaded_store.settings.replace(max_streams_per_token=100)
    server = BackgroundServer(create_app(store=loaded_store), threads=8).start()
    streams = [SSE(server.url, tokens["staff"], timeout=20) for _ in range(100)]
    try:
        assert all(s.response.status == 200 for s in streams)
        import requests
        answer = requests.post(server.url + "/api/v1/identify", timeout=10, json={
            "lane": "3", "identifier": {"type": "phone", "value": "+4741234567"}},
            headers={"Authorization": f"Bearer {tokens['till']}"})
        assert answer.status_code == 200
        prompt_id = answer.json()["prompt"]["id"]
        # More events at once: streams wake a slice at a time, each still gets every one, in order.
        for n in range(5):
            loaded_store.bus.publish("queue", {"lane": "1", "length": n})
        received = []

        def read(s):
            events = [s.next() for _ in range(6)]
            received.append([events[0]["data"]["id"]] + [e["data"]["length"] for e in events[1:]])

        readers = [threading.Thread(target=read, args=(s,)) for s in streams]
        [r.start() for r in readers]
        [r.join(timeout=20) for r in readers]
        assert received == [[prompt_id, 0, 1, 2, 3, 4]] * 100
    finally:
        for s in streams:
            s.close()
        server.stop()


def test_a_client_that_never_reads_blocks_nobody(server, clients, tokens):
    """A tablet that stops reading: events pile up in its own bounded queue (and
    the kernel's buffers), never in the way of identify or other streams."""
    import socket
    stuck = socket.create_connection(("127.0.0.1", server.port))
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.sendall(f"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tokens['staff']}\r\n\r\n"
                  .encode())
    healthy = SSE(server.url, tokens["staff"], timeout=10)
    seen = []
    reader = threading.Thread(target=lambda: [seen.append(healthy.next()) for _ in range(801)], daemon=True)
    reader.start()
    try:
        bus = server.app.extensions["posplugin.store"].bus
        padding = "x" * 2000
        for i in range(800):  # ~1.6 MB for the stuck client, far past its socket buffers
            bus.publish("queue", {"lane": "9", "n": i, "padding": padding})
            time.sleep(0.001)  # a busy store's pace, not a burst that overflows every queue
        answer = clients["till"].post("/api/v1/identify", json={
            "lane": "3", "identifier": {"type": "phone", "value": "+4741234567"}})
        assert answer.status_code == 200
        reader.join(timeout=20)
        # The healthy tablet got every event, in order, and then the prompt.
        assert [e["data"]["n"] for e in seen[:800] if e.get("event") == "queue"] == list(range(800))
        assert seen[-1]["event"] == "prompt" and seen[-1]["data"]["id"] == answer.json()["prompt"]["id"]
    finally:
        stuck.close()
        healthy.close()


def test_one_token_cannot_take_every_stream_slot(loaded_store, tokens):
    with streams_open(loaded_store, tokens["till"], 2, max_streams=10, max_streams_per_token=2) as (server, streams):
        assert_stream_refused(server, tokens["till"])
        other = SSE(server.url, tokens["staff"])
        streams.append(other)
        assert other.response.status == 200


def test_a_dropped_stream_frees_its_slot_at_once(loaded_store, tokens):
    loaded_store.settings = loaded_store.settings.replace(max_streams=1)
    server = BackgroundServer(create_app(store=loaded_store)).start()
    try:
        SSE(server.url, tokens["staff"]).close()
        deadline = time.monotonic() + 1.0
        while True:
            again = SSE(server.url, tokens["staff"])
            if again.response.status == 200 or time.monotonic() > deadline:
                break
            again.close()
            time.sleep(0.05)
        assert again.response.status == 200
        again.close()
    finally:
        server.stop()


def test_a_revoked_tokens_stream_closes_within_a_second(server, loaded_store):
    from posplugin.store import auth
    with loaded_store.db.write() as conn:
        token = auth.create_token(conn, "staff", "tablet-7")
    stream = SSE(server.url, token)
    try:
        assert stream.response.status == 200
        with loaded_store.db.write() as conn:
            auth.revoke_token(conn, "tablet-7")
        revoked = time.monotonic()
        with pytest.raises(EOFError):
            while True:
                stream.next(skip_comments=False)
        assert time.monotonic() - revoked < 1.0
    finally:
        stream.close()
