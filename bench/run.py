#!/usr/bin/env python3
"""leec benchmark against a local pebble.  Python 3 standard library only;
nothing leaves 127.0.0.1.

    python3 bench/run.py --leec build/cli/leec            # full run (make bench)
    python3 bench/run.py --leec build/cli/leec --quick    # smoke: N=1,20,100, R=1
    python3 bench/run.py --leec build/cli/leec --big      # and N=10000 (BIG=1)

One pebble + pebble-challtestsrv (tests/e2e/pebble_env.py) serves the run,
with PEBBLE_VA_NOSLEEP=1 and PEBBLE_WFE_NONCEREJECT=0 so request counts
repeat, warmed up with a few throwaway certificates (it is restarted before
runs of N >= 1000 and when it deadlocks; see METHOD).  Then, for each batch
size N, a cold leec process with a fresh --dir (so a new account) issues N
one-name ec256 certificates, R times; the table shows medians.  Measured:
wall time and resource usage of exactly the leec process (os.wait4 in a
minimal spawner: user+sys CPU, peak RSS), HTTP requests (pebble's log, one
line per request; checked against the CLI's "requests"), TCP connections to
pebble (the CLI's "connections" if it prints it, else connect() calls in a
separate strace pass), and pebble's own CPU (/proc/PID/stat).  The Markdown table goes to
stdout and, with the machine description and method, to bench/RESULTS.md.
Exit status: 0 if every certificate was issued, 1 otherwise, 2 on set-up
errors.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from pebble_env import PebbleEnv, PebbleError  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
HANDLER = "-> calling handler()"     # pebble logs one such line per request
BIG = 10000                          # the --big row

# The targets, for comparison.
TARGETS = [
    # (row key, label, metric, limit, unit)
    ("1", "1 certificate, new account", "wall", 0.1, "s"),
    ("1", "1 certificate, new account", "cpu", 0.020, "s"),
    ("1", "1 certificate, new account", "conns", 1, "TLS handshake(s)"),
    ("20", "20 certificates", "wall", 1.0, "s"),
    ("20", "20 certificates", "cpu", 0.2, "s"),
    ("1000", "1000 certificates", "issued", None, ""),
    ("1000", "1000 certificates", "cpu_per_cert", 0.003, "s/cert"),
    ("1000", "1000 certificates", "rss", 64.0, "MiB"),
    ("10000", "10000 certificates (--big)", "issued", None, ""),
    ("10000", "10000 certificates (--big)", "cpu_per_cert", 0.003, "s/cert"),
    ("10000", "10000 certificates (--big)", "rss", 64.0, "MiB"),
]


# ------------------------------------------------------------- plumbing
def child_env():
    env = dict(os.environ)
    for k in list(env):
        if k.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            del env[k]
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def sh(argv, timeout=30):
    """Output of a small command, or '' if it fails."""
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, errors="replace", timeout=timeout)
        return r.stdout.strip() if r.returncode == 0 else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


def proc_cpu(pid):
    """utime+stime of a process in seconds (from /proc/PID/stat), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # fields[0] is field 3 (state); utime, stime are fields 14, 15
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def usage_of(stdout_path):
    """The usage file run_measured's spawner writes for a run."""
    return stdout_path + ".usage"


def leec_cpu(usage):
    """CPU time so far of the leec a spawner runs (its pid is in
    usage + ".pid"), in whole half-seconds, or None. A leec busy on its own
    (checking thousands of certificates already issued, when a run is
    resumed) is not stalled; one idling while pebble is deadlocked uses
    a tick now and then, which this does not count."""
    try:
        with open(usage + ".pid") as f:
            cpu = proc_cpu(int(f.read()))
    except (OSError, ValueError):
        return None
    return None if cpu is None else int(cpu * 2)


def log_size(env):
    try:
        return os.path.getsize(env.pebble_log)
    except OSError:
        return 0


def requests_since(env, offset):
    """Requests pebble logged since byte offset (same rule as
    PebbleEnv.count_requests: lines with '-> calling handler()')."""
    with open(env.pebble_log, "rb") as f:
        f.seek(offset)
        data = f.read()
    return data.count(HANDLER.encode())


def parse_json_values(text):
    """All JSON values in text: one pretty-printed object (single issue) or
    JSON Lines (batch)."""
    dec = json.JSONDecoder()
    out, i, n = [], 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            return out
        try:
            v, i = dec.raw_decode(text, i)
        except ValueError:
            # skip a line we cannot parse
            j = text.find("\n", i)
            if j < 0:
                return out
            i = j + 1
            continue
        out.append(v)


# The child whose resources are measured must not be forked from this
# Python: Linux carries the pre-exec memory's high-water mark into the new
# program's ru_maxrss, so a child forked from a 25 MiB Python reports at least
# 25 MiB.  A minimal interpreter (python3 -I -S, about 5 MiB) forks leec and
# reports os.wait4's figures for exactly that process.
SPAWNER = r"""
import os, sys, time
out, argv = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
with open(out + ".pid", "w") as f:
    f.write("%d\n" % pid)
while True:
    try:
        _, st, ru = os.wait4(pid, 0)
        break
    except InterruptedError:
        pass
wall = time.monotonic() - t0
with open(out, "w") as f:
    f.write("%d %.9f %.6f %.6f %d\n" % (os.waitstatus_to_exitcode(st), wall,
                                      ru.ru_utime, ru.ru_stime, ru.ru_maxrss))
"""


class Usage:
    """What the spawner reports about one leec process."""

    def __init__(self, line):
        f = line.split()
        self.status = int(f[0])
        self.wall = float(f[1])
        self.ru_utime = float(f[2])
        self.ru_stime = float(f[3])
        self.ru_maxrss = int(f[4])          # KiB on Linux


def run_measured(argv, stdout_path, stderr_path, timeout, progress=None,
                 stall=0):
    """Run argv under the spawner; return (exit status, wall seconds,
    Usage, timed_out, stalled).  The whole process group is killed after
    timeout seconds, or when progress() (e.g. the size of pebble's log and
    leec's CPU time) has not changed for stall seconds (0: never)."""
    res = usage_of(stdout_path)
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        p = subprocess.Popen([sys.executable, "-I", "-S", "-c", SPAWNER, res]
                             + argv, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=err, env=child_env(),
                             start_new_session=True)
    timed_out = stalled = False
    t0 = time.monotonic()
    last, last_t = None, t0
    while True:
        try:
            p.wait(timeout=0.25)
            break
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if progress is not None and stall:
            v = progress()
            if v != last:
                last, last_t = v, now
            elif now - last_t > stall:
                stalled = True
        if now - t0 > timeout:
            timed_out = True
        if timed_out or stalled:
            # leec alone first: the spawner then still reports its usage
            # (a resumed run counts the CPU of every segment).
            try:
                with open(res + ".pid") as f:
                    os.kill(int(f.read()), signal.SIGKILL)
                p.wait(timeout=10)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
            try:
                os.killpg(p.pid, signal.SIGKILL)   # its own group (new session)
            except ProcessLookupError:
                pass
            p.wait(timeout=30)
            break
    try:
        with open(res) as f:
            u = Usage(f.read())
    except (OSError, ValueError, IndexError):
        u = Usage("%d %f 0 0 0" % (p.returncode or -1, time.monotonic() - t0))
        timed_out = timed_out or (p.returncode != 0 and not stalled)
    return u.status, u.wall, u, timed_out, stalled


# ------------------------------------------------------------ the bench
class Bench:
    def __init__(self, args, env, scratch):
        self.args = args
        self.env = env
        self.scratch = scratch
        self.leec = args.leec
        self.seq = 0
        self.strace = shutil.which("strace") if not args.no_strace else None
        self.notes = []
        self.restarts = 0
        self.has_batch = False

    def common(self, d):
        e = self.env
        return ["--server", e.directory_url, "--ca-bundle", e.ca_bundle,
                "--http-port", "127.0.0.1:%d" % e.http_port, "--agree-tos",
                "--dir", d]

    def warm(self, has_batch):
        """Throwaway certificates: pebble's Go runtime, caches, first account."""
        for i in range(self.args.warmup):
            r = self.one(1, "single", [], 60)
            if r["issued"] != 1:
                raise PebbleError("warm-up certificate failed (exit %s): %s"
                                  % (r["exit"], r.get("stderr_tail", "")))
        if has_batch and self.args.warmup:
            r = self.one(min(5, self.args.warmup * 2), "batch", [], 60)
            if r["failed"]:
                self.notes.append("warm-up batch: %d of %d failed"
                                  % (r["failed"], r["n"]))

    def pebble_dump(self):
        """Ask the stalled pebble for its goroutine dump (SIGQUIT: Go prints
        every goroutine's stack and exits) and say what it shows."""
        proc = self.env.pebble
        if proc is None or proc.poll() is not None:
            return "pebble had exited"
        off = log_size(self.env)
        try:
            os.kill(proc.pid, signal.SIGQUIT)
            proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return "no goroutine dump"
        with open(self.env.pebble_log, "rb") as f:
            f.seek(off)
            dump = f.read().decode(errors="replace")
        blocks = dump.split("\n\n")
        stuck = [b for b in blocks if b.startswith("goroutine ")
                 and "[semacquire" in b.split("\n", 1)[0]
                 and "MemoryStore" in b]
        if stuck:
            return ("its goroutine dump shows %d request handlers waiting on "
                    "its MemoryStore locks, none running: deadlocked"
                    % len(stuck))
        return "its goroutine dump shows no lock wait"

    def restart(self, why):
        """A fresh pebble (new ports, empty store), warmed up again."""
        print("  restarting pebble: %s" % why, file=sys.stderr)
        self.env.stop()
        self.env.start()
        self.restarts += 1
        self.warm(self.has_batch)

    def measure(self, n, form, extra, timeout, traced=False):
        """one(), but if pebble stops answering (pebble 2.4.0's in-memory
        store deadlocks under concurrent load, see METHOD), restart it and
        try again, up to --attempts runs in all."""
        what = "N=%d %s%s%s" % (n, form, " " + " ".join(extra) if extra
                                else "", " (strace pass)" if traced else "")
        for attempt in range(1, self.args.attempts + 1):
            r = self.one(n, form, extra, timeout, traced)
            if not r["stalled"]:
                return r
            self.notes.append(
                "%s: pebble stopped answering (no request logged for %g s) "
                "after %d of %d certificates (attempt %d of %d; %s); pebble "
                "restarted" % (what, self.args.stall, r["issued"], n, attempt,
                               self.args.attempts, self.pebble_dump()))
            self.restart("no request logged for %g s" % self.args.stall)
        return r

    def prepare(self, n, form, extra):
        """A fresh run directory, names and argv for one leec run."""
        self.seq += 1
        tag = "r%d" % self.seq
        rundir = os.path.join(self.scratch, "%s-n%d-%s" % (tag, n, form))
        os.makedirs(rundir)
        state = os.path.join(rundir, "state")
        names = ["c%d.%s.bench.leec.test" % (i, tag) for i in range(n)]
        if form != "single":
            with open(os.path.join(rundir, "batch.txt"), "w") as f:
                for nm in names:
                    f.write("%s %s\n" % (nm, nm))
        return rundir, state, names, self.argv(rundir, state, names, form,
                                               extra)

    def argv(self, rundir, state, names, form, extra):
        """The leec command line for a run directory, against the pebble
        running now (its ports change when it is restarted)."""
        if form == "single":
            assert len(names) == 1
            argv = [self.leec, "issue", "-d", names[0]]
        else:
            argv = [self.leec, "issue", "--batch",
                    os.path.join(rundir, "batch.txt")]
        argv += self.common(state) + ["--key-type", "ec256", "--json"]
        return argv + list(extra)

    def resumable(self, n, form, extra, timeout):
        """N certificates in one state folder, resumed across pebble
        deadlocks: when pebble stops answering, it is restarted and the
        same leec command (same folder, same batch file, the new pebble's
        address) runs again; what was issued is kept ("fresh") and the rest
        issued. CPU, wall time and requests are summed over the runs (a
        stalled run's leec is killed alone, so its usage is known), peak
        RSS is their maximum; a certificate counts as issued when its
        live/NAME/cert.pem exists at the end (the folder was empty at the
        start; a killed run's buffered output may be lost)."""
        rundir, state, names, argv = self.prepare(n, form, extra)
        what = "N=%d %s" % (n, form)
        segs = []
        for attempt in range(1, self.args.attempts + 1):
            if attempt > 1:
                argv = self.argv(rundir, state, names, form, extra)
            r = self.execute(n, form, rundir, state, names, argv, timeout,
                             tag=".%d" % attempt)
            segs.append(r)
            if not r["stalled"]:
                break
            self.notes.append(
                "%s: pebble stopped answering (no request logged for %g s) "
                "after %d of %d certificates in all (run %d; %s); pebble "
                "restarted and the run resumed on the same state folder"
                % (what, self.args.stall, len(self.live(state, names)), n,
                   attempt, self.pebble_dump()))
            self.restart("no request logged for %g s" % self.args.stall)
        r = dict(segs[-1])
        known = all(x["cpu"] is not None for x in segs)
        for k in ("wall", "cpu", "utime", "stime", "pebble_cpu"):
            vals = [x[k] for x in segs]
            r[k] = sum(vals) if known and None not in vals else None
        r["rss_mib"] = max((x["rss_mib"] or 0) for x in segs) if known \
            else None
        r["requests"] = sum(x["requests"] for x in segs)
        r["segments"] = len(segs)
        if len(segs) > 1:
            # the CLI counts its own run only
            r["cli_requests"] = r["cli_connections"] = None
        ok = self.live(state, names)
        r["issued"] = len(ok)
        r["failed"] = n - len(ok)
        r["bad"] = ["%s: not issued" % nm for nm in names
                    if nm not in ok][:3]
        return r

    @staticmethod
    def live(state, names):
        """The names with a live/NAME/cert.pem in a state folder."""
        return {nm for nm in names if os.path.isfile(
            os.path.join(state, "live", nm, "cert.pem"))}

    def one(self, n, form, extra, timeout, traced=False):
        """One cold leec run; returns a dict of measurements."""
        rundir, state, names, argv = self.prepare(n, form, extra)
        return self.execute(n, form, rundir, state, names, argv, timeout,
                            traced)

    def execute(self, n, form, rundir, state, names, argv, timeout,
                traced=False, tag=""):
        """Runs argv (prepared by prepare/argv) once, measured."""
        strace_out = os.path.join(rundir, "strace.txt")
        if traced:
            argv = [self.strace, "-f", "--seccomp-bpf", "-qq", "-e",
                    "trace=connect", "-e", "signal=none", "-o", strace_out,
                    "--"] + argv
        # Untimed: dirty buffers of earlier runs (or of other work on the
        # machine) written out now, not charged to this run's fsyncs and
        # file creations.
        os.sync()
        off = log_size(self.env)
        pcpu0 = proc_cpu(self.env.pebble.pid)
        status, wall, ru, timed_out, stalled = run_measured(
            argv, os.path.join(rundir, "stdout" + tag),
            os.path.join(rundir, "stderr" + tag), timeout,
            progress=lambda: (log_size(self.env), leec_cpu(usage_of(
                os.path.join(rundir, "stdout" + tag)))),
            stall=self.args.stall)
        pcpu1 = proc_cpu(self.env.pebble.pid)
        reqs = requests_since(self.env, off)

        with open(os.path.join(rundir, "stdout" + tag),
                  errors="replace") as f:
            values = parse_json_values(f.read())
        certs = [v for v in values if isinstance(v, dict) and "outcome" in v]
        summaries = [v for v in values if isinstance(v, dict)
                     and "outcome" not in v]
        by_name = {c.get("cert_name"): c for c in certs}
        issued = 0
        bad = []
        for nm in names:
            c = by_name.get(nm)
            ok = (c is not None and c.get("outcome") == "issued"
                  and os.path.isfile(os.path.join(state, "live", nm,
                                                  "cert.pem")))
            if ok:
                issued += 1
            elif len(bad) < 3:
                bad.append("%s: %s" % (nm, (c or {}).get("outcome", "no result")
                                       + (" (%s)" % c["error"]
                                          if c and c.get("error") else "")))

        # The CLI's own figures, where it prints them.
        cli_req = cli_conn = cli_sec = None
        src = summaries[-1] if summaries else (certs[0] if form == "single"
                                               and certs else None)
        if src is not None:
            cli_req = src.get("requests")
            cli_conn = src.get("connections")
            cli_sec = src.get("seconds")
        elif certs and all(isinstance(c.get("requests"), int) for c in certs):
            cli_req = sum(c["requests"] for c in certs)   # per-certificate

        conns = None
        if traced:
            conns = self.count_connects(strace_out)
        known = ru.ru_maxrss > 0          # the spawner reported
        r = {
            "n": n, "form": form, "exit": status, "timed_out": timed_out,
            "stalled": stalled,
            "wall": wall if known else None,
            "cpu": ru.ru_utime + ru.ru_stime if known else None,
            "utime": ru.ru_utime if known else None,
            "stime": ru.ru_stime if known else None,
            "rss_mib": ru.ru_maxrss / 1024.0 if known else None,   # KiB
            "requests": reqs, "cli_requests": cli_req,
            "cli_connections": cli_conn, "cli_seconds": cli_sec,
            "strace_connections": conns,
            "pebble_cpu": (pcpu1 - pcpu0) if None not in (pcpu0, pcpu1)
            else None,
            "issued": issued, "failed": n - issued, "bad": bad,
            "rundir": rundir, "segments": 1,
        }
        if status != 0 or issued != n:
            try:
                with open(os.path.join(rundir, "stderr" + tag),
                          errors="replace") as f:
                    r["stderr_tail"] = f.read()[-600:]
            except OSError:
                pass
        return r

    def count_connects(self, path):
        """connect() calls to pebble's ACME port in an strace -o file."""
        port = "htons(%d)" % self.env.listen_port
        n = 0
        try:
            with open(path, errors="replace") as f:
                for line in f:
                    if "connect(" in line and port in line \
                            and "resumed>" not in line:
                        n += 1
        except OSError:
            return None
        return n


def scratch_parent(hint=None):
    """Where scratch folders go: hint, else the system's temporary folder."""
    return hint or tempfile.gettempdir()


def rss_floor(scratch_hint):
    """Peak RSS the spawner reports for /bin/true: the method's floor."""
    d = tempfile.mkdtemp(prefix="leec-bench-floor-", dir=scratch_hint)
    try:
        _, _, u, to, _ = run_measured(["/bin/true"], os.path.join(d, "o"),
                                   os.path.join(d, "e"), 30)
        return "n/a" if to else "%.1f MiB" % (u.ru_maxrss / 1024.0)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def runs_for(n, args):
    if args.runs is not None:
        return args.runs
    if args.quick:
        return 1
    if n <= 20:
        return args.runs_small
    if n <= 100:
        return args.runs_100
    return args.runs_1000


def leec_has_batch(leec):
    try:
        r = subprocess.run([leec, "issue", "--help"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, errors="replace",
                           timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--batch" in (r.stdout + r.stderr)


def configs(args, has_batch):
    """(key, N, form, extra args) rows in the order they run."""
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else (
        [1, 20, 100] if args.quick else [1, 20, 100, 1000])
    if args.big and BIG not in sizes:
        sizes.append(BIG)
    rows = []
    for n in sizes:
        if n == 1:
            rows.append(("1", 1, "single", []))
            if has_batch and not args.no_batch_1:
                rows.append(("1b", 1, "batch", []))
            continue
        rows.append((str(n), n, "batch", []))
        if n == 100 and not args.no_serial:
            rows.append(("100p1", 100, "batch", ["--max-parallel", "1"]))
    return rows


def med(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def summarize(key, n, form, extra, runs, conn_run):
    s = {"key": key, "n": n, "form": form, "extra": extra, "runs": len(runs)}
    for k in ("wall", "cpu", "utime", "stime", "rss_mib", "requests",
              "pebble_cpu", "cli_requests", "cli_seconds"):
        s[k] = med(runs, k)
    s["issued"] = sum(r["issued"] for r in runs)
    s["total"] = n * len(runs)
    s["failed"] = s["total"] - s["issued"]
    s["nonzero_exit"] = sum(1 for r in runs if r["exit"] != 0)
    s["bad"] = [b for r in runs for b in r["bad"]][:3]
    s["cli_connections"] = med(runs, "cli_connections")
    s["strace_connections"] = (conn_run or {}).get("strace_connections")
    s["strace_ok"] = conn_run is not None and conn_run["issued"] == n
    s["req_values"] = sorted(set(r["requests"] for r in runs))
    s["cli_req_values"] = sorted(set(r["cli_requests"] for r in runs
                                     if r["cli_requests"] is not None))
    return s


# -------------------------------------------------------------- output
def fmt(v, spec, na="n/a"):
    return na if v is None else format(v, spec)


def form_label(s):
    f = "single `issue -d`" if s["form"] == "single" else "`--batch`"
    if s["extra"]:
        f += " " + " ".join("`%s`" % a if a.startswith("-") else a
                            for a in s["extra"])
    return f


def conn_cell(s):
    cli, st = s["cli_connections"], s["strace_connections"]
    if cli is not None:
        c = "%g (cli)" % cli
        if st is not None and st != cli:
            c += " / %d (strace)" % st
        return c
    if st is not None:
        return "%d" % st + ("" if s["strace_ok"] else " (run failed)")
    return "n/a"


def cpu_cell(s):
    if s["cpu"] is None:
        return "n/a"
    return "%.3f (%.3f+%.3f)" % (s["cpu"], s["utime"], s["stime"])


def req_cell(s):
    n = s["n"]
    if s["requests"] is None:
        return "n/a"
    c = "%.2f" % (s["requests"] / n)
    if s["cli_requests"] is not None:
        if s["cli_req_values"] == s["req_values"]:
            c += " ✓"
        else:
            c += " (cli %.2f)" % (s["cli_requests"] / n)
    return c


def table(summaries):
    head = ["N", "form", "runs", "issued", "wall s", "certs/s",
            "leec CPU s (user+sys)", "CPU ms/cert", "peak RSS MiB", "HTTP req/cert",
            "TCP conns/run", "pebble CPU s"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join("---:" if h not in ("form",) else "---"
                            for h in head) + "|"]
    for s in summaries:
        n = s["n"]
        issued = "%d/%d" % (s["issued"], s["total"])
        if s["failed"]:
            issued = "**%s**" % issued
        lines.append("| " + " | ".join([
            str(n), form_label(s), str(s["runs"]), issued,
            fmt(s["wall"], ".3f"),
            fmt(n / s["wall"] if s["wall"] else None, ".1f"),
            cpu_cell(s),
            fmt(s["cpu"] * 1000 / n if s["cpu"] is not None else None, ".2f"),
            fmt(s["rss_mib"], ".1f"),
            req_cell(s), conn_cell(s),
            fmt(s["pebble_cpu"], ".2f"),
        ]) + " |")
    return "\n".join(lines)


def targets_table(summaries):
    by = {}
    for s in summaries:
        if not s["extra"]:
            by.setdefault(str(s["n"]), s)     # first row of that N (single for 1)
    lines = ["| target | measured | met |", "|---|---:|:---:|"]
    for key, label, metric, limit, unit in TARGETS:
        s = by.get(key)
        if metric == "issued":
            text = "%s: all issued" % label
        elif metric == "conns":
            text = "%s: %g %s" % (label, limit, unit)
        else:
            name = {"wall": "wall", "cpu": "leec CPU",
                    "cpu_per_cert": "leec CPU", "rss": "peak RSS"}[metric]
            shown = limit * 1000 if metric in ("cpu", "cpu_per_cert") \
                and limit < 0.1 else limit
            u = "ms" if metric == "cpu" and limit < 0.1 else (
                "ms/cert" if metric == "cpu_per_cert" else unit)
            text = "%s: %s < %g %s" % (label, name, shown, u)
        if s is None:
            lines.append("| %s | not run | |" % text)
            continue
        need = {"wall": "wall", "cpu": "cpu", "cpu_per_cert": "cpu",
                "rss": "rss_mib"}.get(metric)
        if need and s[need] is None:
            lines.append("| %s | n/a | ? |" % text)
            continue
        if metric == "wall":
            v, ok, m = s["wall"], s["wall"] < limit, "%.3f s" % s["wall"]
        elif metric == "cpu":
            v = s["cpu"]
            ok, m = v < limit, "%.1f ms" % (v * 1000)
        elif metric == "cpu_per_cert":
            v = s["cpu"] / s["n"]
            ok, m = v < limit, "%.2f ms/cert" % (v * 1000)
        elif metric == "rss":
            ok, m = s["rss_mib"] < limit, "%.1f MiB" % s["rss_mib"]
        elif metric == "issued":
            ok, m = s["failed"] == 0, "%d/%d" % (s["issued"], s["total"])
        else:   # conns
            c = s["cli_connections"] if s["cli_connections"] is not None \
                else s["strace_connections"]
            if c is None:
                lines.append("| %s | n/a | ? |" % text)
                continue
            ok, m = c <= limit, "%g" % c
        lines.append("| %s | %s | %s |" % (text, m, "yes" if ok else "**no**"))
    return "\n".join(lines)


def machine(leec, env):
    info = {}
    info["nproc"] = str(os.cpu_count())
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["cpu"] = model or platform.processor() or "unknown"
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = "%.1f GiB" % (int(line.split()[1]) / 1048576)
                    break
    except OSError:
        pass
    info["memory"] = mem or "unknown"
    info["kernel"] = platform.release()
    try:
        with open("/etc/debian_version") as f:
            info["debian"] = f.read().strip()
    except OSError:
        info["debian"] = "n/a"
    info["pebble"] = sh(["dpkg-query", "-W", "-f", "${Version}", "pebble"]) \
        or "n/a"
    info["leec"] = sh([leec, "--version"]) or "n/a"
    commit = sh(["git", "-C", REPO, "rev-parse", "--short", "HEAD"]) or "n/a"
    if sh(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"]):
        commit += " (+ uncommitted changes)"
    info["commit"] = commit
    info["python"] = platform.python_version()
    info["load"] = loadavg()
    return info


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


METHOD = """\
- One pebble + pebble-challtestsrv on 127.0.0.1 (restarted only as below)
  (tests/e2e/pebble_env.py), `PEBBLE_VA_NOSLEEP=1`, `PEBBLE_WFE_NONCEREJECT=0`,
  warmed up with {warm} throwaway certificates before measuring.
- Every run is a cold `leec issue ... --json` process with a fresh `--dir` (so a
  new account), one ec256 certificate per name, http-01 through leec's
  built-in responder (`--http-port`); N=1 rows say whether the single or the
  `--batch` form ran. Figures are medians over the runs shown.
- wall: fork to exit of the leec process; leec CPU (user+sys) and peak RSS:
  `os.wait4` on that process alone, forked by a minimal `python3 -I -S`
  spawner (forked from the bench's own Python, ru_maxrss would report that
  Python's high-water mark; the spawner's floor, `/bin/true`, is {floor}).
  pebble CPU: utime+stime from /proc/PID/stat before and after the run.
  The file system is synced (untimed) before each run, so that writing out
  what earlier runs or other work left dirty is not charged to leec.
- HTTP requests: lines "-> calling handler()" pebble logged during the run (one
  per request), divided by N; ✓ means the CLI's own "requests" agreed.
- TCP connections to pebble's ACME port: the CLI's "connections" where it
  prints it, else connect() calls counted in a separate, untimed run under
  `strace -f -e trace=connect`.
- pebble 2.4.0's in-memory store can deadlock under concurrent load (a lock
  order inversion between new-order, which scans every authorization under
  the store lock, and issuance at finalize; likelier as the store grows), so
  runs with N >= {fresh} each get a freshly started, warmed pebble, and a run
  during which pebble logs no request for {stall:g} s is repeated on a
  restarted pebble, up to {attempts} tries (listed under Notes if it happened).
- The N={big} row (`--big`, `make bench BIG=1`) runs once, on a fresh
  pebble; when pebble deadlocks during it, leec is killed, pebble restarted
  and the same command run again on the same state folder (the certificates
  already issued are kept): CPU, wall time and requests are summed over the
  runs, peak RSS is their maximum, and a certificate counts as issued when
  its live/NAME/cert.pem exists at the end.
- Success: every certificate reported `"outcome": "issued"` and its
  live/NAME/cert.pem exists (no openssl checks in the timed runs).
"""


def renewal_check(b, env, args, n, state):
    """`leec renew` over the N certificates of a batch run, none due: what a
    cron job or the daemon's wake-up costs when there is nothing to do (it
    reads every certificate and its renewal state; no request should be
    needed). Three runs of each form; medians."""
    rows = []
    for label, extra in (("leec renew --dry-run", ["--dry-run"]),
                         ("leec renew (nothing due)", ["-q"])):
        walls, cpus, reqs, rss, status = [], [], [], [], 0
        for i in range(3):
            rundir = tempfile.mkdtemp(prefix="renew-", dir=b.scratch)
            off = log_size(env)
            st, wall, ru, timed_out, _ = run_measured(
                [args.leec, "renew", "--dir", state] + extra,
                os.path.join(rundir, "stdout"), os.path.join(rundir, "stderr"),
                120)
            status = status or st or (1 if timed_out else 0)
            walls.append(wall)
            cpus.append(ru.ru_utime + ru.ru_stime)
            rss.append(ru.ru_maxrss / 1024.0)
            reqs.append(requests_since(env, off))
        rows.append({"what": label, "n": n, "wall": statistics.median(walls),
                     "cpu": statistics.median(cpus), "rss": max(rss),
                     "requests": max(reqs), "exit": status})
        print("  %s over %d certificates: wall %.3f s, cpu %.3f s, %d "
              "requests, exit %d" % (label, n, rows[-1]["wall"],
                                     rows[-1]["cpu"], rows[-1]["requests"],
                                     status), file=sys.stderr)
    return rows


def renew_table(rows):
    lines = ["| run | certificates | wall (s) | leec CPU (ms) | CPU per "
             "certificate (µs) | peak RSS (MiB) | requests | exit |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append("| %s | %d | %.3f | %.1f | %.0f | %.1f | %d | %d |" % (
            r["what"], r["n"], r["wall"], r["cpu"] * 1000,
            r["cpu"] * 1e6 / r["n"], r["rss"], r["requests"], r["exit"]))
    return "\n".join(lines)


def write_results(path, summaries, info, args, started, elapsed, notes,
                  floor, renew_rows=()):
    parts = ["# leec benchmark results", "",
             "Generated by `python3 bench/run.py%s` (`make bench`) on %s, "
             "%.0f s in all." % (" --quick" if args.quick else "",
                                 started.strftime("%Y-%m-%d %H:%M UTC"),
                                 elapsed), "",
             "## Results", "", table(summaries), ""]
    if notes:
        parts += ["Notes:", ""] + ["- " + n for n in notes] + [""]
    if renew_rows:
        parts += ["## Renewal check", "",
                  "`leec renew` over the certificates of the largest batch "
                  "above, none due (median of 3 cold runs): the cost of a "
                  "cron run or a daemon wake-up with nothing to do.", "",
                  renew_table(renew_rows), ""]
    parts += ["## Against the targets", "", targets_table(summaries), "",
              "## Machine", "",
              "| | |", "|---|---|"]
    for k, label in (("nproc", "CPUs (nproc)"), ("cpu", "model"),
                     ("memory", "memory"), ("kernel", "kernel"),
                     ("debian", "Debian"), ("pebble", "pebble (dpkg)"),
                     ("leec", "leec"), ("commit", "git commit"),
                     ("python", "Python"), ("load", "load average before"),
                     ("load_after", "load average after")):
        parts.append("| %s | %s |" % (label, info[k]))
    parts += ["", "leec and pebble share these CPUs: pebble's CPU is in the "
              "table so its share of the wall time can be seen. A load "
              "average well above 1 before the run means other work shared "
              "them too.", "",
              "## Method", "", METHOD.format(warm=args.warmup, floor=floor,
                                           fresh=args.fresh_pebble_at,
                                           stall=args.stall,
                                           attempts=args.attempts, big=BIG)]
    text = "\n".join(parts).rstrip("\n") + "\n"
    kept = kept_sections(path)
    with open(path, "w") as f:
        f.write(text + ("\n" + kept if kept else ""))


OWN_SECTIONS = ("Results", "Renewal check", "Against the targets", "Machine",
                "Method")


def kept_sections(path):
    """What the file holds from its first section this script does not
    write (bench/crash.py's and bench/fleet.py's tables, measurements
    added by hand) to its end: kept as it is, after the new results."""
    try:
        with open(path) as f:
            lines = f.read().splitlines(keepends=True)
    except OSError:
        return ""
    for i, line in enumerate(lines):
        if line.startswith("## ") and line[3:].strip() not in OWN_SECTIONS:
            return "".join(lines[i:])
    return ""


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--leec", default=os.environ.get(
        "LEEC_BIN", os.path.join(REPO, "build", "cli", "leec")),
                    help="the leec binary (default $LEEC_BIN, else "
                    "build/cli/leec)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: N=1,20,100, one run each")
    ap.add_argument("--sizes", help="comma-separated N values "
                    "(default 1,20,100,1000; --quick: 1,20,100)")
    ap.add_argument("--runs", type=int, help="runs for every N")
    ap.add_argument("--runs-small", type=int, default=5, help="N<=20 (5)")
    ap.add_argument("--runs-100", type=int, default=3, help="20<N<=100 (3)")
    ap.add_argument("--runs-1000", type=int, default=1, help="N>100 (1)")
    ap.add_argument("--warmup", type=int, default=3,
                    help="throwaway certificates before measuring (3)")
    ap.add_argument("--no-serial", action="store_true",
                    help="skip the N=100 --max-parallel 1 row")
    ap.add_argument("--no-batch-1", action="store_true",
                    help="skip the N=1 --batch row")
    ap.add_argument("--no-strace", action="store_true",
                    help="skip the strace connection-count pass")
    ap.add_argument("--timeout", type=float, default=900,
                    help="seconds allowed per leec run at N=1000 (scaled "
                    "down for smaller N; minimum 60)")
    ap.add_argument("--stall", type=float, default=10,
                    help="seconds without a request in pebble's log before "
                    "a run counts as stalled: pebble is restarted and the "
                    "run repeated (10; 0: never)")
    ap.add_argument("--attempts", type=int, default=6,
                    help="runs to try when pebble stalls (6): pebble 2.4 "
                         "deadlocks now and then under concurrent orders")
    ap.add_argument("--big", action="store_true",
                    help="add the N=%d row (make bench BIG=1; several "
                    "minutes, most of them pebble's): one run, resumed on a "
                    "restarted pebble when pebble deadlocks" % BIG)
    ap.add_argument("--resume-at", type=int, default=BIG,
                    help="runs with at least this many certificates are "
                    "resumed on the same state folder when pebble "
                    "deadlocks, instead of started again (%d)" % BIG)
    ap.add_argument("--fresh-pebble-at", type=int, default=1000,
                    help="restart pebble (empty store, warmed up) before "
                    "every run with at least this many certificates (1000)")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"),
                    help="results file ('-': none)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the scratch directory (state dirs, logs)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    args.leec = os.path.abspath(args.leec)
    if not os.access(args.leec, os.X_OK):
        print("bench: %s is not an executable (run make first)" % args.leec,
              file=sys.stderr)
        return 2
    has_batch = leec_has_batch(args.leec)
    rows = configs(args, has_batch)
    notes = []
    if not has_batch:
        skipped = [r for r in rows if r[2] == "batch"]
        rows = [r for r in rows if r[2] != "batch"]
        if skipped:
            notes.append("this leec has no `issue --batch`: rows N>1 skipped")
    strace_ok = shutil.which("strace") is not None
    if not args.no_strace and not strace_ok:
        notes.append("strace not installed (Debian package `strace`): "
                     "connections n/a unless the CLI prints them")

    floor = rss_floor(scratch_hint=tempfile.gettempdir())
    started = datetime.datetime.now(datetime.timezone.utc)
    t_start = time.monotonic()
    scratch = tempfile.mkdtemp(prefix="leec-bench-")
    env = PebbleEnv(env={"PEBBLE_VA_NOSLEEP": "1",
                         "PEBBLE_WFE_NONCEREJECT": "0"},
                    workdir=os.path.join(scratch, "pebble"),
                    verbose=args.verbose)
    summaries = []
    failed = False
    info = None
    renew_src = None    # (N, state dir) of the largest fully issued batch
    renew_rows = []
    try:
        try:
            env.start()
        except PebbleError as e:
            print("bench: %s" % e, file=sys.stderr)
            return 2
        b = Bench(args, env, scratch)
        info = machine(args.leec, env)
        print("%s at %s; pebble %s at %s"
              % (info["leec"], args.leec, info["pebble"], env.directory_url),
              file=sys.stderr)

        b.notes = notes
        b.has_batch = has_batch
        try:
            b.warm(has_batch)
        except PebbleError as e:
            print("bench: %s" % e, file=sys.stderr)
            return 2

        for key, n, form, extra in rows:
            timeout = max(60.0, args.timeout * n / 1000.0)
            runs = []
            R = runs_for(n, args)
            for i in range(R):
                if n >= args.fresh_pebble_at:
                    b.restart("fresh store before N=%d" % n)
                if n >= args.resume_at:
                    r = b.resumable(n, form, extra, timeout)
                else:
                    r = b.measure(n, form, extra, timeout)
                runs.append(r)
                print("  N=%-4d %-6s %s run %d/%d: wall %s s, cpu %s s, "
                      "rss %s MiB, %d req, issued %d/%d%s"
                      % (n, form, " ".join(extra), i + 1, R,
                         fmt(r["wall"], ".3f"), fmt(r["cpu"], ".3f"),
                         fmt(r["rss_mib"], ".1f"), r["requests"], r["issued"], n,
                         " TIMEOUT" if r["timed_out"] else
                         " STALLED" if r["stalled"] else ""),
                      file=sys.stderr)
                if r["failed"] or r["exit"] != 0:
                    print("    exit %s; %s\n    %s" % (
                        r["exit"], "; ".join(r["bad"]),
                        r.get("stderr_tail", "").strip().replace(
                            "\n", "\n    ")), file=sys.stderr)
            conn_run = None
            have_cli_conn = all(r["cli_connections"] is not None for r in runs)
            if b.strace and not have_cli_conn and n < args.resume_at:
                if n >= args.fresh_pebble_at:
                    b.restart("fresh store before N=%d (strace pass)" % n)
                conn_run = b.measure(n, form, extra, timeout * 3, traced=True)
                print("  N=%-4d %-6s %s strace pass: %s connect() to pebble, "
                      "issued %d/%d" % (n, form, " ".join(extra),
                                        conn_run["strace_connections"],
                                        conn_run["issued"], n),
                      file=sys.stderr)
            s = summarize(key, n, form, extra, runs, conn_run)
            if s["failed"] or s["nonzero_exit"]:
                failed = True
                notes.append("N=%d %s: %d of %d certificates not issued, "
                             "%d run(s) exited non-zero; e.g. %s"
                             % (n, form_label(s), s["failed"], s["total"],
                                s["nonzero_exit"], "; ".join(s["bad"]) or "-"))
            if s["cli_requests"] is not None and \
                    s["cli_req_values"] != s["req_values"]:
                notes.append("N=%d %s: pebble logged %s requests, the CLI "
                             "said %s" % (n, form_label(s), s["req_values"],
                                          s["cli_req_values"]))
            summaries.append(s)
            good = [r for r in runs if r["issued"] == n and n > 1]
            if good and (renew_src is None or n >= renew_src[0]):
                renew_src = (n, os.path.join(good[-1]["rundir"], "state"))
        if renew_src is not None:
            renew_rows = renewal_check(b, env, args, *renew_src)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        failed = True
    finally:
        env.stop()
        if args.keep or failed:
            print("bench: scratch kept in %s" % scratch, file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    if not summaries or info is None:
        return 1 if failed else 2
    elapsed = time.monotonic() - t_start
    info["load_after"] = loadavg()
    print(table(summaries))
    if notes:
        print()
        for n in notes:
            print("- " + n)
    print()
    print(targets_table(summaries))
    if renew_rows:
        print()
        print(renew_table(renew_rows))
    if args.out != "-":
        write_results(args.out, summaries, info, args, started, elapsed, notes,
                      floor, renew_rows)
        print("\nwritten to %s" % args.out, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
