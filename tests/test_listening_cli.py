"""Listening's commands: ``posplugin hq store add/set`` (where a store is,
for routing), ``hq classify TEXT`` and ``hq heard``. Run in this process
(``posplugin.cli.main``) over a head office data folder on disk."""

from __future__ import annotations

import json
import os
import time

import pytest
from helpers import ID_KEY

from posplugin.cli import main
from posplugin.hq.listening.heard import Listening
from posplugin.hq.listening.placement import Placements
from posplugin.hq.listening.posts import Post
from posplugin.hq.office import HeadOffice


@pytest.fixture
def hq_cli(tmp_path, monkeypatch, capsys):
    """``hq_cli(*args)`` runs ``posplugin hq ARGS --data DIR`` here; returns (exit status, stdout, stderr)."""
    for name in [n for n in os.environ if n.startswith("POSPLUGIN_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("POSPLUGIN_ID_KEY", ID_KEY)
    monkeypatch.setenv("POSPLUGIN_CHAIN_HANDLES", "@nordshop")
    data = tmp_path / "hq"

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["hq", *args, "--data", str(data)])
        out, err = capsys.readouterr()
        return code, out, err
    run.data = data
    return run


def placements(data):
    office = HeadOffice(data, ID_KEY)
    try:
        return {p.store: p.to_json() for p in Placements(office.engine, office.clock).all()}
    finally:
        office.close()


def test_store_add_and_set_place_a_store_for_routing(hq_cli):
    code, out, err = hq_cli("store", "add", "Storgata", "--handles", "@nordshop_storgata, #Storgata")
    assert code == 0 and out.startswith("hq_") and "placed" in err
    code, out, _ = hq_cli("store", "set", "Storgata", "--place", "Storgata", "--instagram-location", "212988663")
    assert code == 0 and json.loads(out)["place"] == "Storgata"
    assert placements(hq_cli.data)["Storgata"] == {
        "store": "Storgata", "handles": ["@nordshop_storgata", "#storgata"], "place": "Storgata",
        "instagram_location": "212988663"}
    code, out, _ = hq_cli("store", "set", "Storgata", "--handles", "#storgata")   # only what is given changes
    assert json.loads(out) == {**placements(hq_cli.data)["Storgata"], "handles": ["#storgata"]}
    assert placements(hq_cli.data)["Storgata"]["place"] == "Storgata"


@pytest.mark.parametrize("args, code, says", [
    (("store", "set", "Storgata"), 2, "say what to set"),
    (("store", "set", "Nowhere", "--place", "Nowhere"), 1, "no store named 'Nowhere'"),
    (("store", "set", "Storgata", "--instagram-location", "not-a-number"), 1, "is a number"),
    (("store", "add", "Torget", "--instagram-location", "x"), 1, "is a number"),
])
def test_store_placement_refuses_what_it_cannot_use(hq_cli, args, code, says):
    hq_cli("store", "add", "Storgata")
    done, out, err = hq_cli(*args)
    assert (done, says in err, out) == (code, True, "")
    office = HeadOffice(hq_cli.data, ID_KEY)
    try:
        assert office.store_names() == ["Storgata"]        # no token made for a refused store
    finally:
        office.close()
    assert placements(hq_cli.data) == {}


@pytest.mark.parametrize("text, language, about, tone", [
    ("great, 40 minutes again at the till 🙄", "en", "queue", "complaint"),
    ("Tusen takk til den blide kassadamen!", "nb", "staff", "praise"),
    ("went shopping with my mum today", "en", "other", "neutral"),
])
def test_classify_prints_the_verdict_and_why(hq_cli, text, language, about, tone):
    code, out, _ = hq_cli("classify", text)
    lines = dict(line.split(": ", 1) for line in out.splitlines() if line.startswith(("about", "tone", "language")))
    assert code == 0 and lines == {"about": about, "tone": tone, "language": language}
    why = [line for line in out.splitlines() if line.startswith("why: ")]
    assert why and (tone == "neutral" or any(tone in line for line in why))


def test_classify_takes_the_language_and_a_chains_own_words(hq_cli, tmp_path, monkeypatch):
    assert "tone: neutral" in hq_cli("classify", "ræva i dag", "--language", "nb")[1]
    (tmp_path / "words.json").write_text(json.dumps({"nb": {"tone": {"complaint": ["ræva"]}}}))
    monkeypatch.setenv("POSPLUGIN_LISTEN_LEXICON", str(tmp_path / "words.json"))
    code, out, _ = hq_cli("classify", "ræva i dag", "--language", "nb")
    assert code == 0 and "tone: complaint" in out and "'ræva'" in out


def test_heard_prints_the_inbox_with_response_times(hq_cli):
    hq_cli("store", "add", "Storgata", "--handles", "#storgata")
    office = HeadOffice(hq_cli.data, ID_KEY)
    now = time.time()
    listening = Listening(office.engine, clock=office.clock, chain_handles="@nordshop")
    slow = listening.hear(Post("instagram", "m1", "", "40 minutes at till 2 #storgata @nordshop \x1b[2J", now - 600))
    listening.hear(Post("bluesky", "b1", "", "love the new bakery @nordshop", now - 300))
    listening.floor_report("Storgata", [{"id": slow["id"], "prompt_at": now - 570, "taken_at": now - 480}], [])
    office.close()
    code, out, _ = hq_cli("heard")
    rows = out.splitlines()
    assert code == 0 and "Storgata" in rows[2] and "complaint" in rows[2] and "prompt 0.5 min, taken 2.0 min" in rows[2]
    assert "(chain)" in rows[0] and "praise" in rows[0]
    assert "\x1b" not in out and "40 minutes at till 2" in rows[3]      # a post cannot drive the terminal
    assert rows[-1] == "2 heard, 1 complaints, 1 praise; post to floor median 0.5 min, p95 0.5 min"
    code, out, _ = hq_cli("heard", "--store", "Storgata", "--json")
    answer = json.loads(out)
    assert [h["post_id"] for h in answer["heard"]] == ["m1"] and answer["figures"]["chain"]["to_taken"]["n"] == 1
