"""Load for the HTTP benchmarks, each part in a process of its own so it does
not share the server's interpreter: wrk (peak, and paced with a latency
histogram), the servers under test (a real ``posplugin serve`` and the
hand-rolled peer), stream listeners, and slow or stalled sockets.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# wrk's request script. Each request is built here (LuaJIT, in wrk's own
# thread), so the body varies as a store's traffic does. ``KIND``:
#   everyday  9 in 10 customers not on the list, 1 in 10 on it
#   listed    every customer on the list (3 in 4 of the list get a prompt)
#   queue     queue length readings, lanes 1-8
# Request n (from ``offset``) names customer (n * 104729) mod rows: a prime
# coprime with the list size, so no customer repeats within a run and a new
# offset gives new customers. Tokens are used in turn, as tills each have
# their own. With ``rate`` > 0 requests keep a schedule (``rate`` per second
# over all connections: a slow answer delays the next one, not the schedule);
# with ``limit`` > 0 the run stops after that many answers.
WRK_SCRIPT = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } posplugin_timespec;
int clock_gettime(int clk_id, posplugin_timespec *tp);
]]
local ts = ffi.new("posplugin_timespec[1]")
local function now_ms()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts[0].tv_sec) * 1000 + tonumber(ts[0].tv_nsec) / 1e6
end

local kind, rows, offset, rate, limit, path
local tokens = {}
local n, answered, bad = 0, 0, 0
local start, slot = nil, 0

function init(args)
  kind, rows, offset = args[1], tonumber(args[2]), tonumber(args[3])
  rate, limit, path = tonumber(args[4]), tonumber(args[5]), args[6]
  for k = 7, #args do tokens[#tokens + 1] = args[k] end
end

local function customer(i)
  return string.format("customer%d@example.com", (i * 104729) % rows)
end

function request()
  local i = offset + n
  n = n + 1
  local body
  if kind == "queue" then
    body = string.format('{"lane": "%d", "length": %d}', i % 8 + 1, i % 12)
  else
    local value
    if kind == "listed" or i % 10 == 0 then value = customer(i)
    else value = string.format("shopper%d@example.net", i) end
    body = string.format('{"lane": "%d", "identifier": {"type": "email", "value": "%s"}}', i % 8, value)
  end
  local headers = {["Content-Type"] = "application/json",
                   ["Authorization"] = "Bearer " .. tokens[i % #tokens + 1]}
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  answered = answered + 1
  if status ~= 200 then
    bad = bad + 1
    if bad <= 3 then io.stderr:write("status " .. status .. ": " .. body .. "\n") end
  end
  if limit > 0 and answered == limit then
    -- wrk's main thread sleeps the whole duration: the parent ends it (SIGINT).
    io.stderr:write("LIMIT\n")
    io.stderr:flush()
    wrk.thread:stop()
  end
end

DELAY

function done(summary, latency, requests)
  io.write(string.format('JSON {"requests": %d, "seconds": %.6f, "p50_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "errors": %d, "status_errors": %d}\n', summary.requests, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(99), latency.max,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
"""

# Kept to a schedule: wrk asks before each request how long to wait.
PACING = r"""
function delay()
  local t = now_ms()
  if start == nil then start = t end
  slot = slot + 1
  local due = start + slot * 1000 / rate
  if due > t then return math.floor(due - t) end
  return 0
end
"""


def need_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is missing: apt-get install wrk (Debian's package)")
    return path


def wrk(work: Path, url: str, path: str, kind: str, tokens: list[str], *, rows: int, offset: int,
        seconds: float = 6.0, connections: int = 32, rate: float = 0.0, limit: int = 0) -> dict:
    """One wrk run from its own process: requests, seconds, p50/p99 (µs), errors.
    Raises when any answer was not a 200."""
    script = work / ("wrk-paced.lua" if rate else "wrk.lua")
    if not script.exists():
        script.write_text(WRK_SCRIPT.replace("DELAY", PACING if rate else ""), encoding="utf-8")
    duration = 900 if limit else max(1, int(round(seconds)))  # a limited run is ended at its limit
    cmd = [need_wrk(), "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s", str(script),
           url, "--", kind, str(rows), str(offset), str(rate), str(limit), path, *tokens]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    errors = []
    for line in proc.stderr:
        if line.strip() == "LIMIT":
            proc.send_signal(signal.SIGINT)  # wrk prints its summary on SIGINT
        else:
            errors.append(line)
    stdout = proc.stdout.read()
    proc.wait()
    line = next((ln for ln in stdout.splitlines() if ln.startswith("JSON ")), None)
    if proc.returncode or line is None:
        raise SystemExit(f"wrk failed: {''.join(errors) or stdout}")
    result = json.loads(line[5:])
    if result["status_errors"] or result["errors"]:
        raise SystemExit(f"wrk on {path} saw {result['status_errors']} answers other than 200 and "
                         f"{result['errors']} socket errors: {''.join(errors)[:500]}")
    result["rate"] = result["requests"] / result["seconds"]
    return result


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server ended at start with status {proc.returncode} (see its log)")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the server did not listen in time")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(data: Path, key: str, **settings) -> tuple[subprocess.Popen, int]:
    """A real ``posplugin serve`` on ``data``, with the bare endpoint's hook loaded."""
    port = free_port()
    env = {**os.environ, "POSPLUGIN_ID_KEY": key, "POSPLUGIN_HOOKS_DIR": str(HERE / "bare_hook"),
           "PYTHONPATH": str(ROOT), **{f"POSPLUGIN_{k.upper()}": str(v) for k, v in settings.items()}}
    # Logs to a file: a pipe nobody reads would fill and stall the server.
    with open(data / "serve.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "posplugin", "serve", "--data", str(data), "--port",
                                 str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    wait_for_port(port, proc)
    return proc, port


def start_peer(db: Path, key: str, records: bool = False) -> tuple[subprocess.Popen, int]:
    """The hand-rolled peer (peer_identify.py) over the plain table ``db``;
    with ``records``, the peer that also records a prompt before answering."""
    port = free_port()
    with open(db.with_suffix(".records.log" if records else ".log"), "ab") as log:
        proc = subprocess.Popen([sys.executable, str(HERE / "peer_identify.py"), str(db), key, str(port),
                                 *(["--records"] if records else [])], stdout=log, stderr=subprocess.STDOUT)
    wait_for_port(port, proc)
    return proc, port


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rss_mb(pid: int) -> float:
    """A process's resident memory now (MB; Linux)."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


# Many stream clients on one thread (non-blocking sockets and a selector), so
# the load generator costs the 2-core machine little next to the server.
LISTENERS = r"""
import json, selectors, socket, sys, time
host, port, token, count, expect = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
request = (f"GET /api/v1/stream HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
           "Accept: text/event-stream\r\n\r\n").encode()
sel = selectors.DefaultSelector()
buffers, counts = {}, {}
for k in range(count):
    sock = socket.socket()
    sock.bind((f"127.0.1.{k % 250 + 1}", 0))  # a tablet each, each its own address
    sock.connect((host, port))
    sock.sendall(request)
    sock.setblocking(False)
    sel.register(sock, selectors.EVENT_READ)
    buffers[sock], counts[sock] = b"", 0
arrivals = []
opened = 0
while opened < count:  # every stream has answered before the identify load starts
    for key, _ in sel.select(timeout=10):
        chunk = key.fileobj.recv(65536)
        buffers[key.fileobj] += chunk
        if b"retry:" in buffers[key.fileobj] and counts[key.fileobj] == 0:
            counts[key.fileobj] = -1
            opened += 1
print("ready", flush=True)
for sock in counts:
    counts[sock] = 0
# Stay connected until every stream has ``expect`` prompts, or for ``expect``
# being 0, until the parent closes our stdin (the identify run is over).
deadline = time.time() + 300
sel.register(sys.stdin, selectors.EVENT_READ)
done = False
while not done and (expect == 0 or sum(counts.values()) < count * expect) and time.time() < deadline:
    for key, _ in sel.select(timeout=1):
        sock = key.fileobj
        if sock is sys.stdin:
            done = not sys.stdin.readline()
            continue
        chunk = sock.recv(65536)
        now = time.time()
        buffers[sock] += chunk
        *frames, buffers[sock] = buffers[sock].split(b"\n\n")
        for frame in frames:
            if b"event: prompt" in frame:
                data = frame.split(b"data: ", 1)[1].split(b"\r\n")[0]
                arrivals.append((json.loads(data)["id"], now))
                counts[sock] += 1
print(json.dumps(arrivals), flush=True)
"""


# Sockets that never finish a request, as a broken or hostile device on the
# store's network holds them: ``heads`` send part of a request head and then
# trickle a byte every 2 s, ``bodies`` send a whole head promising a body and
# then a few bytes of it. All from one address of their own (``source``, a
# loopback address other than the tills'). A socket the server closes is
# opened again at the next round (every 2 s), as a device retrying would.
# Held until stdin closes; prints how many the server still held at the end.
SLOW = r"""
import selectors, socket, sys, time
host, port, heads, bodies, source = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
HEAD = b"POST /api/v1/identify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Pad: " + b"a" * 4000
BODY = (b"POST /api/v1/identify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2000\r\n\r\n{\"lane\": ")

def opened(first):
    try:
        sock = socket.socket()
        sock.bind((source, 0))
        sock.settimeout(2)
        sock.connect((host, port))
        sock.sendall(first)
        sock.setblocking(False)
        return sock
    except OSError:
        return None

slots = [("head", None)] * heads + [("body", None)] * bodies
sel = selectors.DefaultSelector()
sel.register(sys.stdin, selectors.EVENT_READ)
sent = 0
ready = False
while True:
    for i, (kind, sock) in enumerate(slots):
        if sock is not None:
            try:
                if sock.recv(1024, socket.MSG_PEEK) == b"":  # closed by the server
                    sock.close(); sock = None
            except BlockingIOError:
                pass
            except OSError:
                sock.close(); sock = None
        if sock is None:
            sock = opened(HEAD[:1] if kind == "head" else BODY)
        elif kind == "head":
            try:
                sock.send(HEAD[1 + sent % (len(HEAD) - 1):2 + sent % (len(HEAD) - 1)])
            except OSError:
                sock.close(); sock = None
        slots[i] = (kind, sock)
    sent += 1
    if not ready:
        print("ready", flush=True)
        ready = True
    if sel.select(timeout=2):
        if not sys.stdin.readline():
            break
def alive(sock):
    try:
        return sock.recv(1024, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
time.sleep(0.5)  # let the server refuse the last reconnections
print(sum(1 for _, s in slots if s is not None and alive(s)), flush=True)
"""


class Background:
    """A helper process (stream listeners, slow sockets) held open around a measurement."""

    def __init__(self, code: str, *args):
        self.proc = subprocess.Popen([sys.executable, "-c", code, *map(str, args)], stdout=subprocess.PIPE,
                                     stdin=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            self.proc.kill()
            raise SystemExit(f"helper did not start: {line}")

    def finish(self) -> str:
        self.proc.stdin.close()
        out = self.proc.stdout.readline().strip()
        self.proc.wait(timeout=60)
        return out
