"""Head office's figures, the one reader of the outcomes stores report: each
store's figures and the chain's over a period (sums, the taken rate, exact
medians over every duration), a figure per day over the chosen period
(nothing drawn before a store existed), a figure per hour of one day, and the
stores' table as CSV.

Reads only, from the sums :mod:`posplugin.hq.reports` keeps (``store_hours``,
``store_days``, ``store_durations``, ``store_day_durations``) and the store
tokens of :mod:`posplugin.hq.office` (``hq_tokens``: when a store was added),
through SQLAlchemy Core so it runs on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics

import numpy
from sqlalchemy import Engine, and_, cast, func, select

from ..errors import ValidationError
from .db import appended_all, packed_rows, unpack
from .reports import DAY_S, SUMS
from .schema import hq_tokens, store_day_durations, store_days, store_durations, store_hours

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


class Figures:
    """Read-only figures over head office's database."""

    def __init__(self, engine: Engine, *, clock, timezone=None):
        self.engine = engine
        self.clock = clock
        # Days are head office's days; without a zone, the machine's.
        self.timezone = timezone or dt.datetime.now().astimezone().tzinfo

    # -- the stores' figures and the chain's ----------------------------------------

    def of_store(self, store: str, since: float) -> dict:
        """A store's outcomes in the hours from the one holding ``since`` on."""
        return self.of_stores([store], since)[0][store]

    def of_stores(self, stores: list[str], since: float) -> tuple[dict[str, dict], dict]:
        """Each store's outcomes from the hour holding ``since`` on, and the
        chain's over all of ``stores`` (their sums, and medians over every one
        of their durations): one grouped query for the sums and one for the
        durations, however many stores."""
        since -= since % 3600
        # Whole days from the day sums, the hours before the first whole day from the hours.
        first_day = since if since % DAY_S == 0 else since - since % DAY_S + DAY_S
        with self.engine.connect() as conn:
            totals = self._sums_since(conn, since, first_day)
            durations = self._durations_since(conn, since, first_day)
        act, chain_act = _medians([durations.get((store, "act")) for store in stores])
        pain, chain_pain = _medians([durations.get((store, "pain")) for store in stores])
        empty = (0,) * len(SUMS)
        chain = dict.fromkeys(SUMS, 0)
        figures = {}
        for index, store in enumerate(stores):
            sums = dict(zip(SUMS, totals.get(store, empty)))
            for name in SUMS:
                chain[name] += sums[name]
            figures[store] = _figures(sums, act[index], pain[index])
        return figures, {"stores": len(stores), **_figures(chain, chain_act, chain_pain)}

    @staticmethod
    def _sums_since(conn, since: float, first_day: float) -> dict[str, list]:
        """``{store: [each of SUMS]}`` from ``since``: whole days from the day
        sums, the hours before ``first_day`` from the hours, each grouped on
        its own (grouping a union of both sorted 450,000 rows again: twice the
        time at 5,000 stores × 90 days)."""
        found: dict[str, list] = {}
        for table, where in ((store_days, store_days.c.day >= first_day),
                             (store_hours, and_(store_hours.c.hour >= since, store_hours.c.hour < first_day))):
            for store, *values in conn.execute(
                    select(table.c.store, *(cast(func.sum(table.c[c]), table.c[c].type) for c in SUMS))
                    .where(where).group_by(table.c.store)):
                found[store] = [a + b for a, b in zip(found[store], values)] if store in found else values
        return found

    def _durations_since(self, conn, since: float, first_day: float) -> dict[tuple, numpy.ndarray]:
        """``{(store, kind): every duration from since}``: whole days from the
        packed day rows, the hours before ``first_day`` one by one. Medians
        taken from these are exact and the same on both engines; PostgreSQL's
        percentile_cont over the unpacked values took 3-6 s at 5,000 stores ×
        90 days, this a fraction of that (benchmarks/bench_chain.py)."""
        days = store_day_durations
        found: dict[tuple, list] = {}
        # One row per store and kind: a few thousand rows to fetch, not one a day.
        for store, kind, packed in packed_rows(conn, select(
                days.c.store, days.c.kind, appended_all(self.engine, days.c.seconds))
                .where(days.c.day >= first_day).group_by(days.c.store, days.c.kind)):
            found.setdefault((store, kind), []).append(unpack(packed))
        for store, kind, seconds in conn.execute(
                select(store_durations.c.store, store_durations.c.kind, store_durations.c.seconds)
                .where(store_durations.c.hour >= since, store_durations.c.hour < first_day)):
            found.setdefault((store, kind), []).append(numpy.array([seconds]))
        return {key: parts[0] if len(parts) == 1 else numpy.concatenate(parts) for key, parts in found.items()}

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
                             f["prompts_made"], f["taken"], _blank(f["taken_rate"]),
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


def _medians(parts: list[numpy.ndarray | None]) -> tuple[list[float | None], float | None]:
    """The median of each of ``parts`` (None for None) and of all of them
    together. All are copied once, end to end, and each median is taken by a
    partial sort in place on its stretch of that copy: a copy per median
    (numpy.median, numpy.partition) was a third of this step at 5,000 stores."""
    present = [part for part in parts if part is not None]
    if not present:
        return [None] * len(parts), None
    every = numpy.concatenate(present)
    each, start = [], 0
    for part in parts:
        if part is None:
            each.append(None)
            continue
        each.append(_median_in_place(every[start:start + part.size]))
        start += part.size
    # Reordering within each stretch leaves the whole the same multiset.
    return each, _median_in_place(every)


def _median_in_place(values: numpy.ndarray) -> float | None:
    """The exact median of ``values`` (reordered), as statistics.median takes
    it: the mean of the two middle values of an even count; None for none."""
    if not values.size:
        return None
    middle = values.size // 2
    if values.size % 2:
        values.partition(middle)
        return float(values[middle])
    values.partition((middle - 1, middle))
    return (float(values[middle - 1]) + float(values[middle])) / 2


def _figures(totals: dict, act: float | None, pain: float | None) -> dict:
    return {"prompts_made": totals["made"], "murdoch_prompts_made": totals["made_murdoch"],
            "taken": totals["taken"], "taken_rate": taken_rate(totals["taken"], totals["made"]),
            "resolved": totals["resolved"], "expired": totals["expired"],
            "median_time_to_act_s": None if act is None else round(act, 1),
            "pain_episodes": totals["pain_episodes"],
            "pain_minutes": round(totals["pain_seconds"] / 60, 1),
            "median_pain_minutes": _minutes(pain),
            "reach_served_murdoch": totals["reach_murdoch"], "reach_served": totals["reach_all"]}


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)
