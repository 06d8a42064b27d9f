"""e2e tests of --json on every command against the shared pebble: each
output is checked against its JSON Schema in doc/json/ (draft 2020-12) by
a small validator written here with the standard library, which supports
the keywords those schemas use (type, with a list for nullable members;
enum, const, pattern, required, properties, additionalProperties, items,
oneOf, and $ref to a $defs entry of the same file or of a file beside it)
and refuses any other.

* issue, show, list, account show, renew --force, renew --dry-run, revoke
  (and a second revoke, refused with the CA's problem), ca-cert (refused
  without --allow-intermediate: pebble's chain stops short of its root and
  names no issuer URL; then with it), dhparam, reset --yes, and the daemon
  (started, a pass, the next wake, a reload on SIGHUP, stopping on SIGTERM
  sent to its PID), apply (and apply --dry-run) of a file naming one
  certificate: stdout holds only JSON, every document or line valid;
* a fleet node (a throwaway PostgreSQL, skipped without one): a
  certificate queued with issue --queue --json, then the node's events;
* the validator refuses wrong documents (a negative check of it).

Run alone with
    python3 tests/e2e/run.py --leec build/cli/leec test_json
"""

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
import unittest

import run
from run import LeecCase, describe

SCHEMAS = os.path.join(run.REPO, "doc", "json")

# What the validator checks, and what it reads past (annotations).
KEYWORDS = {"type", "enum", "const", "pattern", "required", "properties",
            "additionalProperties", "items", "oneOf", "$ref"}
ANNOTATIONS = {"$schema", "$id", "$defs", "$comment", "title", "description",
               "format"}


def _same(a, b):
    # JSON's true is not 1: Python's == says it is.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _is(x, t):
    return {
        "null": x is None,
        "boolean": isinstance(x, bool),
        "integer": isinstance(x, int) and not isinstance(x, bool),
        "number": isinstance(x, (int, float)) and not isinstance(x, bool),
        "string": isinstance(x, str),
        "array": isinstance(x, list),
        "object": isinstance(x, dict),
    }[t]


class Validator:
    """The subset of JSON Schema 2020-12 that doc/json/ uses."""

    def __init__(self, folder):
        self.folder = folder
        self.docs = {}

    def load(self, name):
        if name not in self.docs:
            with open(os.path.join(self.folder, name)) as f:
                self.docs[name] = json.load(f)
        return self.docs[name]

    def errors(self, name, instance):
        """The list of what is wrong with instance by schema file name."""
        return self._check(self.load(name), name, instance, "$")

    def _resolve(self, ref, base):
        file, _, frag = ref.partition("#")
        file = file or base
        node = self.load(file)
        for part in frag.split("/")[1:]:
            node = node[part]
        return node, file

    def _check(self, s, base, x, path):
        unknown = set(s) - KEYWORDS - ANNOTATIONS
        if unknown:
            raise ValueError("%s: unsupported keywords %s" % (base, unknown))
        errs = []
        if "$ref" in s:
            node, nbase = self._resolve(s["$ref"], base)
            errs += self._check(node, nbase, x, path)
        if "type" in s:
            types = s["type"] if isinstance(s["type"], list) else [s["type"]]
            if not any(_is(x, t) for t in types):
                return errs + ["%s: %r is not of type %s" % (path, x, types)]
        if "enum" in s and not any(_same(x, v) for v in s["enum"]):
            errs.append("%s: %r is not one of %r" % (path, x, s["enum"]))
        if "const" in s and not _same(x, s["const"]):
            errs.append("%s: %r is not %r" % (path, x, s["const"]))
        if "pattern" in s and isinstance(x, str) and \
                not re.search(s["pattern"], x):
            errs.append("%s: %r does not match %s" % (path, x, s["pattern"]))
        if isinstance(x, dict):
            props = s.get("properties", {})
            for k in s.get("required", []):
                if k not in x:
                    errs.append("%s: %s is missing" % (path, k))
            for k, v in x.items():
                if k in props:
                    errs += self._check(props[k], base, v, path + "." + k)
                elif s.get("additionalProperties") is False:
                    errs.append("%s: %s is not allowed" % (path, k))
                elif isinstance(s.get("additionalProperties"), dict):
                    errs += self._check(s["additionalProperties"], base, v,
                                        path + "." + k)
        if isinstance(x, list) and "items" in s:
            for i, v in enumerate(x):
                errs += self._check(s["items"], base, v, "%s[%d]" % (path, i))
        if "oneOf" in s:
            fits = [sub for sub in s["oneOf"]
                    if not self._check(sub, base, x, path)]
            if len(fits) != 1:
                errs.append("%s: fits %d of the oneOf schemas, not 1"
                            % (path, len(fits)))
        return errs


def keywords_of(node, found):
    """Every keyword the schema node uses (property names excluded)."""
    if isinstance(node, dict):
        for k, v in node.items():
            found.add(k)
            if k in ("properties", "$defs"):
                for sub in v.values():
                    keywords_of(sub, found)
            elif k in ("items", "additionalProperties") and \
                    isinstance(v, dict):
                keywords_of(v, found)
            elif k == "oneOf":
                for sub in v:
                    keywords_of(sub, found)
    return found


V = Validator(SCHEMAS)


class ValidatorTest(unittest.TestCase):
    """The validator itself, and the schema files: no pebble needed."""

    def test_schemas_use_only_supported_keywords(self):
        files = sorted(f for f in os.listdir(SCHEMAS)
                       if f.endswith(".schema.json"))
        self.assertGreaterEqual(len(files), 10, files)
        for f in files:
            doc = V.load(f)
            self.assertEqual(doc.get("$schema"),
                             "https://json-schema.org/draft/2020-12/schema", f)
            extra = keywords_of(doc, set()) - KEYWORDS - ANNOTATIONS
            self.assertEqual(extra, set(), f)

    def test_wrong_documents_are_refused(self):
        good = {"event": "certificate", "time": "2026-01-02T03:04:05Z",
                "cert_name": "a.test", "outcome": "issued",
                "names": ["a.test"], "live": None, "seconds": 1.5}
        self.assertEqual(V.errors("renew.schema.json", good), [])
        bad = [
            dict(good, outcome="bogus"),                 # enum
            dict(good, time="2026-01-02 03:04:05"),      # pattern
            dict(good, names="a.test"),                  # type
            dict(good, names=[1]),                       # items
            dict(good, live=False),                      # nullable string
            dict(good, extra=1),                         # additionalProperties
            dict(good, event="nothing"),                 # oneOf: no event fits
            {k: v for k, v in good.items() if k != "cert_name"},  # required
            dict(good, problem={"type": None}),          # $ref'd problem
        ]
        for doc in bad:
            with self.subTest(doc=doc):
                self.assertNotEqual(V.errors("renew.schema.json", doc), [])
        self.assertNotEqual(V.errors("dhparam.schema.json",
                                     {"ok": 1, "path": None, "bits": 2048,
                                      "generated": False, "group": None}), [])
        self.assertNotEqual(V.errors("list.schema.json", {}), [])


class JsonCase(LeecCase):
    """What checks the output of a command."""

    def valid(self, schema, doc):
        errs = V.errors(schema, doc)
        self.assertEqual(errs, [], "%s: %s" % (schema, doc))
        return doc

    def one(self, schema, r, status=0):
        """stdout is one JSON document, valid by schema."""
        self.assertEqual(r.returncode, status, describe(r))
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            self.fail("stdout is not one JSON document\n" + describe(r))
        return self.valid(schema, doc)

    def lines(self, schema, r, status=0):
        """stdout is JSON lines, each valid by schema."""
        self.assertEqual(r.returncode, status, describe(r))
        out = []
        for line in r.stdout.splitlines():
            try:
                out.append(self.valid(schema, json.loads(line)))
            except ValueError:
                self.fail("not a JSON line: %r\n%s" % (line, describe(r)))
        return out


class JsonTest(JsonCase):

    def ca(self):
        return ["--server", run.ENV.directory_url, "--ca-bundle",
                run.ENV.ca_bundle, "--dir", self.dir]

    def test_every_command(self):
        name = "json.leec.test"
        doc = self.one("issue.schema.json",
                       self.issue_ok([name], "--json"))
        self.assertEqual((doc["cert_name"], doc["outcome"]), (name, "issued"))
        self.assertEqual(doc["live"], self.live(name))

        self.one("show.schema.json",
                 self.leec("show", name, "--dir", self.dir, "--json"))
        rows = self.one("list.schema.json",
                        self.leec("list", "--dir", self.dir, "--json"))
        self.assertEqual([r["name"] for r in rows], [name])
        acc = self.one("account.schema.json",
                       self.leec("account", "show", "--json", *self.ca()))
        self.assertTrue(acc["ok"], acc)

        # renew: a pass, each certificate, the counts.
        ev = self.lines("renew.schema.json",
                        self.leec("renew", "--force", "--json",
                                  "--dir", self.dir))
        self.assertEqual([e["event"] for e in ev],
                         ["pass_begun", "certificate", "pass_ended"], ev)
        cert = ev[1]
        self.assertEqual((cert["cert_name"], cert["outcome"], cert["live"]),
                         (name, "issued", self.live(name)), cert)
        self.assertIn("not_after", cert)
        self.assertEqual((ev[2]["issued"], ev[2]["ok"]), (1, True), ev[2])
        ev = self.lines("renew.schema.json",
                        self.leec("renew", "--json", "--dir", self.dir))
        self.assertEqual(ev[1]["outcome"], "fresh", ev)
        ev = self.lines("renew.schema.json",
                        self.leec("renew", "--dry-run", "--json",
                                  "--dir", self.dir))
        self.assertEqual([(e["event"], e["action"]) for e in ev],
                         [("plan", "wait")], ev)
        ev = self.lines("renew.schema.json",
                        self.leec("renew", "nosuch.leec.test", "--json",
                                  "--dir", self.dir), status=1)
        self.assertIn("error", [e["event"] for e in ev], ev)

        # ca-cert: pebble's chain names no issuer URL: refused, then taken.
        doc = self.one("ca-cert.schema.json",
                       self.leec("ca-cert", name, "--dir", self.dir, "--json"),
                       status=1)
        self.assertFalse(doc["ok"], doc)
        doc = self.one("ca-cert.schema.json",
                       self.leec("ca-cert", name, "--dir", self.dir, "--json",
                                 "--allow-intermediate"))
        self.assertTrue(doc["ok"] and doc["warning"], doc)
        self.assertIn("-----BEGIN CERTIFICATE-----", doc["pem"])

        doc = self.one("dhparam.schema.json",
                       self.leec("dhparam", "--dir", self.dir, "--json"))
        self.assertEqual(doc["path"], os.path.join(self.dir, "dh-params.pem"))
        self.assertTrue(os.path.isfile(doc["path"]))

        # revoke, then again: the CA's problem document.
        doc = self.one("revoke.schema.json",
                       self.leec("revoke", name, "--reason", "superseded",
                                 "--json", *self.ca()))
        self.assertEqual((doc["ok"], doc["cert_name"], doc["reason"]),
                         (True, name, "superseded"), doc)
        doc = self.one("revoke.schema.json",
                       self.leec("revoke", name, "--json", *self.ca()),
                       status=1)
        self.assertFalse(doc["ok"], doc)
        self.assertEqual(doc["problem"]["type"],
                         "urn:ietf:params:acme:error:alreadyRevoked", doc)

        # The daemon: events as they happen, on a pipe.
        self.daemon(name)
        self.apply()

        doc = self.one("reset.schema.json",
                       self.leec("reset", name, "--yes", "--json",
                                 "--dir", self.dir))
        self.assertEqual(doc["certificates"],
                         [{"cert_name": name, "ok": True,
                           "order_abandoned": None}], doc)
        self.assertFalse(os.path.exists(self.live(name)))

    def apply(self):
        """leec apply --json (and --dry-run) of a file naming one
        certificate, in a state folder of its own."""
        conf = os.path.join(self.tmp, "leec.conf")
        with open(conf, "w") as f:
            f.write("ca:\n  server: %s\n  ca-bundle: %s\n  agree-tos: true\n"
                    "defaults:\n  dir: %s\n  http-port: 127.0.0.1:%d\n"
                    "certificates:\n  - cert-name: apply\n"
                    "    domains: [apply.json.leec.test]\n"
                    % (run.ENV.directory_url, run.ENV.ca_bundle,
                       os.path.join(self.tmp, "apply"), run.ENV.http_port))
        ev = self.lines("apply.schema.json",
                        self.leec("apply", "--config", conf, "--json",
                                  "--dry-run"))
        self.assertEqual([e["action"] for e in ev], ["would-issue"], ev)
        ev = self.lines("apply.schema.json",
                        self.leec("apply", "--config", conf, "--json"))
        self.assertEqual([e["action"] for e in ev], ["issued", "summary"], ev)

    def daemon(self, name):
        # stderr in a file: a pipe nobody reads could fill and block it.
        errf = open(os.path.join(self.tmp, "daemon.err"), "w+")
        p = subprocess.Popen([run.LEEC, "daemon", "--dir", self.dir, "-v",
                              "--json"], stdout=subprocess.PIPE, stderr=errf,
                             text=True, env=run.child_env())
        ev = Events(self, p, "daemon.schema.json")
        try:
            self.assertEqual(ev.until("started")["pid"], p.pid)
            ev.until("pass_begun")
            # Revoked just before: due at once, so renewed.
            cert = ev.until("certificate")
            self.assertEqual((cert["cert_name"], cert["outcome"]),
                             (name, "issued"), cert)
            ev.until("pass_ended")
            ev.until("next_wake")
            p.send_signal(signal.SIGHUP)
            self.assertEqual(ev.until("reload")["reason"], "sighup")
            ev.until("next_wake")
            ev.stop()
        finally:
            ev.close()
            errf.seek(0)
            err = errf.read()
            errf.close()
        self.assertIn("daemon started", err)


class Events:
    """The JSON lines of a running process's stdout, each checked against
    schema as it is read (a thread reads the pipe)."""

    def __init__(self, case, proc, schema):
        self.case, self.proc, self.schema = case, proc, schema
        self.got = queue.Queue()
        self.seen = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.got.put(line)

    def _take(self, line):
        try:
            doc = json.loads(line)
        except ValueError:
            self.case.fail("not a JSON line: %r" % line)
        self.seen.append(self.case.valid(self.schema, doc))
        return doc

    def until(self, event, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                doc = self._take(self.got.get(timeout=0.2))
            except queue.Empty:
                continue
            if doc["event"] == event:
                return doc
        self.case.fail("no %s event; had %r" % (event, self.seen))

    def stop(self):
        """SIGTERM to its PID: a stopping event, exit status 0, and every
        line after it valid."""
        self.proc.send_signal(signal.SIGTERM)
        self.case.assertEqual(self.until("stopping")["signal"],
                              signal.SIGTERM)
        self.case.assertEqual(self.proc.wait(timeout=20), 0)
        self.rest()

    def rest(self):
        """The lines after the process ended."""
        self.reader.join(timeout=10)
        while not self.got.empty():
            self._take(self.got.get())

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


class FleetJsonTest(JsonCase):
    """A fleet node (leec daemon --store postgresql://...) with --json: a
    certificate queued with issue --queue --json, then the node's events.
    Skipped without PostgreSQL."""

    def test_fleet_node(self):
        import fleet_env
        why = fleet_env.pg_missing()
        if why:
            self.skipTest("fleet: " + why)
        pg = fleet_env.make_pg(os.path.join(self.tmp, "pg"))
        pg.start()
        self.addCleanup(pg.stop)
        key = os.path.join(self.tmp, "store.key")
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
        store = ["--store", pg.conninfo, "--store-key", key]
        ca = ["--server", run.ENV.directory_url, "--ca-bundle",
              run.ENV.ca_bundle]
        name = "fleet-json.leec.test"
        r = self.leec("issue", *store, *ca, "--queue", "--agree-tos",
                      "-d", name, "--json")
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(self.one("issue.schema.json", r)["queued"], [name])
        errf = open(os.path.join(self.tmp, "node.err"), "w+")
        p = subprocess.Popen(
            [run.LEEC, "daemon", *store, *ca, "--node", "n1", "--dir",
             self.dir, "--http-listen", "127.0.0.1:%d" % run.ENV.http_port,
             "--claim-interval", "1", "--json"],
            stdout=subprocess.PIPE, stderr=errf, text=True,
            env=run.child_env())
        ev = Events(self, p, "daemon.schema.json")
        try:
            started = ev.until("started")
            self.assertEqual((started["pid"], started["node"]), (p.pid, "n1"))
            cert = ev.until("certificate")
            self.assertEqual((cert["cert_name"], cert["outcome"]),
                             (name, "issued"), cert)
            ev.stop()
        finally:
            ev.close()
            errf.close()


if __name__ == "__main__":
    unittest.main()
