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
