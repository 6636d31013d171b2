"""The customer's page over HTTP (posplugin.hq.me, posplugin.hq.me_web): why
this tier, the pass, export, object, delete, linked accounts, session and
CSRF on every state-changing route, all against a real head office server
and its database."""

import pytest
import requests
from helpers import heard_from, joined_customer
from sqlalchemy import select

from posplugin.hq import schema
from posplugin.hq.web.join import customer_side
from posplugin.hq.web.me import COOKIE, CSRF_HEADER
from posplugin.tiers.passes import PassVerifier

SAM = "+47 412 34 567"


@pytest.fixture
def page(customer_hq):
    """The head office's /me (on the server where customers can join and link)."""
    return customer_side(customer_hq.app).page


def sign_in(customer_hq, caplog, *, scopes=("tiering",)):
    """Sam joins with their phone, links the stand-in Instagram account (4,200
    followers, 260 of them engaging), head office builds a version; returns
    Sam's browser-like session (with the CSRF header /me gave) and /me."""
    http = joined_customer(customer_hq, caplog, SAM, scopes)
    customer_side(customer_hq.app).builder.build()
    me = http.get(customer_hq.url + "/hq/v1/me", timeout=5).json()
    http.headers[CSRF_HEADER] = me["csrf"]
    return http, me


def test_why_this_tier_shows_what_the_till_shows(customer_hq, page, caplog):
    _http, me = sign_in(customer_hq, caplog)
    listed = me["published"]
    assert listed["known"] and listed["version"] == 1
    assert (listed["tier"], listed["service_level"], listed["engaged_reach"]) == ("nano", "murdoch", 260)
    assert me["card"]["level"] == "Murdoch-level service" and "4,200 followers" in me["card"]["who"]
    assert me["thresholds"]["service_levels"] == {"priority": 50, "murdoch": 200}
    why = " ".join(me["why"])
    for words in ("instagram sam.runs: 4,200 followers and 6.2% engagement, last measured on",
                  "median, over your last 12 posts", "Murdoch-level from 200", "engaged reach 260",
                  "only ever adds service"):
        assert words in why
    assert "never see your phone number" in me["staff_never_see"]
    assert me["accounts"][0]["platform"] == "instagram"


def test_norwegian(customer_hq, page, caplog):
    http, _me = sign_in(customer_hq, caplog)
    me = http.get(customer_hq.url + "/hq/v1/me?lang=nb", timeout=5).json()
    assert me["card"]["level"] == "Murdoch-service" and "4\xa0200 følgere" in me["card"]["who"]
    assert any("medianen" in line for line in me["why"])


def test_the_pass_verifies_at_a_store_with_hq_public_key(hq, customer_hq, page, caplog):
    http, _ = sign_in(customer_hq, caplog)
    issued = http.get(customer_hq.url + "/hq/v1/me/pass", timeout=5).json()
    got = PassVerifier(hq.public_key).verify(issued["pass"], now=hq.test_clock())
    assert got.customer == hq.hasher("phone", "41234567")
    assert issued["qr_svg"].startswith("<svg")


def audit(hq):
    with hq.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(schema.me_audit.c.customer_id, schema.me_audit.c.action))]


def test_export_holds_everything_and_is_audited(hq, customer_hq, page, caplog):
    http, _me = sign_in(customer_hq, caplog)
    r = http.get(customer_hq.url + "/hq/v1/me/export", timeout=5)
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    data = r.json()
    assert [(i["type"], i["hash"]) for i in data["identifiers"]] == [("phone", hq.hasher("phone", "41234567").hex())]
    assert data["published"]["followers"] == 4200
    (account,) = data["accounts"]
    assert (account["platform"], account["handle"], account["followers"], account["token_held"]) == \
        ("instagram", "sam.runs", 4200, True)
    assert data["consents"][0]["scopes"] == ["tiering"] and len(data["sessions"]) == 1 and data["codes"]
    assert "41234567" not in r.text and "token\": \"" not in r.text
    assert audit(hq) == [(data["customer"]["id"], "exported")]


def test_object_withdraws_consent_and_is_audited(customer_hq, page, caplog):
    http, _ = sign_in(customer_hq, caplog)
    r = http.post(customer_hq.url + "/hq/v1/me/object", timeout=5)
    assert r.status_code == 200 and r.json()["withdrawn"] is True
    me = http.get(customer_hq.url + "/hq/v1/me", timeout=5).json()
    assert me["consent"] is None and me["audit"][0]["action"] == "objected"


JOIN_TABLES = ("customers", "customer_identifiers", "join_codes", "consents", "customer_sessions",
               "linked_accounts", "oauth_states", "invitations")


def test_delete_leaves_only_the_audit_line(hq, customer_hq, page, caplog):
    http, _ = sign_in(customer_hq, caplog, scopes=("tiering", "invitations"))
    customer = page.source.signed_in(http.cookies[COOKIE]).customer_id
    http.get(customer_hq.url + "/hq/v1/me/export", timeout=5)
    with hq.engine.connect() as conn:
        assert all(conn.execute(select(schema.metadata.tables[t])).all() for t in JOIN_TABLES[:6])
    r = http.delete(customer_hq.url + "/hq/v1/me", timeout=5)
    assert r.status_code == 200 and r.json()["deleted"] is True
    assert "posplugin_customer=;" in r.headers["Set-Cookie"]
    assert audit(hq) == [(customer, "deleted")]
    with hq.engine.connect() as conn:
        for table in JOIN_TABLES:
            assert conn.execute(select(schema.metadata.tables[table])).all() == [], table
    assert http.get(customer_hq.url + "/hq/v1/me", timeout=5).status_code == 401


def test_refresh_is_rate_limited_and_unlink_audited(hq, customer_hq, page, caplog, standins):
    http, me = sign_in(customer_hq, caplog)
    account = me["accounts"][0]["id"]
    url = f"{customer_hq.url}/hq/v1/me/accounts/{account}"
    standins.accounts["instagram"].followers = 5000
    assert http.post(url + "/refresh", timeout=5).json()["followers"] == 5000
    hq.test_clock.now += 3601
    assert [http.post(url + "/refresh", timeout=5).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert http.post(url + "/refresh", timeout=5).json()["error"]["code"] == "rate_limited"
    hq.test_clock.now += 3601
    assert http.post(url + "/refresh", timeout=5).status_code == 200
    assert http.delete(url, timeout=5).json() == {"platform": "instagram", "revoked": False}
    assert http.delete(url, timeout=5).status_code == 404
    me = http.get(customer_hq.url + "/hq/v1/me", timeout=5).json()
    assert me["accounts"] == [] and me["audit"][0]["action"] == "unlinked"


CHANGES = [("POST", "/hq/v1/me/object"), ("DELETE", "/hq/v1/me"),
           ("POST", "/hq/v1/me/accounts/{account}/refresh"), ("DELETE", "/hq/v1/me/accounts/{account}"),
           ("DELETE", "/hq/v1/me/heard")]


@pytest.mark.parametrize("method,path", CHANGES)
def test_every_change_needs_a_session_and_the_csrf_token(hq, customer_hq, page, caplog, method, path):
    http, me = sign_in(customer_hq, caplog)
    url = customer_hq.url + path.format(account=me["accounts"][0]["id"])
    anonymous = requests.request(method, url, timeout=5)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "not_signed_in"
    no_csrf = requests.request(method, url, cookies={COOKIE: http.cookies[COOKIE]}, timeout=5)
    assert no_csrf.status_code == 403 and no_csrf.json()["error"]["code"] == "csrf"
    wrong = requests.request(method, url, cookies={COOKIE: http.cookies[COOKIE]},
                             headers={CSRF_HEADER: "0" * 32}, timeout=5)
    assert wrong.status_code == 403
    assert audit(hq) == []
    assert http.request(method, url, timeout=5).status_code == 200


@pytest.mark.parametrize("path", ["/hq/v1/me", "/hq/v1/me/pass", "/hq/v1/me/export"])
def test_reading_needs_a_session(customer_hq, path):
    r = requests.get(customer_hq.url + path, timeout=5)
    assert r.status_code == 401 and set(r.json()) == {"error"}
    r = requests.get(customer_hq.url + path, cookies={COOKIE: "cs_forged"}, timeout=5)
    assert r.status_code == 401


def test_the_routes_are_in_the_openapi_document(hq):
    paths = requests.get(hq.server.url + "/hq/v1/openapi.json", timeout=5).json()["paths"]
    assert {"get", "delete"} <= set(paths["/hq/v1/me"])
    for path in ("/hq/v1/me/export", "/hq/v1/me/object", "/hq/v1/me/pass", "/hq/v1/invitations",
                 "/hq/v1/me/heard", "/hq/v1/me/heard/{heard_id}"):
        assert path in paths


# -- the till never shows what the customer cannot see -----------------------

# Each field the till card (static/till.js) or the identify answer shows about
# a customer, and where /me shows it. A new field on the card fails this test
# until /me shows it too (or it is listed as not about the customer).
ON_ME = {
    "level": lambda me: me["card"]["level"], "title": lambda me: me["card"]["level"],
    "who": lambda me: me["card"]["who"], "action": lambda me: me["card"]["action"],
    "short_action": lambda me: me["card"]["short_action"],
    "niches": lambda me: me["published"]["niches"], "body": lambda me: me["card"]["who"],
    "interests": lambda me: me["published"]["interests"] == me["card"]["niches"] and me["card"]["niches"],
    "display_name": lambda me: "the name you give at the till" in me["staff_see"],
    "tier": lambda me: me["published"]["tier"], "service_level": lambda me: me["published"]["service_level"],
    "followers": lambda me: me["published"]["followers"],
    "engagement_rate": lambda me: me["published"]["engagement_rate"],
    "engaged_reach": lambda me: me["published"]["engaged_reach"], "known": lambda me: me["published"]["known"],
    "verified": lambda me: me["card"]["verified"], "verify_for": lambda me: me["card"]["level"],
}
NOT_ABOUT_THE_CUSTOMER = {"id", "status", "taken_by", "visit_id", "prompt"}


def till_card_fields():
    import re
    from pathlib import Path
    script = (Path(__file__).parent.parent / "static" / "till.js").read_text()
    return set(re.findall(r"current\.(\w+)", script))


def test_everything_the_till_shows_about_a_customer_is_on_me(hq, customer_hq, page, caplog, settings):
    from posplugin.store.service import Store
    from posplugin.store.sync import sync_once
    from posplugin.store.web.schemas import SCHEMAS

    shown = till_card_fields() | set(SCHEMAS["IdentifyResponse"]["properties"])
    assert {"who", "action", "niches", "level"} <= shown  # the card still reads what we think
    assert shown - NOT_ABOUT_THE_CUSTOMER <= set(ON_ME), "the till shows something /me does not"
    _http, me = sign_in(customer_hq, caplog)
    store = Store(settings.replace(hq_url=hq.server.url, hq_token=hq.create_token("store", "s"),
                                   hq_public_key=hq.public_key), clock=hq.test_clock)
    try:
        sync_once(store)
        answer = store.identify("3", "phone", "41234567").to_json()
    finally:
        store.close()
    for field in shown - NOT_ABOUT_THE_CUSTOMER:
        shown_on_me = ON_ME[field](me)
        assert shown_on_me is not None and shown_on_me is not False and shown_on_me != "", field
    for field in ("tier", "service_level", "followers", "engagement_rate", "engaged_reach", "niches", "known"):
        assert answer[field] == ON_ME[field](me), field
    prompt = answer["prompt"]
    assert (prompt["who"], prompt["action"], prompt["title"]) == (me["card"]["who"], me["card"]["action"],
                                                                   me["card"]["level"])
    assert prompt["body"].startswith(me["card"]["who"])


# -- what listening heard from the customer ---------------------------------------


def heard_rows(hq):
    with hq.engine.connect() as conn:
        return {r.id: r for r in conn.execute(select(schema.heard_posts))}


def test_me_shows_what_was_heard_and_removes_one_post_or_all(hq, customer_hq, page, caplog):
    http, _ = sign_in(customer_hq, caplog, scopes=("tiering", "listening"))
    first, second = heard_from(customer_hq, http, ["40 minutes at the till in Storgata", "Ana was lovely"])
    me = http.get(customer_hq.url + "/hq/v1/me", timeout=5).json()
    assert {h["id"]: h["text"] for h in me["heard"]} == {first: "40 minutes at the till in Storgata",
                                                       second: "Ana was lovely"}
    shown = next(h for h in me["heard"] if h["id"] == first)
    assert (shown["store"], shown["about"], shown["tone"]) == ("Storgata", "queue", "complaint")
    assert [h["id"] for h in http.get(customer_hq.url + "/hq/v1/me/export", timeout=5).json()["heard"]] \
        == [h["id"] for h in me["heard"]]
    answer = http.delete(f"{customer_hq.url}/hq/v1/me/heard/{first}", timeout=5)
    assert answer.status_code == 200 and answer.json()["removed"] == 1
    assert [h["id"] for h in answer.json()["heard"]] == [second]
    row = heard_rows(hq)[first]
    assert (row.text, row.customer_id, row.url) == (None, None, "") and row.tone == "complaint"  # figures stay
    assert http.delete(f"{customer_hq.url}/hq/v1/me/heard/{first}", timeout=5).status_code == 404
    assert http.delete(customer_hq.url + "/hq/v1/me/heard", timeout=5).json()["removed"] == 1
    me = http.get(customer_hq.url + "/hq/v1/me", timeout=5).json()
    assert me["heard"] == [] and [a["action"] for a in me["audit"][:2]] == ["heard_removed", "heard_removed"]
    assert all(r.text is None and r.customer_id is None for r in heard_rows(hq).values())


def test_a_customer_removes_only_their_own_posts_and_needs_the_csrf_token(hq, customer_hq, page, caplog):
    http, _ = sign_in(customer_hq, caplog, scopes=("tiering", "listening"))
    (mine,) = heard_from(customer_hq, http, ["queue again at Storgata"])
    listening = customer_hq.app.extensions["posplugin.hq.listening"].listening
    listening.handles = ("@nordshop",)
    from posplugin.hq.listening.posts import Post
    someone = listening.hear(Post("api", "x1", "", "@nordshop queue at Storgata", hq.test_clock() - 60))["id"]
    assert http.delete(f"{customer_hq.url}/hq/v1/me/heard/{someone}", timeout=5).status_code == 404
    url = f"{customer_hq.url}/hq/v1/me/heard/{mine}"
    assert requests.delete(url, timeout=5).status_code == 401
    no_csrf = requests.delete(url, cookies={COOKIE: http.cookies[COOKIE]}, timeout=5)
    assert no_csrf.status_code == 403 and no_csrf.json()["error"]["code"] == "csrf"
    rows = heard_rows(hq)
    assert rows[mine].text == "queue again at Storgata" and rows[someone].text.startswith("@nordshop")


def test_deleting_the_account_clears_what_was_heard_and_the_reported_visits(hq, customer_hq, page, caplog):
    http, _ = sign_in(customer_hq, caplog, scopes=("tiering", "listening"))
    (post,) = heard_from(customer_hq, http, ["40 minutes at the till in Storgata"])
    listening = customer_hq.app.extensions["posplugin.hq.listening"].listening
    listening.floor_report("Storgata", [], [{"customer": hq.hasher("phone", "41234567").hex(),
                                             "at": hq.test_clock() - 300}])
    assert http.delete(customer_hq.url + "/hq/v1/me", timeout=5).status_code == 200
    row = heard_rows(hq)[post]
    assert (row.text, row.customer_id) == (None, None)
    with hq.engine.connect() as conn:
        assert conn.execute(select(schema.listening_visits)).all() == []
