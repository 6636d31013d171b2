"""CORS on /api/v1/*: off by default, on for the origins in ``cors_origins``,
preflights answered before any token check (over real HTTP)."""

import pytest
import requests

from posplugin.config import load
from posplugin.errors import ConfigError
from posplugin.store.service import Store
from posplugin.store.web.app import create_app
from posplugin.web.server import BackgroundServer

POS = "https://shop.odoo.example"
IDENTIFY = {"lane": "3", "identifier": {"type": "phone", "value": "+4741234567"}}
PREFLIGHT = {"Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type"}


@pytest.fixture
def serve(settings, loaded_store):
    loaded_store.close()
    started = []

    def start(cors_origins=""):
        store = Store(settings.replace(cors_origins=cors_origins))
        server = BackgroundServer(create_app(store=store)).start()
        started.append((server, store))
        return server

    yield start
    for server, store in started:
        server.stop()
        store.close()


def test_no_cors_headers_unless_configured(serve, tokens):
    server = serve()
    pre = requests.options(server.url + "/api/v1/identify", headers={"Origin": POS, **PREFLIGHT}, timeout=5)
    assert "Access-Control-Allow-Origin" not in pre.headers
    answer = requests.post(server.url + "/api/v1/identify", json=IDENTIFY, timeout=5,
                           headers={"Origin": POS, "Authorization": f"Bearer {tokens['till']}"})
    assert answer.status_code == 200 and "Access-Control-Allow-Origin" not in answer.headers


def test_preflight_from_an_allowed_origin_needs_no_token(serve):
    server = serve(f"{POS}/, http://127.0.0.1:8069")
    pre = requests.options(server.url + "/api/v1/identify", headers={"Origin": POS, **PREFLIGHT}, timeout=5)
    assert pre.status_code == 204 and pre.content == b""
    assert pre.headers["Access-Control-Allow-Origin"] == POS
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    allowed_headers = pre.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers
    assert int(pre.headers["Access-Control-Max-Age"]) > 0 and "Origin" in pre.headers["Vary"]
    # Chrome's Private Network Access preflight (a public page calling a store PC).
    pna = requests.options(server.url + "/api/v1/prompts/1/ack", timeout=5, headers={
        "Origin": "http://127.0.0.1:8069", "Access-Control-Request-Private-Network": "true", **PREFLIGHT})
    assert pna.headers["Access-Control-Allow-Private-Network"] == "true"


def test_other_origins_and_other_paths_get_nothing(serve, tokens):
    server = serve(POS)
    pre = requests.options(server.url + "/api/v1/identify", timeout=5,
                           headers={"Origin": "https://evil.example", **PREFLIGHT})
    assert pre.status_code == 204 and "Access-Control-Allow-Origin" not in pre.headers
    health = requests.get(server.url + "/healthz", headers={"Origin": POS}, timeout=5)
    assert "Access-Control-Allow-Origin" not in health.headers


def test_answers_and_errors_carry_the_origin(serve, tokens):
    server = serve(POS)
    answer = requests.post(server.url + "/api/v1/identify", json=IDENTIFY, timeout=5,
                           headers={"Origin": POS, "Authorization": f"Bearer {tokens['till']}"})
    assert answer.status_code == 200 and answer.json()["known"] is True
    assert answer.headers["Access-Control-Allow-Origin"] == POS and "Origin" in answer.headers["Vary"]
    # A refused call is readable by the page too (it fails open either way).
    refused = requests.post(server.url + "/api/v1/identify", json=IDENTIFY, timeout=5,
                            headers={"Origin": POS, "Authorization": "Bearer pp_wrong"})
    assert refused.status_code == 401 and refused.headers["Access-Control-Allow-Origin"] == POS
    # An OPTIONS that is not a preflight is Flask's own answer, unchanged.
    plain = requests.options(server.url + "/api/v1/identify", timeout=5)
    assert plain.status_code == 200 and "POST" in plain.headers["Allow"]


def test_any_origin(serve, tokens):
    server = serve("*")
    answer = requests.get(server.url + "/api/v1/prompts", timeout=5, headers={
        "Origin": "http://till-7.local:8069", "Authorization": f"Bearer {tokens['till']}"})
    assert answer.headers["Access-Control-Allow-Origin"] == "http://till-7.local:8069"


@pytest.mark.parametrize("bad", ["shop.odoo.example", "https://shop.example/pos", "ftp://x.example"])
def test_a_bad_origin_is_a_config_problem(tmp_path, bad):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, environ={"POSPLUGIN_CORS_ORIGINS": f"{POS}, {bad}"})
    assert "cors_origins" in str(caught.value) and "scheme://host" in str(caught.value)
    assert load(tmp_path, environ={"POSPLUGIN_CORS_ORIGINS": f"{POS}, http://127.0.0.1:8069"}).cors_origins
