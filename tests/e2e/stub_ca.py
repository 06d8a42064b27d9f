"""A tiny local ACME stub over HTTPS for the e2e tests of the CA-wide pause.
Python 3 standard library (+ the openssl command for its certificate).

It serves a directory and fresh nonces, creates accounts without checking
anything, and answers newOrder the first `limited` times with
429 Too Many Requests + Retry-After + an RFC 8555 rateLimited problem;
after that with 403 unauthorized, which ends the client's run. It issues
no certificates.  Every request is recorded with its arrival time.

    with StubCA(workdir, retry_after=3) as ca:
        ca.directory_url    # https://127.0.0.1:PORT/dir
        ca.ca_bundle        # its self-signed certificate, for --ca-bundle
        ca.requests         # [(time.time(), method, path), ...]
        ca.limited_at       # [time.time() when each 429 was sent]
        ca.payloads         # [(path, decoded JWS payload or None), ...]

StubCA(..., profiles={"classic": "...", ...}) serves meta.profiles in its
directory (draft-ietf-acme-profiles).

It listens on 127.0.0.1 on a port the kernel picks, from a thread of this
process; leaving the `with` stops it.
"""

import base64
import http.server
import json
import os
import ssl
import subprocess
import threading
import time

ERR = "urn:ietf:params:acme:error:"


class StubCA:
    def __init__(self, workdir, retry_after=3, limited=1,
                 limit_path="/new-order", final_status=403, profiles=None):
        self.workdir = workdir
        self.retry_after = retry_after
        self.limited = limited
        self.limit_path = limit_path
        self.final_status = final_status
        self.profiles = profiles    # dict name -> description: meta.profiles
        self.payloads = []          # (path, decoded JWS payload or None)
        self.requests = []          # (arrival time, method, path)
        self.limited_at = []        # time each 429 went out
        self.lock = threading.Lock()
        self.nonce = 0
        self.server = self.thread = None

    # ------------------------------------------------------------- setup
    def _cert(self):
        os.makedirs(self.workdir, exist_ok=True)
        self.ca_bundle = os.path.join(self.workdir, "stub-tls.pem")
        self.key = os.path.join(self.workdir, "stub-tls.key")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec",
             "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", self.key, "-out", self.ca_bundle, "-days", "2",
             "-subj", "/CN=leec stub CA",
             "-addext", "subjectAltName=IP:127.0.0.1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, timeout=60, check=True)

    def start(self):
        self._cert()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"   # keep-alive, as curl likes

            def log_message(self, *a):
                pass

            def do_GET(self):
                outer._handle(self, "GET")

            def do_HEAD(self):
                outer._handle(self, "HEAD")

            def do_POST(self):
                outer._handle(self, "POST")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.ca_bundle, self.key)
        # handshake in the handler thread, not in the accept loop
        self.server.socket = ctx.wrap_socket(self.server.socket,
                                             server_side=True,
                                             do_handshake_on_connect=False)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=10)
            self.server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def base(self):
        return "https://127.0.0.1:%d" % self.port

    @property
    def directory_url(self):
        return self.base + "/dir"

    def count(self, path, method="POST"):
        with self.lock:
            return sum(1 for _, m, p in self.requests
                       if m == method and p == path)

    # ---------------------------------------------------------- answers
    def _handle(self, h, method):
        now = time.time()
        path = h.path
        with self.lock:
            self.requests.append((now, method, path))
            self.nonce += 1
            nonce = "stubnonce%08d" % self.nonce
        if method == "POST":
            n = int(h.headers.get("Content-Length") or 0)
            if n:
                self._record(path, h.rfile.read(n))
        hdrs = {"Replay-Nonce": nonce, "Cache-Control": "no-store"}
        b = self.base
        if path == "/dir" and method == "GET":
            d = {"newNonce": b + "/nonce", "newAccount": b + "/new-acct",
                 "newOrder": b + "/new-order", "revokeCert": b + "/revoke",
                 "keyChange": b + "/key-change"}
            if self.profiles is not None:
                d["meta"] = {"profiles": self.profiles}
            return self._send(h, method, 200, d, hdrs)
        if path == "/nonce" and method in ("HEAD", "GET"):
            return self._send(h, method, 200 if method == "HEAD" else 204,
                              None, hdrs)
        if method != "POST":
            return self._problem(h, method, 405, "malformed", "POST only",
                                 hdrs)
        if path == self.limit_path:
            with self.lock:
                limit = len(self.limited_at) < self.limited
            if limit:
                hdrs["Retry-After"] = str(self.retry_after)
                self._limited()
                return self._problem(h, method, 429, "rateLimited",
                                     "stub CA: too many new orders recently, "
                                     "retry after %d s" % self.retry_after,
                                     hdrs)
        if path == "/new-acct":
            hdrs["Location"] = b + "/acct/1"
            return self._send(h, method, 201, {
                "status": "valid", "orders": b + "/acct/1/orders"}, hdrs)
        if path == "/new-order":
            return self._problem(h, method, self.final_status, "unauthorized",
                                 "stub CA: no certificates here (the end)",
                                 hdrs)
        return self._problem(h, method, 404, "malformed", "no such resource",
                             hdrs)

    def _record(self, path, raw):
        """Keeps the decoded payload of a JWS body (None: POST-as-GET or not
        JSON)."""
        payload = None
        try:
            p64 = json.loads(raw)["payload"]
            if p64:
                payload = json.loads(base64.urlsafe_b64decode(
                    p64 + "=" * (-len(p64) % 4)))
        except (ValueError, KeyError, TypeError):
            pass
        with self.lock:
            self.payloads.append((path, payload))

    def _limited(self):
        with self.lock:
            self.limited_at.append(time.time())

    def _problem(self, h, method, status, kind, detail, hdrs):
        self._send(h, method, status,
                   {"type": ERR + kind, "detail": detail, "status": status},
                   hdrs, ctype="application/problem+json")

    def _send(self, h, method, status, obj, hdrs, ctype="application/json"):
        body = b"" if obj is None else json.dumps(obj).encode()
        h.send_response(status)
        for k, v in hdrs.items():
            h.send_header(k, v)
        if obj is not None:
            h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if method != "HEAD":
            h.wfile.write(body)
        h.wfile.flush()
