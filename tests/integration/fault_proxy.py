#!/usr/bin/env python3
"""A fault-injecting HTTP/1.1 reverse proxy for registry tests (standard library only).

Listens on 127.0.0.1 (a free port, written to --port-file once listening) and forwards
every request to a plain-http upstream (--upstream HOST:PORT), keeping the client's Host
header so that the registry's Location URLs point back at the proxy. Bodies stream in
64 KiB pieces both ways (Content-Length and chunked requests; Content-Length, chunked and
read-to-close responses), so memory does not grow with blob size. One upstream connection
per client connection, kept alive as long as the client keeps its own.

Faults are drawn per request from a seeded RNG (--seed), at most one per request:
  --status-rate R      answer one of --status-codes (default 500,503) without forwarding
  --rate-429 R         answer 429 with `Retry-After: 1` without forwarding
  --drop-rate R        forward, send the headers and part of the body, then reset (RST)
  --truncate-rate R    forward, declare the full Content-Length, send less, close (FIN)
  --corrupt-blob-rate R  forward a blob GET (GET /v2/NAME/blobs/sha256:...) with one byte
                       of its body flipped; the length stays right, the digest does not
  --fail-first N       answer the first N matching requests with --fail-first-status
--path-regex limits faults (and --fail-first) to requests whose path matches; --methods
limits them to some methods. --throttle BYTES_PER_SECOND paces every request and response
body, per connection (not a fault: it applies to every request), so that a transfer lasts
long enough for a test to interrupt it part way. Drop and truncate apply only to responses with a body;
a request that draws one of them but gets an empty body is forwarded untouched.

--stats FILE is rewritten (atomically) as JSON after every request:
{"requests": N, "forwarded": N, "faults": {"status_503": N, "status_429": N, "drop": N,
 "truncate": N, "corrupt": N, "fail_first": N, ...}, "log": [last 200 faults]}.
"""

import argparse
import http.client
import http.server
import json
import os
import random
import re
import socket
import struct
import sys
import threading
import time

CHUNK = 64 * 1024
# Not forwarded: hop-by-hop headers, and Expect (http.server already answered
# `100 Continue` to the client; http.client would not wait for the upstream's).
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
              "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "expect"}
BLOB_GET = re.compile(r"^/v2/.+/blobs/sha256:[0-9a-f]{64}$")


class Faults:
    """The shared RNG, counters and stats file; every method is thread-safe."""

    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.lock = threading.Lock()
        self.requests = 0
        self.forwarded = 0
        self.counts = {}
        self.log = []
        self.fail_first_left = args.fail_first
        self.path_re = re.compile(args.path_regex) if args.path_regex else None
        self.methods = set(m.upper() for m in args.methods.split(",")) if args.methods else None
        self.write_stats()

    def choose(self, method, path):
        """The fault for one request: None, ("status", code), ("429",), ("drop",), ..."""
        with self.lock:
            self.requests += 1
            if self.path_re and not self.path_re.search(path):
                return None
            if self.methods and method not in self.methods:
                return None
            if self.fail_first_left > 0:
                self.fail_first_left -= 1
                return ("fail_first", self.args.fail_first_status)
            r = self.rng.random()
            a = self.args
            for kind, rate in (("status", a.status_rate), ("429", a.rate_429),
                               ("drop", a.drop_rate), ("truncate", a.truncate_rate),
                               ("corrupt", a.corrupt_blob_rate)):
                if r < rate:
                    if kind == "corrupt" and not (method == "GET" and BLOB_GET.match(path)):
                        return None
                    if kind == "status":
                        return ("status", self.rng.choice(a.status_codes))
                    return (kind,)
                r -= rate
            return None

    def randrange(self, n):
        with self.lock:
            return self.rng.randrange(n)

    def record(self, name, method, path):
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + 1
            self.log.append({"fault": name, "method": method, "path": path})
            del self.log[:-200]
            self.write_stats_locked()
        print(f"fault_proxy: {name} {method} {path}", file=sys.stderr, flush=True)

    def count_forwarded(self):
        with self.lock:
            self.forwarded += 1
            self.write_stats_locked()

    def write_stats(self):
        with self.lock:
            self.write_stats_locked()

    def write_stats_locked(self):
        if not self.args.stats:
            return
        data = {"requests": self.requests, "forwarded": self.forwarded,
                "faults": dict(self.counts), "log": self.log}
        tmp = f"{self.args.stats}.{threading.get_ident()}.tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, self.args.stats)  # readers never see a half-written file


class Pacer:
    """Holds one connection's bodies to --throttle bytes per second (0: no limit)."""

    def __init__(self, rate):
        self.rate = rate
        self.start = None
        self.bytes = 0

    def __call__(self, n):
        if not self.rate:
            return
        if self.start is None:
            self.start = time.monotonic()
        self.bytes += n
        ahead = self.bytes / self.rate - (time.monotonic() - self.start)
        if ahead > 0:
            time.sleep(ahead)


class Abort(Exception):
    """The client connection is gone (or we ended it on purpose)."""


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    faults = None  # set in main
    upstream = None  # (host, port)

    def log_message(self, fmt, *args):  # quiet; faults are logged by Faults.record
        pass

    # BaseHTTPRequestHandler dispatches on do_<METHOD>; every method is proxied alike.
    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.proxy
        raise AttributeError(name)

    def setup(self):
        super().setup()
        self.conn = None
        self.pace = Pacer(self.faults.args.throttle)

    def finish(self):
        if self.conn:
            self.conn.close()
        try:
            super().finish()
        except OSError:
            pass

    # ---- request body ------------------------------------------------------------
    def request_body(self):
        """Yields the client's request body in pieces, de-chunked if it was chunked."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise Abort()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return
                while size > 0:
                    data = self.rfile.read(min(size, CHUNK))
                    if not data:
                        raise Abort()
                    size -= len(data)
                    self.pace(len(data))
                    yield data
                self.rfile.readline(16)  # CRLF after the chunk
        else:
            left = int(self.headers.get("Content-Length", "0") or "0")
            while left > 0:
                data = self.rfile.read(min(left, CHUNK))
                if not data:
                    raise Abort()
                left -= len(data)
                self.pace(len(data))
                yield data

    def drain(self):
        for _ in self.request_body():
            pass

    # ---- responses -----------------------------------------------------------------
    def send_raw(self, data):
        try:
            self.wfile.write(data)
        except OSError:
            raise Abort()

    def answer(self, code, reason, extra=()):
        """A short JSON error answered by the proxy itself (distribution's error shape)."""
        # The error codes distribution itself would send, so clients parse them as usual.
        ecode = {429: "TOOMANYREQUESTS", 503: "UNAVAILABLE"}.get(code, "UNKNOWN")
        body = json.dumps({"errors": [{"code": ecode, "message": "fault_proxy: " + reason,
                                       "detail": None}]}).encode()
        if code == 429 and not any(k.lower() == "retry-after" for k, _ in extra):
            extra = list(extra) + [("Retry-After", "1")]
        head = [f"HTTP/1.1 {code} {http.client.responses.get(code, 'Error')}",
                "Content-Type: application/json", f"Content-Length: {len(body)}",
                "Docker-Distribution-Api-Version: registry/2.0"]
        head += [f"{k}: {v}" for k, v in extra]
        self.send_raw(("\r\n".join(head) + "\r\n\r\n").encode() + body)

    def reset(self):
        """Ends the client connection with RST rather than FIN: a hard drop."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            os.close(self.connection.detach())
        except OSError:
            pass

    def upstream_conn(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(*self.upstream, timeout=120)
        return self.conn

    def proxy(self):
        method, path = self.command, self.path
        fault = self.faults.choose(method, path.split("?")[0])
        try:
            if fault and fault[0] in ("status", "fail_first", "429"):
                # Consume the body so the client reads our answer rather than EPIPE.
                self.drain()
                if fault[0] == "429":
                    self.faults.record("status_429", method, path)
                    self.answer(429, "too many requests", [("Retry-After", "1")])
                else:
                    name = "fail_first" if fault[0] == "fail_first" else f"status_{fault[1]}"
                    self.faults.record(name, method, path)
                    self.answer(fault[1], "injected error")
                return
            self.forward(method, path, fault[0] if fault else None)
        except Abort:
            self.close_connection = True
            if self.conn:
                self.conn.close()
                self.conn = None

    def forward(self, method, path, fault):
        conn = self.upstream_conn()
        chunked_in = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() not in HOP_BY_HOP:
                    conn.putheader(k, v)
            if chunked_in:
                conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for data in self.request_body():
                conn.send(b"%x\r\n%s\r\n" % (len(data), data) if chunked_in else data)
            if chunked_in:
                conn.send(b"0\r\n\r\n")
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            self.conn = None
            self.faults.record("upstream_error", method, path)
            self.answer(502, f"upstream: {e}")
            self.close_connection = True
            return
        self.faults.count_forwarded()

        length = resp.getheader("Content-Length")
        has_body = method != "HEAD" and resp.status not in (204, 304) and resp.status >= 200
        length = int(length) if length is not None and has_body else None
        chunked_out = has_body and length is None and resp.chunked
        to_close = has_body and length is None and not resp.chunked  # read-to-close body

        head = [f"HTTP/1.1 {resp.status} {resp.reason}"]
        head += [f"{k}: {v}" for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
        if chunked_out:
            head.append("Transfer-Encoding: chunked")
        if to_close or self.close_connection or resp.will_close:
            head.append("Connection: close")
            self.close_connection = True
        self.send_raw(("\r\n".join(head) + "\r\n\r\n").encode())

        # Where the fault lands: half-way through the body (at least one byte in).
        cut = None
        if fault in ("drop", "truncate") and has_body and (length is None or length > 0):
            cut = max(1, (length or 2 * CHUNK) // 2)
        corrupt_at = None
        if fault == "corrupt" and has_body and resp.status == 200 and length:
            corrupt_at = self.faults.randrange(length)

        sent = 0
        while has_body:
            data = resp.read1(CHUNK) if hasattr(resp, "read1") else resp.read(CHUNK)
            if not data:
                break
            if corrupt_at is not None and sent <= corrupt_at < sent + len(data):
                i = corrupt_at - sent
                data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]
                self.faults.record("corrupt", self.command, path)
            if cut is not None and sent + len(data) >= cut:
                data = data[:cut - sent]
                if data:
                    self.send_raw(b"%x\r\n%s\r\n" % (len(data), data) if chunked_out else data)
                self.faults.record(fault, self.command, path)
                conn.close()
                self.conn = None
                if fault == "drop":
                    self.reset()
                else:
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                return
            self.pace(len(data))
            self.send_raw(b"%x\r\n%s\r\n" % (len(data), data) if chunked_out else data)
            sent += len(data)
        if chunked_out:
            self.send_raw(b"0\r\n\r\n")
        # http.client leaves an empty body (HEAD, Content-Length: 0) unread, and
        # an unread response blocks the next request on this upstream connection.
        if not resp.isclosed():
            resp.read()
        if resp.will_close:
            conn.close()
            self.conn = None


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--upstream", required=True, help="HOST:PORT of the plain-http registry")
    p.add_argument("--port-file", required=True)
    p.add_argument("--stats")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--status-rate", type=float, default=0.0)
    p.add_argument("--status-codes", default="500,503",
                   type=lambda s: [int(c) for c in s.split(",")])
    p.add_argument("--rate-429", type=float, default=0.0)
    p.add_argument("--drop-rate", type=float, default=0.0)
    p.add_argument("--truncate-rate", type=float, default=0.0)
    p.add_argument("--corrupt-blob-rate", type=float, default=0.0)
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--fail-first-status", type=int, default=503)
    p.add_argument("--path-regex")
    p.add_argument("--methods", help="comma-separated, e.g. GET,HEAD")
    p.add_argument("--throttle", type=int, default=0,
                   help="bytes per second for bodies, per connection (0: no limit)")
    args = p.parse_args()

    host, _, port = args.upstream.rpartition(":")
    Handler.upstream = (host, int(port))
    Handler.faults = Faults(args)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
