"""The Odoo 17 POS module in hooks/odoo/posplugin_pos: its manifest names real
files, posplugin never loads it as a plugin, and its posplugin-calling
function (a plain ES module) works in real headless Chromium from another
origin against a real posplugin server, failing open on every error."""

import ast
import re
import socket
import time

import pytest
from helpers import free_port
from flask import Flask, Response

from posplugin.plugins import Plugins
from posplugin.resources import hooks_dir
from posplugin.store.service import Store
from posplugin.store.web.app import create_app
from posplugin.web.server import BackgroundServer

MODULE = hooks_dir() / "odoo" / "posplugin_pos"
CLIENT_JS = MODULE / "static" / "src" / "posplugin_client.js"


def manifest() -> dict:
    return ast.literal_eval((MODULE / "__manifest__.py").read_text(encoding="utf-8"))


def test_manifest_parses_and_names_existing_files():
    m = manifest()
    assert m["depends"] == ["point_of_sale"] and m["installable"] is True
    assert m["version"].startswith("17.0.")
    assets = m["assets"]["point_of_sale._assets_pos"]
    assert assets and set(m["assets"]) == {"point_of_sale._assets_pos"}
    for path in assets:
        assert path.startswith("posplugin_pos/") and "*" not in path
        assert (MODULE.parent / path).is_file(), path
    for path in m["data"]:
        assert (MODULE / path).is_file(), path
    # The Python side compiles (it imports odoo, so it is compiled, not imported)
    # and every models/ module it imports is there.
    for path in MODULE.rglob("*.py"):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    for name in re.findall(r"from \. import (\w+)", (MODULE / "models" / "__init__.py").read_text()):
        assert (MODULE / "models" / f"{name}.py").is_file()
    # The JS imports the client by its Odoo module name, and the template name matches.
    glue = (MODULE / "static" / "src" / "posplugin_pos.js").read_text(encoding="utf-8")
    assert '"@posplugin_pos/posplugin_client"' in glue and "/** @odoo-module */" in glue
    template = re.search(r'static template = "([\w.]+)"', glue).group(1)
    assert f't-name="{template}"' in (MODULE / "static" / "src" / "posplugin_card.xml").read_text()
    assert "import " not in CLIENT_JS.read_text(encoding="utf-8")  # no Odoo imports


def test_the_odoo_module_is_never_loaded_as_a_plugin(settings):
    # hooks_dir is read flat (*.py), so the Odoo module's files are not plugins...
    plugins = Plugins(settings.replace(hooks_dir=str(MODULE.parent.parent)), entry_points=False)
    names = {name for name, _ in plugins.names()}
    assert not names & {"__manifest__", "pos_config", "pos_session", "posplugin_pos"}
    assert not any("odoo" in error for error in plugins.errors)
    # ...and a bundled plugin name cannot reach into a subfolder.
    plugins = Plugins(settings.replace(plugins="odoo/posplugin_pos/models/pos_config"), entry_points=False)
    assert plugins.names() == [] and "not a bundled plugin name" in plugins.errors[0]


# --- the client function in Chromium --------------------------------------------------------

# Just enough of Odoo 17's modules for the glue (posplugin_pos.js) to run: the
# names it imports, with the documented behaviour of patch() (super reaches
# the patched method). Not Odoo: a check of the glue's own logic.
ODOO_STUBS = {
    "@odoo/owl": "export class Component {}",
    "@web/core/registry": """export const added = [];
        export const registry = {category: (name) => ({add: (key, value) => added.push([name, key, value])})};""",
    "@web/core/utils/patch": """export function patch(obj, extension) {
        const original = Object.create(Object.getPrototypeOf(obj));
        for (const key of Object.getOwnPropertyNames(obj)) {
            Object.defineProperty(original, key, Object.getOwnPropertyDescriptor(obj, key));
        }
        Object.setPrototypeOf(extension, original);
        for (const key of Object.getOwnPropertyNames(extension)) {
            Object.defineProperty(obj, key, Object.getOwnPropertyDescriptor(extension, key));
        }
    }""",
    "@point_of_sale/app/store/models": """export class Order {
        constructor(pos, uid) { this.pos = pos; this.uid = uid; this.partner = null; }
        get_partner() { return this.partner; }
        set_partner(partner) { this.partner = partner; }
    }""",
    "@point_of_sale/app/store/pos_store": """export class PosStore {
        async setup(config) { this.config = config; this.selectedOrder = null; this.user = {name: "Admin"}; }
        get_order() { return this.selectedOrder; }
        get_cashier() { return {name: "Ana"}; }
    }""",
    "@point_of_sale/app/store/pos_hook": "export function usePos() { return globalThis.currentPos; }",
}
STUB_PATHS = {name: "/stub/" + name.strip("@").replace("/", "_") + ".js" for name in ODOO_STUBS}


@pytest.fixture
def pos_origin():
    """A stand-in for the Odoo POS: another origin serving a page, the client
    module, the glue and stubs of the Odoo modules the glue imports."""
    app = Flask("fake_odoo_pos")
    imports = dict(STUB_PATHS, **{"@posplugin_pos/posplugin_client": "/posplugin_client.js"})

    @app.get("/")
    def page():
        import json
        return Response("<!doctype html><title>POS</title>"
                        f'<script type="importmap">{json.dumps({"imports": imports})}</script><p>POS</p>',
                        mimetype="text/html")

    @app.get("/posplugin_client.js")
    def client():
        return Response(CLIENT_JS.read_text(encoding="utf-8"), mimetype="text/javascript")

    @app.get("/posplugin_pos.js")
    def glue():
        return Response((CLIENT_JS.parent / "posplugin_pos.js").read_text(encoding="utf-8"),
                        mimetype="text/javascript")

    @app.get("/stub/<name>")
    def stub(name):
        source = {path: ODOO_STUBS[module] for module, path in STUB_PATHS.items()}["/stub/" + name]
        return Response(source, mimetype="text/javascript")

    server = BackgroundServer(app, threads=4, ).start()
    yield server
    server.stop()


@pytest.fixture
def posplugin(settings, loaded_store, pos_origin):
    """The store service, allowing the POS's origin (CORS)."""
    loaded_store.close()
    store = Store(settings.replace(cors_origins=pos_origin.url))
    server = BackgroundServer(create_app(store=store)).start()
    yield server
    server.stop()
    store.close()


CALL = """async ([fn, args]) => {
    const m = await import(location.origin + "/posplugin_client.js");
    const started = performance.now();
    try {
        const result = await m[fn](args);
        return {result, ms: performance.now() - started};
    } catch (error) {
        return {threw: String(error), ms: performance.now() - started};
    }
}"""


@pytest.mark.browser
def test_identify_from_the_pos_page_returns_the_prompt(open_page, pos_origin, posplugin, tokens):
    page = open_page(pos_origin, "/", "")
    # The answers are what this test checks: a deadline far above the till's
    # 500 ms (test_the_client_fails_open checks that one), or a whole-suite run
    # on a busy machine gets null for a slow first cross-origin call.
    settings = {"url": posplugin.url + "/", "token": tokens["till"], "lane": "3", "timeoutMs": 10_000}

    def call(fn, **args):
        done = page.evaluate(CALL, [fn, {**settings, **args}])
        assert "threw" not in done and done["result"] is not None, done   # null: refused or too slow (ms)
        return done["result"]

    answer = call("identifyCustomer", partner={"name": "Sam Eyre", "phone": "+47 412 34 567", "email": False},
                  saleId="Order 00001-001-0001")
    assert answer["known"] is True and answer["service_level"] == "murdoch"
    prompt = answer["prompt"]
    assert prompt["level"] == "murdoch" and prompt["lane"] == "3" and "Sam" in prompt["title"]
    assert prompt["niches"] == ["running", "coffee"] and "4,200 followers" in prompt["body"]
    # Phone not on the list, email is: the email is tried next.
    answer = call("identifyCustomer", partner={"name": "Mia", "phone": "+47 999 99 999",
                                               "mobile": False, "email": "micro.mia@example.com"})
    assert answer["known"] is True and answer["prompt"]["level"] == "priority"
    # An everyday customer: an answer, no prompt.
    answer = call("identifyCustomer", partner={"name": "Lee", "phone": "+47 900 00 000"})
    assert answer["known"] is False and answer["prompt"] is None
    # "On it", then "Done".
    taken = call("promptAction", promptId=prompt["id"], action="ack", by="Ana")
    assert taken["status"] == "taken" and taken["taken_by"] == "Ana"
    resolved = call("promptAction", promptId=prompt["id"], action="resolve", by="Ana")
    assert resolved["status"] == "resolved"


@pytest.mark.browser
def test_the_client_fails_open(open_page, pos_origin, posplugin, tokens, settings):
    page = open_page(pos_origin, "/", "")
    sam = {"name": "Sam", "phone": "+47 412 34 567"}

    def call(fn, args):
        done = page.evaluate(CALL, [fn, args])
        assert "threw" not in done, done
        return done

    good = {"url": posplugin.url, "token": tokens["till"], "lane": "3", "partner": sam}
    # Nothing listening: null at once.
    dead = call("identifyCustomer", {**good, "url": f"http://127.0.0.1:{free_port()}", "timeoutMs": 500})
    assert dead["result"] is None and dead["ms"] < 1500
    # Listening but never answering: null when the timeout is up, not later.
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        started = time.monotonic()
        slow = call("identifyCustomer", {**good, "url": f"http://127.0.0.1:{hung.getsockname()[1]}",
                                         "timeoutMs": 300})
        assert slow["result"] is None and 250 <= slow["ms"] < 1000
        assert time.monotonic() - started < 3
        slow_ack = call("promptAction", {**good, "url": f"http://127.0.0.1:{hung.getsockname()[1]}",
                                         "promptId": 1, "action": "ack", "by": "Ana", "timeoutMs": 300})
        assert slow_ack["result"] is None and slow_ack["ms"] < 1000
    # Refused: a wrong token, a prompt that does not exist.
    assert call("identifyCustomer", {**good, "token": "pp_wrong"})["result"] is None
    assert call("promptAction", {**good, "promptId": 999999, "action": "ack", "by": "Ana"})["result"] is None
    # A posplugin that does not allow this origin (no cors_origins): the browser blocks it; null.
    other = Store(settings.replace(data_dir=settings.data_dir.parent / "other"))
    no_cors = BackgroundServer(create_app(store=other)).start()
    try:
        assert call("identifyCustomer", {**good, "url": no_cors.url})["result"] is None
    finally:
        no_cors.stop()
        other.close()
    # Nonsense in, null out; never a throw.
    for fn, args in [
        ("identifyCustomer", None),
        ("identifyCustomer", {}),
        ("identifyCustomer", {**good, "partner": None}),
        ("identifyCustomer", {**good, "partner": {"name": "No contact", "phone": False, "email": False}}),
        ("identifyCustomer", {**good, "url": "::not a url::"}),
        ("identifyCustomer", {**good, "url": ""}),
        ("identifyCustomer", {**good, "lane": ""}),
        ("identifyCustomer", {**good, "timeoutMs": "soon"}),
        ("promptAction", {**good, "promptId": 1, "action": "delete", "by": "Ana"}),
        ("promptAction", {**good, "promptId": "x", "action": "ack"}),
    ]:
        assert call(fn, args)["result"] is None, (fn, args)
    # A fetch that throws, or answers something that is not JSON.
    for body in ["() => { throw new Error('boom'); }",
                 "async () => new Response('<html>proxy error</html>', {status: 200})",
                 "async () => new Response('null', {status: 200})"]:
        done = page.evaluate(f"""async (args) => {{
            const m = await import(location.origin + "/posplugin_client.js");
            try {{ return {{result: await m.identifyCustomer({{...args, fetch: {body}}})}}; }}
            catch (error) {{ return {{threw: String(error)}}; }}
        }}""", good)
        assert done == {"result": None}, body


GLUE = """async (config) => {
    const wait = async (check) => {
        for (let i = 0; i < 50 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
        return check();
    };
    const glue = await import(location.origin + "/posplugin_pos.js");
    const {Order} = await import("@point_of_sale/app/store/models");
    const {PosStore} = await import("@point_of_sale/app/store/pos_store");
    const {added} = await import("@web/core/registry");
    const out = {registered: added.map(([name, key]) => `${name}:${key}`)};
    const pos = new PosStore();
    await pos.setup(config);
    globalThis.currentPos = pos;
    const card = new glue.PospluginCard();
    card.setup();
    const order = new Order(pos, "uid-1");
    pos.selectedOrder = order;
    order.set_partner({id: 1, name: "Sam Eyre", phone: "+47 412 34 567", email: false});
    out.partnerSet = order.get_partner().id === 1;
    out.shown = (await wait(() => card.card)) ? card.card.prompt : null;
    await pos.pospluginAct("ack");
    out.taken = card.card && card.card.prompt;
    // Another order on screen: its card is not this one.
    const other = new Order(pos, "uid-2");
    pos.selectedOrder = other;
    out.hiddenOnOtherOrder = card.card === null;
    pos.selectedOrder = order;
    await pos.pospluginAct("resolve");
    out.afterDone = pos.pospluginCard;
    // An order that is not on screen (restored at start) asks nothing.
    const asked = pos.pospluginAsked;
    new Order(pos, "uid-3").set_partner({id: 2, name: "Mia", email: "micro.mia@example.com"});
    out.restoredAsked = pos.pospluginAsked !== asked;
    // The same customer set again asks nothing; removing the customer clears the card.
    order.set_partner(order.get_partner());
    out.sameAsked = pos.pospluginAsked !== asked;
    order.set_partner(null);
    out.clearedCard = pos.pospluginCard;
    return out;
}"""


@pytest.mark.browser
@pytest.mark.slow
def test_the_glue_over_stubbed_odoo_modules(open_page, pos_origin, posplugin, tokens, settings):
    page = open_page(pos_origin, "/", "")
    config = {"id": 7, "posplugin_url": posplugin.url, "posplugin_token": tokens["till"], "posplugin_lane": "3"}
    out = page.evaluate(GLUE, config)
    assert out["registered"] == ["main_components:PospluginCard"]
    assert out["partnerSet"] is True
    assert out["shown"]["level"] == "murdoch" and out["shown"]["lane"] == "3"
    assert out["taken"]["status"] == "taken" and out["taken"]["taken_by"] == "Ana"
    assert out["hiddenOnOtherOrder"] is True and out["afterDone"] is None
    assert out["restoredAsked"] is False and out["sameAsked"] is False and out["clearedCard"] is None
    # posplugin down or not configured: the customer is still set, no card, no throw.
    for broken in ({**config, "posplugin_url": f"http://127.0.0.1:{free_port()}"},
                   {**config, "posplugin_url": False}, {"id": 8}):
        out = page.evaluate(GLUE, broken)
        assert out["partnerSet"] is True and out["shown"] is None and out["clearedCard"] is None


def test_a_plain_install_ships_every_file_of_the_module():
    """setup.cfg's package data covers each file (what `pip install .` copies;
    checked by hand with `pip install . --target`)."""
    import configparser
    from fnmatch import fnmatch
    cfg = configparser.ConfigParser()
    cfg.read(hooks_dir().parent / "setup.cfg")
    patterns = [p.strip() for p in cfg["options.package_data"]["posplugin.hooks"].split("\n") if p.strip()]
    files = [p.relative_to(hooks_dir()).as_posix() for p in (hooks_dir() / "odoo").rglob("*")
             if p.is_file() and "__pycache__" not in p.parts]
    assert len(files) >= 10
    for name in files:
        # setuptools' package_data globs do not cross folders: match folder by folder.
        assert any(fnmatch(name, p) and name.count("/") == p.count("/") for p in patterns), name
