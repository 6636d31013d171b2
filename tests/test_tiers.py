"""Tier list import: validation with line numbers, refusal of whole files,
atomic switch-over, opt-outs, and lists applied by other processes."""

import io
import os
import signal
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as st
from helpers import ID_KEY, REPO, TIER_COLUMNS, TIER_ROWS, clean_env, cli, damage, run_cli, tier_csv

from posplugin.errors import ImportRefused
from posplugin.store.service import Store
from posplugin.tiers import lists
from posplugin.tiers.lists import POINTER_CHECK_S, import_csv, parse_engagement


def load(store, text, **kw):
    return import_csv(store.tiers, io.StringIO(text), store.hasher, **kw)


def followers_of(store, id_type, value):
    record = store.tiers.lookup(store.hasher(id_type, value))
    return record and record.followers


@pytest.mark.parametrize("text,rate", [("0.062", 0.062), ("6.2%", 0.062), (" 6.2 % ", 0.062),
                                       ("0", 0.0), ("1", 1.0), ("100%", 1.0)])
def test_engagement_as_fraction_or_percentage(text, rate):
    assert parse_engagement(text) == pytest.approx(rate)


@pytest.mark.parametrize("text", ["1.5", "-0.1", "150%", "abc", "nan", ""])
def test_engagement_out_of_range_is_refused(text):
    with pytest.raises(ValueError):
        parse_engagement(text)


def test_import_loads_rows_and_drops_opted_out(store):
    result = load(store, tier_csv())
    assert result.rows == 4 and result.opted_out == 1
    assert followers_of(store, "phone", "+47 41234567") == 4200
    assert followers_of(store, "email", "optout@example.com") is None
    assert store.tiers.info().rows == 4


@pytest.mark.parametrize("consent", ["yes", "YES", "true", "1", "True", "ja", "JA"])
def test_consent_spellings_that_load(store, consent):
    load(store, tier_csv([["email", "a@b.no", "5000", "3%", "", consent]]))
    assert followers_of(store, "email", "a@b.no") == 5000


@pytest.mark.parametrize("consent", ["no", "false", "0", "NO", "nei", "Nei"])
def test_consent_spellings_that_opt_out(store, consent):
    result = load(store, tier_csv([["email", "a@b.no", "5000", "3%", "", consent]]))
    assert result.rows == 0 and followers_of(store, "email", "a@b.no") is None


def test_bad_rows_refuse_the_whole_file_with_line_numbers(loaded_store):
    rows = [
        ["email", "fine@example.com", "100", "1%", "", "yes"],
        ["phone", "not-a-phone", "100", "1%", "", "yes"],
        ["email", "x@example.com", "lots", "1%", "", "yes"],
        ["email", "y@example.com", "100", "2", "", "yes"],
        ["email", "z@example.com", "100", "1%", "", "maybe"],
        ["email", "w@example.com", "100", "1%", ""],
    ]
    with pytest.raises(ImportRefused) as info:
        load(loaded_store, tier_csv(rows))
    lines = dict(info.value.problems)
    assert sorted(lines) == [3, 4, 5, 6, 7]
    assert "phone" in lines[3] or "number" in lines[3]
    assert "followers" in lines[4]
    assert "engagement_rate" in lines[5]
    assert "consent" in lines[6]
    assert "columns" in lines[7]
    # The old list keeps serving, and nothing of the new one leaked in.
    assert followers_of(loaded_store, "phone", "+4741234567") == 4200
    assert followers_of(loaded_store, "email", "fine@example.com") is None
    assert len(list(loaded_store.tiers.data_dir.glob("tiers-*.db"))) == 1


def test_skip_bad_loads_the_good_rows_and_lists_the_bad(store):
    rows = [["email", "fine@example.com", "100", "1%", "", "yes"],
            ["email", "bad", "100", "1%", "", "yes"]]
    result = load(store, tier_csv(rows), skip_bad=True)
    assert result.rows == 1 and [line for line, _ in result.skipped] == [3]


def test_quoted_fields_with_newlines_keep_true_line_numbers(store):
    text = ",".join(TIER_COLUMNS) + '\nemail,a@b.no,10,1%,"multi\nline",yes\nemail,bad,10,1%,,yes\n'
    with pytest.raises(ImportRefused) as info:
        load(store, text)
    assert [line for line, _ in info.value.problems] == [4]


@pytest.mark.parametrize("text,reason", [
    ("", "empty"),
    ("identifier_type,identifier,followers\nemail,a@b.no,1\n", "missing columns"),
])
def test_unusable_files_are_refused(store, text, reason):
    with pytest.raises(ImportRefused, match=reason):
        load(store, text)


def test_header_order_and_bom_do_not_matter(store):
    text = "\ufeffconsent,niches,engagement_rate,followers,identifier,identifier_type\nyes,,2%,3000,a@b.no,email\n"
    load(store, text)
    assert followers_of(store, "email", "A@B.no") == 3000


def test_duplicates_keep_the_last_row_and_opt_out_wins(store):
    rows = [["email", "dup@example.com", "100", "1%", "", "yes"],
            ["email", "DUP@example.com", "200", "1%", "", "yes"],
            ["email", "gone@example.com", "300", "1%", "", "yes"],
            ["email", "gone@example.com", "", "", "", "no"],
            ["email", "gone@example.com", "400", "1%", "", "yes"]]
    result = load(store, tier_csv(rows))
    assert followers_of(store, "email", "dup@example.com") == 200
    assert followers_of(store, "email", "gone@example.com") is None
    assert result.rows == 1


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6), st.booleans()), min_size=1, max_size=40),
       batch=st.integers(1, 7))
def test_each_customers_last_row_wins_whatever_the_batches(store, monkeypatch, rows, batch):
    # A new list's rows go in sorted a batch at a time: a customer's rows may
    # fall in one batch or several, in any order of their keys.
    monkeypatch.setattr(lists, "BATCH", batch)
    last: dict[int, int] = {}
    opted_out = set()
    for customer, followers, consent in rows:
        if consent:
            last[customer] = followers
        else:
            opted_out.add(customer)
    text = tier_csv([["email", f"c{customer}@example.com", str(followers) if consent else "", "1%", "",
                      "yes" if consent else "no"] for customer, followers, consent in rows])
    load(store, text)  # each example's list replaces the one before whole
    for customer in range(4):
        want = None if customer in opted_out else last.get(customer)
        assert followers_of(store, "email", f"c{customer}@example.com") == want


def test_a_new_list_replaces_the_old_one_whole(loaded_store):
    version = loaded_store.tiers.info().version
    load(loaded_store, tier_csv([["email", "new@example.com", "5000", "1%", "", "yes"]]))
    assert followers_of(loaded_store, "email", "new@example.com") == 5000
    assert followers_of(loaded_store, "phone", "+4741234567") is None
    assert loaded_store.tiers.info().version == version + 1
    assert len(list(loaded_store.tiers.data_dir.glob("tiers-*.db"))) == 1


def test_no_raw_identifier_reaches_the_disk(loaded_store):
    loaded_store.identify("1", "email", "micro.mia@example.com")
    loaded_store.visits.flush()
    for path in loaded_store.tiers.data_dir.iterdir():
        data = path.read_bytes().lower()
        for raw in (b"micro.mia", b"41234567", b"bigben", b"optout@"):
            assert raw not in data, (path.name, raw)


def test_cli_import_seen_by_running_server_at_once(clients, settings, tmp_path):
    csv_path = tmp_path / "list.csv"
    csv_path.write_text(tier_csv(TIER_ROWS + [["email", "fresh@example.com", "7000", "5%", "", "yes"]]))
    before = clients["till"].post("/api/v1/identify", json={
        "lane": "1", "identifier": {"type": "email", "value": "fresh@example.com"}}).json()
    assert before["known"] is False
    done = run_cli("tiers", "import", str(csv_path), "--data", str(settings.data_dir),
                   env={"POSPLUGIN_ID_KEY": ID_KEY})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("5 rows loaded (version 2; 1 customer opted out, 0 duplicates merged)")
    # "At once" is the next lookup after POINTER_CHECK_S: a lookup does not stat the
    # pointer every time (the import used to take longer than that by itself).
    time.sleep(POINTER_CHECK_S)
    after = clients["till"].post("/api/v1/identify", json={
        "lane": "1", "identifier": {"type": "email", "value": "fresh@example.com"}}).json()
    assert after["known"] is True and after["followers"] == 7000
    health = clients[None].get("/healthz").json()
    assert health["tier_list"]["rows"] == 5


def test_a_list_that_lost_its_rows_never_replaces_the_one_in_use(clients, settings, tmp_path):
    """Every row bad and skipped, or half the customers gone (a file cut short,
    the wrong file): refused, and the list in use keeps serving, unless asked
    for by name (--allow-smaller)."""
    env = {"POSPLUGIN_ID_KEY": ID_KEY}
    data = ["--data", str(settings.data_dir)]
    lists = sorted(settings.data_dir.glob("tiers-*.db"))
    bad = tmp_path / "bad.csv"
    bad.write_text(tier_csv([["fone", "+47 412 34 567", "4200", "6.2%", "", "yes"]]))
    done = run_cli("tiers", "import", str(bad), "--skip-bad", *data, env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert ("the new list has 0 rows (1 bad row skipped), and the list in use (version 1) has 4 rows; it keeps "
            "serving. If that is what you want, run it again with --allow-smaller") in done.stderr
    assert done.stdout == ""
    half = tmp_path / "half.csv"
    half.write_text(tier_csv(TIER_ROWS[:1]))
    assert run_cli("tiers", "import", str(half), *data, env=env).returncode == 1
    in_use = clients[None].get("/healthz").json()["tier_list"]
    assert (in_use["version"], in_use["rows"]) == (1, 4)
    assert sorted(settings.data_dir.glob("tiers-*.db")) == lists  # the refused lists' files are gone
    # The share is a setting; asked by name, the smaller list replaces the old one.
    assert run_cli("tiers", "import", str(half), *data, env={**env, "POSPLUGIN_TIERS_MAX_LOSS": "0.8"}).returncode == 0
    emptied = run_cli("tiers", "import", str(bad), "--skip-bad", "--allow-smaller", *data, env=env)
    assert emptied.returncode == 0 and emptied.stdout.startswith("0 rows loaded (version 3;")
    assert clients[None].get("/healthz").json()["tier_list"]["rows"] == 0


def test_cli_refuses_a_bad_file_and_names_lines(settings, tmp_path):
    csv_path = tmp_path / "bad.csv"
    csv_path.write_text(tier_csv([["email", "a@b.no", "10", "1%", "", "yes"],
                                  ["email", "nope", "10", "1%", "", "yes"]]))
    done = cli("tiers", "import", str(csv_path), "--data", str(settings.data_dir),
               env={"POSPLUGIN_ID_KEY": ID_KEY})
    assert done.returncode == 1
    assert "line 3" in done.stderr and "nothing loaded" in done.stderr
    assert done.stdout == ""


KILL_SCRIPT = """
import io, sys
from pathlib import Path
from posplugin.config import Settings
from posplugin.store.service import Store
from posplugin.tiers.lists import import_csv

def held(lines):
    # Announce the import is under way, then wait (for ever) to be killed.
    for i, line in enumerate(lines):
        if i == 500:
            print("importing", flush=True)
            sys.stdin.readline()
        yield line

store = Store(Settings(data_dir=Path(sys.argv[1]), id_key=sys.argv[2]))
rows = "".join(f"email,new{i}@example.com,5000,5%,,yes\\n" for i in range(100000))
header = "identifier_type,identifier,followers,engagement_rate,niches,consent\\n"
import_csv(store.tiers, held(io.StringIO(header + rows)), store.hasher)
"""


def test_import_killed_midway_leaves_the_old_list_serving(loaded_store):
    data = loaded_store.tiers.data_dir
    child = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(data), ID_KEY],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=clean_env())
    assert child.stdout.readline().strip() == "importing"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert followers_of(loaded_store, "phone", "+4741234567") == 4200
    assert followers_of(loaded_store, "email", "new1@example.com") is None
    leftovers = [p for p in data.glob("tiers-*.db") if p != loaded_store.tiers.current_file()]
    assert leftovers, "the killed import should have left its partial file"
    assert loaded_store.tiers.cleanup(older_than_s=0) == len(leftovers)
    assert followers_of(loaded_store, "phone", "+4741234567") == 4200


@pytest.mark.parametrize("how", ["junk at its start", "zero length"])
def test_a_damaged_current_list_keeps_identify_and_healthz_answering(server, clients, loaded_store, how):
    """Identify answers everyday (not 500), /healthz is degraded and says how
    to repair; the next import repairs it with no file deleted by hand."""
    damage(loaded_store.tiers.current_file(), how)
    os.utime(loaded_store.tiers.pointer)  # a fresh start: no thread holds the old list open
    time.sleep(0.01)
    body = {"lane": "1", "identifier": {"type": "phone", "value": "+4741234567"}}
    answer = clients["till"].post("/api/v1/identify", json=body)
    assert answer.status_code == 200 and answer.json()["tier"] == "everyday"
    health = clients[None].get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    assert "tier list" in health.json()["warnings"][0] and "import or sync" in health.json()["warnings"][0]
    load(loaded_store, tier_csv())
    assert clients["till"].post("/api/v1/identify", json=body).json()["tier"] == "nano"
    assert clients[None].get("/healthz").json()["status"] == "ok"


@pytest.mark.parametrize("how", ["junk at its start", "zero length"])
def test_tiers_import_repairs_a_damaged_list_from_the_command_line(tmp_path, how):
    data = tmp_path / "store"
    csv_file = tmp_path / "tiers.csv"
    csv_file.write_text(tier_csv(), encoding="utf-8")
    env = {"POSPLUGIN_ID_KEY": ID_KEY, "POSPLUGIN_DEFAULT_REGION": "NO"}
    assert cli("tiers", "import", str(csv_file), "--data", str(data), env=env).returncode == 0
    current = data / (data / "tiers-current").read_text().strip()
    damage(current, how)
    again = cli("tiers", "import", str(csv_file), "--data", str(data), env=env)
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr


def test_a_list_switched_by_another_process_is_seen_within_the_check_interval(loaded_store, settings):
    """Lookups stat the pointer at most every POINTER_CHECK_S; a list another
    process applies (here a second Store over the same folder) is seen after it."""
    from posplugin.tiers import lists

    phone = loaded_store.hasher("phone", "+4741234567")
    assert loaded_store.tiers.lookup(phone).followers == 4200
    other = Store(settings)
    try:
        load(other, tier_csv([["phone", "+47 412 34 567", "9999", "1%", "", "yes"]]))
    finally:
        other.close()
    time.sleep(lists.POINTER_CHECK_S + 0.05)
    assert loaded_store.tiers.lookup(phone).followers == 9999


PEAK_IMPORT = """
import sys
from posplugin.cli import main
code = main(["tiers", "import", sys.argv[1], "--data", sys.argv[2]])
peak = next(int(line.split()[1]) // 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(code, peak)
"""


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="peak memory is read from Linux's /proc")
def test_a_large_import_streams_in_bounded_memory_and_a_bad_last_row_still_refuses_it(tmp_path):
    """300,000 rows stream through `posplugin tiers import` within 64 MB (the
    whole file is never held, nor the web app loaded); the same file with one
    bad row at its end is refused whole, and the first list keeps serving."""
    rows = 300_000
    good = tmp_path / "good.csv"
    with open(good, "w", encoding="utf-8") as f:
        f.write(",".join(TIER_COLUMNS) + "\n")
        for i in range(rows):
            f.write(f"email,customer{i}@example.com,{1000 + i},0.05,running;coffee,yes\n")
    bad = tmp_path / "bad.csv"
    bad.write_text(good.read_text(encoding="utf-8") + "email,last@example.com,many,0.05,,yes\n",
                   encoding="utf-8")
    data = tmp_path / "data"
    env = {**os.environ, "POSPLUGIN_ID_KEY": ID_KEY}
    for csv_file, status in ((good, 0), (bad, 1)):
        done = subprocess.run([sys.executable, "-c", PEAK_IMPORT, str(csv_file), str(data)], env=env,
                              capture_output=True, text=True, timeout=300, cwd=REPO)
        code, peak_mb = map(int, done.stdout.split()[-2:])
        assert code == status and peak_mb <= 64, (peak_mb, done.stderr[-500:])
    assert f"line {rows + 2}" in done.stderr
    listed = run_cli("tiers", "status", "--data", str(data), env={"POSPLUGIN_ID_KEY": ID_KEY})
    assert f"{rows:,}" in listed.stdout or str(rows) in listed.stdout, listed.stdout
