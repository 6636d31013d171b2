"""The customer's whole journey in Chromium at 390x844, against a real head
office and a real store synced from it over HTTP: the customer joins on
/join (console code, consent), links the stand-in Instagram account; head
office measures and builds; /me says why this tier and shows the pass; the
till scans it and gets a verified Murdoch-level prompt on the cashier's
card; the same pass ten minutes later is refused; the customer objects;
after the next build and sync the store answers known: false; the customer
deletes their account and head office keeps only the audit line."""

import io
import re
import urllib.parse

import pytest
import requests
import segno
from helpers import (
    DATE,
    OTHER_DATES,
    SCREENS,
    box_in_view,
    each_screen,
    english_left_over,
    english_only_words,
    heard_from,
    join_to_consent,
    join_on_page,
    joined_customer,
    no_horizontal_overflow,
    tier_csv,
)
from sqlalchemy import select

from posplugin.hq import schema
from posplugin.hq.background import Worker
from posplugin.hq.web.join import COOKIE, customer_side
from posplugin.store import auth
from posplugin.store.service import Store
from posplugin.store.sync import sync_once
from posplugin.store.web.app import create_app
from posplugin.web.server import BackgroundServer

PHONE = {"width": 390, "height": 844}
SAM = ["phone", "+47 412 34 567", "4200", "6.2%", "running;coffee", "yes"]
OTHER = ["email", "someone@example.com", "900", "1%", "", "yes"]


@pytest.fixture
def till(hq, customer_hq, settings):
    """A store synced from ``hq`` with verify_level = murdoch, served on
    127.0.0.1 on head office's hand-moved clock; returns (store, session)."""
    store = Store(settings.replace(hq_url=customer_hq.url, hq_token=hq.create_token("store", "oslo-1"),
                                   hq_public_key=hq.public_key, verify_level="murdoch"), clock=hq.test_clock)
    with store.db.write() as conn:
        token = auth.create_token(conn, "till", "till-3")
        store.staff_token = auth.create_token(conn, "staff", "card-3")
    server = BackgroundServer(create_app(store=store)).start()
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    store.url = server.url
    store.server = server
    yield store, http
    server.stop()
    store.close()


def identify(store, http, id_type, value):
    return http.post(store.url + "/api/v1/identify", timeout=5, json={
        "lane": "3", "identifier": {"type": id_type, "value": value}, "display_name": "Sam"})


@pytest.mark.slow
def test_join_see_why_show_the_pass_object_and_delete(hq, customer_hq, till, browser, open_page, caplog,
                                                      output_dir):
    store, http = till
    app = customer_hq.app
    context = browser.new_context(viewport=PHONE)
    try:
        me = context.new_page()
        # Join on /join: phone, the code from the console sender, consent; link Instagram.
        me.goto(customer_hq.url + "/join")
        join_on_page(me, "+47 412 34 567", caplog)
        me.click("#accounts li[data-platform=instagram] button")
        # Off to the stand-in platform and back ("Not linked" would match a :text('Linked')).
        me.wait_for_url("**/join#linked=instagram")
        me.wait_for_selector("#accounts li[data-platform=instagram] .state:text-is('Linked')")
        # Head office measures (4,200 followers, 260 engaging) and builds; the store syncs.
        assert customer_side(app).collector.run().measured == 1
        assert customer_side(app).builder.build()["customers"] == 1
        assert sync_once(store).version == 1

        me.goto(customer_hq.url + "/me?lang=en")
        # Why this tier, in plain words, with the card the cashier will see.
        me.wait_for_selector("#card-level:has-text('Murdoch-level service')")
        assert me.text_content("dd[data-field='reach']") == "260"
        why = me.inner_text("#why")
        assert "instagram sam.runs: 4,200 followers and 6.2% engagement" in why and "median" in why
        assert "never see your phone number" in me.inner_text("#staff-never-see")
        assert me.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        # The pass: the QR code holds exactly the text a scanner reads.
        me.wait_for_selector("#qr[data-pass]")
        scanned = me.get_attribute("#qr", "data-pass")
        src = me.get_attribute("#qr", "src")
        assert urllib.parse.unquote(src.split(",", 1)[1]) == _svg(scanned)
        me.screenshot(path=str(output_dir / "me-390.png"), full_page=True)

        # The till: a typed number gets priority and a request to see the pass ...
        typed = identify(store, http, "phone", "412 34 567").json()
        assert (typed["service_level"], typed["verified"], typed["verify_for"]) == ("priority", False, "murdoch")
        assert "ask to see their pass" in typed["prompt"]["action"]
        # ... and the scanned pass a verified Murdoch-level prompt, on the cashier's card.
        card = open_page(store.server, "/till?lane=3", store.staff_token)
        card.wait_for_selector("#card.level-priority")
        assert "Ask to see their pass" in card.text_content("#action")
        shown = identify(store, http, "pass", scanned)
        assert shown.status_code == 200
        answer = shown.json()
        assert (answer["verified"], answer["service_level"], answer["prompt"]["level"]) == (True, "murdoch", "murdoch")
        card.wait_for_selector("#card.level-murdoch")
        assert card.text_content("#verified").startswith("✓ Pass shown")
        assert "ask to see their pass" not in card.text_content("#action")
        card.screenshot(path=str(output_dir / "till-verified.png"))
        # A screenshot of the same pass ten minutes later is refused, with no tier.
        hq.test_clock.now += 600
        late = identify(store, http, "pass", scanned)
        assert late.status_code == 422 and late.json()["error"]["code"] == "pass_expired"

        # The customer objects, confirmed on screen and in the audit trail.
        me.reload()
        me.wait_for_selector("#card-level:has-text('Murdoch-level service')")
        me.click("#object")
        me.click("#confirm-yes")
        me.wait_for_selector("#status:has-text('you objected')")
        me.wait_for_selector("#audit li:has-text('You objected to tiering')")
        # The next build no longer carries Sam; after the store syncs, the till knows nothing.
        assert customer_side(app).builder.build()["delta"] == {"upserts": 0, "deletes": 1}
        assert sync_once(store).version == 2
        after = identify(store, http, "phone", "412 34 567").json()
        assert (after["known"], after["tier"], after["prompt"]) == (False, "everyday", None)
        me.reload()
        me.wait_for_selector("dd[data-field='level']")
        assert "no tier in the current list" in me.text_content("dd[data-field='level']")

        # Delete: confirmed on screen; head office keeps only the audit line.
        session = next(c["value"] for c in context.cookies() if c["name"] == COOKIE)
        customer = customer_side(app).page.source.signed_in(session).customer_id
        me.click("#delete")
        me.click("#confirm-yes")
        me.wait_for_selector("#status:has-text('your account is deleted')")
        me.screenshot(path=str(output_dir / "me-deleted-390.png"))
        with hq.engine.connect() as conn:
            lines = conn.execute(select(schema.me_audit.c.customer_id, schema.me_audit.c.action)).all()
            assert [tuple(r) for r in lines] == [(customer, "deleted")]
            for table in ("customers", "customer_identifiers", "consents", "customer_sessions", "linked_accounts",
                          "join_codes", "invitations"):
                assert conn.execute(select(schema.metadata.tables[table])).all() == [], table
        assert context.request.get(customer_hq.url + "/hq/v1/me").status == 401
    finally:
        context.close()


@pytest.mark.parametrize("first", ["a build from joined customers", "the chain's CSV import"])
def test_an_objection_stops_passes_at_once_and_reaches_the_till_within_the_build_interval(
        hq, customer_hq, till, caplog, first):
    """Objecting ends the pass at once, and the next version, built by head
    office's background round within build_interval_minutes (also when the
    version in use came from the chain's CSV), takes the customer out: a pass
    issued a minute before the objection gives no tier after the store syncs."""
    store, http = till
    side = customer_side(customer_hq.app)
    if first == "the chain's CSV import":
        hq.import_csv(io.StringIO(tier_csv([SAM, OTHER])))
    me = joined_customer(customer_hq, caplog)  # consented, Instagram linked and measured
    if first == "a build from joined customers":
        side.builder.build()
    rounds = Worker(side.collector, side.builder)
    hq.test_clock.now += 59 * 60
    rounds.tick()
    assert sync_once(store).version == 1
    issued = me.get(customer_hq.url + "/hq/v1/me/pass", timeout=5).json()["pass"]
    shown = identify(store, http, "pass", issued).json()
    assert (shown["verified"], shown["service_level"]) == (True, "murdoch")

    assert me.post(customer_hq.url + "/hq/v1/me/object", timeout=5).json()["objected"] is True
    refused = me.get(customer_hq.url + "/hq/v1/me/pass", timeout=5)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "no_consent"
    rounds.tick()
    assert hq.latest()["version"] == 1  # the interval since version 1 has not passed yet
    hq.test_clock.now += 61
    rounds.tick()
    assert hq.latest()["version"] == 2 and hq.versions()[0]["delta"]["deletes"] == 1
    assert sync_once(store).version == 2
    again = identify(store, http, "pass", issued)  # still within its five minutes
    assert again.status_code == 200
    assert (again.json()["known"], again.json()["service_level"], again.json()["prompt"]) == (False, "standard", None)
    if first == "the chain's CSV import":  # the chain's other customers stay
        assert identify(store, http, "email", "someone@example.com").json()["known"] is True


def signed_in_context(browser, customer_hq, caplog, scopes=("tiering",), heard=()):
    """A browser context holding the session cookie of a customer who joined
    and linked Instagram (and whose posts ``heard`` listening kept)."""
    http = joined_customer(customer_hq, caplog, scopes=scopes)
    customer_side(customer_hq.app).builder.build()
    if heard:
        heard_from(customer_hq, http, heard)
    context = browser.new_context(viewport=PHONE)
    context.add_cookies([{"name": COOKIE, "value": http.cookies[COOKIE], "url": customer_hq.url}])
    return context


@pytest.mark.slow
def test_me_shows_what_was_heard_as_text_and_removes_it(customer_hq, browser, caplog, output_dir):
    posts = ("<b>40 minutes</b> at the till in Storgata", "Thanks to Ana at Storgata ❤️")
    context = signed_in_context(browser, customer_hq, caplog, ("tiering", "listening"), posts)
    try:
        me = context.new_page()
        me.goto(customer_hq.url + "/me?lang=en")
        me.wait_for_selector("#heard li.heard-post")
        assert me.locator("#heard .heard-text").all_text_contents() == list(posts)   # markup shown as text
        assert me.locator("#heard b").count() == 0
        complaint = me.locator("#heard li.heard-post", has_text="40 minutes")
        assert "Read as: a complaint about the queue" in complaint.text_content()
        assert "instagram" in complaint.text_content() and "Storgata" in complaint.text_content()
        me.screenshot(path=str(output_dir / "me-heard.png"), full_page=True)
        complaint.locator("button.heard-remove").click()
        me.click("#confirm-yes")
        me.wait_for_selector("#status:has-text('Done: removed')")
        me.locator("#heard li.heard-post").nth(1).wait_for(state="detached")
        assert me.locator("#heard .heard-text").all_text_contents() == [posts[1]]
        me.click(".lang[data-lang='nb']")
        me.wait_for_selector("#heard-title:has-text('Det vi har fanget opp fra deg')")
        me.click("#heard-remove-all")
        me.click("#confirm-yes")
        me.wait_for_selector("#no-heard:not([hidden])")
        assert me.locator("#heard li").count() == 0 and me.is_hidden("#heard-remove-all")
    finally:
        context.close()


def test_me_in_norwegian(customer_hq, browser, caplog):
    context = signed_in_context(browser, customer_hq, caplog)
    try:
        me = context.new_page()
        me.goto(customer_hq.url + "/me?lang=nb")
        me.wait_for_selector("#card-level:has-text('Murdoch-service')")
        assert me.text_content("#why-title") == "Hvorfor dette nivået"
        assert "medianen" in me.inner_text("#why")
        me.click(".lang[data-lang='en']")
        me.wait_for_selector("#why-title:has-text('Why this tier')")
    finally:
        context.close()


def test_signed_out_me_points_to_join_without_an_error(customer_hq, browser):
    context = browser.new_context(viewport=PHONE)
    try:
        me = context.new_page()
        errors, failed = [], []
        me.on("console", lambda m: m.type == "error" and errors.append(m.text))
        me.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
        me.goto(customer_hq.url + "/me")
        me.wait_for_selector("#signed-out:not([hidden])")
        assert me.get_attribute("#join-link", "href") == "/join?lang=en"
        me.wait_for_load_state("networkidle")
        # Signed out is no error: nothing red in the console, no 4xx (the icon included).
        assert errors == [] and failed == []
        assert requests.get(customer_hq.url + "/favicon.ico", timeout=5).status_code == 200
    finally:
        context.close()


def _svg(text: str) -> str:
    from posplugin.hq.customers.passes import qr_svg
    assert segno.make(text, error="m", micro=False).mode == "alphanumeric"
    return qr_svg(text)


def test_the_pass_on_screen_renews_itself(hq, customer_hq, browser, caplog):
    context = signed_in_context(browser, customer_hq, caplog)
    try:
        me = context.new_page()
        me.clock.install()
        me.goto(customer_hq.url + "/me")
        me.wait_for_selector("#qr[data-pass]")
        first = me.get_attribute("#qr", "data-pass")
        hq.test_clock.now += 61
        me.clock.run_for(61_000)
        # The page's CSP forbids evaluated strings, so poll from here.
        for _ in range(50):
            if me.get_attribute("#qr", "data-pass") != first:
                break
            me.wait_for_timeout(100)
        renewed = me.get_attribute("#qr", "data-pass")
        assert renewed != first and renewed.startswith("PP1:")
    finally:
        context.close()


CUSTOMER_WORDS = {
    "en": {"staff_see": "What staff see:", "to_me": "Your page", "level": "MURDOCH-LEVEL SERVICE",
           "niches": ["running", "coffee"]},
    "nb": {"staff_see": "Dette ser de ansatte:", "to_me": "Din side", "level": "MURDOCH-SERVICE",
           "niches": ["løping", "kaffe"]},
}


@pytest.mark.slow
@pytest.mark.parametrize("hq_backend", ["sqlite"], indirect=True)  # the pages, not the database
@pytest.mark.parametrize("language", ["en", "nb"])
def test_join_and_me_at_every_screen_say_what_staff_see_in_the_customers_language(
        customer_hq, browser, caplog, output_dir, language):
    """/join in the customer's language (their ?lang= choice, kept): before
    agreeing, the consent step says what staff see and shows the card; after
    it, a way on to /me. Both fit each screen; dates in the language's one
    format; in Norwegian no English word is left over."""
    app, words = customer_hq.app, CUSTOMER_WORDS[language]
    english = english_only_words()
    context = browser.new_context(viewport=SCREENS["390x844"])
    try:
        page = context.new_page()
        errors = []
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.goto(customer_hq.url + f"/join?lang={language}")
        join_to_consent(page, caplog)
        assert page.evaluate("document.documentElement.lang") == language
        # Before agreeing: exactly what staff see, and the card they would see.
        assert words["staff_see"] in page.inner_text("#consent-staff-see")
        assert page.locator("#example-card .niche").all_text_contents() == words["niches"]
        assert page.inner_text("#example-level") == words["level"]
        for viewport in each_screen(page, output_dir, f"join-consent-{language}", full_page=True):
            no_horizontal_overflow(page, viewport)
            page.locator("#agree").scroll_into_view_if_needed()
            box_in_view(page, "#agree", viewport)
        if language == "nb":
            assert english_left_over(page.inner_text("body"), english) == []
        page.set_viewport_size(SCREENS["390x844"])
        page.click("#agree")
        page.wait_for_selector("#step-done:not([hidden])")
        page.click("#accounts li[data-platform=instagram] button")
        page.wait_for_url("**/join#linked=instagram")
        page.wait_for_selector("#step-done:not([hidden])")
        assert re.search(DATE[language], page.inner_text("#consent-given"))
        for viewport in each_screen(page, output_dir, f"join-done-{language}", full_page=True):
            no_horizontal_overflow(page, viewport)
        if language == "nb":
            assert english_left_over(page.inner_text("body"), english) == []
        assert customer_side(app).collector.run().measured == 1
        assert customer_side(app).builder.build()["customers"] == 1
        # On to /me, where the pass is; a new page remembers the language chosen.
        assert words["to_me"] in page.inner_text("#to-me")
        page.click("#to-me")
        page.wait_for_selector("#qr[data-pass]")
        page.goto(customer_hq.url + "/me")
        page.wait_for_selector("#qr[data-pass]")
        assert page.evaluate("document.documentElement.lang") == language
        body = page.inner_text("body")
        assert re.search(DATE[language], page.inner_text("#why")), page.inner_text("#why")
        assert re.search(DATE[language], page.inner_text("#accounts"))
        assert not re.search(OTHER_DATES, body), re.search(OTHER_DATES, body)
        if language == "nb":
            assert english_left_over(body, english) == []
        for viewport in each_screen(page, output_dir, f"me-{language}", full_page=True):
            no_horizontal_overflow(page, viewport)
            page.locator("#qr").scroll_into_view_if_needed()
            qr = page.locator("#qr").bounding_box()
            assert qr["width"] >= min(250, viewport["width"] - 40), qr  # big enough to scan
        assert errors == []
    finally:
        context.close()
