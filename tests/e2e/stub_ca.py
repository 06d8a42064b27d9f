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

StubCA(..., stuck="order" | "authz") answers newOrder (once the 429s are
spent) with an order that never gets anywhere: "order" is ready at once,
its finalize answers "processing" and so does every poll of it (with
Retry-After: poll_retry_after when set); "authz" is pending with one
pending http-01 authorization whose challenge answers "processing" and
which stays pending for ever.  ca.polls records the time of each
POST-as-GET of the order (or the authorization).

It listens on 127.0.0.1 on a port the kernel picks, from a thread of this
process; leaving the `with` stops it.
"""

import base64
import json
import threading
import time

from https_stub import HttpsStub

ERR = "urn:ietf:params:acme:error:"


class StubCA(HttpsStub):
    tls_name = "stub"

    def __init__(self, workdir, retry_after=3, limited=1,
                 limit_path="/new-order", final_status=403, profiles=None,
                 stuck=None, poll_retry_after=None):
        self.workdir = workdir
        self.retry_after = retry_after
        self.limited = limited
        self.limit_path = limit_path
        self.final_status = final_status
        self.profiles = profiles    # dict name -> description: meta.profiles
        self.payloads = []          # (path, decoded JWS payload or None)
        self.requests = []          # (arrival time, method, path)
        self.limited_at = []        # time each 429 went out
        self.stuck = stuck          # None, "order" or "authz"
        self.poll_retry_after = poll_retry_after
        self.polls = []             # time of each poll of the stuck object
        self.ident = None           # the identifier newOrder asked for
        self.lock = threading.Lock()
        self.nonce = 0
        self.server = self.thread = None

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
        if self.stuck and path.startswith(("/new-order", "/order/",
                                           "/authz/", "/chall/")):
            return self._stuck(h, method, path, hdrs)
        if path == "/new-order":
            return self._problem(h, method, self.final_status, "unauthorized",
                                 "stub CA: no certificates here (the end)",
                                 hdrs)
        return self._problem(h, method, 404, "malformed", "no such resource",
                             hdrs)

    def _stuck(self, h, method, path, hdrs):
        """The objects of a stuck order (see the module's doc)."""
        b = self.base
        token = "stuck-token-0123456789abcdefghijklmnopqrstu"
        with self.lock:
            if path == "/new-order" and self.payloads:
                ids = (self.payloads[-1][1] or {}).get("identifiers") or []
                self.ident = ids[0]["value"] if ids else "stub.leec.test"
            ident = self.ident or "stub.leec.test"
        order = {"status": "ready" if self.stuck == "order" else "pending",
                 "identifiers": [{"type": "dns", "value": ident}],
                 "authorizations": [b + "/authz/1"],
                 "finalize": b + "/order/1/finalize"}
        chall = {"type": "http-01", "url": b + "/chall/1", "token": token,
                 "status": "pending"}
        polled = (self.stuck == "order" and path == "/order/1") or \
                 (self.stuck == "authz" and path == "/authz/1")
        if polled:
            with self.lock:
                self.polls.append(time.time())
            if self.poll_retry_after is not None:
                hdrs["Retry-After"] = str(self.poll_retry_after)
        if path == "/new-order":
            hdrs["Location"] = b + "/order/1"
            return self._send(h, method, 201, order, hdrs)
        if path in ("/order/1", "/order/1/finalize"):
            if self.stuck == "order" and path == "/order/1/finalize":
                order["status"] = "processing"
            elif self.stuck == "order" and self.polls:
                order["status"] = "processing"
            return self._send(h, method, 200, order, hdrs)
        if path == "/authz/1":
            return self._send(h, method, 200, {
                "status": "pending", "identifier": {"type": "dns",
                                                    "value": ident},
                "challenges": [chall]}, hdrs)
        if path == "/chall/1":
            chall["status"] = "processing"
            return self._send(h, method, 200, chall, hdrs)
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
