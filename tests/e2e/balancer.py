#!/usr/bin/env python3
"""A small round-robin TCP balancer on 127.0.0.1.  Python 3 standard library.

Each connection accepted on the listening port goes to the next backend of
the list (round robin).  The client's first bytes (an HTTP request) are
sent to it; a backend that refuses the connection, or closes it before its
first byte (a node killed as the connection was made), is passed over and
the request sent to the next one, as a load balancer retrying an empty
response does; a client is turned away only when no backend answers.  A
slow backend is waited for: a node's http-01 responder may look a token up
in the shared store first.
Then bytes are copied both ways until either side closes.  Used by the fleet tests: pebble's
http-01 validator connects to the balancer, which spreads the validations
over the nodes' http-01 responders, so the node that answers a challenge is
usually not the node that ordered the certificate.

    with Balancer([p1, p2, p3], port=0) as b:   # 0: a port the kernel picks
        b.port                  # where it listens
        b.counts                # {backend port: connections forwarded}
        b.refused               # {backend port: connections it refused}
        b.dropped               # {backend port: requests closed unanswered}
        b.turned_away           # connections no backend took
        b.set_backends([p4])    # other backends from now on
        b.delay = 0.3           # each connection waits that long first

    python3 tests/e2e/balancer.py [--listen [127.0.0.1:]PORT] BACKEND_PORT...
        runs until SIGINT/SIGTERM, then prints the counts as JSON.

Everything runs in threads of this process: one accepting, two per
connection (one per direction).  stop() closes the listener and every
connection still open.
"""

import argparse
import json
import signal
import socket
import sys
import threading
import time

__all__ = ["Balancer"]

CONNECT_TIMEOUT = 2.0       # seconds to connect to one backend
REQUEST_TIMEOUT = 5.0       # seconds for a client's first bytes
BUF = 65536


class Balancer:
    def __init__(self, backends, port=0, host="127.0.0.1"):
        if not backends:
            raise ValueError("no backend")
        self.backends = [int(p) for p in backends]
        self.host = host
        self.port = port
        self.lock = threading.Lock()
        self.next = 0
        self.counts = {p: 0 for p in self.backends}
        self.refused = {p: 0 for p in self.backends}
        self.turned_away = 0
        self.dropped = {p: 0 for p in self.backends}
        self.sock = None
        self.thread = None
        self.open = set()           # sockets of live connections
        self.stopping = False
        # Seconds each connection waits before it is forwarded: a test
        # that must catch a node with work in hand slows the validations.
        self.delay = 0.0

    # ----------------------------------------------------------- lifecycle
    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self.port))
        s.listen(128)
        self.sock = s
        self.port = s.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._accept_loop, daemon=True,
                                       name="balancer-%d" % self.port)
        self.thread.start()
        return self

    def stop(self):
        self.stopping = True
        if self.sock is not None:
            try:
                # wakes accept() up
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
        if self.thread is not None:
            self.thread.join(timeout=5)
        with self.lock:
            live = list(self.open)
            self.open.clear()
        for c in live:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        self.sock = self.thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def set_backends(self, backends):
        """Forward new connections to these ports from now on (their
        counters start at 0 unless already there)."""
        with self.lock:
            self.backends = [int(p) for p in backends]
            self.next = 0
            for p in self.backends:
                self.counts.setdefault(p, 0)
                self.refused.setdefault(p, 0)
                self.dropped.setdefault(p, 0)

    def snapshot(self):
        """A copy of the counters: {"counts", "refused", "dropped",
        "turned_away"}."""
        with self.lock:
            return {"counts": dict(self.counts), "refused": dict(self.refused),
                    "dropped": dict(self.dropped),
                    "turned_away": self.turned_away}

    # ----------------------------------------------------------- internals
    def _order(self):
        """The backends to try for one connection: the next one first."""
        with self.lock:
            i = self.next
            self.next = (self.next + 1) % len(self.backends)
        return self.backends[i:] + self.backends[:i]

    def _accept_loop(self):
        while not self.stopping:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,),
                             daemon=True).start()

    def _connect(self, first):
        """A backend that answered first (the client's first bytes) and
        its first bytes, or (None, None).  A backend that refuses the
        connection, or accepts it and closes it without a byte (killed while
        the connection was made), is passed over for the next one, as a load
        balancer retrying an empty response does: the request is sent
        again, nothing has reached the client."""
        for port in self._order():
            try:
                up = socket.create_connection((self.host, port),
                                              timeout=CONNECT_TIMEOUT)
            except OSError:
                with self.lock:
                    self.refused[port] += 1
                continue
            up.settimeout(None)
            with self.lock:
                self.open.add(up)   # stop() ends a wait for a slow one
            try:
                up.sendall(first)
                answer = up.recv(BUF)
            except OSError:
                answer = b""
            with self.lock:
                self.open.discard(up)
            if not answer:
                up.close()
                with self.lock:
                    self.dropped[port] += 1
                continue
            with self.lock:
                self.counts[port] += 1
            return up, answer
        with self.lock:
            self.turned_away += 1
        return None, None

    def _serve(self, client):
        if self.delay > 0:
            time.sleep(self.delay)
        try:
            client.settimeout(REQUEST_TIMEOUT)
            first = client.recv(BUF)
            client.settimeout(None)
        except OSError:
            first = b""
        up, answer = self._connect(first) if first else (None, None)
        if up is None:
            client.close()
            return
        try:
            client.sendall(answer)
        except OSError:
            client.close()
            up.close()
            return
        for s in (client, up):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            if self.stopping:
                client.close()
                up.close()
                return
            self.open.update((client, up))
        back = threading.Thread(target=self._pipe, args=(up, client),
                                daemon=True)
        back.start()
        self._pipe(client, up)
        back.join()
        with self.lock:
            self.open.discard(client)
            self.open.discard(up)
        client.close()
        up.close()

    @staticmethod
    def _pipe(src, dst):
        """Copy src to dst until src ends; then end dst's writing side."""
        try:
            while True:
                data = src.recv(BUF)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="0",
                    help="[127.0.0.1:]PORT to listen on (default: any free)")
    ap.add_argument("backends", nargs="+", type=int, metavar="BACKEND_PORT")
    args = ap.parse_args()
    host, _, port = args.listen.rpartition(":")
    b = Balancer(args.backends, port=int(port), host=host or "127.0.0.1")
    b.start()
    print("balancer: listening on %s:%d -> %s" % (
        b.host, b.port, " ".join(map(str, b.backends))), flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *a: done.set())
    done.wait()
    b.stop()
    print(json.dumps(b.snapshot(), sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
