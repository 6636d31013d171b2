"""Settings: defaults, then ``posplugin.ini`` (section ``[posplugin]``), then
``POSPLUGIN_<NAME>`` environment variables, then command-line flags.

Each setting is declared once, with its default and help, beside the service
that reads it: :mod:`.common` (both services), :mod:`.store` and :mod:`.hq`,
each with its own validation. :class:`Settings` is all of them, as one data
folder's ``posplugin.ini`` may hold both (the demo runs a store and its head
office). Everything is validated at once so a store manager sees every
problem in one go, each with what to fix.
"""

from __future__ import annotations

import configparser
import dataclasses
import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..errors import ConfigError
from .common import CommonSettings, setting
from .hq import HeadOfficeSettings
from .store import StoreSettings

__all__ = ["CommonSettings", "HeadOfficeSettings", "Settings", "StoreSettings", "describe", "explain",
           "load", "require_id_key", "setting", "validate"]

INI_NAME = "posplugin.ini"
SECTION = "posplugin"
ENV_PREFIX = "POSPLUGIN_"


@dataclass(frozen=True)
class Settings(HeadOfficeSettings, StoreSettings):
    """All of posplugin's settings. Build with :func:`load`, or directly in tests."""

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings) if f.name not in ("data_dir", "extra", "sources")}
_SECRET = {"id_key", "hq_token", "hq_database_url", "smtp_url", "instagram_client_secret",
           "tiktok_client_secret", "youtube_client_secret"}


def load(data_dir: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None,
         **overrides) -> Settings:
    """Read settings for ``data_dir`` (or ``POSPLUGIN_DATA``, or ``./data``).

    ``overrides`` (e.g. from command-line flags) win over everything; ``None``
    values are ignored. Raises :class:`ConfigError` listing every problem.
    """
    environ = os.environ if environ is None else environ
    # Made absolute once, here: a relative folder would otherwise be read
    # against whatever a library takes as its base (Flask's send_file: the package).
    data = Path(data_dir or environ.get(ENV_PREFIX + "DATA") or "data").expanduser().absolute()
    raw: dict[str, tuple[str, str]] = {}  # name -> (value, where it came from)
    extra: dict[str, str] = {}
    problems: list[str] = []
    for name, value, where in [*_from_ini(data / INI_NAME), *_from_environment(environ)]:
        if name in _FIELDS:
            raw[name] = (value, where)
        else:
            extra[name] = value
            problems += _typo(name, where)
    for name, value in overrides.items():
        if value is not None:
            raw[name] = (str(value), f"--{name.replace('_', '-')}")
    values = {}
    for name, (text, where) in raw.items():
        try:
            values[name] = _convert(_FIELDS[name], text.strip())
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
    settings = Settings(data_dir=data, extra=extra, sources={name: where for name, (_, where) in raw.items()},
                        **values)
    problems += settings.problems()
    if problems:
        raise ConfigError(problems)
    return settings


def _from_ini(ini: Path) -> list[tuple[str, str, str]]:
    """``(name, value, where)`` of each key in the ini file's ``[posplugin]`` section."""
    if not ini.exists():
        return []
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(ini, encoding="utf-8")
    except configparser.Error as exc:
        raise ConfigError([f"{ini}: cannot be read ({exc.__class__.__name__}); fix its syntax"]) from None
    if not parser.has_section(SECTION):
        return []
    return [(name, value, f"{ini} [{SECTION}] {name}") for name, value in parser.items(SECTION)]


def _from_environment(environ: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """``(name, value, where)`` of each ``POSPLUGIN_<NAME>`` variable but the data folder's."""
    return [(key[len(ENV_PREFIX):].lower(), value, key) for key, value in environ.items()
            if key.startswith(ENV_PREFIX) and key != ENV_PREFIX + "DATA"]


def _typo(name: str, where: str) -> list[str]:
    """A key that is not a setting but nearly is one is a mistake, not a plugin's
    setting (plugins' keys start with the plugin's name, e.g. ``qminder_secret``)."""
    close = difflib.get_close_matches(name, _FIELDS, n=1, cutoff=0.8)
    if close:
        return [f"{where}: unknown setting {name!r} — did you mean {close[0]!r}?"]
    return []


def _convert(f: dataclasses.Field, text: str):
    if f.type in ("int", int):
        try:
            return int(text.replace("_", ""))
        except ValueError:
            raise ValueError(f"expected a whole number, got {text!r}") from None
    if f.type in ("float", float):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
    return text


def validate(s: CommonSettings) -> list[str]:
    """Every problem with ``s``, each saying what to fix."""
    return s.problems()


def explain() -> list[tuple[str, object, str]]:
    """Every setting as ``(name, default, help)``, in declaration order."""
    return [(f.name, f.default, f.metadata["help"]) for f in _FIELDS.values()]


def require_id_key(s: CommonSettings) -> None:
    """Raise :class:`ConfigError` unless an identifier key is set, saying how to set it."""
    if not s.id_key:
        raise ConfigError([
            "no identifier key: set POSPLUGIN_ID_KEY in the environment, or id_key under "
            f"[{SECTION}] in {s.data_dir / INI_NAME}; use the chain's key so hashes match head office, "
            "or, for a chain's first store, make one with `posplugin key create`"])
    if len(s.id_key) < 16:
        raise ConfigError(["the identifier key is too short: use at least 16 characters "
                           "(`posplugin key create` prints a good one)"])


def describe(s: Settings) -> dict:
    """Settings as a dict for display, with secrets masked."""
    out = {}
    for name in _FIELDS:
        value = getattr(s, name)
        out[name] = "***" if name in _SECRET and value else value
    out["data_dir"] = str(s.data_dir)
    return out
