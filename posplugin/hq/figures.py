"""Head office's figures for people reading them at a glance: chain totals with
the taken rate (from :mod:`posplugin.hq.reports`' figures), a figure per day over the chosen period (nothing drawn before
a store existed), a figure per hour of one day, and the stores' table as CSV.

Reads only, from the hourly figures :mod:`posplugin.hq.reports` keeps
(``store_hours``, ``store_durations``) and the store tokens of
:mod:`posplugin.hq.office` (``hq_tokens``: when a store was added), through
SQLAlchemy Core so it runs on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics

from sqlalchemy import Engine, and_, func, select

from ..errors import ValidationError
from .schema import hq_tokens, store_durations, store_hours

SUMS = ("made", "made_murdoch", "taken", "resolved", "expired", "pain_episodes", "pain_seconds",
        "reach_murdoch", "reach_all")
# The figures a chart can show: how one period's value is made from its hours.
CHARTED = {
    "prompts_made": lambda t: t["made"],
    "prompts_taken": lambda t: t["taken"],
    "taken_rate": lambda t: taken_rate(t["taken"], t["made"]),
    "pain_episodes": lambda t: t["pain_episodes"],
    "pain_minutes": lambda t: round(t["pain_seconds"] / 60, 1),
    "reach_served_murdoch": lambda t: t["reach_murdoch"],
    "median_time_to_act_s": None,  # from store_durations
}
CSV_COLUMNS = ("store", "list_version", "last_sync_at", "stale", "behind", "prompts_made", "taken",
               "taken_rate", "resolved", "expired", "median_time_to_act_s", "pain_episodes",
               "pain_minutes", "median_pain_minutes", "reach_served_murdoch", "reach_served")


def taken_rate(taken: int, made: int) -> float | None:
    """The share of prompts that staff took (0–1, three decimals); None when none were made."""
    return round(min(taken, made) / made, 3) if made else None


def chain_totals(stores: int, chain: dict) -> dict:
    """The chain at a glance from its figures over ``stores`` stores
    (``HeadOffice.stores_and_totals``): sums, the taken rate, the median time
    to act over every store's times."""
    return {"stores": stores, "prompts_made": chain["prompts_made"], "taken": chain["taken"],
            "taken_rate": taken_rate(chain["taken"], chain["prompts_made"]), "resolved": chain["resolved"],
            "expired": chain["expired"], "median_time_to_act_s": chain["median_time_to_act_s"],
            "pain_episodes": chain["pain_episodes"], "pain_minutes": chain["pain_minutes"],
            "reach_served_murdoch": chain["reach_served_murdoch"], "reach_served": chain["reach_served"]}


class ChainFigures:
    """Read-only figures over head office's database."""

    def __init__(self, engine: Engine, *, clock, timezone=None):
        self.engine = engine
        self.clock = clock
        # Days are head office's days; without a zone, the machine's.
        self.timezone = timezone or dt.datetime.now().astimezone().tzinfo

    # -- charts -------------------------------------------------------------------

    def daily(self, figure: str, days: int, stores: list[str]) -> dict:
        """One value per store per day for the last ``days`` days, oldest first;
        None for days before the store existed (and for medians of days
        without any)."""
        _check(figure)
        today = dt.datetime.fromtimestamp(self.clock(), self.timezone).date()
        dates = [today - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]
        bounds = [self._midnight(d) for d in dates] + [self._midnight(today + dt.timedelta(days=1))]
        return {"figure": figure, "unit": "day", "days": [d.isoformat() for d in dates],
                "stores": self._series(figure, stores, bounds)}

    def hourly(self, figure: str, day: str, stores: list[str]) -> dict:
        """One value per store per hour of ``day`` (YYYY-MM-DD, head office's
        time zone); None for hours before the store existed or still to come."""
        _check(figure)
        try:
            date = dt.date.fromisoformat(day)
        except ValueError:
            raise ValidationError("day must be a date written YYYY-MM-DD", field="day") from None
        start = dt.datetime.combine(date, dt.time(), self.timezone)
        bounds = [(start + dt.timedelta(hours=h)).timestamp() for h in range(25)]
        series = self._series(figure, stores, bounds)
        now = self.clock()
        for values in series.values():
            for h in range(24):
                if bounds[h] > now:
                    values[h] = None
        return {"figure": figure, "unit": "hour", "day": date.isoformat(),
                "hours": [f"{h:02d}:00" for h in range(24)], "stores": series}

    def _series(self, figure: str, stores: list[str], bounds: list[float]) -> dict:
        result = {}
        for store in stores:
            born = self._first_seen(store)
            values = []
            for start, end in zip(bounds, bounds[1:]):
                if born is None or end <= born:
                    values.append(None)
                elif CHARTED[figure] is None:
                    values.append(_median(self._durations([store], "act", start, end)))
                else:
                    values.append(CHARTED[figure](self._sums([store], start, end)))
            result[store] = values
        return result

    # -- the stores' table as CSV ---------------------------------------------------

    @staticmethod
    def stores_csv(stores: list[dict]) -> str:
        """The /hq table (``HeadOffice.stores()`` rows) as CSV, one store a line."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for s in stores:
            f = s["figures"]
            writer.writerow([s["name"], s["list_version"], s["last_sync_at"] or "", s["stale"], s["behind"],
                             f["prompts_made"], f["taken"], _blank(taken_rate(f["taken"], f["prompts_made"])),
                             f["resolved"], f["expired"], _blank(f["median_time_to_act_s"]),
                             f["pain_episodes"], f["pain_minutes"], _blank(f["median_pain_minutes"]),
                             f["reach_served_murdoch"], f["reach_served"]])
        return out.getvalue()

    # -- inside -----------------------------------------------------------------------

    def _midnight(self, date: dt.date) -> float:
        return dt.datetime.combine(date, dt.time(), self.timezone).timestamp()

    def _sums(self, stores: list[str], start: float, end: float) -> dict:
        h = store_hours.c
        query = select(*[func.coalesce(func.sum(getattr(h, c)), 0) for c in SUMS]).where(
            and_(h.store.in_(stores), h.hour >= start, h.hour < end))
        with self.engine.connect() as conn:
            row = conn.execute(query).one()
        # PostgreSQL sums integers as NUMERIC (Decimal): back to plain numbers for JSON.
        return {c: float(v) if c == "pain_seconds" else int(v) for c, v in zip(SUMS, row)}

    def _durations(self, stores: list[str], kind: str, start: float, end: float) -> list[float]:
        d = store_durations.c
        query = select(d.seconds).where(and_(d.store.in_(stores), d.kind == kind, d.hour >= start, d.hour < end))
        with self.engine.connect() as conn:
            return [float(row[0]) for row in conn.execute(query)]

    def _first_seen(self, store: str) -> float | None:
        """When a store existed from: added (its first token) or first reported, whichever is earlier."""
        with self.engine.connect() as conn:
            added = conn.execute(select(func.min(hq_tokens.c.created_at)).where(
                and_(hq_tokens.c.name == store, hq_tokens.c.role == "store"))).scalar()
            reported = conn.execute(select(func.min(store_hours.c.hour)).where(
                store_hours.c.store == store)).scalar()
        known = [t for t in (added, reported) if t is not None]
        return min(known) if known else None


def _check(figure: str) -> None:
    if figure not in CHARTED:
        raise ValidationError(f"figure must be one of {', '.join(CHARTED)}", field="figure")


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _blank(value) -> object:
    return "" if value is None else value

