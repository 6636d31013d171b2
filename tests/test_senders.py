"""Who delivers join codes: a chain's send_code plugin, email over a real
SMTP server on 127.0.0.1 (aiosmtpd), and the console sender, which logs the
code with a masked identifier only."""

import logging

import pytest
from helpers import free_port, hooks_folder

from posplugin.config import Settings
from posplugin.hq.customers.senders import SmtpSender, code_senders, mask
from posplugin.plugins import Plugins


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    class Keep(Message):
        def __init__(self):
            super().__init__()
            self.messages = []

        def handle_message(self, message):
            self.messages.append(message)

    handler = Keep()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler.messages
    controller.stop()


@pytest.mark.parametrize("channel, to, masked", [
    ("sms", "+4741234567", "+•••67"),
    ("email", "mia.hansen@example.com", "m•••@example.com"),
    ("email", "@example.com", "•••"),
    ("sms", "123", "•••"),
])
def test_mask(channel, to, masked):
    assert mask(channel, to) == masked


def test_console_sender_logs_code_and_masked_identifier_only(tmp_path, caplog):
    send = code_senders(Settings(data_dir=tmp_path, code_sender="console"), Plugins(Settings(), entry_points=False))
    with caplog.at_level(logging.INFO):
        assert send("sms", "+4741234567", "123456", "en") is True
        assert send("email", "mia@example.com", "654321", "nb") is True
    text = caplog.text
    assert "123456" in text and "+•••67" in text and "654321" in text and "m•••@example.com" in text
    assert "41234567" not in text and "mia@" not in text


def test_no_sender_configured_sends_nothing(tmp_path):
    send = code_senders(Settings(data_dir=tmp_path), Plugins(Settings(), entry_points=False))
    assert send("sms", "+4741234567", "123456", "en") is False


def test_email_over_smtp(tmp_path, smtp_server, caplog):
    controller, messages = smtp_server
    url = f"smtp://127.0.0.1:{controller.port}?from=join@shop.example"
    send = code_senders(Settings(data_dir=tmp_path, smtp_url=url), Plugins(Settings(), entry_points=False))
    with caplog.at_level(logging.INFO):
        assert send("email", "mia@example.com", "246810", "nb") is True
        # SMTP does not send texts; with no SMS plugin nothing takes it.
        assert send("sms", "+4741234567", "246810", "nb") is False
    [mail] = messages
    assert mail["To"] == "mia@example.com" and mail["From"] == "join@shop.example"
    assert mail["Subject"] == "Koden din: 246810"
    assert "246810" in mail.get_payload() and "10 minutter" in mail.get_payload()
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("posplugin")]
    assert ours and not any("mia@" in m for m in ours)


def test_smtp_down_is_not_sent(tmp_path, caplog):
    send = code_senders(Settings(data_dir=tmp_path, smtp_url=f"smtp://127.0.0.1:{free_port()}"),
                        Plugins(Settings(), entry_points=False))
    assert send("email", "mia@example.com", "246810", "en") is False
    assert "m•••@example.com" in caplog.text and "mia@" not in caplog.text


@pytest.mark.parametrize("url", ["http://mail", "smtp://", "mail.example.com"])
def test_bad_smtp_url(url):
    with pytest.raises(ValueError):
        SmtpSender(url)


def test_sms_gateway_plugin_comes_first(tmp_path):
    hooks = hooks_folder(tmp_path, gateway=(
        "from posplugin.hookspecs import hookimpl\n"
        "SENT = []\n"
        "@hookimpl\n"
        "def send_code(channel, to, code, language, settings):\n"
        "    if channel == 'sms':\n"
        "        SENT.append((to, code, settings.extra.get('gateway_sender')))\n"
        "        return True\n"))
    settings = Settings(data_dir=tmp_path, hooks_dir=str(hooks), code_sender="console",
                        extra={"gateway_sender": "SHOP"})
    plugins = Plugins(settings, entry_points=False)
    send = code_senders(settings, plugins)
    assert send("sms", "+4741234567", "135790", "en") is True
    module = dict(plugins.pm.list_name_plugin())["gateway"]
    assert module.SENT == [("+4741234567", "135790", "SHOP")]
    assert send("email", "a@example.com", "111111", "en") is True  # the console takes email
