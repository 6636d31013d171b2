"""Forward urgent prompts to a URL (a store's radio, messaging or paging
bridge): ``webhook_url`` in settings. Sent from a thread of its own, retried
with backoff, so the till never waits for the bridge."""

import logging
import queue
import threading

import requests

from posplugin.hookspecs import hookimpl

log = logging.getLogger("posplugin.hooks.webhook")
RETRIES = 5
_outbox: "queue.Queue[tuple[str, dict]]" = queue.Queue(maxsize=1000)
_sender: list[threading.Thread] = []


def _send_forever() -> None:
    session = requests.Session()
    while True:
        url, prompt = _outbox.get()
        for attempt in range(RETRIES):
            try:
                response = session.post(url, json={"prompt": prompt}, timeout=5)
                if response.status_code < 500:
                    break
            except requests.RequestException:
                pass
            threading.Event().wait(min(30, 0.5 * 2 ** attempt))
        else:
            log.error("webhook: gave up on prompt %s after %d tries", prompt.get("id"), RETRIES)


@hookimpl
def prompt_changed(prompt, settings):
    if not settings.webhook_url or prompt.get("level") != "urgent" or prompt.get("status") != "open":
        return None
    if not _sender:
        _sender.append(threading.Thread(target=_send_forever, name="posplugin-webhook", daemon=True))
        _sender[0].start()
    try:
        _outbox.put_nowait((settings.webhook_url, prompt))
    except queue.Full:
        log.error("webhook: outbox full; prompt %s not forwarded", prompt.get("id"))
    return None
