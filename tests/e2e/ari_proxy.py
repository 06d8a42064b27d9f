"""An HTTPS reverse proxy that adds ACME Renewal Information (RFC 9773) to a
running pebble, which has none.  Python 3 standard library (+ the openssl
command for its certificate and for ari_cert_id).

Every request is forwarded to pebble unchanged (method, path, body, headers)
with the Host header left as the proxy's own host:port: pebble builds every
URL it returns from the request's Host and checks a JWS's protected "url"
against it, so the whole conversation stays on the proxy.  On top of that:

  - GET /dir gets "renewalInfo": https://127.0.0.1:PORT/renewal-info
  - GET /renewal-info/<certID> answers 200 {"suggestedWindow": {"start",
    "end"}} (RFC 3339, "Z"; + "explanationURL" if set), the same window for
    every certID, or 404 when window is None; with Retry-After when set.
  - refuse_replaces=True: a newOrder whose payload has "replaces" gets
    409 urn:ietf:params:acme:error:alreadyReplaced (with a fresh nonce from
    pebble) instead of being forwarded; newOrders without it go through.
  - rate_limit=N (seconds): every newOrder gets 429 rateLimited with
    Retry-After: N instead of being forwarded.
  - authz_ident="name": every authorization pebble returns names this
    identifier value instead of its own (a CA that lies).

    with AriProxy(workdir, env.directory_url, env.ca_bundle,
                  window=(start, end), retry_after=60) as ari:
        ari.directory_url          # https://127.0.0.1:PORT/dir
        ari.ca_bundle              # its self-signed certificate, --ca-bundle
        ari.set_window(s, e)       # epoch seconds; the attributes window,
        ari.retry_after = 5        # retry_after, explanation_url and
        ari.refuse_replaces = True # refuse_replaces may change at any time
        ari.renewal_info_requests  # [certID, ...] as asked
        ari.new_orders             # [decoded newOrder payload (dict), ...]
        ari.refused                # number of newOrders refused (409, 429)
        ari.rate_limit = 7200      # newOrder: 429 with this Retry-After

new_orders holds the refused ones and those pebble processed; a newOrder
pebble rejected with badNonce (pebble does that to 5 % of good nonces, and
the client resends it) is not recorded, so counts are stable.

ari_cert_id(cert_pem_path) computes a certificate's RFC 9773 section 4.1
certID.  The proxy listens on 127.0.0.1 on a port the kernel picks, from
threads of this process (at most 32 connections at once); leaving the
`with` stops it.
"""

import base64
import http.client
import json
import re
import ssl
import subprocess
import threading
import time
import urllib.parse

from https_stub import HttpsStub

__all__ = ["AriProxy", "ari_cert_id"]

ERR = "urn:ietf:params:acme:error:"
HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
       "te", "trailer", "upgrade", "content-length", "date", "server"}


def _b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def ari_cert_id(cert_pem_path):
    """RFC 9773 section 4.1 certID of a PEM certificate: base64url (no
    padding) of the AKI keyIdentifier, ".", base64url of the serial
    number's DER INTEGER content (minimal two's complement)."""
    out = subprocess.run(
        ["openssl", "x509", "-in", cert_pem_path, "-noout",
         "-ext", "authorityKeyIdentifier", "-serial"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=30, check=True).stdout
    serial = int(re.search(r"(?m)^serial=([0-9A-Fa-f]+)\s*$", out).group(1),
                 16)
    # OpenSSL 3 prints "    AB:CD:...", 1.1 "    keyid:AB:CD:..."
    m = re.search(r"Authority Key Identifier:.*?\n\s*(?:keyid:)?"
                  r"([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})*)\s*$", out, re.M)
    aki = bytes.fromhex(m.group(1).replace(":", ""))
    der = serial.to_bytes(serial.bit_length() // 8 + 1, "big")
    return _b64u(aki) + "." + _b64u(der)


def _rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class AriProxy(HttpsStub):
    tls_name = "ari-proxy"

    def __init__(self, workdir, upstream_directory_url, upstream_ca_bundle,
                 window=None, retry_after=None, explanation_url=None,
                 refuse_replaces=False, rate_limit=None, authz_ident=None):
        self.workdir = workdir
        self.upstream_directory_url = upstream_directory_url
        self.upstream_ca_bundle = upstream_ca_bundle
        self.window = window
        self.retry_after = retry_after
        self.explanation_url = explanation_url
        self.refuse_replaces = refuse_replaces
        self.rate_limit = rate_limit
        self.authz_ident = authz_ident
        self.renewal_info_requests = []
        self.new_orders = []
        self.refused = 0
        self.lock = threading.Lock()
        u = urllib.parse.urlsplit(upstream_directory_url)
        self.up_host, self.up_port = u.hostname, u.port or 443
        self.up_ctx = ssl.create_default_context(cafile=upstream_ca_bundle)
        self.server = self.thread = None

    def set_window(self, start, end):
        self.window = (start, end)

    # ------------------------------------------------------------- setup
    def start(self):
        path = urllib.parse.urlsplit(self.upstream_directory_url).path
        self.dir_path = path or "/"
        d = json.loads(self._upstream("GET", self.dir_path)[2])
        self.new_order_path = urllib.parse.urlsplit(d["newOrder"]).path
        self.new_nonce_path = urllib.parse.urlsplit(d["newNonce"]).path
        return super().start()

    @property
    def directory_url(self):
        return self.base + self.dir_path

    # ---------------------------------------------------------- upstream
    def _upstream(self, method, path, body=None, headers=(), host=None):
        """One request to pebble on a fresh connection: (status, [(name,
        value)], body)."""
        c = http.client.HTTPSConnection(self.up_host, self.up_port,
                                        context=self.up_ctx, timeout=30)
        try:
            r, data = self._forward(c, method, path, body, headers, host)
            return r.status, r.getheaders(), data
        finally:
            c.close()

    @staticmethod
    def _forward(c, method, path, body, headers, host):
        """One request on connection c, as leec sent it: (response, body)."""
        c.putrequest(method, path, skip_host=host is not None,
                     skip_accept_encoding=True)
        if host is not None:
            c.putheader("Host", host)
        for k, v in headers:
            c.putheader(k, v)
        if body is not None or method == "POST":
            c.putheader("Content-Length", str(len(body or b"")))
        c.endheaders(body)
        r = c.getresponse()
        return r, r.read()

    # ---------------------------------------------------------- answers
    def _handle(self, h, method):
        path = h.path
        bare = urllib.parse.urlsplit(path).path
        body = None
        n = int(h.headers.get("Content-Length") or 0)
        if n:
            body = h.rfile.read(n)
        if self._intercept(h, method, bare, body):
            return
        if bare.startswith("/renewal-info/") and method in ("GET", "HEAD"):
            return self._renewal_info(h, method, bare[len("/renewal-info/"):])
        payload = None
        if method == "POST" and bare == self.new_order_path:
            payload = self._payload(body)
            if self.rate_limit is not None:
                return self._refuse(h, payload, 429, "rateLimited",
                                    "ARI proxy: too many new orders",
                                    [("Retry-After", str(self.rate_limit))])
            if self.refuse_replaces and isinstance(payload, dict) \
                    and "replaces" in payload:
                return self._refuse(h, payload, 409, "alreadyReplaced",
                                    "ARI proxy: certificate %s was already "
                                    "replaced" % payload["replaces"])
        host = h.headers.get("Host") or "127.0.0.1:%d" % self.port
        fwd = [(k, v) for k, v in h.headers.items()
               if k.lower() not in HOP and k.lower() != "host"]
        try:
            st, hdrs, data = self._upstream(method, path, body, fwd, host)
        except (OSError, http.client.HTTPException) as e:
            return self._send(h, method, 502, json.dumps({
                "type": ERR + "serverInternal", "status": 502,
                "detail": "ARI proxy: pebble unreachable: %s" % e}).encode(),
                [("Content-Type", "application/problem+json")])
        if payload is not None and not (st == 400 and b"badNonce" in data):
            with self.lock:
                self.new_orders.append(payload)
        if bare == self.dir_path and method == "GET" and st == 200 and \
                self.serves_ari:
            d = json.loads(data)
            d["renewalInfo"] = self.base + "/renewal-info"
            data = json.dumps(d, indent=2).encode()
        if self.authz_ident is not None and st == 200 and \
                bare.startswith("/authZ/"):
            d = json.loads(data)
            d["identifier"]["value"] = self.authz_ident
            data = json.dumps(d, indent=2).encode()
        self._send(h, method, st,
                   self._rewrite_answer(method, bare, st, data), hdrs)

    # A subclass's say (persist_proxy.py): a request answered before it
    # is forwarded (True: answered), and pebble's answer rewritten.
    serves_ari = True

    def _intercept(self, h, method, bare, body):
        return False

    def _rewrite_answer(self, method, bare, status, data):
        return data

    def _renewal_info(self, h, method, cert_id):
        with self.lock:
            self.renewal_info_requests.append(cert_id)
        hdrs = [("Cache-Control", "no-store")]
        if self.retry_after is not None:
            hdrs.append(("Retry-After", str(self.retry_after)))
        w = self.window
        if w is None:
            obj, st = {"type": ERR + "malformed", "status": 404,
                       "detail": "ARI proxy: no renewal information"}, 404
            hdrs.append(("Content-Type", "application/problem+json"))
        else:
            obj, st = {"suggestedWindow": {"start": _rfc3339(w[0]),
                                           "end": _rfc3339(w[1])}}, 200
            if self.explanation_url:
                obj["explanationURL"] = self.explanation_url
            hdrs.append(("Content-Type", "application/json"))
        self._send(h, method, st, json.dumps(obj).encode(), hdrs)

    def _refuse(self, h, payload, status, kind, detail, extra=()):
        with self.lock:
            self.new_orders.append(payload)
            self.refused += 1
        hdrs = [("Content-Type", "application/problem+json"),
                ("Cache-Control", "no-store")] + list(extra)
        try:
            _, nh, _ = self._upstream("HEAD", self.new_nonce_path)
            hdrs += [(k, v) for k, v in nh if k.lower() == "replay-nonce"]
        except (OSError, http.client.HTTPException):
            pass
        self._send(h, "POST", status, json.dumps({
            "type": ERR + kind, "status": status,
            "detail": detail}).encode(), hdrs)

    @staticmethod
    def _payload(raw):
        """The decoded payload of a flattened JWS body, or None."""
        try:
            p64 = json.loads(raw)["payload"]
            return json.loads(base64.urlsafe_b64decode(
                p64 + "=" * (-len(p64) % 4))) if p64 else None
        except (ValueError, KeyError, TypeError):
            return None

    @staticmethod
    def _send(h, method, status, body, hdrs):
        h.send_response(status)
        for k, v in hdrs:
            if k.lower() not in HOP:
                h.send_header(k, v)
        bodiless = status in (204, 304)
        if not bodiless:
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if method != "HEAD" and not bodiless:
            h.wfile.write(body)
        h.wfile.flush()
