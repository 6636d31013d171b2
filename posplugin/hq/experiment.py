"""Head office's side of the holdout experiment: which experiment runs (it
travels to every store in the signed manifest), the per-arm outcomes stores
report, and the uplift with its 95 % interval and the sample size still needed.

One experiment runs at a time. Stopping it keeps its results; a new one needs
a new name (a name is its assignment: reusing one would mix two periods), and
every experiment's results stay readable by name. Outcomes are per customer
(see :mod:`posplugin.store.experiment`): rates of return within 7 and 30
days and of accepted after-sale invitations, and mean spend over 30 days
where tills send ``sale_total``. Statistics: :mod:`posplugin.hq.uplift`.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy import Engine, func, select, update

from ..errors import Conflict, ValidationError
from ..tiers.holdout import HOLDOUT, MAX_SHARE, SERVED
from ..timeutil import iso, system_clock
from . import uplift
from .db import insert
from .schema import experiment_outcomes, experiments

log = logging.getLogger("posplugin.hq.experiment")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
LEVELS = ("murdoch", "priority", "standard")
# metric: (what it is, rate or mean)
METRICS = {
    "return_7": ("returned to the same store within 7 days", "rate"),
    "return_30": ("returned to the same store within 30 days", "rate"),
    "accepted": ("accepted an after-sale invitation within 7 days", "rate"),
    "spend_30": ("spend over 30 days, where tills send sale_total", "mean"),
    # Counted at head office from what listening heard (posplugin.hq.listening.outcomes).
    "posts_7": ("posted about the chain within 7 days (customers who consented to listening)", "rate"),
}
DEFAULT_DETECT = 0.05
METHOD = ("Rates: Newcombe's hybrid score interval (method 10) for the difference of two independent "
          "proportions, served minus holdout: built from each arm's Wilson interval, it keeps close to "
          "95 % coverage with a small holdout arm, rates near 0 or 1 and zero events, where the Wald "
          "interval does not. Spend: Welch's difference of means with a normal quantile, from 30 "
          "customers an arm. Customers needed: two-proportion normal approximation with unequal "
          "allocation (Fleiss), 80 % power, two-sided 5 %. The unit is a customer's first visit to a "
          "store during the experiment. Standard level gets no prompt in either arm: its difference "
          "should cover 0 (a check of the assignment). With many lines, about 1 in 20 will look clear by "
          "chance where there is no effect: decide the main question (e.g. Murdoch-level 7-day returns for "
          "the chain) and its sample size before starting.")


class Experiments:
    """The experiments in head office's database (SQLAlchemy Core on ``engine``)."""

    def __init__(self, engine: Engine, *, clock=system_clock):
        self.engine = engine
        self.clock = clock

    # -- running one -------------------------------------------------------

    def current(self) -> dict | None:
        """The running experiment, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(experiments).where(experiments.c.stopped_at.is_(None))
                               .order_by(experiments.c.started_at.desc())).first()
        return _experiment(row) if row else None

    def all(self) -> list[dict]:
        """Every experiment, newest first."""
        with self.engine.connect() as conn:
            # The running one first, then by start (a stop and a start may share a second).
            rows = conn.execute(select(experiments).order_by(func.coalesce(experiments.c.stopped_at, 1e18).desc(),
                                                             experiments.c.started_at.desc())).all()
        return [_experiment(r) for r in rows]

    def get(self, name: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(experiments).where(experiments.c.name == name)).first()
        return _experiment(row) if row else None

    def start(self, name: str, holdout_share: float) -> dict:
        """Start experiment ``name`` holding out ``holdout_share`` of customers;
        the running one, if any, stops. Raises for a bad or already used name."""
        if not isinstance(name, str) or not NAME.match(name):
            raise ValidationError("experiment name: 1 to 100 letters, digits, '.', '_' or '-'", field="name")
        if not 0 < holdout_share <= MAX_SHARE:
            raise ValidationError(f"holdout_share must be above 0 and at most {MAX_SHARE}", field="holdout_share")
        now = self.clock()
        with self.engine.begin() as conn:
            if conn.execute(select(experiments.c.name).where(experiments.c.name == name)).first():
                raise Conflict(f"experiment {name!r} was already run: its results stay under that name; "
                               "start the next one with a new name")
            conn.execute(update(experiments).where(experiments.c.stopped_at.is_(None)).values(stopped_at=now))
            conn.execute(insert(self.engine, experiments).values(name=name, holdout_share=holdout_share,
                                                                 started_at=now))
        return self.get(name)

    def stop(self) -> dict | None:
        """Stop the running experiment (stores serve everyone again at their
        next sync); its results stay. Returns it, or None if none ran."""
        running = self.current()
        if running:
            with self.engine.begin() as conn:
                conn.execute(update(experiments).where(experiments.c.name == running["name"])
                             .values(stopped_at=self.clock()))
        return running and self.get(running["name"])

    def apply_settings(self, name: str, holdout_share: float) -> None:
        """The ``experiment`` and ``holdout_share`` settings: a new name with a
        share starts that experiment; the running one with share 0 stops it.
        Settings never restart or reshape an experiment (that would move
        customers between arms): a used name changes nothing."""
        if not name:
            return
        running, known = self.current(), self.get(name)
        if known is None and holdout_share > 0:
            self.start(name, holdout_share)
            log.info("experiment %s started, holding out %s of customers", name, holdout_share)
        elif running and running["name"] == name and holdout_share == 0:
            self.stop()
            log.info("experiment %s stopped (holdout_share 0)", name)
        elif known and holdout_share and known["holdout_share"] != holdout_share:
            log.warning("experiment %s keeps holdout_share %s: a share cannot change while it runs; "
                        "start a new experiment with a new name", name, known["holdout_share"])

    def manifest_fields(self, conn=None) -> dict:
        """What the signed manifest carries: the running experiment, or nothing
        (read on ``conn`` when given, inside the caller's transaction)."""
        if conn is None:
            with self.engine.connect() as own:
                return self.manifest_fields(own)
        row = conn.execute(select(experiments.c.name, experiments.c.holdout_share)
                           .where(experiments.c.stopped_at.is_(None))
                           .order_by(experiments.c.started_at.desc())).first()
        return {"experiment": row[0], "holdout_share": row[1]} if row else {}

    # -- reports -----------------------------------------------------------

    def add_arms(self, conn, store: str, arms: list[dict]) -> None:
        """Add a store's per-arm outcomes on ``conn``, inside the transaction
        that records their batch (:meth:`posplugin.hq.reports.Outcomes.receive`,
        which counts each batch once). Raises :class:`ValidationError` for an
        experiment head office never ran or a rate above 1."""
        known = set(conn.scalars(select(experiments.c.name).where(
            experiments.c.name.in_({cell["experiment"] for cell in arms}))))
        cells: dict[tuple, list] = {}
        for index, cell in enumerate(arms):
            if cell["experiment"] not in known:
                raise ValidationError(f"arms.{index}.experiment: head office runs no experiment "
                                      f"{cell['experiment'][:100]!r}", field=f"arms.{index}.experiment")
            if METRICS[cell["metric"]][1] == "rate" and cell["sum"] > cell["n"]:
                raise ValidationError(f"arms.{index}.sum: {cell['sum']:g} successes of {cell['n']} customers",
                                      field=f"arms.{index}.sum")
            key = (cell["experiment"], store, cell["level"], cell["arm"], cell["metric"])
            total = cells.setdefault(key, [0, 0.0, 0.0])
            for i, name in enumerate(("n", "sum", "sum_sq")):
                total[i] += cell[name]
        if not cells:
            return
        upsert = insert(self.engine, experiment_outcomes)
        # One statement, rows in key order: batches of one store's cells lock them in the same order.
        conn.execute(upsert.on_conflict_do_update(
            index_elements=["experiment", "store", "level", "arm", "metric"],
            set_={"n": experiment_outcomes.c.n + upsert.excluded.n,
                  "total": experiment_outcomes.c.total + upsert.excluded.total,
                  "total_sq": experiment_outcomes.c.total_sq + upsert.excluded.total_sq}),
            [{"experiment": k[0], "store": k[1], "level": k[2], "arm": k[3], "metric": k[4], "n": v[0],
              "total": v[1], "total_sq": v[2]} for k, v in sorted(cells.items())])

    # -- results -----------------------------------------------------------

    def results(self, name: str | None = None, detect: float = DEFAULT_DETECT) -> dict:
        """The uplift of experiment ``name`` (default: the running one, else
        the latest) for the chain and each store, per level and outcome."""
        chosen = self.get(name) if name else (self.current() or next(iter(self.all()), None))
        if name and chosen is None:
            raise ValidationError(f"no experiment named {name!r}", field="name")
        answer = {"experiment": chosen, "experiments": self.all(), "method": METHOD,
                  "confidence": uplift.CONFIDENCE, "power": uplift.POWER, "detect": detect,
                  "metrics": {k: v[0] for k, v in METRICS.items()}, "results": []}
        if chosen is None:
            return answer
        with self.engine.connect() as conn:
            rows = conn.execute(select(experiment_outcomes)
                                .where(experiment_outcomes.c.experiment == chosen["name"])).all()
        cells: dict[tuple, list] = {}
        for r in rows:
            for scope in (None, r.store):
                cell = cells.setdefault((scope, r.level, r.metric, r.arm), [0, 0.0, 0.0])
                cell[0] += r.n
                cell[1] += r.total
                cell[2] += r.total_sq
        stores = sorted({r.store for r in rows})
        for scope in [None, *stores]:
            for level in LEVELS:
                for metric in METRICS:
                    served = cells.get((scope, level, metric, SERVED))
                    holdout = cells.get((scope, level, metric, HOLDOUT))
                    if served or holdout:
                        answer["results"].append(_uplift(scope, level, metric, served or [0, 0.0, 0.0],
                                                         holdout or [0, 0.0, 0.0], chosen["holdout_share"],
                                                         detect))
        return answer


def _experiment(row) -> dict:
    return {"name": row.name, "holdout_share": row.holdout_share, "started_at": iso(row.started_at),
            "stopped_at": iso(row.stopped_at) if row.stopped_at else None, "running": row.stopped_at is None}


def _arm(cell: list, kind: str) -> dict:
    n, total, _ = cell
    value = None if n == 0 else round(total / n, 4)
    if kind == "rate":
        return {"n": n, "successes": round(total), "rate": value}
    return {"n": n, "total": round(total, 2), "mean": value}


def _uplift(store, level, metric, served, holdout, share, detect) -> dict:
    """One line of the answer: both arms, the difference served − holdout with
    its interval, and whether there is enough data to detect ``detect``."""
    kind = METRICS[metric][1]
    out = {"scope": "chain" if store is None else "store", "store": store, "level": level, "metric": metric,
           "kind": kind, "served": _arm(served, kind), "holdout": _arm(holdout, kind)}
    if kind == "rate":
        interval = uplift.rate_difference(round(served[1]), served[0], round(holdout[1]), holdout[0])
        # The baseline for the power calculation: both arms' rate, shrunk
        # towards one half while there is little data (never 0 or 1).
        baseline = (served[1] + holdout[1] + 1) / (served[0] + holdout[0] + 2)
        needed = uplift.customers_needed(baseline, detect, share)
    else:
        interval = uplift.mean_difference(served[0], served[1], served[2], holdout[0], holdout[1], holdout[2])
        needed = (uplift.MIN_MEAN_N, uplift.MIN_MEAN_N)
    more = uplift.more_needed(served[0], holdout[0], needed, share)
    out.update({
        "difference": None if interval is None else round(interval.estimate, 4),
        "low": None if interval is None else round(interval.low, 4),
        "high": None if interval is None else round(interval.high, 4),
        "needed": {"served": needed[0], "holdout": needed[1]},
        "enough": more == 0 and interval is not None,
        # An arm with no one yet always needs more, whatever the arithmetic says.
        "more_needed": max(more, 0 if interval is not None else 1),
        "significant": interval is not None and more == 0 and (interval.low > 0 or interval.high < 0),
    })
    return out
