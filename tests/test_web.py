"""Bad input over HTTP: always the JSON error shape with the right status, never a 500."""

import json
import re

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posplugin.web.app import BLUEPRINTS, create_app
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
def test_odd_bodies_never_cause_a_500(clients, body):
    response = post_raw(clients["till"], json.dumps(body))
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert_error(response, 422)


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
