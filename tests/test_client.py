"""posplugin.client against the real server, and failing open when it is not there."""

import socket
import threading
import time

import pytest

from posplugin.client import Client, PospluginUnavailable


def test_identify_queue_and_prompts(server, tokens):
    till = Client(server.url, tokens["till"], timeout=5)
    answer = till.identify("3", phone="412 34 567", display_name="Sam")
    assert answer["service_level"] == "murdoch" and answer["prompt"]["lane"] == "3"
    assert till.prompts()[0]["id"] == answer["prompt"]["id"]
    assert till.ack(answer["prompt"]["id"], "Ana")["status"] == "taken"
    assert till.resolve(answer["prompt"]["id"], "Ana", "done")["status"] == "resolved"
    counter = Client(server.url, tokens["queue"], timeout=5)
    assert counter.queue_length("2", 9)["status"] == "long"
    assert counter.queue_event("2", "served")["length"] == 8


def test_refusals_return_none_and_say_why(server, tokens):
    till = Client(server.url, tokens["till"], timeout=5)
    assert till.identify("3", phone="not a number") is None
    assert till.last_error.startswith("422 invalid_identifier")
    assert till.identify("3", scanned_pass="PP1:" + "A" * 170) is None
    assert till.last_error.startswith("422 pass_unverifiable")
    assert Client(server.url, "pp_wrong").identify("3", email="a@b.no") is None
    with pytest.raises(PospluginUnavailable, match="401"):
        Client(server.url, "pp_wrong", strict=True).identify("3", email="a@b.no")


def test_exactly_one_identifier():
    with pytest.raises(ValueError):
        Client("http://127.0.0.1:9", "t").identify("1", phone="1", email="a@b.no")


@pytest.fixture
def black_hole():
    """A port that accepts connections and never answers (a hung service)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                pass

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    listener.close()


def test_fails_open_when_the_service_hangs_or_is_down(black_hole):
    for url in (black_hole, "http://127.0.0.1:9"):
        till = Client(url, "pp_x", timeout=0.3)
        started = time.monotonic()
        assert till.identify("1", email="a@b.no") is None
        # The sale goes on: bounded by the timeout, not by the service.
        assert time.monotonic() - started < 2
        assert "unreachable" in till.last_error
