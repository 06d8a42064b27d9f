#!/usr/bin/env python3
"""`make demo`: issue a certificate from a throwaway local pebble with leec.

Starts pebble + pebble-challtestsrv on free loopback ports, runs
`leec issue` for demo.leec.test and www.demo.leec.test with leec's built-in
http-01 responder, then `leec show` and `leec renew --dry-run`, and leaves leec's state in ./demo-state/
(wiped at the start of every demo).  Exits with leec's status.

    python3 scripts/demo.py [--leec build/cli/leec] [--state DIR]
"""

import argparse
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from pebble_env import PebbleEnv, PebbleError  # noqa: E402

TIMEOUT = 120


def show_cmd(argv):
    print("\n$ " + " ".join(argv), flush=True)


def run(argv):
    show_cmd(argv)
    env = dict(os.environ)
    for k in list(env):
        if k.lower() in ("http_proxy", "https_proxy", "all_proxy"):
            del env[k]
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, env=env,
                              timeout=TIMEOUT).returncode
    except subprocess.TimeoutExpired:
        print("demo: %s timed out after %d s" % (argv[0], TIMEOUT),
              file=sys.stderr)
        return 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--leec", default=os.environ.get("LEEC_BIN",
                    os.path.join(REPO, "build", "cli", "leec")))
    ap.add_argument("--state", default=os.path.join(REPO, "demo-state"))
    args = ap.parse_args()
    leec = os.path.abspath(args.leec)
    state = os.path.abspath(args.state)
    if not os.access(leec, os.X_OK):
        print("demo: no leec binary at %s (build it first)" % leec,
              file=sys.stderr)
        return 1

    if os.path.exists(state):
        shutil.rmtree(state)
    os.makedirs(state, mode=0o700)
    pebble_dir = os.path.join(state, "pebble")   # config, TLS cert, logs
    leec_dir = os.path.join(state, "state")

    print("demo: starting pebble (test ACME CA) and pebble-challtestsrv "
          "(mock DNS) on loopback ...", flush=True)
    try:
        env = PebbleEnv(workdir=pebble_dir)
        env.start()
    except PebbleError as e:
        print("demo: %s" % e, file=sys.stderr)
        return 1
    try:
        print("demo: ACME directory %s; every name resolves to 127.0.0.1, "
              "http-01 validation connects to port %d"
              % (env.directory_url, env.http_port), flush=True)
        status = run([leec, "issue", "-d", "demo.leec.test",
                      "-d", "www.demo.leec.test",
                      "--server", env.directory_url,
                      "--ca-bundle", env.ca_bundle,
                      "--http-port", "127.0.0.1:%d" % env.http_port,
                      "--agree-tos", "--dir", leec_dir, "-v"])
        if status == 0:
            run([leec, "show", "--dir", leec_dir, "demo.leec.test"])
            # What keeps it renewed: the settings were stored with it, so
            # `leec renew` (cron, the timer) or `leec daemon` needs no flag.
            run([leec, "renew", "--dir", leec_dir, "--dry-run"])
            root = env.write_root(os.path.join(pebble_dir, "pebble-root.pem"))
    finally:
        env.stop()

    print()
    if status == 0:
        live = os.path.join(leec_dir, "live", "demo.leec.test")
        print("demo: done.  Files (kept until the next `make demo`, "
              "which wipes %s):" % state)
        for f in ("privkey.pem", "cert.pem", "chain.pem", "fullchain.pem"):
            print("  %s" % os.path.join(live, f))
        print("  account: %s" % os.path.join(leec_dir, "accounts", env.ca_id))
        print("  pebble's root (to verify): %s" % root)
        print("  try: openssl verify -CAfile %s -untrusted %s %s"
              % (root, os.path.join(live, "chain.pem"),
                 os.path.join(live, "cert.pem")))
    else:
        print("demo: leec failed with status %d; pebble's log: %s"
              % (status, env.pebble_log))
    print("demo: pebble and challtestsrv stopped.")
    return status


if __name__ == "__main__":
    sys.exit(main())
