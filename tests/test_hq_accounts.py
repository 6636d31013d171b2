"""Accounts customers link (posplugin.hq.customers.accounts) over HTTP, as an
attacker would try them: a link is finished only by the browser that started
it, one platform account belongs to one customer at a time, and a handle
counts only once its owner proved it (the phrase in its bio or a post)."""

import re
from urllib.parse import unquote

import pytest
import requests
from helpers import customer_page, joined_customer
from platform_standins import Account

from posplugin.hq.web.join import customer_side

OTHER_PHONE = "+47 900 00 077"


def accounts_of(server, session) -> dict:
    """The platforms the customer of ``session`` has linked (or given), by name."""
    answer = session.get(server.url + "/hq/v1/join/session", timeout=10).json()
    return {a["platform"]: a for a in answer.get("accounts", [])}


def test_a_link_is_finished_only_by_the_browser_that_started_it(customer_hq, standins, caplog):
    """The attacker starts a link in their own session and gets the victim to
    approve it with the victim's big account: the callback arrives in the
    victim's browser, without the attacker's session, and links nothing."""
    attacker = joined_customer(customer_hq, caplog, phone=OTHER_PHONE, link=None)
    standins.accounts["instagram"].followers = 2_000_000
    standins.login_as["instagram"] = "17841400000099999"  # the victim approves, logged in as themself
    for victim in (requests.Session(), joined_customer(customer_hq, caplog, link=None)):  # no cookie; their own
        authorize_url = attacker.post(customer_hq.url + "/hq/v1/join/accounts/instagram/link",
                                      timeout=10).json()["authorize_url"]
        landed = victim.get(authorize_url, timeout=10)
        assert "#link_error=" in landed.url and "another browser" in unquote(landed.url)
        assert accounts_of(customer_hq, attacker) == {} and accounts_of(customer_hq, victim) == {}
    # The state is spent: the attacker cannot use it from their own browser afterwards either.
    again = attacker.get(authorize_url, timeout=10)
    assert "#link_error=" in again.url and accounts_of(customer_hq, attacker) == {}


def test_one_platform_account_belongs_to_one_customer(customer_hq, standins, caplog):
    standins.login_as["instagram"] = "17841400000012345"
    first = joined_customer(customer_hq, caplog)  # links it, measured
    second = joined_customer(customer_hq, caplog, phone=OTHER_PHONE, link=None)
    start = second.post(customer_hq.url + "/hq/v1/join/accounts/instagram/link", timeout=10).json()
    landed = second.get(start["authorize_url"], timeout=10)
    assert "#link_error=" in landed.url and "another customer" in unquote(landed.url)
    assert accounts_of(customer_hq, second) == {}
    assert accounts_of(customer_hq, first)["instagram"]["status"] == "measured"
    # The holder is told, on their own page.
    audit = first.get(customer_hq.url + "/hq/v1/me", timeout=10).json()["audit"]
    assert any(line["action"] == "link_refused" for line in audit), audit
    # Another account of the same platform is no one's: linking it works.
    standins.login_as["instagram"] = "17841400000054321"
    start = second.post(customer_hq.url + "/hq/v1/join/accounts/instagram/link", timeout=10).json()
    assert second.get(start["authorize_url"], timeout=10).url.endswith("/join#linked=instagram")
    # Once the first customer unlinks, the account may be linked by the second.
    first.delete(customer_hq.url + "/hq/v1/join/accounts/instagram", timeout=10)
    standins.login_as["instagram"] = "17841400000012345"
    start = second.post(customer_hq.url + "/hq/v1/join/accounts/instagram/link", timeout=10).json()
    assert second.get(start["authorize_url"], timeout=10).url.endswith("/join#linked=instagram")
    assert customer_side(customer_hq.app).collector.run().measured == 1


@pytest.mark.browser
def test_a_handle_is_given_and_proved_on_the_join_page(customer_hq, standins, browser, caplog):
    platforms = customer_side(customer_hq.app).accounts.platforms
    platforms["instagram"].discovery_token = standins.issue("instagram", "17841400000000099")  # the chain's own
    standins.accounts["instagram:bluebottle"] = Account(267793, [(5000, 300)] * 12, user_id="17841400000267793")
    http = joined_customer(customer_hq, caplog, link=None)
    with customer_page(browser, customer_hq, http) as page:
        page.goto(customer_hq.url + "/join")
        page.wait_for_selector("#step-done:not([hidden])")
        page.fill("#handle", "@BlueBottle")
        page.click("#handle-form button[type=submit]")
        state = page.wait_for_selector("li[data-platform=instagram] .state:has-text('posplugin-')")
        phrase = re.search(r"posplugin-[a-z0-9]{8}", state.inner_text()).group(0)
        page.click("li[data-platform=instagram] button.check")
        page.wait_for_selector("#error:has-text('not in the bio')")  # not there yet
        standins.accounts["instagram:bluebottle"].biography = f"Coffee roasters · {phrase}"
        page.click("li[data-platform=instagram] button.check")
        page.wait_for_selector("li[data-platform=instagram] .state:has-text('measured')")
        assert page.locator("li[data-platform=instagram] button.check").count() == 0
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
