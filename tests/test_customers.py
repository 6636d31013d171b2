"""Joining at head office (domain): one-time codes (6 digits, 10 minutes, 5
tries, rate limits per identifier and per address), customers by keyed hash,
consent records and sessions, on a real SQLite file."""

import shutil

import pytest
from helpers import ID_KEY, Clock
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select

from posplugin.errors import Conflict, RateLimited, Unauthorized, ValidationError
from posplugin.hq.customers import consent
from posplugin.hq.customers.join import CODE_TTL_S, CodeRefused, Customers, NoSender
from posplugin.hq.db import open_engine
from posplugin.hq.schema import (
    join_codes,
)
from posplugin.tiers.identity import Hasher

PHONE = "+47 412 34 567"


class Outbox:
    """A sender that keeps what it was asked to send."""

    def __init__(self, accept=True):
        self.sent = []
        self.accept = accept

    def __call__(self, channel, to, code, language):
        self.sent.append((channel, to, code, language))
        return self.accept

    @property
    def code(self):
        return self.sent[-1][2]


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def engine(tmp_path, migrated_hq_file):
    shutil.copyfile(migrated_hq_file, tmp_path / "hq.db")
    engine = open_engine(f"sqlite:///{tmp_path / 'hq.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def outbox():
    return Outbox()


@pytest.fixture
def people(engine, clock, outbox):
    return Customers(engine, ID_KEY, default_region="NO", clock=clock, send=outbox)


def join(people, outbox, id_type="phone", value=PHONE, address="10.0.0.1"):
    people.request_code(id_type, value, address)
    return people.verify_code(id_type, value, outbox.code)


def test_code_is_six_digits_sent_to_the_normalised_identifier(people, outbox):
    answer = people.request_code("phone", "412 34 567", "a", "nb")
    assert answer == {"channel": "sms", "expires_in_s": 600, "tries": 5}
    channel, to, code, language = outbox.sent[0]
    assert (channel, to, language) == ("sms", "+4741234567", "nb")
    assert len(code) == 6 and code.isdigit()
    assert people.request_code("email", " Mia@Example.COM ", "b")["channel"] == "email"
    assert outbox.sent[1][:2] == ("email", "mia@example.com")


def test_right_code_signs_in_with_the_stores_hash(people, outbox, engine):
    who, token = join(people, outbox)
    assert who.id_hash == Hasher(ID_KEY, "NO")("phone", PHONE).hex()
    assert people.signed_in(token) == who
    # The same person joining again (other written form) is the same customer.
    again, _ = join(people, outbox, value="41234567")
    assert again.customer_id == who.customer_id


def test_nothing_raw_at_rest(people, outbox, engine, tmp_path):
    join(people, outbox, "email", "secret.person@example.com")
    join(people, outbox, "phone", PHONE)
    raw = (tmp_path / "hq.db").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("hq.db-*"))
    for text in (b"secret.person", b"41234567", b"412 34 567", outbox.sent[0][2].encode()):
        assert text not in raw


def test_wrong_code_spends_tries_then_the_code_is_dead(people, outbox):
    people.request_code("phone", PHONE, "a")
    right = outbox.code
    wrong = "000000" if right != "000000" else "111111"
    for left in (4, 3, 2, 1):
        with pytest.raises(CodeRefused, match=f"{left} tries left") as caught:
            people.verify_code("phone", PHONE, wrong)
        assert caught.value.code == "wrong_code" and caught.value.field == "code"
    with pytest.raises(CodeRefused) as last:
        people.verify_code("phone", PHONE, wrong)
    assert last.value.code == "code_expired"
    with pytest.raises(CodeRefused, match="expired"):
        people.verify_code("phone", PHONE, right)


def test_code_expires_after_ten_minutes_and_works_once(people, outbox, clock):
    people.request_code("phone", PHONE, "a")
    clock.now += CODE_TTL_S + 1
    with pytest.raises(CodeRefused, match="expired"):
        people.verify_code("phone", PHONE, outbox.code)
    people.request_code("phone", PHONE, "a")
    people.verify_code("phone", PHONE, outbox.code)
    with pytest.raises(CodeRefused):
        people.verify_code("phone", PHONE, outbox.code)


def test_a_new_code_replaces_the_old_one(people, outbox):
    people.request_code("phone", PHONE, "a")
    first = outbox.code
    people.request_code("phone", PHONE, "a")
    if first != outbox.code:
        with pytest.raises(CodeRefused):
            people.verify_code("phone", PHONE, first)
    people.verify_code("phone", PHONE, outbox.code)


def test_rate_limited_per_identifier_and_per_address(people, outbox, clock):
    for _ in range(3):
        people.request_code("phone", PHONE, "a")
    with pytest.raises(RateLimited, match="this number or email"):
        people.request_code("phone", PHONE, "b")
    clock.now += 601  # the 10-minute window passes; the daily one (10) still counts
    for _ in range(3):
        people.request_code("phone", PHONE, "c")
    for _ in range(4):
        clock.now += 601
        people.request_code("phone", PHONE, "d")
    clock.now += 601
    with pytest.raises(RateLimited):
        people.request_code("phone", PHONE, "e")
    # Per address: 30 an hour from one network, whoever asks.
    for i in range(30):
        people.request_code("email", f"p{i}@example.com", "shop-wifi")
    with pytest.raises(RateLimited, match="this network"):
        people.request_code("email", "p99@example.com", "shop-wifi")
    people.request_code("email", "p99@example.com", "elsewhere")


def test_no_sender_refuses_and_stores_no_code(engine, clock):
    people = Customers(engine, ID_KEY, clock=clock, send=Outbox(accept=False))
    with pytest.raises(NoSender) as caught:
        people.request_code("email", "a@example.com", "x")
    assert caught.value.status == 503
    with engine.connect() as conn:
        assert conn.execute(select(join_codes)).all() == []


@pytest.mark.parametrize("id_type, value", [("loyalty_id", "L-1"), ("phone", "not a number"),
                                            ("email", "nobody")])
def test_bad_identifiers_refused(people, id_type, value):
    with pytest.raises(ValidationError):
        people.request_code(id_type, value, "a")


def test_consent_recorded_versioned_and_withdrawn(people, outbox, engine, clock):
    who, _ = join(people, outbox)
    assert people.consent(who.customer_id) is None
    given = people.give_consent(who.customer_id, consent.VERSION, ["tiering", "invitations"], "nb")
    assert given["version"] == consent.VERSION and given["scopes"] == ["invitations", "tiering"]
    assert given["language"] == "nb" and given["withdrawn_at"] is None
    clock.now += 60
    assert people.withdraw_consent(who.customer_id) is True
    assert people.consent(who.customer_id) is None
    assert people.withdraw_consent(who.customer_id) is False
    clock.now += 60
    people.give_consent(who.customer_id, consent.VERSION, ["tiering"], "en")
    history = people.consent_history(who.customer_id)
    assert [h["scopes"] for h in history] == [["tiering"], ["invitations", "tiering"]]
    assert history[0]["withdrawn_at"] is None and history[1]["withdrawn_at"] is not None


@pytest.mark.parametrize("version, scopes, error", [
    ("1999-01", ["tiering"], Conflict),
    (consent.VERSION, ["invitations"], ValidationError),
    (consent.VERSION, [], ValidationError),
    (consent.VERSION, ["tiering", "selling"], ValidationError),
])
def test_consent_refused(people, outbox, version, scopes, error):
    who, _ = join(people, outbox)
    with pytest.raises(error):
        people.give_consent(who.customer_id, version, scopes, "en")
    assert people.consent(who.customer_id) is None


def test_sessions_end_on_sign_out_and_expiry(people, outbox, clock):
    _, token = join(people, outbox)
    _, other = join(people, outbox)
    people.sign_out(token)
    with pytest.raises(Unauthorized):
        people.signed_in(token)
    people.signed_in(other)
    clock.now += 31 * 86400
    with pytest.raises(Unauthorized):
        people.signed_in(other)
    for bad in (None, "", "cs_nothing"):
        with pytest.raises(Unauthorized):
            people.signed_in(bad)


def test_identifiers_of_a_customer(people, outbox):
    who, session = join(people, outbox)
    assert people.identifier_hashes(who.customer_id) == [("phone", who.id_hash)]
    assert people.signed_in(session).customer_id == who.customer_id


@hsettings(max_examples=30, deadline=None)
@given(st.text(min_size=1, max_size=8))
def test_any_guess_but_the_code_is_refused(tmp_path_factory, migrated_hq_file, guess):
    path = tmp_path_factory.mktemp("guess") / "hq.db"
    shutil.copyfile(migrated_hq_file, path)
    engine = open_engine(f"sqlite:///{path}")
    outbox = Outbox()
    people = Customers(engine, ID_KEY, clock=Clock(), send=outbox)
    people.request_code("email", "g@example.com", "a")
    try:
        if guess.strip() != outbox.code:
            with pytest.raises(CodeRefused):
                people.verify_code("email", "g@example.com", guess)
    finally:
        engine.dispose()


def test_a_signed_in_customer_adds_another_identifier(people, outbox):
    who, _ = join(people, outbox)
    people.request_code("email", "sam@example.com", "a")
    again, _ = people.verify_code("email", "sam@example.com", outbox.code, attach_to=who.customer_id)
    assert again.customer_id == who.customer_id and again.id_type == "email"
    assert [t for t, _ in people.identifier_hashes(who.customer_id)] == ["phone", "email"]


def test_purge_drops_old_codes_and_expired_sessions(people, outbox, clock, engine):
    join(people, outbox)
    people.request_code("email", "later@example.com", "a")
    assert people.purge() == 0
    clock.now += 2 * 86400
    assert people.purge() == 2  # both codes; the session has 28 days left
    clock.now += 29 * 86400
    assert people.purge() == 1
