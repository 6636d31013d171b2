"""A stand-in for Bluesky's side of AT Protocol OAuth on 127.0.0.1: handles
(``/domains/HANDLE/.well-known/atproto-did``), a PLC directory (``/plc/DID``),
PDSes (``/pds/NAME/.well-known/oauth-protected-resource``) and authorization
servers (``/as/NAME/...``: metadata, PAR, authorize, token), answering as
atproto.com's *OAuth* specification documents.

It verifies what a real server verifies, so a client that gets one wrong
fails: the ``private_key_jwt`` client assertion against the ``jwks`` of the
client metadata it fetches from the ``client_id`` URL (``iss``/``sub``,
``aud`` = the issuer, expiry, single-use ``jti``); every DPoP proof (``typ``,
ES256 signature by the ``jwk`` in its header, ``htm``, ``htu``, ``iat``,
single-use ``jti``, the current server nonce, else ``use_dpop_nonce`` with a
``DPoP-Nonce`` header); PAR (PKCE S256, ``state``, scope ``atproto``, a
registered ``redirect_uri``; the ``request_uri`` used once); at the token
endpoint the code once, the redirect URI, the PKCE verifier and the same
DPoP key as the PAR. ``Sky.refused`` lists each refusal's reason.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import requests
from flask import Flask, jsonify, redirect, request
from joserfc import jwk, jwt
from joserfc.errors import JoseError

SAM = "did:plc:sam2sam2sam2sam2sam2sam2"
OLA = "did:plc:ola3ola3ola3ola3ola3ola3"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class Refused(Exception):
    def __init__(self, error: str, why: str, status: int = 400):
        super().__init__(why)
        self.error, self.why, self.status = error, why, status


@dataclass
class Sky:
    url: str = ""
    handles: dict = field(default_factory=lambda: {"sam.example.com": SAM, "ola.example.com": OLA})
    pds_of: dict = field(default_factory=lambda: {SAM: "one", OLA: "one"})   # DID -> its PDS's name
    server_of: dict = field(default_factory=lambda: {"one": "main", "two": "other"})  # PDS -> its AS's name
    approve_as: str | None = None    # who signs in at the server; None: the account hinted
    claims_handle: bool = True       # the DID document names its handle back (alsoKnownAs)
    lying_issuer: bool = False       # the server's metadata names another issuer
    answer_iss: str | None = None    # the callback's iss; None: the real issuer
    nonce: str = "n-0"
    broken: str | None = None       # a fault: pds_not_json, pds_500, server_huge, par_502
    requests: dict = field(default_factory=dict)  # request_uri -> the pushed request
    codes: dict = field(default_factory=dict)
    jtis: set = field(default_factory=set)
    refused: list = field(default_factory=list)
    calls: list = field(default_factory=list)      # (method, path) of every request
    nonce_asked: int = 0

    def issuer(self, name: str) -> str:
        return f"{self.url}/as/{name}"

    def rotate_nonce(self) -> None:
        self.nonce = f"n-{secrets.token_hex(4)}"


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _header(token: str) -> dict:
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


def create_app(sky: Sky) -> Flask:
    app = Flask(__name__)

    @app.before_request
    def record():
        sky.calls.append((request.method, request.path))

    @app.errorhandler(Refused)
    def refused(exc: Refused):
        sky.refused.append(exc.why)
        answer = jsonify({"error": exc.error, "error_description": exc.why})
        answer.headers["DPoP-Nonce"] = sky.nonce
        return answer, exc.status

    @app.get("/domains/<domain>/.well-known/atproto-did")
    def atproto_did(domain):
        did = sky.handles.get(domain)
        return (did, 200, {"Content-Type": "text/plain"}) if did else ("not found", 404)

    @app.get("/plc/<did>")
    def did_document(did):
        if did not in sky.pds_of:
            return jsonify({"message": "DID not registered"}), 404
        handle = next((h for h, d in sky.handles.items() if d == did), "handle.invalid")
        return jsonify({"@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
                        "id": did, "alsoKnownAs": [f"at://{handle}"] if sky.claims_handle else [],
                        "verificationMethod": [{"id": did + "#atproto", "type": "Multikey", "controller": did,
                                                "publicKeyMultibase": "zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF"}],
                        "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                                     "serviceEndpoint": f"{sky.url}/pds/{sky.pds_of[did]}"}]})

    @app.get("/pds/<name>/.well-known/oauth-protected-resource")
    def protected_resource(name):
        if sky.broken == "pds_not_json":
            return "<html>Bad gateway</html>", 200, {"Content-Type": "text/html"}
        if sky.broken == "pds_500":
            return jsonify({"error": "InternalServerError"}), 500
        return jsonify({"resource": f"{sky.url}/pds/{name}", "authorization_servers": [
            sky.issuer(sky.server_of[name])], "scopes_supported": [], "bearer_methods_supported": ["header"]})

    @app.get("/as/<name>/.well-known/oauth-authorization-server")
    def server_metadata(name):
        issuer = sky.issuer(name)
        if sky.broken == "server_huge":
            return jsonify({"issuer": issuer, "padding": "x" * 300_000})
        return jsonify({
            "issuer": issuer + "/elsewhere" if sky.lying_issuer else issuer,
            "authorization_endpoint": issuer + "/authorize", "token_endpoint": issuer + "/token",
            "pushed_authorization_request_endpoint": issuer + "/par", "require_pushed_authorization_requests": True,
            "scopes_supported": ["atproto", "transition:generic"], "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"], "authorization_response_iss_parameter_supported": True,
            "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
            "dpop_signing_alg_values_supported": ["ES256"], "client_id_metadata_document_supported": True})

    def check_client(form, issuer: str) -> dict:
        """The client's metadata, once its private_key_jwt assertion holds."""
        client_id = form.get("client_id", "")
        if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
            raise Refused("invalid_client", "no private_key_jwt client assertion", 401)
        metadata = requests.get(client_id, timeout=10).json()
        if metadata.get("client_id") != client_id or metadata.get("token_endpoint_auth_method") != "private_key_jwt" \
                or metadata.get("dpop_bound_access_tokens") is not True or "atproto" not in metadata.get("scope", ""):
            raise Refused("invalid_client", "client metadata does not describe this client", 401)
        kid = _header(form["client_assertion"]).get("kid")
        keys = [k for k in metadata.get("jwks", {}).get("keys", []) if k.get("kid") == kid]
        if not keys or "d" in keys[0]:
            raise Refused("invalid_client", "the assertion's kid is not in the client's jwks", 401)
        try:
            claims = jwt.decode(form["client_assertion"], jwk.ECKey.import_key(keys[0]), algorithms=["ES256"]).claims
        except (JoseError, ValueError):
            raise Refused("invalid_client", "the client assertion's signature does not verify", 401) from None
        now = time.time()
        if claims.get("iss") != client_id or claims.get("sub") != client_id or claims.get("aud") != issuer \
                or not claims.get("exp", 0) > now or claims.get("iat", 0) > now + 5 or claims.get("jti") in sky.jtis:
            raise Refused("invalid_client", "the client assertion's claims are wrong, expired or replayed", 401)
        sky.jtis.add(claims["jti"])
        return metadata

    def check_dpop() -> str:
        """The thumbprint of the key of a valid DPoP proof with the current nonce."""
        proof = request.headers.get("DPoP", "")
        try:
            header = _header(proof)
            key = jwk.ECKey.import_key(header["jwk"])
            claims = jwt.decode(proof, key, algorithms=["ES256"]).claims
        except (JoseError, ValueError, KeyError, IndexError, TypeError):
            raise Refused("invalid_dpop_proof", "no DPoP proof, or its signature does not verify") from None
        if header.get("typ") != "dpop+jwt" or "d" in header["jwk"] or claims.get("htm") != request.method \
                or claims.get("htu") != request.base_url or abs(claims.get("iat", 0) - time.time()) > 60 \
                or not claims.get("jti") or claims["jti"] in sky.jtis:
            raise Refused("invalid_dpop_proof", "the DPoP proof's claims are wrong or replayed")
        if claims.get("nonce") != sky.nonce:
            sky.nonce_asked += 1
            raise Refused("use_dpop_nonce", "the DPoP proof lacks the server's current nonce")
        sky.jtis.add(claims["jti"])
        return key.thumbprint()

    def answer(body: dict, status: int = 200):
        response = jsonify(body)
        response.headers["DPoP-Nonce"] = sky.nonce
        return response, status

    @app.post("/as/<name>/par")
    def par(name):
        if sky.broken == "par_502":
            return "<html>502 Bad Gateway</html>", 502, {"Content-Type": "text/html"}
        form = request.form
        jkt = check_dpop()
        metadata = check_client(form, sky.issuer(name))
        if form.get("response_type") != "code" or form.get("code_challenge_method") != "S256" \
                or len(form.get("code_challenge", "")) != 43 or not form.get("state") \
                or "atproto" not in form.get("scope", "").split():
            raise Refused("invalid_request", "PAR needs response_type code, PKCE S256, state and scope atproto")
        if form.get("redirect_uri") not in metadata.get("redirect_uris", []):
            raise Refused("invalid_request", "redirect_uri is not in the client metadata")
        request_uri = "urn:ietf:params:oauth:request_uri:req-" + secrets.token_hex(16)
        sky.requests[request_uri] = {**form.to_dict(), "jkt": jkt, "server": name}
        return answer({"request_uri": request_uri, "expires_in": 299}, 201)

    @app.get("/as/<name>/authorize")
    def authorize(name):
        pushed = sky.requests.pop(request.args.get("request_uri", ""), None)
        if pushed is None or pushed["client_id"] != request.args.get("client_id") or pushed["server"] != name:
            raise Refused("invalid_request", "unknown, used or another client's request_uri")
        code = "cod-" + secrets.token_hex(12)
        sky.codes[code] = {**pushed, "sub": sky.approve_as or sky.handles.get(pushed.get("login_hint", ""), SAM)}
        return redirect(pushed["redirect_uri"] + "?" + urlencode(
            {"state": pushed["state"], "iss": sky.answer_iss or sky.issuer(name), "code": code}))

    @app.post("/as/<name>/token")
    def token(name):
        form = request.form
        jkt = check_dpop()
        check_client(form, sky.issuer(name))
        grant = sky.codes.pop(form.get("code", ""), None) if form.get("grant_type") == "authorization_code" else None
        if grant is None or grant["server"] != name or grant["client_id"] != form.get("client_id") \
                or grant["redirect_uri"] != form.get("redirect_uri"):
            raise Refused("invalid_grant", "unknown or used code, or another client's or redirect's")
        if _challenge(form.get("code_verifier", "")) != grant["code_challenge"]:
            raise Refused("invalid_grant", "the PKCE code_verifier does not match the challenge")
        if jkt != grant["jkt"]:
            raise Refused("invalid_dpop_proof", "not the DPoP key the authorization was pushed with")
        return answer({"access_token": "at-" + secrets.token_hex(16), "token_type": "DPoP", "expires_in": 3600,
                       "refresh_token": "rt-" + secrets.token_hex(16), "scope": "atproto", "sub": grant["sub"]})

    return app
