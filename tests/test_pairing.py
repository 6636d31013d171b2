"""Pairing a device: the URL carries the token in its fragment, and the QR code holds that URL."""

import pytest

from posplugin.cli.pairing import base_url, pairing_url, terminal_qr
from posplugin.config import Settings


@pytest.mark.parametrize("role,lane,page", [("staff", None, "/floor"), ("till", "3", "/till?lane=3"),
                                            ("till", None, "/till?lane=1"), ("till", "kasse 2", "/till?lane=kasse%202")])
def test_pairing_url_puts_the_token_in_the_fragment(role, lane, page):
    url = pairing_url("http://store-pc:8765/", Settings(), role, "pp_a+b/c", lane)
    assert url == f"http://store-pc:8765{page}#token=pp_a%2Bb/c"


def test_base_url_uses_the_host_serve_listens_on():
    assert base_url(Settings(host="192.168.1.20", port=9000))[0] == "http://192.168.1.20:9000"


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_base_url_is_this_machines_network_address_for_loopback_or_everywhere(monkeypatch, host):
    monkeypatch.setattr("posplugin.cli.pairing.lan_address", lambda: "192.168.1.7")
    url, how = base_url(Settings(host=host, port=9000))
    assert url == "http://192.168.1.7:9000" and "local network" in how


def test_base_url_names_this_machine_without_a_network_address(monkeypatch):
    monkeypatch.setattr("posplugin.cli.pairing.lan_address", lambda: None)
    monkeypatch.setattr("socket.gethostname", lambda: "store-pc")
    assert base_url(Settings(host="0.0.0.0", port=8765))[0] == "http://store-pc:8765"


def test_terminal_qr_draws_blocks():
    drawing = terminal_qr("http://store-pc:8765/floor#token=pp_x")
    assert len(drawing.splitlines()) > 10 and set(drawing) & {"█", "▀", "▄"}
