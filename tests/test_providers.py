"""Provider exports (HypeAuditor, Modash) applied to the handles customers gave."""

import io

import pytest
from helpers import cli

from posplugin.errors import ImportRefused
from posplugin.hq.build import Builder
from posplugin.hq.platforms.providers import import_export, read_export

HYPEAUDITOR = "username,full_name,followers_count,er,avg_likes,avg_comments\n" \
              "Sam.Runs,Sam,4200,6.2%,250,10\nstranger,X,90000,3%,1,1\n"
MODASH = "userId,username,followers,engagementRate\n1,@sam.runs,4100,0.061\n"


@pytest.mark.parametrize("provider, text, expected", [
    ("hypeauditor", HYPEAUDITOR, [("sam.runs", 4200, 0.062), ("stranger", 90000, 0.03)]),
    ("hypeauditor", "username,followers_count,avg_likes,avg_comments\nsam,1000,40,10\n", [("sam", 1000, 0.05)]),
    ("modash", MODASH, [("sam.runs", 4100, 0.061)]),
])
def test_columns(provider, text, expected):
    rows = [row for _, row in read_export(io.StringIO(text), provider)]
    assert [(h, f, pytest.approx(e)) for h, f, e in rows] == expected


@pytest.mark.parametrize("text, line", [
    ("username,followers\nsam,10\n", 1),
    ("username,followers,engagementRate\nsam,lots,0.1\n", 2),
    ("username,followers,engagementRate\n,10,0.1\n", 2),
])
def test_bad_files_refused_with_line_numbers(world, text, line):
    with pytest.raises(ImportRefused) as caught:
        import_export(world.office.engine, io.StringIO(text), "modash", clock=world.clock)
    assert caught.value.problems[0][0] == line


def test_only_handles_customers_gave_are_used(world, tmp_path):
    sam = world.join("+47 412 34 567")
    world.accounts.add_handle(sam, "instagram", "@Sam.Runs")
    silent = world.join("+47 900 00 020", consented=False)
    world.accounts.add_handle(silent, "instagram", "stranger")
    world.collector.run()  # no discovery account configured: handles wait for an export
    result = import_export(world.office.engine, io.StringIO(HYPEAUDITOR), "hypeauditor", clock=world.clock)
    assert result == {"rows": 2, "matched": 2, "dropped": 0}
    built = Builder(world.office).build()
    assert (built["customers"], built["rows"]) == (1, 1)  # the one who did not consent is not published
    account = world.accounts.of_customer(sam)[0]
    assert (account["followers"], account["status"]) == (4200, "measured")


def test_hq_import_provider_command(world, tmp_path):
    sam = world.join("+47 412 34 567")
    world.accounts.add_handle(sam, "instagram", "sam.runs")
    export = tmp_path / "modash.csv"
    export.write_text(MODASH)
    done = cli("hq", "import", str(export), "--provider", "modash", "--data", str(tmp_path / "hq"),
               env=world.env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 rows read: 1 matched")
