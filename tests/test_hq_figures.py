"""Head office's figures at a glance over HTTP: chain totals and the taken
rate, charts over the chosen period (nothing before a store existed), a day
hour by hour, and the stores' table as CSV."""

import csv
import io

import pytest
import requests
from test_hq import admin, auth, hour, report  # noqa: F401  (admin is a fixture)

NOW = 1_795_428_000.0 + 3600  # 2026-11-23 11:00 UTC
HOUR = "2026-11-23T10:00:00Z"


@pytest.fixture
def chain(hq, admin):  # noqa: F811
    """Two stores: oslo reported an hour of figures, bergen was just added."""
    hq.test_clock.now = NOW - 5 * 86400
    oslo = hq.create_token("store", "oslo")       # added five days ago
    hq.test_clock.now = NOW
    bergen = hq.create_token("store", "bergen")   # added now, no reports yet
    report(hq, oslo, [hour(HOUR, times_to_act_s=[10.0, 50.0])])  # of its two prompts taken
    report(hq, bergen, [hour(HOUR, made={"service:priority": 1}, taken=0, resolved=1, time_to_act_s=0.0,
                             times_to_act_s=[])])
    return hq


def get(hq, admin, path):  # noqa: F811
    response = requests.get(hq.server.url + path, headers=auth(admin), timeout=5)
    assert response.status_code == 200, response.text
    return response


def test_stores_carry_chain_totals_and_the_taken_rate(chain, admin):  # noqa: F811
    data = get(chain, admin, "/hq/v1/stores?days=7").json()
    totals = data["totals"]
    assert totals["stores"] == 2 and totals["prompts_made"] == 4 and totals["taken"] == 2
    assert totals["taken_rate"] == 0.5 and totals["median_time_to_act_s"] == 30.0
    rates = {s["name"]: s["figures"]["taken_rate"] for s in data["stores"]}
    assert rates == {"oslo": round(2 / 3, 3), "bergen": 0.0}


def test_chain_totals_are_over_every_time_to_act_of_the_stores_shown(hq, admin):  # noqa: F811
    """The chain's median is over every store's times (not a median of the
    stores' medians), from whole days and from the hours before the first
    whole day of the period alike; nothing before the period, nothing of a
    store no longer shown."""
    hq.test_clock.now = NOW
    oslo, bergen, gone = (hq.create_token("store", name) for name in ("oslo", "bergen", "gone"))
    # The 7 days start at 2026-11-16 11:00: the 12:00 hour is before the first whole day.
    report(hq, oslo, [hour("2026-11-16T10:00:00Z", times_to_act_s=[1000.0]),   # before the period
                      hour("2026-11-16T12:00:00Z", times_to_act_s=[40.0]),
                      hour("2026-11-20T09:00:00Z", taken=3, times_to_act_s=[10.0, 20.0, 30.0])])
    report(hq, bergen, [hour(HOUR, times_to_act_s=[100.0])])
    report(hq, gone, [hour(HOUR, taken=3, times_to_act_s=[1.0, 1.0, 1.0])])
    hq.revoke_tokens("gone")

    data = get(hq, admin, "/hq/v1/stores?days=7").json()

    totals = data["totals"]
    assert totals["stores"] == 2
    assert totals["median_time_to_act_s"] == 30.0  # of 10, 20, 30, 40, 100
    assert totals["prompts_made"] == 3 * 3 and totals["pain_minutes"] == 3 * 600 / 60
    medians = {s["name"]: s["figures"]["median_time_to_act_s"] for s in data["stores"]}
    assert medians == {"oslo": 25.0, "bergen": 100.0}


@pytest.mark.parametrize("days", [1, 7, 30])
def test_chart_follows_the_chosen_period_and_draws_nothing_before_a_store_existed(chain, admin, days):  # noqa: F811
    chart = get(chain, admin, f"/hq/v1/chart?figure=prompts_made&days={days}").json()
    assert len(chart["days"]) == days and chart["unit"] == "day"
    oslo, bergen = chart["stores"]["oslo"], chart["stores"]["bergen"]
    assert oslo[-1] == 3 and bergen[-1] == 1
    # oslo existed five days ago: zeros from then, nothing before.
    assert oslo[:-1] == ([None] * max(0, days - 6) + [0] * min(days - 1, 5))
    # bergen was added today: nothing before today (its report is from an hour before it was added).
    assert bergen[:-1] == [None] * (days - 1)


def test_taken_rate_is_a_chart_figure(chain, admin):  # noqa: F811
    chart = get(chain, admin, "/hq/v1/chart?figure=taken_rate&days=2").json()
    assert chart["stores"]["oslo"][-1] == round(2 / 3, 3)


def test_a_day_hour_by_hour(chain, admin):  # noqa: F811
    chart = get(chain, admin, "/hq/v1/chart?figure=prompts_made&day=2026-11-23").json()
    assert chart["unit"] == "hour" and len(chart["hours"]) == 24 and chart["hours"][10] == "10:00"
    oslo = chart["stores"]["oslo"]
    # One hour holds the report's three prompts (which one depends on head office's time zone).
    assert sum(v for v in oslo if v) == 3 and max(v or 0 for v in oslo) == 3
    assert oslo[-1] is None  # hours still to come are not drawn
    medians = get(chain, admin, "/hq/v1/chart?figure=median_time_to_act_s&day=2026-11-23").json()
    assert 30.0 in medians["stores"]["oslo"]


@pytest.mark.parametrize("query,field", [("figure=prompts_made&day=23.11.2026", "day"),
                                         ("figure=nonsense&day=2026-11-23", "figure"),
                                         ("figure=prompts_made&days=0", "days")])
def test_bad_chart_questions_are_422(chain, admin, query, field):  # noqa: F811
    response = requests.get(chain.server.url + "/hq/v1/chart?" + query, headers=auth(admin), timeout=5)
    assert response.status_code == 422 and response.json()["error"]["field"] == field


def test_the_stores_table_exports_as_csv(chain, admin):  # noqa: F811
    response = get(chain, admin, "/hq/v1/stores.csv?days=7")
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    by_store = {r["store"]: r for r in rows}
    assert set(by_store) == {"oslo", "bergen"}
    assert by_store["oslo"]["prompts_made"] == "3" and by_store["oslo"]["median_time_to_act_s"] == "30.0"
    assert by_store["oslo"]["taken_rate"] == str(round(2 / 3, 3))
    store_token = chain.create_token("store", "tromso")
    assert requests.get(chain.server.url + "/hq/v1/stores.csv", headers=auth(store_token),
                        timeout=5).status_code == 403
