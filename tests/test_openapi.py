"""The OpenAPI document is real: it validates, it matches what the server does,
and schemathesis finds no 500s or contract breaches against the live server."""

import schemathesis
from helpers import FUZZ
from hypothesis import settings
from schemathesis import checks

from posplugin.promptkinds import KINDS, LEVELS
from posplugin.store import auth, baseline, prompts, queues, visits
from posplugin.store.web import api
from posplugin.store.web.app import BLUEPRINTS
from posplugin.store.web.schemas import SCHEMAS
from posplugin.tiers.policy import SERVICE_LEVELS, TIERS
from posplugin.web import openapi


def store_document():
    return openapi.document(BLUEPRINTS, title="posplugin store API", description=api.DESCRIPTION,
                            superuser=auth.SUPERUSER)


# The live stream never ends by design; tests/test_stream.py covers it.
schema = schemathesis.openapi.from_dict(store_document()).exclude(path="/api/v1/stream")


def test_document_is_served_without_a_token(clients):
    response = clients[None].get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    for path in ("/api/v1/identify", "/api/v1/prompts", "/api/v1/prompts/{prompt_id}/ack",
                 "/healthz", "/metrics"):
        assert path in doc["paths"], path


def test_every_route_of_the_app_is_documented(server):
    doc = store_document()
    rules = {(rule.rule, method) for rule in server.app.url_map.iter_rules()
             for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path.replace("{prompt_id}", "<int:prompt_id>"), method.upper())
                  for path, item in doc["paths"].items() for method in item}
    pages = ("/static", "/till", "/floor", "/hq", "/sw.js", "/hooks", "/docs/", "/favicon.ico")
    missing = {r for r in rules if r not in documented and not r[0].startswith(pages) and r[0] != "/"}
    assert not missing


@schema.parametrize()
@settings(max_examples=40, **FUZZ)
def test_api_conforms_to_its_document(case, server, tokens):
    # Schema-valid bodies can still be refused on meaning (a phone value of "0"
    # is a 422 by contract), so "valid data is accepted" does not apply here.
    # A "negative" query value such as the array ["taken"] travels as
    # status=taken, which is valid, so query-only operations skip the reverse.
    excluded = [checks.positive_data_acceptance]
    if case.method == "GET":
        excluded.append(checks.negative_data_rejection)
    case.call_and_validate(base_url=server.url, headers={"Authorization": f"Bearer {tokens['admin']}"},
                           excluded_checks=excluded)


def test_head_office_serves_its_own_document(hq):
    import requests

    doc = requests.get(hq.server.url + "/hq/v1/openapi.json", timeout=5).json()
    assert doc["info"]["title"] == "posplugin head office API"
    assert {"/hq/v1/reports", "/hq/v1/stores", "/hq/v1/feed/manifest.json"} <= set(doc["paths"])
    report = doc["paths"]["/hq/v1/reports"]["post"]
    assert report["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/OutcomeReport")
    assert "/api/v1/identify" not in doc["paths"]


def test_roles_are_listed_once(clients):
    doc = clients[None].get("/api/v1/openapi.json").json()
    assert doc["paths"]["/metrics"]["get"]["description"] == "Roles: admin."


def test_head_office_roles_do_not_borrow_the_stores_admin(hq):
    import requests

    doc = requests.get(hq.server.url + "/hq/v1/openapi.json", timeout=5).json()
    assert doc["paths"]["/hq/v1/reports"]["post"]["description"] == "Roles: store."
    assert doc["paths"]["/hq/v1/stores.csv"]["get"]["description"] == "Roles: admin."
    assert "day" in {p["name"] for p in doc["paths"]["/hq/v1/chart"]["get"]["parameters"]}


def test_enums_come_from_the_domain_lists():

    prompt = SCHEMAS["Prompt"]["properties"]
    assert (prompt["kind"]["enum"], prompt["level"]["enum"], prompt["status"]["enum"]) == \
        (list(KINDS), list(LEVELS), list(prompts.STATUSES))
    answer = SCHEMAS["IdentifyResponse"]["properties"]
    assert (answer["tier"]["enum"], answer["service_level"]["enum"]) == (list(TIERS), list(SERVICE_LEVELS))
    assert SCHEMAS["IdentifyRequest"]["properties"]["stage"]["enum"] == list(visits.STAGES)
    queue = SCHEMAS["QueueInput"]["properties"]
    assert queue["event"]["enum"] == list(queues.EVENTS) and queue["length"]["maximum"] == queues.MAX_LENGTH
    assert SCHEMAS["QueueAnswer"]["properties"]["status"]["enum"] == list(baseline.STATUSES)
    assert SCHEMAS["PainpointRequest"]["properties"]["kind"]["enum"] == list(prompts.PAIN_KINDS)
