"""A small client for tills and queue systems written in Python.

It fails open: when posplugin is down, slow or refuses a call, the method
returns None within ``timeout`` seconds (default 0.3) and the sale goes on
without a prompt. ``last_error`` says what went wrong; ``strict=True`` raises
:class:`PospluginUnavailable` instead, for tests and tools.

    from posplugin.client import Client
    till = Client("http://store-pc:8765", "pp_...")
    answer = till.identify("3", phone="412 34 567", display_name="Sam")
    if answer and answer["prompt"]:
        show_card(answer["prompt"])
"""

from __future__ import annotations

import logging

import requests

log = logging.getLogger("posplugin.client")
IDENTIFIER_TYPES = ("phone", "email", "loyalty_id", "card_token", "handle", "pass")


class PospluginUnavailable(Exception):
    """posplugin did not answer usefully (only raised with ``strict=True``)."""


class Client:
    def __init__(self, url: str, token: str, *, timeout: float = 0.3, strict: bool = False):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.strict = strict
        self.last_error: str | None = None
        self._http = requests.Session()
        self._http.headers["Authorization"] = f"Bearer {token}"

    def identify(self, lane: str, *, phone: str | None = None, email: str | None = None,
                 loyalty_id: str | None = None, card_token: str | None = None,
                 handle: str | None = None, scanned_pass: str | None = None, stage: str = "till",
                 display_name: str | None = None, sale_id: str | None = None) -> dict | None:
        """Who is at ``lane`` (give exactly one identifier; ``scanned_pass`` is the
        text of the QR code on the customer's page); the identify answer or None."""
        given = {k: v for k, v in (("phone", phone), ("email", email), ("loyalty_id", loyalty_id),
                                   ("card_token", card_token), ("handle", handle),
                                   ("pass", scanned_pass)) if v is not None}
        if len(given) != 1:
            raise ValueError("give exactly one of phone, email, loyalty_id, card_token, handle, "
                             "scanned_pass")
        (id_type, value), = given.items()
        body = {"lane": str(lane), "identifier": {"type": id_type, "value": value}, "stage": stage}
        if display_name:
            body["display_name"] = display_name
        if sale_id:
            body["sale_id"] = sale_id
        return self._call("POST", "/api/v1/identify", body)

    def queue_length(self, lane: str, length: int, at: str | None = None) -> dict | None:
        """A length reading for ``lane`` (``at``: ISO-8601 with zone, for late readings)."""
        body = {"lane": str(lane), "length": length}
        if at:
            body["at"] = at
        return self._call("POST", "/api/v1/queue", body)

    def queue_event(self, lane: str, event: str) -> dict | None:
        """``join``, ``leave``, ``served``, ``open`` or ``close`` at ``lane``."""
        return self._call("POST", "/api/v1/queue", {"lane": str(lane), "event": event})

    def prompts(self, status: str = "open", lane: str | None = None) -> list[dict] | None:
        """Prompts with ``status`` (optionally of one lane), most urgent first."""
        query = f"?status={status}" + (f"&lane={lane}" if lane else "")
        answer = self._call("GET", "/api/v1/prompts" + query)
        return None if answer is None else answer["prompts"]

    def ack(self, prompt_id: int, by: str) -> dict | None:
        """Take a prompt ("on it")."""
        return self._call("POST", f"/api/v1/prompts/{prompt_id}/ack", {"by": by})

    def resolve(self, prompt_id: int, by: str, note: str | None = None) -> dict | None:
        """Resolve a prompt."""
        body = {"by": by} | ({"note": note} if note else {})
        return self._call("POST", f"/api/v1/prompts/{prompt_id}/resolve", body)

    def _call(self, method: str, path: str, body: dict | None = None) -> dict | None:
        try:
            response = self._http.request(method, self.url + path, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            return self._fail(f"posplugin unreachable: {exc.__class__.__name__}")
        if response.status_code >= 300:
            try:
                error = response.json()["error"]
                reason = f"{response.status_code} {error['code']}: {error['message']}"
            except (ValueError, KeyError, TypeError):
                reason = f"{response.status_code} from posplugin"
            return self._fail(reason)
        self.last_error = None
        return response.json()

    def _fail(self, reason: str) -> None:
        self.last_error = reason
        if self.strict:
            raise PospluginUnavailable(reason)
        log.warning("%s; carrying on without it", reason)
        return None
