"""Head office's database: versioned migrations (Alembic) on SQLite and
PostgreSQL alike — a new database gets every revision, one an earlier head
office made with create_all is stamped with its rows kept, a second start does
nothing, a later revision reaches a database in use, and processes starting
at once migrate one at a time."""

import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from helpers import REPO
from sqlalchemy import Engine, create_engine, event, inspect, select, text

from posplugin.hq.db import BASELINE, BUSY_TIMEOUT_MS, MIGRATIONS, database_url, open_engine, unpack, upgrade
from posplugin.hq.schema import (
    hq_tokens,
    metadata,
    store_day_durations,
    store_days,
    store_durations,
    store_hours,
    store_syncs,
    store_totals,
)
from posplugin.store import auth

HEADS = set(ScriptDirectory(str(MIGRATIONS)).get_heads())


def revision(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def baseline():
    """The tables of the first revision, as create_all made them before migrations."""
    return ScriptDirectory(str(MIGRATIONS)).get_revision(BASELINE).module.baseline


def test_a_new_database_gets_every_revision_and_they_make_schema_py(tmp_path, hq_database_url):
    """schema.py is the newest schema; the revisions must make exactly it, so a
    change to schema.py without a revision fails here."""
    engine = open_engine(database_url(tmp_path, hq_database_url))
    try:
        assert revision(engine) == HEADS
        assert set(inspect(engine).get_table_names()) == set(metadata.tables) | {"alembic_version"}
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()


def test_a_database_made_by_create_all_is_stamped_and_keeps_its_rows(make_hq, tmp_path, hq_database_url):
    """A head office from before migrations, older still than the day sums:
    its tables stay, its rows stay and count, what it lacked is made."""
    (tmp_path / "hq").mkdir()
    old = create_engine(database_url(tmp_path / "hq", hq_database_url))
    made_later = {"store_days", "store_day_durations"}
    baseline().create_all(old, tables=[t for t in baseline().sorted_tables if t.name not in made_later])
    hour = time.time() // 3600 * 3600 - 3600
    with old.begin() as conn:
        conn.execute(hq_tokens.insert(), [
            {"name": "ops", "role": "admin", "token_hash": auth.digest("hq_old_admin"), "created_at": hour},
            {"name": "oslo", "role": "store", "token_hash": auth.digest("hq_old_oslo"), "created_at": hour}])
        conn.execute(store_hours.insert().values(store="oslo", hour=hour, made=7, taken=5, reach_all=900))
        conn.execute(store_durations.insert(), [{"store": "oslo", "hour": hour, "kind": "act", "seconds": s}
                                                for s in (10.0, 30.0, 90.0)])
    old.dispose()

    hq = make_hq(database_url=hq_database_url)

    assert revision(hq.engine) == HEADS
    assert made_later <= set(inspect(hq.engine).get_table_names())
    answer = requests.get(hq.server.url + "/hq/v1/stores?days=7", timeout=10,
                          headers={"Authorization": "Bearer hq_old_admin"})
    assert answer.status_code == 200, answer.text
    oslo = {s["name"]: s for s in answer.json()["stores"]}["oslo"]["figures"]
    assert (oslo["prompts_made"], oslo["taken"], oslo["reach_served"]) == (7, 5, 900)
    assert oslo["median_time_to_act_s"] == statistics.median([10.0, 30.0, 90.0])
    # The old store token still sends reports.
    sent = requests.post(hq.server.url + "/hq/v1/reports", headers={"Authorization": "Bearer hq_old_oslo"},
                         json={"batch": "after-upgrade", "hours": []}, timeout=10)
    assert sent.status_code == 200 and sent.json() == {"accepted": True}


def at_revision(url: str, target: str) -> Engine:
    """An engine on ``url``'s database brought to revision ``target`` only."""
    engine = create_engine(url)
    with engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, target)
    return engine


def test_day_sums_are_made_again_from_the_hours(tmp_path, hq_database_url):
    """Revision 0003: store_days from store_hours, whatever it held (here the
    hour-keyed rows the old start-up backfill made, each counted twice on the
    dashboard), and store_day_durations from store_durations where empty."""
    url = database_url(tmp_path, hq_database_url)
    old = at_revision(url, "0002")
    hour0 = time.time() // 86400 * 86400 - 86400 + 10 * 3600  # yesterday 10:00 UTC
    with old.begin() as conn:
        conn.execute(store_hours.insert(), [
            {"store": "oslo", "hour": hour0, "made": 3, "taken": 5},
            {"store": "oslo", "hour": hour0 + 2 * 3600, "made": 4, "taken": 1},
            {"store": "bergen", "hour": hour0, "made": 1, "taken": 0}])
        conn.execute(store_days.insert(), [{"store": "oslo", "day": hour0, "made": 3, "taken": 5},
                                           {"store": "oslo", "day": hour0 - 10 * 3600, "made": 7, "taken": 6}])
        conn.execute(store_durations.insert(), [
            {"store": "oslo", "hour": hour0, "kind": "act", "seconds": s} for s in (10.0, 20.0)] + [
            {"store": "oslo", "hour": hour0 + 2 * 3600, "kind": "act", "seconds": 90.0}])
    old.dispose()

    engine = open_engine(url)
    try:
        day = hour0 - 10 * 3600
        with engine.connect() as conn:
            assert conn.execute(select(store_days.c.store, store_days.c.day, store_days.c.made, store_days.c.taken)
                                .order_by(store_days.c.store)).all() == [("bergen", day, 1, 0), ("oslo", day, 7, 6)]
            (packed,) = conn.execute(select(store_day_durations.c.seconds)).scalars().all()
            # Past figures that break the new rule leave room for the next batch.
            assert conn.execute(select(store_totals.c.made, store_totals.c.taken)
                                .where(store_totals.c.store == "oslo")).one() == (7, 6)
        assert sorted(unpack(packed)) == [10.0, 20.0, 90.0]
    finally:
        engine.dispose()


def test_a_second_start_changes_nothing(tmp_path, hq_database_url):
    url = database_url(tmp_path, hq_database_url)
    first = open_engine(url)
    with first.begin() as conn:
        conn.execute(store_syncs.insert().values(name="oslo", last_sync_at=1.0, list_version=3))
    first.dispose()
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement.strip().split()[0].upper())

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        again = open_engine(url)
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    try:
        assert statements, "the second start read nothing: the check did not run"
        assert not {"CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE"} & set(statements), statements
        assert revision(again) == HEADS
        with again.connect() as conn:
            assert conn.execute(select(store_syncs.c.name, store_syncs.c.list_version)).all() == [("oslo", 3)]
    finally:
        again.dispose()


LATER = '''"""A later release's change (test only).

Revision ID: 9001
Revises: {down}
"""

from alembic import op
import sqlalchemy as sa

revision = "9001"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("store_syncs") as batch:
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
    op.create_index("store_syncs_by_version", "store_syncs", ["list_version"])


def downgrade() -> None:
    op.drop_index("store_syncs_by_version", "store_syncs")
    with op.batch_alter_table("store_syncs") as batch:
        batch.drop_column("note")
'''


def test_a_later_revision_reaches_a_database_in_use(tmp_path, hq_database_url):
    engine = open_engine(database_url(tmp_path, hq_database_url))
    try:
        with engine.begin() as conn:
            conn.execute(store_syncs.insert().values(name="oslo", last_sync_at=1.0, list_version=3))
        later = tmp_path / "migrations"
        shutil.copytree(MIGRATIONS, later, ignore=shutil.ignore_patterns("__pycache__"))
        (head,) = HEADS
        (later / "versions" / "9001_later.py").write_text(LATER.format(down=head))

        assert upgrade(engine, later) == "9001"

        assert revision(engine) == {"9001"}
        assert "note" in {c["name"] for c in inspect(engine).get_columns("store_syncs")}
        assert "store_syncs_by_version" in {i["name"] for i in inspect(engine).get_indexes("store_syncs")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name, list_version, note FROM store_syncs")).all() == [("oslo", 3, None)]
        assert upgrade(engine, later) == "9001"  # and once is enough
    finally:
        engine.dispose()


STARTER = """
import sys
sys.path.insert(0, sys.argv[1])
from posplugin.hq.db import open_engine
print("ready", flush=True)
sys.stdin.readline()  # all at the same moment
open_engine(sys.argv[2]).dispose()
"""


@pytest.mark.slow
def test_processes_starting_at_once_migrate_one_at_a_time(tmp_path, hq_database_url):
    """What ``hq serve --workers N`` does on a new database: every process
    migrates at start. Without the schema lock they race each other's
    CREATE TABLE and one fails."""
    url = database_url(tmp_path, hq_database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSPLUGIN_")}
    starters = [subprocess.Popen([sys.executable, "-c", STARTER, str(REPO), url], env=env, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for starter in starters:  # every interpreter has imported posplugin
        assert starter.stdout.readline() == "ready\n", starter.communicate(timeout=60)[1]
    for starter in starters:
        starter.stdin.write("go\n")
        starter.stdin.flush()
    for starter in starters:
        _, errors = starter.communicate(timeout=120)
        assert starter.returncode == 0, errors
    engine = create_engine(url)
    try:
        assert revision(engine) == HEADS
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        assert set(inspect(engine).get_table_names()) == set(metadata.tables) | {"alembic_version"}
    finally:
        engine.dispose()


@pytest.mark.slow
def test_writers_on_sqlite_take_turns_without_sqlite_s_retry_sleeps(tmp_path):
    """A write waiting for another thread's write goes on as soon as that one
    commits. SQLite's own retries sleep up to 100 ms between tries: a writer
    arriving 50 ms into a 400 ms transaction would go on ~80 ms after it."""
    engine = open_engine(database_url(tmp_path))
    lags = []
    try:
        for trial in range(3):
            committed = []

            def other():
                with engine.begin() as conn:
                    conn.execute(store_syncs.insert().values(name=f"first-{trial}", last_sync_at=1.0))
                    time.sleep(0.4)
                committed.append(time.perf_counter())

            first = threading.Thread(target=other)
            first.start()
            time.sleep(0.05)
            with engine.begin() as conn:
                conn.execute(store_syncs.insert().values(name=f"second-{trial}", last_sync_at=2.0))
            done = time.perf_counter()
            first.join()
            lags.append(done - committed[0])
        assert statistics.median(lags) < 0.025, lags
        # Reads never waited, and every turn was handed back.
        with engine.begin() as conn:
            conn.execute(store_syncs.delete())
        assert time.perf_counter() - done < BUSY_TIMEOUT_MS / 1000
    finally:
        engine.dispose()


def test_the_migrations_ship_in_the_package():
    """setup.cfg's package_data names every file of posplugin/hq/migrations
    (Alembic reads them by path: a file left out breaks a pip-installed head office)."""
    import configparser
    import fnmatch

    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    patterns = [p.strip() for p in cfg["options.package_data"]["posplugin.hq"].splitlines() if p.strip()]
    package = REPO / "posplugin" / "hq"
    files = [p.relative_to(package).as_posix() for p in MIGRATIONS.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts]
    assert "migrations/env.py" in files and f"migrations/versions/{BASELINE}_baseline.py" in files
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) and name.count("/") == pattern.count("/")
                   for pattern in patterns), f"{name} is not in setup.cfg's package_data"
    assert Path(MIGRATIONS).parent == package


def test_ctrl_c_inside_a_write_gives_the_turn_back(tmp_path):
    """Ctrl-C arriving while SQLite runs a statement invalidates the connection;
    the interrupt goes on up as itself (the demo sums up the shift on it) and
    the next writer still gets its turn."""
    engine = open_engine(database_url(tmp_path))

    def interrupt(_conn, _cursor, statement, *_args):
        if "interrupted" in str(_args):
            raise KeyboardInterrupt

    event.listen(engine, "before_cursor_execute", interrupt)
    try:
        try:
            with engine.begin() as conn:
                conn.execute(store_syncs.insert().values(name="kept", last_sync_at=1.0))
                conn.execute(store_syncs.insert().values(name="interrupted", last_sync_at=2.0))
        except KeyboardInterrupt:
            pass
        else:
            raise AssertionError("the interrupt was swallowed")
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(store_syncs.insert().values(name="after", last_sync_at=3.0))
        assert time.perf_counter() - started < BUSY_TIMEOUT_MS / 1000
        with engine.connect() as conn:
            assert [r.name for r in conn.execute(select(store_syncs.c.name))] == ["after"]
    finally:
        engine.dispose()
