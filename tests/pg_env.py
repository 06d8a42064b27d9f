#!/usr/bin/env python3
"""A throwaway PostgreSQL 15 for the PostgreSQL store's tests.

    python3 tests/pg_env.py run -- CMD ARGS...

starts one (initdb into a temporary folder, trust authentication, a Unix
socket in that folder and 127.0.0.1 on a free port, fsync off), runs CMD with
LEEC_TEST_PG set to its connection string and LEEC_TEST_PG_RESTART set to a
command that restarts it as a crash would (`pg_ctl stop -m immediate`, then
start), stops it and exits with CMD's status (77, skipped, when PostgreSQL
is not installed).

As a module: PgEnv().start(), .conninfo, .restart(immediate=True), .stop().
PostgreSQL refuses to run as root, so as root the server runs as `nobody`
(setpriv), the folder being given to it. The server is stopped by its own
pg_ctl (its PID file), never by a name.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("LEEC_PG_BIN", "/usr/lib/postgresql/15/bin")


def available():
    return os.access(os.path.join(BIN, "initdb"), os.X_OK)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgEnv:
    def __init__(self):
        self.tmp = None
        self.data = None
        self.port = None
        self.user = None
        self.running = False

    def _as_server(self, argv):
        """argv run as the server's user (nobody when we are root)."""
        if os.geteuid() == 0:
            return ["setpriv", "--reuid=nobody", "--regid=nogroup",
                    "--clear-groups", "--"] + argv
        return argv

    def _run(self, argv, **kw):
        return subprocess.run(self._as_server(argv), check=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              **kw)

    @property
    def conninfo(self):
        return "host=%s port=%d dbname=leec user=%s" % (
            self.tmp, self.port, self.user)

    def start(self):
        if self.tmp is None:
            self.tmp = tempfile.mkdtemp(prefix="leec-pg-")
            os.chmod(self.tmp, 0o755)
            self.data = os.path.join(self.tmp, "data")
            self.port = _free_port()
            if os.geteuid() == 0:
                shutil.chown(self.tmp, "nobody", "nogroup")
                self.user = "nobody"
            else:
                import pwd
                self.user = pwd.getpwuid(os.geteuid()).pw_name
            self._run([os.path.join(BIN, "initdb"), "-D", self.data,
                       "-U", self.user, "--auth=trust", "-E", "UTF8",
                       "--locale=C.UTF-8", "--no-sync"], cwd=self.tmp)
        self._start_server()
        self._run([os.path.join(BIN, "createdb"), "-h", self.tmp, "-p",
                   str(self.port), "-U", self.user, "leec"], cwd=self.tmp) \
            if not self._has_db() else None
        return self

    def _start_server(self):
        opts = ("-c fsync=off -c full_page_writes=off -c listen_addresses=127.0.0.1"
                " -k %s -p %d" % (self.tmp, self.port))
        self._run([os.path.join(BIN, "pg_ctl"), "start", "-w", "-t", "60",
                   "-D", self.data, "-l", os.path.join(self.tmp, "log"),
                   "-o", opts], cwd=self.tmp)
        self.running = True
        deadline = time.time() + 30
        while time.time() < deadline:
            r = subprocess.run(self._as_server(
                [os.path.join(BIN, "pg_isready"), "-h", self.tmp, "-p",
                 str(self.port)]), stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, cwd=self.tmp)
            if r.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("PostgreSQL did not become ready")

    def _has_db(self):
        r = subprocess.run(self._as_server(
            [os.path.join(BIN, "psql"), "-h", self.tmp, "-p", str(self.port),
             "-U", self.user, "-d", "postgres", "-tAc",
             "SELECT 1 FROM pg_database WHERE datname = 'leec'"]),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=self.tmp)
        return r.stdout.strip() == b"1"

    def _stop_server(self, mode):
        if self.running:
            self._run([os.path.join(BIN, "pg_ctl"), "stop", "-w", "-t", "60",
                       "-m", mode, "-D", self.data], cwd=self.tmp)
            self.running = False

    def restart(self, immediate=True):
        """Stops the server (as a crash would when immediate) and starts it
        again on the same port and folder."""
        self._stop_server("immediate" if immediate else "fast")
        self._start_server()

    def stop(self):
        try:
            self._stop_server("fast")
        finally:
            if self.tmp:
                shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


def main(argv):
    if len(argv) < 3 or argv[0] != "run" or argv[1] != "--":
        print("usage: pg_env.py run -- CMD ARGS...", file=sys.stderr)
        return 2
    if not available():
        print("pg_env: PostgreSQL 15 not installed (%s): skipped" % BIN)
        return 77
    env = PgEnv()
    # Stopped by a signal (a timeout, ^C): the server is stopped all the
    # same, by the finally below.
    def _exit(signum, frame):
        raise SystemExit(128 + signum)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, _exit)
    try:
        env.start()
        child = dict(os.environ)
        child["LEEC_TEST_PG"] = env.conninfo
        child["LEEC_TEST_PG_RESTART"] = "%s %s restart %s %d %s %s" % (
            sys.executable, os.path.abspath(__file__), env.tmp, env.port,
            env.user, env.data)
        return subprocess.run(argv[2:], env=child).returncode
    finally:
        env.stop()


def restart_main(argv):
    """pg_env.py restart TMP PORT USER DATA: what LEEC_TEST_PG_RESTART runs."""
    env = PgEnv()
    env.tmp, env.port, env.user, env.data = argv[0], int(argv[1]), argv[2], argv[3]
    env.running = True
    env.restart(immediate=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "restart":
        sys.exit(restart_main(sys.argv[2:]))
    sys.exit(main(sys.argv[1:]))
