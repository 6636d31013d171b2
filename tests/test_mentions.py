"""Counting posts that mention the chain (for the experiment's posts outcome)."""

import pytest

from posplugin.hq.listening.mentions import mentions, parse_handles, posts_after_visits

HANDLES = parse_handles("@NordShop, #nordshop, kaffebar")


def test_handles_setting_is_case_folded_and_a_bare_word_means_both_forms():
    assert HANDLES == ("@nordshop", "#nordshop", "@kaffebar", "#kaffebar")


@pytest.mark.parametrize("text, expected", [
    ("Great service at @NordShop today!", True),
    ("#nordshop.", True),
    ("loved #KaffeBar", True),
    ("@nordshopping is another shop", False),
    ("nordshop without a sign", False),
    ("", False),
])
def test_a_post_mentions_the_chain_only_with_a_whole_handle_or_hashtag(text, expected):
    assert mentions(text, HANDLES) is expected


def test_posts_count_within_seven_days_after_a_visit_once_each():
    day = 86_400
    visits = [1000.0, 1000.0 + 2 * day]
    posts = [{"at": 900.0, "text": "#nordshop"},                  # before any visit
             {"at": 1000.0 + 3 * day, "text": "#nordshop"},       # after both: counts once
             {"at": 1000.0 + 8.5 * day, "text": "@nordshop"},     # within 7 days of the second
             {"at": 1000.0 + 10 * day, "text": "#nordshop"},      # too late
             {"at": 1000.0 + day, "text": "no mention"}]
    assert posts_after_visits(posts, visits, HANDLES) == 2
