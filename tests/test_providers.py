"""Provider exports (HypeAuditor, Modash) applied to the handles customers gave."""

import io

import pytest
from helpers import cli
from platform_standins import Account

from posplugin.errors import ImportRefused
from posplugin.hq.customers.accounts import LinkFailed
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


def proved(world, standins, customer: int, handle: str, followers: int = 1000) -> None:
    """``customer`` gives ``handle`` and puts the phrase in its bio: proved."""
    phrase = world.accounts.add_handle(customer, "instagram", handle)
    key = "instagram:" + handle.lstrip("@").casefold()
    standins.accounts.setdefault(key, Account(followers, [(10, 1)] * 12, user_id=f"1784149{len(standins.accounts):010d}"))
    standins.accounts[key].biography = f"runner, coffee · {phrase}"
    world.accounts.prove_handle(customer, "instagram")


def test_only_handles_customers_gave_and_proved_are_used(world, standins):
    world.read_handles(standins)
    sam = world.join("+47 412 34 567")
    proved(world, standins, sam, "@Sam.Runs")
    silent = world.join("+47 900 00 020", consented=False)
    proved(world, standins, silent, "stranger")
    typed = world.join("+47 900 00 021")
    world.accounts.add_handle(typed, "instagram", "@Famous.Creator")  # typed in, never proved
    export = HYPEAUDITOR + "famous.creator,F,2000000,5%,1,1\n"
    result = import_export(world.office.engine, io.StringIO(export), "hypeauditor", clock=world.clock)
    assert result == {"rows": 3, "matched": 2, "dropped": 1}
    built = Builder(world.office).build()
    assert (built["customers"], built["rows"]) == (1, 1)  # the one who did not consent is not published
    account = world.accounts.of_customer(sam)[0]
    assert (account["followers"], account["status"]) == (4200, "measured")


def test_a_handle_counts_for_one_customer_only(world, standins):
    """Two phones claim @Famous.Creator: neither counts until one proves it,
    then only that one; the other cannot prove it too, and the export's
    counts are never negative."""
    world.read_handles(standins)
    first, second = world.join("+47 900 00 031"), world.join("+47 900 00 032")
    phrases = [world.accounts.add_handle(who, "instagram", "@Famous.Creator") for who in (first, second)]
    export = "username,followers_count,er\nfamous.creator,2000000,5%\n"
    assert import_export(world.office.engine, io.StringIO(export), "hypeauditor", clock=world.clock) == {
        "rows": 1, "matched": 0, "dropped": 1}
    standins.accounts["instagram:famous.creator"] = Account(2_000_000, [(90000, 900)] * 12, user_id="17841499999")
    with pytest.raises(LinkFailed, match="not in the bio"):
        world.accounts.prove_handle(first, "instagram")
    standins.accounts["instagram:famous.creator"].biography = " ".join(phrases)  # both, to be sure
    world.accounts.prove_handle(first, "instagram")
    with pytest.raises(LinkFailed) as taken:
        world.accounts.prove_handle(second, "instagram")
    assert taken.value.code == "account_taken"
    assert import_export(world.office.engine, io.StringIO(export), "hypeauditor", clock=world.clock) == {
        "rows": 1, "matched": 1, "dropped": 0}
    assert Builder(world.office).build()["customers"] == 1
    assert world.account(second, "instagram")["status"] == "unproved"


def test_hq_import_provider_command(world, standins, tmp_path):
    world.read_handles(standins)
    proved(world, standins, world.join("+47 412 34 567"), "sam.runs")
    export = tmp_path / "modash.csv"
    export.write_text(MODASH)
    done = cli("hq", "import", str(export), "--provider", "modash", "--data", str(tmp_path / "hq"),
               env=world.env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 row read: 1 matched")
