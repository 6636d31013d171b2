"""Pairing a device without typing a token: a URL with the token in its
fragment (browsers never send fragments to servers or proxies) and the same
URL as a QR code for the terminal."""

from __future__ import annotations

import io
import socket
from urllib.parse import quote


LOOPBACK = ("127.0.0.1", "localhost", "::1")
WILDCARD = ("0.0.0.0", "::", "")
# A documentation address (TEST-NET-1): connecting a UDP socket to it sends
# nothing, but makes the system pick the interface it would route through.
PROBE = ("192.0.2.1", 9)


def lan_address() -> str | None:
    """This machine's address on the local network, or None when it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(PROBE)
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def base_url(settings) -> tuple[str, str]:
    """The service as another device on the store network reaches it, and how
    that address was chosen (said to the person pairing)."""
    host = settings.host
    if host in LOOPBACK or host in WILDCARD:
        address = lan_address()
        if address:
            return f"http://{address}:{settings.port}", "this machine's address on the local network"
        return f"http://{socket.gethostname()}:{settings.port}", "this machine's name (no network address found)"
    return f"http://{host}:{settings.port}", "the host serve is set to listen on"


def pairing_url(url: str | None, settings, role: str, token: str, lane: str | None = None) -> str:
    """The page for ``role`` (floor for staff, the card for a till) with the token."""
    base = (url or base_url(settings)[0]).rstrip("/")
    page = f"/till?lane={quote(lane or '1')}" if role == "till" else "/floor"
    return f"{base}{page}#token={quote(token)}"


def terminal_qr(url: str) -> str:
    """``url`` as a QR code drawn with block characters."""
    out = io.StringIO()
    import segno  # 8 MB: loaded by the commands that print a code, not by serve

    segno.make(url, error="m").terminal(out=out, compact=True)
    return out.getvalue()
