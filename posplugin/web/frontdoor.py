"""The HTTP front door: an asyncio server (aiohttp) that owns the listening
socket, runs the WSGI app on a small bounded pool of threads, and serves live
streams from its event loop.

Why not a thread per connection: a connection that sends half a request head
and then nothing, or trickles a byte every few seconds, costs an event loop a
file descriptor and nothing else, where it would cost a threaded server one
of the threads the tills need. Request heads and bodies up to
``buffered_body`` bytes are read completely on the loop before a worker thread
ever sees the request, so slow or idle clients cannot take the tills' capacity.
A live stream (Server-Sent Events) is a few objects on the loop instead of a
thread parked on a condition variable, which is what made identify slow with
a hundred tablets connected (the GIL and a thread per stream).

asyncio runs the same on Windows, so the store keeps one ``posplugin serve``
command everywhere.
"""

from __future__ import annotations

import asyncio
import io
import logging
import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote_to_bytes

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler
from multidict import CIMultiDict

from .live import LiveStreams

log = logging.getLogger("posplugin.server")

BUFFERED_BODY = 1 << 20     # bodies up to this are read on the loop, whole, before a worker runs
HEAD_TIMEOUT_S = 10.0       # a request head must be whole this long after its first byte
BODY_TIMEOUT_S = 10.0       # a buffered body that takes longer than this to arrive is answered 408
CHUNK_TIMEOUT_S = 30.0      # a large (streamed) body whose next chunk takes longer than this is dropped
KEEPALIVE_S = 75.0          # idle keep-alive connections are closed after this
MAX_HEAD_LINE = 8190        # bytes in the request line (path and query) or in one header
# Proxy headers a client could forge; dropped as waitress did, nothing here trusts a proxy.
UNTRUSTED = {"FORWARDED", "X_FORWARDED_FOR", "X_FORWARDED_HOST", "X_FORWARDED_PROTO",
             "X_FORWARDED_PORT", "X_FORWARDED_BY"}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}
SERVER = ("Server", "posplugin")  # not aiohttp's own, which names its and Python's versions
STREAM_KEY = "posplugin.stream"   # the environ key a view sets to hand its response to the loop
LIVE_KEY = "posplugin.live"       # the environ key holding the loop's LiveStreams


class ThreadReader(io.RawIOBase):
    """``wsgi.input`` for a body too large to buffer: reads from the loop's
    stream, from a worker thread."""

    def __init__(self, content, loop: asyncio.AbstractEventLoop, head: bytes = b""):
        self._content = content
        self._loop = loop
        self._head = head

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n], self._head = self._head[:n], self._head[n:]
            return n
        future = asyncio.run_coroutine_threadsafe(self._content.read(len(buffer)), self._loop)
        chunk = future.result(CHUNK_TIMEOUT_S)
        buffer[:len(chunk)] = chunk
        return len(chunk)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=1024)


class _Connection(RequestHandler):
    """aiohttp's connection handler, answering what it cannot serve in the JSON
    error shape: a request head it cannot read (a line over ``MAX_HEAD_LINE``,
    a bad header or method, TLS or junk sent to the HTTP port) is the client's
    mistake, a 400 logged in one line, never a traceback nor a plain-text page
    naming aiohttp's and Python's versions.

    Slow clients are cut short: a request head must be whole within
    ``HEAD_TIMEOUT_S`` of its first byte (aiohttp alone would wait for its
    keep-alive time, 75 s), and one network address may hold at most the
    server's ``per_address`` connections (0: any number); one more is closed
    as it opens. A device that misbehaves on the store's network then costs
    the tills a bounded number of sockets for a bounded time. (How far a
    connection is comes from aiohttp's own attributes, which
    tests/test_frontdoor.py checks as it checks ``_Server``.)"""

    _head_timer: asyncio.TimerHandle | None = None
    _address: str | None = None
    _door: "FrontDoor | None" = None
    _refused = False

    def connection_made(self, transport) -> None:
        self._door = self._manager.door
        peer = transport.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) else None
        if not self._door.admit(address):
            self._refused = True
            transport.abort()
            return
        self._address = address
        super().connection_made(transport)

    def connection_lost(self, exc) -> None:
        self._stop_head_timer()
        if self._address is not None:
            self._door.release(self._address)
            self._address = None
        if not self._refused:
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        heads = self._request_count
        super().data_received(data)
        if self._request_count > heads:
            self._stop_head_timer()  # a whole head arrived
        elif (self._head_timer is None and not self._request_in_progress and not self._messages
              and self.transport is not None):
            # The first bytes of a head, with no request in hand: it must be whole in time.
            self._head_timer = self._loop.call_later(HEAD_TIMEOUT_S, self._head_too_slow)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.transport is not None and not self._request_in_progress and not self._messages:
            log.info("closed a connection from %s: its request head took over %.0f s", self._address,
                     HEAD_TIMEOUT_S)
            self._door.slow_heads += 1
            self.force_close()  # closes the transport

    def handle_error(self, request, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if isinstance(exc, HttpProcessingError):
            reason = (f"a request line or header is over {MAX_HEAD_LINE:,} bytes"
                      if isinstance(exc, LineTooLong) else "the request head is not valid HTTP/1.1")
            log.info("unreadable request head from %s: %s", request.remote, str(exc).split("\n")[0][:120])
            return _error_answer(400, "bad_request", reason)
        if request.writer.output_size > 0:  # part of an answer went out: aiohttp drops the connection
            return super().handle_error(request, status, exc, message)
        log.error("error serving %s %s", request.method, request.path, exc_info=exc)
        return _error_answer(500, "internal_error", "something went wrong on our side; it has been logged")


def _error_answer(status: int, code: str, message: str) -> web.Response:
    response = web.json_response({"error": {"code": code, "message": message}}, status=status,
                                 headers=dict([SERVER]))
    response.force_close()
    return response


class _Server(web.Server):
    """aiohttp's server making our connection handler. aiohttp has no public
    way to choose the handler class, so this repeats its ``__call__``
    (setup.cfg pins the minor version it was read from, and
    tests/test_frontdoor.py fails when aiohttp's own changes)."""

    door: "FrontDoor"

    def __call__(self) -> RequestHandler:
        return _Connection(self, loop=self._loop, **self._kwargs)


class FrontDoor:
    """The server: ``run()`` serves until ``close()``; ``start()`` serves from a
    background thread (demo, tests). Binds at construction, so a port in use
    is an error before anything starts; or serves ``sock``, a socket already
    listening (several processes share one, see :mod:`posplugin.web.server`)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, threads: int = 16,
                 buffered_body: int = BUFFERED_BODY, sock: socket.socket | None = None, per_address: int = 0):
        self.app = app
        self.per_address = per_address  # connections one address may hold; 0: any number
        self._open: dict[str, int] = {}
        self.refused = 0      # connections closed at once: their address held its share
        self.slow_heads = 0   # connections closed because their request head took too long
        self.socket = sock or bind(host, port)
        self.host, self.effective_port = self.socket.getsockname()[:2]
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="posplugin-worker")
        self.buffered_body = buffered_body
        self.loop = asyncio.new_event_loop()
        self.live = LiveStreams(self.loop, self.pool)
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._closed = False

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> "FrontDoor":
        self._thread = threading.Thread(target=self._serve, name="posplugin-http", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def run(self) -> None:
        """Serve until :meth:`close` (or Ctrl-C in the calling thread)."""
        self.start()
        while self._thread.is_alive():
            self._thread.join(0.5)

    def close(self) -> None:
        """Stop accepting, close every connection and stream, end the loop (once)."""
        if self._closed:
            return
        self._closed = True
        if self._stop is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(self._stop.set)
            if self._thread is not None:
                self._thread.join(10)
        else:
            self.socket.close()
        self.pool.shutdown(wait=False, cancel_futures=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        finally:
            self.loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        server = _Server(self.handle, handler_cancellation=True, keepalive_timeout=KEEPALIVE_S,
                         access_log=None, max_line_size=MAX_HEAD_LINE, max_field_size=MAX_HEAD_LINE)
        server.door = self
        runner = web.ServerRunner(server, shutdown_timeout=1.0, handle_signals=False)
        await runner.setup()
        await web.SockSite(runner, self.socket).start()
        self.live.start()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.live.close()
            await runner.cleanup()

    # -- connections (on the loop) -------------------------------------------
    def admit(self, address: str | None) -> bool:
        """Count a new connection from ``address``; False when that address
        already holds ``per_address`` connections (it is then not counted)."""
        if address is None:
            return True
        held = self._open.get(address, 0)
        if self.per_address and held >= self.per_address:
            if self.refused % 1000 == 0:  # one line now and then, not one per refusal
                log.info("refused a connection from %s: it holds %d already (max_connections_per_address);"
                         " %d refused so far", address, held, self.refused + 1)
            self.refused += 1
            return False
        self._open[address] = held + 1
        return True

    def release(self, address: str) -> None:
        held = self._open.get(address, 0) - 1
        if held > 0:
            self._open[address] = held
        else:
            self._open.pop(address, None)

    # -- requests ----------------------------------------------------------
    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """Read the whole request on the loop, run the app on a worker, answer."""
        if request.headers.get("Expect", "").lower() == "100-continue":
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await self._body(request)
        if body is None:
            answer = web.Response(status=408, content_type="application/json", headers=dict([SERVER]),
                                  text='{"error": {"code": "request_timeout", "message": '
                                       '"the body took too long to arrive"}}')
            answer.force_close()  # what follows on this connection is the rest of that body
            return answer
        environ = self._environ(request, body)
        if isinstance(body, io.BytesIO):  # read whole: to the app it is a plain body of this length
            environ["CONTENT_LENGTH"] = str(len(body.getbuffer()))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        else:
            environ["wsgi.input_terminated"] = True  # werkzeug may read to the end
        job = self.loop.run_in_executor(self.pool, self._call, environ)
        try:
            status, headers, chunks = await asyncio.shield(job)
        except asyncio.CancelledError:  # the client left while the app ran: free a stream it opened
            job.add_done_callback(lambda _: _abandon(environ))
            raise
        spec = environ.get(STREAM_KEY)
        if spec is not None:
            return await self.live.serve(request, status, headers, spec)
        return await self._answer(request, status, headers, chunks)

    async def _body(self, request: web.BaseRequest):
        """The body as a file for ``wsgi.input``, read whole on the loop when it is
        at most ``buffered_body`` bytes; None when it did not arrive in time."""
        if not request.body_exists:
            return io.BytesIO(b"")
        length = request.content_length
        try:
            if length is not None and length <= self.buffered_body:
                return io.BytesIO(await asyncio.wait_for(request.content.readexactly(length),
                                                         BODY_TIMEOUT_S))
            if length is None:  # chunked: buffered too if it turns out small
                head = await asyncio.wait_for(self._read_up_to(request.content, self.buffered_body + 1),
                                              BODY_TIMEOUT_S)
                if len(head) <= self.buffered_body:
                    return io.BytesIO(head)
                return io.BufferedReader(ThreadReader(request.content, self.loop, head), 1 << 16)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError):
            return None
        return io.BufferedReader(ThreadReader(request.content, self.loop), 1 << 16)

    @staticmethod
    async def _read_up_to(content, limit: int) -> bytes:
        parts, size = [], 0
        while size < limit:
            chunk = await content.read(limit - size)
            if not chunk:
                break
            parts.append(chunk)
            size += len(chunk)
        return b"".join(parts)

    def _environ(self, request: web.BaseRequest, body) -> dict:
        path, _, query = request.raw_path.partition("?")
        peer = request.transport.get_extra_info("peername") if request.transport else None
        environ = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": self.host,
            "SERVER_PORT": str(self.effective_port),
            "SERVER_PROTOCOL": f"HTTP/{request.version.major}.{request.version.minor}",
            "REMOTE_ADDR": peer[0] if peer else "",
            "REMOTE_PORT": str(peer[1]) if peer else "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": body,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            LIVE_KEY: self.live,
        }
        for raw_name, raw_value in request.raw_headers:
            name = raw_name.decode("latin-1").upper()
            if "_" in name:  # could pose as another header once dashes become underscores
                continue
            name = name.replace("-", "_")
            value = raw_value.decode("latin-1")
            if name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[name] = value
                continue
            if name in UNTRUSTED:
                continue
            key = "HTTP_" + name
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def _call(self, environ: dict):
        """Run the WSGI app (on a worker thread): status, headers and the body,
        joined when the app gave a list, else the iterator to stream."""
        captured: list = []

        def start_response(status, headers, exc_info=None):
            captured[:] = [status, headers]
            return lambda data: None  # the legacy write() callable; Flask never uses it

        try:
            result = self.app(environ, start_response)
        except Exception:  # Flask maps every error itself; this is the last resort
            log.exception("the app failed on %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"])
            return ("500 Internal Server Error", [("Content-Type", "application/json")],
                    [b'{"error": {"code": "internal_error", "message": "something went wrong on our side"}}'])
        if environ.get(STREAM_KEY) is not None:
            _close(result)
            return captured[0], captured[1], []
        if isinstance(result, (list, tuple)):
            _close(result)
            return captured[0], captured[1], result
        if _length(captured[1]) <= self.buffered_body:
            # A small answer of known size (every JSON answer: Flask gives an
            # iterator, never a list) is joined here, on the worker, so it
            # costs no further hand-off between the loop and the pool.
            try:
                return captured[0], captured[1], [b"".join(result)]
            finally:
                _close(result)
        return captured[0], captured[1], result

    async def _answer(self, request, status: str, headers, chunks) -> web.StreamResponse:
        code, _, reason = status.partition(" ")
        kept = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP] + [SERVER]
        if isinstance(chunks, (list, tuple)):
            return web.Response(status=int(code), reason=reason or None, body=b"".join(chunks),
                                headers=CIMultiDict(kept))
        # A large body (a feed file): pulled from the app's iterator on a worker.
        response = web.StreamResponse(status=int(code), reason=reason or None)
        response.headers.add(*SERVER)
        for k, v in headers:
            if k.lower() not in ("connection", "keep-alive", "transfer-encoding"):
                response.headers.add(k, v)
        try:
            await response.prepare(request)
            iterator = iter(chunks)
            while True:
                chunk = await self.loop.run_in_executor(self.pool, next, iterator, None)
                if chunk is None:
                    break
                await response.write(chunk)
            await response.write_eof()
        finally:
            self.loop.run_in_executor(self.pool, _close, chunks)
        return response


def _abandon(environ: dict) -> None:
    spec = environ.get(STREAM_KEY)
    if spec is not None:
        spec.release()


def _length(headers) -> float:
    """The answer's Content-Length, or infinity when it has none (streamed)."""
    for name, value in headers:
        if name.lower() == "content-length":
            try:
                return int(value)
            except ValueError:
                break
    return float("inf")


def _close(result) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()
