"""The pass format (posplugin.tiers.passes): what verifies, what is refused and
why, and that no scanned garbage gets anything but PassRefused."""

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from posplugin.errors import PassRefused
from posplugin.tiers import feed, passes

KEY = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()
CUSTOMER = bytes(range(32))
NOW = 1_800_000_000.0
VERIFIER = passes.PassVerifier(feed.public_key_text(KEY))


def issued(key=KEY, customer=CUSTOMER, now=NOW, lifetime_s=passes.LIFETIME_S):
    return passes.issue(key, customer, now=now, lifetime_s=lifetime_s)


def refusal(text, now=NOW + 10):
    with pytest.raises(PassRefused) as caught:
        VERIFIER.verify(text, now=now)
    assert caught.value.status == 422 and caught.value.field == "identifier.value"
    return caught.value.code


def test_a_fresh_pass_verifies_to_its_customer():
    text = issued()
    assert len(text) == passes.TEXT_LENGTH == 174 and text.startswith("PP1:")
    got = VERIFIER.verify(text, now=NOW + 1)
    assert (got.customer, got.issued_at, got.expires_at) == (CUSTOMER, int(NOW), int(NOW) + 300)


def test_fits_a_qr_code_in_alphanumeric_mode():
    import segno
    code = segno.make(issued(), error="m", micro=False)
    assert code.mode == "alphanumeric" and code.version <= 7


def test_a_scanner_changing_case_or_adding_whitespace_is_forgiven():
    text = issued()
    assert VERIFIER.verify(" " + text.lower()[:50] + "\n" + text.lower()[50:] + "\r\n",
                           now=NOW).customer == CUSTOMER


def _flip(text, at):
    body = base64.b32decode(text[4:] + "======")
    raw = bytearray(body)
    raw[at] ^= 0x01
    return "PP1:" + base64.b32encode(bytes(raw)).decode().rstrip("=")


REFUSALS = [
    ("expired: a screenshot used ten minutes later", issued(), NOW + 600, "pass_expired"),
    ("expired exactly at its end", issued(), NOW + 300, "pass_expired"),
    ("another chain's head office", issued(key=OTHER), NOW, "pass_other_chain"),
    ("customer altered", _flip(issued(), 20), NOW, "pass_forged"),
    ("issue time altered", _flip(issued(), 6), NOW, "pass_forged"),
    ("signature altered", _flip(issued(), 100), NOW, "pass_forged"),
    ("dated well in the future", issued(now=NOW + 3600), NOW, "pass_not_yet_valid"),
    ("not a pass at all", "4741234567", NOW, "pass_unreadable"),
    ("cut short", issued()[:-3], NOW, "pass_unreadable"),
    ("not base32", issued()[:-1] + "1", NOW, "pass_unreadable"),
]


# Named by the case, not by its pass: a pass is signed with a new key at each collection.
@pytest.mark.parametrize("case,text,now,code", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refused_with_a_reason(case, text, now, code):
    assert refusal(text, now) == code, case


def test_a_pass_signed_with_the_chain_key_but_claiming_a_long_life_is_refused():
    body = passes._BODY.pack(VERIFIER.chain, int(NOW), 3600, CUSTOMER)
    raw = body + KEY.sign(passes.CONTEXT + body)
    assert refusal("PP1:" + base64.b32encode(raw).decode().rstrip("=")) == "pass_invalid"


def test_a_manifest_signature_is_no_pass_signature():
    """The same key signs tier lists: a signature over the bare body (as if it
    were some other document) must not verify as a pass."""
    body = passes._BODY.pack(VERIFIER.chain, int(NOW), 300, CUSTOMER)
    raw = body + KEY.sign(body)
    assert refusal("PP1:" + base64.b32encode(raw).decode().rstrip("=")) == "pass_forged"


def test_a_bad_public_key_is_a_value_error():
    with pytest.raises(ValueError):
        passes.PassVerifier("not base64!")


@hsettings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300),
                 st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567=:Pp1 ", min_size=170, max_size=180),
                 st.builds(lambda s: "PP1:" + s, st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
                                                         min_size=170, max_size=170)),
                 st.none(), st.integers(), st.binary()))
def test_any_garbage_is_refused_never_an_exception(text):
    with pytest.raises(PassRefused):
        VERIFIER.verify(text, now=NOW)


@hsettings(max_examples=200, deadline=None)
@given(st.integers(min_value=4, max_value=173), st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"))
def test_any_one_character_changed_is_refused(at, char):
    text = issued()
    changed = text[:at] + char + text[at + 1:]
    if changed == text:
        return
    try:
        got = VERIFIER.verify(changed, now=NOW + 1)
    except PassRefused:
        return
    # base32's last character carries 2 spare bits: a change there alone may
    # decode to the very same bytes, which is the same pass.
    assert at == 173 and got.customer == CUSTOMER
