"""The in-process bus: numbered events, fan-out, replay by Last-Event-ID, and
subscribers that fall behind lose their oldest events without blocking anyone."""

import threading

import pytest

from posplugin.bus import Bus


def test_events_are_numbered_and_reach_every_subscriber():
    bus = Bus()
    with bus.subscribe() as a, bus.subscribe() as b:
        first = bus.publish("prompt", {"id": 1})
        second = bus.publish("queue", {"lane": "2"})
        assert (first.id, second.id) == (1, 2) and bus.last_id() == 2
        for sub in (a, b):
            assert [(e.kind, e.data) for e in (sub.get(0), sub.get(0))] == [("prompt", {"id": 1}),
                                                                          ("queue", {"lane": "2"})]
            assert sub.get(0) is None


def test_a_closed_subscription_gets_nothing_more():
    bus = Bus()
    sub = bus.subscribe()
    sub.close()
    bus.publish("prompt", {})
    assert sub.get(0) is None


def test_get_wakes_on_publish_instead_of_waiting_out_the_timeout():
    bus = Bus()
    with bus.subscribe() as sub:
        got = []
        reader = threading.Thread(target=lambda: got.append(sub.get(timeout=30)))
        reader.start()
        bus.publish("prompt", {"n": 1})
        reader.join(10)
        assert not reader.is_alive() and got[0].data == {"n": 1}


def test_a_slow_subscriber_loses_its_oldest_events_and_is_told():
    bus = Bus(per_subscriber=3)
    with bus.subscribe() as slow:
        for n in range(5):
            bus.publish("queue", {"n": n})
        assert slow.overflowed
        assert [slow.get(0).data["n"] for _ in range(3)] == [2, 3, 4]


def test_replay_after_an_id_of_this_epoch():
    bus = Bus(history=3)
    events = [bus.publish("prompt", {"n": n}) for n in range(5)]
    assert [e.id for e in bus.replay(events[3].sse_id(bus.epoch))] == [5]
    assert [e.id for e in bus.replay(events[1].sse_id(bus.epoch))] == [3, 4, 5]  # just in history
    assert bus.replay(events[0].sse_id(bus.epoch)) is None                      # 2 already dropped
    assert bus.replay(None) == [] and bus.replay("") == []


@pytest.mark.parametrize("last_id", ["otherepoch.3", "{epoch}.x", "{epoch}", "{epoch}.-1"])
def test_replay_from_another_run_or_a_bad_id_means_reload(last_id):
    bus = Bus()
    bus.publish("prompt", {})
    assert bus.replay(last_id.format(epoch=bus.epoch)) is None


def test_each_run_has_its_own_epoch():
    assert Bus().epoch != Bus().epoch


def test_the_frame_is_server_sent_events_text():
    bus = Bus()
    event = bus.publish("prompt", {"title": "Sam ✓"})
    assert event.frame("e1") == 'id: e1.1\nevent: prompt\ndata: {"title": "Sam \\u2713"}\n\n'
