"""The collector (posplugin.hq.metrics) against the platform stand-ins:
measuring, the median engagement, refreshing tokens before they expire,
pausing a platform that throttles, revoked access ageing out, and only
customers who consented."""

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st
from platform_standins import Account

from posplugin.hq.customers import consent
from posplugin.hq.customers.collector import engagement_rate


def test_measures_followers_and_median_engagement(world, standins):
    sam = world.join("+47 412 34 567")
    standins.accounts["instagram"].posts = [(250, 10)] * 11 + [(40000, 2000)]  # one post went viral
    world.link(sam, "instagram")
    result = world.collector.run()
    assert result.measured == 1
    account = world.account(sam, "instagram")
    assert account["followers"] == 4200 and account["posts"] == 12 and account["status"] == "measured"
    assert account["engagement_rate"] == pytest.approx(260 / 4200)  # the viral post does not lift it
    assert account["handle"] == "sam.runs"
    assert world.collector.run().measured == 0  # not due again for a week
    world.clock.now += 168 * 3600
    assert world.collector.run().measured == 1


def test_only_consented_customers_are_measured(world):
    nobody = world.join("+47 900 00 001", consented=False)
    world.link(nobody, "tiktok")
    assert world.collector.run().measured == 0
    world.customers.give_consent(nobody, consent.VERSION, ["tiering"], "en")
    assert world.collector.run().measured == 1


def test_tokens_are_refreshed_before_they_expire(world, standins):
    sam = world.join("+47 412 34 567")
    world.link(sam, "tiktok")
    world.collector.run()
    world.clock.now += 2 * 86400  # TikTok's access token lasts 24 hours; the refresh token a year
    world.collector.run()
    refreshes = [c for c in standins.calls if c == ("POST", "/tt/v2/oauth/token/")]
    assert len(refreshes) >= 2 and world.account(sam, "tiktok")["status"] == "measured"


def test_a_throttling_platform_is_paused_others_go_on(world, standins):
    a, b = world.join("+47 900 00 002"), world.join("+47 900 00 003")
    world.link(a, "instagram")
    world.link(b, "youtube")
    standins.fail["instagram"] = "rate_limited"
    result = world.collector.run()
    assert (result.throttled, result.measured) == (1, 1)
    assert world.collector.status()["platforms"]["instagram"]["paused_for_s"] == pytest.approx(17 * 60)
    standins.fail.clear()
    calls = len(standins.calls)
    world.clock.now += 60
    assert world.collector.run().measured == 0 and len(standins.calls) == calls  # still paused: not even asked
    world.clock.now += 17 * 60
    assert world.collector.run().measured == 1


def test_revoked_access_ages_out(world, standins):
    sam = world.join("+47 412 34 567")
    world.link(sam, "youtube")
    world.collector.run()
    standins.fail["youtube"] = "revoked"
    world.clock.now += 168 * 3600
    world.collector.run()
    account = world.account(sam, "youtube")
    assert account["status"] == "revoked" and account["followers"] == 3000  # kept, for now
    world.clock.now += 30 * 86400
    assert world.collector.run().aged_out == 1
    assert world.account(sam, "youtube")["followers"] is None
    status = world.collector.status()
    assert status["platforms"]["youtube"]["revoked"] == 1 and status["recent_errors"]


def test_failures_back_off(world, standins):
    sam = world.join("+47 412 34 567")
    world.link(sam, "youtube")
    standins.fail["youtube"] = "expired"  # refreshing does not help: a failure, retried later
    assert world.collector.run().failed == 1
    assert world.collector.run().failed == 0  # backing off
    world.clock.now += 301
    assert world.collector.run().failed == 1
    assert world.collector.status()["platforms"]["youtube"]["failing"] == 1


def test_tokens_are_sealed_at_rest(world, standins, tmp_path):
    def tiktok_tokens():
        return {token for token, platform in [*standins.tokens.items(), *standins.refresh_tokens.items()]
                if platform == "tiktok"}

    before = tiktok_tokens()
    sam = world.join("+47 412 34 567")
    world.link(sam, "tiktok")
    issued = tiktok_tokens() - before
    assert len(issued) == 2  # the access token and the refresh token
    data = b"".join(p.read_bytes() for p in (tmp_path / "hq").glob("hq.db*"))
    # Whole tokens, not a prefix: sealed tokens are base64, where any three characters turn up by chance.
    assert [token for token in issued if token.encode() in data] == [] and b"access_token" not in data


@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 1_000)), min_size=1, max_size=12),
       st.integers(1, 10_000_000))
def test_engagement_is_the_median_share(posts, followers):
    rate = engagement_rate(followers, posts)
    assert rate == pytest.approx(statistics.median((likes + c) / followers for likes, c in posts))
    shares = sorted((likes + c) / followers for likes, c in posts)
    assert shares[0] <= rate <= shares[-1]


def test_engagement_without_posts_or_followers():
    assert engagement_rate(0, [(1, 1)]) == 0.0 and engagement_rate(100, []) == 0.0


def test_a_given_handle_is_read_through_business_discovery_once_proved(world, standins):
    world.read_handles(standins)
    standins.accounts["instagram:bluebottle"] = Account(267793, [(5000, 300)] * 12)
    sam = world.join("+47 412 34 567")
    phrase = world.accounts.add_handle(sam, "instagram", "@BlueBottle")
    world.collector.run()
    assert world.account(sam, "instagram")["status"] == "unproved"  # not measured: anyone can type a handle
    standins.accounts["instagram:bluebottle"].captions = [f"New beans in! {phrase}"]
    world.accounts.prove_handle(sam, "instagram")
    account = world.account(sam, "instagram")
    assert (account["source"], account["handle"], account["followers"]) == ("handle", "bluebottle", 267793)
    assert account["engagement_rate"] == pytest.approx(5300 / 267793) and account["status"] == "measured"
    world.clock.now += 8 * 86400
    assert world.collector.run().measured == 1  # and refreshed like any account
