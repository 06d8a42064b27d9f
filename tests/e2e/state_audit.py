"""What a state folder holds after leec was killed and run again: torn files,
orphaned keys, leftover temporaries, accounts.  Python 3 standard library
only.  Used by test_crash.py and bench/crash.py.

    a = audit(state_dir)
    a.problems     # ["archive/x/2: privkey.pem without cert.pem", ...]
    a.leftovers    # temporaries left in the folder (also in problems)
    a.stale_temps  # of which the store's own temporaries, left by a write
                   # killed midway: archive/<name>/.<N>.tmp-XXXXXXXX (a
                   # version being built), live/.<name>.tmp-XXXXXXXX (the
                   # link about to replace live/<name>), .<file>.tmp-XXXXXXXX
                   # (a file being replaced, util/fsutil.c)
    a.problems_besides_stale_temps()   # the problems not inside those
    a.live         # {cert name: version folder live/<name> points at}
    a.accounts     # ["127.0.0.1_PORT", ...] (account folders)
    a.journal      # ["<name>", ...]: orders in progress (journal/<name>.json,
                   # which hold their certificate's key inside their JSON)

Checked, whatever the layout beyond the few fixed names below:
  - torn: every PEM block of every file is whole (its DER framing: a
    file cut short by a crash is caught; whether a certificate verifies
    and matches its key is the caller's check), every *.json parses;
  - live/<name> is a link to ../archive/<name>/<N> holding cert.pem,
    chain.pem, fullchain.pem and privkey.pem;
  - orphaned key: a private key anywhere but archive/<name>/<N>/privkey.pem
    beside its cert.pem, or accounts/<ca>/account.key.pem; a version
    folder with a key and no certificate;
  - leftovers: any name starting with "." or holding ".tmp" (the store's
    temporaries are ".<n>.tmp-XXXXXXXX", ".<name>.tmp-XXXXXXXX" and
    ".trash-<name>-XXXXXXXX", all removed or renamed away when a step
    completes).
"""

import base64
import json
import os
import re

__all__ = ["audit", "Audit"]

VERSION_FILES = ("cert.pem", "chain.pem", "fullchain.pem", "privkey.pem")
STALE_TEMP = re.compile(r"\.[^/]+\.tmp-[0-9a-f]+")     # a path component


def _in_stale_temp(rel):
    return any(STALE_TEMP.fullmatch(c) for c in rel.split("/"))


class Audit:
    def __init__(self):
        self.problems, self.leftovers, self.stale_temps = [], [], []
        self.live, self.accounts, self.journal = {}, [], []

    def problems_besides_stale_temps(self):
        return [p for p in self.problems if not _in_stale_temp(
            p.split(":")[0].split(" ")[0])]

    def __repr__(self):
        return "Audit(live=%d, accounts=%r, problems=%r)" % (
            len(self.live), self.accounts, self.problems)


PEM_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----",
                    re.S)


def _der_whole(der):
    """True if der is exactly one whole DER SEQUENCE (a cut-short or
    padded one is not): what a certificate or a key is."""
    if len(der) < 2 or der[0] != 0x30:
        return False
    n, i = der[1], 2
    if n & 0x80:
        k = n & 0x7f
        if k == 0 or k > 4 or len(der) < 2 + k:
            return False
        n, i = int.from_bytes(der[2:2 + k], "big"), 2 + k
    return i + n == len(der)


def _pem_problem(data):
    """Why PEM text is torn, or None: every block whole (BEGIN, base64 of
    one whole DER structure, END) and nothing cut short after them.
    Framing only, in Python: a torn write is a cut, and this finds every
    cut without running openssl hundreds of times."""
    blocks = PEM_RE.findall(data)
    if not blocks:
        return "no whole PEM block"
    if data.count(b"-----BEGIN") != len(blocks):
        return "a PEM block cut short"
    for label, body in blocks:
        try:
            der = base64.b64decode(b"".join(body.split()), validate=True)
        except ValueError:
            return "a %s block that is not base64" % label.decode()
        if not _der_whole(der):
            return "a %s block not one whole DER structure" % label.decode()
    return None


def audit(d):
    a = Audit()
    rel = lambda p: os.path.relpath(p, d)     # noqa: E731
    keys_ok = set()        # the key files that have their place

    for ca in sorted(os.listdir(os.path.join(d, "accounts"))
                     if os.path.isdir(os.path.join(d, "accounts")) else []):
        folder = os.path.join(d, "accounts", ca)
        if ca.startswith(".") or ".tmp" in ca:
            continue                            # reported as a leftover
        a.accounts.append(ca)
        for f in ("account.key.pem", "account.json"):
            if not os.path.isfile(os.path.join(folder, f)):
                a.problems.append("accounts/%s: no %s" % (ca, f))
        keys_ok.add(os.path.join(folder, "account.key.pem"))

    archive = os.path.join(d, "archive")
    for name in sorted(os.listdir(archive) if os.path.isdir(archive) else []):
        if name.startswith(".") or ".tmp" in name:
            continue
        for v in sorted(os.listdir(os.path.join(archive, name))):
            vd = os.path.join(archive, name, v)
            if not v.isdigit() or not os.path.isdir(vd):
                continue
            have = set(os.listdir(vd))
            missing = [f for f in VERSION_FILES if f not in have]
            if "privkey.pem" in have and "cert.pem" not in have:
                a.problems.append("%s: orphaned key (privkey.pem without "
                                  "cert.pem)" % rel(vd))
            elif missing:
                a.problems.append("%s: missing %s" % (rel(vd),
                                                      ", ".join(missing)))
            if "cert.pem" in have:
                keys_ok.add(os.path.join(vd, "privkey.pem"))

    live = os.path.join(d, "live")
    for name in sorted(os.listdir(live) if os.path.isdir(live) else []):
        p = os.path.join(live, name)
        if name.startswith(".") or ".tmp" in name:
            continue
        if not os.path.islink(p):
            a.problems.append("live/%s is not a link" % name)
            continue
        target = os.readlink(p)
        m = re.fullmatch(r"\.\./archive/%s/(\d+)/?" % re.escape(name), target)
        vd = os.path.join(archive, name, m.group(1)) if m else None
        if vd is None or not os.path.isdir(vd):
            a.problems.append("live/%s -> %s: not a version folder"
                              % (name, target))
            continue
        missing = [f for f in VERSION_FILES
                   if not os.path.isfile(os.path.join(vd, f))]
        if missing:
            a.problems.append("live/%s -> %s: missing %s"
                              % (name, target, ", ".join(missing)))
        a.live[name] = vd

    for top, dirs, files in os.walk(d):
        for x in sorted(dirs + files):
            if x.startswith(".") or ".tmp" in x:
                a.leftovers.append(rel(os.path.join(top, x)))
        for f in files:
            p = os.path.join(top, f)
            if os.path.islink(p):
                continue
            try:
                with open(p, "rb") as fh:
                    data = fh.read(1 << 20)
            except OSError as e:
                a.problems.append("%s: unreadable: %s" % (rel(p), e))
                continue
            if (rel(top) == "journal" and f.endswith(".json")
                    and not f.startswith(".")):
                # An order in progress: its key is meant to be there, as a
                # JSON string; torn would be JSON that does not parse.
                try:
                    json.loads(data)
                    a.journal.append(f[:-len(".json")])
                except ValueError:
                    a.problems.append("%s: torn: not JSON" % rel(p))
                continue
            if f.endswith(".pem") or b"-----BEGIN" in data:
                why = _pem_problem(data)
                if why:
                    a.problems.append("%s: torn: %s" % (rel(p), why))
            elif f.endswith(".json"):
                try:
                    json.loads(data)
                except ValueError:
                    a.problems.append("%s: torn: not JSON" % rel(p))
            if b"PRIVATE KEY-----" in data and p not in keys_ok:
                a.problems.append("%s: orphaned key" % rel(p))
    a.stale_temps = [x for x in a.leftovers
                     if STALE_TEMP.fullmatch(x.split("/")[-1])]
    for x in a.leftovers:
        a.problems.append("%s: leftover temporary" % x)
    return a
