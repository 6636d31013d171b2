"""An AXIS Queue Monitor style people counter over HTTP: per-region readings,
the bearer token and replays (documents shaped like the camera's
live-sum-people.json)."""

import pytest
import requests

TOKEN = "axis-relay-token"
SERIAL = "ACCC8E20F09B"


PLUGINS = "axis_counter"  # the conftest fixture `hooked` serves a store with these
PLUGIN_SETTINGS = {
    "axis_token": TOKEN, "axis_regions": f"{SERIAL}:region3=2, region1=1"}


def live(timestamp="20261123101524", people=(1, 0, 3), serial=SERIAL):
    document = {"serial": serial, "name": "Service Counter", "timestamp": timestamp}
    for number, (name, count) in enumerate(zip(("Product Display", "Aisle Display", "Service Counter"), people), 1):
        document[f"region{number}name"] = name
        document[f"region{number}people"] = count
    return document


def post(server, document, token=TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(server.url + "/hooks/axis/counts", json=document, headers=headers, timeout=5)


def lengths(store):
    return {row["lane"]: row["length"] for row in store.queues.overview()["lanes"]}


def test_each_mapped_region_is_a_reading_for_its_lane(hooked):
    server, store = hooked
    answer = post(server, live()).json()
    assert [(r["lane"], r["length"]) for r in answer["queue"]] == [("1", 1), ("2", 3)]
    assert answer["ignored"] == ["region2"]
    post(server, live("20261123101529", people=(0, 4, 6)))
    assert lengths(store) == {"1": 0, "2": 6}


def test_a_region_mapped_for_one_camera_only(hooked):
    server, store = hooked
    answer = post(server, live(serial="OTHERCAMERA")).json()
    assert [(r["lane"], r["length"]) for r in answer["queue"]] == [("1", 1)]
    assert answer["ignored"] == ["region2", "region3"]


def test_replays_and_documents_without_counts(hooked):
    server, store = hooked
    post(server, live())
    assert post(server, live(people=(5, 5, 5))).json() == {"ok": True, "duplicate": True}
    assert post(server, {"serial": SERIAL, "timestamp": "20261123101530"}).json() == {
        "ok": True, "ignored": "no region counts"}
    assert lengths(store) == {"1": 1, "2": 3}


@pytest.mark.parametrize("bad", ["three", -1, 2.5, True])
def test_a_count_that_is_not_a_number_of_people_is_422(hooked, bad):
    server, store = hooked
    response = post(server, live(people=(1, 0, bad)))
    assert response.status_code == 422 and response.json()["error"]["field"] == "region3people"
    assert store.queues.overview()["lanes"] == []
    # Not taken for a replay: the corrected document with the same timestamp counts.
    assert post(server, live(people=(1, 0, 3))).json()["queue"][1]["length"] == 3


@pytest.mark.parametrize("token", ["wrong-token", None])
def test_bad_or_missing_token_is_401(hooked, token):
    server, store = hooked
    response = post(server, live(), token=token)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert store.queues.overview()["lanes"] == []
