"""Building a version from joined customers (posplugin.hq.build): only the
consented and fresh, every proven identifier, the best account, withdrawals
published as a delta, automatic builds at most every build_interval_minutes."""

import json

import pytest
from helpers import ID_KEY

from posplugin.hq.customers import consent
from posplugin.hq.build import Builder
from posplugin.tiers.identity import Hasher

HASH = Hasher(ID_KEY, "NO")


def snapshot(office) -> dict:
    """The latest snapshot as {hash hex: (followers, engagement)}."""
    latest = office.latest()
    out = {}
    for line in (office.feed_dir / latest["snapshot"]).read_text().splitlines():
        key, followers, rate, niches = line.split("\t")
        out[key] = (int(followers), float(rate))
        assert json.loads(niches) == []
    return out


@pytest.fixture
def builder(world):
    return Builder(world.office, max_age_days=30, interval_minutes=60)


def test_build_holds_consented_fresh_customers_by_each_identifier(world, builder):
    sam = world.join("+47 412 34 567")
    world.customers.request_code("email", "sam@example.com", "x")
    world.customers.verify_code("email", "sam@example.com", world.sent[-1][2], attach_to=sam)
    world.link(sam, "instagram")
    silent = world.join("+47 900 00 010", consented=False)
    world.link(silent, "instagram")
    world.join("+47 900 00 011")  # consented, nothing linked: no tier
    world.collector.run()
    result = builder.build()
    assert (result["version"], result["rows"], result["customers"]) == (1, 2, 1)
    rows = snapshot(world.office)
    for key in (HASH("phone", "41234567"), HASH("email", "sam@example.com")):
        assert rows[key.hex()] == (4200, pytest.approx(260 / 4200))


def test_the_account_with_most_engaged_reach_wins(world, builder, standins):
    sam = world.join("+47 412 34 567")
    world.link(sam, "instagram")   # 4,200 × 6.2 % = 260
    world.link(sam, "youtube")     # 3,000 × 4 % = 120
    world.link(sam, "tiktok")      # 12,000 × 8 % = 960
    world.collector.run()
    builder.build()
    assert snapshot(world.office)[HASH("phone", "41234567").hex()] == (12000, pytest.approx(0.08))


def test_withdrawal_is_a_delta_and_stale_figures_drop_out(world, builder):
    sam, ann = world.join("+47 412 34 567"), world.join("+47 900 00 012")
    world.link(sam, "instagram")
    world.link(ann, "tiktok")
    world.collector.run()
    builder.build()
    world.customers.withdraw_consent(sam)
    second = builder.build()
    assert second["delta"] == {"upserts": 0, "deletes": 1} and second["rows"] == 1
    assert HASH("phone", "41234567").hex() not in snapshot(world.office)
    world.clock.now += 31 * 86400  # no refresh for a month (the collector did not run): figures too old
    assert builder.build()["rows"] == 0


def test_automatic_builds_wait_for_the_interval_and_a_change(world, builder):
    sam = world.join("+47 412 34 567")
    world.link(sam, "instagram")
    world.collector.run()
    assert builder.build_if_due()["version"] == 1
    assert builder.build_if_due() is None
    world.clock.now += 61 * 60
    assert builder.build_if_due() is None  # nothing changed
    world.customers.withdraw_consent(sam)
    world.clock.now += 1
    assert builder.build_if_due()["delta"]["deletes"] == 1
    assert builder.last()["trigger"] == "auto"


def test_withdrawn_then_given_again(world, builder):
    sam = world.join("+47 412 34 567")
    world.link(sam, "instagram")
    world.collector.run()
    world.customers.withdraw_consent(sam)
    assert builder.build()["rows"] == 0
    world.customers.give_consent(sam, consent.VERSION, ["tiering"], "en")
    assert builder.build()["rows"] == 1


def test_build_on_a_csv_base_joined_customers_win(world, builder):
    import io

    from helpers import tier_csv

    from posplugin.errors import ImportRefused
    from posplugin.hq.build import csv_records

    sam, ann = world.join("+47 412 34 567"), world.join("+47 900 00 013")
    world.link(sam, "instagram")
    world.collector.run()
    world.customers.withdraw_consent(ann)
    base = tier_csv([["phone", "+47 412 34 567", "100", "1%", "", "yes"],       # replaced by Sam's own figures
                     ["phone", "+47 900 00 013", "50000", "5%", "", "yes"],     # Ann withdrew: opted out
                     ["email", "csv.only@example.com", "2000", "3%", "wine", "yes"]])
    built = builder.build(base=csv_records(io.StringIO(base), HASH))
    rows = snapshot_all(world.office)
    assert built["rows"] == 2 and HASH("phone", "+47 900 00 013").hex() not in rows
    assert rows[HASH("phone", "41234567").hex()][0] == 4200
    assert rows[HASH("email", "csv.only@example.com").hex()][0] == 2000
    with pytest.raises(ImportRefused):
        builder.build(base=csv_records(io.StringIO(tier_csv([["phone", "12", "1", "1%", "", "yes"]])), HASH))


def snapshot_all(office) -> dict:
    latest = office.latest()
    return {line.split("\t")[0]: (int(line.split("\t")[1]),)
            for line in (office.feed_dir / latest["snapshot"]).read_text().splitlines()}


def test_automatic_builds_never_replace_a_csv_version(world, builder):
    import io
    from helpers import tier_csv
    from posplugin.hq.build import csv_records

    assert builder.build_if_due() is None  # nobody joined yet: an empty version would wipe nothing useful
    world.office.import_csv(io.StringIO(tier_csv()))
    sam = world.join("+47 412 34 567")
    world.link(sam, "instagram")
    world.collector.run()
    world.clock.now += 2 * 86400
    assert builder.build_if_due() is None  # the chain publishes by CSV import
    builder.build(base=csv_records(io.StringIO(tier_csv()), HASH))
    world.clock.now += 2 * 86400
    assert builder.build_if_due() is None  # built on a CSV: only the chain rebuilds it
    builder.build()
    world.customers.withdraw_consent(sam)
    world.clock.now += 2 * 86400
    assert builder.build_if_due()["rows"] == 0  # plain builds: automatic from now on
