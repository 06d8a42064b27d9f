"""An HTTPS reverse proxy in front of pebble that counts, per certificate
(the set of identifiers ordered), the orders created and the finalize
requests.  Python 3 standard library.

It is kill_proxy.py's KillProxy never armed: every request is forwarded as
ari_proxy.py's AriProxy._forward sends it, on KillProxy's pool of kept-alive
connections to pebble, with the Host header left as the proxy's (so every
URL pebble returns names the proxy).  On top of that it watches:

  newOrder   a POST to the directory's newOrder URL: the identifiers come
             from the JWS payload (base64url JSON); when pebble answers 201
             the order's URL (Location header) and its finalize URL (in the
             order object) are mapped to that certificate;
  finalize   a POST to a finalize URL mapped above that pebble answered 200
             (or 403 orderNotReady etc.: counted apart as "finalize_refused").

A request pebble refused with badNonce (5 % of good nonces; the client sends
it again) counts as neither: only what pebble acted on counts.

    with RecordProxy(workdir, env.directory_url, env.ca_bundle) as rp:
        rp.directory_url, rp.ca_bundle      # for leec --server/--ca-bundle
        rp.counts()        # {"a.test": {"orders": 1, "finalizes": 1,
                           #   "finalize_refused": 0}, "a.test,b.test": ...}
                           # (key: the identifier values sorted, joined
                           # by ",")
        rp.rec_orders      # newOrders answered 201 in all
        rp.rec_finalizes   # finalizes answered 200 in all
        rp.timeline        # [(monotonic time, "order"|"finalize", key,
                           #   order URL path)], in order
        rp.order_finalizes # {order URL path: finalizes answered 200}
        rp.reset()         # counters to 0 (the maps of URLs are kept)

    GET https://127.0.0.1:PORT/_counts   the same as JSON: {"certs":
        counts(), "orders_created", "finalizes", "requests"}

Listens on 127.0.0.1 on a port the kernel picks, up to max_connections
(256) connections at once (several daemons, each with orders in flight).
"""

import json
import ssl
import threading
import time
import urllib.parse

from kill_proxy import KillProxy
from pebble_env import PATHS

__all__ = ["RecordProxy", "cert_key"]

COUNTS_PATH = "/_counts"


def cert_key(names):
    """The key of a certificate in counts(): its names, lower case, sorted,
    joined by ","."""
    return ",".join(sorted({n.lower() for n in names}))


class RecordProxy(KillProxy):
    tls_name = "record-proxy"
    max_connections = 256

    def __init__(self, workdir, upstream_directory_url, upstream_ca_bundle):
        self.rec_lock = threading.Lock()
        self.inflight = {}          # request: monotonic time sent
        self.order_key = {}         # order URL path: cert key
        self.finalize_order = {}    # finalize URL path: order URL path
        self._reset_counts()
        super().__init__(workdir, upstream_directory_url, upstream_ca_bundle)

    def _reset_counts(self):
        self.certs = {}
        self.rec_orders = 0
        self.rec_finalizes = 0
        self.rec_requests = 0
        self.timeline = []
        self.order_finalizes = {}

    def repoint(self, upstream_directory_url, upstream_ca_bundle):
        """Forward to another pebble from now on (a restarted one): the
        proxy's own URL, which the clients know, stays."""
        u = urllib.parse.urlsplit(upstream_directory_url)
        with self.lock:
            self.up_host, self.up_port = u.hostname, u.port or 443
            self.up_ctx = ssl.create_default_context(cafile=upstream_ca_bundle)
            self.up_base = ("%s://%s" % (u.scheme, u.netloc)).encode()
            pool, self.pool = self.pool, []
        for c in pool:
            c.close()

    def reset(self):
        super().reset()
        with self.rec_lock:
            self._reset_counts()

    def counts(self):
        with self.rec_lock:
            return {k: dict(v) for k, v in self.certs.items()}

    def snapshot(self):
        with self.rec_lock:
            return {"certs": {k: dict(v) for k, v in self.certs.items()},
                    "orders_created": self.rec_orders,
                    "finalizes": self.rec_finalizes,
                    "requests": self.rec_requests}

    def _cert_counts(self, key):
        """The counters of one certificate (rec_lock held)."""
        c = self.certs.get(key)
        if c is None:
            c = self.certs[key] = {"orders": 0, "finalizes": 0,
                                   "finalize_refused": 0}
        return c

    # ---------------------------------------------------------- watching
    def oldest_inflight(self):
        """Seconds the oldest request still waiting for pebble's answer
        has waited (0 when none): a pebble that stopped answering (2.4's
        MemoryStore deadlock) shows here, a fleet with nothing to do
        does not."""
        with self.rec_lock:
            ts = list(self.inflight.values())
        return time.monotonic() - min(ts) if ts else 0.0

    def _upstream(self, method, path, body=None, headers=(), host=None):
        key = object()
        with self.rec_lock:
            self.inflight[key] = time.monotonic()
        try:
            st, hdrs, data = super()._upstream(method, path, body, headers,
                                               host)
        finally:
            with self.rec_lock:
                self.inflight.pop(key, None)
        if host is not None:            # a client's request, not our own
            try:
                self._record(method, urllib.parse.urlsplit(path).path, body,
                             st, hdrs, data)
            except Exception:           # never break the conversation
                pass
        return st, hdrs, data

    def _record(self, method, bare, body, st, hdrs, data):
        with self.rec_lock:
            self.rec_requests += 1
        if method != "POST" or (st == 400 and b"badNonce" in data):
            return
        bare_of = lambda u: urllib.parse.urlsplit(u).path   # noqa: E731
        if bare == self.new_order_path and st == 201:
            payload = self._payload(body) or {}
            key = cert_key(i["value"] for i in payload["identifiers"])
            obj = json.loads(data)
            order = next(bare_of(v) for k, v in hdrs
                         if k.lower() == "location")
            with self.rec_lock:
                self.order_key[order] = key
                self.finalize_order[bare_of(obj["finalize"])] = order
                self._cert_counts(key)["orders"] += 1
                self.rec_orders += 1
                self.timeline.append((time.monotonic(), "order", key, order))
        elif bare.startswith(PATHS["finalize"]):
            with self.rec_lock:
                order = self.finalize_order.get(bare)
                key = self.order_key.get(order, "?unknown-order")
                if st == 200:
                    self._cert_counts(key)["finalizes"] += 1
                    self.rec_finalizes += 1
                    self.order_finalizes[order] = \
                        self.order_finalizes.get(order, 0) + 1
                    self.timeline.append((time.monotonic(), "finalize", key,
                                        order))
                else:
                    self._cert_counts(key)["finalize_refused"] += 1

    def _handle(self, h, method):
        if method == "GET" and h.path == COUNTS_PATH:
            body = json.dumps(self.snapshot(), sort_keys=True).encode()
            return self._send(h, method, 200, body,
                              [("Content-Type", "application/json"),
                               ("Cache-Control", "no-store")])
        return super()._handle(h, method)
