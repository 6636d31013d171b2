"""The front door (web/frontdoor.py): idle, half-sent and slow clients cost the
event loop a socket each and never a worker thread the tills need."""

import json
import socket
import time

import pytest
import requests

from posplugin.store.web.app import create_app
from posplugin.web.frontdoor import FrontDoor
from posplugin.web.server import BackgroundServer

IDENTIFY = {"lane": "3", "identifier": {"type": "phone", "value": "+4741234567"}}


def open_sockets(port: int, count: int, payload: bytes) -> list[socket.socket]:
    out = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(payload)
        out.append(s)
    return out


@pytest.mark.parametrize("payload", [
    b"",                                                              # connected, silent
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n",                          # half a request head
    b"POST /api/v1/identify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 500\r\n\r\n{\"lane\"",                          # a body that never ends
])
@pytest.mark.slow
def test_hundreds_of_stuck_clients_do_not_block_identify(loaded_store, tokens, payload):
    server = BackgroundServer(create_app(store=loaded_store), threads=4).start()
    stuck = open_sockets(server.port, 320, payload)
    try:
        headers = {"Authorization": f"Bearer {tokens['till']}"}
        for _ in range(10):
            answer = requests.post(server.url + "/api/v1/identify", json=IDENTIFY, headers=headers,
                                   timeout=2)
            assert answer.status_code == 200 and answer.json()["known"] is True
    finally:
        for s in stuck:
            s.close()
        server.stop()


def test_a_trickling_client_holds_no_worker():
    """Two workers, ten clients trickling a body: the app still answers at once,
    because a body is read whole on the loop before a worker sees it."""
    calls = []

    def app(environ, start_response):
        calls.append(environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    door = FrontDoor(app, threads=2).start()
    trickling = open_sockets(door.effective_port, 10,
                             b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
    try:
        started = time.monotonic()
        assert requests.get(f"http://127.0.0.1:{door.effective_port}/fast", timeout=2).text == "ok"
        assert time.monotonic() - started < 1
        assert calls == [b""]
    finally:
        for s in trickling:
            s.close()
        door.close()


def test_a_port_in_use_is_refused_at_construction():
    door = FrontDoor(lambda e, s: [], threads=1)
    try:
        with pytest.raises(OSError):
            FrontDoor(lambda e, s: [], port=door.effective_port, threads=1)
    finally:
        door.close()


def test_chunked_and_large_bodies_reach_the_app_whole():
    def app(environ, start_response):
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(len(body)).encode()]

    door = FrontDoor(app, threads=2, buffered_body=1024).start()
    url = f"http://127.0.0.1:{door.effective_port}/x"
    try:
        assert requests.post(url, data=(b"x" * 700 for _ in range(5)), timeout=5).text == "3500"
        assert requests.post(url, data=b"y" * 5000, timeout=5).text == "5000"
        assert requests.post(url, data=b"z" * 10, timeout=5).text == "10"
    finally:
        door.close()


def test_the_server_header_names_no_versions(clients):
    for path in ("/healthz", "/till"):
        assert clients[None].get(path).headers["Server"] == "posplugin"


def test_an_unreadable_request_head_gets_the_stores_error_shape_too(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET /healthz?x=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0].split()[1] == b"400" and b"Content-Type: application/json" in head, head
    assert b"Server: posplugin\r\n" in head + b"\r\n" and b"aiohttp" not in head
    assert json.loads(body)["error"]["code"] == "bad_request"


def test_aiohttp_still_makes_connection_handlers_the_way_the_front_door_repeats():
    """The front door's _Server repeats aiohttp's private Server.__call__ to
    use its own connection handler (no public API chooses it). setup.cfg pins
    the minor version this was read from; when aiohttp changes how it makes
    handlers, or what handle_error takes, this fails before a store meets it."""
    import inspect

    from aiohttp import web

    made = inspect.getsource(web.Server.__call__)
    assert "return RequestHandler(self, loop=self._loop, **self._kwargs)" in made
    assert list(inspect.signature(web.RequestHandler.handle_error).parameters) == [
        "self", "request", "status", "exc", "message"]
    # The head time-out reads how far a connection is (heads parsed, a request in hand).
    assert {"_request_count", "_request_in_progress", "_messages", "_manager"} <= set(web.RequestHandler.__slots__)


class CountingPool:
    """A pool that counts the jobs the front door gives it."""

    def __init__(self, pool):
        self.pool, self.jobs = pool, []

    def submit(self, fn, *args):
        self.jobs.append(getattr(fn, "__name__", repr(fn)))
        return self.pool.submit(fn, *args)

    def __getattr__(self, name):
        return getattr(self.pool, name)


@pytest.mark.parametrize("streamed", [False, True])
def test_an_answer_of_known_length_costs_one_hand_off_to_the_pool(streamed):
    """A Flask answer is an iterator, never a list: one of known length is joined
    on the worker that made it, so an identify costs the loop one hand-off to
    the pool and back. One without a length (a download) is still streamed."""
    from flask import Flask, Response

    app = Flask(__name__)

    @app.post("/answer")
    def answer():
        if streamed:
            return Response(iter([b"part one, ", b"part two"]), content_type="text/plain")
        return {"lane": "3", "prompt": None}

    door = FrontDoor(app, threads=2)
    door.pool = CountingPool(door.pool)
    door.start()
    try:
        reply = requests.post(f"http://127.0.0.1:{door.effective_port}/answer", json={}, timeout=5)
        assert reply.status_code == 200
        if streamed:
            assert reply.text == "part one, part two" and len(door.pool.jobs) > 1
        else:
            assert reply.json() == {"lane": "3", "prompt": None} and door.pool.jobs == ["_call"]
    finally:
        door.close()


def closed_by_server(sock: socket.socket, within_s: float) -> bool:
    """Whether the server closes ``sock`` (FIN or reset) within ``within_s`` seconds."""
    sock.settimeout(within_s)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


@pytest.mark.slow
def test_a_request_head_that_trickles_is_closed_after_the_head_timeout(monkeypatch, loaded_store, tokens):
    """A head must be whole within HEAD_TIMEOUT_S of its first byte: a socket
    trickling one is closed, while a silent keep-alive socket (a till between
    customers) is not, and the tills are answered throughout."""
    from posplugin.web import frontdoor

    monkeypatch.setattr(frontdoor, "HEAD_TIMEOUT_S", 0.5)
    server = BackgroundServer(create_app(store=loaded_store), threads=2).start()
    silent = socket.create_connection(("127.0.0.1", server.port))
    trickling = socket.create_connection(("127.0.0.1", server.port))
    try:
        trickling.sendall(b"GET /healthz HTTP/1.1\r\n")
        started = time.monotonic()
        while time.monotonic() - started < 0.8:  # a byte every 0.1 s: never whole
            try:
                trickling.sendall(b"X")
            except OSError:  # closed already
                break
            time.sleep(0.1)
        answer = requests.post(server.url + "/api/v1/identify", json=IDENTIFY, timeout=2,
                               headers={"Authorization": f"Bearer {tokens['till']}"})
        assert answer.status_code == 200
        assert closed_by_server(trickling, 2.0)
        assert not closed_by_server(silent, 0.5)
        assert server.server.slow_heads == 1
    finally:
        silent.close()
        trickling.close()
        server.stop()


def test_a_stalled_body_is_answered_408_after_the_body_timeout(monkeypatch):
    from posplugin.web import frontdoor

    monkeypatch.setattr(frontdoor, "BODY_TIMEOUT_S", 0.3)
    door = FrontDoor(lambda environ, start: [b""], threads=1).start()
    sock = socket.create_connection(("127.0.0.1", door.effective_port))
    try:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"lane\"")
        sock.settimeout(3)
        head = sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 408") and b"request_timeout" in head
    finally:
        sock.close()
        door.close()


def test_one_address_holds_at_most_its_share_of_connections(loaded_store, tokens):
    """With a cap of 5 per address, a device at 127.0.0.2 gets its sixth
    connection closed at once (and a new one once it lets one go), while the
    tills at 127.0.0.1 are answered as before."""
    server = BackgroundServer(create_app(store=loaded_store), threads=2, per_address=5).start()

    def connect():
        sock = socket.socket()
        sock.bind(("127.0.0.2", 0))
        sock.connect(("127.0.0.1", server.port))
        return sock

    held = [connect() for _ in range(5)]
    try:
        for sock in held:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # half a head each
        extra = connect()
        assert closed_by_server(extra, 2.0)
        answer = requests.post(server.url + "/api/v1/identify", json=IDENTIFY, timeout=2,
                               headers={"Authorization": f"Bearer {tokens['till']}"})
        assert answer.status_code == 200
        assert server.server.refused == 1
        held.pop().close()
        time.sleep(0.2)
        again = connect()
        again.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        again.settimeout(2)
        assert again.recv(4096).startswith(b"HTTP/1.1 200")
        held.append(again)
    finally:
        for sock in held:
            sock.close()
        server.stop()


@pytest.mark.parametrize("head", [
    b"Content-Length: 5000\r\n\r\n{\"lane\": \"3\"",           # a body of a known length, cut short
    b"Transfer-Encoding: chunked\r\n\r\n400\r\n{\"lane\"",     # a chunked one
])
def test_a_client_leaving_mid_body_is_one_info_line_and_a_counter(server, clients, caplog, head):
    caplog.set_level("INFO", logger="posplugin")
    for _ in range(5):
        gone = socket.create_connection(("127.0.0.1", server.port))
        gone.sendall(b"POST /api/v1/identify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + head)
        time.sleep(0.05)
        gone.close()
    deadline = time.monotonic() + 5
    while "posplugin_http_clients_left_total 5.0" not in clients["admin"].get("/metrics").text:
        assert time.monotonic() < deadline, clients["admin"].get("/metrics").text
        time.sleep(0.05)
    ours = [r for r in caplog.records if r.name.startswith(("posplugin", "aiohttp"))]
    assert [r.levelname for r in ours if "left before" in r.getMessage()] == ["INFO"] * 5
    assert not [r for r in ours if r.levelno >= 30 or r.exc_info], [r.getMessage() for r in ours]
    assert clients["till"].post("/api/v1/identify", json=IDENTIFY).status_code == 200
