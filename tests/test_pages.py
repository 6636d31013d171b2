"""The cashier's card and the floor tablet in a real headless Chromium."""

import pytest
from conftest import identify

from posplugin.web.app import create_app
from posplugin.web.server import BackgroundServer

pytestmark = pytest.mark.browser

TABLET_LANDSCAPE = {"width": 1280, "height": 800}
TABLET_PORTRAIT = {"width": 800, "height": 1280}
XSS = "<img src=x onerror=alert(1)>"


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
    till.wait_for_selector("#taken:has-text('floor')", timeout=2000)
    assert till.is_disabled("#ack")
    floor.screenshot(path=str(output_dir / "floor-tablet-landscape.png"))
    # Done on the floor clears the till's card.
    floor.click(f"li.prompt[data-id='{prompt['id']}'] button.done")
    till.wait_for_selector("#card.level-none", timeout=2000)


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
    floor.fill("#me", "Ana")
    floor.select_option("#pain-kind", "instructions")
    floor.fill("#pain-note", "self-checkout sign is upside down")
    floor.click("#pain button[type=submit]")
    floor.wait_for_selector("li.prompt:has-text('upside down')")
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


@pytest.fixture(params=["staff"])
def web_pos(request, server, tokens):
    """A made-up web POS on its own origin whose page includes embed.js (on a
    screen facing staff, or with ``indirect`` params, facing the customer)."""
    import http.server
    import threading

    html = (f"<!doctype html><h1>Web POS</h1><script src='{server.url}/static/embed.js' "
            f"data-lane='3' data-token='{tokens['till']}' data-facing='{request.param}'></script>").encode()

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    pos = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=pos.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{pos.server_address[1]}/"
    pos.shutdown()


def test_embed_script_drops_the_card_into_a_pos_page(web_pos, clients, browser):
    context = browser.new_context(viewport=TABLET_LANDSCAPE)
    try:
        page = context.new_page()
        page.goto(web_pos)
        frame_element = page.wait_for_selector("iframe[title='posplugin service prompt']")
        card = frame_element.content_frame()
        card.wait_for_selector("#offline[hidden]", state="attached")
        card_prompt(clients)
        card.wait_for_selector("#card.level-murdoch")
        assert card.text_content("#name") == "Sam"
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
