"""Pairing a device without typing a token: a URL with the token in its
fragment (browsers never send fragments to servers or proxies) and the same
URL as a QR code for the terminal."""

from __future__ import annotations

import io
import socket
from urllib.parse import quote

import segno


def base_url(settings) -> str:
    """The service as another device on the store network reaches it."""
    host = settings.host
    if host in ("0.0.0.0", "::", "127.0.0.1", "localhost", ""):
        host = socket.gethostname() if host in ("0.0.0.0", "::") else host
    return f"http://{host}:{settings.port}"


def pairing_url(url: str | None, settings, role: str, token: str, lane: str | None = None) -> str:
    """The page for ``role`` (floor for staff, the card for a till) with the token."""
    base = (url or base_url(settings)).rstrip("/")
    page = f"/till?lane={quote(lane or '1')}" if role == "till" else "/floor"
    return f"{base}{page}#token={quote(token)}"


def terminal_qr(url: str) -> str:
    """``url`` as a QR code drawn with block characters."""
    out = io.StringIO()
    segno.make(url, error="m").terminal(out=out, compact=True)
    return out.getvalue()
