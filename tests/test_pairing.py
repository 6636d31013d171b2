"""Pairing a device: the URL carries the token in its fragment, and the QR code holds that URL."""

import pytest

from posplugin.cli.pairing import base_url, pairing_url, terminal_qr
from posplugin.config import Settings


@pytest.mark.parametrize("role,lane,page", [("staff", None, "/floor"), ("till", "3", "/till?lane=3"),
                                            ("till", None, "/till?lane=1"), ("till", "kasse 2", "/till?lane=kasse%202")])
def test_pairing_url_puts_the_token_in_the_fragment(role, lane, page):
    url = pairing_url("http://store-pc:8765/", Settings(), role, "pp_a+b/c", lane)
    assert url == f"http://store-pc:8765{page}#token=pp_a%2Bb/c"


@pytest.mark.parametrize("host,expected", [("192.168.1.20", "http://192.168.1.20:9000"),
                                           ("127.0.0.1", "http://127.0.0.1:9000")])
def test_base_url_from_settings(host, expected):
    assert base_url(Settings(host=host, port=9000)) == expected


def test_base_url_names_this_machine_when_listening_everywhere(monkeypatch):
    monkeypatch.setattr("socket.gethostname", lambda: "store-pc")
    assert base_url(Settings(host="0.0.0.0", port=8765)) == "http://store-pc:8765"


def test_terminal_qr_draws_blocks():
    drawing = terminal_qr("http://store-pc:8765/floor#token=pp_x")
    assert len(drawing.splitlines()) > 10 and set(drawing) & {"█", "▀", "▄"}
