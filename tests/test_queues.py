"""Queues over whole simulated days with a clock the test controls: history,
a rush, recovery; the pain prompts raised, updated and closed."""

import datetime as dt
import io
import itertools
import time
import zoneinfo

import pytest
from helpers import Clock, hold_writes
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from posplugin.errors import ImportRefused, ValidationError
from posplugin.store.queues import WAIT_GRACE_S
from posplugin.store.service import Store

OSLO = zoneinfo.ZoneInfo("Europe/Oslo")
LANES = itertools.count(1)


def local(day: str, hhmm: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hhmm}:00").replace(tzinfo=OSLO)


@pytest.fixture
def day(settings, loaded_store):
    """A store on Tuesday 2026-11-24 09:00 in Oslo, with the small tier list."""
    loaded_store.close()
    clock = Clock(local("2026-11-24", "09:00"))
    store = Store(settings.replace(pain_calm_s=300, baseline_min_samples=12), clock=clock)
    yield store, clock
    store.close()


def backfill(store, weeks, pattern):
    """Minute readings for ``weeks`` past weeks: ``pattern(weekday, hour) -> length``."""
    now = dt.datetime.fromtimestamp(store.clock(), OSLO)
    lines = ["lane,at,length"]
    for lane in ("1", "2"):
        for d in range(1, weeks * 7 + 1):
            date = now - dt.timedelta(days=d)
            for hour in range(8, 21):
                for minute in range(0, 60, 5):
                    at = date.replace(hour=hour, minute=minute, second=0)
                    lines.append(f"{lane},{at.isoformat()},{pattern(at.weekday(), hour)}")
    return store.queues.import_csv(io.StringIO("\n".join(lines) + "\n"))


def saturday_noon_rush(weekday, hour):
    return 8 if weekday == 5 and hour == 12 else 2


def test_normal_is_learned_per_hour_of_week(day):
    store, clock = day
    assert backfill(store, 4, saturday_noon_rush) > 0
    tuesday_ten = local("2026-11-24", "10:30").timestamp()
    saturday_noon = local("2026-11-28", "12:30").timestamp()
    assert store.queues.normal("1", tuesday_ten) == 2
    assert store.queues.normal("1", saturday_noon) == 8
    # The same 8 is long on Tuesday at ten and normal on Saturday at noon.
    clock.now = tuesday_ten
    assert store.queues.reading("1", 8)["status"] == "long"
    clock.now = saturday_noon
    assert store.queues.reading("2", 8)["status"] == "ok"


def test_normal_falls_back_to_other_lanes_then_default(day):
    store, clock = day
    assert store.queues.normal("1", clock.now) == store.settings.queue_default_normal
    backfill(store, 2, lambda w, h: 4)
    assert store.queues.normal("9", clock.now) == 4  # lane 9 has no history: the store's


def test_a_burst_or_broken_sensor_barely_moves_normal(day):
    store, clock = day
    backfill(store, 3, lambda w, h: 3)
    # One morning of a stuck sensor reporting 500 at lane 1, two weeks ago.
    stuck = dt.datetime.fromtimestamp(clock.now, OSLO) - dt.timedelta(days=14)
    rows = "\n".join(f"1,{stuck.replace(minute=m).isoformat()},500" for m in range(0, 60, 5))
    store.queues.import_csv(io.StringIO("lane,at,length\n" + rows + "\n"))
    assert store.queues.normal("1", clock.now) == 3


def test_rush_raises_one_prompt_updates_it_and_recovery_closes_it(day):
    store, clock = day
    backfill(store, 2, lambda w, h: 2)
    with store.bus.subscribe() as events:
        answers = []
        for length in (2, 3, 7, 6, 8, 7):  # the rush: busy, then long and wobbling
            answers.append(store.queues.reading("2", length))
            clock.advance(60)
        assert [a["status"] for a in answers] == ["ok", "busy", "long", "long", "long", "long"]
        pain = answers[2]["prompt"]
        assert pain["kind"] == "pain" and pain["lane"] == "2"
        assert {a["prompt"]["id"] for a in answers[2:]} == {pain["id"]}
        assert "8 waiting at lane 2" in answers[4]["prompt"]["body"]
        assert "normal now: 2" in answers[4]["prompt"]["body"]
        assert "Open another till" in pain["body"]
        # Recovery that wobbles: back to normal, a blip above, then calm.
        for length in (2, 1, 4, 2, 2, 1, 2, 2, 1, 2):
            answer = store.queues.reading("2", length)
            clock.advance(60)
        prompt_events = []
        while (e := events.get(timeout=0)) is not None:
            if e.kind == "prompt":
                prompt_events.append(e.data)
    closed = store.list_prompts(status="resolved")
    assert [p["id"] for p in closed] == [pain["id"]]
    assert closed[0]["resolved_by"] == "posplugin" and closed[0]["note"] == "lane back to normal"
    assert answer["prompt"] is None
    assert prompt_events[0]["status"] == "open" and prompt_events[-1]["status"] == "resolved"
    assert len(store.list_prompts()) == 1  # one episode, one prompt


def test_a_rewritten_pain_prompt_is_what_staff_list_take_and_close(day):
    """A long lane's new figures reach the prompt without a commit of their
    own (the group writer lands them): what staff list, take and close says
    what the lane's last reading said, in the database too."""
    store, clock = day
    pain = store.queues.reading("1", 9)["prompt"]
    clock.advance(30)
    rewritten = store.queues.reading("1", 12)["prompt"]
    assert rewritten["id"] == pain["id"] and "12 waiting" in rewritten["body"]
    (listed,) = store.list_prompts()
    assert listed == rewritten
    clock.advance(30)
    store.queues.reading("1", 14)
    taken = store.ack(pain["id"], "Ana")
    assert "14 waiting" in taken["body"] and taken["status"] == "taken"
    store.close()
    reopened = Store(store.settings, clock=clock)
    try:
        assert reopened.list_prompts() == [taken]
    finally:
        reopened.close()


def test_a_long_lane_s_new_figures_wait_out_a_full_disk(day, full_disk):
    """The disk fills while a lane is long: readings still answer with the
    lane's new figures, and the prompt is written with them once there is room."""
    store, clock = day
    pain = store.queues.reading("1", 9)["prompt"]
    disk = full_disk(store.db)
    clock.advance(30)
    answer = store.queues.reading("1", 12)
    assert answer["prompt"]["id"] == pain["id"] and "12 waiting" in answer["prompt"]["body"]
    store.db.flush()  # tried, refused by the disk
    assert store.db.deferred.waiting  # and kept in memory, not lost
    disk.room()
    deadline = time.monotonic() + 5
    while store.db.deferred.waiting and time.monotonic() < deadline:
        store.db.flush()
    (listed,) = store.list_prompts()
    assert "12 waiting" in listed["body"] and listed["id"] == pain["id"]


def test_figures_written_after_their_prompt_closed_change_nothing(store):
    """A rewrite waiting in the group writer when staff close the prompt leaves it as it was closed."""
    from posplugin.store import prompts

    with store.db.write() as conn:
        made = prompts.create(conn, prompts.next_id(store.db), kind="pain", level="urgent", lane="1",
                              title="Lane 1 is long", body="9 waiting", now=1000.0, details={"queue": {}})
    statements, _ = prompts.rewrite(made, title="Lane 1 is long", body="12 waiting", level="priority",
                                    details={"queue": {"length": 12}}, now=1001.0)
    closed = store.resolve(made["id"], "Ana", "opened lane 3")
    with store.db.write() as conn:
        for sql, params in statements:
            conn.execute(sql, params)
    (after,) = store.list_prompts(status="resolved")
    assert (after["body"], after["level"], after["updated_at"]) == (closed["body"], "urgent", closed["updated_at"])


def test_no_prompt_flapping_around_the_threshold(day):
    store, clock = day
    backfill(store, 2, lambda w, h: 4)  # long from max(6, 6) = 6
    for length in (6, 5, 6, 5, 6, 5, 6, 5, 6):
        store.queues.reading("1", length)
        clock.advance(30)
    assert len(store.list_prompts()) == 1


def test_staff_resolving_it_early_is_respected_until_the_lane_calms(day):
    store, clock = day
    pain = store.queues.reading("1", 9)["prompt"]
    store.resolve(pain["id"], "Ana", "opened lane 3")
    clock.advance(60)
    assert store.queues.reading("1", 9)["prompt"] is None  # no nagging during the same episode
    for _ in range(7):
        store.queues.reading("1", 0)
        clock.advance(60)
    assert store.queues.reading("1", 9)["prompt"]["id"] != pain["id"]  # a new episode


def test_calm_lane_closes_its_prompt_on_tick_without_new_readings(day):
    store, clock = day
    pain = store.queues.event("1", "join")  # length 1: ok
    for _ in range(8):
        pain = store.queues.event("1", "join")
    assert pain["status"] == "long"
    for _ in range(9):
        store.queues.event("1", "served")
    clock.advance(301)
    assert store.tick()["calmed"] == 1
    assert store.list_prompts(status="open") == []


def test_back_filled_readings_raise_nothing(day):
    store, clock = day
    old = dt.datetime.fromtimestamp(clock.now - 600, OSLO).isoformat()
    answer = store.queues.reading("1", 50, at=old)
    assert answer["prompt"] is None and answer["history"] is True and answer["status"] == "long"
    assert store.list_prompts() == []
    assert store.queues.overview()["lanes"] == []


@pytest.mark.parametrize("at,field", [("yesterday", "at"), ("2026-11-24T09:00:00", "at"),
                                      ("2099-01-01T00:00:00Z", "at")])
def test_bad_times_are_refused(day, at, field):
    store, _ = day
    with pytest.raises(ValidationError) as info:
        store.queues.reading("1", 3, at=at)
    assert info.value.field == field


def test_events_move_the_length_and_open_state(day):
    store, _ = day
    for event in ("join", "join", "join", "leave", "served"):
        answer = store.queues.event("4", event)
    assert answer["length"] == 1
    assert store.queues.event("4", "close")["open"] is False
    assert store.queues.event("4", "served")["length"] == 0
    assert store.queues.event("4", "leave")["length"] == 0  # never below zero


def test_service_time_is_learned_from_served_events(day):
    store, clock = day
    for _ in range(12):
        store.queues.event("1", "join")
    for _ in range(8):
        clock.advance(40)
        store.queues.event("1", "served")
    assert store.queues.service_time("1") == 40
    assert store.queues.overview()["lanes"][0]["wait_s"] == 4 * 40


def test_waiting_reach_counts_customers_identified_in_the_queue(day):
    store, clock = day
    store.identify("2", "phone", "+4741234567", stage="queue")      # 260 engaged
    store.identify("2", "handle", "bigben", stage="queue")           # 10,000 engaged
    store.identify("2", "email", "nobody@example.com", stage="queue")
    overview = store.queues.overview()
    assert overview["waiting_reach"] == 10_260
    for _ in range(7):
        store.queues.event("2", "join")
    pain = store.queues.reading("2", 7)["prompt"]
    assert "2 known influencers waiting, 10,260 engaged followers between them" in pain["body"]
    assert pain["level"] == "urgent"
    store.identify("2", "handle", "@BigBen")  # at the till now: no longer waiting
    store.queues.event("2", "served")          # the oldest waiting one is served
    assert store.queues.overview()["waiting_reach"] == 0


def identified_in_queue(store, lane, *who):
    for kind, value in who:
        store.identify(lane, kind, value, stage="queue")


def test_a_queue_counted_shorter_than_those_identified_in_it_loses_the_longest_waiting(day):
    """The queue system says one is waiting where three were identified a while
    ago: the two who came first have gone, and stay gone when the queue grows."""
    store, clock = day
    identified_in_queue(store, "2", ("email", "nobody@example.com"), ("phone", "+4741234567"),
                        ("handle", "bigben"))                           # 0, 260 and 10,000 engaged
    clock.advance(WAIT_GRACE_S + 1)
    store.queues.reading("2", 1)
    assert store.queues.overview()["waiting_reach"] == 10_000
    for _ in range(7):
        store.queues.event("2", "join")                                 # others join: nobody comes back
    store.queues.reading("2", 9)
    assert store.queues.overview()["waiting_reach"] == 10_000
    pain = store.queues.reading("2", 10)["prompt"]
    assert "1 known influencer waiting" in pain["body"] and "10,000" in pain["body"]


@pytest.mark.parametrize("length", [3, 4, 10])
def test_a_queue_counted_as_long_as_those_identified_in_it_or_longer_ends_no_wait(day, length):
    store, clock = day
    identified_in_queue(store, "2", ("phone", "+4741234567"), ("handle", "bigben"),
                        ("email", "nobody@example.com"))                # 260, 10,000 and 0 engaged
    clock.advance(WAIT_GRACE_S + 1)
    store.queues.reading("2", length)
    assert store.queues.overview()["waiting_reach"] == 10_260
    assert len(store.visits.waiting_customers()) == 3
    store.queues.reading("2", 2)                                        # now the first has gone
    assert store.queues.overview()["waiting_reach"] == 10_000
    assert len(store.visits.waiting_customers()) == 2


def test_customers_just_identified_in_a_queue_wait_for_its_count_to_catch_up(day):
    """A ticket may identify a customer before the queue system counts them:
    the lane's reach follows its count, and the young waits are kept for it."""
    store, clock = day
    store.queues.reading("2", 0)
    identified_in_queue(store, "2", ("phone", "+4741234567"), ("handle", "bigben"))
    store.queues.reading("2", 0)
    assert store.queues.overview()["waiting_reach"] == 0           # the count says nobody waits
    store.queues.reading("2", 1)
    assert store.queues.overview()["waiting_reach"] == 10_000      # the newest first
    store.queues.reading("2", 2)
    assert store.queues.overview()["waiting_reach"] == 10_260
    store.queues.reading("2", 0)
    clock.advance(WAIT_GRACE_S + 1)
    store.queues.reading("2", 0)
    store.queues.reading("2", 2)
    assert store.queues.overview()["waiting_reach"] == 0           # gone, and they stay gone


def test_customers_identified_at_a_lane_no_queue_system_counts_all_count(day):
    store, clock = day
    identified_in_queue(store, "7", ("phone", "+4741234567"), ("handle", "bigben"))
    clock.advance(WAIT_GRACE_S + 1)
    assert store.queues.overview()["waiting_reach"] == 10_260
    assert [lane["lane"] for lane in store.queues.overview()["lanes"]] == []


STEPS = st.lists(st.one_of(
    st.tuples(st.just("identify"), st.integers(1, 3)),
    st.tuples(st.just("wait"), st.floats(0, 3 * WAIT_GRACE_S)),
    st.tuples(st.just("reading"), st.integers(0, 8)),
    st.tuples(st.sampled_from(["join", "leave", "served"]), st.just(0))), max_size=25)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_waits_end_first_come_first_gone_only_when_the_queue_has_no_room(day, steps):
    """Whatever the order of tickets, readings and events, after each count:
    the waits older than the grace are no more than the queue has room for
    beside the young ones; no more end than that (or one more, served); and
    every wait ended is older than every wait kept."""
    store, clock = day
    lane = f"p{next(LANES)}"   # a lane of its own per example

    def waits():
        store.db.flush()       # served and ended waits land through the group writer
        return store.visits.waiting(store.db.conn, clock() - store.settings.waiting_max_s).get(lane, ())

    customers = 0
    for step, value in steps:
        if step == "identify":
            for _ in range(value):
                customers += 1
                store.identify(lane, "email", f"{lane}-{customers}@example.com", stage="queue")
        elif step == "wait":
            clock.advance(value)
        else:
            before = len(waits())
            length = (store.queues.reading(lane, value) if step == "reading" else store.queues.event(lane, step))["length"]
            kept = waits()
            young = [w for w in kept if w.at >= clock() - WAIT_GRACE_S]
            assert len(kept) - len(young) <= max(0, length - len(young))
            assert len(kept) >= min(before - (step == "served"), length)
    ended = [at for at, in store.db.conn.execute(
        "SELECT at FROM visits WHERE lane = ? AND stage = 'queue' AND left_at IS NOT NULL", (lane,))]
    kept = waits()
    assert not kept or not ended or max(ended) <= min(w.at for w in kept)


def test_recommendation_uses_erlang_c_with_arrivals(day):
    store, clock = day
    for lane in ("1", "2", "3"):
        store.queues.event(lane, "open")
    store.queues.event("3", "close")
    for i in range(30):  # 30 joins and services over 15 minutes at two open lanes
        store.queues.event("1" if i % 2 else "2", "join")
        clock.advance(30)
    for lane in ("1", "2"):
        for _ in range(6):
            store.queues.event(lane, "served")
    overview = store.queues.overview()
    rec = overview["recommendation"]
    assert rec["open_lanes"] >= 1
    assert "arrivals an hour" in rec["reason"] and "open" in rec["reason"]


def test_recommendation_is_zero_when_nobody_waits(day):
    store, _ = day
    store.queues.reading("1", 0)
    rec = store.queues.overview()["recommendation"]
    assert (rec["open_lanes"], rec["reason"]) == (0, "No one is waiting.")


def test_import_refuses_bad_rows_with_line_numbers_and_loads_nothing(day):
    store, _ = day
    text = ("lane,at,length\n1,2026-11-01T10:00:00Z,3\n1,not-a-time,3\n2,2026-11-01T10:00:00Z,-1\n"
            "bad lane!,2026-11-01T10:00:00Z,1\n3,2099-01-01T00:00:00Z,1\n")
    with pytest.raises(ImportRefused) as info:
        store.queues.import_csv(io.StringIO(text))
    assert [line for line, _ in info.value.problems] == [3, 4, 5, 6]
    assert not store.queues.has_history()


def test_painpoints_become_prompts(day):
    store, _ = day
    prompt = store.report_painpoint("instructions", "3", "self-checkout sign says 'insert card' twice", "Ana")
    assert prompt["kind"] == "pain" and prompt["level"] == "priority" and prompt["lane"] == "3"
    assert "Ana" in prompt["body"] and "insert card" in prompt["body"]
    assert store.report_painpoint("staff")["level"] == "urgent"


def test_history_sent_through_the_api_never_poisons_the_baseline(day):
    """A lane always at 8 on Tuesdays at 09: history for it arrives as readings
    (POST /api/v1/queue with an old ``at``) just before live ones. The live 9
    is busy, not long, and raises no pain prompt: the default normal computed
    before the history was written is never cached."""
    store, clock = day
    for week in range(1, 4):
        for minute in range(0, 60, 5):
            at = dt.datetime.fromtimestamp(clock.now, OSLO) - dt.timedelta(weeks=week) + dt.timedelta(minutes=minute)
            store.queues.reading("1", 8, at.isoformat())
    answer = store.queues.reading("1", 9)
    assert answer["normal"] == 8.0
    assert answer["status"] == "busy" and answer["prompt"] is None


def test_queues_import_refuses_times_out_of_range_with_their_line(day):
    store, _ = day
    text = "lane,at,length\n1,2026-11-17T09:00:00+01:00,3\n1,0001-01-01T00:30:00+01:00,4\n"
    with pytest.raises(ImportRefused) as refused:
        store.queues.import_csv(io.StringIO(text))
    assert [line for line, _ in refused.value.problems] == [3]
def test_recommendation_quotes_the_longest_lane_wait_its_tile_shows(day):
    store, _ = day
    for lane, length in (("1", 2), ("2", 9), ("3", 4)):
        store.queues.reading(lane, length)
    overview = store.queues.overview()
    tiles = {l["lane"]: l for l in overview["lanes"]}
    rec = overview["recommendation"]
    assert rec["longest_wait"] == {"lane": "2", "wait_s": tiles["2"]["wait_s"]}
    minutes = round(tiles["2"]["wait_s"] / 60)
    assert "15 waiting" in rec["reason"] and f"about {minutes} minutes (lane 2)" in rec["reason"]
    assert "under a minute" not in rec["reason"]


def test_pain_title_says_long_only_while_the_lane_is_long(day):
    store, clock = day
    raised = store.queues.reading("2", 9)
    assert raised["status"] == "long" and raised["prompt"]["title"].startswith("Long queue at lane 2")
    clock.advance(30)
    busy = store.queues.reading("2", 4)
    assert busy["status"] == "busy"
    assert busy["prompt"]["title"] == "Queue above normal at lane 2: 4 waiting"


def test_a_lane_back_to_normal_says_so_calmly_and_asks_nothing(day):
    store, clock = day
    raised = store.queues.reading("2", 9)["prompt"]
    assert raised["level"] == "urgent" and "Open another till" in raised["body"]
    clock.advance(60)
    calm = store.queues.reading("2", 2)
    assert calm["status"] == "ok"
    prompt = calm["prompt"]
    assert prompt["id"] == raised["id"] and prompt["status"] == "open"
    assert prompt["level"] == "standard" and prompt["queue"]["calm"] is True
    assert prompt["title"] == "Back to normal at lane 2: 2 waiting"
    assert "went back to normal" in prompt["body"] and "Open another till" not in prompt["body"]
    clock.advance(200)
    assert store.tick() == {"expired": 0, "escalated": 0, "calmed": 0}  # calm is never escalated
    again = store.queues.reading("2", 9)["prompt"]
    assert again["id"] == raised["id"] and again["level"] == "urgent" and "calm" not in again["queue"]
    store.queues.reading("2", 1)
    clock.advance(301)
    assert store.tick()["calmed"] == 1
    assert store.list_prompts(status="open") == []


def test_a_lane_raised_while_its_calm_readings_wait_in_the_group_writer_stays_raised(day):
    """A calm reading's state waits in the group writer; the reading that
    raises the lane's pain prompt commits at once. The calm one must not land
    after it: the lane would be stored calm, without its prompt, and a
    restart would raise a second prompt for the same queue."""
    store, clock = day
    hold_writes(store.db)
    store.queues.reading("1", 1)
    clock.advance(5)
    pain = store.queues.reading("1", 15)["prompt"]
    store.close()  # lands what still waits
    reopened = Store(store.settings, clock=clock)
    try:
        (lane,) = [l for l in reopened.queues.overview()["lanes"] if l["lane"] == "1"]
        assert (lane["length"], lane["status"], lane["pain_prompt_id"]) == (15, "long", pain["id"])
        clock.advance(5)
        assert reopened.queues.reading("1", 16)["prompt"]["id"] == pain["id"]
        assert [p["id"] for p in reopened.list_prompts()] == [pain["id"]]
    finally:
        reopened.close()
