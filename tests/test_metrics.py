"""GET /metrics: Prometheus text for admins only, with the figures operators need."""

from prometheus_client.parser import text_string_to_metric_families


def scrape(clients):
    response = clients["admin"].get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return {s.name + str(sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def test_identify_outcomes_requests_and_list_size(clients):
    for value in ("+4741234567", "+4741234567", "+4799999999"):
        clients["till"].post("/api/v1/identify", json={"lane": "1", "identifier": {"type": "phone",
                                                                                   "value": value}})
    samples = scrape(clients)
    assert samples["posplugin_identify_total[('known', 'true'), ('service_level', 'murdoch'), ('tier', 'nano')]"] == 2
    assert samples["posplugin_identify_total[('known', 'false'), ('service_level', 'standard'), ('tier', 'everyday')]"] == 1
    assert samples["posplugin_prompts_created_total[('kind', 'service'), ('level', 'murdoch')]"] == 1
    assert samples["posplugin_http_requests_total[('method', 'POST'), ('route', '/api/v1/identify'), ('status', '200')]"] == 3
    assert samples["posplugin_tier_list_rows[]"] == 4
    assert any(k.startswith("posplugin_http_request_seconds_bucket") for k in samples)
