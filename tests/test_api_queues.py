"""Queue routes over real HTTP: readings, events, overview, pain points, errors."""

import pytest


def test_reading_then_overview(clients):
    answer = clients["queue"].post("/api/v1/queue", json={"lane": "2", "length": 9}).json()
    assert answer["status"] == "long" and answer["prompt"]["kind"] == "pain"
    overview = clients["staff"].get("/api/v1/queues").json()
    assert overview["lanes"][0]["lane"] == "2" and overview["lanes"][0]["length"] == 9
    assert overview["recommendation"]["open_lanes"] >= 1
    assert "9 waiting" in overview["recommendation"]["reason"]


def test_events(clients):
    for event in ("open", "join", "join"):
        answer = clients["queue"].post("/api/v1/queue", json={"lane": 1, "event": event}).json()
    assert answer["length"] == 2 and answer["lane"] == "1"


@pytest.mark.parametrize("body,field", [
    ({"lane": "1", "length": -1}, "length"),
    ({"lane": "1", "length": 10_001}, "length"),
    ({"lane": "1", "length": 2.5}, "length"),
    ({"lane": "1", "event": "teleport"}, "event"),
    ({"lane": "1"}, None),
    ({"lane": "1", "length": 3, "event": "join"}, None),
    ({"lane": "1", "length": 3, "at": "last tuesday"}, "at"),
    ({"lane": "1", "length": 3, "at": "2099-01-01T00:00:00Z"}, "at"),
])
def test_bad_queue_input_is_422(clients, body, field):
    response = clients["queue"].post("/api/v1/queue", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error.get("field") == field
    if field is None:
        assert "either length" in error["message"]


@pytest.mark.parametrize("role,path,method,status", [
    ("queue", "/api/v1/queue", "POST", 200), ("till", "/api/v1/queue", "POST", 403),
    ("staff", "/api/v1/queue", "POST", 403), ("staff", "/api/v1/queues", "GET", 200),
    ("till", "/api/v1/queues", "GET", 403), ("queue", "/api/v1/painpoints", "POST", 403),
    ("till", "/api/v1/painpoints", "POST", 200), ("admin", "/api/v1/queues", "GET", 200),
])
def test_roles(clients, role, path, method, status):
    body = {"lane": "1", "length": 1} if path.endswith("queue") else {"kind": "stock"}
    assert clients[role].request(method, path, json=body).status_code == status


def test_painpoint_defaults_reporter_to_token_name(clients):
    prompt = clients["staff"].post("/api/v1/painpoints", json={"kind": "stock", "note": "no oat milk"}).json()
    assert prompt["kind"] == "pain" and "test-staff" in prompt["body"] and "oat milk" in prompt["body"]


def test_queues_import_cli(settings, tmp_path):
    from helpers import cli
    path = tmp_path / "history.csv"
    path.write_text("lane,at,length\n1,2026-11-01T10:00:00Z,3\n2,2026-11-01T10:01:00+01:00,4\n")
    done = cli("queues", "import", str(path), "--data", str(settings.data_dir))
    assert done.returncode == 0 and done.stdout.strip() == "2 readings loaded"
    path.write_text("lane,at,length\n1,2026-11-01T10:00:00Z,x\n")
    done = cli("queues", "import", str(path), "--data", str(settings.data_dir))
    assert done.returncode == 1 and "line 2" in done.stderr


@pytest.mark.parametrize("lane,length", [(3.0, 5.0), (3, 5), ("3", 5)])
def test_numeric_lanes_and_whole_float_lengths_are_the_same_lane(clients, lane, length):
    answer = clients["queue"].post("/api/v1/queue", json={"lane": lane, "length": length}).json()
    assert answer["lane"] == "3" and answer["length"] == 5 and isinstance(answer["length"], int)
    lanes = [l["lane"] for l in clients["staff"].get("/api/v1/queues").json()["lanes"]]
    assert lanes.count("3") == 1 and "3.0" not in lanes


def test_a_fractional_length_is_422(clients):
    answer = clients["queue"].post("/api/v1/queue", json={"lane": "3", "length": 5.5})
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "length"


@pytest.mark.parametrize("lane,ok", [("L" * 64, True), ("L" * 65, False)])
def test_one_lane_rule_over_http_and_from_vendors(clients, lane, ok):
    """The published schema and the lanes vendors' webhooks name (lane_name) keep one length."""
    from posplugin.errors import ValidationError
    from posplugin.store.queues import lane_name

    answer = clients["queue"].post("/api/v1/queue", json={"lane": lane, "length": 2})
    assert (answer.status_code == 200) is ok
    try:
        lane_name(lane)
    except ValidationError:
        assert not ok
    else:
        assert ok
