"""Whether the tier list in use can do its job, said plainly: what is loaded
(version, rows, age, where from) and what a store manager should be told
(no list at all means every customer is "everyday" and no service prompt is
ever made). Used by ``serve`` at start, ``/healthz`` and ``posplugin tiers status``."""

from __future__ import annotations

from .lists import ListInfo

NO_LIST = ("no tier list loaded: every customer is treated as 'everyday' and no service prompt is made; "
           "load one with `posplugin tiers import FILE.csv`, or set hq_url, hq_token and hq_public_key "
           "to pull head office's list")
EMPTY_LIST = ("the tier list in use (version {version}) has no customers: every customer is treated as "
              "'everyday'; check the file or head office's list")


def warnings(info: ListInfo) -> list[str]:
    """What is wrong with the list in use, one sentence each; empty when nothing is."""
    if info.version is None:
        return [NO_LIST]
    if not info.rows:
        return [EMPTY_LIST.format(version=info.version)]
    return []


def age_words(seconds: float | None) -> str:
    """How long ago, in words a person reads at a glance ("3 h", "2 days")."""
    if seconds is None:
        return "never"
    if seconds < 90:
        return f"{round(seconds)} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} days"


def status_lines(info: ListInfo, now: float) -> list[str]:
    """``posplugin tiers status``: version, rows, age and source, then any warning."""
    applied = None if info.applied_at is None else now - info.applied_at
    lines = [f"version  {info.version if info.version is not None else '(none)'}",
             f"rows     {info.rows:,}",
             f"age      {age_words(applied)}" + (" (applied)" if applied is not None else ""),
             f"source   {info.source or '(none)'}"]
    if info.synced_at is not None:
        lines.append(f"checked  {age_words(now - info.synced_at)} ago with head office")
    return lines + [f"warning: {w}" for w in warnings(info)]
