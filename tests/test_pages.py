"""The cashier's card and the floor tablet in a real headless Chromium."""

import pytest
from helpers import (
    SCREENS,
    box_in_view,
    each_screen,
    english_left_over,
    english_only_words,
    font_px,
    identify,
    no_horizontal_overflow,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from servers import QuietHandler, serving

from posplugin.store.web.app import create_app
from posplugin.web.server import BackgroundServer

pytestmark = pytest.mark.browser

TABLET_LANDSCAPE = {"width": 1280, "height": 800}
TABLET_PORTRAIT = {"width": 800, "height": 1280}
XSS = "<img src=x onerror=alert(1)>"


def report_pain(floor, kind, note):
    """Report a pain point from the floor's top bar; waits for its card."""
    floor.click("#report")
    floor.select_option("#pain-kind", kind)
    floor.fill("#pain-note", note)
    floor.click("#pain button[type=submit]")
    floor.wait_for_selector(f"#prompts li.prompt:has-text('{note}')")


def card_prompt(clients, name="Sam"):
    """Identify the Murdoch-level customer at lane 3 as ``name``; the prompt made."""
    return identify(clients["till"], display_name=name).json()["prompt"]


def test_prompt_reaches_till_and_floor_and_taking_it_updates_the_till(open_page, server, clients, tokens,
                                                                      output_dir):
    till = open_page(server, "/till?lane=3", tokens["staff"])
    floor = open_page(server, "/floor", tokens["staff"], TABLET_LANDSCAPE)
    till.wait_for_selector("#offline[hidden]", state="attached")
    floor.wait_for_selector("#no-prompts:not([hidden])")
    prompt = card_prompt(clients)
    till.wait_for_selector("#card.level-murdoch", timeout=1000)
    assert till.text_content("#name") == "Sam"
    assert "4,200 followers" in till.text_content("#who")
    assert till.locator(".niche").all_text_contents() == ["running", "coffee"]
    floor.wait_for_selector(f"li.prompt[data-id='{prompt['id']}']", timeout=1000)
    till.screenshot(path=str(output_dir / "till-phone.png"))
    floor.click(f"li.prompt[data-id='{prompt['id']}'] button.take")
    floor.fill("#name-input", "Ana")   # asked once, on the first take
    floor.click("#name-save")
    till.wait_for_selector("#taken:has-text('Ana')", timeout=2000)
    assert till.is_disabled("#ack")
    floor.screenshot(path=str(output_dir / "floor-tablet-landscape.png"))
    # Done on the floor clears the till's card.
    floor.click(f"li.prompt[data-id='{prompt['id']}'] button.done")
    till.wait_for_selector("#card.level-none", timeout=2000)


def test_the_first_tap_on_the_floor_takes_its_prompt(open_page, server, clients, tokens):
    """The first tap also allows the alerts' sound, which hides "tap anywhere to
    allow sound": that must not move the page between the tap's press and its
    release, or the tap's button never gets the tap (a floor worker's first
    "Take" was lost)."""
    floor = open_page(server, "/floor", tokens["staff"], TABLET_LANDSCAPE, untouched=True)
    try:
        floor.wait_for_selector("#sound-hint:not([hidden])")
    except PlaywrightTimeout:  # say what the page had done
        state = floor.evaluate("""() => ({hint_hidden: document.getElementById("sound-hint").hidden,
            sound_button: document.getElementById("sound").textContent,
            name_button: document.getElementById("me").textContent,   // set once the words have loaded
            worker: navigator.serviceWorker && navigator.serviceWorker.controller ? "controls" : "none",
            audio: typeof AudioContext, ready: document.readyState})""")
        pytest.fail(f"the floor never asked for a tap to allow sound: {state}; page errors: {floor.errors}")
    prompt = card_prompt(clients)
    take = floor.locator(f"li.prompt[data-id='{prompt['id']}'] button.take")
    take.wait_for()
    floor.wait_for_timeout(300)   # the prompt's events are in: the list stands still
    box = take.bounding_box()
    floor.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    floor.mouse.down()
    floor.wait_for_timeout(300)   # a finger rests a moment
    floor.mouse.up()
    floor.wait_for_selector("#name-dialog[open]", timeout=3000)   # the tap took: asked for a name
    floor.wait_for_selector("#sound-hint[hidden]", state="attached", timeout=3000)   # and sound is allowed


def test_keyboard_shortcuts_on_the_till(open_page, server, clients, tokens):
    till = open_page(server, "/till?lane=3", tokens["till"])
    till.wait_for_selector("#empty")
    prompt = card_prompt(clients)
    till.wait_for_selector("#card.level-murdoch")
    till.keyboard.press("o")
    till.wait_for_selector("#ack[disabled]", state="attached")
    till.keyboard.press("d")
    till.wait_for_selector("#card.level-none")
    status = clients["staff"].get("/api/v1/prompts?status=resolved").json()["prompts"]
    assert [p["id"] for p in status] == [prompt["id"]]


def test_names_from_data_are_shown_as_text(open_page, server, clients, tokens):
    till = open_page(server, "/till?lane=3", tokens["till"])
    floor = open_page(server, "/floor", tokens["staff"], TABLET_PORTRAIT)
    till.wait_for_selector("#empty")
    card_prompt(clients, name=XSS)
    till.wait_for_selector("#card.level-murdoch")
    floor.wait_for_selector("li.prompt")
    assert till.text_content("#name") == XSS
    assert XSS in floor.text_content("li.prompt .prompt-title")
    assert till.locator("img").count() == 0 and floor.locator("img").count() == 0
    assert till.dialogs == [] and floor.dialogs == []


@pytest.mark.slow
def test_pages_survive_a_service_restart(open_page, loaded_store, clients, tokens, server, output_dir):
    floor = open_page(server, "/floor", tokens["staff"], TABLET_PORTRAIT)
    floor.wait_for_selector("#no-prompts")
    prompt = card_prompt(clients)
    floor.wait_for_selector(f"li.prompt[data-id='{prompt['id']}']")
    floor.wait_for_selector("#offline[hidden]", state="attached")
    # The shell is cached once the service worker is active (under load this takes a moment).
    floor.evaluate("navigator.serviceWorker.ready.then(() => true)")
    server.stop()
    floor.wait_for_selector("#offline:not([hidden])", timeout=5000)
    # The page keeps what it had while the service is down, and opens again
    # from the service worker's shell and its saved state.
    assert floor.locator(f"li.prompt[data-id='{prompt['id']}']").count() == 1
    floor.reload()
    floor.wait_for_selector(f"li.prompt[data-id='{prompt['id']}']", timeout=5000)
    floor.wait_for_selector("#offline:not([hidden])", timeout=5000)
    floor.screenshot(path=str(output_dir / "floor-offline.png"))
    again = BackgroundServer(create_app(store=loaded_store), port=server.port).start()
    try:
        pain = clients["staff"].post("/api/v1/painpoints", json={"kind": "stock", "note": "oat milk"}).json()
        floor.wait_for_selector("#offline[hidden]", state="attached", timeout=10000)
        floor.wait_for_selector(f"li.prompt[data-id='{pain['id']}']", timeout=5000)
        assert floor.locator(f"li.prompt[data-id='{prompt['id']}']").count() == 1
    finally:
        again.stop()


def test_floor_shows_lanes_recommendation_and_reports_pain(open_page, server, clients, tokens, output_dir):
    for lane, length in (("1", 2), ("2", 9), ("3", 4)):
        clients["queue"].post("/api/v1/queue", json={"lane": lane, "length": length})
    clients["till"].post("/api/v1/identify", json={"lane": "2", "stage": "queue", "identifier": {
        "type": "handle", "value": "bigben"}})
    floor = open_page(server, "/floor", tokens["staff"], TABLET_LANDSCAPE)
    floor.wait_for_selector("article.lane.status-long")
    assert floor.locator("article.lane").count() == 3
    assert "10,000" in floor.text_content("#reach")
    assert "open" in floor.text_content("#recommendation")
    assert floor.locator("article.lane svg polyline").count() == 3
    floor.click("#me")
    floor.fill("#name-input", "Ana")
    floor.click("#name-save")
    report_pain(floor, "instructions", "self-checkout sign is upside down")
    floor.screenshot(path=str(output_dir / "floor-tablet-lanes.png"), full_page=True)
    reported = [p for p in clients["staff"].get("/api/v1/prompts").json()["prompts"]
                if p.get("painpoint") == "instructions"]
    assert reported and "Ana" in reported[0]["body"]


def test_card_fits_a_320_pixel_window(open_page, server, clients, tokens, output_dir):
    till = open_page(server, "/till?lane=3", tokens["till"], {"width": 320, "height": 480})
    till.wait_for_selector("#offline[hidden]", state="attached")
    card_prompt(clients, name="Alexandria-Josephine")
    till.wait_for_selector("#card.level-murdoch")
    width = till.evaluate_handle("document.documentElement").get_property("scrollWidth").json_value()
    assert width <= 320
    till.screenshot(path=str(output_dir / "till-320.png"))


@pytest.fixture(params=["staff", "staff alerts"])
def web_pos(request, server, tokens):
    """A made-up web POS on its own origin whose page includes embed.js (on a
    screen facing staff, with alerts off or on, or with ``indirect`` params,
    facing the customer)."""
    facing, *alerts = request.param.split()
    html = (f"<!doctype html><h1>Web POS</h1><script src='{server.url}/static/embed.js' "
            f"data-lane='3' data-token='{tokens['till']}' data-facing='{facing}'"
            f"{' data-alerts=on' if alerts else ''}></script>").encode()

    class Page(QuietHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(html)

    with serving(Page) as pos:
        # The POS's origin is allowed to frame the card, as cors_origins would allow it.
        from posplugin.store.web.pages import frame_ancestors
        server.app.config["POSPLUGIN_FRAME_ANCESTORS"] = frame_ancestors(pos)
        yield pos + "/"


def test_embed_script_drops_the_card_into_a_pos_page(web_pos, clients, browser):
    context = browser.new_context(viewport=TABLET_LANDSCAPE)
    try:
        page = context.new_page()
        page.goto(web_pos)
        alerts_on = page.get_attribute("script[data-lane]", "data-alerts") == "on"
        frame_element = page.wait_for_selector("iframe[title='posplugin service prompt']")
        card = frame_element.content_frame()
        card.wait_for_selector("#offline[hidden]", state="attached")
        card_prompt(clients)
        card.wait_for_selector("#card.level-murdoch")
        assert card.text_content("#name") == "Sam"
        assert card.get_attribute("#sound", "aria-pressed") == ("true" if alerts_on else "false")
        assert card.text_content("#lane") == "Lane 3"
    finally:
        context.close()


@pytest.mark.parametrize("web_pos", ["customer"], indirect=True)
def test_embed_on_a_customer_facing_screen_never_shows_a_tier(web_pos, clients, browser):
    context = browser.new_context(viewport=TABLET_LANDSCAPE)
    try:
        page = context.new_page()
        warnings = []
        page.on("console", lambda m: warnings.append(m.text))
        page.goto(web_pos)
        page.wait_for_load_state("networkidle")
        card_prompt(clients)
        page.wait_for_timeout(500)
        assert page.query_selector("iframe") is None
        text = page.inner_text("body")
        for word in ("Murdoch", "Priority", "nano", "influencer", "followers"):
            assert word.lower() not in text.lower()
        assert any("staff only" in w for w in warnings)
    finally:
        context.close()


def test_pages_send_a_strict_content_security_policy(clients):
    for path in ("/till?lane=1", "/floor", "/static/floor.js"):
        response = clients[None].get(path)
        assert response.status_code == 200
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert clients[None].get("/static/../posplugin/app.py").status_code == 404


# -- A shift at every screen: what each user must see without scrolling ------------

SIZES = {"tablet": {"width": 1024, "height": 768}, "phone": {"width": 390, "height": 844},
         "till-side": {"width": 480, "height": 320}, "narrow-till": {"width": 320, "height": 480}}
WORDS = {"en": {"lane": "Lane 3", "urgent": "URGENT", "taken": "Taken at this till", "empty": "No prompt",
                "calm": "Back to normal at lane 1", "report": "Report a pain point", "resolved": "Resolved today: "},
         "nb": {"lane": "Kasse 3", "urgent": "HASTER", "taken": "Tatt her ved kassen", "empty": "Ingen varsel",
                "calm": "Tilbake til normalt ved kasse 1", "report": "Meld et problem", "resolved": "Løst i dag: "}}


@pytest.fixture(params=["en", "nb"])
def shift(request, settings, tmp_path):
    """A store mid-shift in ``language``: twenty after-sale invitations, two
    service prompts, then a long queue (an urgent pain prompt) raised last,
    and lane 1's earlier queue back to normal (its pain prompt calm)."""
    import io

    from helpers import tier_csv

    from posplugin.store import auth
    from posplugin.store.service import Store
    from posplugin.tiers.lists import import_csv

    store = Store(settings.replace(language=request.param))
    import_csv(store.tiers, io.StringIO(tier_csv()), store.hasher)
    with store.db.write() as conn:
        tokens = {role: auth.create_token(conn, role, f"t-{role}") for role in auth.ROLES}
    for i in range(20):
        store.after_sale("email", "micro.mia@example.com", display_name=f"Mia {i}", place="Café")
    store.queues.reading("1", 9)  # a long queue at lane 1 ...
    store.identify("1", "handle", "bigben", display_name="Ben")
    store.identify("4", "email", "micro.mia@example.com", display_name="Mia")
    for lane, length in (("1", 1), ("2", 12), ("3", 2), ("4", 0)):  # ... back to normal; lane 2 long
        store.queues.reading(lane, length)
    server = BackgroundServer(create_app(store=store), threads=8).start()
    server.language = request.param
    server.tokens = tokens
    server.store = store
    yield server
    server.stop()
    store.close()


def post(server, path, body, role="till"):
    import requests
    return requests.post(server.url + path, json=body, timeout=5,
                         headers={"Authorization": f"Bearer {server.tokens[role]}"}).json()


def test_till_card_shows_what_to_do_now_at_every_screen(open_page, shift, output_dir):
    words = WORDS[shift.language]
    till = open_page(shift, "/till?lane=3", shift.tokens["till"], SCREENS["480x320"])
    till.wait_for_selector("body[data-live='ready']")
    # An after-sale prompt at this lane is the floor's: the card stays on what to do at the till.
    amplify = shift.store.after_sale("handle", "bigben", lane="3", display_name="Ben")
    assert amplify["kind"] == "amplify" and amplify["lane"] == "3"
    till.wait_for_timeout(300)
    assert till.is_visible("#empty") and words["empty"] in till.text_content("#empty")
    post(shift, "/api/v1/identify", {"lane": "3", "identifier": {"type": "phone", "value": "+4741234567"},
                                     "display_name": "Alexandria-Josephine Montgomery-Smythe"})
    till.wait_for_selector("#card.level-murdoch")
    assert till.text_content("#lane") == words["lane"]
    sizes = {}
    for viewport in each_screen(till, output_dir, f"till-{shift.language}"):
        for selector in ("#level", "#name", "#action", "#ack", "#resolve"):
            box_in_view(till, selector, viewport)
        assert till.text_content("#action").strip(), "a card without its action line"
        assert till.evaluate("document.documentElement.scrollHeight") <= viewport["height"]
        no_horizontal_overflow(till, viewport)
        sizes[viewport["width"], viewport["height"]] = (font_px(till, "#name"), font_px(till, "#action"))
        # What the card shows fills the screen: no more than half of it is left blank.
        last = till.evaluate("Math.max(...[...document.querySelectorAll('#content > *')]"
                             ".filter((e) => e.offsetParent).map((e) => e.getBoundingClientRect().bottom))")
        top = till.locator("#ack").bounding_box()["y"]
        assert top - last < viewport["height"] * 0.5, (viewport, last, top)
    # Readable from a metre away, and bigger where the screen is bigger.
    assert all(name >= 22 and action >= 16 for name, action in sizes.values()), sizes
    assert sizes[800, 480][0] >= 40 and sizes[1366, 768][0] >= 48 and sizes[1024, 768][1] >= 24, sizes
    till.set_viewport_size(SCREENS["480x320"])
    till.click("#ack")
    till.wait_for_selector(f"#taken:has-text('{words['taken']}')")
    # Details, where they do not fit beside the action: they scroll inside the card, never under the buttons.
    if till.is_visible("#more"):
        till.click("#more")
    till.wait_for_selector("#who", state="visible")
    till.locator("#niches").scroll_into_view_if_needed()
    content, buttons = till.locator("#content").bounding_box(), till.locator(".card .buttons").bounding_box()
    assert content["y"] + content["height"] <= buttons["y"] + 0.5
    for selector in ("#niches", "#ack", "#resolve"):
        box_in_view(till, selector, SCREENS["480x320"])
    till.screenshot(path=str(output_dir / f"till-{shift.language}-480x320-details.png"))
    if shift.language == "nb":
        assert english_left_over(till.inner_text("body"), english_only_words()) == []
    assert till.errors == []


def test_floor_shows_what_is_live_first_at_every_screen(open_page, shift, output_dir):
    words = WORDS[shift.language]
    floor = open_page(shift, "/floor", shift.tokens["staff"], SCREENS["1024x768"])
    floor.wait_for_selector("article.lane.status-long")
    floor.wait_for_selector("#prompts li.prompt.calm")
    kinds = floor.eval_on_selector_all("#prompts > li", "els => els.map(e => [e.dataset.kind, e.className])")
    # Urgent pain first, then service at a till; the lane back to normal last and calm; no after-sale card.
    assert "level-urgent" in kinds[0][1] and kinds[0][0] == "pain"
    assert [k for k, _ in kinds[1:3]] == ["service", "service"]
    assert "calm" in kinds[-1][1] and kinds[-1][0] == "pain" and len(kinds) == 4
    calm = floor.locator("#prompts li.calm")
    assert words["calm"] in calm.text_content() and calm.locator("button.take").count() == 0
    assert "level-urgent" not in calm.get_attribute("class")
    assert floor.title().startswith("(1) ")  # the calm one is not urgent
    assert floor.text_content("#after-sale-count") == "20"
    for viewport in each_screen(floor, output_dir, f"floor-{shift.language}"):
        urgent = floor.locator("#prompts li.level-urgent").first.bounding_box()
        assert urgent["y"] < viewport["height"] - 40, f"the urgent card starts at {urgent['y']} px"
        box_in_view(floor, "article.lane[data-lane='2']", viewport)
        report = box_in_view(floor, "#report", viewport)
        assert words["report"] in floor.text_content("#report")
        if viewport["width"] < 900:  # the lanes' state first
            assert floor.locator("article.lane").first.bounding_box()["y"] < urgent["y"]
        if viewport["height"] > 520:  # each lane's normal and today's chart, portrait included
            box_in_view(floor, "article.lane[data-lane='2'] .lane-normal", viewport)
            assert floor.locator("article.lane[data-lane='2'] svg.chart").bounding_box()["height"] >= 20
        no_horizontal_overflow(floor, viewport)
        assert report["height"] >= 34
    # Reporting from the top bar, then resolving: what is done leaves the list and is counted.
    floor.set_viewport_size(SCREENS["1024x768"])
    if shift.language == "nb":
        floor.click("#after-sale summary")
        floor.click("#report")
        assert english_left_over(floor.inner_text("body"), english_only_words()) == []
        floor.click("#pain-cancel")
    floor.evaluate("localStorage.setItem('posplugin.name', 'Ana')")
    report_pain(floor, "stock", "oat milk")
    assert floor.text_content("#resolved-today") == words["resolved"] + "0"
    service = floor.locator("#prompts li[data-kind='service']").first
    service_id = service.get_attribute("data-id")
    service.locator("button.done").click()
    floor.wait_for_selector(f"#prompts li[data-id='{service_id}']", state="detached")
    assert floor.text_content("#resolved-today") == words["resolved"] + "1"
    shift.store.clock = lambda: __import__("time").time() + 11 * 60  # the other customer has left the till
    shift.store.tick()
    floor.wait_for_selector("#prompts li[data-kind='service']", state="detached")
    assert floor.errors == []


def test_floor_figures_agree_with_the_lane_tiles(open_page, shift):
    floor = open_page(shift, "/floor", shift.tokens["staff"], SIZES["tablet"])
    floor.wait_for_selector("article.lane.status-long")
    tile = floor.text_content("article.lane[data-lane='2'] .lane-line")
    card = floor.text_content("#prompts li.level-urgent .prompt-body")
    assert tile in card
    overview = requests_get(shift, "/api/v1/queues")
    lane2 = next(l for l in overview["lanes"] if l["lane"] == "2")
    minutes = round(lane2["wait_s"] / 60)
    assert str(minutes) in tile and str(minutes) in floor.text_content("#recommendation")


def requests_get(server, path):
    import requests
    return requests.get(server.url + path, timeout=5,
                        headers={"Authorization": f"Bearer {server.tokens['staff']}"}).json()


def test_after_sale_cards_are_grouped_with_name_place_age_and_expiry(open_page, shift):
    floor = open_page(shift, "/floor", shift.tokens["staff"], SIZES["tablet"])
    floor.wait_for_selector("#after-sale:not([hidden])")
    floor.click("#after-sale summary")
    item = floor.locator("#after-sale-list li").first
    text = item.text_content()
    assert "Mia" in text and "Café" in text
    assert ("expires in 30 min" in text) or ("utløper om 30 min" in text)


def test_floor_alerts_flash_and_count_urgent_prompts_in_the_title(open_page, server, clients, tokens):
    floor = open_page(server, "/floor", tokens["staff"], SIZES["tablet"], untouched=True)
    floor.wait_for_selector("body[data-live='ready']", state="attached")
    floor.wait_for_selector("#no-prompts:not([hidden])")
    assert floor.get_attribute("#sound", "aria-pressed") == "true"   # on by default on the floor
    assert floor.is_visible("#sound-hint")                             # no tap yet: sound not allowed
    floor.click("h1")                                                   # a tap allows sound
    floor.wait_for_selector("#sound-hint", state="hidden")
    clients["staff"].post("/api/v1/painpoints", json={"kind": "staff", "lane": "2"})
    floor.wait_for_function("() => document.body.dataset.alerts === '1'")
    assert floor.evaluate("document.body.dataset.lastAlert") == "sound"
    assert floor.title().startswith("(1) ")
    clients["staff"].post("/api/v1/painpoints", json={"kind": "queue", "lane": "1"})
    floor.wait_for_function("() => document.title.startsWith('(2) ')")


def test_till_alerts_are_off_by_default_and_remembered_when_turned_on(open_page, server, clients, tokens):
    till = open_page(server, "/till?lane=3", tokens["till"], SIZES["till-side"])
    till.wait_for_selector("#offline[hidden]", state="attached")
    assert till.get_attribute("#sound", "aria-pressed") == "false"
    card_prompt(clients)
    till.wait_for_selector("#card.level-murdoch")
    assert till.evaluate("document.body.dataset.alerts") is None
    till.click("#resolve")
    till.wait_for_selector("#card.level-none")
    till.click("#sound")
    assert till.get_attribute("#sound", "aria-pressed") == "true"
    till.reload()
    till.wait_for_selector("#sound[aria-pressed='true']")
    till.wait_for_selector("body[data-live='ready']", state="attached")  # a prompt made while loading never sounds
    clients["till"].post("/api/v1/identify", json={
        "lane": "3", "identifier": {"type": "handle", "value": "bigben"}, "display_name": "Ben"})
    till.wait_for_function("() => document.body.dataset.alerts === '1'")


def test_floor_asks_for_a_name_once_and_remembers_it(open_page, server, clients, tokens):
    floor = open_page(server, "/floor", tokens["staff"], SIZES["phone"])
    first = identify(clients["till"], lane="1", display_name="Sam").json()["prompt"]
    floor.wait_for_selector(f"li.prompt[data-id='{first['id']}']")
    floor.click(f"li.prompt[data-id='{first['id']}'] button.take")
    floor.wait_for_selector("#name-dialog[open]")
    floor.fill("#name-input", "Marte")
    floor.click("#name-save")
    floor.wait_for_selector(f"li.prompt[data-id='{first['id']}'] .taken:has-text('Marte')")
    assert floor.text_content("#me") == "You: Marte"
    floor.reload()
    second = clients["till"].post("/api/v1/identify", json={
        "lane": "2", "identifier": {"type": "handle", "value": "bigben"}}).json()["prompt"]
    floor.wait_for_selector(f"li.prompt[data-id='{second['id']}']")
    floor.click(f"li.prompt[data-id='{second['id']}'] button.take")
    floor.wait_for_selector(f"li.prompt[data-id='{second['id']}'] .taken:has-text('Marte')")
    assert not floor.is_visible("#name-dialog")
    taken = clients["staff"].get("/api/v1/prompts?status=taken").json()["prompts"]
    assert {p["taken_by"] for p in taken} == {"Marte"}


def test_root_is_an_index_of_the_pages_and_docs(clients):
    index = clients[None].get("/")
    assert index.status_code == 200 and index.headers["Content-Type"].startswith("text/html")
    for link in ('href="/floor"', 'href="/till?lane=1"', 'href="/docs/contract.md"', 'href="/api/v1/openapi.json"'):
        assert link in index.text
    contract = clients[None].get("/docs/contract.md")
    assert contract.status_code == 200 and contract.headers["Content-Type"].startswith("text/markdown")
    assert "405" in contract.text
    assert clients[None].get("/docs/../README.md").status_code == 404
    assert clients[None].get("/docs/nothing.md").status_code == 404


def test_every_page_has_an_icon_and_favicon_answers(clients):
    icon = clients[None].get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["Content-Type"].startswith("image/svg+xml")
    for path in ("/", "/floor", "/till?lane=1"):
        assert 'rel="icon"' in clients[None].get(path).text


def test_a_wrong_method_is_405_in_the_error_shape(clients):
    response = clients["till"].get("/api/v1/identify")
    assert response.status_code == 405
    assert response.json()["error"]["code"] and response.json()["error"]["message"]
