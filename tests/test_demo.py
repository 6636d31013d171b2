"""`posplugin demo` as a new user runs it: one command, a store that answers,
and a console a store manager can follow like a log of the shift."""

import json
import re
import socket
import sqlite3

import pytest
from helpers import ID_KEY, REPO, english_left_over, english_only_words, free_port, run_cli

from posplugin.demo.data import FIRST_NAMES, STAFF_NAMES

pytestmark = pytest.mark.slow


@pytest.mark.slow
def test_demo_runs_a_store_with_tills_and_prompts(tmp_path):
    done = run_cli("demo", "--data", str(tmp_path / "demo"), "--port", "0", "--duration", "6",
                   "--pace", "0.2", timeout=90)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "posplugin demo store is running" in out
    assert "curl -s -X POST http://127.0.0.1:" in out and "Authorization: Bearer pp_" in out
    assert "/till?lane=1#token=pp_" in out and "/floor#token=pp_" in out
    ports = re.search(r"ports: store (\d+), head office (\d+)", out)
    assert ports and f"127.0.0.1:{ports[1]}/floor" in out and f"127.0.0.1:{ports[2]}/hq" in out
    # Customers whose service a cashier must know about, in the figures the level follows from.
    lanes = [line for line in out.splitlines() if line.startswith("lane ")]
    assert len(lanes) >= 2 and all("PROMPT #" in line for line in lanes)
    assert all(re.match(r"lane [1-4]: \w+, [\d,]+ followers, about [\d,]+ engage with each post → "
                        r"(priority|Murdoch-level) service; PROMPT #\d+ on the cashier's card$", line) for line in lanes)
    # Queue readings are not told one by one (the minute's summary has them).
    assert not re.search(r"^queue: lane \d now", out, re.M)
    # The banner names the customer's pages; the shift ends with its summary.
    assert re.search(r"customers join here \(the code shows below\)\s+http://127.0.0.1:\d+/join$", out, re.M)
    assert re.search(r"a customer's own page and pass\s+http://127.0.0.1:\d+/me$", out, re.M)
    summary = out.strip().splitlines()[-1]
    assert re.match(r"The shift \(.+\): customers at the tills: \d+ \(\d+ standard, \d+ priority and \d+ "
                    r"Murdoch-level service\)\. Service prompts for the cashiers: \d+; staff took \d+", summary), summary
    # Nothing but the shift's story on the console: server logs go to a file.
    assert "waitress" not in out + done.stderr and " INFO " not in out + done.stderr
    assert (tmp_path / "demo" / "demo.log").exists()
    # Staff and customers never share a name; staff act after a while, not at once.
    took = re.findall(r"^floor: (\w+) took PROMPT #(\d+) after (\d+) s", out, re.M)
    assert took and {name for name, _, _ in took} <= set(STAFF_NAMES)
    customers = set(re.findall(r"^lane [1-4]: (\w+),", out, re.M))
    assert customers and not customers & set(STAFF_NAMES)
    assert "a everyday" not in out
    # Weeks of queue history were back-filled, and the queue simulator posts readings.
    conn = sqlite3.connect(tmp_path / "demo" / "posplugin.db")
    assert conn.execute("SELECT count(*) FROM queue_history").fetchone()[0] > 4 * 7 * 13 * 6 * 4 * 0.9
    assert conn.execute("SELECT count(*) FROM lanes").fetchone()[0] == 4
    conn.close()
    # The bundled Qminder and Square adapters got signed webhooks: a queue
    # ticket identified a known customer while queueing, and a sale made an
    # "after the sale" floor prompt.
    assert "/hooks/qminder/tickets" in out and "/hooks/square/payments" in out
    assert re.search(r"^qminder: ticket \d+ at lane [1-4] → a customer on the tier list", out, re.M)
    assert "still waiting" not in out  # one source for a lane's count: the queue lines
    square = [int(n) for n in re.findall(r"^square: payment \S+ at [^→]+ → after-sale PROMPT #(\d+)", out, re.M)]
    assert square
    assert "adapters: webhook not delivered" not in out
    conn = sqlite3.connect(tmp_path / "demo" / "posplugin.db")
    kinds = dict(conn.execute(f"SELECT id, kind FROM prompts WHERE id IN ({','.join('?' * len(square))})",
                              square).fetchall())
    assert kinds == {n: "amplify" for n in square}
    assert conn.execute("SELECT count(*) FROM visits WHERE stage = 'queue'").fetchone()[0] >= 1
    assert {row[0] for row in conn.execute("SELECT DISTINCT source FROM hook_events")} == {"qminder", "square"}
    conn.close()
    # The banner customer showed their pass at a till: verified, Murdoch-level;
    # an old screenshot of it was refused.
    assert re.search(r"^pass: lane [1-4]: \w+ shows the QR code from their page → confirmed, Murdoch-level", out,
                     re.M), out
    assert re.search(r"^pass: lane [1-4]: a screenshot of .* → refused: it has expired", out, re.M)
    assert '"type": "pass", "value": "PP1:' in out
    # Head office published the list, the store synced it and reported back.
    rows = re.search(r"head office: the store has list version 1 \(([\d,]+) customers\)", out)
    assert rows and "/hq#token=hq_" in out
    hq = sqlite3.connect(tmp_path / "demo" / "hq" / "hq.db")
    # README says how many customers the demo loads, and it is true.
    assert hq.execute("SELECT rows FROM versions WHERE version = 1").fetchone()[0] == int(rows[1].replace(",", ""))
    assert f"tier list of {rows[1]} customers" in (REPO / "README.md").read_text()
    # A few customers joined on /join; head office built version 2 on the demo list and the store took it.
    assert out.count("joined on /join, agreed and linked a demo Instagram account") == 3
    assert "built version 2 (3 joined customers on top of the demo list)" in out
    assert hq.execute("SELECT list_version FROM store_syncs").fetchone()[0] >= 2
    assert hq.execute("SELECT sum(made) FROM store_hours").fetchone()[0] >= 1
    # A holdout experiment with a known simulated effect reached head office per arm.
    assert re.search(r"^experiment: demo-holdout(-\d+)?, 20% held out", out, re.M), out
    arms = dict(hq.execute("SELECT arm, sum(n) FROM experiment_outcomes WHERE level = 'murdoch'"
                           " AND metric = 'return_7' GROUP BY arm").fetchall())
    assert arms["served"] > 3 * arms["holdout"] > 0
    assert hq.execute("SELECT sum(total) FROM experiment_outcomes WHERE metric = 'accepted'").fetchone()[0] > 0
    hq.close()
    # Listening: posts reached head office through the stand-in Jetstream (and
    # Instagram), and the floor showed heard prompts within seconds; the post
    # about another chain was dropped unread.
    floor = re.findall(r"^listening: heard PROMPT #(\d+) on the floor (\d+) s after the post: (.+)$", out, re.M)
    assert floor and all(int(seconds) <= 10 for _, seconds, _ in floor), out
    assert "listening: a customer praises the staff on Bluesky" in out
    assert "listening: a Bluesky post about another chain: not addressed to us" in out
    conn = sqlite3.connect(tmp_path / "demo" / "posplugin.db")
    heard = conn.execute(f"SELECT id, level, details FROM prompts WHERE kind = 'heard'"
                         f" AND id IN ({','.join(id_ for id_, _, _ in floor)})").fetchall()
    conn.close()
    assert len(heard) == len(floor)
    praise = [json.loads(details) for _, level, details in heard if json.loads(details)["tone"] == "praise"]
    assert praise and praise[0]["about"] == "staff" and praise[0]["response"] == "amplify"
    hq = sqlite3.connect(tmp_path / "demo" / "hq" / "hq.db")
    kept = [row[0] for row in hq.execute("SELECT text FROM heard_posts")]
    hq.close()
    assert kept and not any("other chain" in text for text in kept)
    # The data folders hold hashes only, never the made-up phone numbers or emails.
    for path in (tmp_path / "demo").rglob("*"):
        if path.is_dir():
            continue
        data = path.read_bytes()
        assert b"@example.com" not in data and b"+47 4" not in data, path.name


def test_demo_curl_example_is_a_prompted_customer(tmp_path):
    from posplugin.demo.data import banner_customer, synthetic_customers
    from posplugin.tiers.lists import parse_engagement
    from posplugin.tiers.policy import Policy

    customer, row = banner_customer(synthetic_customers())
    score = Policy().score(int(row["followers"]), parse_engagement(str(row["engagement_rate"])))
    assert score.service_level == "murdoch" and row["consent"] == "yes"



def test_staff_names_are_not_customer_names():
    assert STAFF_NAMES and not set(STAFF_NAMES) & set(FIRST_NAMES)


def test_demo_speaks_norwegian_on_the_ports_it_is_given(tmp_path):
    store_port, hq_port = free_port(), free_port()
    done = run_cli("demo", "--data", str(tmp_path / "demo"), "--port", str(store_port), "--hq-port", str(hq_port),
                   "--duration", "4", "--pace", "0.2", "--language", "nb", timeout=90)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "posplugin-demobutikken kjører" in out
    assert f"porter: butikk {store_port}, hovedkontor {hq_port}" in out
    assert f"http://127.0.0.1:{hq_port}/hq#token=" in out
    assert re.search(r"^kasse [1-4]: \w+, [\d\u00a0]+ følgere", out, re.M), out
    assert "hovedkontor: butikken har listeversjon 1 (9\u00a0707 kunder)" in out
    assert out.strip().splitlines()[-1].startswith("Vakten (")
    assert "waitress" not in out + done.stderr
    # Every line in Norwegian: the banner's labels, the shift, the summary.
    words = " ".join(w for w in out.split() if not re.search(r'[/=#_"-]|^pp_|^hq_|^PP1:', w))
    assert english_left_over(words, english_only_words()) == []


@pytest.mark.parametrize("how", ["environment", "ini"])
def test_the_demo_takes_its_language_from_the_environment_or_its_ini(tmp_path, how):
    """The demo reads its settings as every command does (the run above shows
    what a language does to the console)."""
    from posplugin import config
    from posplugin.demo.run import prepare_ini

    data = tmp_path / "demo"
    data.mkdir()
    if how == "environment":
        env = {"POSPLUGIN_LANGUAGE": "nb"}
    else:
        # An ini that only names the language, the key from the environment (as the message says).
        (data / "posplugin.ini").write_text("[posplugin]\nlanguage = nb\n")
        env = {"POSPLUGIN_ID_KEY": ID_KEY}
    prepare_ini(data, env)
    settings = config.load(data, environ=env)
    config.require_id_key(settings)
    assert settings.language == "nb"
    if how == "ini":
        ini = (data / "posplugin.ini").read_text()
        assert "language = nb" in ini and "id_key" not in ini  # the environment's key was used


@pytest.mark.parametrize("flag", ["--port", "--hq-port"])
def test_demo_refuses_a_taken_port_clearly(tmp_path, flag):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = free_port()
        ports = {"--port": port, "--hq-port": other} if flag == "--port" else {"--port": other, "--hq-port": port}
        done = run_cli("demo", "--data", str(tmp_path / "demo"), "--duration", "1",
                       *[str(x) for kv in ports.items() for x in kv], timeout=60)
    assert done.returncode == 2
    assert f"port {port} on 127.0.0.1 is taken" in done.stderr and flag in done.stderr
    assert "Traceback" not in done.stderr


def test_a_visitor_joins_with_the_code_the_console_shows_and_ctrl_c_sums_up_the_shift(tmp_path):
    """The banner names /join; a code asked for there shows on the console
    (masked number, the demo's console sender), and signs the visitor in.
    Ctrl-C then ends the demo with the shift in one paragraph."""
    import signal
    import subprocess
    import sys

    import requests

    from helpers import cli_env

    demo = subprocess.Popen([sys.executable, "-m", "posplugin", "demo", "--data", str(tmp_path / "demo"), "--port",
                             "0", "--hq-port", "0", "--duration", "60", "--pace", "2"], cwd=REPO, env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def line_matching(pattern):
        while True:
            line = demo.stdout.readline()
            assert line, demo.stderr.read()
            found = re.search(pattern, line)
            if found:
                return found

    try:
        join = line_matching(r"(http://127.0.0.1:\d+)/join$")[1]
        identifier = {"type": "phone", "value": "+47 412 77 777"}
        visitor = requests.Session()
        assert visitor.post(join + "/hq/v1/join/code", json={"identifier": identifier}, timeout=10).ok
        code = line_matching(r"^join: code (\d{6}) for \+•••77 \(the demo shows codes here")[1]
        signed_in = visitor.post(join + "/hq/v1/join/verify", json={"identifier": identifier, "code": code},
                                 timeout=10)
        assert signed_in.status_code == 200, signed_in.text
        assert visitor.get(join + "/hq/v1/join/session", timeout=10).json()["signed_in"] is True
        demo.send_signal(signal.SIGINT)
        out, err = demo.communicate(timeout=90)
    finally:
        demo.kill()
    assert demo.returncode == 0, err[-3000:]
    assert out.strip().splitlines()[-1].startswith("The shift ("), out[-500:]
    assert "412 77 777" not in out and "41277777" not in out  # masked, as the console sender logs it


def test_demo_customers_post_about_lane_2_while_it_is_long_and_the_floor_hears_it(tmp_path):
    import io
    import random
    import threading
    import time

    import requests

    from posplugin.demo.listening import simulate_listening
    from posplugin.demo.narrator import Narrator
    from posplugin.demo.run import start

    demo = start(tmp_path / "demo", port=0, hq_port=0, environ={"POSPLUGIN_ID_KEY": ID_KEY})
    out = io.StringIO()
    demo.narrator = Narrator(out, "en")
    thread = threading.Thread(target=simulate_listening, args=(demo, random.Random(1), out, 0.2), daemon=True)
    try:
        thread.start()
        queue = requests.Session()
        queue.headers["Authorization"] = f"Bearer {demo.tokens['queue']}"
        deadline = time.monotonic() + 30
        while not (heard := [p for p in demo.store.list_prompts() if p["kind"] == "heard"
                             and p["tone"] == "complaint"]):
            assert time.monotonic() < deadline, out.getvalue()
            queue.post(f"{demo.url}/api/v1/queue", json={"lane": "2", "length": 25}, timeout=5)
            time.sleep(0.3)
        time.sleep(1)   # the console's line comes from the same event
    finally:
        demo.stop.set()
        thread.join(5)
        demo.close()
    (complaint,) = heard
    assert (complaint["level"], complaint["lane"], complaint["about"]) == ("urgent", "2", "queue")
    said = out.getvalue()
    assert said.count("listening: lane 2 is long; a customer in it posts on Instagram") == 1   # once while long
    assert f"listening: heard PROMPT #{complaint['id']} on the floor" in said
