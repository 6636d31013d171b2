"""Settings from defaults, posplugin.ini and POSPLUGIN_* variables, validated at once."""

from pathlib import Path

import pytest

from posplugin import config
from posplugin.errors import ConfigError


def write_ini(folder, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "posplugin.ini").write_text("[posplugin]\n" + text, encoding="utf-8")


def test_defaults_without_a_file(tmp_path):
    s = config.load(tmp_path, environ={})
    assert (s.port, s.retention_days, s.level_murdoch, s.data_dir) == (8765, 30, 200, tmp_path)


def test_environment_wins_over_the_file(tmp_path):
    write_ini(tmp_path, "default_region = SE\nretention_days = 10\n")
    s = config.load(tmp_path, environ={"POSPLUGIN_DEFAULT_REGION": "NO"})
    assert (s.default_region, s.retention_days) == ("NO", 10)


def test_data_folder_from_the_environment(tmp_path):
    write_ini(tmp_path, "port = 9000\n")
    assert config.load(None, environ={"POSPLUGIN_DATA": str(tmp_path)}).port == 9000


def test_flags_win_over_everything(tmp_path):
    write_ini(tmp_path, "port = 9000\n")
    assert config.load(tmp_path, environ={"POSPLUGIN_PORT": "9001"}, port=9002).port == 9002


@pytest.mark.parametrize("setting,value,words", [
    ("port", "eighty", "whole number"),
    ("port", "70000", "1-65535"),
    ("default_region", "XX", "two-letter country code"),
    ("timezone", "Mars/Olympus", "IANA"),
    ("retention_days", "0", "at least 1"),
    ("tier_micro", "500", "must rise"),
    ("level_murdoch", "10", "must rise"),
    ("language", "klingon", "en or nb"),
    ("verify_level", "always", "none, priority, murdoch"),
    ("holdout_share", "0.7", "0 (no experiment) to 0.5"),
    ("holdout_share", "-0.1", "0 (no experiment) to 0.5"),
    ("experiment", "spring 2027", "letters, digits"),
    ("bluesky_client_name", "Nordshop", "https:// public_url"),
    ("bluesky_plc_url", "plc.directory", "http:// or https://"),
    ("bluesky_domain_url", "https://example.com", "{domain}"),
])
def test_bad_values_say_what_to_fix(tmp_path, setting, value, words):
    with pytest.raises(ConfigError) as info:
        config.load(tmp_path, environ={f"POSPLUGIN_{setting.upper()}": value})
    assert words in str(info.value)


def test_every_problem_is_reported_at_once(tmp_path):
    write_ini(tmp_path, "port = x\nretention_days = 0\n")
    with pytest.raises(ConfigError) as info:
        config.load(tmp_path, environ={})
    assert len(info.value.problems) == 2
    assert "posplugin.ini" in info.value.problems[0]


def test_unreadable_ini_is_a_config_error(tmp_path):
    (tmp_path / "posplugin.ini").write_text("this is not ini", encoding="utf-8")
    with pytest.raises(ConfigError, match="syntax"):
        config.load(tmp_path, environ={})


@pytest.mark.parametrize("key,fragment", [("", "POSPLUGIN_ID_KEY"), ("short", "at least 16")])
def test_identifier_key_is_required_and_long_enough(tmp_path, key, fragment):
    s = config.load(tmp_path, environ={"POSPLUGIN_ID_KEY": key} if key else {})
    with pytest.raises(ConfigError, match=fragment):
        config.require_id_key(s)


def test_describe_masks_secrets(tmp_path):
    s = config.load(tmp_path, environ={"POSPLUGIN_ID_KEY": "k" * 32, "POSPLUGIN_HQ_TOKEN": "t" * 20})
    shown = config.describe(s)
    assert shown["id_key"] == "***" and shown["hq_token"] == "***"


@pytest.mark.parametrize("where", ["ini", "env"])
def test_a_near_miss_of_a_setting_is_refused_with_the_right_name(tmp_path, where):
    environ = {}
    if where == "ini":
        (tmp_path / "posplugin.ini").write_text("[posplugin]\nlangauge = nb\n")
    else:
        environ = {"POSPLUGIN_LANGAUGE": "nb"}
    with pytest.raises(ConfigError) as caught:
        config.load(tmp_path, environ=environ)
    assert "unknown setting 'langauge' — did you mean 'language'?" in " ".join(caught.value.problems)


def test_plugin_settings_are_kept_for_the_plugins(tmp_path):
    (tmp_path / "posplugin.ini").write_text("[posplugin]\nqminder_secret = s3cret\n")
    assert config.load(tmp_path, environ={}).extra["qminder_secret"] == "s3cret"


def test_every_setting_has_help_and_is_in_the_readme():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    table = readme[readme.index("## Configuration"):]
    table = table[:table.index("\n## ", 5)]
    for name, _, help in config.explain():
        assert help.strip(), name
        assert f"`{name}`" in table, f"README's configuration table lacks {name}"
