"""After-sale invitations on their way to head office.

When a sale closes with an influencer, the floor gets an ``amplify`` prompt
at once; the invitation to share or review goes to the customer's own page
later, through head office (which keeps it only if the customer agreed to
invitations, and shows it after ``invite_delay_hours``). Each is queued here
in the same transaction as the prompt and sent at the next sync; a row is
deleted once head office has acknowledged it, so the store keeps no list of
whom it invited.
"""

from __future__ import annotations

from ..timeutil import iso

BATCH = 1_000

MIGRATION = ("invitations", """
    CREATE TABLE invitations_out (
        id INTEGER PRIMARY KEY,
        customer BLOB NOT NULL,
        sold_at REAL NOT NULL
    );
    """)


def enqueue(conn, customer: bytes, sold_at: float) -> None:
    """Queue an invitation for ``customer`` (inside the caller's write transaction)."""
    conn.execute("INSERT INTO invitations_out (customer, sold_at) VALUES (?, ?)", (customer, sold_at))


def send(store, http: "requests.Session", url: str, *, timeout: tuple[float, float]) -> tuple[int, str | None]:
    """Send every queued invitation; returns (sent, error or None). Head office
    counts each (store, ref) once, so a batch cut off mid-way is simply sent again."""
    import requests  # only the sync (a child process of serve) sends; serve's memory stays without it

    sent = 0
    while True:
        rows = store.db.execute("SELECT id, customer, sold_at FROM invitations_out ORDER BY id LIMIT ?",
                                (BATCH,)).fetchall()
        if not rows:
            return sent, None
        body = {"invitations": [{"ref": str(i), "customer": bytes(c).hex(), "sold_at": iso(at)}
                                for i, c, at in rows]}
        try:
            response = http.post(url, json=body, timeout=timeout)
        except requests.RequestException as exc:
            return sent, f"invitations not delivered: {exc.__class__.__name__}"
        if response.status_code != 200:
            return sent, f"invitations not delivered: head office answered {response.status_code}"
        with store.db.write() as conn:
            conn.execute("DELETE FROM invitations_out WHERE id <= ?", (rows[-1][0],))
        sent += len(rows)
