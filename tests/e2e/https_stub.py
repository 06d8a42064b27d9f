"""What the suite's HTTPS stubs share (stub_ca.py, ari_proxy.py,
ovh_stub.py): a self-signed certificate for 127.0.0.1 made with the openssl
command, and a threaded HTTPS server on a port the kernel picks, run from a
thread of the test process, at most `max_connections` connections at once.
Python 3 standard library.

A subclass sets `tls_name` (file stem and CN), `methods` (the HTTP methods
it answers) and implements `_handle(handler, method)`; it makes the
certificate with `_cert()` (sets `ca_bundle` and `key`) before `start()`,
which `start()` does itself when they are not set.
"""

import http.server
import os
import ssl
import subprocess
import threading


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    slots = None

    def process_request(self, request, client_address):
        if not self.slots.acquire(timeout=10):     # bounded, then refused
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class HttpsStub:
    tls_name = "stub"
    methods = ("GET", "HEAD", "POST")
    max_connections = 32
    idle_timeout = 30          # seconds an idle keep-alive connection lasts
    workdir = None
    ca_bundle = key = None
    server = thread = None
    port = None

    def _cert(self):
        os.makedirs(self.workdir, exist_ok=True)
        self.ca_bundle = os.path.join(self.workdir, self.tls_name + "-tls.pem")
        self.key = os.path.join(self.workdir, self.tls_name + "-tls.key")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec",
             "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", self.key, "-out", self.ca_bundle, "-days", "2",
             "-subj", "/CN=leec %s" % self.tls_name,
             "-addext", "subjectAltName=IP:127.0.0.1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, timeout=60, check=True)

    def _handle(self, handler, method):
        raise NotImplementedError

    def start(self):
        if self.ca_bundle is None:
            self._cert()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"   # keep-alive, as curl likes
            timeout = outer.idle_timeout

            def log_message(self, *a):
                pass

            def _any(self):
                outer._handle(self, self.command)

        for m in self.methods:
            setattr(Handler, "do_" + m, Handler._any)
        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.slots = threading.BoundedSemaphore(self.max_connections)
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
