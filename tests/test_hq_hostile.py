"""Head office under hostile clients and bad input (issue 11, item 11's class):
every answer to bad input is a 4xx with the JSON error shape, never a 500 or a
stack trace. Real HTTP to a real head office, on SQLite and on PostgreSQL."""

import json

import pytest
import requests

from helpers import joined_customer
from posplugin.hq.web import me as me_web
from posplugin.hq.web.join import customer_side


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    error = response.json()["error"]
    assert error["code"] and error["message"], error
    if code:
        assert error["code"] == code, error
    assert "Traceback" not in response.text
    return error


@pytest.fixture
def customer(hq, caplog):
    """A signed-in customer's session, its CSRF token already in its headers."""
    http = joined_customer(hq.server, caplog, link=None)
    http.headers[me_web.CSRF_HEADER] = http.get(hq.server.url + "/hq/v1/me", timeout=10).json()["csrf"]
    return http


@pytest.mark.parametrize("account_id", ["9223372036854775808", "2114570217047072403108134912", "9" * 400],
                         ids=["2**63", "10**27", "400-digits"])
@pytest.mark.parametrize("method, path", [("DELETE", "/hq/v1/me/accounts/{}"),
                                          ("POST", "/hq/v1/me/accounts/{}/refresh")])
def test_an_account_id_beyond_any_database_integer_is_not_found(hq, customer, method, path, account_id):
    response = customer.request(method, hq.server.url + path.format(account_id), timeout=10)
    assert_error(response, 404, "not_found")


def raw_http(server, request: bytes) -> tuple[int, dict, bytes]:
    """Send ``request`` bytes as they are; (status, headers, body) of the answer
    (the server closes the connection after an unreadable head)."""
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


UNREADABLE_HEADS = {
    "request line over 8 KiB": b"GET /hq/v1/openapi.json?x=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "header over 8 KiB": b"GET /hq/v1/openapi.json HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 9000 + b"\r\n\r\n",
    "header name with a space": b"GET /hq/v1/openapi.json HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n",
    "unknown method": b"BREW /hq/v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n",
    "not HTTP": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40 + b"\r\n\r\n",
}


@pytest.mark.parametrize("request_bytes", UNREADABLE_HEADS.values(), ids=UNREADABLE_HEADS.keys())
def test_an_unreadable_request_head_gets_the_error_shape_and_no_logged_traceback(hq, request_bytes, caplog):
    status, headers, body = raw_http(hq.server, request_bytes)
    assert status == 400 and headers["content-type"].startswith("application/json"), (status, headers, body)
    assert headers["server"] == "posplugin"  # not aiohttp's, which names its and Python's versions
    error = json.loads(body)["error"]
    assert error["code"] == "bad_request" and error["message"]
    assert not [r for r in caplog.records if r.exc_info], "an unreadable head is the client's fault, not ours"



JSON = {"Content-Type": "application/json"}
NESTED = b'{"batch": "b", "hours": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
CSV_HEAD = b"identifier_type,identifier,followers,engagement_rate,niches,consent\n"
HOUR = "2026-11-27T10:00:00Z"

# (who calls, method, path, requests' keyword arguments, status, error code or None).
# "chunked" is a body sent without Content-Length. "customer" is signed in and sends its CSRF token; "customer-nocsrf" does not.
HOSTILE = {
    "stores ?days=²": ("admin", "GET", "/hq/v1/stores?days=%C2%B2", {}, 422, "invalid"),
    "stores ?days=5,000 digits": ("admin", "GET", "/hq/v1/stores?days=" + "9" * 5000, {}, 422, "invalid"),
    "stores ?days=NUL": ("admin", "GET", "/hq/v1/stores?days=%00", {}, 422, "invalid"),
    "stores.csv ?days=²": ("admin", "GET", "/hq/v1/stores.csv?days=%C2%B2", {}, 422, "invalid"),
    "chart ?days=5,000 digits": ("admin", "GET", "/hq/v1/chart?days=" + "9" * 5000, {}, 422, "invalid"),
    "chart ?day=9999-12-31": ("admin", "GET", "/hq/v1/chart?day=9999-12-31", {}, 422, "invalid"),
    "chart ?day=0001-01-01": ("admin", "GET", "/hq/v1/chart?day=0001-01-01", {}, 422, "invalid"),
    "chart ?day=²²²²-01-01": ("admin", "GET", "/hq/v1/chart?day=%C2%B2%C2%B2%C2%B2%C2%B2-01-01", {}, 422, "invalid"),
    "chart ?day=NUL": ("admin", "GET", "/hq/v1/chart?day=%00", {}, 422, "invalid"),
    "chart ?figure=surrogate": ("admin", "GET", "/hq/v1/chart?figure=%ED%A0%80", {}, 422, "invalid"),
    "experiment ?name=NUL": ("admin", "GET", "/hq/v1/experiment?name=%00", {}, 422, "invalid"),
    "experiment ?name=surrogate": ("admin", "GET", "/hq/v1/experiment?name=%ED%A0%80", {}, 422, "invalid"),
    "experiment ?name=5,000": ("admin", "GET", "/hq/v1/experiment?name=" + "x" * 5000, {}, 422, "invalid"),
    "experiment ?detect=²": ("admin", "GET", "/hq/v1/experiment?detect=%C2%B2", {}, 422, "invalid"),
    "experiment ?detect=5,000 digits": ("admin", "GET", "/hq/v1/experiment?detect=0." + "1" * 5000, {}, 422,
                                        "invalid"),
    "feed NUL name": ("store", "GET", "/hq/v1/feed/%00.tsv", {}, 404, "not_found"),
    "feed 5,000-character name": ("store", "GET", "/hq/v1/feed/" + "a" * 5000 + ".tsv", {}, 404, "not_found"),
    "manifest list version ²": ("store", "GET", "/hq/v1/feed/manifest.json",
                                {"headers": {"X-Posplugin-List-Version": "²".encode()}}, 200, None),
    "manifest list version 5,000 digits": ("store", "GET", "/hq/v1/feed/manifest.json",
                                           {"headers": {"X-Posplugin-List-Version": "9" * 5000}}, 200, None),
    "manifest If-None-Match bytes": ("store", "GET", "/hq/v1/feed/manifest.json",
                                     {"headers": {"If-None-Match": b"\xff\xfe"}}, 200, None),
    "Authorization non-ASCII": (None, "GET", "/hq/v1/stores", {"headers": {"Authorization": "Bearer ²€".encode()}},
                                401, "unauthorized"),
    "Authorization bytes": (None, "GET", "/hq/v1/stores", {"headers": {"Authorization": b"Bearer \xff\xfe"}},
                            401, "unauthorized"),
    "session cookie non-ASCII": (None, "GET", "/hq/v1/me", {"headers": {"Cookie": "posplugin_customer=²€".encode()}},
                                 401, "not_signed_in"),
    "session cookie bytes": (None, "GET", "/hq/v1/me/export",
                             {"headers": {"Cookie": b"posplugin_customer=\xff\xfe"}}, 401, "not_signed_in"),
    "me ?lang=surrogate": ("customer", "GET", "/hq/v1/me?lang=%ED%A0%80", {}, 422, "invalid"),
    "unlink NUL platform": ("customer", "DELETE", "/hq/v1/join/accounts/%00", {}, 404, "not_found"),
    "link NUL platform": ("customer", "POST", "/hq/v1/join/accounts/%00/link", {}, 404, "not_found"),
    "link surrogate platform": ("customer", "POST", "/hq/v1/join/accounts/%ED%A0%80/link", {}, 404, "not_found"),
    "callback NUL platform": (None, "GET", "/hq/v1/join/accounts/%00/callback?code=a&state=b", {}, 404, "not_found"),
    "callback NUL state": (None, "GET", "/hq/v1/join/accounts/instagram/callback?code=a&state=%00", {}, 422,
                           "invalid"),
    "code for an email with a NUL": (None, "POST", "/hq/v1/join/code",
                                     {"json": {"identifier": {"type": "email", "value": "a\u0000@example.com"}}},
                                     422, "invalid_identifier"),
    "code for an email with a zero-width space": (None, "POST", "/hq/v1/join/code", {
        "json": {"identifier": {"type": "email", "value": "a\u200b@example.com"}}}, 422, "invalid_identifier"),
    "code escaped surrogate": (None, "POST", "/hq/v1/join/code", {
        "data": b'{"identifier": {"type": "email", "value": "\\ud800@example.com"}}', "headers": JSON},
        400, "invalid_json"),
    "code raw surrogate bytes": (None, "POST", "/hq/v1/join/code", {
        "data": b'{"identifier": {"type": "email", "value": "\xed\xa0\x80@example.com"}}', "headers": JSON},
        400, "invalid_json"),
    "code nested 100,000 deep": (None, "POST", "/hq/v1/join/code", {"data": NESTED, "headers": JSON}, 413,
                                 "payload_too_large"),
    "code as text/plain": (None, "POST", "/hq/v1/join/code", {"data": b"{}", "headers": {"Content-Type": "text/plain"}},
                           415, "unsupported_media_type"),
    "code chunked, no Content-Length, over 64 KiB": (None, "POST", "/hq/v1/join/code", {
        "chunked": b'{"x": "' + b"a" * (100 << 10) + b'"}', "headers": JSON}, 413, "payload_too_large"),
    "verify 5,000-character email": (None, "POST", "/hq/v1/join/verify", {
        "json": {"identifier": {"type": "email", "value": "x" * 5000}, "code": "123456"}}, 422, "invalid"),
    "handle NUL": ("customer", "POST", "/hq/v1/join/handles", {"json": {"platform": "instagram", "handle": "\u0000"}},
                   422, "invalid"),
    "consent escaped surrogate": ("customer", "POST", "/hq/v1/join/consent", {
        "data": b'{"version": "\\udfff", "scopes": []}', "headers": JSON}, 400, "invalid_json"),
    "report raw surrogate bytes": ("store", "POST", "/hq/v1/reports", {
        "data": b'{"batch": "\xed\xa0\x80", "hours": []}', "headers": JSON}, 400, "invalid_json"),
    "report nested 100,000 deep": ("store", "POST", "/hq/v1/reports", {"data": NESTED, "headers": JSON}, 400,
                                   "invalid_json"),
    "report 10**30": ("store", "POST", "/hq/v1/reports", {
        "data": b'{"batch": "b", "hours": [{"hour": "%s", "taken": %d}]}' % (HOUR.encode(), 10**30),
        "headers": JSON}, 422, "invalid"),
    "report NaN": ("store", "POST", "/hq/v1/reports", {
        "data": b'{"batch": "b", "hours": [{"hour": "%s", "time_to_act_s": NaN}]}' % HOUR.encode(),
        "headers": JSON}, 422, "invalid"),
    "report 1e400": ("store", "POST", "/hq/v1/reports", {
        "data": b'{"batch": "b", "hours": [{"hour": "%s", "pain_seconds": 1e400}]}' % HOUR.encode(),
        "headers": JSON}, 422, "invalid"),
    "report hour ²": ("store", "POST", "/hq/v1/reports", {"json": {"batch": "b", "hours": [{"hour": "²"}]}},
                      422, "invalid"),
    "report chunked over 8 MiB": ("store", "POST", "/hq/v1/reports", {
        "chunked": b'{"batch": "' + b"a" * (9 << 20) + b'"}', "headers": JSON}, 413, "payload_too_large"),
    "report without Content-Type": ("store", "POST", "/hq/v1/reports", {"data": b'{"batch": "b", "hours": []}'},
                                    415, "unsupported_media_type"),
    "invitations raw surrogate bytes": ("store", "POST", "/hq/v1/invitations", {
        "data": b'{"invitations": [{"ref": "\xed\xa0\x80", "customer": "' + b"a" * 64
        + b'", "sold_at": "2026-01-01T00:00:00Z"}]}', "headers": JSON}, 400, "invalid_json"),
    "import as JSON": ("admin", "POST", "/hq/v1/imports", {"data": b"{}", "headers": JSON}, 415,
                       "unsupported_media_type"),
    "import 5,000-digit followers": ("admin", "POST", "/hq/v1/imports", {
        "data": CSV_HEAD + b"phone,+4741234567," + b"9" * 5000 + b",1%,a,yes\n", "headers": {"Content-Type": "text/csv"}},
        422, "import_refused"),
    "import of NULs": ("admin", "POST", "/hq/v1/imports", {"data": b"\x00" * 100, "headers": {"Content-Type": "text/csv"}},
                       422, "import_refused"),
    "me object without CSRF token": ("customer-nocsrf", "POST", "/hq/v1/me/object", {}, 403, "csrf"),
    "me object CSRF token non-ASCII": ("customer-nocsrf", "POST", "/hq/v1/me/object",
                                       {"headers": {"X-CSRF-Token": "²€".encode()}}, 403, "csrf"),
    "me object CSRF token bytes": ("customer-nocsrf", "DELETE", "/hq/v1/me",
                                   {"headers": {"X-CSRF-Token": b"\xff"}}, 403, "csrf"),
    "Origin bytes": ("customer", "POST", "/hq/v1/join/signout",
                     {"headers": {"Origin": "http://\xff".encode("latin-1")}}, 403, "cross_site"),
    "Origin not a URL": ("customer", "POST", "/hq/v1/join/signout", {"headers": {"Origin": "http://[::1"}}, 403,
                         "cross_site"),
    "PUT on stores": ("admin", "PUT", "/hq/v1/stores", {}, 405, "method_not_allowed"),
}


@pytest.mark.parametrize("who, method, path, kwargs, status, code", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_input_is_a_4xx_with_the_error_shape(hq, customer, who, method, path, kwargs, status, code):
    kwargs = dict(kwargs)
    if "chunked" in kwargs:  # a body from an iterator goes without Content-Length
        kwargs["data"] = iter([kwargs.pop("chunked")])
    if who in ("customer", "customer-nocsrf"):
        http = customer
        if who == "customer-nocsrf":
            del http.headers[me_web.CSRF_HEADER]
    else:
        http = requests.Session()
        if who:
            http.headers["Authorization"] = f"Bearer {hq.create_token(who, 'hostile-' + who)}"
    response = http.request(method, hq.server.url + path, headers={**http.headers, **kwargs.pop("headers", {})},
                            timeout=30, allow_redirects=False, **kwargs)
    if code is None:
        assert response.status_code == status, response.text[:300]
    else:
        assert_error(response, status, code)


def test_a_platform_callback_too_long_to_read_is_a_documented_400(hq):
    """The platforms' callback takes eleven query parameters; past the front
    door's 8,190 bytes of request line it is a 400 in the error shape, as its
    document says (with its 302 back to /join and the platform's name rule)."""
    url = hq.server.url + "/hq/v1/join/accounts/instagram/callback"
    response = requests.get(url, params={"code": "c" * 2048, "error_description": '"' * 1024, "scope": "%" * 1024},
                            allow_redirects=False, timeout=10)
    assert_error(response, 400, "bad_request")
    assert requests.get(url, params={"code": "c", "state": "s"}, allow_redirects=False, timeout=10).status_code == 302
    operation = requests.get(hq.server.url + "/hq/v1/openapi.json", timeout=10).json()[
        "paths"]["/hq/v1/join/accounts/{platform}/callback"]["get"]
    assert {"302", "400"} <= set(operation["responses"]) and "200" not in operation["responses"]
    platform = next(p for p in operation["parameters"] if p["name"] == "platform")
    assert platform["schema"]["pattern"] == "^[a-z][a-z0-9_]{1,31}$"


EDGES_OF_TIME = {"year 1": "0001-01-01T00:30:00+01:00", "year 9999": "9999-12-31T23:30:00-01:00"}


@pytest.mark.parametrize("when", EDGES_OF_TIME.values(), ids=EDGES_OF_TIME.keys())
def test_a_store_sending_the_edges_of_time_breaks_no_page(hq, caplog, when):
    """A report hour or an invitation's sale at the first or last representable
    instant is refused or kept; either way no figure, page or export of head
    office fails on it afterwards."""
    http = joined_customer(hq.server, caplog, link=None, scopes=("tiering", "invitations"))
    who = customer_side(hq.server.app).page.source.signed_in(http.cookies["posplugin_customer"])
    store = {"Authorization": f"Bearer {hq.create_token('store', 'oslo')}"}
    admin = {"Authorization": f"Bearer {hq.create_token('admin', 'ops')}"}
    sent = [requests.post(hq.server.url + "/hq/v1/reports", headers=store, timeout=10,
                          json={"batch": "edge", "hours": [{"hour": when, "taken": 1, "made": {"murdoch": 1}}]}),
            requests.post(hq.server.url + "/hq/v1/invitations", headers=store, timeout=10,
                          json={"invitations": [{"ref": "r1", "customer": who.id_hash, "sold_at": when}]})]
    for response in sent:
        assert response.status_code in (200, 422), response.text
        if response.status_code == 422:
            assert_error(response, 422)
    for path in ("/hq/v1/stores", "/hq/v1/stores.csv", "/hq/v1/chart", "/hq/v1/chart?days=90"):
        response = requests.get(hq.server.url + path, headers=admin, timeout=10)
        assert response.status_code == 200, (path, response.text[:300])
    for path in ("/hq/v1/me", "/hq/v1/me/export"):
        response = http.get(hq.server.url + path, timeout=10)
        assert response.status_code == 200, (path, response.text[:300])


def test_every_hostile_answer_above_is_documented_for_its_route():
    """The statuses pinned in HOSTILE are in head office's OpenAPI document for
    their routes (a client reading the document is not surprised)."""
    import re
    from urllib.parse import unquote, urlsplit

    from test_hq_openapi import hq_document

    paths = hq_document()["paths"]
    templates = [(re.compile("^" + re.sub(r"\\{\w+\\}", "[^/]+", re.escape(p)) + "$"), p) for p in paths]
    undocumented = []
    for case, (_who, method, path, _kw, status, _code) in HOSTILE.items():
        if status == 405:
            continue  # no operation to document it on
        route = unquote(urlsplit(path).path)
        template = next(t for pattern, t in templates if pattern.match(route) and method.lower() in paths[t])
        if str(status) not in paths[template][method.lower()]["responses"]:
            undocumented.append((case, method, template, status))
    assert not undocumented
