"""The command line as an operator uses it: separate processes, real files."""

import hashlib
import re
import shutil
from pathlib import Path

import pytest
import requests
from helpers import ID_KEY, cli, cli_env, free_port, run_cli, serve, start_hq, tier_csv

from posplugin.config import Settings
from posplugin.store.service import Store


def test_token_create_prints_only_the_token(tmp_path):
    done = cli("token", "create", "--role", "till", "--name", "till-3", "--data", str(tmp_path))
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert done.stdout == token + "\n" and token.startswith("pp_") and len(token) > 30
    # Stored hashed: the token itself is nowhere in the data folder.
    for path in tmp_path.iterdir():
        assert token.encode() not in path.read_bytes()
    listed = cli("token", "list", "--data", str(tmp_path)).stdout
    assert "till-3" in listed and token not in listed


def test_token_create_refuses_unknown_roles(tmp_path):
    done = cli("token", "create", "--role", "boss", "--name", "x", "--data", str(tmp_path))
    assert done.returncode == 2 and "invalid choice" in done.stderr


def test_serve_refuses_to_start_without_a_key(tmp_path):
    done = run_cli("serve", "--data", str(tmp_path), "--port", str(free_port()), timeout=20)
    assert done.returncode == 2
    assert "POSPLUGIN_ID_KEY" in done.stderr and "posplugin.ini" in done.stderr
    assert "`posplugin key create`" in done.stderr  # where a first store gets one


def test_the_command_line_speaks_in_sentences(tmp_path):
    """One row is a row; a bad row says every problem it has and echoes a bad
    type (never an identifier); a notice is a sentence, not a log line."""
    env = {"POSPLUGIN_ID_KEY": ID_KEY}
    bad = tmp_path / "bad.csv"
    bad.write_text(tier_csv([["fone", "+47 412 34 567", "many", "6.2%", "", "yes"]]))
    refused = run_cli("tiers", "import", str(bad), "--data", str(tmp_path), env=env)
    assert refused.returncode == 1
    assert "refused: 1 bad row, nothing loaded" in refused.stderr
    assert ("line 2: identifier_type 'fone' is not one of phone, email, loyalty_id, card_token, handle; "
            "followers must be a whole number, got 'many'") in refused.stderr
    assert "412 34 567" not in refused.stderr
    latin = tmp_path / "latin.csv"
    latin.write_bytes(tier_csv([["email", "søs@example.com", "1200", "5%", "", "yes"]]).encode("cp1252"))
    done = run_cli("tiers", "import", str(latin), "--data", str(tmp_path), env=env)
    assert done.returncode == 0 and done.stdout.startswith("1 row loaded (version 1; 0 customers opted out")
    notice = [line for line in done.stderr.splitlines() if "Latin-1" in line]
    assert notice and notice[0].startswith("posplugin: the file is not UTF-8 text")
    assert not re.search(r"\d{4}-\d{2}-\d{2}|WARNING", done.stderr), done.stderr


def test_config_says_where_each_value_came_from(tmp_path):
    (tmp_path / "posplugin.ini").write_text("[posplugin]\ntimezone = Europe/Oslo\n")
    done = run_cli("config", "--data", str(tmp_path),
                   env={"POSPLUGIN_ID_KEY": ID_KEY, "POSPLUGIN_LANGUAGE": "nb", "POSPLUGIN_PORT": "0"})
    assert done.returncode == 0, done.stderr
    lines = {line.split(" = ")[0]: line for line in done.stdout.splitlines()}
    assert lines["language"].startswith("language = nb    # from POSPLUGIN_LANGUAGE;")
    assert lines["timezone"].startswith(f"timezone = Europe/Oslo    # from {tmp_path / 'posplugin.ini'} [posplugin]")
    assert lines["port"].startswith("port = 0    # from POSPLUGIN_PORT;")  # 0: any free port, as for the demo
    assert lines["retention_days"].startswith("retention_days = 30    # from default;")
    assert lines["id_key"].startswith("id_key = ***    # from POSPLUGIN_ID_KEY")


def test_serve_reports_bad_settings(tmp_path):
    done = run_cli("serve", "--data", str(tmp_path), env={"POSPLUGIN_ID_KEY": ID_KEY,
                                                          "POSPLUGIN_TIMEZONE": "Nowhere/Land"})
    assert done.returncode == 2 and "timezone" in done.stderr


def test_tiers_import_prints_rows_loaded(tmp_path):
    csv_path = tmp_path / "tiers.csv"
    csv_path.write_text(tier_csv())
    done = cli("tiers", "import", str(csv_path), "--data", str(tmp_path / "d"),
               env={"POSPLUGIN_ID_KEY": ID_KEY, "POSPLUGIN_DEFAULT_REGION": "NO"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("4 rows loaded")


def test_hq_migrate_brings_the_database_to_this_release_and_says_so(tmp_path):
    from alembic.script import ScriptDirectory

    from posplugin.hq.db import MIGRATIONS

    (head,) = ScriptDirectory(str(MIGRATIONS)).get_heads()
    for _ in range(2):  # the second run finds nothing to do
        done = cli("hq", "migrate", "--data", str(tmp_path))
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"head office database at revision {head}\n"
    assert (tmp_path / "hq.db").exists()


def test_tiers_import_of_a_missing_file(tmp_path):
    done = cli("tiers", "import", str(tmp_path / "nope.csv"), "--data", str(tmp_path),
               env={"POSPLUGIN_ID_KEY": ID_KEY})
    assert done.returncode == 1 and "no such file" in done.stderr


@pytest.mark.skipif(shutil.which("posplugin") is None, reason="the package is not installed")
def test_installed_console_script_serves(tmp_path):
    """The installed package (not this checkout) starts and answers; run from
    another folder so the checkout is not importable."""
    import os
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSPLUGIN_", "PYTHONPATH"))}
    env["POSPLUGIN_ID_KEY"] = ID_KEY
    port = free_port()
    proc, health = serve([shutil.which("posplugin")], tmp_path, port, env)
    try:
        assert health.status_code == 200 and health.json()["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_answers_and_stops_cleanly_on_sigterm(tmp_path):
    """`posplugin serve` from this checkout: answers identify, and SIGTERM keeps
    the visits it had queued."""
    import signal
    import sys


    env = cli_env()
    token = cli("token", "create", "--role", "till", "--name", "t", "--data", str(tmp_path)).stdout.strip()
    port = free_port()
    proc, health = serve([sys.executable, "-m", "posplugin"], tmp_path, port, env)
    try:
        assert health.json()["tier_list"]["rows"] == 0
        # No list: every customer is everyday, and both the log and /healthz say so.
        assert any("no tier list loaded" in w for w in health.json()["warnings"])
        for i in range(5):
            r = requests.post(f"http://127.0.0.1:{port}/api/v1/identify", json={
                "lane": "1", "identifier": {"type": "email", "value": f"c{i}@example.com"}},
                headers={"Authorization": f"Bearer {token}"}, timeout=5)
            assert r.status_code == 200 and r.json()["known"] is False
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    log = proc.stdout.read()
    assert "WARNING" in log and "no tier list loaded: every customer is treated as 'everyday'" in log
    store = Store(Settings(data_dir=tmp_path, id_key=ID_KEY))
    try:
        assert len(store.visits.recorded()) == 5
    finally:
        store.close()


@pytest.mark.parametrize("role,extra,page", [("staff", [], "/floor#token=pp_"),
                                             ("till", ["--lane", "4"], "/till?lane=4#token=pp_")])
def test_pair_prints_a_url_with_the_token_and_a_qr_code(tmp_path, role, extra, page):
    done = cli("pair", "--role", role, *extra, "--url", "http://store-pc:8765", "--data", str(tmp_path))
    assert done.returncode == 0, done.stderr
    url, *qr = done.stdout.splitlines()
    assert url.startswith("http://store-pc:8765" + page)
    assert len(qr) > 10 and "█" in "".join(qr)
    token = url.split("#token=")[1]
    # The token works: the paired page's API calls succeed.
    from posplugin.store import auth
    from posplugin.store.schema import open_database
    assert auth.authenticate(open_database(tmp_path / "posplugin.db").conn, token).role == role


@pytest.mark.slow
def test_one_serve_per_data_folder(tmp_path):
    """A second `serve` on a folder already being served refuses to start and
    says why; the folder serves again once the first has stopped."""
    import signal
    import sys


    env = cli_env()
    first, _ = serve([sys.executable, "-m", "posplugin"], tmp_path, free_port(), env)
    try:
        second = run_cli("serve", "--data", str(tmp_path), "--port", str(free_port()),
                         env={"POSPLUGIN_ID_KEY": ID_KEY}, timeout=20)
        assert second.returncode != 0 and "already serving" in second.stderr
        (tmp_path / "list.csv").write_text(tier_csv())
        imported = cli("tiers", "import", str(tmp_path / "list.csv"), "--data", str(tmp_path),
                       env={"POSPLUGIN_ID_KEY": ID_KEY})
        assert imported.returncode == 0, imported.stderr  # other commands still work beside it
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=10)
    again, health = serve([sys.executable, "-m", "posplugin"], tmp_path, free_port(), env)
    try:
        assert health.json()["tier_list"]["rows"] == 4
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(timeout=10)


def _one_sentence(done, *words):
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("posplugin: ") and all(w in last for w in words), last


def test_a_port_in_use_is_one_sentence(tmp_path):
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_cli("serve", "--data", str(tmp_path), "--port", str(port), env={"POSPLUGIN_ID_KEY": ID_KEY},
                       timeout=30)
    _one_sentence(done, "in use", "--port")


def test_a_read_only_data_folder_is_one_sentence(tmp_path):
    import os
    import subprocess
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
                                           capture_output=True).returncode:
        pytest.skip("needs root to mount a read-only file system")
    try:
        done = run_cli("serve", "--data", str(folder / "store"), "--port", str(free_port()),
                       env={"POSPLUGIN_ID_KEY": ID_KEY}, timeout=30)
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)
    _one_sentence(done, "cannot write", "--data")


def test_a_damaged_hq_db_is_one_sentence(tmp_path):
    (tmp_path / "hq.db").write_bytes(b"\x00junk" * 600)
    done = run_cli("hq", "serve", "--data", str(tmp_path), "--port", str(free_port()),
                   env={"POSPLUGIN_ID_KEY": ID_KEY}, timeout=30)
    _one_sentence(done, "damaged", "backup")


def test_a_damaged_signing_key_is_one_sentence(tmp_path):
    (tmp_path / "hq-signing.key").write_text("-----BEGIN PRIVATE KEY-----\njunk\n")
    done = cli("hq", "public-key", "--data", str(tmp_path), env={"POSPLUGIN_ID_KEY": ID_KEY})
    _one_sentence(done, "signing key", "backup")


def test_pair_into_a_closed_pipe_ends_without_a_traceback(tmp_path):
    import subprocess
    import sys
    from helpers import cli_env
    reader = subprocess.Popen([sys.executable, "-m", "posplugin", "pair", "--role", "staff", "--url",
                               "http://store-pc:8765", "--data", str(tmp_path)], env=cli_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    reader.stdout.close()  # like `| head` that has already left
    _, err = reader.communicate(timeout=30)
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()
def test_tiers_status_says_version_rows_age_and_source(tmp_path):
    empty = cli("tiers", "status", "--data", str(tmp_path), env={"POSPLUGIN_ID_KEY": ID_KEY})
    assert empty.returncode == 1 and "version  (none)" in empty.stdout and "warning: no tier list loaded" in empty.stdout
    (tmp_path / "list.csv").write_text(tier_csv())
    cli("tiers", "import", str(tmp_path / "list.csv"), "--data", str(tmp_path), env={"POSPLUGIN_ID_KEY": ID_KEY})
    done = cli("tiers", "status", "--data", str(tmp_path), env={"POSPLUGIN_ID_KEY": ID_KEY})
    assert done.returncode == 0, done.stdout
    lines = dict(line.split(None, 1) for line in done.stdout.splitlines())
    assert lines["version"] == "1" and lines["rows"] == "4" and lines["source"] == "local"
    assert lines["age"].endswith("s (applied)") and "warning" not in done.stdout


@pytest.mark.parametrize("value,kind,tier,level,prompt", [
    ("412 34 567", "phone", "nano", "murdoch", True),
    ("micro.mia@example.com", "email", "micro", "priority", True),
    ("nobody@example.com", "email", "everyday", "standard", False),
])
def test_tiers_lookup_answers_as_identify_would_without_a_visit(tmp_path, value, kind, tier, level, prompt):
    import json
    env = {"POSPLUGIN_ID_KEY": ID_KEY, "POSPLUGIN_DEFAULT_REGION": "NO"}
    (tmp_path / "list.csv").write_text(tier_csv())
    cli("tiers", "import", str(tmp_path / "list.csv"), "--data", str(tmp_path), env=env)
    done = cli("tiers", "lookup", value, "--type", kind, "--data", str(tmp_path), env=env)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["tier"], answer["service_level"], answer["would_prompt"]) == (tier, level, prompt)
    store = Store(Settings(data_dir=tmp_path, id_key=ID_KEY, default_region="NO"))
    try:
        assert store.visits.recorded() == [] and store.list_prompts() == []
    finally:
        store.close()
    bad = cli("tiers", "lookup", "not a number", "--data", str(tmp_path), env=env)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr


def test_key_create_prints_a_key_serve_accepts(tmp_path):
    first, second = cli("key", "create"), cli("key", "create")
    key = first.stdout.strip()
    assert first.returncode == 0 and len(key) == 64 and key != second.stdout.strip()
    assert "same key" in first.stderr
    (tmp_path / "list.csv").write_text(tier_csv())
    done = cli("tiers", "import", str(tmp_path / "list.csv"), "--data", str(tmp_path),
               env={"POSPLUGIN_ID_KEY": key})
    assert done.returncode == 0 and "4 rows loaded" in done.stdout


@pytest.mark.slow
def test_pair_asks_the_running_serve_where_it_is_or_refuses_with_the_fix(tmp_path):
    """Without --url, pair uses the address the running serve listens on (here
    a port --port 0 picked), never a guess from the settings; with no serve
    running it refuses and says what to do."""
    import signal
    import subprocess
    import sys

    from posplugin.cli.pairing import lan_address

    refused = run_cli("pair", "--role", "staff", "--data", str(tmp_path))
    assert refused.returncode == 2 and "no posplugin serve is running" in refused.stderr
    assert "posplugin serve --data" in refused.stderr and "--url" in refused.stderr
    proc = subprocess.Popen([sys.executable, "-m", "posplugin", "serve", "--data", str(tmp_path), "--port", "0"],
                            env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        while not (found := re.search(r"serving on http://127.0.0.1:(\d+)", proc.stdout.readline())):
            assert proc.poll() is None, proc.stdout.read()
        port = int(found[1])
        assert port != 8765
        done = run_cli("pair", "--role", "staff", "--data", str(tmp_path))
        assert done.returncode == 0, done.stderr
        url = done.stdout.splitlines()[0]
        assert f":{port}/floor#token=pp_" in url and not url.startswith(("http://127.0.0.1", "http://localhost"))
        address = lan_address()
        if address:
            assert url.startswith(f"http://{address}:{port}/floor#token=pp_")
            assert "this machine's address on the local network" in done.stderr
        assert "--url" in done.stderr and "--host 0.0.0.0" in done.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    # Stopped: the address it left behind is not believed.
    assert run_cli("pair", "--role", "staff", "--data", str(tmp_path)).returncode == 2


def test_hq_qr_points_at_join(tmp_path):
    svg = tmp_path / "join.svg"
    done = cli("hq", "qr", "--for", "shelf", "--svg", str(svg), "--data", str(tmp_path),
               env={"POSPLUGIN_PUBLIC_URL": "https://hq.example.com/"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "https://hq.example.com/join?src=shelf"
    assert "█" in done.stdout and svg.read_text().startswith("<?xml")
    missing = cli("hq", "qr", "--data", str(tmp_path))
    assert missing.returncode != 0 and "public_url" in missing.stderr


def test_hq_tiers_build_and_metrics_status(world, tmp_path):
    import json
    sam = world.join("+47 412 34 567")
    world.link(sam, "instagram")
    world.collector.run()
    data = str(tmp_path / "hq")
    built = cli("hq", "tiers", "build", "--data", data, env=world.env)
    assert built.returncode == 0, built.stderr
    assert built.stdout.startswith("version 1: 1 customer, 1 identifier")
    status = cli("hq", "metrics", "status", "--json", "--data", data, env=world.env)
    figures = json.loads(status.stdout)
    assert figures["customers"] == 1 and figures["platforms"]["instagram"]["measured"] == 1
    assert figures["last_build"]["version"] == 1
    table = cli("hq", "metrics", "status", "--data", data, env=world.env).stdout
    assert "instagram" in table and "last build: version 1" in table


@pytest.mark.slow
def test_hq_serve_with_a_relative_data_folder_serves_the_feed(tmp_path):
    """Every data folder is made absolute at start: Flask's send_file reads a
    relative path against the package, and every feed body was a 500."""
    (tmp_path / "tiers.csv").write_text(tier_csv())
    env = cli_env()
    assert run_cli("hq", "import", "tiers.csv", "--data", "reldata", env=env, cwd=tmp_path).returncode == 0
    token = run_cli("hq", "store", "add", "oslo", "--data", "reldata", env=env, cwd=tmp_path).stdout.strip()
    proc, base = start_hq(Path("reldata"), {}, cwd=tmp_path)
    try:
        headers = {"Authorization": f"Bearer {token}"}
        manifest = requests.get(base + "/hq/v1/feed/manifest.json", headers=headers, timeout=10).json()["manifest"]
        body = requests.get(base + "/hq/v1/feed/" + manifest["snapshot"]["path"], headers=headers, timeout=10)
        assert body.status_code == 200, body.text
        assert hashlib.sha256(body.content).hexdigest() == manifest["snapshot"]["sha256"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.parametrize("head_office", [False, True], ids=["on its own", "with a head office"])
def test_serve_loads_what_talks_to_head_office_only_when_there_is_one(tmp_path, head_office):
    """A store on its own never loads requests nor the feed's signature checks
    (13 MB of its memory); one with a head office does, for its sync."""
    import subprocess
    import sys

    code = ("import sys\n"
            "import posplugin.web.server as server\n"
            "server.run_service = lambda *args, **kwargs: 0\n"  # everything serve sets up, then return
            "from posplugin.cli import main\n"
            f"assert main(['serve', '--data', {str(tmp_path / 'store')!r}, '--port', '0']) == 0\n"
            "print(sorted(m for m in ('requests', 'cryptography') if m in sys.modules))\n")
    env = {**cli_env(), **({"POSPLUGIN_HQ_URL": "http://127.0.0.1:9"} if head_office else {})}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == ("['cryptography', 'requests']" if head_office else "[]")
