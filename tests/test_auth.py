"""The store's tokens (posplugin.store.auth) on the parts both services share
(posplugin.tokens): the one bearer-token parser, digests, roles, the cached lookup."""

import hashlib

import pytest

from posplugin.errors import Forbidden, Unauthorized
from posplugin import tokens
from posplugin.store import auth


@pytest.mark.parametrize("header,token", [
    ("Bearer abc", "abc"), ("bearer abc", "abc"), ("BEARER  abc ", "abc"), (" Bearer abc", "abc"),
    ("Bearer ", None), ("Bearer", None), ("Basic abc", None), ("abc", None), ("", None), (None, None),
])
def test_bearer_header(header, token):
    assert tokens.bearer(header) == token


def test_digest_is_sha256_hex_and_never_the_token():
    assert tokens.digest("pp_x") == hashlib.sha256(b"pp_x").hexdigest()


def test_tokens_authenticate_until_revoked(store):
    with store.db.write() as conn:
        token = auth.create_token(conn, "till", " till-3 ")
    assert token.startswith("pp_") and len(token) == 3 + 32   # 24 random bytes, URL-safe base64
    caller = auth.authenticate(store.db.conn, token)
    assert (caller.name, caller.role) == ("till-3", "till")
    assert caller.token_id == auth.list_tokens(store.db)[0]["id"]
    with store.db.write() as conn:
        assert auth.revoke_token(conn, "till-3") == 1
    with pytest.raises(Unauthorized):
        auth.authenticate(store.db.conn, token)
    with pytest.raises(Unauthorized):
        auth.authenticate(store.db.conn, None)


def test_the_cache_forgets_a_revoked_token_after_its_ttl(store):
    with store.db.write() as conn:
        token = auth.create_token(conn, "staff", "tablet")
    now = [0.0]
    check = auth.authenticator(lambda: store.db.conn, ttl_s=5, clock=lambda: now[0])
    assert check(token).role == "staff"
    with store.db.write() as conn:
        auth.revoke_token(conn, "tablet")
    now[0] = 4.9
    assert check(token).role == "staff"   # cached
    now[0] = 5.1
    with pytest.raises(Unauthorized):
        check(token)


def test_the_cache_holds_a_token_for_five_seconds_by_default(store):
    """README: tokens are cached for 5 s, so a revoked one stops working within that."""
    with store.db.write() as conn:
        token = auth.create_token(conn, "till", "t")
    now = [0.0]
    check = auth.authenticator(lambda: store.db.conn, clock=lambda: now[0])
    check(token)
    with store.db.write() as conn:
        auth.revoke_token(conn, "t")
    now[0] = 4.99
    assert check(token).name == "t"
    now[0] = 5.0
    with pytest.raises(Unauthorized):
        check(token)


@pytest.mark.parametrize("role,allowed,superuser,ok", [
    ("till", ("till",), "admin", True), ("staff", ("till",), "admin", False),
    ("admin", ("till",), "admin", True), ("admin", ("store",), None, False),
])
def test_require_role(role, allowed, superuser, ok):
    caller = tokens.Caller(1, "x", role)
    if ok:
        tokens.require_role(caller, allowed, superuser)
    else:
        with pytest.raises(Forbidden):
            tokens.require_role(caller, allowed, superuser)
