"""Head office's OpenAPI document is real too: schemathesis finds no 500s and
no contract breaches against a live head office, called as its administrator,
as a store and as a signed-in customer (the /join and /me routes); every 4xx
carries the JSON error shape."""

import io

import pytest
import requests
import schemathesis
from helpers import FUZZ, joined_customer, tier_csv
from hypothesis import settings
from schemathesis import checks

from posplugin.hq.web import api as web
from posplugin.hq.web import me as me_web
from posplugin.hq.web.app import BLUEPRINTS
from posplugin.web import openapi


def hq_document():
    return openapi.document(BLUEPRINTS, title="posplugin head office API",
                            description=web.DESCRIPTION)


schema = schemathesis.openapi.from_dict(hq_document())
SQLITE = pytest.mark.parametrize("hq_backend", ["sqlite"], indirect=True)


def test_the_fuzzed_document_is_the_one_head_office_serves(hq):
    assert requests.get(hq.server.url + "/hq/v1/openapi.json", timeout=5).json() == hq_document()


@pytest.fixture
def callers(hq, caplog):
    """The headers and cookies each kind of caller sends: an admin, a store,
    and a customer who joined and consented (with their CSRF token)."""
    hq.import_csv(io.StringIO(tier_csv()))
    customer = joined_customer(hq.server, caplog, link=None)
    csrf = customer.get(hq.server.url + "/hq/v1/me", timeout=10).json()["csrf"]
    return {"admin": {"Authorization": f"Bearer {hq.create_token('admin', 'ops')}"},
            "store": {"Authorization": f"Bearer {hq.create_token('store', 'oslo')}"},
            "customer": {me_web.CSRF_HEADER: csrf}, "cookies": customer.cookies.get_dict()}


def caller_for(case) -> str:
    """Who calls an operation: a store for store-only routes, a customer for
    /join and /me, else an administrator."""
    operation = case.operation.definition.raw
    if "customer" in operation.get("tags", ()):
        return "customer"
    return "store" if operation.get("description") == "Roles: store." else "admin"


def assert_error_shape(response) -> None:
    if 400 <= response.status_code < 500:
        error = response.json()["error"]
        assert isinstance(error["code"], str) and error["code"], response.text
        assert isinstance(error["message"], str) and error["message"], response.text


@SQLITE
@schema.parametrize()
@settings(max_examples=25, **FUZZ)
def test_head_office_conforms_to_its_document(case, hq, callers):
    # As for the store: a schema-valid body can still be refused on meaning
    # (a code that is wrong, a platform head office does not know), and a
    # "negative" query value can travel as a valid one.
    excluded = [checks.positive_data_acceptance]
    if case.method in ("GET", "DELETE") or not case.body:
        excluded.append(checks.negative_data_rejection)
    response = case.call(base_url=hq.server.url, headers=callers[caller_for(case)],
                         cookies=callers["cookies"], allow_redirects=False)
    case.validate_response(response, excluded_checks=excluded)
    assert_error_shape(response)
