"""Bad input over HTTP: always the JSON error shape with the right status, never a 500."""

import http.client
import json
import re
import time
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posplugin.store.web.app import BLUEPRINTS, create_app
from posplugin.web.server import BackgroundServer

IDENT = "/api/v1/identify"


def assert_error(response, status, code=None, field=None):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) <= {"code", "message", "field"}
    assert error["message"] and error["code"].replace("_", "").isalpha()
    if code:
        assert error["code"] == code
    if field:
        assert error["field"] == field
    assert "Traceback" not in response.text


def post_raw(client, data, content_type="application/json"):
    return client.post(IDENT, data=data, headers={"Content-Type": content_type})


@pytest.mark.parametrize("data", [b"{", b"nul", b'{"lane": 3,}', b"\xff\xfe", b'"\\ud800"',
                                  b'{"lane": "\\udc00", "identifier": {}}', b"[" * 100_000 + b"]" * 100_000])
def test_unreadable_json_is_400(clients, data):
    response = post_raw(clients["till"], data)
    if len(data) > 64 * 1024:
        assert_error(response, 413, "payload_too_large")
    else:
        assert_error(response, 400, "invalid_json")


def test_deep_nesting_under_the_size_limit_is_400(clients):
    assert_error(post_raw(clients["till"], b"[" * 30_000 + b"]" * 30_000), 400, "invalid_json")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_non_json_is_415(clients, content_type):
    assert_error(post_raw(clients["till"], b'{"lane": "1"}', content_type), 415, "unsupported_media_type")


def test_body_over_64_kib_is_413(clients):
    body = json.dumps({"lane": "1", "identifier": {"type": "email", "value": "a@b.no"},
                       "display_name": "x" * 70_000})
    assert_error(post_raw(clients["till"], body), 413, "payload_too_large")


def test_chunked_body_over_64_kib_is_413(clients):
    def chunks():
        yield b'{"lane": "1", "pad": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}'
    assert_error(post_raw(clients["till"], chunks()), 413, "payload_too_large")


@pytest.mark.parametrize("body,field", [
    ({}, "lane"),
    ({"identifier": {"type": "email", "value": "a@b.no"}}, "lane"),
    ({"lane": None, "identifier": {"type": "email", "value": "a@b.no"}}, "lane"),
    ({"lane": "1", "identifier": None}, "identifier"),
    ({"lane": "1", "identifier": []}, "identifier"),
    ({"lane": "1", "identifier": {"type": "fax", "value": "1"}}, "identifier.type"),
    ({"lane": "1", "identifier": {"type": "email"}}, "identifier.value"),
    ({"lane": "1", "identifier": {"type": "email", "value": 42}}, "identifier.value"),
    ({"lane": "1", "identifier": {"type": "email", "value": "a" * 10_000}}, "identifier.value"),
    ({"lane": "x" * 100, "identifier": {"type": "email", "value": "a@b.no"}}, "lane"),
    ({"lane": "1\n2", "identifier": {"type": "email", "value": "a@b.no"}}, "lane"),
    ({"lane": "1", "identifier": {"type": "email", "value": "a@b.no"}, "stage": "car park"}, "stage"),
    ({"lane": "1", "identifier": {"type": "email", "value": "a@b.no"}, "display_name": "a\x00b"},
     "display_name"),
    ({"lane": "1", "identifier": {"type": "email", "value": "not-an-email"}}, "identifier.value"),
])
def test_schema_violations_are_422_with_field(clients, body, field):
    assert_error(clients["till"].post(IDENT, json=body), 422, field=field)


@pytest.mark.parametrize("body", [[], None, 1, "text", True])
def test_non_object_bodies_are_422(clients, body):
    assert_error(post_raw(clients["till"], json.dumps(body)), 422)


def test_integer_lane_is_accepted(clients):
    r = clients["till"].post(IDENT, json={"lane": 3, "identifier": {"type": "email", "value": "a@b.no"}})
    assert r.status_code == 200


@pytest.mark.parametrize("path,method", [("/api/v1/nope", "GET"), ("/api/v1/prompts/999999/ack", "POST")])
def test_unknown_things_are_404(clients, path, method):
    response = clients["staff"].request(method, path, json={"by": "Ana"})
    assert_error(response, 404, "not_found")


def test_wrong_method_is_405_json(clients):
    assert_error(clients["till"].get(IDENT), 405, "method_not_allowed")


def test_wrong_role_is_403(clients):
    assert_error(clients["queue"].get("/api/v1/prompts"), 403, "forbidden")
    assert_error(clients["till"].get("/metrics"), 403, "forbidden")


@pytest.mark.parametrize("header", ["", "Bearer", "Basic dXNlcjpwYXNz", "Bearer pp_wrong"])
def test_missing_or_bad_tokens_are_401(server, header):
    response = requests.post(server.url + IDENT, json={}, headers={"Authorization": header})
    assert_error(response, 401, "unauthorized")


def test_rate_limit_is_429(loaded_store, tokens):

    loaded_store.settings = loaded_store.settings.replace(rate_limit_per_s=1, rate_limit_burst=3)
    server = BackgroundServer(create_app(store=loaded_store)).start()
    try:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {tokens['staff']}"
        codes = [session.get(server.url + "/api/v1/prompts").status_code for _ in range(6)]
        assert codes[:3] == [200, 200, 200] and 429 in codes[3:]
        assert_error(session.get(server.url + "/api/v1/prompts"), 429, "rate_limited")
    finally:
        server.stop()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20)
identify_like = st.fixed_dictionaries({}, optional={
    "lane": json_values, "identifier": json_values | st.fixed_dictionaries(
        {}, optional={"type": st.sampled_from(["phone", "email", "handle", "x"]) | json_values,
                      "value": st.text(max_size=300) | json_values}),
    "stage": json_values, "display_name": json_values, "sale_id": json_values})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=identify_like | json_values)
def test_odd_bodies_never_cause_a_500(app_clients, body):
    response = post_raw(app_clients["till"], json.dumps(body))
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert_error(response, 422)


def test_failing_writes_show_in_healthz_and_metrics(clients, server, full_disk):
    """The disk refuses writes: identify still answers, /healthz says degraded
    and why, /metrics counts the waiting rows; once the disk is back, all is written."""
    db = server.app.extensions["posplugin.store"].db
    disk = full_disk(db)
    answer = clients["till"].post(IDENT, json={"lane": "1", "identifier": {"type": "email", "value": "n@x.no"}})
    assert answer.status_code == 200
    db.flush()
    health = clients[None].get("/healthz").json()
    assert health["status"] == "degraded" and "disk is full" in health["warnings"][0]
    assert "posplugin_deferred_writes_waiting 2.0" in clients["admin"].get("/metrics").text  # the visit, its id block
    disk.room()
    deadline = time.monotonic() + 5
    while db.deferred.waiting and time.monotonic() < deadline:
        db.flush()
    assert answer.json()["visit_id"] in {v.id for v in server.app.extensions["posplugin.store"].visits.recorded()}
    assert clients[None].get("/healthz").json() == {**health, "status": "ok", "warnings": []}


@pytest.mark.parametrize("path,body", [
    ("/api/v1/identify", b'{"lane": "1", "identifier": {"type": "email", "value": "a\xed\xa0\x80@x.no"}}'),
    ("/api/v1/queue", b'{"lane": "1\xed\xb0\x80", "length": 2}'),
    ("/api/v1/painpoints", b'{"kind": "other", "note": "\xed\xa0\x80"}'),
    ("/api/v1/identify", b"[" * 30_000 + b"]" * 30_000),
], ids=["identify", "queue", "painpoints", "nested"])
def test_raw_surrogates_and_deep_nesting_are_400(clients, path, body):
    role = "queue" if path.endswith("/queue") else "till"
    assert_error(post_raw_to(clients[role], path, body), 400, "invalid_json")


def post_raw_to(client, path, data):
    return client.post(path, data=data, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("at", ["0001-01-01T00:30:00+01:00", "0001-01-01T02:00:00+01:00",
                                "1970-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00"])
def test_readings_at_absurd_times_are_422(clients, at):
    assert_error(clients["queue"].post("/api/v1/queue", json={"lane": "1", "length": 2, "at": at}),
                 422, field="at")


@pytest.mark.parametrize("last", ["{epoch}.²", "{epoch}." + "9" * 5000, "{epoch}.-1"],
                         ids=["superscript", "5000 digits", "negative"])
def test_a_strange_last_event_id_gets_a_reset_not_a_dead_stream(server, tokens, last):
    epoch = server.app.extensions["posplugin.store"].bus.epoch
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/api/v1/stream?last_event_id=" + quote(last.format(epoch=epoch)),
                 headers={"Authorization": f"Bearer {tokens['staff']}"})
    response = conn.getresponse()
    if response.status == 200:
        text = b""
        while b"event: reset" not in text:
            chunk = response.read1(4096)
            assert chunk, text
            text += chunk
    else:
        assert response.status == 422
    conn.close()


def test_429_says_when_to_retry(loaded_store, tokens):
    loaded_store.settings = loaded_store.settings.replace(rate_limit_per_s=1, rate_limit_burst=1)
    server = BackgroundServer(create_app(store=loaded_store)).start()
    try:
        headers = {"Authorization": f"Bearer {tokens['staff']}"}
        answers = [requests.get(server.url + "/api/v1/prompts", headers=headers, timeout=5) for _ in range(3)]
        limited = [a for a in answers if a.status_code == 429]
        assert limited and all(int(a.headers["Retry-After"]) >= 1 for a in limited)
    finally:
        server.stop()


@pytest.mark.parametrize("path,origins,ancestors", [
    ("/till", "", "frame-ancestors 'self'"),
    ("/till", "https://pos.example.com", "frame-ancestors 'self' https://pos.example.com"),
    ("/floor", "https://pos.example.com", "frame-ancestors 'none'"),
])
def test_only_the_till_card_may_be_framed_and_only_by_cors_origins(loaded_store, path, origins, ancestors):
    loaded_store.settings = loaded_store.settings.replace(cors_origins=origins)
    server = BackgroundServer(create_app(store=loaded_store)).start()
    try:
        csp = requests.get(server.url + path, timeout=5).headers["Content-Security-Policy"]
        assert csp.endswith(ancestors)
    finally:
        server.stop()


def test_a_pain_prompts_resolution_note_is_returned(clients):
    pain = clients["staff"].post("/api/v1/painpoints", json={"kind": "stock", "lane": "2",
                                                            "note": "no oat milk"}).json()
    done = clients["staff"].post(f"/api/v1/prompts/{pain['id']}/resolve",
                                 json={"by": "Ola", "note": "restocked from the back"}).json()
    assert done["note"] == "restocked from the back" and done["report_note"] == "no oat milk"


def test_openapi_lists_409_for_ack_and_resolve(clients):
    paths = clients[None].get("/api/v1/openapi.json").json()["paths"]
    for action in ("ack", "resolve"):
        assert "409" in paths[f"/api/v1/prompts/{{prompt_id}}/{action}"]["post"]["responses"]


# Who may call what (DESIGN.md's table; admin may call everything). Written out
# here, not read from the declarations, so a route opened to the wrong role fails.
ROLES_OF = {
    ("POST", "/api/v1/identify"): {"till", "queue", "staff"},
    ("GET", "/api/v1/prompts"): {"staff", "till"},
    ("POST", "/api/v1/prompts/1/ack"): {"staff", "till"},
    ("POST", "/api/v1/prompts/1/resolve"): {"staff", "till"},
    ("POST", "/api/v1/painpoints"): {"staff", "till"},
    ("GET", "/api/v1/stream"): {"staff", "till"},
    ("POST", "/api/v1/queue"): {"queue"},
    ("GET", "/api/v1/queues"): {"staff"},
    ("GET", "/api/v1/queues/today"): {"staff"},
    ("GET", "/metrics"): {"admin"},
    ("GET", "/api/v1/openapi.json"): None,
    ("GET", "/healthz"): None,
}


def declared_operations():
    """Every (method, path) the store's app declares with its roles, path parameters filled in."""


    return {(op.method, re.sub(r"<(?:\w+:)?\w+>", "1", op.path)): op.roles and set(op.roles)
            for bp in BLUEPRINTS for op in getattr(bp, "operations", ())}


def test_every_route_declares_the_roles_of_the_design():
    assert declared_operations() == ROLES_OF


@pytest.mark.parametrize("method,path", sorted(ROLES_OF))
def test_every_route_admits_exactly_its_roles(clients, method, path):
    roles = ROLES_OF[(method, path)]
    for role in ("till", "queue", "staff", "admin", None):
        kwargs = {"json": {}} if method == "POST" else {}
        with clients[role].request(method, path, stream=True, **kwargs) as response:
            if roles is None:
                assert response.status_code == 200
            elif role is None:
                assert response.status_code == 401
            else:
                allowed = role in roles or role == "admin"
                assert (response.status_code == 403) is not allowed, (role, response.status_code)
                assert response.status_code != 401
