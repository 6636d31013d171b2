"""AT Protocol identity and OAuth discovery: a handle to its DID (HTTPS
``/.well-known/atproto-did`` on the handle's domain), the DID document
(``did:plc`` from a PLC directory, ``did:web`` from the domain's
``/.well-known/did.json``) to the account's PDS, the PDS's
``/.well-known/oauth-protected-resource`` to its authorization server, and
that server's ``/.well-known/oauth-authorization-server`` metadata.

From atproto.com's *Handle*, *DID* and *OAuth* specifications: a handle
counts only when the DID document names it back (``alsoKnownAs``
``at://HANDLE``); the PDS is the service ``#atproto_pds`` of type
``AtprotoPersonalDataServer``; the metadata's ``issuer`` must be the server
it was fetched from. Handle resolution by DNS TXT (``_atproto.HANDLE``) is
not built: a handle whose domain answers only in DNS cannot be linked.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from .oauth import PlatformError

TIMEOUT_S = 10.0
MAX_BYTES = 256 * 1024  # a DID document or metadata is a few KB; never read a hostile server's gigabytes
# atproto.com/specs/handle: DNS labels, at least two, the last not starting with a digit.
HANDLE = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
# atproto.com/specs/did: the two blessed methods; did:plc is 24 base32 characters.
DID = re.compile(r"^did:(plc:[a-z2-7]{24}|web:[a-z0-9.-]+)$")


class IdentityError(PlatformError):
    """A handle, DID, PDS or authorization server that cannot be resolved or does not hold together."""

    reason = "identity"


@dataclass(frozen=True)
class Identity:
    """An account and where it signs in: its DID, PDS and authorization server (issuer and metadata)."""

    did: str
    pds: str
    issuer: str
    server: dict


def normal_handle(text: str) -> str:
    """A handle as typed (``@sam.bsky.social``), lower case; raises :class:`IdentityError` if it is none."""
    handle = text.strip().lstrip("@").casefold()
    if len(handle) > 253 or not HANDLE.match(handle):
        raise IdentityError("a Bluesky handle looks like name.bsky.social or your own domain")
    return handle


class Resolver:
    """Resolves handles and DIDs over HTTP. ``plc_url`` is the PLC directory;
    ``domain_url`` the HTTPS origin of a domain, ``{domain}`` in it (tests
    and proxies point both elsewhere)."""

    def __init__(self, *, plc_url: str = "https://plc.directory", domain_url: str = "https://{domain}",
                 session: requests.Session | None = None, allow_local: bool = False):
        self.plc_url = plc_url.rstrip("/")
        self.domain_url = domain_url.rstrip("/")
        self.http = session or requests.Session()
        # Tests and stand-ins only: plain http and this network's own addresses.
        self.allow_local = allow_local

    def check_url(self, url: str) -> None:
        """Refuse a URL that came from a handle, a DID document or a server's
        metadata unless it is https on a public address: such a URL must not
        make head office call into its own network."""
        if self.allow_local:
            return
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise IdentityError("an identity server's address is not https")
        try:
            found = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            raise IdentityError("an identity server's name does not resolve") from None
        if any(not ipaddress.ip_address(info[4][0].split("%")[0]).is_global for info in found):
            raise IdentityError("an identity server's address is not public")

    def of_handle(self, handle: str) -> Identity:
        """The account behind ``handle``, once its DID document names the handle back."""
        handle = normal_handle(handle)
        did = self._get(self.domain_url.format(domain=handle) + "/.well-known/atproto-did").text.strip()
        if not DID.match(did):
            raise IdentityError("the handle's domain does not answer with a DID")
        document = self.document(did)
        if f"at://{handle}" not in [str(a).casefold() for a in document.get("alsoKnownAs") or []]:
            raise IdentityError("the account's DID document does not name this handle")
        return self._identity(did, document)

    def of_did(self, did: str) -> Identity:
        """The account ``did`` and its authorization server as its DID document says now."""
        return self._identity(did, self.document(did))

    def document(self, did: str) -> dict:
        """The DID document of ``did`` (PLC directory, or did:web's ``/.well-known/did.json``)."""
        if not DID.match(did):
            raise IdentityError("not a did:plc or did:web")
        if did.startswith("did:plc:"):
            url = f"{self.plc_url}/{did}"
        else:
            url = self.domain_url.format(domain=did.removeprefix("did:web:")) + "/.well-known/did.json"
        document = self._json(url)
        if document.get("id") != did:
            raise IdentityError("the DID document is for another DID")
        return document

    def server(self, issuer: str) -> dict:
        """An authorization server's metadata, whose ``issuer`` must be the server asked."""
        metadata = self._json(issuer.rstrip("/") + "/.well-known/oauth-authorization-server")
        if metadata.get("issuer") != issuer:
            raise IdentityError("the authorization server's metadata names another issuer")
        for field in ("pushed_authorization_request_endpoint", "authorization_endpoint", "token_endpoint"):
            if not str(metadata.get(field, "")).startswith(("https://", "http://")):
                raise IdentityError(f"the authorization server gives no {field}")
        return metadata

    def _identity(self, did: str, document: dict) -> Identity:
        pds = _pds(document)
        resource = self._json(pds + "/.well-known/oauth-protected-resource")
        servers = resource.get("authorization_servers") or []
        if not servers or not isinstance(servers[0], str):
            raise IdentityError("the account's server names no authorization server")
        return Identity(did, pds, servers[0], self.server(servers[0]))

    def _json(self, url: str) -> dict:
        try:
            value = self._get(url).json()
        except ValueError:
            raise IdentityError("an identity server answered without JSON") from None
        if not isinstance(value, dict):
            raise IdentityError("an identity server answered JSON that is not an object")
        return value

    def _get(self, url: str) -> requests.Response:
        if not url.startswith(self.plc_url + "/"):  # the PLC directory is the chain's setting; the rest is not
            self.check_url(url)
        try:
            response = self.http.get(url, timeout=TIMEOUT_S, stream=True, allow_redirects=False)
            body = response.raw.read(MAX_BYTES + 1, decode_content=True)
        except requests.RequestException as exc:
            raise IdentityError(f"an identity server could not be reached: {exc.__class__.__name__}") from None
        if response.status_code != 200 or len(body) > MAX_BYTES:
            raise IdentityError(f"an identity server answered {response.status_code}")
        response._content = body  # read once, capped: .text and .json() use it
        return response


def _pds(document: dict) -> str:
    for service in document.get("service") or []:
        if isinstance(service, dict) and str(service.get("id", "")).endswith("#atproto_pds") \
                and service.get("type") == "AtprotoPersonalDataServer":
            endpoint = str(service.get("serviceEndpoint", "")).rstrip("/")
            if endpoint.startswith(("https://", "http://")):
                return endpoint
    raise IdentityError("the DID document names no PDS")
