"""A stub of the OVH API (the part a dns-01 client uses) over HTTPS, for the
e2e tests of lib/solver/ovh.c. Python 3 standard library (+ the openssl
command for its self-signed certificate for 127.0.0.1).

It checks every authenticated request as OVH does: X-Ovh-Application,
X-Ovh-Consumer, X-Ovh-Timestamp (against its own clock, which may be set
off the local one to exercise the client's /auth/time correction) and

    X-Ovh-Signature = "$1$" + sha1(secret + "+" + consumer_key + "+" +
                                   METHOD + "+" + full URL + "+" + body +
                                   "+" + timestamp)

A bad signature is answered 403 {"message": "Invalid signature"} and
counted. TXT records are kept per zone; POST .../refresh pushes the TXT
values of every name changed since the previous refresh of that zone to
the DNS through the `push` callback given to the constructor:

    push(fqdn, values)   fqdn with its trailing dot, values: every TXT value
                         now at that name (an empty list: none left)

challtestsrv_push(mgmt_url) makes such a callback for pebble-challtestsrv's
management API (/clear-txt then /set-txt for each value).

    with OvhStub(workdir, push=challtestsrv_push("http://127.0.0.1:8055"))\\
            as ovh:
        ovh.url               # https://127.0.0.1:PORT/1.0 (the endpoint)
        ovh.ca_file           # its certificate, for ca_bundle
        ovh.write_credentials(path)   # a 0600 credentials file for leec
        ovh.records           # {id: {"zone", "subDomain", "target", ...}}
        ovh.bad_signatures    # count of 403 Invalid signature
        ovh.requests          # [(method, path, status), ...]
        ovh.fail_next("POST", "/refresh", 500, "boom")  # inject one error
        ovh.delay_next("DELETE", "/record/1000", 10)   # answer late

It listens on 127.0.0.1 only, on a port the kernel picks, from threads of
this process. Run as a script it serves until interrupted and prints its
URL and certificate file (one JSON line).
"""

import hashlib
import json
import os
import re
import sys
import tempfile
import threading
import time
import urllib.request

from https_stub import HttpsStub

DEFAULT_APP_KEY = "stubappkey0123456"
DEFAULT_APP_SECRET = "stubappsecret0123456789abcdef0123"
DEFAULT_CONSUMER_KEY = "stubconsumerkey0123456789abcdef01"

RECORD_RE = re.compile(r"^/domain/zone/([A-Za-z0-9.-]+)/record(?:/(\d+))?$")
REFRESH_RE = re.compile(r"^/domain/zone/([A-Za-z0-9.-]+)/refresh$")


def signature(secret, consumer_key, method, url, body, timestamp):
    """The X-Ovh-Signature OVH expects (the same computation as OVH's own
    client libraries)."""
    s = "+".join([secret, consumer_key, method, url, body, str(timestamp)])
    return "$1$" + hashlib.sha1(s.encode()).hexdigest()


def challtestsrv_push(mgmt_url, timeout=5):
    """A push callback feeding pebble-challtestsrv's management API."""
    base = mgmt_url.rstrip("/")

    def post(path, obj):
        req = urllib.request.Request(base + path,
                                     data=json.dumps(obj).encode(),
                                     method="POST")
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()

    def push(fqdn, values):
        post("/clear-txt", {"host": fqdn})
        for v in values:
            post("/set-txt", {"host": fqdn, "value": v})

    return push


class OvhStub(HttpsStub):
    tls_name = "ovh-stub"
    methods = ("GET", "POST", "PUT", "DELETE")
    idle_timeout = None

    def __init__(self, workdir=None, app_key=DEFAULT_APP_KEY,
                 app_secret=DEFAULT_APP_SECRET,
                 consumer_key=DEFAULT_CONSUMER_KEY, push=None, zones=None,
                 time_offset=0, max_skew=30):
        """zones: the zone names served ("example.com"), None: any.
        time_offset: seconds the stub's clock is ahead of the local one.
        max_skew: how far a request's timestamp may be from the stub's
        clock."""
        self.workdir = workdir
        self.app_key = app_key
        self.app_secret = app_secret
        self.consumer_key = consumer_key
        self.push = push
        self.zones = None if zones is None else {z.lower() for z in zones}
        self.time_offset = time_offset
        self.max_skew = max_skew
        self.lock = threading.Lock()
        self.records = {}            # id -> record dict
        self.next_id = 1000
        self.dirty = {}              # zone -> set of fqdns changed
        self.pushed = []             # (fqdn, [values]) in push order
        self.push_errors = []
        self.requests = []           # (method, path, status)
        self.bad_signatures = 0
        self.bad_timestamps = 0
        self.time_requests = 0
        self.refreshes = 0
        self._fail = []              # [(method, suffix, status, message)]
        self._delay = []             # [(method, suffix, seconds)]
        self.server = self.thread = None
        self._tmp = None

    # ------------------------------------------------------------- setup
    def _cert(self):
        if self.workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="ovh-stub-")
            self.workdir = self._tmp.name
        super()._cert()

    @property
    def ca_file(self):
        return self.ca_bundle

    def stop(self):
        super().stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def url(self):
        """The endpoint for the credentials file."""
        return self.base + "/1.0"

    def write_credentials(self, path, mode=0o600, **override):
        """Writes a credentials file for Leec_ovh_new (mode 0600 unless
        told otherwise); override replaces or adds keys."""
        creds = {"endpoint": self.url, "application_key": self.app_key,
                 "application_secret": self.app_secret,
                 "consumer_key": self.consumer_key,
                 "ca_bundle": self.ca_file}
        creds.update(override)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("# OVH API credentials (test stub)\n")
            for k, v in creds.items():
                if v is not None:
                    f.write("%s = %s\n" % (k, v))
        os.chmod(path, mode)
        return path

    def fail_next(self, method, path_suffix, status, message):
        """The next request of that method whose path ends with path_suffix
        gets this error (after its signature was checked)."""
        with self.lock:
            self._fail.append((method, path_suffix, status, message))

    def delay_next(self, method, path_suffix, seconds):
        """The next request of that method whose path ends with path_suffix
        is answered (normally) only after seconds."""
        with self.lock:
            self._delay.append((method, path_suffix, seconds))

    def txt(self, fqdn):
        """The TXT values the stub holds at fqdn (trailing dot or not)."""
        fqdn = fqdn.rstrip(".").lower()
        with self.lock:
            return [r["target"] for r in self.records.values()
                    if self._fqdn(r).rstrip(".") == fqdn]

    def now(self):
        return int(time.time()) + self.time_offset

    # ---------------------------------------------------------- answers
    @staticmethod
    def _fqdn(r):
        sub = r["subDomain"]
        return (sub + "." if sub else "") + r["zone"] + "."

    def _handle(self, h, method):
        raw_path = h.path
        n = int(h.headers.get("Content-Length") or 0)
        if n > 65536:
            return self._send(h, 413, {"message": "Body too large"},
                              method, raw_path)
        body = h.rfile.read(n).decode("utf-8", "replace") if n else ""
        if not raw_path.startswith("/1.0/"):
            return self._send(h, 404, {"message": "Not found"},
                              method, raw_path)
        path = raw_path[len("/1.0"):].split("?", 1)[0]
        delay = 0
        with self.lock:
            for i, (m, suffix, seconds) in enumerate(self._delay):
                if m == method and path.endswith(suffix):
                    del self._delay[i]
                    delay = seconds
                    break
        if delay:
            time.sleep(delay)

        if path == "/auth/time" and method == "GET":
            with self.lock:
                self.time_requests += 1
            return self._send(h, 200, self.now(), method, raw_path)

        err = self._check_auth(h, method, raw_path, body)
        if err:
            return self._send(h, err[0], {"message": err[1]},
                              method, raw_path)
        with self.lock:
            for i, (m, suffix, status, message) in enumerate(self._fail):
                if m == method and path.endswith(suffix):
                    del self._fail[i]
                    break
            else:
                status = None
        if status is not None:
            return self._send(h, status, {"message": message},
                              method, raw_path)

        m = RECORD_RE.match(path)
        if m and not self._zone_ok(m.group(1)):
            return self._send(h, 404, {"message": "This service does not "
                                       "exist"}, method, raw_path)
        if m and m.group(2) is None and method == "POST":
            return self._create(h, m.group(1).lower(), body, raw_path)
        if m and m.group(2) is None and method == "GET":
            with self.lock:
                ids = [i for i, r in self.records.items()
                       if r["zone"] == m.group(1).lower()]
            return self._send(h, 200, ids, method, raw_path)
        if m and method in ("GET", "DELETE"):
            rid = int(m.group(2))
            with self.lock:
                r = self.records.get(rid)
                if r is None or r["zone"] != m.group(1).lower():
                    r = None
                elif method == "DELETE":
                    del self.records[rid]
                    self.dirty.setdefault(r["zone"], set()).add(
                        self._fqdn(r))
            if r is None:
                return self._send(h, 404, {"message": "The requested object "
                                           "(id = %d) does not exist" % rid},
                                  method, raw_path)
            return self._send(h, 200, None if method == "DELETE" else r,
                              method, raw_path)
        m = REFRESH_RE.match(path)
        if m and method == "POST":
            if not self._zone_ok(m.group(1)):
                return self._send(h, 404, {"message": "This service does "
                                           "not exist"}, method, raw_path)
            self._refresh(m.group(1).lower())
            return self._send(h, 200, None, method, raw_path)
        return self._send(h, 404, {"message": "Got an invalid (or empty) "
                                   "URL"}, method, raw_path)

    def _zone_ok(self, zone):
        return self.zones is None or zone.lower() in self.zones

    def _check_auth(self, h, method, raw_path, body):
        """None when the request is signed right, else (status, message)."""
        app = h.headers.get("X-Ovh-Application")
        ck = h.headers.get("X-Ovh-Consumer")
        ts = h.headers.get("X-Ovh-Timestamp")
        sig = h.headers.get("X-Ovh-Signature")
        if app != self.app_key:
            return (403, "Invalid application key")
        if ck != self.consumer_key:
            return (403, "This credential does not exist")
        if not ts or not ts.isdigit() or sig is None:
            with self.lock:
                self.bad_signatures += 1
            return (400, "Missing or malformed signature headers")
        want = signature(self.app_secret, self.consumer_key, method,
                         self.base + raw_path, body, ts)
        if sig != want:
            with self.lock:
                self.bad_signatures += 1
            return (403, "Invalid signature")
        if abs(int(ts) - self.now()) > self.max_skew:
            with self.lock:
                self.bad_timestamps += 1
            return (400, "Query out of time")
        return None

    def _create(self, h, zone, body, raw_path):
        try:
            obj = json.loads(body)
        except ValueError:
            obj = None
        ok = (isinstance(obj, dict) and obj.get("fieldType") == "TXT" and
              isinstance(obj.get("subDomain", ""), str) and
              isinstance(obj.get("target"), str) and obj["target"] and
              isinstance(obj.get("ttl", 0), int) and
              not isinstance(obj.get("ttl", 0), bool))
        if not ok:
            return self._send(h, 400, {"message": "Invalid record: want "
                                       "fieldType TXT, subDomain, target, "
                                       "ttl"}, "POST", raw_path)
        with self.lock:
            rid = self.next_id
            self.next_id += 1
            r = {"id": rid, "zone": zone, "fieldType": "TXT",
                 "subDomain": obj.get("subDomain", ""),
                 "target": obj["target"], "ttl": obj.get("ttl", 0)}
            self.records[rid] = r
            self.dirty.setdefault(zone, set()).add(self._fqdn(r))
        return self._send(h, 200, r, "POST", raw_path)

    def _refresh(self, zone):
        with self.lock:
            self.refreshes += 1
            names = sorted(self.dirty.pop(zone, set()))
            todo = [(n, [r["target"] for r in self.records.values()
                         if self._fqdn(r) == n]) for n in names]
        for fqdn, values in todo:
            with self.lock:
                self.pushed.append((fqdn, values))
            if self.push is not None:
                try:
                    self.push(fqdn, values)
                except Exception as e:  # noqa: BLE001 - reported to tests
                    with self.lock:
                        self.push_errors.append((fqdn, repr(e)))

    def _send(self, h, status, obj, method, raw_path):
        with self.lock:
            self.requests.append((method, raw_path, status))
        body = json.dumps(obj).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
        h.wfile.flush()


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir")
    ap.add_argument("--challtestsrv", help="management URL to push to")
    ap.add_argument("--credentials", help="write a credentials file here")
    ap.add_argument("--time-offset", type=int, default=0)
    a = ap.parse_args(argv)
    push = challtestsrv_push(a.challtestsrv) if a.challtestsrv else None
    stub = OvhStub(a.workdir, push=push, time_offset=a.time_offset).start()
    if a.credentials:
        stub.write_credentials(a.credentials)
    print(json.dumps({"url": stub.url, "ca_file": stub.ca_file,
                      "credentials": a.credentials}), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        print(json.dumps({"bad_signatures": stub.bad_signatures,
                          "records": stub.records}), file=sys.stderr)
        stub.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
