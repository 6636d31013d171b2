"""Onboarding a chain (posplugin.hq.stores): thousands of stores from one
CSV in one command or one admin request, tokens to a file only its owner can
read, and a name holds one store (and one live token) at a time."""

import csv
import io
import stat
import time

import pytest
import requests
from helpers import cli, cli_env, hq_query, run_cli

from posplugin.errors import ImportRefused
from posplugin.hq.office import HeadOffice
from posplugin.hq.listening.placement import Placements
from posplugin.hq.stores import add_from_csv, read_stores


def stores_csv(names, header="name") -> str:
    return header + "\n" + "".join(f"{name}\n" for name in names)


@pytest.mark.parametrize("text, lines", [
    ("name\noslo\nbergen\nOSLO\n", [4]),                    # the same store twice (names ignore case)
    ("name\noslo\n  \nbergen\n\u0007bell\n", [3, 5]),       # an empty name, an unprintable one
    ("name\n" + "x" * 101 + "\n", [2]),
    ("store\noslo\n", [1]),                                 # no name column
    ("name,instagram_location\noslo,12a\nbergen,\n", [2]),  # a location id is a number
])
def test_a_bad_file_is_refused_whole_with_line_numbers(text, lines):
    with pytest.raises(ImportRefused) as refused:
        read_stores(io.StringIO(text))
    assert [line for line, _ in refused.value.problems] == lines


def test_other_columns_are_read_past_and_placement_is_kept():
    rows = read_stores(io.StringIO("place,name,opened,handles\nStorgata 1,Oslo Storgata,2019,@oslo\n"))
    assert [(r.name, r.fields, r.line) for r in rows] == [
        ("Oslo Storgata", {"place": "Storgata 1", "handles": "@oslo"}, 2)]


def test_stores_added_from_a_csv_are_placed_for_listening(tmp_path):
    """A chain's CSV says where each store is: what its customers post is routed there."""
    office = HeadOffice(tmp_path / "hq", "k" * 64)
    try:
        added = add_from_csv(office, io.StringIO(
            "name,handles,place,instagram_location\noslo,\"@nord_oslo, #nordoslo\",Storgata,123\nbergen,,,\n"))
        assert [row.name for row, _ in added] == ["oslo", "bergen"]
        places = {p.store: p for p in Placements(office.engine, office.clock).all()}
        assert places.keys() == {"oslo"}
        assert (places["oslo"].handles, places["oslo"].place, places["oslo"].instagram_location) == (
            ("@nord_oslo", "#nordoslo"), "Storgata", "123")
    finally:
        office.close()


@pytest.mark.slow
def test_a_chain_is_added_in_one_command_with_tokens_only_its_owner_reads(tmp_path):
    names = [f"store-{i:04d}" for i in range(1000)]
    (tmp_path / "stores.csv").write_text(stores_csv(names))
    data = str(tmp_path / "hq")
    started = time.monotonic()
    done = run_cli("hq", "store", "add", "--from", str(tmp_path / "stores.csv"), "--data", data, env=cli_env())
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    tokens = tmp_path / "stores.tokens.csv"
    assert done.stdout.startswith(f"1000 stores added; their tokens are in {tokens}")
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
    written = list(csv.DictReader(tokens.open()))
    assert [row["name"] for row in written] == names
    office = HeadOffice(tmp_path / "hq", "")
    try:
        assert office.caller(written[123]["token"]).name == "store-0123"
        assert len(office.store_names()) == 1000
    finally:
        office.close()
    print(f"1,000 stores in one command: {took:.1f} s")
    # Again: every store exists, so nothing is added and no token file is written over.
    again = run_cli("hq", "store", "add", "--from", str(tmp_path / "stores.csv"), "--tokens",
                    str(tmp_path / "again.csv"), "--data", data, env=cli_env())
    assert again.returncode == 1 and "line 2: store 'store-0000' exists already" in again.stderr
    assert "1,000 bad rows" in again.stderr and not (tmp_path / "again.csv").exists()
    kept = run_cli("hq", "store", "add", "--from", str(tmp_path / "stores.csv"), "--data", data, env=cli_env())
    assert kept.returncode == 2 and "exists already" in kept.stderr  # the first token file is never written over


def test_a_name_holds_one_store_and_one_live_token(tmp_path):
    data, env = ["--data", str(tmp_path / "hq")], cli_env()
    assert cli("hq", "store", "add", "oslo-1", *data, env=env).returncode == 0
    second = cli("hq", "store", "add", "oslo-1", *data, env=env)
    assert second.returncode == 1 and "exists already" in second.stderr and not second.stdout
    assert cli("hq", "token", "create", "--role", "admin", "--name", "ops", *data, env=env).returncode == 0
    twice = cli("hq", "token", "create", "--role", "admin", "--name", "ops", *data, env=env)
    assert twice.returncode == 1 and "revoke" in twice.stderr
    # Revoking frees the name: the store gets a new token, its figures stay.
    assert cli("hq", "token", "revoke", "--name", "oslo-1", *data, env=env).returncode == 0
    assert cli("hq", "store", "add", "oslo-1", *data, env=env).stdout.startswith("hq_")
    # The store's own tokens: two live tills named till-3 could not be told apart.
    store = ["--data", str(tmp_path / "store")]
    assert cli("token", "create", "--role", "till", "--name", "till-3", *store, env=env).returncode == 0
    till = cli("token", "create", "--role", "till", "--name", "till-3", *store, env=env)
    assert till.returncode == 1 and "till-3" in till.stderr and not till.stdout
    assert cli("token", "revoke", "--name", "till-3", *store, env=env).returncode == 0
    assert cli("token", "create", "--role", "till", "--name", "till-3", *store, env=env).returncode == 0


def test_an_admin_adds_stores_over_http(hq):
    admin = {"Authorization": f"Bearer {hq.create_token('admin', 'ops')}"}
    url = hq.server.url + "/hq/v1/stores"
    body = stores_csv(["Oslo Storgata", "Bergen Bryggen"]).encode()
    added = requests.post(url, data=body, headers={**admin, "Content-Type": "text/csv"}, timeout=10)
    assert added.status_code == 200, added.text
    tokens = {s["name"]: s["token"] for s in added.json()["stores"]}
    assert added.json()["added"] == 2 and hq.caller(tokens["Bergen Bryggen"]).role == "store"
    again = requests.post(url, data=stores_csv(["Trondheim", "Oslo Storgata"]).encode(),
                          headers={**admin, "Content-Type": "text/csv"}, timeout=10)
    assert again.status_code == 422 and [p["line"] for p in again.json()["error"]["problems"]] == [3]
    assert sorted(hq.store_names()) == ["Bergen Bryggen", "Oslo Storgata"]  # Trondheim neither: all or none
    store = {"Authorization": f"Bearer {tokens['Oslo Storgata']}"}
    assert requests.post(url, data=body, headers={**store, "Content-Type": "text/csv"}, timeout=10).status_code == 403
    assert requests.post(url, json={"stores": []}, headers=admin, timeout=10).status_code == 415
    assert hq_query(hq, "SELECT count(*) FROM hq_tokens WHERE role = 'store'")[0][0] == 2
