#!/usr/bin/env python3
"""Where leec's CPU goes: one certificate with a new account, and a batch.

    python3 bench/profile.py --leec build/cli/leec            # tables to stdout
    python3 bench/profile.py --leec build/cli/leec --batch 100 --runs 10

Python 3 standard library, valgrind (callgrind) and, when it works, perf.
Against a local pebble, like bench/run.py (same settings, same command
line: `leec issue ... --ca-bundle PEBBLE-TLS --http-port ... --key-type
ec256 --json`, a fresh --dir each time):

1. wall and CPU (user+sys) of `leec --version` (process start and exit
   only) and of one certificate, medians over --runs cold runs;
2. callgrind (instructions, exact and repeatable) of `leec --version`,
   of one certificate, and of a --batch of N certificates in one process;
   the instructions are split into phases by the functions that do them
   (table PHASES), each counted once (a phase's functions never call
   another phase's);
3. with perf (software clock: no hardware counters needed), the kernel
   time of the batch split by system call.

bench/PROFILE.md holds the figures of a run and how to read them.
"""

import argparse
import collections
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as bench  # noqa: E402  (bench/run.py: spawner, pebble, scratch)

# (label, how): how is a list of terms, each ("incl", fn) for a function's
# inclusive instructions (callgrind_annotate's, which handles recursion),
# ("edge", caller_pattern, callee_pattern) for the instructions of every
# call from one to the other (patterns match "object:file:function"), with
# a sign. Rows marked "main" are inside main(); "rest of leec" is main's
# inclusive count less theirs.
OUTSIDE_MAIN = [
    ("process start: map and relocate the shared libraries (ld.so)",
     [(+1, "incl", "_dl_start")]),
    ("library constructors (gnutls, p11-kit, ... pulled in by libcurl)",
     [(+1, "incl", "_dl_init")]),
    ("process exit (atexit: OpenSSL and curl clean-up, destructors)",
     [(+1, "incl", "exit")]),
]
INSIDE_MAIN = [
    ("curl global init: OpenSSL init, reading openssl.cnf",
     [(+1, "incl", "curl_multi_init")]),
    ("first use of the default provider, DRBG seeding (RAND_status)",
     [(+1, "incl", "RAND_status")]),
    ("TLS context (SSL_CTX_new: ciphers, groups, signature algorithms)",
     [(+1, "incl", "SSL_CTX_new_ex")]),
    ("CA bundle (--ca-bundle file into the X509_STORE)",
     [(+1, "incl", "X509_STORE_load_file_ex"),
      (+1, "incl", "X509_STORE_load_path"),
      (+1, "incl", "X509_STORE_set_default_paths_ex")]),
    ("TLS handshake (key exchange, server certificate check)",
     [(+1, "incl", "SSL_do_handshake")]),
    ("HTTP client: curl, HTTP/2 (nghttp2), TLS records",
     [(+1, "edge", r"libleec\.so.*", r"libcurl\.so.*"),
      (-1, "incl", "curl_multi_init"), (-1, "incl", "RAND_status"),
      (-1, "incl", "SSL_CTX_new_ex"), (-1, "incl", "X509_STORE_load_file_ex"),
      (-1, "incl", "X509_STORE_load_path"),
      (-1, "incl", "X509_STORE_set_default_paths_ex"),
      (-1, "incl", "SSL_do_handshake")]),
    ("key generation (EC P-256: account and certificate keys)",
     [(+1, "incl", "Leec_key_generate")]),
    ("private keys to PKCS#8 PEM",
     [(+1, "incl", "Leec_key_to_pem")]),
    ("JWS signatures (ECDSA P-256)",
     [(+1, "incl", "Leec_key_sign")]),
    ("JWS text (header, base64url, payload check)",
     [(+1, "incl", "Leec_jws_sign"), (-1, "incl", "Leec_key_sign")]),
    ("CSR (build and sign)",
     [(+1, "incl", "Leec_csr_new")]),
    ("issued chain: parse and check the certificate",
     [(+1, "incl", "Leec_chain_accept")]),
    ("JSON: parse the CA's answers",
     [(+1, "incl", "Leec_json_parse_object")]),
    ("state folder: reads and writes (user side; see the kernel table)",
     [(+1, "edge", r"^(?!.*store_fs\.c).*", r".*store_fs\.c:.*")]),
    ("logging",
     [(+1, "incl", "Leec_log")]),
]

LINE_RE = re.compile(r"^\s*([\d,]+) \([ \d.]+%\)\s+(.*?)(?: \[(.*)\])?\s*$")


def annotate_inclusive(path):
    """{function name: inclusive instructions} from callgrind_annotate; a
    function listed under several file names keeps its largest count."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes",
                          "--threshold=100", "--auto=no", path],
                         capture_output=True, text=True, errors="replace",
                         check=True).stdout
    incl = {}
    for line in out.splitlines():
        m = LINE_RE.match(line)
        if not m:
            continue
        name = m.group(2).rsplit(":", 1)[-1].split("'")[0]
        v = int(m.group(1).replace(",", ""))
        if v > incl.get(name, 0):
            incl[name] = v
    return incl


def read_edges(path):
    """(total, {(caller, callee): instructions}) from a callgrind file,
    each side named "object:file:function"."""
    names = {}

    def name(kind, spec, cur):
        m = re.match(r"\((\d+)\)(?: (.*))?$", spec)
        if not m:
            return spec
        key = (kind, m.group(1))
        if m.group(2) is not None:
            names[key] = m.group(2)
        return names.get(key, cur)

    edges = collections.Counter()
    total = 0
    ob = fl = fn = cob = cfl = cfn = None
    pending = False
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("summary:") or line.startswith("totals:"):
                total = int(line.split()[1])
                continue
            key, _, val = line.partition("=")
            if key in ("ob", "fl", "fi", "fe", "fn", "cob", "cfi", "cfl",
                       "cfn") and _:
                kind = {"fi": "fl", "fe": "fl", "cfi": "fl", "cfl": "fl",
                        "cob": "ob", "cfn": "fn"}.get(key, key)
                v = name(kind, val, None)
                if key == "ob":
                    ob = v
                elif key in ("fl", "fi", "fe"):
                    fl = v
                elif key == "fn":
                    fn = v
                    cob, cfl = ob, fl
                elif key == "cob":
                    cob = v
                elif key in ("cfi", "cfl"):
                    cfl = v
                elif key == "cfn":
                    cfn = v
                continue
            if key == "calls" and _:
                pending = True
                continue
            if pending and line[0] in "0123456789+-*":
                parts = line.split()
                if len(parts) >= 2:
                    edges[("%s:%s:%s" % (ob, fl, fn),
                           "%s:%s:%s" % (cob, cfl, cfn))] += int(parts[1])
                pending = False
                cob, cfl = ob, fl
    return total, edges


def edge_sum(edges, caller_pat, callee_pat):
    a, b = re.compile(caller_pat), re.compile(callee_pat)
    return sum(v for (c, d), v in edges.items()
               if a.search(c) and b.search(d) and not a.search(d))


def phases(path):
    """[(label, instructions)] for one callgrind file, and its total."""
    incl = annotate_inclusive(path)
    total, edges = read_edges(path)

    def value(terms):
        v = 0
        for t in terms:
            sign, kind = t[0], t[1]
            if kind == "incl":
                v += sign * incl.get(t[2], 0)
            else:
                v += sign * edge_sum(edges, t[2], t[3])
        if v <= 0 and any(t[1] == "edge" for t in terms):
            # edges that do not add up once the phases inside are taken
            # out (seen for one certificate's HTTP client): unknown
            return None
        return max(v, 0)

    rows = [(label, value(t)) for label, t in OUTSIDE_MAIN]
    inner = [(label, value(t)) for label, t in INSIDE_MAIN]
    main = incl.get("main", 0)
    rows += inner
    rows.append(("rest of leec: state machine, CLI, output, jansson ...",
                 max(main - sum(v or 0 for _, v in inner), 0)))
    rows.append(("other (ld.so lazy binding outside main, libc start)",
                 max(total - main - sum(v or 0 for _, v in rows[:3]), 0)))
    return total, rows


# --------------------------------------------------------------- kernel
def perf_works():
    if not shutil.which("perf"):
        return False
    r = subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-o",
                        os.devnull, "true"], capture_output=True)
    return r.returncode == 0


def kernel_split(perf_data):
    """Shares of the samples of a perf.data: user, and kernel by system
    call (the __x64_sys_* frame of each sample's stack)."""
    out = subprocess.run(["perf", "script", "-i", perf_data, "-F",
                          "ip,sym"], capture_output=True, text=True,
                         errors="replace").stdout
    count = collections.Counter()
    n = 0
    for block in out.split("\n\n"):
        frames = [ln.strip().split(None, 1)[-1] for ln in block.splitlines()
                  if ln.strip()]
        if not frames:
            continue
        n += 1
        what = None
        for fr in frames:
            m = re.search(r"__(?:x64|do)_sys_(\w+)", fr)
            if m:
                what = m.group(1)
                break
        if what is None:
            kernelish = re.search(r"(asm_|irq|page_fault|exc_|_raw_spin|"
                                  r"finish_task_switch|schedule)", frames[0])
            what = "(kernel: faults, interrupts)" if kernelish else "(user)"
        count[what] += 1
    return n, count


# ---------------------------------------------------------------- runs
class Profiler:
    def __init__(self, args, env, scratch):
        self.args = args
        self.env = env
        self.scratch = scratch
        self.seq = 0

    def argv(self, names, batch=False):
        self.seq += 1
        d = os.path.join(self.scratch, "p%d" % self.seq)
        os.makedirs(d)
        e = self.env
        if batch:
            bf = os.path.join(d, "batch.txt")
            with open(bf, "w") as f:
                for nm in names:
                    f.write("%s %s\n" % (nm, nm))
            head = [self.args.leec, "issue", "--batch", bf]
        else:
            head = [self.args.leec, "issue", "-d", names[0]]
        return d, head + ["--server", e.directory_url, "--ca-bundle",
                          e.ca_bundle, "--http-port",
                          "127.0.0.1:%d" % e.http_port, "--agree-tos",
                          "--dir", os.path.join(d, "state"),
                          "--key-type", "ec256", "--json"]

    def names(self, n):
        return ["c%d.p%d.profile.leec.test" % (i, self.seq + 1)
                for i in range(n)]

    def timed(self, argv, d):
        st, wall, u, to, stalled = bench.run_measured(
            argv, os.path.join(d, "out"), os.path.join(d, "err"), 300)
        if st != 0 or to or stalled:
            raise RuntimeError("%s failed (exit %s): %s" % (
                " ".join(argv[:3]), st, open(os.path.join(d, "err")).read()
                [-400:]))
        return wall, u.ru_utime, u.ru_stime

    def timings(self):
        ver, one = [], []
        for _ in range(self.args.runs * 2):
            d = tempfile.mkdtemp(dir=self.scratch)
            ver.append(self.timed([self.args.leec, "--version"], d))
        for _ in range(self.args.runs):
            d, argv = self.argv(self.names(1))
            one.append(self.timed(argv, d))

        def med(rows):
            return tuple(statistics.median(r[i] for r in rows)
                         for i in range(3))
        return med(ver), med(one)

    def callgrind(self, argv, d, label):
        out = os.path.join(d, "callgrind.%s" % label)
        r = subprocess.run(["valgrind", "--tool=callgrind",
                            "--callgrind-out-file=" + out] + argv,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           env=bench.child_env(), timeout=3600)
        if r.returncode != 0:
            raise RuntimeError("callgrind %s: exit %d: %s" % (
                label, r.returncode, r.stderr.decode(errors="replace")
                [-600:]))
        return out

    def perf_batch(self, n):
        d, argv = self.argv(self.names(n), batch=True)
        data = os.path.join(d, "perf.data")
        r = subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F",
                            "4000", "-g", "-o", data, "--"] + argv,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           env=bench.child_env(), timeout=3600)
        if r.returncode != 0:
            return None
        return kernel_split(data)


def fmt_m(v):
    return "%.2f" % (v / 1e6)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--leec", default=os.path.join(bench.REPO, "build", "cli",
                                                   "leec"))
    ap.add_argument("--runs", type=int, default=10,
                    help="timed runs of one certificate (10; twice as many "
                    "of leec --version)")
    ap.add_argument("--batch", type=int, default=100,
                    help="certificates in the profiled batch (100; 0: none)")
    ap.add_argument("--perf-batch", type=int, default=300,
                    help="certificates in the batch run under perf for the "
                    "kernel split (300; 0: none)")
    ap.add_argument("--scratch", default=None,
                    help="parent of the scratch folder (bench/run.py's "
                    "default)")
    args = ap.parse_args()
    args.leec = os.path.abspath(args.leec)
    for tool in ("valgrind", "callgrind_annotate"):
        if not shutil.which(tool):
            print("profile: %s not found (Debian package valgrind)" % tool,
                  file=sys.stderr)
            return 2
    parent = bench.scratch_parent(args.scratch)
    scratch = tempfile.mkdtemp(prefix="leec-profile-", dir=parent)
    env = bench.PebbleEnv(env={"PEBBLE_VA_NOSLEEP": "1",
                               "PEBBLE_WFE_NONCEREJECT": "0"},
                          workdir=os.path.join(scratch, "pebble"))
    try:
        env.start()
        p = Profiler(args, env, scratch)
        for _ in range(3):  # warm pebble up
            d, argv = p.argv(p.names(1))
            p.timed(argv, d)
        (vw, vu, vs), (ow, ou, os_) = p.timings()
        d = tempfile.mkdtemp(dir=scratch)
        cg_ver = p.callgrind([args.leec, "--version"], d, "version")
        d, argv = p.argv(p.names(1))
        cg_one = p.callgrind(argv, d, "one")
        cg_batch = None
        if args.batch:
            d, argv = p.argv(p.names(args.batch), batch=True)
            cg_batch = p.callgrind(argv, d, "batch")
        ksplit = None
        if args.perf_batch and perf_works():
            ksplit = p.perf_batch(args.perf_batch)

        ver_total, _ = read_edges(cg_ver)
        one_total, one_rows = phases(cg_one)
        print("leec: %s" % bench.sh([args.leec, "--version"]))
        print()
        print("| run | wall ms | CPU ms (user+sys) | instructions (M) |")
        print("|---|---:|---:|---:|")
        print("| `leec --version` (start and exit only) | %.1f | %.1f "
              "(%.1f+%.1f) | %s |" % (vw * 1e3, (vu + vs) * 1e3, vu * 1e3,
                                      vs * 1e3, fmt_m(ver_total)))
        print("| one certificate, new account | %.1f | %.1f (%.1f+%.1f) | "
              "%s |" % (ow * 1e3, (ou + os_) * 1e3, ou * 1e3, os_ * 1e3,
                        fmt_m(one_total)))
        print()
        rate = ou / one_total if one_total else 0  # user seconds/instruction
        head = "| phase | one certificate: M instr. | share | ≈ user ms |"
        sep = "|---|---:|---:|---:|"
        batch_rows = None
        if cg_batch:
            b_total, batch_rows = phases(cg_batch)
            head += " batch of %d: M instr. per certificate |" % args.batch
            sep += "---:|"
        print(head)
        print(sep)
        for i, (label, v) in enumerate(one_rows):
            if v is None:
                line = "| %s | n/a | | |" % label
            else:
                line = "| %s | %s | %.1f%% | %.2f |" % (
                    label, fmt_m(v), 100.0 * v / one_total, v * rate * 1e3)
            if batch_rows:
                bv = batch_rows[i][1]
                line += " %s |" % ("n/a" if bv is None
                                   else fmt_m(bv / args.batch))
            print(line)
        line = "| **total** | **%s** | 100%% | %.2f |" % (fmt_m(one_total),
                                                        ou * 1e3)
        if batch_rows:
            line += " **%s** |" % fmt_m(b_total / args.batch)
        print(line)
        if ksplit:
            n, count = ksplit
            print()
            print("CPU of a batch of %d under perf (cpu-clock, %d samples), "
                  "by where it was spent:" % (args.perf_batch, n))
            print()
            print("| where | share |")
            print("|---|---:|")
            for what, c in count.most_common(16):
                label = what if what.startswith("(") else "kernel: %s()" % what
                print("| %s | %.1f%% |" % (label, 100.0 * c / n))
    finally:
        env.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
