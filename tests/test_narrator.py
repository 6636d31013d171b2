"""The demo's console (posplugin.demo.narrator): what is told at once, what is
counted for the minute's summary, and the shift in one paragraph."""

import io

import pytest
from helpers import Clock

from posplugin.demo.narrator import Narrator, shift_figures, shift_summary
from posplugin.store.service import Store


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def console():
    out, ticks = io.StringIO(), Ticks()
    return Narrator(out, "en", clock=ticks), out, ticks


def test_what_a_manager_follows_is_told_at_once_the_rest_counted(console):
    narrator, out, _ = console
    narrator.tell("customer", lane="1", level="standard")  # counted only
    narrator.tell("customer_prompt", lane="2", name="Ola", followers="820", reach="65",
                  level="priority service", id=12)
    for ticket in ("1", "2"):
        narrator.tell("ticket_created_known", ticket=ticket, lane="1")  # the first one shows it works
    lines = out.getvalue().splitlines()
    assert lines[0] == ("lane 2: Ola, 820 followers, about 65 engage with each post → priority service; "
                        "PROMPT #12 on the cashier's card")
    assert lines[1].startswith("qminder: ticket 1 at lane 1") and "counted in the minute's summary" in lines[1]
    assert len(lines) == 2


def test_queues_are_summarised_once_a_minute_not_reading_by_reading(console):
    narrator, out, ticks = console
    for length, status in ((2, "ok"), (5, "busy"), (9, "long")):
        narrator.lane("2", length, 3.0, status)
    narrator.lane("1", 1, 2.0, "ok")
    narrator.tell("customer", lane="1", level="standard")
    narrator.tick()
    assert out.getvalue() == ""  # not a minute yet
    ticks.now += 60
    narrator.tick()
    line = out.getvalue().strip()
    assert "queues: lane 1: 1 waiting (normal 2), lane 2: 9 waiting (normal 3) LONG." in line
    assert "Last minute: customers at the tills 1 (0 with a prompt)" in line
    narrator.tick()
    assert out.getvalue().count("queues:") == 1


def test_a_new_kind_of_event_is_told_by_its_catalogue_line(console, monkeypatch):
    from posplugin import texts

    narrator, out, _ = console
    english = dict(texts.catalogue("en"), **{"demo.heard": "heard: {excerpt}"})
    monkeypatch.setattr(texts, "catalogue", lambda language: english)
    narrator.tell("heard", excerpt="the queue at lane 2 is long")
    assert out.getvalue() == "heard: the queue at lane 2 is long\n"


def test_norwegian_console_is_norwegian():
    out = io.StringIO()
    Narrator(out, "nb").tell("pain_calm", lane="2", id=7)
    assert out.getvalue().startswith("kø: kasse 2 er tilbake til normalt; VARSEL #7")


def test_the_shift_in_one_paragraph_from_the_stores_own_records(settings, loaded_store):
    loaded_store.close()
    clock = Clock(1_800_000_000.0)
    store = Store(settings, clock=clock)
    try:
        since = clock()
        murdoch = store.identify("3", "phone", "+4741234567").prompt
        store.identify("1", "loyalty_id", "L-1001")          # standard
        store.identify("2", "phone", "+4790000000")           # not on the list
        clock.advance(6)
        store.ack(murdoch["id"], "Marte")
        pain = store.queues.reading("2", 12)["prompt"]
        clock.advance(120)
        store.resolve(pain["id"], "Sara")
        store.after_sale("handle", "bigben", display_name="Ben")
        figures = shift_figures(store, since)
    finally:
        store.close()
    assert figures["served"] == {"murdoch": 1, "standard": 2}
    assert (figures["made"], figures["taken"], figures["median_take_s"]) == (1, 1, 6)
    assert (figures["pain_episodes"], figures["median_pain_s"], figures["invited"]) == (1, 120, 1)
    paragraph = shift_summary(figures, 20 * 60, "en")
    assert paragraph.startswith("The shift (20 minutes): customers at the tills: 3 (2 standard, 0 priority "
                                "and 1 Murdoch-level service).")
    assert "staff took 1, half of them within 6 s" in paragraph and "after a median of about 2 minutes" in paragraph
    assert "\n" not in paragraph
    assert shift_summary(figures, 20 * 60, "nb").startswith("Vakten (20 minutter): kunder i kassene: 3")


def test_a_lane_wobbling_around_normal_is_told_once_each_way():
    from types import SimpleNamespace

    from posplugin.demo.traffic import _pain

    told, said = {}, []
    demo = SimpleNamespace(tell=lambda kind, **values: said.append(kind))
    for status, calm in (("open", False), ("open", False), ("open", True), ("open", False), ("open", True),
                         ("open", False), ("resolved", True)):
        _pain(demo, {"id": 7, "lane": "2", "status": status, "body": "…", "queue": {"calm": calm}}, told)
    assert said == ["pain_raised", "pain_calm", "pain_again", "pain_closed"]
    assert told == {}
