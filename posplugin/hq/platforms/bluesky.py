"""Bluesky accounts, linked through AT Protocol OAuth so that a consented
customer's own posts are heard (listening's Jetstream asks for their DID).
Nothing is measured: no followers or engagement, and no token is kept; the
link proves that the customer controls the DID, and the DID is what is kept.

From atproto.com's *OAuth* specification and docs.bsky.app's *OAuth Client
Implementation* guide: head office is a confidential web client whose
``client_id`` is the URL of its client metadata document (served by head
office beside the callback); the account's authorization server is found
from the handle (:mod:`.atproto`); the authorization request is pushed (PAR)
with PKCE S256, ``state``, scope ``atproto`` and the handle as
``login_hint``; every request to the server carries an ES256 DPoP proof
(RFC 9449) with the server's latest ``DPoP-Nonce`` (a ``use_dpop_nonce``
refusal is retried once with the nonce it gave) and a ``private_key_jwt``
client assertion (RFC 7523) signed with head office's own ES256 key, whose
public half is the metadata's ``jwks``. The callback's ``iss`` must be that
server; the token's ``sub`` must be the DID the handle resolved to, and that
DID's document must still lead to the same server.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwk, jwt

from ..customers.vault import secret_file
from .atproto import IdentityError, Resolver, normal_handle
from .oauth import AccessRevoked, Platform, PlatformError, Token

SCOPE = "atproto"
METADATA = "client-metadata.json"  # served beside the callback; its URL is the client_id
KEY_FILE = "bluesky-client.jwk"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_TTL_S = 60
TIMEOUT_S = 20.0


def client_key(data_dir: Path) -> jwk.ECKey:
    """Head office's ES256 client key, ``bluesky-client.jwk`` in its data folder, made on first use."""
    made = secret_file(Path(data_dir) / KEY_FILE, lambda: json.dumps(
        jwk.ECKey.generate_key("P-256", private=True).as_dict(private=True)).encode())
    return jwk.ECKey.import_key(json.loads(made))


def client_id_for(redirect_uri: str) -> str:
    """The client_id: the URL of the metadata document, beside the callback."""
    return redirect_uri.rsplit("/", 1)[0] + "/" + METADATA


class DPoP:
    """One link's DPoP key and the server's latest nonce."""

    def __init__(self, key: jwk.ECKey, nonce: str = ""):
        self.key = key
        self.nonce = nonce

    def proof(self, method: str, url: str, now: float) -> str:
        """A DPoP proof JWT for ``method`` on ``url`` (its query and fragment left out, as RFC 9449 says)."""
        parts = urlsplit(url)
        claims = {"jti": secrets.token_urlsafe(16), "htm": method,
                  "htu": urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), "iat": int(now)}
        if self.nonce:
            claims["nonce"] = self.nonce
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.key.as_dict(private=False)}
        return jwt.encode(header, claims, self.key)


class Bluesky(Platform):
    """Bluesky through AT Protocol OAuth (see the module's docstring)."""

    name = "bluesky"
    scopes = (SCOPE,)
    measures = False

    def __init__(self, key: jwk.ECKey, *, resolver: Resolver | None = None, client_name: str = "posplugin",
                 session: requests.Session | None = None, clock=time.time):
        super().__init__("", "", session=session, clock=clock)
        self.key = key
        self.kid = key.thumbprint()
        self.resolver = resolver or Resolver(session=self.http)
        self.client_name = client_name

    def client_metadata(self, redirect_uri: str) -> dict:
        """The client metadata document served at :func:`client_id_for` ``(redirect_uri)``."""
        parts = urlsplit(redirect_uri)
        public = {**self.key.as_dict(private=False), "kid": self.kid, "alg": "ES256", "use": "sig"}
        return {"client_id": client_id_for(redirect_uri), "client_name": self.client_name,
                "client_uri": f"{parts.scheme}://{parts.netloc}", "application_type": "web",
                "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
                "redirect_uris": [redirect_uri], "scope": SCOPE, "dpop_bound_access_tokens": True,
                "token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "ES256",
                "jwks": {"keys": [public]}}

    def begin(self, redirect_uri: str, state: str, code_verifier: str, *, handle: str | None = None
              ) -> tuple[str, dict]:
        """Resolve ``handle`` to its authorization server and push the
        authorization request there; the URL to send the customer to."""
        if not handle:
            raise IdentityError("type your Bluesky handle to link it")
        handle = normal_handle(handle)
        who = self.resolver.of_handle(handle)
        _check_server(who.server)
        dpop = DPoP(jwk.ECKey.generate_key("P-256", private=True))
        client_id = client_id_for(redirect_uri)
        pushed = self._post(who.server["pushed_authorization_request_endpoint"], {
            "client_id": client_id, "response_type": "code", "redirect_uri": redirect_uri, "scope": SCOPE,
            "state": state, "code_challenge": create_s256_code_challenge(code_verifier),
            "code_challenge_method": "S256", "login_hint": handle}, dpop, who.issuer)
        if not isinstance(pushed.get("request_uri"), str):
            raise PlatformError("bluesky's authorization server gave no request_uri")
        url = who.server["authorization_endpoint"] + "?" + urlencode(
            {"client_id": client_id, "request_uri": pushed["request_uri"]})
        return url, {"did": who.did, "issuer": who.issuer, "dpop_key": dpop.key.as_dict(private=True),
                     "nonce": dpop.nonce}

    def finish(self, redirect_uri: str, code: str, code_verifier: str, kept: dict, callback: dict) -> Token:
        """Trade the code for tokens at the account's own server, then check
        whose they are; the token's ``account_id`` is the DID."""
        issuer = kept["issuer"]
        if callback.get("iss") != issuer:
            raise IdentityError("the answer did not come from this account's authorization server")
        server = self.resolver.server(issuer)
        dpop = DPoP(jwk.ECKey.import_key(kept["dpop_key"]), kept.get("nonce", ""))
        granted = self._post(server["token_endpoint"], {
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": code_verifier, "client_id": client_id_for(redirect_uri)}, dpop, issuer)
        if str(granted.get("token_type", "")).lower() != "dpop" or not granted.get("access_token") \
                or SCOPE not in str(granted.get("scope", "")).split():
            raise AccessRevoked("bluesky granted no DPoP-bound atproto token")
        if granted.get("sub") != kept["did"]:
            raise IdentityError("Bluesky signed in another account than the handle given")
        # The server vouches for sub only if sub's own DID document leads to it.
        if self.resolver.of_did(granted["sub"]).issuer != issuer:
            raise IdentityError("this account's authorization server is not the one that answered")
        token = self.token_from(granted)
        token.account_id = granted["sub"]
        return token

    def _post(self, url: str, form: dict, dpop: DPoP, issuer: str) -> dict:
        """POST ``form`` with client authentication and a DPoP proof; once
        more with the server's nonce when it answers ``use_dpop_nonce``."""
        self.resolver.check_url(url)
        retried = False
        while True:
            body = {**form, "client_assertion_type": ASSERTION_TYPE,
                    "client_assertion": self._assertion(form["client_id"], issuer)}
            try:
                response = self.http.post(url, data=body, headers={"DPoP": dpop.proof("POST", url, self.clock())},
                                          timeout=TIMEOUT_S, allow_redirects=False)
            except requests.RequestException as exc:
                raise PlatformError(f"bluesky could not be reached: {exc.__class__.__name__}") from None
            dpop.nonce = response.headers.get("DPoP-Nonce", dpop.nonce)
            try:
                answer = response.json()
            except ValueError:
                answer = None
            if response.status_code in (200, 201) and isinstance(answer, dict):
                return answer
            error = answer.get("error") if isinstance(answer, dict) else None
            if error != "use_dpop_nonce" or retried or not dpop.nonce:
                raise AccessRevoked(f"bluesky refused the link: {str(error or response.status_code)[:80]}")
            retried = True

    def _assertion(self, client_id: str, issuer: str) -> str:
        """A ``private_key_jwt`` client assertion for ``issuer`` (RFC 7523)."""
        now = int(self.clock())
        return jwt.encode({"alg": "ES256", "kid": self.kid},
                          {"iss": client_id, "sub": client_id, "aud": issuer, "jti": secrets.token_urlsafe(16),
                           "iat": now, "exp": now + ASSERTION_TTL_S}, self.key)


def _check_server(metadata: dict) -> None:
    """Refuse an authorization server that lacks what atproto OAuth requires of it."""
    needs = {"dpop_signing_alg_values_supported": "ES256", "token_endpoint_auth_methods_supported": "private_key_jwt",
             "code_challenge_methods_supported": "S256", "scopes_supported": SCOPE}
    for field, value in needs.items():
        if value not in (metadata.get(field) or []):
            raise IdentityError(f"the authorization server does not offer {value} ({field})")
    if metadata.get("authorization_response_iss_parameter_supported") is not True:
        raise IdentityError("the authorization server does not say who answers (iss)")
