"""`posplugin demo` as a new user runs it: one command, a store that answers."""

import pytest
from conftest import run_cli


@pytest.mark.slow
def test_demo_runs_a_store_with_tills_and_prompts(tmp_path):
    done = run_cli("demo", "--data", str(tmp_path / "demo"), "--port", "0", "--duration", "6",
                   "--pace", "0.2", timeout=90)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "posplugin demo store is running" in out
    assert "curl -s -X POST http://127.0.0.1:" in out and "Authorization: Bearer pp_" in out
    assert "/till?lane=1#token=pp_" in out and "/floor#token=pp_" in out
    lanes = [line for line in out.splitlines() if line.startswith("lane ")]
    assert len(lanes) >= 5
    assert any("PROMPT #" in line for line in lanes)
    assert {"everyday", "nano"} & {line.split()[3] for line in lanes}
    # Weeks of queue history were back-filled, and the queue simulator posts readings.
    import sqlite3
    conn = sqlite3.connect(tmp_path / "demo" / "posplugin.db")
    assert conn.execute("SELECT count(*) FROM queue_history").fetchone()[0] > 4 * 7 * 13 * 6 * 4 * 0.9
    assert conn.execute("SELECT count(*) FROM lanes").fetchone()[0] == 4
    conn.close()
    # The bundled Qminder and Square adapters got signed webhooks: a queue
    # ticket identified a known customer while queueing, and a sale made an
    # "after the sale" floor prompt.
    import re
    assert "/hooks/qminder/tickets" in out and "/hooks/square/payments" in out
    assert re.search(r"^qminder: ticket \d+ at lane [1-4] → queue-stage identify, known$", out, re.M)
    square = [int(n) for n in re.findall(r"^square: after-sale payment \S+ → floor prompt #(\d+)$", out, re.M)]
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
    assert re.search(r"^pass: lane [1-4]: \w+ shows their pass → verified, murdoch", out, re.M), out
    assert re.search(r"^pass: lane [1-4]: a screenshot of .* → refused \(422 pass_expired", out, re.M)
    assert '"type": "pass", "value": "PP1:' in out
    # Head office published the list, the store synced it and reported back.
    assert "head office: store has list version 1" in out and "/hq#token=hq_" in out
    hq = sqlite3.connect(tmp_path / "demo" / "hq" / "hq.db")
    # A few customers joined on /join; head office built version 2 on the demo list and the store took it.
    assert out.count("joined on /join, consented and linked a demo Instagram account") == 3
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
