"""The background round of hq serve: refresh, build when due, housekeeping; a failing round is logged."""

from posplugin.hq.background import Worker
from posplugin.hq.build import Builder


def test_a_round_measures_builds_and_keeps_house(world):
    sam = world.join("+47 412 34 567")
    world.link(sam, "instagram")
    swept = []
    worker = Worker(world.collector, Builder(world.office), housekeeping=[lambda: swept.append(1)])
    worker.tick()
    assert world.office.latest()["rows"] == 1 and swept == [1]


def test_a_failing_round_is_logged_not_raised(world, caplog):
    worker = Worker(world.collector, Builder(world.office), housekeeping=[lambda: 1 / 0])
    worker.tick()
    assert "background round failed" in caplog.text


def test_the_thread_stops(world):
    worker = Worker(world.collector, Builder(world.office), tick_s=0.05).start()
    assert worker.running
    worker.stop()
    assert not worker.running


def test_two_workers_build_once(world):
    """Several hq serve processes each run a worker; the decision and the build share one lock."""
    import threading

    sam = world.join("+47 412 34 567")
    world.link(sam, "instagram")
    world.collector.run()
    builders = [Builder(world.office) for _ in range(3)]
    results = []
    threads = [threading.Thread(target=lambda b=b: results.append(b.build_if_due())) for b in builders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r is not None for r in results) == 1 and world.office.latest()["version"] == 1
