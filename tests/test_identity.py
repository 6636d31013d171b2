"""Identifier normalisation and hashing: equivalent forms hash equal, different
customers do not collide, and unusable identifiers are refused clearly."""

import hmac

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from posplugin.config import Settings, validate
from posplugin.errors import InvalidIdentifier
from posplugin.tiers.identity import Hasher, hash_identifier, normalise

KEY = "property-test-key-0123456789abcdef"
hasher = Hasher(KEY, "NO")

# Norwegian mobile numbers: 8 digits starting with 4 or 9.
subscriber = st.integers(min_value=0, max_value=9_999_999).map(lambda n: f"{n:07d}")
lead = st.sampled_from("49")


def written_forms(digits: str) -> list[str]:
    spaced = f"{digits[:3]} {digits[3:5]} {digits[5:]}"
    return [digits, f"+47{digits}", f"+47 {spaced}", f"0047 {spaced}", f"(+47) {digits[:4]}-{digits[4:]}",
            f"  {spaced}\t", f"+47.{digits[:3]}.{digits[3:]}"]


@given(lead, subscriber)
def test_every_written_form_of_a_phone_number_hashes_equal(first, rest):
    digits = first + rest
    hashes = {hasher("phone", form) for form in written_forms(digits)}
    assert len(hashes) == 1
    assert normalise("phone", digits, "NO") == f"+47{digits}"


@given(lead, subscriber, subscriber)
def test_different_phone_numbers_do_not_collide(first, a, b):
    assume(a != b)
    assert hasher("phone", first + a) != hasher("phone", first + b)


local_part = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,20}", fullmatch=True)
domain = st.from_regex(r"[A-Za-z0-9]{1,12}\.(com|no|org)", fullmatch=True)


@given(local_part, domain, st.sampled_from(["", " ", "\t", "  "]))
def test_email_case_and_surrounding_space_do_not_matter(local, dom, pad):
    email = f"{local}@{dom}"
    assert hasher("email", pad + email.upper() + pad) == hasher("email", email.lower())


@given(local_part, local_part, domain)
def test_different_emails_do_not_collide(a, b, dom):
    assume(a.casefold() != b.casefold())
    assert hasher("email", f"{a}@{dom}") != hasher("email", f"{b}@{dom}")


@given(st.from_regex(r"[A-Za-z0-9_.]{1,30}", fullmatch=True))
def test_handles_ignore_at_sign_and_case(handle):
    assert hasher("handle", "@" + handle.upper()) == hasher("handle", handle.lower())


@given(st.text(min_size=1, max_size=40).filter(lambda s: s.strip()))
def test_loyalty_ids_are_exact_after_trimming(value):
    assert hasher("loyalty_id", f"  {value}  ") == hasher("loyalty_id", value)
    if value.strip() != value.strip().upper():
        assert hasher("loyalty_id", value.upper()) != hasher("loyalty_id", value)


def test_the_type_is_part_of_the_hash():
    assert hasher("loyalty_id", "12345678") != hasher("card_token", "12345678")


def test_the_key_is_part_of_the_hash():
    assert hash_identifier(b"key-one", "email", "a@b.no") != hash_identifier(b"key-two", "email", "a@b.no")
    assert len(hash_identifier(b"k", "email", "a@b.no")) == 32


@pytest.mark.parametrize("id_type,value,region", [
    ("phone", "not a number", "NO"),
    ("phone", "12", "NO"),
    ("phone", "41234567", ""),          # national form with no default region
    ("phone", "+47 1234567890123", "NO"),
    ("email", "no-at-sign.example.com", ""),
    ("email", "two words@example.com", ""),
    ("email", "user@localhost", ""),
    ("email", "@example.com", ""),
    ("email", "mia@", ""),
    ("email", "mia@.", ""),
    ("handle", "@", ""),
    ("handle", "two words", ""),
    ("loyalty_id", "   ", ""),
    ("loyalty_id", "x" * 257, ""),
    ("card_token", " " + "x" * 257 + " ", ""),
    ("passport", "123", ""),
])
def test_unusable_identifiers_are_refused_with_the_field(id_type, value, region):
    with pytest.raises(InvalidIdentifier) as info:
        normalise(id_type, value, region)
    assert info.value.field in ("identifier.value", "identifier.type")
    assert info.value.status == 422


def test_national_number_without_region_says_how_to_fix_it():
    with pytest.raises(InvalidIdentifier, match="default_region"):
        normalise("phone", "412 34 567", "")


@pytest.mark.parametrize("value,region", [("not a number", "NO"), ("+47 x", ""), ("+999 123", "NO")])
def test_no_region_hint_where_a_region_would_not_help(value, region):
    with pytest.raises(InvalidIdentifier) as info:
        normalise("phone", value, region)
    assert "default_region" not in info.value.message


@pytest.mark.parametrize("region", ["no", "No", "NO"])
def test_default_region_in_any_case_reads_national_numbers(region):

    assert normalise("phone", "412 34 567", region) == "+4741234567"
    assert Hasher("key", region)("phone", "412 34 567") == Hasher("key", "NO")("phone", "+47 412 34 567")
    assert not [p for p in validate(Settings(default_region=region, id_key="k")) if "default_region" in p]


def test_the_longest_identifier_is_accepted():
    assert normalise("loyalty_id", " " + "x" * 256 + " ") == "x" * 256


@given(st.text(max_size=40), st.sampled_from(["email", "handle"]))
def test_an_identifier_with_any_space_inside_is_refused(text, id_type):
    """Whatever Unicode calls a space (no-break, ideographic, separators) inside
    an email or handle makes it not one, as the character-by-character rule did."""
    value = f"a{text}b@example.com" if id_type == "email" else f"a{text}b"
    spaced = any(c.isspace() for c in value)
    try:
        normalise(id_type, value)
    except InvalidIdentifier:
        refused = True
    else:
        refused = False
    assert refused or not spaced
    if spaced:
        assert refused


@given(key=st.text(min_size=1, max_size=150), handle=st.from_regex(r"@?[a-z0-9_.]{1,40}", fullmatch=True))
def test_the_hasher_is_hmac_sha256_of_type_and_normalised_value(key, handle):
    """The Hasher keeps the key's HMAC states between calls; the hash is still
    exactly HMAC-SHA256 of ``type:normalised`` (keys over 64 bytes included)."""
    expected = hmac.digest(key.encode("utf-8"), f"handle:{normalise('handle', handle)}".encode(), "sha256")
    assert Hasher(key)("handle", handle) == expected
