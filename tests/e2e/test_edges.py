"""e2e tests of rough edges of issue 13 item 6: budgets counted across runs
(kept in the store) and reported with their end when the output is not a
terminal; a changed --profile or --key-type re-orders a fresh certificate;
SIGINT during dns-01 says what it removes, after removing it.

Run alone with
    python3 tests/e2e/run.py --leec build/cli/leec test_edges
"""

import datetime
import os
import re
import select
import signal
import subprocess
import time

import run
from run import LeecCase, describe


def wait_for_line(proc, pattern, timeout):
    """Reads proc's stderr (a pipe: not a terminal) until pattern matches
    (the match and all read so far), or (None, text) after timeout seconds
    or at its end."""
    deadline = time.time() + timeout
    fd = proc.stderr.fileno()
    buf = ""
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk.decode("utf-8", "replace")
        m = re.search(pattern, buf)
        if m:
            return m, buf
    return None, buf


class BudgetAcrossRuns(LeecCase):
    """--budget-orders and --budget-domain count the orders of earlier
    runs (the store's budget log); the wait says its end, stderr a pipe."""

    def _start(self, name, *extra):
        argv = [run.LEEC, "issue", "-d", name, "--server",
                run.ENV.directory_url, "--ca-bundle", run.ENV.ca_bundle,
                "--agree-tos", "--dir", self.dir,
                "--http-port", "127.0.0.1:%d" % run.ENV.http_port]
        return subprocess.Popen(argv + list(extra), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=run.child_env())

    def _second_waits(self, name, pattern, window_s, t_first, *extra):
        p = self._start(name, *extra)
        try:
            m, err = wait_for_line(p, pattern, 20)
            self.assertIsNotNone(m, "no budget wait said\nstderr: " + err)
            self.assertIsNone(p.poll(), "the run ended:\n" + err)
        finally:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
            out, rest = p.communicate(timeout=20)
        out = out.decode("utf-8", "replace")
        rest = rest.decode("utf-8", "replace")
        end = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M")
        end = end.replace(tzinfo=datetime.timezone.utc).timestamp()
        # The window from the first run's order, rounded up to the minute.
        self.assertLessEqual(abs(end - (t_first + window_s)), 120,
                             "end %s, first order at %s" % (m.group(1),
                                                            time.ctime(t_first)))
        self.assertNotIn("issued", out)
        return err + rest

    def test_budgets_across_runs(self):
        t0 = time.time()
        r = self.issue(["a.budget.leec.test"], "--budget-orders", "1",
                       "--budget-domain", "1")
        self.assertEqual(r.returncode, 0, describe(r))
        log = os.path.join(self.dir, "budget", run.ENV.ca_id)
        self.assertEqual(len(os.listdir(log)), 2, "an order and a certificate "
                         "recorded: %s" % os.listdir(log))
        # Another run, another name: the order budget is spent.
        self._second_waits(
            "b.budget.leec.test",
            r"budget of 1 orders per 3 h reached; waiting until "
            r"(\d{4}-\d\d-\d\d \d\d:\d\d) UTC", 3 * 3600, t0,
            "--budget-orders", "1")
        # And the per-domain budget, for the same registered domain.
        self._second_waits(
            "c.budget.leec.test",
            r"budget of 1 certificates per registered domain per 7 days "
            r"reached; waiting until (\d{4}-\d\d-\d\d \d\d:\d\d) UTC",
            7 * 86400, t0, "--budget-domain", "1")
        # Without the budgets, the next run orders at once.
        r = self.issue(["d.budget.leec.test"])
        self.assertEqual(r.returncode, 0, describe(r))
