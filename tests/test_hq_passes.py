"""Head office issues passes (posplugin.hq.passes) that a store verifies with
the public key it already syncs lists with."""

import re

from posplugin.hq.customers.passes import PassIssuer, qr_svg
from posplugin.tiers.passes import PassVerifier


def test_an_issued_pass_verifies_at_a_store_with_hq_public_key(hq):
    customer = hq.hasher("phone", "+47 412 34 567")
    issued = PassIssuer(hq.key, hq.test_clock).issue(customer)
    got = PassVerifier(hq.public_key).verify(issued["pass"], now=hq.test_clock() + 299)
    assert got.customer == customer
    assert issued["refresh_s"] == 60 and issued["expires_at"] > issued["issued_at"]
    assert issued["qr_svg"].startswith("<svg") and "<title>pass</title>" in issued["qr_svg"]


def test_the_qr_code_is_version_7_or_smaller():
    svg = qr_svg("PP1:" + "A" * 170)
    width = int(re.search(r'width="(\d+)"', svg).group(1))
    assert width <= (45 + 8) * 6  # 45 modules (version 7) and a 4-module border, 6 px each
