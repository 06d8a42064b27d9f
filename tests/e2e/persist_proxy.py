"""A stub CA offering dns-persist-01 (draft-ietf-acme-dns-persist-01), for
the e2e tests of leec's dns-persist-01 support: an HTTPS reverse proxy in
front of a pebble (which has no dns-persist-01) started with
PEBBLE_VA_ALWAYS_VALID=1, so that the validation that matters is the
proxy's own.  Python 3 standard library (+ the openssl command for its
certificate, as every stub of tests/e2e/).

Every request is forwarded to pebble by ari_proxy.AriProxy (the
conversation stays on the proxy's host:port, so JWS "url"s match; no
renewalInfo is added); on top:

  - GET /dir gets meta.caaIdentities = [issuer].
  - Every authorization pebble returns offers one challenge only, the
    dns-persist-01 made of pebble's dns-01 one (same URL, no token):
    {"type": "dns-persist-01", "url", "status",
     "issuer-domain-names": [issuer]}.  Challenge objects are rewritten
    the same way.
  - A response ({} payload) POSTed to such a challenge is validated by the
    proxy: it asks the DNS server on 127.0.0.1:dns_port (UDP, a query
    built and parsed here) for the TXT records at _validation-persist.NAME
    (NAME the identifier, the base name of a wildcard) and then at its
    parent names, and accepts one whose issuer-domain-name is the issuer,
    whose accounturi is the account URL of the request (the JWS "kid"),
    with policy=wildcard for a wildcard or when found at a parent, and
    whose persistUntil (if any) has not passed.  Accepted: the request
    goes on to pebble (which marks it valid).  Refused: the challenge
    comes back "invalid" with an unauthorized problem, and pebble never
    sees it.

    with PersistProxy(workdir, env.directory_url, env.ca_bundle,
                      env.dns_port, issuer="ca.leec.test") as ca:
        ca.directory_url      # https://127.0.0.1:PORT/dir
        ca.ca_bundle          # its self-signed certificate, --ca-bundle
        ca.validations        # [(name, ok, reason), ...] in order (a
                              # response pebble refused for its nonce is
                              # not counted)

The proxy listens on 127.0.0.1 on a port the kernel picks, from threads of
this process; leaving the `with` stops it.
"""

import base64
import http.client
import json
import os
import socket
import struct
import threading
import time
import urllib.parse

from ari_proxy import AriProxy, ERR

__all__ = ["PersistProxy", "txt_lookup", "parse_value"]


def _b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _qname(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def _skip_name(msg, off):
    """Offset past a (possibly compressed) domain name at off."""
    while True:
        n = msg[off]
        if n & 0xC0 == 0xC0:
            return off + 2
        if n == 0:
            return off + 1
        off += 1 + n


def txt_lookup(port, name, timeout=3.0):
    """The TXT records at name from the DNS server on 127.0.0.1:port, each
    as its character-strings joined (str).  [] for none or NXDOMAIN."""
    qid = int.from_bytes(os.urandom(2), "big")
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + _qname(name) + \
        struct.pack(">HH", 16, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(q, ("127.0.0.1", port))
        deadline = time.time() + timeout
        while True:
            s.settimeout(max(0.1, deadline - time.time()))
            msg, _ = s.recvfrom(65535)
            if len(msg) >= 12 and struct.unpack(">H", msg[:2])[0] == qid:
                break
    _, flags, qd, an, _, _ = struct.unpack(">HHHHHH", msg[:12])
    if flags & 0x000F not in (0, 3):
        raise OSError("DNS rcode %d for %s" % (flags & 0x0F, name))
    off = 12
    for _ in range(qd):
        off = _skip_name(msg, off) + 4
    out = []
    for _ in range(an):
        off = _skip_name(msg, off)
        rtype, _, _, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
        off += 10
        rdata = msg[off:off + rdlen]
        off += rdlen
        if rtype != 16:
            continue
        i, parts = 0, []
        while i < len(rdata):
            n = rdata[i]
            parts.append(rdata[i + 1:i + 1 + n])
            i += 1 + n
        out.append(b"".join(parts).decode("ascii", "replace"))
    return out


def parse_value(v):
    """A record's value as (issuer, {tag (lower case): value}), or None
    when it does not follow RFC 8659's issue-value syntax."""
    head, _, rest = v.partition(";")
    issuer = head.strip().lower().rstrip(".")
    if not issuer or any(c.isspace() for c in issuer):
        return None
    params = {}
    if rest.strip():
        for p in rest.split(";"):
            tag, eq, val = p.partition("=")
            tag, val = tag.strip(), val.strip()
            if not eq or not tag or tag.lower() in params or \
                    any(c.isspace() or c == ";" for c in val):
                return None
            params[tag.lower()] = val
    return issuer, params


class PersistProxy(AriProxy):
    tls_name = "persist-proxy"

    def __init__(self, workdir, upstream_directory_url, upstream_ca_bundle,
                 dns_port, issuer="ca.leec.test"):
        super().__init__(workdir, upstream_directory_url, upstream_ca_bundle)
        self.dns_port = dns_port
        self.issuer = issuer
        self.validations = []
        self.challs = {}    # challenge path -> (name, wildcard)
        self.here = threading.local()   # the request this thread handles

    # ---------------------------------------------------- rewriting
    def _chall(self, c, name, wildcard):
        path = urllib.parse.urlsplit(c["url"]).path
        with self.lock:
            self.challs[path] = (name, wildcard)
        out = {"type": "dns-persist-01", "url": c["url"],
               "status": c.get("status", "pending"),
               "issuer-domain-names": [self.issuer]}
        for k in ("validated", "error"):
            if k in c:
                out[k] = c[k]
        return out

    def _authz(self, d):
        name = d["identifier"]["value"]
        wildcard = bool(d.get("wildcard"))
        d["challenges"] = [self._chall(c, name, wildcard)
                           for c in d.get("challenges", [])
                           if c.get("type") == "dns-01"]
        return d

    # ---------------------------------------------------- validation
    def _check(self, name, wildcard, account):
        """(True, where) or (False, why)."""
        labels = name.split(".")
        first = None
        for lvl in range(0, max(1, len(labels) - 1)):
            base = ".".join(labels[lvl:])
            at = "_validation-persist.%s." % base
            try:
                values = txt_lookup(self.dns_port, at)
            except (OSError, IndexError, struct.error) as e:
                return False, "DNS query for %s failed: %s" % (at, e)
            for v in values:
                p = parse_value(v)
                why = None
                if p is None:
                    why = "malformed record %r" % v
                elif p[0] != self.issuer:
                    why = "record for issuer %s" % p[0]
                elif p[1].get("accounturi") != account:
                    why = "record for another account"
                elif (wildcard or lvl > 0) and \
                        p[1].get("policy", "").lower() != "wildcard":
                    why = "record without policy=wildcard"
                elif "persistuntil" in p[1] and \
                        (not p[1]["persistuntil"].isdigit() or
                         int(p[1]["persistuntil"]) < time.time()):
                    why = "record past its persistUntil"
                if why is None:
                    return True, at
                first = first or "%s: %s" % (at, why)
        return False, first or "no TXT record at _validation-persist.%s." \
            % name

    def _nonce_headers(self):
        try:
            _, nh, _ = self._upstream("HEAD", self.new_nonce_path)
            return [(k, v) for k, v in nh if k.lower() == "replay-nonce"]
        except (OSError, http.client.HTTPException):
            return []

    # ---------------------------------------------------- answers
    serves_ari = False

    def _intercept(self, h, method, bare, body):
        self.here.judged = None
        with self.lock:
            target = self.challs.get(bare)
        return method == "POST" and target is not None and bool(body) \
            and self._validate(h, body, target)

    def _rewrite_answer(self, method, bare, status, data):
        with self.lock:
            target = self.challs.get(bare)
            judged = getattr(self.here, "judged", None)
            self.here.judged = None
            if judged is not None and status == 400 and b"badNonce" in data:
                # pebble refused the nonce (5 %) of a response judged
                # here: the client sends it again, judged again then.
                self.validations.remove(judged)
        if status != 200:
            return data
        if method == "GET" and bare == self.dir_path:
            d = json.loads(data)
            d.setdefault("meta", {})["caaIdentities"] = [self.issuer]
        elif bare.startswith("/authZ/"):
            d = self._authz(json.loads(data))
        elif target is not None:
            d = self._chall(json.loads(data), *target)
        else:
            return data
        return json.dumps(d, indent=2).encode()

    def _validate(self, h, body, target):
        """Judges a challenge response; True when it answered (refused)."""
        try:
            jws = json.loads(body)
            prot = json.loads(_b64d(jws["protected"]))
            payload = jws["payload"]
        except (ValueError, KeyError, TypeError):
            return False        # pebble says what is wrong with it
        if payload == "":
            return False        # POST-as-GET: nothing to validate
        name, wildcard = target
        ok, why = self._check(name, wildcard, prot.get("kid"))
        with self.lock:
            self.validations.append((name, ok, why))
        self.here.judged = (name, ok, why)
        if ok:
            return False
        chall = {"type": "dns-persist-01", "url": prot.get("url"),
                 "status": "invalid",
                 "issuer-domain-names": [self.issuer],
                 "error": {"type": ERR + "unauthorized", "status": 403,
                           "detail": "persist proxy: %s" % why}}
        self._send(h, "POST", 200, json.dumps(chall).encode(),
                   [("Content-Type", "application/json")] +
                   self._nonce_headers())
        return True
