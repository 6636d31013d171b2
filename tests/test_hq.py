"""Head office over HTTP: what it shows about stores (versions, syncs, stale
and behind stores, figures with real medians), charts, publishing a list from
the page, and the /hq page in a real headless Chromium."""

import io
import re
import uuid

import pytest
import requests
from helpers import (
    DATE,
    OTHER_DATES,
    SCREENS,
    TIER_ROWS,
    each_screen,
    english_left_over,
    english_only_words,
    hq_query,
    no_horizontal_overflow,
    tier_csv,
)

from posplugin.tiers import feed

HOUR = "2026-11-23T10:00:00Z"


def auth(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(hq):
    return hq.create_token("admin", "ops")


def report(hq, token, hours, batch=None):
    return requests.post(hq.server.url + "/hq/v1/reports", headers=auth(token),
                         json={"batch": batch or uuid.uuid4().hex, "hours": hours}, timeout=5)


def hour(at, **figures):
    return {"hour": at, "made": {"service:murdoch": 2, "service:priority": 1}, "taken": 2, "resolved": 2,
            "expired": 0, "acted": 2, "pain_episodes": 1, "pain_seconds": 600.0, "time_to_act_s": 30.0,
            "reach_served": {"murdoch": 500, "priority": 80}, **figures}


# Six prompts made, four taken (67 %), their times to act: median 50 s, mean 72.5 s.
FOUR_TAKEN_OF_SIX = {"made": {"service:murdoch": 4, "service:priority": 2}, "taken": 4, "resolved": 4,
                     "times_to_act_s": [10.0, 40.0, 60.0, 180.0]}


def stores(hq, admin, days=7):
    response = requests.get(hq.server.url + f"/hq/v1/stores?days={days}", headers=auth(admin), timeout=5)
    assert response.status_code == 200
    return {s["name"]: s for s in response.json()["stores"]}


def fetch_manifest(hq, token, version=None):
    headers = auth(token)
    if version is not None:
        headers[feed.LIST_VERSION_HEADER] = str(version)
    return requests.get(hq.server.url + "/hq/v1/feed/manifest.json", headers=headers, timeout=5)


def test_stores_show_their_version_last_sync_and_who_is_stale_or_behind(hq, admin):
    oslo = hq.create_token("store", "oslo")
    hq.create_token("store", "bergen")  # never syncs
    hq.import_csv(io.StringIO(tier_csv()))
    fetch_manifest(hq, oslo, version=1)
    hq.import_csv(io.StringIO(tier_csv(TIER_ROWS[:2])))
    view = stores(hq, admin)
    assert view["oslo"]["list_version"] == 1 and view["oslo"]["behind"] and not view["oslo"]["stale"]
    assert view["bergen"]["last_sync_at"] is None and view["bergen"]["stale"]
    fetch_manifest(hq, oslo, version=2)
    assert not stores(hq, admin)["oslo"]["behind"]
    hq.test_clock.now += hq.stale_after_s + 1
    assert stores(hq, admin)["oslo"]["stale"]


def test_figures_count_each_batch_once_and_take_real_medians(hq, admin):
    token = hq.create_token("store", "oslo")
    hq.test_clock.now = 1_795_428_000.0  # 2026-11-23T10:00Z, the reports' hour
    first = hour(HOUR, taken=3, resolved=3, times_to_act_s=[10.0, 20.0, 300.0], pain_durations_s=[600.0])
    assert report(hq, token, [first], batch="b1").json() == {"accepted": True}
    assert report(hq, token, [first], batch="b1").json() == {"accepted": False}
    report(hq, token, [hour(HOUR, times_to_act_s=[30.0], pain_episodes=2, pain_durations_s=[60.0, 120.0])],
           batch="b2")
    figures = stores(hq, admin)["oslo"]["figures"]
    assert figures["prompts_made"] == 6 and figures["murdoch_prompts_made"] == 4 and figures["taken"] == 5
    assert figures["median_time_to_act_s"] == 25.0      # of 10, 20, 30, 300: not the mean (90)
    assert figures["pain_episodes"] == 3 and figures["median_pain_minutes"] == 2.0
    assert figures["reach_served_murdoch"] == 1000 and figures["reach_served"] == 1160
    hq.test_clock.now += 8 * 86400
    assert stores(hq, admin, days=7)["oslo"]["figures"]["prompts_made"] == 0
    assert stores(hq, admin, days=30)["oslo"]["figures"]["prompts_made"] == 6


MADE_ONE = {"made": {"service:murdoch": 1}}


@pytest.mark.parametrize("body,field", [
    ({"batch": "x", "hours": [{"hour": "yesterday"}]}, "hours.0.hour"),
    ({"batch": "x", "hours": [{"hour": HOUR, "taken": -1}]}, "hours.0.taken"),
    ({"batch": "", "hours": []}, "batch"),
    ({"hours": []}, "batch"),
    # Nothing a store sends is kept beyond what the schema names.
    ({"batch": "x", "hours": [{"hour": HOUR, "customer": "+4741200001", **MADE_ONE}]}, "hours.0.customer"),
    ({"batch": "x", "hours": [], "store": "bergen"}, "store"),
    ({"batch": "x", "hours": [], "arms": [{"experiment": "e", "level": "murdoch", "arm": "served",
                                           "metric": "return_7", "n": 1, "sum": 1, "sum_sq": 1,
                                           "phone": "+4741200001"}]}, "arms.0.phone"),
    ({"batch": "+47 412 00 001", "hours": []}, "batch"),
    # Figures that cannot be true.
    ({"batch": "x", "hours": [{"hour": HOUR, "taken": 1_000_000, **MADE_ONE}]}, "hours"),
    ({"batch": "x", "hours": [{"hour": HOUR, "resolved": 1, "expired": 1, **MADE_ONE}]}, "hours"),
    ({"batch": "x", "hours": [{"hour": HOUR, "resolved": 1, "reach_served": {"murdoch": 10**12}, **MADE_ONE}]},
     "hours.0.reach_served"),
    ({"batch": "x", "hours": [{"hour": HOUR, "taken": 1, "times_to_act_s": [5.0, 6.0], **MADE_ONE}]},
     "hours.0.times_to_act_s"),
    ({"batch": "x", "hours": [{"hour": HOUR, "pain_episodes": 1, **MADE_ONE}]}, "hours.0.pain_episodes"),
    ({"batch": "x", "hours": [{"hour": "1970-01-01T00:00:00Z", **MADE_ONE}]}, "hours.0.hour"),
    ({"batch": "x", "hours": [{"hour": "2999-01-01T00:00:00Z", **MADE_ONE}]}, "hours.0.hour"),
    ({"batch": "x", "hours": [{"hour": HOUR, "made": {"bribe:murdoch": 1}}]}, "hours.0.made.bribe:murdoch"),
    ({"batch": "x", "hours": [{"hour": HOUR, "made": {"service:royal": 1}}]}, "hours.0.made.service:royal"),
    ({"batch": "x", "hours": [{"hour": HOUR, "resolved": 1, "reach_served": {"king": 5}, **MADE_ONE}]},
     "hours.0.reach_served.king"),
])
def test_a_bad_report_is_refused_and_counts_nothing(hq, admin, body, field):
    token = hq.create_token("store", "oslo")
    response = requests.post(hq.server.url + "/hq/v1/reports", headers=auth(token), json=body, timeout=5)
    assert response.status_code == 422 and response.json()["error"]["field"] == field, response.text
    assert hq_query(hq, "SELECT count(*) FROM reports")[0][0] == 0
    assert stores(hq, admin, days=30)["oslo"]["figures"]["prompts_made"] == 0


def test_a_raw_phone_number_in_a_report_never_reaches_the_database_file(tmp_path, make_hq):
    hq = make_hq()
    token = hq.create_token("store", "oslo")
    body = {"batch": "x", "hours": [{"hour": HOUR, "customer": "+4741200001", **MADE_ONE}]}
    assert report(hq, token, body["hours"]).status_code == 422
    assert report(hq, token, [{"hour": HOUR, **MADE_ONE}]).json() == {"accepted": True}
    files = [p for p in (tmp_path / "hq").iterdir() if p.name.startswith("hq.db")]  # and its WAL, on SQLite
    assert all(b"4741200001" not in p.read_bytes() for p in files)
    kept = hq_query(hq, "SELECT hours FROM reports")
    assert "4741200001" not in str(kept) and "customer" not in str(kept)


def test_figures_add_up_across_batches_and_never_past_what_was_made(hq, admin):
    """A prompt made in one batch may be taken in the next (the outbox sends
    what happened since the last round); taking more than was ever made is
    refused, and nothing of that batch counts."""
    token = hq.create_token("store", "oslo")
    assert report(hq, token, [{"hour": HOUR, "made": {"service:murdoch": 2}}], "b1").json() == {"accepted": True}
    later = "2026-11-23T11:00:00Z"
    assert report(hq, token, [{"hour": later, "taken": 2, "resolved": 1, "times_to_act_s": [4.0, 8.0]}],
                  "b2").json() == {"accepted": True}
    refused = report(hq, token, [{"hour": later, "taken": 1, "resolved": 2}], "b3")
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "hours"
    assert "taken 3" in refused.json()["error"]["message"]
    figures = stores(hq, admin, days=30)["oslo"]["figures"]
    assert (figures["prompts_made"], figures["taken"], figures["resolved"]) == (2, 2, 1)
    # The refused batch kept nothing: its id is free, and the totals it would have made are not.
    assert report(hq, token, [{"hour": later, "resolved": 1}], "b3").json() == {"accepted": True}


def test_a_batch_id_is_each_store_s_own(hq, admin):
    oslo, bergen = hq.create_token("store", "oslo"), hq.create_token("store", "bergen")
    assert report(hq, bergen, [{"hour": HOUR, "made": {"service:murdoch": 5}}], "batch-1").json() == {"accepted": True}
    assert report(hq, oslo, [{"hour": HOUR, "made": {"service:murdoch": 2}}], "batch-1").json() == {"accepted": True}
    assert report(hq, oslo, [{"hour": HOUR, "made": {"service:murdoch": 2}}], "batch-1").json() == {"accepted": False}
    view = stores(hq, admin, days=30)
    assert (view["oslo"]["figures"]["prompts_made"], view["bergen"]["figures"]["prompts_made"]) == (2, 5)


def test_chart_gives_one_value_per_store_per_day(hq, admin):
    token = hq.create_token("store", "oslo")
    hq.test_clock.now = 1_795_428_000.0 + 3600
    report(hq, token, [hour(HOUR, times_to_act_s=[40.0])])
    response = requests.get(hq.server.url + "/hq/v1/chart?figure=prompts_made&days=3", headers=auth(admin))
    chart = response.json()
    # Days before the store existed (its first report, here) are not drawn as zeros.
    assert len(chart["days"]) == 3 and chart["stores"]["oslo"][-1] == 3 and chart["stores"]["oslo"][:2] == [None, None]
    medians = requests.get(hq.server.url + "/hq/v1/chart?figure=median_time_to_act_s&days=2",
                           headers=auth(admin)).json()
    assert medians["stores"]["oslo"] == [None, 40.0]
    bad = requests.get(hq.server.url + "/hq/v1/chart?figure=nonsense", headers=auth(admin))
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "figure"


def test_an_admin_publishes_a_list_by_upload(hq, admin):
    url = hq.server.url + "/hq/v1/imports"
    published = requests.post(url, data=tier_csv().encode(), timeout=10,
                              headers={**auth(admin), "Content-Type": "text/csv"})
    assert published.status_code == 200 and published.json()["version"] == 1 and published.json()["rows"] == 4
    bad_rows = TIER_ROWS + [["email", "not-an-email", "10", "1%", "", "yes"], ["phone", "+47", "x", "1%", "", "yes"]]
    refused = requests.post(url, data=tier_csv(bad_rows).encode(), headers={**auth(admin), "Content-Type": "text/csv"})
    error = refused.json()["error"]
    assert refused.status_code == 422 and error["code"] == "import_refused"
    assert [p["line"] for p in error["problems"]] == [7, 8]
    assert hq.latest()["version"] == 1  # refused whole: no new version
    store = hq.create_token("store", "oslo")
    assert requests.post(url, data=b"x", headers={**auth(store), "Content-Type": "text/csv"}).status_code == 403
    assert requests.post(url, json={"x": 1}, headers=auth(admin)).status_code == 415


@pytest.mark.browser
def test_hq_page_shows_stores_chart_and_publishes(hq, admin, open_page, tmp_path, output_dir):
    hq.test_clock.now = 1_795_428_000.0 + 3600
    oslo = hq.create_token("store", "oslo")
    hq.create_token("store", "bergen")  # never synced: stands out as stale
    hq.import_csv(io.StringIO(tier_csv()))
    fetch_manifest(hq, oslo, version=1)
    report(hq, oslo, [hour(HOUR, **FOUR_TAKEN_OF_SIX, pain_durations_s=[300.0])])
    page = open_page(hq.server, "/hq", admin, {"width": 1280, "height": 900})
    page.wait_for_selector("tr[data-store='oslo']")
    assert page.locator("tr.stale").count() == 1 and page.get_attribute("tr.stale", "data-store") == "bergen"
    cells = page.locator("tr[data-store='oslo'] td").all_text_contents()
    assert cells[0] == "1" and cells[2] == "6" and cells[5] == "50 s"  # the median, not the mean
    assert cells[4] == "67%" and cells[7] == "5 min"
    page.wait_for_selector("#chart [data-store='oslo']", state="attached")  # one day: a dot
    page.select_option("#figure", "reach_served_murdoch")
    page.wait_for_selector("#chart .tick:has-text('500')", state="attached")
    page.screenshot(path=str(output_dir / "hq.png"), full_page=True)
    csv_file = tmp_path / "next.csv"
    csv_file.write_text(tier_csv(TIER_ROWS[:2]))
    page.set_input_files("#file", str(csv_file))
    page.click("#upload button")
    page.wait_for_selector("#upload-result:has-text('version 2')")
    assert hq.latest()["version"] == 2
    page.wait_for_selector("tr[data-store='oslo'] .badge-behind")
    csv_file.write_text(tier_csv([["email", "bad", "1", "1%", "", "yes"]]))
    page.set_input_files("#file", str(csv_file))
    page.click("#upload button")
    page.wait_for_selector("#upload-problems li:has-text('Line 2')")
    assert hq.latest()["version"] == 2


def test_each_database_holds_only_its_own_tables(tmp_path, hq, store):
    """Head office's database (hq.db or PostgreSQL) gets head office's schema
    and nothing of the store's, and the other way round."""
    import sqlalchemy
    import sqlite_utils

    from posplugin.hq.schema import metadata

    hq_tables = set(sqlalchemy.inspect(hq.engine).get_table_names())
    store_tables = set(sqlite_utils.Database(store.settings.db_path).table_names()) - {"migrations"}
    assert {"versions", "hq_tokens", "reports", "store_hours"} <= hq_tables
    assert {"tokens", "prompts", "visits", "outbox", "lanes"} <= store_tables
    assert not hq_tables & store_tables
    assert hq_tables == set(metadata.tables) | {"alembic_version"}  # and its schema's revision


@pytest.mark.parametrize("hour", [
    {"taken": 9223372036854775807},             # SQLite's largest integer: its sum() overflows
    {"taken": 10**30},                          # past any integer type
    {"reach_served": {"murdoch": 10**19}},
    {"times_to_act_s": [1e308]},
    {"made": {"x" * 5000: 1}},
])
def test_a_store_cannot_send_figures_that_break_the_dashboard(hq, hour):
    """Every figure is bounded by the schema (422); /stores and /chart keep answering."""
    token = hq.create_token("store", "evil")
    admin = hq.create_token("admin", "boss")
    body = {"batch": "evil-1", "hours": [{"hour": "2026-11-27T10:00:00Z", **hour}]}
    answer = requests.post(hq.server.url + "/hq/v1/reports", json=body, timeout=10,
                           headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"]
    for path in ("/hq/v1/stores", "/hq/v1/chart?figure=prompts_taken"):
        assert requests.get(hq.server.url + path, timeout=10,
                            headers={"Authorization": f"Bearer {admin}"}).status_code == 200


def test_each_route_has_the_body_limit_it_needs(hq):
    """A store's token cannot send head office a huge report (chunked, so no
    length to refuse up front): 413 once past the reports' limit."""
    token = hq.create_token("store", "big")

    def chunks():
        yield b'{"batch": "b", "hours": [], "pad": "'
        for _ in range(12 * 1024):
            yield b"x" * 1024
        yield b'"}'

    answer = requests.post(hq.server.url + "/hq/v1/reports", data=chunks(), timeout=30,
                           headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("name", ["x" * 5000 + ".tsv", "..%2Fhq.db", ".hidden.tsv", "a b.tsv"])
def test_feed_file_names_that_are_not_body_names_are_404(hq, name):
    token = hq.create_token("store", "s1")
    answer = requests.get(f"{hq.server.url}/hq/v1/feed/{name}", timeout=10,
                          headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("how", ["days superscript", "days 5000 digits", "version header superscript",
                                 "report surrogate bytes", "report nested deep"])
def test_bad_input_at_head_office_is_4xx_never_500(hq, how):
    store = {"Authorization": f"Bearer {hq.create_token('store', 's-' + how.split()[0])}"}
    admin = {"Authorization": f"Bearer {hq.create_token('admin', 'a-' + how.split()[0])}"}
    url = hq.server.url
    if how == "days superscript":
        answer = requests.get(url + "/hq/v1/stores?days=²", headers=admin, timeout=10)
    elif how == "days 5000 digits":
        answer = requests.get(url + "/hq/v1/chart?days=" + "9" * 5000, headers=admin, timeout=10)
    elif how == "version header superscript":
        answer = requests.get(url + "/hq/v1/feed/manifest.json", timeout=10,
                              headers={**store, feed.LIST_VERSION_HEADER: "²".encode()})
        assert answer.status_code == 200
        return
    else:
        body = (b'{"batch": "b\xed\xa0\x80", "hours": []}' if how == "report surrogate bytes"
                else b'{"batch": "b", "hours": ' + b"[" * 20_000 + b"]" * 20_000 + b"}")
        answer = requests.post(url + "/hq/v1/reports", data=body, timeout=10,
                               headers={**store, "Content-Type": "application/json"})
    assert 400 <= answer.status_code < 500, answer.text[:200]
    assert answer.json()["error"]["code"]
HQ_SIZES = {"desktop": {"width": 1024, "height": 768}}


@pytest.fixture(params=["en", "nb"])
def busy_hq(request, tmp_path):
    """A head office in ``language`` with six stores (long names), one of which reported."""
    from helpers import ID_KEY, Clock

    from posplugin.hq.office import HeadOffice
    from posplugin.hq.web.app import create_hq_app
    from posplugin.web.server import BackgroundServer

    clock = Clock()
    clock.now = 1_795_428_000.0 + 3600
    office = HeadOffice(tmp_path / "hq", ID_KEY, default_region="NO", clock=clock)
    office.server = BackgroundServer(create_hq_app(office, language=request.param)).start()
    office.language = request.param
    office.import_csv(io.StringIO(tier_csv()))
    tokens = {name: office.create_token("store", name) for name in
              ("oslo-storgata-flagship", "bergen-bryggen", "trondheim-solsiden", "stavanger-sentrum",
               "tromso-nerstranda", "kristiansand-markens")}
    for token in list(tokens.values())[:4]:
        fetch_manifest(office, token, version=1)
    report(office, tokens["oslo-storgata-flagship"], [hour(HOUR, **FOUR_TAKEN_OF_SIX)])
    # Proof to show: an experiment with a clear uplift and one too short to tell.
    office.experiments.start("spring", 0.2)
    cells = [("murdoch", "served", 8000, 3300), ("murdoch", "holdout", 2000, 600),
             ("priority", "served", 40, 12), ("priority", "holdout", 10, 3)]
    requests.post(office.server.url + "/hq/v1/reports", headers=auth(tokens["bergen-bryggen"]), timeout=5,
                  json={"batch": "arms-1", "hours": [], "arms": [
                      {"experiment": "spring", "level": level, "arm": arm, "metric": "return_7", "n": n,
                       "sum": k, "sum_sq": k} for level, arm, n, k in cells]}).raise_for_status()
    for _ in range(6):  # versions enough that the page shows the last few and a count
        office.import_csv(io.StringIO(tier_csv()))
    yield office
    office.server.stop()
    office.close()


@pytest.mark.browser
def test_hq_page_fits_and_reads_at_a_glance_at_every_screen(busy_hq, open_page, output_dir):
    admin_token = busy_hq.create_token("admin", "ops")
    page = open_page(busy_hq.server, "/hq", admin_token, SCREENS["1366x768"])
    page.wait_for_selector("tr[data-store='oslo-storgata-flagship']")
    page.wait_for_selector("#uplift tr[data-level='murdoch']")
    page.wait_for_selector("#chart polyline, #chart circle", state="attached")
    assert page.text_content("#totals [data-total='taken_rate'] dd") in ("67%", "67 %")
    assert page.text_content("#totals [data-total='stores'] dd") == "6"
    # The last five versions, newest first, and a count of the earlier ones.
    assert page.locator("#versions li").count() == 5
    assert page.text_content("#versions-more") == {"en": "… and 2 earlier versions",
                                                   "nb": "… og 2 tidligere versjoner"}[busy_hq.language]
    text = page.inner_text("body")
    assert re.search(DATE[busy_hq.language], page.inner_text("#versions"))
    assert not re.search(OTHER_DATES, text), re.search(OTHER_DATES, text)
    for viewport in each_screen(page, output_dir, f"hq-{busy_hq.language}", full_page=True):
        no_horizontal_overflow(page, viewport)
        main = page.locator("main").bounding_box()
        for table in ("#stores", "#uplift", "#metrics"):
            # Every column inside the window: the Proof table's verdict too.
            box = page.locator(table).bounding_box()
            assert box["x"] + box["width"] <= viewport["width"] + 0.5, (table, viewport, box)
            assert page.eval_on_selector(table, "t => t.scrollWidth <= t.parentElement.clientWidth + 1"), table
        cards = viewport["width"] <= 860
        shown = page.eval_on_selector("#uplift tbody tr", "r => getComputedStyle(r).display")
        assert (shown == "block") == cards, (viewport, shown)
        if cards:  # each row a card, each value beside its heading
            cell = page.locator("#uplift tr[data-level='murdoch'] td.verdict")
            assert page.eval_on_selector("#uplift tr[data-level='murdoch'] td.verdict",
                                         "td => getComputedStyle(td, '::before').content").strip('"')
            assert cell.bounding_box()["width"] >= viewport["width"] * 0.6
        chart = page.locator("#chart").bounding_box()
        assert chart["width"] >= min(main["width"] - 40, 860), (viewport, chart, main)
        # Measured in one step in the page: the chart is redrawn (its ticks replaced) after a resize.
        tick = page.wait_for_function("() => { const t = document.querySelector('#chart .tick');"
                                      " return t && t.getBoundingClientRect().height; }").json_value()
        assert tick >= 10, f"the chart's axis words are {tick} px high"
        for selector in ("#export", "#upload button", "#days", "#figure"):
            page.locator(selector).scroll_into_view_if_needed()
            box = page.locator(selector).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], (selector, box)
        page.evaluate("window.scrollTo(0, 0)")
    if busy_hq.language == "nb":
        assert english_left_over(page.inner_text("body"), english_only_words()) == []
    assert page.errors == []


@pytest.mark.browser
def test_hq_chart_follows_the_period_and_shows_a_day_by_the_hour(busy_hq, open_page, tmp_path):
    admin_token = busy_hq.create_token("admin", "ops")
    page = open_page(busy_hq.server, "/hq", admin_token, HQ_SIZES["desktop"])
    page.wait_for_selector("#chart .day", state="attached")
    page.select_option("#days", "30")
    page.wait_for_function("() => document.querySelector('#h-chart').textContent.includes('30')")
    labels = page.locator("#chart .day").all_text_contents()
    day, date = {"en": ("23 Nov", "23 Nov 2026"), "nb": ("23. nov.", "23. nov. 2026")}[busy_hq.language]
    assert labels[-1] == day and len(labels) <= 13  # the catalogue's day, without the year
    page.select_option("#view", "hours")
    page.fill("#day", "2026-11-23")
    page.dispatch_event("#day", "change")
    page.wait_for_function(f"() => document.querySelector('#h-chart').textContent.includes('{date}')")
    assert page.locator("#chart .day").first.text_content() == "00"
    with page.expect_download() as download:
        page.click("#export")
    saved = tmp_path / "stores.csv"
    download.value.save_as(saved)
    text = saved.read_text()
    assert text.startswith("store,list_version") and "oslo-storgata-flagship" in text
    # Times in a CSV are ISO 8601, whatever the page's language.
    import csv
    synced = [row["last_sync_at"] for row in csv.DictReader(io.StringIO(text)) if row["last_sync_at"]]
    assert synced and all(re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", t)
                          for t in synced), synced


def test_imports_wait_for_each_other_across_processes(hq, migrated_hq_url):
    """The import lock is the database's (an advisory lock on PostgreSQL, a file
    lock beside hq.db): a second head office on the same data waits for it,
    then publishes the next version instead of colliding on the same one."""
    import threading

    from helpers import ID_KEY

    from posplugin.hq.db import process_lock
    from posplugin.hq.office import HeadOffice

    other = HeadOffice(hq.data_dir, ID_KEY, default_region="NO", database_url=migrated_hq_url)
    results = []
    try:
        with process_lock(hq.engine, "import", hq.data_dir):
            worker = threading.Thread(target=lambda: results.append(other.import_csv(io.StringIO(tier_csv()))))
            worker.start()
            worker.join(timeout=0.5)
            assert worker.is_alive() and not results  # waiting on the lock
            assert hq.latest() is None
        worker.join(timeout=30)
        assert results and results[0]["version"] == 1
        assert hq.import_csv(io.StringIO(tier_csv(TIER_ROWS[:2])))["version"] == 2
    finally:
        other.close()


def test_a_report_with_negative_durations_is_accepted_as_zero(hq):
    """A store whose clock stepped back and that does not clamp (an older
    version): head office takes the batch, counting the durations as 0."""
    token = hq.create_token("store", "old-store")
    body = {"batch": "clock-1", "hours": [{"hour": "2026-11-27T10:00:00Z", "made": {"service:priority": 1},
                                          "taken": 1, "acted": 1,
                                          "time_to_act_s": -120.0, "times_to_act_s": [-120.0]}]}
    answer = requests.post(hq.server.url + "/hq/v1/reports", json=body, timeout=10,
                           headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.json()["accepted"] is True
