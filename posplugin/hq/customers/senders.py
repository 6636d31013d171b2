"""Who delivers a customer's one-time code: the ``send_code`` hook.

Three senders implement it: email over SMTP (the ``smtp_url`` setting), a
chain's SMS gateway (its own plugin), and the ``console`` sender for the demo
and tests, which logs the code beside a masked identifier. A sender never
logs the whole phone number or email.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from ...hookspecs import hookimpl
from ...plugins import Plugins

log = logging.getLogger("posplugin.hq.senders")

SUBJECT = {"en": "Your code: {code}", "nb": "Koden din: {code}"}
BODY = {"en": "Your code is {code}. It works for 10 minutes.\n\nIf you did not ask for it, ignore this message.",
        "nb": "Koden din er {code}. Den virker i 10 minutter.\n\nHar du ikke bedt om den, kan du se bort fra denne "
              "meldingen."}


def mask(channel: str, to: str) -> str:
    """``to`` with all but a hint hidden: the last two digits of a phone
    number, the first letter and the domain of an email."""
    if channel == "email":
        local, _, domain = to.rpartition("@")
        return f"{local[:1]}•••@{domain}" if local else "•••"
    digits = [c for c in to if c.isdigit()]
    return "+•••" + "".join(digits[-2:]) if len(digits) > 4 else "•••"


def message(code: str, language: str) -> tuple[str, str]:
    """The subject and text of a code message in ``language``."""
    language = language if language in BODY else "en"
    return SUBJECT[language].format(code=code), BODY[language].format(code=code)


class ConsoleSender:
    """Logs the code and a masked identifier: for the demo and tests, never production."""

    name = "console"

    @hookimpl
    def send_code(self, channel, to, code, language):
        log.warning("join code %s for %s (%s, console sender)", code, mask(channel, to), channel)
        return True


class SmtpSender:
    """Email over SMTP: ``smtp://[user:password@]host[:port][?from=addr&starttls=1]``,
    or ``smtps://`` for TLS from the start."""

    name = "smtp"

    def __init__(self, url: str, timeout: float = 15.0):
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("smtp_url must look like smtp://user:password@host:587?from=shop@example.com")
        query = parse_qs(parts.query)
        self.tls = parts.scheme == "smtps"
        self.starttls = query.get("starttls", ["0"])[0] in ("1", "true", "yes")
        self.host = parts.hostname
        self.port = parts.port or (465 if self.tls else 587 if self.starttls else 25)
        self.user = unquote(parts.username or "")
        self.password = unquote(parts.password or "")
        self.sender = query.get("from", [f"noreply@{parts.hostname}"])[0]
        self.timeout = timeout

    @hookimpl
    def send_code(self, channel, to, code, language):
        if channel != "email":
            return None
        subject, text = message(code, language)
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender, to, subject
        mail.set_content(text)
        try:
            with self._connect() as smtp:
                if self.user:
                    smtp.login(self.user, self.password)
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            log.error("email to %s not sent: %s", mask(channel, to), exc.__class__.__name__)
            return None
        log.info("join code sent by email to %s", mask(channel, to))
        return True

    def _connect(self) -> smtplib.SMTP:
        if self.tls:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                    context=ssl.create_default_context())
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.starttls:
            smtp.starttls(context=ssl.create_default_context())
        return smtp


def code_senders(settings, plugins: Plugins | None = None, *, console: bool = False):
    """The ``send(channel, to, code, language)`` head office calls: the
    chain's plugins first, then SMTP for email (when ``smtp_url`` is set),
    then the console sender when ``code_sender`` is ``console`` (demo and tests)."""
    plugins = plugins or Plugins(settings)
    builtin = []
    if console or settings.code_sender == "console":
        builtin.append(ConsoleSender())
    if settings.smtp_url:
        builtin.append(SmtpSender(settings.smtp_url))

    def send(channel: str, to: str, code: str, language: str) -> bool:
        if plugins.first("send_code", channel=channel, to=to, code=code, language=language,
                         settings=settings):
            return True
        for sender in reversed(builtin):  # SMTP before the console
            try:
                if sender.send_code(channel, to, code, language):
                    return True
            except Exception:
                log.exception("sender %s failed", sender.name)
        return False

    return send
