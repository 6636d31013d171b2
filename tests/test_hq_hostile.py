"""Head office under hostile clients and bad input (issue 11, item 11's class):
every answer to bad input is a 4xx with the JSON error shape, never a 500 or a
stack trace. Real HTTP to a real head office, on SQLite and on PostgreSQL."""

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
