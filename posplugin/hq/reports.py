"""Head office's side of the outcome reports: receive each batch once, keep
hourly figures per store, and answer figures and charts from them.

A batch is stored and exploded into per-store hourly sums in one transaction,
so it is either counted whole or not at all, and a repeat of a batch id
changes nothing. Times to act and pain durations are kept one row each (they
are durations, not identifiers) so that medians are real medians.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy

from sqlalchemy import BigInteger, and_, case, cast, exists, func, literal, select

from ..errors import ValidationError
from ..timeutil import parse_iso, system_clock
from .db import appended, appended_all, insert, median_rows, pack, packed_rows, unpack
from .schema import reports, store_day_durations, store_days, store_durations, store_hours

DAY_S = 86400
SUMS = ("made", "made_murdoch", "taken", "resolved", "expired", "pain_episodes", "pain_seconds",
        "reach_murdoch", "reach_all")
# The figures a chart can show, and how a day's value is made from hours.


def _sum(name: str):
    # PostgreSQL sums a bigint as numeric (a Decimal here): back to the column's type.
    return cast(func.sum(store_hours.c[name]), store_hours.c[name].type)


FIGURES = {
    "prompts_made": _sum("made"),
    "prompts_taken": _sum("taken"),
    "pain_episodes": _sum("pain_episodes"),
    "pain_minutes": _sum("pain_seconds") / 60.0,
    "reach_served_murdoch": _sum("reach_murdoch"),
    "median_time_to_act_s": None,  # from store_durations
}


class Outcomes:
    """The outcome reports in head office's database (an SQLAlchemy engine)."""

    def __init__(self, engine, *, clock=system_clock, timezone=None):
        self.engine = engine
        self.clock = clock
        # Days for charts are head office's days; without a zone, the machine's.
        self.timezone = timezone or dt.datetime.now().astimezone().tzinfo
        self._backfill_days()

    def _backfill_days(self) -> None:
        """Day sums and day durations for reports received before store_days
        and store_day_durations existed (a migration: each runs once, and
        does nothing when its table has any row)."""
        with self.engine.begin() as conn:
            if not conn.execute(select(exists(store_day_durations.select()))).scalar():
                days: dict[tuple, list] = {}
                for store, kind, hour, seconds in conn.execute(select(
                        store_durations.c.store, store_durations.c.kind, store_durations.c.hour,
                        store_durations.c.seconds)):
                    days.setdefault((store, kind, hour - hour % DAY_S), []).append(seconds)
                if days:
                    conn.execute(insert(self.engine, store_day_durations).on_conflict_do_nothing(), [
                        {"store": store, "kind": kind, "day": day, "seconds": pack(values)}
                        for (store, kind, day), values in days.items()])
        with self.engine.begin() as conn:
            if conn.execute(select(exists(store_days.select()))).scalar() or \
                    not conn.execute(select(exists(store_hours.select()))).scalar():
                return
            # Hours are whole seconds: integer division is the same on both engines.
            day = cast(store_hours.c.hour, BigInteger) / DAY_S * DAY_S
            conn.execute(insert(self.engine, store_days).from_select(
                ["store", "day", *SUMS],
                select(store_hours.c.store, day, *(func.sum(store_hours.c[c]) for c in SUMS))
                .group_by(store_hours.c.store, day)).on_conflict_do_nothing())

    def receive(self, store: str, batch, hours) -> bool:
        """Count a batch of hourly figures once; True if it was new."""
        sums: dict[float, dict] = {}
        durations = []
        for index, hour in enumerate(hours):
            try:
                at = parse_iso(hour["hour"])
            except ValueError as exc:
                raise ValidationError(f"hours.{index}.hour: {exc}", field=f"hours.{index}.hour") from None
            at -= at % 3600
            reach = hour.get("reach_served", {})
            made = hour.get("made", {})
            figures = (sum(made.values()), sum(n for key, n in made.items() if key.endswith(":murdoch")),
                       hour.get("taken", 0), hour.get("resolved", 0), hour.get("expired", 0),
                       hour.get("pain_episodes", 0), hour.get("pain_seconds", 0.0),
                       reach.get("murdoch", 0), sum(reach.values()))
            # One row per hour: a batch naming an hour twice must not upsert
            # the same row twice in one statement (PostgreSQL refuses that).
            row = sums.setdefault(at, {"store": store, "hour": at, **dict.fromkeys(SUMS, 0)})
            for name, value in zip(SUMS, figures):
                row[name] += value
            durations += [{"store": store, "hour": at, "kind": "act", "seconds": s}
                          for s in hour.get("times_to_act_s", ())]
            durations += [{"store": store, "hour": at, "kind": "pain", "seconds": s}
                          for s in hour.get("pain_durations_s", ())]
        with self.engine.begin() as conn:
            new = conn.execute(insert(self.engine, reports).values(
                batch=batch, store=store, received_at=self.clock(), hours=json.dumps(hours))
                .on_conflict_do_nothing(index_elements=["batch"]).returning(reports.c.batch)).first() is not None
            if new and sums:
                conn.execute(self._adding(store_hours, "hour"), list(sums.values()))
                conn.execute(self._adding(store_days, "day"), _by_day(sums.values()))
            if new and durations:
                conn.execute(store_durations.insert(), durations)
                days: dict[tuple, list] = {}
                for row in durations:
                    days.setdefault((row["kind"], row["hour"] - row["hour"] % DAY_S), []).append(row["seconds"])
                upsert = insert(self.engine, store_day_durations)
                upsert = upsert.on_conflict_do_update(index_elements=["store", "kind", "day"], set_={
                    "seconds": appended(store_day_durations.c.seconds, upsert.excluded.seconds)})
                conn.execute(upsert, [{"store": store, "kind": kind, "day": day, "seconds": pack(values)}
                                      for (kind, day), values in days.items()])
        return new

    def _adding(self, table, key: str):
        """INSERT of a row of sums that adds to the row already there."""
        upsert = insert(self.engine, table)
        return upsert.on_conflict_do_update(index_elements=["store", key],
                                            set_={c: table.c[c] + upsert.excluded[c] for c in SUMS})

    def figures(self, store: str, since: float) -> dict:
        """A store's outcomes in the hours from the one holding ``since`` on."""
        return self.figures_of_stores([store], since)[store]

    def figures_of_stores(self, stores: list[str], since: float) -> dict[str, dict]:
        """Each store's outcomes from the hour holding ``since`` on."""
        return self.figures_with_chain(stores, since)[0]

    def figures_with_chain(self, stores: list[str], since: float) -> tuple[dict[str, dict], dict]:
        """Each store's outcomes from the hour holding ``since`` on, and the
        chain's over all of ``stores`` (their sums, and medians over every one
        of their durations): one grouped query for the sums and one for the
        durations, however many stores."""
        since -= since % 3600
        # Whole days from the day sums, the hours before the first whole day from the hours.
        first_day = since if since % DAY_S == 0 else since - since % DAY_S + DAY_S
        with self.engine.connect() as conn:
            totals = self._sums(conn, since, first_day)
            durations = self._durations(conn, since, first_day)
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
        return figures, _figures(chain, chain_act, chain_pain)

    @staticmethod
    def _sums(conn, since: float, first_day: float) -> dict[str, list]:
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

    def _durations(self, conn, since: float, first_day: float) -> dict[tuple, numpy.ndarray]:
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

    def series(self, figure: str, days: int, stores: list[str]) -> dict:
        """One value per store per day for the last ``days`` days (head office's
        time zone), oldest first; days without reports are 0 (None for medians)."""
        if figure not in FIGURES:
            raise ValidationError(f"figure must be one of {', '.join(FIGURES)}", field="figure")
        today = dt.datetime.fromtimestamp(self.clock(), self.timezone).date()
        dates = [today - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]
        bounds = [dt.datetime.combine(d, dt.time(), self.timezone).timestamp() for d in dates]
        bounds.append(dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), self.timezone).timestamp())
        table = store_hours if FIGURES[figure] is not None else store_durations
        # Each hour falls in one local day (time zones move by whole hours).
        day = case(*((table.c.hour < bound, index) for index, bound in enumerate(bounds[1:])),
                   else_=literal(-1))
        window = and_(table.c.hour >= bounds[0], table.c.hour < bounds[-1])
        with self.engine.connect() as conn:
            if FIGURES[figure] is None:
                found = median_rows(self.engine, conn, table.c.seconds, [table.c.store, day],
                                    and_(window, table.c.kind == "act"))
                found = {key: round(value, 1) for key, value in found.items()}
            else:
                found = {(store, index): value for store, index, value in conn.execute(
                    select(table.c.store, day, func.coalesce(FIGURES[figure], 0)).where(window)
                    .group_by(table.c.store, day))}
        missing = None if FIGURES[figure] is None else 0
        values = {store: [found.get((store, i), missing) for i in range(days)] for store in stores}
        return {"figure": figure, "days": [d.isoformat() for d in dates], "stores": values}


def _by_day(hours) -> list[dict]:
    days: dict[float, dict] = {}
    for row in hours:
        day = row["hour"] - row["hour"] % DAY_S
        out = days.setdefault(day, {"store": row["store"], "day": day, **dict.fromkeys(SUMS, 0)})
        for name in SUMS:
            out[name] += row[name]
    return list(days.values())


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
            "taken": totals["taken"], "resolved": totals["resolved"], "expired": totals["expired"],
            "median_time_to_act_s": None if act is None else round(act, 1),
            "pain_episodes": totals["pain_episodes"],
            "pain_minutes": round(totals["pain_seconds"] / 60, 1),
            "median_pain_minutes": _minutes(pain),
            "reach_served_murdoch": totals["reach_murdoch"], "reach_served": totals["reach_all"]}


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)
