"""The store's side of the chain's holdout experiment: which experiment runs
(from head office's signed manifest), and each customer's outcomes per arm.

Head office names the experiment and its ``holdout_share``; a sync round
records them here and the serving process picks them up within seconds. At
identify, a held-out customer whose level would make a service prompt gets
none (see :meth:`posplugin.store.service.Store.identify`).

Outcomes are measured per customer, not per visit (a customer's visits are
not independent): the customer's first visit to this store during the
experiment is their index visit, with its arm and the level they had or would
have had. A later visit at least ``RETURN_GAP_S`` after it is a return; an
``amplify`` prompt for them resolved within 7 days is an accepted invitation;
``sale_total`` of their visits within 30 days is their spend. When 7 (30)
days have passed, the customer's outcome goes to ``arm_outbox`` as one
(experiment, level, arm, metric, value) row, with no identifier, and leaves
for head office with the other reports. Customers stay in
``experiment_customers`` (keyed hashes, like visits) until their experiment
has ended and their last outcome is out, so a customer counts once per
experiment even past ``retention_days``.
"""

from __future__ import annotations

import threading
import time

from ..tiers.holdout import MAX_SHARE, arm
from . import prompts, visits

DAY = 86_400.0
# Two identifies within hours are one trip (a queue ticket, then the till).
RETURN_GAP_S = 12 * 3600.0
# The serving process rereads what a sync (another process) recorded this often.
REFRESH_S = 5.0
# How long after the newest visit the scan waits, so a batched visit still on
# its way to the disk is never skipped.
SCAN_LAG_S = 5.0
METRICS_7 = ("return_7", "accepted")
METRICS_30 = ("return_30", "spend_30")


class Holdout:
    """The running experiment as the serving process sees it."""

    def __init__(self, db, id_key: str):
        self.db = db
        self.id_key = id_key
        self._lock = threading.Lock()
        self._loaded_at = -REFRESH_S
        self._current: tuple[str, float] | None = None

    def current(self) -> tuple[str, float] | None:
        """``(name, holdout_share)`` of the running experiment, or None."""
        if time.monotonic() - self._loaded_at >= REFRESH_S:
            with self._lock:
                row = self.db.execute("SELECT name, holdout_share FROM experiment_state WHERE id = 1").fetchone()
                self._current = (row[0], row[1]) if row and row[0] and row[1] > 0 else None
                self._loaded_at = time.monotonic()
        return self._current

    def arm_of(self, customer: bytes) -> tuple[str | None, str | None]:
        """``(experiment, arm)`` for a customer, or ``(None, None)`` with no experiment."""
        running = self.current()
        if running is None:
            return None, None
        return running[0], arm(self.id_key, running[0], customer, running[1])

    def forget(self) -> None:
        """Reread at the next identify (this process just changed it)."""
        self._loaded_at = -REFRESH_S


def apply_manifest(conn, manifest: dict, now: float) -> bool:
    """Record the experiment a verified manifest names (none when it names
    none, as older manifests do); True when it changed."""
    name = manifest.get("experiment") or None
    share = float(manifest.get("holdout_share") or 0.0) if name else 0.0
    share = min(max(share, 0.0), MAX_SHARE)
    row = conn.execute("SELECT name, holdout_share FROM experiment_state WHERE id = 1").fetchone()
    if (tuple(row) if row else (None, 0.0)) == (name, share):
        return False
    conn.execute("INSERT INTO experiment_state (id, name, holdout_share, updated_at) VALUES (1, ?, ?, ?)"
                 " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
                 " holdout_share = excluded.holdout_share, updated_at = excluded.updated_at",
                 (name, share, now))
    return True


def track(db, now: float) -> dict:
    """Bring customers' outcomes up to date from the visits and prompts since
    the last call, and queue every matured outcome for head office."""
    db.flush()  # this process's batched visits; another's are older than SCAN_LAG_S
    with db.write() as conn:
        seen = 0
        while (step := _scan_visits(conn, now)) > 0:
            seen += step
        # Matured as of the visits scanned, never past them.
        matured = _mature(conn, now - SCAN_LAG_S)
        _forget_finished(conn)
    return {"visits": seen, "outcomes": matured}


def _scan_visits(conn, now: float) -> int:
    """One step through the visit log (see :func:`posplugin.store.visits.scan`); returns visits read."""
    row = conn.execute("SELECT scanned_visit FROM experiment_state WHERE id = 1").fetchone()
    upto, visits_ = visits.scan(conn, row[0] if row else 0, now - SCAN_LAG_S)
    if not visits_:
        return 0
    if not any(v[2] for v in visits_) and \
            conn.execute("SELECT 1 FROM experiment_customers LIMIT 1").fetchone() is None:
        # No experiment now or pending: nothing to measure but the place in the log.
        _advance(conn, upto)
        return len(visits_)
    for at, customer, experiment, arm_, level, sale_total in visits_:
        # A return or a sale counts for every experiment the customer is in,
        # also after the experiment has stopped.
        conn.execute("UPDATE experiment_customers SET returned_at = ? WHERE customer = ?"
                     " AND returned_at IS NULL AND ? >= first_at + ? AND ? <= first_at + ?",
                     (at, customer, at, RETURN_GAP_S, at, 30 * DAY))
        if sale_total is not None:
            conn.execute("UPDATE experiment_customers SET sales = sales + 1, sales_total = sales_total + ?"
                         " WHERE customer = ? AND ? >= first_at AND ? <= first_at + ?",
                         (sale_total, customer, at, at, 30 * DAY))
        if experiment and arm_:
            # Before this, the customer's row (if new) did not exist: their
            # first sale is counted here, not by the update above.
            conn.execute("INSERT OR IGNORE INTO experiment_customers (experiment, customer, arm, level, first_at,"
                         " sales, sales_total) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (experiment, customer, arm_, level, at, int(sale_total is not None), sale_total or 0.0))
    _advance(conn, upto)
    return len(visits_)


def _advance(conn, upto: int) -> None:
    conn.execute("INSERT INTO experiment_state (id, scanned_visit) VALUES (1, ?)"
                 " ON CONFLICT (id) DO UPDATE SET scanned_visit = excluded.scanned_visit", (upto,))


def _mature(conn, now: float) -> int:
    rows = []
    for experiment, customer, arm_, level, first_at, returned_at in conn.execute(
            "SELECT experiment, customer, arm, level, first_at, returned_at FROM experiment_customers"
            " WHERE done_7 = 0 AND first_at <= ?", (now - 7 * DAY,)).fetchall():
        accepted = prompts.accepted_invitation(conn, customer, first_at, first_at + 7 * DAY)
        returned = returned_at is not None and returned_at <= first_at + 7 * DAY
        rows += [(now, experiment, level, arm_, "return_7", float(returned)),
                 (now, experiment, level, arm_, "accepted", float(accepted))]
    conn.execute("UPDATE experiment_customers SET done_7 = 1 WHERE done_7 = 0 AND first_at <= ?", (now - 7 * DAY,))
    for experiment, level, arm_, returned_at, sales, total in conn.execute(
            "SELECT experiment, level, arm, returned_at, sales, sales_total FROM experiment_customers"
            " WHERE done_30 = 0 AND first_at <= ?", (now - 30 * DAY,)).fetchall():
        rows.append((now, experiment, level, arm_, "return_30", float(returned_at is not None)))
        if sales:
            # Spend only where the POS sends sale totals: a store that sends
            # none must not pull the chain's mean towards zero.
            rows.append((now, experiment, level, arm_, "spend_30", float(total)))
    conn.execute("UPDATE experiment_customers SET done_30 = 1 WHERE done_30 = 0 AND first_at <= ?",
                 (now - 30 * DAY,))
    conn.executemany("INSERT INTO arm_outbox (at, experiment, level, arm, metric, value)"
                     " VALUES (?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def _forget_finished(conn) -> None:
    """Customers of experiments no longer running whose outcomes are all out."""
    conn.execute("DELETE FROM experiment_customers WHERE done_30 = 1 AND experiment IS NOT"
                 " (SELECT name FROM experiment_state WHERE id = 1)")


def summarise(rows: list[tuple]) -> list[dict]:
    """Outcome rows ``(experiment, level, arm, metric, value)`` as per-arm
    counts, sums and sums of squares: all head office needs for rates, means
    and their intervals, and mergeable across batches and stores."""
    cells: dict[tuple, list] = {}
    for experiment, level, arm_, metric, value in rows:
        cell = cells.setdefault((experiment, level, arm_, metric), [0, 0.0, 0.0])
        cell[0] += 1
        cell[1] += value
        cell[2] += value * value
    return [{"experiment": e, "level": lv, "arm": a, "metric": m, "n": n, "sum": round(s, 4),
             "sum_sq": round(sq, 4)} for (e, lv, a, m), (n, s, sq) in sorted(cells.items())]
