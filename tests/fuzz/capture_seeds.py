#!/usr/bin/env python3
"""Captures the seed corpora of the fuzz targets (tests/fuzz/corpus/T/)
from real exchanges on loopback, with the e2e suite's servers: pebble
behind a recording proxy (the e2e ARI proxy, which also serves
renewalInfo), the OVH API stub, and BIND. Python 3 standard library.

    python3 tests/fuzz/capture_seeds.py --leec build/cli/leec \\
        --fuzz-build build-fuzz

The ACME runs are `leec issue` renewing the test leaf (tests/fuzz/pki,
installed in a fresh state folder, its key reused) for example.com and
www.example.com with --preferred-chain "leec fuzz root", as the
acme_session target replays them: one with renewal information (the
window already open), one forced without it, one whose validation fails;
each followed by the last answer of `leec account show` and of
`leec revoke`. Every response the proxy sends is kept as it went out;
their bodies and headers become the seeds of acme_json, http_headers and
pem_chain, the state folders' files those of store_meta. The OVH answers
come from the stub to the same calls the ovh target makes; the DNS
answers from BIND to the dns_msg target itself, run in its recording mode.
Files this script writes start with pebble-, ovh-, bind- or keygen-; the
hand-made seeds (hand-) and past findings (finding-) are left alone.
"""

import argparse
import glob
import hashlib
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

from ari_proxy import AriProxy  # noqa: E402
from named_env import NamedEnv  # noqa: E402
from ovh_stub import OvhStub, signature  # noqa: E402
from pebble_env import PebbleEnv  # noqa: E402

PKI = os.path.join(HERE, "pki")
NAMES = ["example.com", "www.example.com"]
SEP = b"\n--\n"
# The dns_msg target's key (fuzz_dns_msg.c): the UPDATEs it records are
# signed with it, so BIND must know it.
DNS_KEY_SECRET = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2U="


class Recorder(AriProxy):
    """The ARI proxy, keeping every response as its bytes went out, in the
    order the requests arrived. plain=True hides renewalInfo from the
    directory (pebble has none)."""

    def __init__(self, *a, plain=False, **kw):
        super().__init__(*a, **kw)
        self.plain = plain
        self.seq = 0
        self.out = {}

    def _handle(self, h, method):
        with self.lock:
            n = self.seq
            self.seq += 1
        real = h.wfile
        buf = []

        class Tee:
            def write(self, b):
                buf.append(bytes(b))
                return real.write(b)

            def flush(self):
                return real.flush()

        h.wfile = Tee()
        try:
            super()._handle(h, method)
        finally:
            h.wfile = real
            with self.lock:
                self.out[n] = b"".join(buf)

    def _send(self, h, method, status, body, hdrs):
        if self.plain and method == "GET" and body[:1] == b"{":
            try:
                d = json.loads(body)
            except ValueError:
                d = None
            if isinstance(d, dict) and "renewalInfo" in d:
                del d["renewalInfo"]
                body = json.dumps(d, indent=2).encode()
        AriProxy._send(h, method, status, body, hdrs)

    def take(self):
        """The responses so far, in order, and forget them."""
        with self.lock:
            r = [self.out[k] for k in sorted(self.out)]
            self.out = {}
        return r


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def split_response(raw):
    """(head, body) of one raw HTTP response."""
    i = raw.find(b"\r\n\r\n")
    return (raw, b"") if i < 0 else (raw[:i + 4], raw[i + 4:])


def install_leaf(state):
    """The test leaf as the current version of example.com, as the
    filesystem store lays it out (with the meta.json the acme_session
    target installs too)."""
    v = os.path.join(state, "archive", "example.com", "1")
    os.makedirs(v)
    for d in ("accounts", "live", "locks"):
        os.makedirs(os.path.join(state, d), exist_ok=True)
    leaf = open(os.path.join(PKI, "leaf.pem"), "rb").read()
    inter = open(os.path.join(PKI, "inter.pem"), "rb").read()
    key = open(os.path.join(PKI, "leaf.key.pem"), "rb").read()
    meta = open(os.path.join(PKI, "meta.json"), "rb").read()
    for name, data in (("cert.pem", leaf), ("chain.pem", inter),
                       ("fullchain.pem", leaf + inter),
                       ("privkey.pem", key), ("meta.json", meta)):
        write(os.path.join(v, name), data)
    os.chmod(os.path.join(v, "privkey.pem"), 0o600)
    os.symlink("../archive/example.com/1",
               os.path.join(state, "live", "example.com"))


def leec(args, a, state, proxy, check=True):
    cmd = [a.leec] + args + ["--dir", state]
    if args[0] != "renew":  # renew takes the CA from the certificate's meta
        cmd += ["--server", proxy.directory_url, "--ca-bundle",
                proxy.ca_bundle]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s%s" % (" ".join(cmd), r.stdout, r.stderr))
    return r


def acme_run(a, env, work, tag, ari, http_port, force=False, renew=False):
    """One `leec issue` (+ account show, revoke) through a recorder: the
    session script and the raw responses."""
    state = os.path.join(work, "state-" + tag)
    install_leaf(state)
    now = int(time.time())
    proxy = Recorder(os.path.join(work, "proxy-" + tag), env.directory_url,
                     env.ca_bundle, window=(now - 2 * 86400, now - 3600),
                     retry_after=21600,
                     explanation_url="https://ca.test/ari-explained",
                     plain=not ari).start()
    try:
        issue = ["issue"] + sum((["-d", n] for n in NAMES), []) + [
            "--http-port", "127.0.0.1:%d" % http_port, "--reuse-key",
            "--preferred-chain", "leec fuzz root", "--agree-tos"]
        if force:
            issue.append("--force")
        ok = leec(issue, a, state, proxy, check=False).returncode == 0
        script = proxy.take()
        leec(["account", "show"], a, state, proxy)
        script.append(proxy.take()[-1])
        leec(["revoke", "example.com", "--reason", "superseded"], a, state,
             proxy, check=ok)
        script.append(proxy.take()[-1])
        if renew and ok:
            # The window moves ahead: renew keeps the certificate and
            # writes what it learnt into renewal.json.
            proxy.set_window(now + 30 * 86400, now + 31 * 86400)
            leec(["renew"], a, state, proxy)
            proxy.take()
        return state, script
    finally:
        proxy.stop()


def acme(a, out, work):
    """acme_session, acme_json, http_headers, pem_chain, store_meta."""
    envs = {"PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0",
            "PEBBLE_ALTERNATE_ROOTS": "1"}
    runs = {}
    with PebbleEnv(env=envs) as env:
        runs["ari"] = acme_run(a, env, work, "ari", True, env.http_port,
                               renew=True)
        runs["forced"] = acme_run(a, env, work, "forced", False,
                                  env.http_port, force=True)
        # Nothing answers http-01 where pebble connects: invalid.
        bad = env.http_port + 1 if env.http_port < 65535 else 1024
        runs["invalid"] = acme_run(a, env, work, "invalid", False, bad,
                                   force=True)
        roots = []
        for path in ("/roots/0", "/intermediates/0", "/roots/1"):
            try:
                with urllib.request.urlopen(
                        env.management_url + path,
                        context=env._ssl, timeout=10) as r:
                    roots.append(r.read())
            except OSError:
                pass
    seen_body, seen_head = set(), set()
    for tag, (state, script) in runs.items():
        write(os.path.join(out, "acme_session", "pebble-%s.txt" % tag),
              SEP.join(script))
        for i, raw in enumerate(script):
            head, body = split_response(raw)
            names = tuple(sorted(
                line.split(b":", 1)[0].lower()
                for line in head.split(b"\r\n")[1:] if b":" in line))
            key = (head.split(b" ", 2)[1], names)
            if key not in seen_head:
                seen_head.add(key)
                write(os.path.join(out, "http_headers",
                                   "pebble-%s-%02d.txt" % (tag, i)), head)
            h = hashlib.sha1(body).hexdigest()
            if body.lstrip()[:1] == b"{":
                # One document of each shape: its members and its status
                # or type (the runs repeat them with other URLs).
                try:
                    d = json.loads(body)
                    h = repr((sorted(d), d.get("status"), d.get("type")))
                except (ValueError, AttributeError):
                    pass
            if not body or h in seen_body:
                continue
            seen_body.add(h)
            if body.lstrip()[:1] == b"{":
                write(os.path.join(out, "acme_json",
                                   "pebble-%s-%02d.json" % (tag, i)), body)
            elif b"-----BEGIN CERTIFICATE-----" in body:
                write(os.path.join(out, "pem_chain",
                                   "pebble-%s-%02d.pem" % (tag, i)), body)
        for f in glob.glob(os.path.join(state, "live", "*", "*.json")) + \
                glob.glob(os.path.join(state, "accounts", "*", "*.json")):
            write(os.path.join(out, "store_meta", "pebble-%s-%s" % (
                tag, os.path.basename(f))), open(f, "rb").read())
    for i, pem in enumerate(roots):
        write(os.path.join(out, "pem_chain", "pebble-ca-%d.pem" % i), pem)
        der = subprocess.run(["openssl", "x509", "-outform", "DER"],
                             input=pem, capture_output=True, check=True)
        write(os.path.join(out, "der_cert", "pebble-ca-%d.der" % i),
              der.stdout)


def ovh(out, work):
    """The answers of the OVH stub to the ovh target's calls, in its
    order: one record created and removed, a second removed the blocking
    way; then the same with errors injected."""
    with OvhStub(os.path.join(work, "ovh")) as stub:
        def call(method, path, body=None, signed=True):
            url = stub.url + path
            data = json.dumps(body, separators=(",", ":")) if body else ""
            req = urllib.request.Request(url, method=method,
                                         data=data.encode() if body else None)
            req.add_header("Accept", "application/json")
            if body:
                req.add_header("Content-Type", "application/json")
            if signed:
                ts = str(stub.now())
                req.add_header("X-Ovh-Application", stub.app_key)
                req.add_header("X-Ovh-Consumer", stub.consumer_key)
                req.add_header("X-Ovh-Timestamp", ts)
                req.add_header("X-Ovh-Signature", signature(
                    stub.app_secret, stub.consumer_key, method, url, data,
                    ts))
            ctx = ssl.create_default_context(cafile=stub.ca_file)
            try:
                with urllib.request.urlopen(req, context=ctx,
                                            timeout=10) as r:
                    status, reason, hdrs, b = (r.status, r.reason,
                                               r.getheaders(), r.read())
            except urllib.error.HTTPError as e:
                status, reason, hdrs, b = (e.code, e.reason,
                                           e.headers.items(), e.read())
            head = "HTTP/1.1 %d %s\r\n" % (status, reason) + "".join(
                "%s: %s\r\n" % kv for kv in hdrs) + "\r\n"
            return head.encode() + b

        def record_life(fail=None):
            if fail:
                stub.fail_next(*fail)
            rec = {"fieldType": "TXT", "subDomain": "_acme-challenge.www",
                   "target": "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0",
                   "ttl": 60}
            s = [call("GET", "/auth/time", signed=False)]
            r = call("POST", "/domain/zone/example.com/record", rec)
            s.append(r)
            if r.startswith(b"HTTP/1.1 200 "):  # else nothing to remove
                rid = json.loads(split_response(r)[1]).get("id", 1)
                s.append(call("POST", "/domain/zone/example.com/refresh"))
                s.append(call("DELETE", "/domain/zone/example.com/record/%d"
                              % rid))
                s.append(call("POST", "/domain/zone/example.com/refresh"))
            rec["subDomain"] = "_acme-challenge"
            r = call("POST", "/domain/zone/example.com/record", rec)
            s.append(r)
            rid = json.loads(split_response(r)[1] or b"{}").get("id", 1)
            s.append(call("POST", "/domain/zone/example.com/refresh"))
            s.append(call("DELETE", "/domain/zone/example.com/record/%d"
                          % rid))
            s.append(call("POST", "/domain/zone/example.com/refresh"))
            return SEP.join(s)

        write(os.path.join(out, "ovh", "ovh-life.txt"), record_life())
        write(os.path.join(out, "ovh", "ovh-create-refused.txt"),
              record_life(("POST", "/record", 403,
                           "This call has not been granted")))
        write(os.path.join(out, "ovh", "ovh-refresh-failed.txt"),
              record_life(("POST", "/refresh", 500, "Internal server error")))


def dns(a, out, work):
    """BIND's answers to the dns_msg target itself, recording."""
    exe = os.path.join(a.fuzz_build, "tests", "fuzz", "fuzz_dns_msg")
    empty = os.path.join(work, "empty")
    write(empty, b"")
    zones = {
        "cname": {"example.com": [
            "_acme-challenge.www IN CNAME _acme-challenge.alias"]},
        "plain": {"example.com": ["ns2 IN A 127.0.0.1", "@ IN NS ns2"]},
    }
    for tag, z in zones.items():
        with NamedEnv(zones=z, default_zones=False,
                      key_secret=DNS_KEY_SECRET) as ns:
            # (its own folder: named runs as bind, which cannot enter
            # ours)
            rec = os.path.join(work, "dns-%s.bin" % tag)
            env = dict(os.environ, FUZZ_DNS_RECORD=rec,
                       FUZZ_DNS_SERVER=ns.server,
                       ASAN_OPTIONS="detect_leaks=0")
            subprocess.run([exe, empty], env=env, capture_output=True,
                           timeout=300, check=True)
            write(os.path.join(out, "dns_msg", "bind-%s.bin" % tag),
                  open(rec, "rb").read())


def tsig(out):
    for alg in ("hmac-sha256", "hmac-sha512", "hmac-sha1"):
        r = subprocess.run(["tsig-keygen", "-a", alg, "leec-%s" % alg],
                           capture_output=True, check=True)
        write(os.path.join(out, "tsig_key", "keygen-%s.key" % alg), r.stdout)


def der(out):
    """The test PKI's answers a caIssuers URL may serve."""
    root = os.path.join(PKI, "root.pem")
    inter = os.path.join(PKI, "inter.pem")
    for fmt in ("DER", "PEM"):
        r = subprocess.run(["openssl", "crl2pkcs7", "-nocrl", "-certfile",
                            inter, "-certfile", root, "-outform", fmt],
                           capture_output=True, check=True)
        write(os.path.join(out, "der_cert", "pki-p7-%s.p7" % fmt.lower()),
              r.stdout)
    shutil.copy(os.path.join(PKI, "root.der"),
                os.path.join(out, "der_cert", "pki-root.der"))
    shutil.copy(root, os.path.join(out, "der_cert", "pki-root.pem"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--leec", default="build/cli/leec")
    ap.add_argument("--fuzz-build", default="build-fuzz")
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    ap.add_argument("--only", help="acme, ovh, dns, tsig or der")
    a = ap.parse_args()
    a.leec = os.path.abspath(a.leec)
    work = tempfile.mkdtemp(prefix="leec-seeds-")
    try:
        steps = {"acme": lambda: acme(a, a.out, work),
                 "ovh": lambda: ovh(a.out, work),
                 "dns": lambda: dns(a, a.out, work),
                 "tsig": lambda: tsig(a.out),
                 "der": lambda: der(a.out)}
        prefix = {"acme": "pebble-", "ovh": "ovh-", "dns": "bind-",
                  "tsig": "keygen-", "der": "pki-"}
        for name, step in steps.items():
            if a.only and name != a.only:
                continue
            print("capture_seeds: %s" % name, flush=True)
            # What an earlier capture wrote goes: no stale seed stays.
            for f in glob.glob(os.path.join(a.out, "*", prefix[name] + "*")):
                os.unlink(f)
            step()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
