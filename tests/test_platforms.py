"""Each bundled platform against a local stand-in answering as the platform
documents: the authorize redirect with PKCE, the code exchange, refresh,
metrics with the documented field names, and the documented errors."""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from helpers import hooks_folder
from platform_standins import Account, platforms

from posplugin.hq.platforms.oauth import (
    AccessRevoked,
    AccountUnavailable,
    PlatformRateLimited,
    Token,
    TokenExpired,
)

REDIRECT = "https://hq.example.com/hq/v1/join/accounts/{}/callback"


@pytest.fixture
def linked(standins):
    """``linked(name)``: (platform, token) after a full authorize → callback → exchange."""
    standins.fail.clear()

    def link(name):
        platform = platforms(standins)[name]
        verifier = platform.new_verifier()
        url = platform.authorization_url(REDIRECT.format(name), "st4te", verifier)
        answer = requests.get(url, allow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text
        back = parse_qs(urlsplit(answer.headers["Location"]).query)
        assert back["state"] == ["st4te"]
        return platform, platform.exchange(REDIRECT.format(name), back["code"][0], verifier)

    return link


@pytest.mark.parametrize("name, client_field, scope", [
    ("instagram", "client_id", "instagram_business_basic"),
    ("tiktok", "client_key", "user.info.basic,user.info.profile,user.info.stats,video.list"),
    ("youtube", "client_id", "https://www.googleapis.com/auth/youtube.readonly"),
])
def test_authorize_url_has_pkce_scopes_and_state(standins, name, client_field, scope):
    platform = platforms(standins)[name]
    query = parse_qs(urlsplit(platform.authorization_url(REDIRECT.format(name), "abc", "v" * 64)).query)
    assert query[client_field] and query["state"] == ["abc"] and query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["scope"] == [scope] and query["redirect_uri"] == [REDIRECT.format(name)]
    if name == "youtube":
        assert query["access_type"] == ["offline"]


@pytest.mark.parametrize("name, followers, handle, per_post", [
    ("instagram", 4200, "sam.runs", 260), ("tiktok", 12000, "samruns", 960), ("youtube", 3000, "@samruns", 120),
])
def test_link_and_measure(linked, name, followers, handle, per_post):
    platform, token = linked(name)
    assert token.access_token and token.expires_at
    measured = platform.measure(token)
    assert (measured.followers, measured.handle) == (followers, handle)
    assert len(measured.posts) == 12 and {likes + comments for likes, comments in measured.posts} == {per_post}


def test_instagram_trades_for_a_long_lived_token_and_refreshes_it(linked, standins):
    platform, token = linked("instagram")
    assert token.refresh_token is None and token.expires_at - platform.clock() > 59 * 86400
    fresh = platform.refresh(token)
    assert fresh.access_token != token.access_token and platform.measure(fresh).followers == 4200
    with pytest.raises(AccessRevoked):
        platform.measure(token)  # the old one was replaced: Meta's code 190 without a sub-code


@pytest.mark.parametrize("name", ["tiktok", "youtube"])
def test_refresh_token(linked, name):
    platform, token = linked(name)
    fresh = platform.refresh(token)
    assert fresh.access_token != token.access_token and fresh.refresh_token
    assert platform.measure(fresh).followers > 0


def test_a_wrong_pkce_verifier_is_refused(standins):
    standins.fail.clear()
    platform = platforms(standins)["tiktok"]
    url = platform.authorization_url(REDIRECT.format("tiktok"), "s", platform.new_verifier())
    code = parse_qs(urlsplit(requests.get(url, allow_redirects=False, timeout=10).headers["Location"]).query)["code"][0]
    with pytest.raises(AccessRevoked, match="invalid_grant"):
        platform.exchange(REDIRECT.format("tiktok"), code, platform.new_verifier())


@pytest.mark.parametrize("name, mode, error", [
    ("instagram", "expired", TokenExpired),
    ("instagram", "revoked", AccessRevoked),
    ("instagram", "rate_limited", PlatformRateLimited),
    ("instagram", "near_limit", PlatformRateLimited),
    ("tiktok", "expired", TokenExpired),
    ("tiktok", "revoked", AccessRevoked),
    ("tiktok", "rate_limited", PlatformRateLimited),
    ("youtube", "expired", TokenExpired),
    ("youtube", "rate_limited", PlatformRateLimited),
    ("youtube", "private", AccountUnavailable),
])
def test_documented_errors(linked, standins, name, mode, error):
    platform, token = linked(name)
    standins.fail[name] = mode
    with pytest.raises(error) as caught:
        platform.measure(token)
    if mode == "rate_limited" and name == "instagram":
        assert caught.value.retry_after_s == 17 * 60  # estimated_time_to_regain_access, in minutes
    if mode == "near_limit":
        assert caught.value.retry_after_s == 5 * 60


@pytest.mark.parametrize("name", ["instagram", "tiktok", "youtube"])
def test_revoked_refresh(linked, standins, name):
    platform, token = linked(name)
    standins.fail[name] = "revoked"
    with pytest.raises(AccessRevoked):
        platform.refresh(token)


def test_instagram_business_discovery_by_handle(standins, linked):
    platform, token = linked("instagram")
    platform.discovery_token = token.access_token
    standins.accounts["instagram:bluebottle"] = Account(267793, [(5000, 300)] * 12)
    found = platform.lookup("bluebottle")
    assert found.followers == 267793 and len(found.posts) == 12
    with pytest.raises(AccountUnavailable):  # a personal, private or age-gated account
        platform.lookup("someone.private")


def test_token_round_trip():
    token = Token("a", "r", 1.0, 2.0, "id", "s")
    assert Token.from_json(token.to_json()) == token


def test_a_chain_adds_a_platform_by_plugin_and_bundled_ones_need_their_app(tmp_path):
    from posplugin.config import Settings
    from posplugin.hq.customers.accounts import available

    hooks = hooks_folder(tmp_path, mastodon=(
        "from posplugin.hookspecs import hookimpl\n"
        "from posplugin.hq.platforms import Platform\n"
        "class Mastodon(Platform):\n"
        "    name = 'mastodon'\n"
        "@hookimpl\n"
        "def platforms(settings):\n"
        "    return [Mastodon('id', 'secret')]\n"))
    found = available(Settings(data_dir=tmp_path, hooks_dir=str(hooks), tiktok_client_id="k",
                               tiktok_client_secret="s"))
    assert sorted(found) == ["mastodon", "tiktok"]  # Instagram and YouTube have no app configured
