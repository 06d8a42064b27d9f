#!/usr/bin/env python3
"""Does an RSA-4096 key stall the other certificates?  Python 3 standard
library; nothing leaves 127.0.0.1.

    python3 bench/keygen.py --prog build/bench/keygen_batch [--n 100]
                            [--runs 3] [--out bench/RESULTS.md]

Against one local pebble (tests/e2e/pebble_env.py, PEBBLE_VA_NOSLEEP=1,
no nonce rejection), bench/keygen_batch issues a batch of N EC
certificates in one context, then the same batch with one RSA-4096
certificate among them (started first, so its key is needed early).
Generating that key takes seconds of CPU; on a worker thread it must not
hold up the others: the target is that the batch's time rises by no more
than the key's own generation time divided by the number of cores. The
batch's time here is when its last EC certificate is installed: the RSA
certificate itself cannot be done before its key (when the key takes
longer than the whole batch, the wall time is the key's), while with the
key made on the loop every other certificate waited for all of it.
Medians of --runs runs; with --out, the table is appended to that file
(after make bench's own).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from pebble_env import PebbleEnv  # noqa: E402


def one(prog, env, n, rsa, timeout):
    state = tempfile.mkdtemp(prefix="keygen-", dir=env.workdir)
    argv = [prog, env.directory_url, env.ca_bundle,
            "127.0.0.1:%d" % env.http_port, state, str(n), "1" if rsa else "0"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("%s: exit %d\n%s%s" % (" ".join(argv), r.returncode,
                                                  r.stdout, r.stderr))
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prog", default=os.path.join(REPO, "build", "bench",
                                                   "keygen_batch"))
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--out")
    a = ap.parse_args()
    cores = os.cpu_count() or 1
    rows = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="leec-keygen-") as tmp:
        env = PebbleEnv(env={"PEBBLE_VA_NOSLEEP": "1",
                             "PEBBLE_WFE_NONCEREJECT": "0"},
                        workdir=os.path.join(tmp, "pebble"))
        env.start()
        try:
            for _ in range(a.runs):
                for rsa in (False, True):
                    rows[rsa].append(one(a.prog, env, a.n, rsa, a.timeout))
        finally:
            env.stop()

    def med(rsa, key):
        return statistics.median(r[key] for r in rows[rsa])
    key = statistics.median(r["keygen"] for r in rows[True])
    base, with_rsa = med(False, "last_ec"), med(True, "last_ec")
    rise, allowed = with_rsa - base, key / cores
    lines = [
        "## An RSA-4096 key among %d EC certificates" % a.n,
        "",
        "`python3 bench/keygen.py` (medians of %d runs, %d cores): one "
        "context, the default ten orders in flight; the RSA certificate "
        "starts first, its key is generated on a worker thread." % (a.runs,
                                                                   cores),
        "",
        "| batch | last EC certificate (s) | RSA certificate (s) | wall (s) |",
        "|---|---:|---:|---:|",
        "| %d EC | %.3f | - | %.3f |" % (a.n, base, med(False, "wall")),
        "| %d EC + 1 RSA-4096 | %.3f | %.3f | %.3f |"
        % (a.n, with_rsa, med(True, "rsa_done"), med(True, "wall")),
        "",
        "One RSA-4096 key alone: %.3f s. The EC certificates' time rose by "
        "%.3f s; allowed: the key's time / %d cores = %.3f s: **%s**."
        % (key, rise, cores, allowed, "met" if rise <= allowed else "not met"),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "a") as f:
            f.write("\n" + text)
    return 0 if rise <= allowed else 1


if __name__ == "__main__":
    sys.exit(main())
