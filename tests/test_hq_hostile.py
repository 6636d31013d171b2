"""Head office under hostile clients and bad input (issue 11, item 11's class):
every answer to bad input is a 4xx with the JSON error shape, never a 500 or a
stack trace. Real HTTP to a real head office, on SQLite and on PostgreSQL."""

import json

import pytest
import requests

from conftest import joined_customer
from posplugin.hq import me_web


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
