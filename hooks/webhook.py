"""Forward urgent prompts to a URL (a store's radio, messaging or paging
bridge): ``webhook_url`` in settings. Sent from a thread of its own, retried
with backoff, so the till never waits for the bridge.

One :class:`Forwarder` (queue and thread) per bridge URL: a slow or dead
bridge only delays what goes to it, never another store's prompts.
"""

import logging
import queue
import threading

import requests

from posplugin.hookspecs import hookimpl

log = logging.getLogger("posplugin.hooks.webhook")
RETRIES = 5
QUEUED = 1000
TIMEOUT_S = 5


class Forwarder:
    """Posts prompts to one URL from a daemon thread, in order, with retries."""

    def __init__(self, url: str):
        self.url = url
        self.queue: "queue.Queue[dict]" = queue.Queue(maxsize=QUEUED)
        self._wait = threading.Event()  # never set: waited on as a backoff sleep
        threading.Thread(target=self._run, name="posplugin-webhook", daemon=True).start()

    def put(self, prompt: dict) -> None:
        try:
            self.queue.put_nowait(prompt)
        except queue.Full:
            log.error("webhook: %d prompts waiting for %s; prompt %s not forwarded", QUEUED, self.url,
                      prompt.get("id"))

    def _run(self) -> None:
        session = requests.Session()
        while True:
            prompt = self.queue.get()
            for attempt in range(RETRIES):
                try:
                    if session.post(self.url, json={"prompt": prompt}, timeout=TIMEOUT_S).status_code < 500:
                        break
                except requests.RequestException:
                    pass
                self._wait.wait(min(30, 0.5 * 2 ** attempt))
            else:
                log.error("webhook: gave up on prompt %s after %d tries", prompt.get("id"), RETRIES)


_forwarders: dict[str, Forwarder] = {}
_lock = threading.Lock()


def forwarder(url: str) -> Forwarder:
    """The forwarder for ``url``, started on first use."""
    with _lock:
        if url not in _forwarders:
            _forwarders[url] = Forwarder(url)
        return _forwarders[url]


@hookimpl
def prompt_changed(prompt, settings):
    if settings.webhook_url and prompt.get("level") == "urgent" and prompt.get("status") == "open":
        forwarder(settings.webhook_url).put(prompt)
    return None
