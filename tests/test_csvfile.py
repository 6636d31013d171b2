"""The one CSV pipeline: files as Excel and Numbers save them, read by every
import (tiers, queue history, head office) the same way."""

import csv
import io

import pytest
from helpers import ID_KEY, TIER_COLUMNS, cli
from hypothesis import given, settings
from hypothesis import strategies as st

from posplugin.errors import ImportRefused
from posplugin.tiers import csvfile
from posplugin.tiers.csvfile import CsvReader, Problems, decimal, whole
from posplugin.tiers.lists import import_csv, parse_engagement, parse_followers

COLUMNS = ("lane", "at", "length")


def write(path, rows, *, delimiter=",", encoding="utf-8", newline="\n", bom=False):
    """Write ``rows`` as a CSV file the way a spreadsheet would."""
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=newline).writerows(rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode(encoding))
    return path


def cells(path, columns=COLUMNS):
    with csvfile.open_csv(path) as f:
        reader = CsvReader(f, columns)
        return [(line, row) for line, row in reader], reader


EXCEL_NO = [TIER_COLUMNS,
            ["phone", "412 34 567", "4200", "6,2%", "løping;kaffe", "ja"],
            ["email", "Åse@Example.no", "45 000", "0,003", "hudpleie", "JA"],
            ["email", "nei@example.no", "90000", "9%", "vin", "nei"]]


@pytest.mark.parametrize("delimiter,encoding,newline,bom", [
    (";", "utf-8", "\r\n", True),      # Excel "CSV UTF-8" in a comma-decimal locale
    (";", "cp1252", "\r\n", False),    # Excel "CSV" on Windows
    (",", "utf-8", "\n", False),       # Numbers
    ("\t", "utf-8", "\n", False),      # tab-separated export
])
def test_spreadsheet_files_load_the_same_list(store, tmp_path, delimiter, encoding, newline, bom):
    path = write(tmp_path / "list.csv", EXCEL_NO, delimiter=delimiter, encoding=encoding,
                 newline=newline, bom=bom)
    with csvfile.open_csv(path) as f:
        result = import_csv(store.tiers, f, store.hasher)
    assert (result.rows, result.opted_out) == (2, 1)
    murdoch = store.tiers.lookup(store.hasher("phone", "+4741234567"))
    assert murdoch.followers == 4200 and murdoch.engagement_rate == pytest.approx(0.062)
    assert murdoch.niches == ("løping", "kaffe")
    assert store.tiers.lookup(store.hasher("email", "åse@example.no")).followers == 45_000
    assert (result.notes != []) == (encoding == "cp1252")


def test_latin1_fallback_names_the_first_line_and_says_what_to_do(tmp_path):
    path = tmp_path / "h.csv"
    path.write_bytes("lane,at,length\n1,2026-11-01T10:00:00Z,3\nkasse ø,2026-11-01T10:00:00Z,4\n".encode("cp1252"))
    rows, reader = cells(path)
    assert rows[1] == (3, ["kasse ø", "2026-11-01T10:00:00Z", "4"])
    assert len(reader.notes) == 1
    assert "line 3" in reader.notes[0] and "Latin-1" in reader.notes[0] and "CSV UTF-8" in reader.notes[0]


def test_excel_sep_line_sets_the_delimiter_and_counts_as_a_line(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("sep=;\r\nlength;lane;at\r\n3;1;2026-11-01T10:00:00Z\r\n")
    rows, reader = cells(path)
    assert reader.delimiter == ";" and rows == [(3, ["3", "1", "2026-11-01T10:00:00Z"])]
    assert reader.at == {"lane": 1, "at": 2, "length": 0}


@pytest.mark.parametrize("text,message", [
    ("", "the file is empty"),
    ("\n", "the file is empty"),
    ("lane;when;length\n1;x;3\n", "this looks like a semicolon-separated file, but its header has no at"),
    ("lane,when,length\n1,x,3\n", "missing columns: at"),
])
def test_unusable_headers_refuse_the_file_at_line_one(tmp_path, text, message):
    path = tmp_path / "h.csv"
    path.write_text(text)
    with pytest.raises(ImportRefused) as info:
        cells(path)
    assert info.value.problems[0][0] == 1 and message in info.value.problems[0][1]
    assert info.value.total_bad == 1


def test_a_semicolon_line_in_a_comma_file_is_named_as_such(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("lane,at,length\n1;2026-11-01T10:00:00Z;3\n1,2026-11-01T10:00:00Z\n")
    rows, _ = cells(path)
    assert rows[0] == (2, "this line looks semicolon-separated, but the header is comma-separated;"
                          " save the whole file one way")
    assert rows[1] == (3, "expected 3 columns, found 2")


def test_blank_lines_are_skipped_and_line_numbers_stay_physical(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text('lane,at,length\n\n"a\nb",x,1\n\n2,y,2\n')
    rows, _ = cells(path)
    assert [line for line, _ in rows] == [4, 6]


def test_problems_keep_the_first_and_count_the_rest():
    problems = Problems(keep=3)
    good = list(problems.good((n, "bad" if n % 2 else n) for n in range(1, 101)))
    assert good == list(range(2, 101, 2))
    assert problems.kept == [(1, "bad"), (3, "bad"), (5, "bad")] and problems.total == 50
    with pytest.raises(ImportRefused) as info:
        problems.refuse()
    assert info.value.total_bad == 50 and "... and 47 more bad rows" in info.value.message


@pytest.mark.parametrize("text,value", [("0.062", 0.062), ("0,062", 0.062), (" 6 ", 6.0), ("-1,5", -1.5)])
def test_decimal_takes_a_point_or_a_comma(text, value):
    assert decimal(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["1,000,5", "1.000,5", "x", ""])
def test_decimal_refuses_what_is_not_one_number(text):
    with pytest.raises(ValueError):
        decimal(text)


@pytest.mark.parametrize("text,value", [("4200", 4200), ("4,200", 4200), ("4 200", 4200), ("4.200", 4200),
                                        ("1\u00a0000\u00a0000", 1_000_000), ("1_000_000", 1_000_000),
                                        (" 7 ", 7)])
def test_whole_numbers_with_digit_groups(text, value):
    assert whole(text) == value


@pytest.mark.parametrize("text", ["1,5", "4,20", "4.2", "1,000.000", "1 000,000 000", "12,3456", "x"])
def test_whole_refuses_what_is_not_a_whole_number(text):
    with pytest.raises(ValueError):
        whole(text)


@pytest.mark.parametrize("text,rate", [("6,2%", 0.062), ("0,062", 0.062), ("6,2 %", 0.062)])
def test_engagement_with_a_decimal_comma(text, rate):
    assert parse_engagement(text) == pytest.approx(rate)


def test_followers_refuse_a_decimal():
    with pytest.raises(ValueError, match="whole number"):
        parse_followers("4,5")


CELL = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(CELL, CELL, CELL), max_size=8),
       order=st.permutations(COLUMNS), delimiter=st.sampled_from(csvfile.DELIMITERS),
       newline=st.sampled_from(["\n", "\r\n"]), bom=st.booleans())
def test_whatever_the_spreadsheet_the_cells_come_back(rows, order, delimiter, newline, bom):
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline, quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(order)
    writer.writerows([r[COLUMNS.index(c)] for c in order] for r in rows)
    data = (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8")
    reader = CsvReader(io.BytesIO(data), COLUMNS)
    back = [tuple(cells[reader.at[c]] for c in COLUMNS) for _, cells in reader]
    assert back == rows
    assert reader.notes == []


def test_every_import_reports_bad_lines_the_same_way(store, hq, tmp_path):
    tiers = write(tmp_path / "t.csv", [TIER_COLUMNS, ["email", "a@b.no", "1", "1%", "", "ja"],
                                       ["email", "x@y.no", "many", "1%", "", "ja"]], delimiter=";")
    for load in (lambda f: import_csv(store.tiers, f, store.hasher), hq.import_csv):
        with csvfile.open_csv(tiers) as f, pytest.raises(ImportRefused) as info:
            load(f)
        assert info.value.problems == [(3, "followers must be a whole number, got 'many'")]
    history = write(tmp_path / "h.csv", [COLUMNS, ["1", "2026-11-01T10:00:00Z", "many"]], delimiter=";")
    with csvfile.open_csv(history) as f, pytest.raises(ImportRefused) as info:
        store.queues.import_csv(f)
    assert info.value.problems == [(2, "length 'many' is not a whole number")]


def test_cli_imports_an_excel_file_and_says_it_read_latin1(settings, tmp_path):
    path = write(tmp_path / "excel.csv", EXCEL_NO, delimiter=";", encoding="cp1252", newline="\r\n")
    done = cli("tiers", "import", str(path), "--data", str(settings.data_dir),
               env={"POSPLUGIN_ID_KEY": ID_KEY, "POSPLUGIN_DEFAULT_REGION": "NO"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("2 rows loaded") and "Latin-1" in done.stderr


def test_cli_caps_the_bad_lines_it_lists(settings, tmp_path):
    rows = [TIER_COLUMNS] + [["email", f"u{i}@b.no", "x", "1%", "", "ja"] for i in range(120)]
    path = write(tmp_path / "bad.csv", rows)
    done = cli("tiers", "import", str(path), "--data", str(settings.data_dir),
               env={"POSPLUGIN_ID_KEY": ID_KEY})
    assert done.returncode == 1
    assert "120 bad rows, nothing loaded" in done.stderr and "line 51:" in done.stderr
    assert "line 52:" not in done.stderr and "... and 70 more bad rows" in done.stderr


def test_cli_queue_history_from_excel(settings, tmp_path):
    path = write(tmp_path / "h.csv", [["at", "length", "lane"], ["2026-11-01T10:00:00Z", "3", "kasse 1"]],
                 delimiter=";", newline="\r\n", bom=True)
    done = cli("queues", "import", str(path), "--data", str(settings.data_dir))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1 readings loaded"
