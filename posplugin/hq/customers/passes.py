"""Head office issues customers' passes: short-lived tokens signed with the
key stores already verify tier lists with (format in posplugin.tiers.passes
and docs/pass.md), and the QR code a customer's page shows."""

from __future__ import annotations

import io

import segno

from ...tiers import passes
from ...timeutil import iso

# The page asks for a new pass well before the old one expires, so what is on
# screen is always good for a while and a screenshot soon is not.
REFRESH_S = 60


class PassIssuer:
    """Issues passes with head office's signing key on head office's clock."""

    def __init__(self, key, clock, *, lifetime_s: int = passes.LIFETIME_S):
        self._key = key
        self._clock = clock
        self.lifetime_s = lifetime_s

    def issue(self, customer: bytes) -> dict:
        """A fresh pass for ``customer`` (a keyed identifier hash): its text, times
        and when to fetch the next one."""
        now = self._clock()
        text = passes.issue(self._key, customer, now=now, lifetime_s=self.lifetime_s)
        issued = int(now)
        return {"pass": text, "issued_at": iso(issued), "expires_at": iso(issued + self.lifetime_s),
                "refresh_s": min(REFRESH_S, self.lifetime_s // 2), "qr_svg": qr_svg(text)}


def qr_svg(text: str) -> str:
    """``text`` as an SVG QR code (alphanumeric mode, medium error correction:
    version 7, readable from a phone screen at arm's length)."""
    out = io.BytesIO()
    segno.make(text, error="m", micro=False).save(out, kind="svg", scale=6, border=4,
                                                    xmldecl=False, svgns=True, title="pass")
    return out.getvalue().decode("utf-8")
