"""Outcomes for head office, through a durable outbox.

A trigger on the prompt audit trail writes an outbox row in the same
transaction as every prompt event, so nothing that happened can be missing from
the outbox. Rows are sent in batches whose id and members are fixed before the
first attempt: a batch is retried as the same batch until head office
acknowledges it, and head office counts each batch id once. Reports carry
counts, durations and reach per hour: no identifiers, hashed or raw.

The holdout experiment's outcomes (one row per customer and matured outcome,
see :mod:`posplugin.store.experiment`) go the same way from ``arm_outbox``,
as per-arm counts and sums in the report's ``arms``.
"""

from __future__ import annotations

import secrets
from collections import defaultdict


from ..timeutil import iso
from . import experiment

BATCH_ROWS = 5_000  # no mutate: any size is correct; tests set a small one
# Head office's bound on one duration (web/schemas.py SECONDS): a prompt taken a
# month later is a stuck prompt, not a figure.
MAX_SECONDS = 30 * 24 * 3600.0
REFUSED = (400, 413, 415, 422)  # head office will never take this batch as it is


def duration(start: float, end: float) -> float:
    """``end - start`` in seconds, clamped to 0..MAX_SECONDS: the wall clock can
    step backwards (NTP correcting a till PC), and a negative time to act would
    have head office refuse the whole batch."""
    return min(MAX_SECONDS, max(0.0, end - start))


# The outboxes a report round empties: table, the columns a batch sends, and
# how they become the report's body.
OUTBOXES = {
    "outbox": ("at, action, kind, level, created_at, reach", lambda rows: {"hours": summarise(rows)}),
    "arm_outbox": ("experiment, level, arm, metric, value",
                   lambda rows: {"hours": [], "arms": experiment.summarise(rows)}),
}


def next_batch(store, table: str = "outbox") -> tuple[str, list[tuple]] | None:
    """The batch to send: one already started, or a new one of unsent rows."""
    columns = OUTBOXES[table][0]
    with store.db.write() as conn:
        row = conn.execute(f"SELECT batch FROM {table} WHERE sent_at IS NULL AND refused_at IS NULL"
                           " AND batch IS NOT NULL ORDER BY id LIMIT 1").fetchone()
        batch = row[0] if row else None
        if batch is None:
            ids = [r[0] for r in conn.execute(f"SELECT id FROM {table} WHERE sent_at IS NULL AND batch IS NULL"
                                              " ORDER BY id LIMIT ?", (BATCH_ROWS,))]
            if not ids:
                return None
            batch = f"{'arms-' if table != 'outbox' else ''}{secrets.token_hex(8)}-{ids[0]}-{ids[-1]}"
            conn.execute(f"UPDATE {table} SET batch = ? WHERE id BETWEEN ? AND ? AND batch IS NULL",
                         (batch, ids[0], ids[-1]))
        rows = conn.execute(f"SELECT {columns} FROM {table} WHERE batch = ? ORDER BY id", (batch,)).fetchall()
    return batch, [tuple(r) for r in rows]


def counts(db, table: str = "outbox") -> dict[str, int]:
    """How many rows of an outbox wait to be sent, were delivered, or were refused by head office."""
    row = db.execute(f"SELECT count(CASE WHEN sent_at IS NULL AND refused_at IS NULL THEN 1 END),"
                     f" count(sent_at), count(refused_at) FROM {table}").fetchone()
    return {"pending": row[0], "sent": row[1], "refused": row[2]}


def summarise(rows: list[tuple]) -> list[dict]:
    """Outbox rows as hourly figures: counts and sums, and each time to act
    and pain duration so head office can take real medians."""
    hours: dict[float, dict] = {}

    def bucket(at: float) -> dict:
        hour = at - at % 3600
        if hour not in hours:
            hours[hour] = {"hour": iso(hour), "made": defaultdict(int), "taken": 0, "resolved": 0,
                           "expired": 0, "pain_episodes": 0,
                           "pain_seconds": 0.0, "reach_served": defaultdict(int),
                           "times_to_act_s": [], "pain_durations_s": []}
        return hours[hour]

    for at, action, kind, level, created_at, reach in rows:
        b = bucket(at)
        if action == "created":
            b["made"][f"{kind}:{level}"] += 1
        elif action == "taken":
            b["taken"] += 1
            b["times_to_act_s"].append(round(duration(created_at, at), 1))
        elif action == "resolved":
            b["resolved"] += 1
            if kind == "pain":
                b["pain_episodes"] += 1
                b["pain_seconds"] += duration(created_at, at)
                b["pain_durations_s"].append(round(duration(created_at, at), 1))
            elif reach:
                b["reach_served"][level] += reach
        elif action == "expired":
            b["expired"] += 1
    return [{**b, "made": dict(b["made"]), "reach_served": dict(b["reach_served"])}
            for _, b in sorted(hours.items())]


def purge_sent(conn, before: float) -> int:
    """Forget delivered rows older than ``before``."""
    conn.execute("DELETE FROM arm_outbox WHERE sent_at IS NOT NULL AND at < ?", (before,))
    return conn.execute("DELETE FROM outbox WHERE sent_at IS NOT NULL AND at < ?", (before,)).rowcount


def send(store, http: "requests.Session", url: str, *, timeout: tuple[float, float]) -> tuple[int, str | None]:
    """Send every pending batch of every outbox, each request within ``timeout``
    (connect, read); returns (batches delivered, error or None).

    A batch head office refuses as it is (4xx) is set aside, kept and logged, and
    the batches behind it still go: one bad batch never blocks the others.
    """
    import requests  # only the sync (a child process of serve) sends; serve's memory stays without it

    delivered, refused = 0, []
    for table, (_, body) in OUTBOXES.items():
        while (pending := next_batch(store, table)) is not None:
            batch, rows = pending
            try:
                response = http.post(url, json={"batch": batch, **body(rows)}, timeout=timeout)
            except requests.RequestException as exc:
                return delivered, f"reports not delivered: {exc.__class__.__name__}"
            if response.status_code in REFUSED:
                with store.db.write() as conn:
                    conn.execute(f"UPDATE {table} SET refused_at = ? WHERE batch = ?", (store.clock(), batch))
                refused.append(f"batch {batch} refused by head office ({response.status_code}: "
                               f"{response.text[:200]}); kept in the outbox, set aside")
                continue
            if response.status_code != 200:
                return delivered, f"reports not delivered: head office answered {response.status_code}"
            with store.db.write() as conn:
                conn.execute(f"UPDATE {table} SET sent_at = ? WHERE batch = ?", (store.clock(), batch))
            delivered += 1
    return delivered, "; ".join(refused) or None
