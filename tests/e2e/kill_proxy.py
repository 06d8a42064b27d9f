"""An HTTPS reverse proxy in front of pebble that kills the ACME client
(SIGKILL to its whole process group) right after a chosen protocol event,
and counts the orders the CA created.  Python 3 standard library.

Every request is forwarded to pebble as ari_proxy.py does it (the Host
header stays the proxy's, so pebble builds every URL it returns, the
directory's included, on the proxy; anything that still names pebble's own
address is rewritten to the proxy's), without ARI.  Kill points, each the
Nth (nth=) such event of the run:

  newaccount     after a newAccount pebble answered 201 (created) is
                 passed back
  neworder       after a newOrder pebble answered 201 is passed back
  challenge      after a challenge answer (POST {} to a challenge URL)
                 is passed back
  finalize-sent  after the finalize request was forwarded and pebble
                 answered, before the answer is passed back (the client
                 never sees it)
  finalize       after the finalize answer is passed back
  certificate    after the certificate download is passed back

An event that pebble refused with badNonce (5 % of good nonces; the client
sends it again) does not count.

    with KillProxy(workdir, env.directory_url, env.ca_bundle) as kp:
        kp.arm("finalize", nth=1)       # before starting the client
        p = subprocess.Popen(..., start_new_session=True)
        kp.target(p.pid)                # a run begins: its process group
        p.wait()                        # -9 once the point is reached
        kp.killed                       # [(point, nth)], the kills made
        kp.orders_created               # newOrders pebble answered 201
        kp.orders_unseen                # of which the answer was not
                                        # passed back before the kill
        kp.orders_unrecorded            # of which the client sent no
                                        # request about before its kill
        kp.accounts_created             # newAccounts answered 201
        kp.events                       # Counter of the events above
        kp.target(None)                 # a run not to be killed begins
        kp.note_kill()                  # the caller killed the run itself
        kp.reset()                      # counters to 0, disarmed

orders_unrecorded is what resumption cannot save: issue 11 has the order
journalled "as soon as newOrder answers, before any other request for that
certificate", so a request for the order, one of its authorizations or its
finalize URL shows the order recorded; an order the client was killed
before asking anything about (its answer maybe never delivered) is lost
with the client.

The kill is one-shot: arm() again for the next run.  The proxy never kills
anything but the process group given to target(), and only while armed.
"""

import collections
import http.client
import json
import os
import signal
import socket
import threading
import urllib.parse

from ari_proxy import AriProxy, HOP
from pebble_env import PATHS

__all__ = ["KillProxy", "POINTS"]

POINTS = ("newaccount", "neworder", "challenge", "finalize-sent", "finalize",
          "certificate")
# the event each kill point counts
EVENT = {"newaccount": "newaccount", "neworder": "neworder",
         "challenge": "challenge",
         "finalize-sent": "finalize", "finalize": "finalize",
         "certificate": "certificate"}
E30 = "e30"     # base64url of "{}": the payload of a challenge answer


class KillProxy(AriProxy):
    tls_name = "kill-proxy"

    def __init__(self, workdir, upstream_directory_url, upstream_ca_bundle):
        super().__init__(workdir, upstream_directory_url, upstream_ca_bundle)
        u = urllib.parse.urlsplit(upstream_directory_url)
        self.up_base = ("%s://%s" % (u.scheme, u.netloc)).encode()
        self.cond = threading.Condition(self.lock)
        self.pool = []                  # idle connections to pebble
        self.reset()

    def reset(self):
        with self.lock:
            self.armed = None           # (point, nth)
            self.pgid = None
            self.killed = []
            self.events = collections.Counter()
            self.orders_created = 0
            self.orders_unseen = 0
            self.orders_unrecorded = 0
            self.pending = {}           # n: (run, an order's URL paths)
            self.seq = 0
            self.accounts_created = 0
            self.run = 0                # the client run requests belong to
            self.dead = set()           # the runs killed

    def arm(self, point, nth=1):
        if point not in POINTS:
            raise ValueError("unknown kill point %r" % point)
        with self.lock:
            self.armed, self.pgid = (point, nth), None

    def target(self, pgid):
        """A client run begins; pgid is its process group (None: a run not
        to be killed)."""
        with self.cond:
            self.pgid = pgid
            self.run += 1
            self.cond.notify_all()

    def note_kill(self):
        """The caller killed the client itself (a kill at a random time):
        newOrder answers from now on count in orders_unseen."""
        with self.lock:
            self._dead(self.run)

    def _dead(self, run):
        """Run was killed (lock held): its orders not yet asked about are
        lost."""
        self.dead.add(run)
        for n, (r, _) in list(self.pending.items()):
            if r == run:
                del self.pending[n]
                self.orders_unrecorded += 1

    def _asked(self, bare):
        """A request for bare: the order it belongs to is recorded (lock
        held)."""
        for n, (_, paths) in list(self.pending.items()):
            if bare in paths:
                del self.pending[n]

    def _new_order(self, run, data, hdrs, sent):
        """Bookkeeping of a newOrder pebble answered 201 (lock held)."""
        if run in self.dead or not sent:
            self.orders_unseen += 1
            self.orders_unrecorded += 1
            return
        path = lambda u: urllib.parse.urlsplit(u).path    # noqa: E731
        paths = {path(v) for k, v in hdrs if k.lower() == "location"}
        try:
            obj = json.loads(data)
            paths |= {path(u) for u in obj.get("authorizations", [])}
            paths.add(path(obj["finalize"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
        self.seq += 1
        self.pending[self.seq] = (run, paths)

    def disarm(self):
        with self.lock:
            self.armed = None

    def start(self):
        super().start()
        self.new_account_path = urllib.parse.urlsplit(
            json.loads(self._upstream("GET", self.dir_path)[2])
            ["newAccount"]).path
        # A client killed mid-request leaves broken connections behind:
        # expected here, not worth a traceback on the test's output.
        self.server.handle_error = lambda request, address: None
        return self

    # ---------------------------------------------------------- events
    def _event(self, method, bare, body):
        """The event a request is, if it succeeds: one of EVENT's values,
        "newaccount" or None."""
        if method != "POST":
            return None
        if bare == self.new_order_path:
            return "neworder"
        if bare == self.new_account_path:
            return "newaccount"
        if bare.startswith(PATHS["finalize"]):
            return "finalize"
        if bare.startswith(PATHS["certificate"]):
            return "certificate"
        if bare.startswith(PATHS["challenge"]):
            try:
                if json.loads(body)["payload"] == E30:
                    return "challenge"
            except (ValueError, KeyError, TypeError):
                pass
        return None

    def _count(self, event, status):
        """Counts a successful event; the armed kill point when it is its
        event, else None."""
        with self.lock:
            if event == "neworder" and status == 201:
                self.orders_created += 1
            if event == "newaccount" and status == 201:
                self.accounts_created += 1
            if status not in (200, 201) or \
                    (event == "newaccount" and status != 201):
                return None
            self.events[event] += 1
            if self.armed is None or EVENT.get(self.armed[0]) != event \
                    or self.events[event] != self.armed[1]:
                return None
            return self.armed[0]

    def _kill(self):
        """SIGKILL the target's process group, once (waits a little for
        target() when the client was quicker than its caller)."""
        with self.cond:
            if self.armed is None:
                return
            self.cond.wait_for(lambda: self.pgid is not None, timeout=5)
            point, self.armed = self.armed, None
            if self.pgid is None:
                return
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except ProcessLookupError:
                return
            self.killed.append(point)
            self._dead(self.run)

    # ---------------------------------------------------------- upstream
    def _upstream(self, method, path, body=None, headers=(), host=None):
        """As AriProxy's, on a kept-alive connection from a pool: a fresh
        TLS handshake per request made the proxy, not leec, the slow part.
        A kept connection pebble closed meanwhile is replaced and the
        request sent again only when nothing came back on it."""
        for attempt in (0, 1):
            with self.lock:
                c = self.pool.pop() if self.pool else None
            reused = c is not None
            if c is None:
                c = http.client.HTTPSConnection(self.up_host, self.up_port,
                                                context=self.up_ctx,
                                                timeout=30)
            try:
                r, data = self._forward(c, method, path, body, headers, host)
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError):
                c.close()
                if reused and attempt == 0:
                    continue
                raise
            except BaseException:
                c.close()
                raise
            if r.will_close:
                c.close()
            else:
                with self.lock:
                    self.pool.append(c)
            return r.status, r.getheaders(), data

    def stop(self):
        super().stop()
        with self.lock:
            for c in self.pool:
                c.close()
            self.pool = []

    # ---------------------------------------------------------- answers
    def _rewrite(self, data):
        return data.replace(self.up_base, self.base.encode())

    def _handle(self, h, method):
        # The answer goes out as headers, then body: without this, Nagle's
        # algorithm holds the body back for the client's delayed ACK.
        h.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        path = h.path
        bare = urllib.parse.urlsplit(path).path
        body = None
        n = int(h.headers.get("Content-Length") or 0)
        if n:
            body = h.rfile.read(n)
        event = self._event(method, bare, body)
        with self.lock:
            run = self.run
            if self.pending:
                self._asked(bare)
        host = h.headers.get("Host") or "127.0.0.1:%d" % self.port
        fwd = [(k, v) for k, v in h.headers.items()
               if k.lower() not in HOP and k.lower() != "host"]
        try:
            st, hdrs, data = self._upstream(method, path, body, fwd, host)
        except (OSError, http.client.HTTPException) as e:
            return self._send(h, method, 502, json.dumps({
                "type": "urn:ietf:params:acme:error:serverInternal",
                "status": 502,
                "detail": "kill proxy: pebble unreachable: %s" % e}).encode(),
                [("Content-Type", "application/problem+json")])
        data = self._rewrite(data)
        hdrs = [(k, self._rewrite(v.encode()).decode()) for k, v in hdrs]
        fire = self._count(event, st) if event else None
        if fire == "finalize-sent":
            self._kill()
            h.close_connection = True
            return                      # the answer never reaches it
        sent = False
        try:
            self._send(h, method, st, data, hdrs)
            sent = True
        finally:
            if event == "neworder" and st == 201:
                with self.lock:
                    self._new_order(run, data, hdrs, sent)
            if fire:
                self._kill()
