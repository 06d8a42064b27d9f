"""e2e tests of kill -9 (issue 11): leec killed, whole process group, at each
point of the protocol and at random moments, then run again: every
certificate installed and valid, nothing torn, no orphaned key, no
temporary left, one account.  Orders created are counted and reported.

leec talks to the shared pebble through a kill proxy (kill_proxy.py) that
SIGKILLs leec's process group right after the chosen event: after the
newOrder answer, after the challenge answer, after finalize was sent (its
answer never delivered), after the finalize answer, after the certificate
download; and after the newAccount answer of the first run.  The http-01
responder is leec's own (--http-port), so it dies with leec.  What today's
binary leaves behind is asserted as it is, under the two flags below
(STALE_TEMPS_SWEPT, ACCOUNT_KEY_SAVED_FIRST), and listed in the report.

Orders wasted, today and with resumption. Today leec starts again from
scratch after a kill, so the orders of the killed run are abandoned at the
CA; the counts are printed at the end of the module ("crash: ..." lines).
Once resumption lands, at most these orders are beyond one per certificate
(the issue's "at most one per kill that landed between sending newOrder and
recording it", counted exactly, plus what no client can save):
  - "unrecorded": the orders leec was killed before it sent any request
    about (the order, its authorizations, its finalize URL).  The issue has
    an order journalled before any such request, so these are the ones a
    kill can lose: an answer received but not yet written, or never
    received (pebble created it after the kill: "unseen", counted in).
    With one order in flight that is at most one per kill; a batch has up
    to --max-parallel in flight.  The proxy counts them (kill_proxy.py);
  - "authz lost": the orders whose authorization failed because leec's
    own responder died with it between a challenge answer and pebble's
    fetch (pebble's "authz ... set INVALID" lines).
That bound is asserted only when RESUME_EXPECTED is true (or the
environment has LEEC_TEST_EXPECT_RESUME=1): today's binary goes over it.

Loaded by run.py; run alone with
    python3 tests/e2e/run.py --leec build/cli/leec test_crash
LEEC_TEST_CRASH_SEED=N repeats the random kills of a failed run.
"""

import os
import random
import re
import shutil
import signal
import subprocess
import time

import run
from run import LeecCase, describe
from kill_proxy import KillProxy
from state_audit import audit

# Switch on when leec resumes orders after a crash (issue 11, item 2).
RESUME_EXPECTED = True or os.environ.get("LEEC_TEST_EXPECT_RESUME") == "1"

# A finding of these tests: a write killed midway leaves the store's
# temporary behind, and no later run removes it.  Mostly leec killed while
# installing a version (between the download and the rename of its folder
# into place): archive/<name>/.<N>.tmp-XXXXXXXX with privkey.pem (0600, in
# a 0700 folder) and cert.pem, chain.pem, fullchain.pem, the last ones
# whole or cut short: an orphaned key.  Seen too: live/.<name>.tmp-XXXXXXXX,
# the link that was to replace live/<name> (killed between symlinkat and
# renameat), accounts/<ca>/.account.key.pem.tmp-XXXXXXXX (killed while
# writing the account key).  The random kills, the kill after the
# certificate download and the one after newAccount hit them now and then;
# bench/crash.py's 60 certificates in most rounds.
# Today's truth is asserted: such temporaries are allowed after the clean
# run (and listed in the report); nothing else is (the live files are
# whole), and test_f_stale_install_folder asserts a planted one stays.
# Set to True once a run sweeps them (a certificate's under its lock, where
# no other process can be building one): then none may be left anywhere.
STALE_TEMPS_SWEPT = True

# Another finding: the account key is saved only once newAccount answered
# 201 (engine/account.c), so leec killed between that answer and the save
# (the "newaccount" kill point; a random kill in the first run's first
# tens of milliseconds) loses the key of an account the CA created, and
# the next run creates a second one: allowed today (and reported: "2
# ACCOUNTS CREATED AT THE CA").  The store
# already takes a key without its account.json ("found again at the CA"):
# set to True once the key is saved before newAccount is sent; then every
# scenario must create exactly one account.
ACCOUNT_KEY_SAVED_FIRST = True

BATCH = 5               # certificates of the batch killed at each point
NTH = {"newaccount": 1, "neworder": 3, "challenge": 3, "finalize-sent": 3,
       "finalize": 3, "certificate": 3}    # the batch: at the Nth event
RANDOM_CERTS = 20       # the batch killed at random moments
RANDOM_KILLS = 4
# Seconds after the start.  The target measurement (bench/crash.py:
# 60 certificates) kills at 0.05-0.6 s; 20 certificates through the proxy
# take 0.2 s or more, so the span is shortened for the kills to land, the
# first one's most (a run that ends first is the batch done: no more kills).
RANDOM_SPAN = (0.05, 0.2)
FIRST_SPAN = (0.05, 0.1)

REPORT = []             # one line per scenario, printed at the end


def tearDownModule():
    if REPORT:
        print("\n" + "\n".join(REPORT))


def pebble_mark():
    return len(run.ENV.log_lines())


def authz_lost(mark):
    """Authorizations pebble set invalid since mark (log lines)."""
    return sum(1 for line in run.ENV.log_lines()[mark:]
               if re.search(r"authz \S+ set INVALID", line))


class CrashCase(LeecCase):
    """A kill proxy in front of the shared pebble for the whole class."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.kp = KillProxy(os.path.join(run.SCRATCH, cls.__name__ + "-proxy"),
                           run.ENV.directory_url, run.ENV.ca_bundle)
        cls.kp.start()

    @classmethod
    def tearDownClass(cls):
        cls.kp.stop()
        super().tearDownClass()

    def argv(self, names, d):
        """leec issue for names: -d for one, a --batch file for more."""
        argv = [run.LEEC, "issue"]
        if len(names) == 1:
            argv += ["-d", names[0]]
        else:
            batch = d + ".batch"
            with open(batch, "w") as f:
                f.writelines("%s %s\n" % (n, n) for n in names)
            argv += ["--batch", batch]
        return argv + ["--server", self.kp.directory_url, "--ca-bundle",
                       self.kp.ca_bundle, "--agree-tos", "--dir", d,
                       "--http-port", "127.0.0.1:%d" % run.ENV.http_port]

    def start(self, argv):
        """leec in a process group of its own, the proxy told which."""
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, errors="replace",
                             env=run.child_env(), start_new_session=True)
        self.kp.target(p.pid)
        self.addCleanup(self.reap, p)
        return p

    def clean_run(self, argv):
        self.kp.target(None)
        return run.run(argv)

    @staticmethod
    def reap(p):
        if p.poll() is None:        # not reaped yet: the group is still ours
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        for f in (p.stdout, p.stderr):
            f.close()

    def wait(self, p, timeout=run.TIMEOUT):
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.reap(p)
            self.fail("leec did not end within %d s" % timeout)
        return subprocess.CompletedProcess(p.args, p.returncode, out, err)

    def check_certs(self, names, d):
        """check_cert's checks that matter here, for many one-name
        certificates with fewer openssl runs (each costs 15-50 ms): the
        chains verified in one run; per certificate, its names and public
        key in one run and the key's public half in another."""
        by_chain = {}
        for n in names:
            live = self.live(n, d)
            files = {f: os.path.join(live, f) for f in
                     ("privkey.pem", "cert.pem", "chain.pem", "fullchain.pem")}
            for p in files.values():
                self.assertTrue(os.path.isfile(p), "missing %s" % p)
            self.assertEqual(run.mode(files["privkey.pem"]), 0o600, n)
            cert, chain, full = (open(files[f]).read() for f in
                                 ("cert.pem", "chain.pem", "fullchain.pem"))
            self.assertEqual(full, cert + chain, n)
            by_chain.setdefault(chain, (files["chain.pem"], []))[1].append(
                files["cert.pem"])
            out = run.openssl("x509", "-in", files["cert.pem"], "-noout",
                              "-pubkey", "-ext", "subjectAltName")
            pub = out[:out.index("-----END PUBLIC KEY-----")]
            self.assertEqual(pub, run.openssl("pkey", "-in",
                                              files["privkey.pem"],
                                              "-pubout")[:len(pub)],
                             "%s: privkey.pem does not match cert.pem" % n)
            sans = re.findall(r"DNS:([^,\s]+)", out)
            self.assertEqual(sans, [n], "%s: subjectAltName" % n)
        for chain_file, certs in by_chain.values():
            r = run.run(["openssl", "verify", "-CAfile", run.ROOT_PEM,
                         "-untrusted", chain_file] + certs)
            self.assertEqual(r.returncode, 0, describe(r))
            self.assertEqual(r.stdout.count(": OK"), len(certs), describe(r))

    def check_after(self, names, d, mark, kills, label, after_kill,
                    accounts=(1,)):
        """The clean run's result, reported first: every certificate,
        nothing torn or orphaned, one account folder and as many accounts
        created at the CA as accounts allows; the orders counted.
        after_kill: what the kills left (before the clean run)."""
        a = audit(d)
        orders, unseen = self.kp.orders_created, self.kp.orders_unseen
        unrecorded = self.kp.orders_unrecorded
        lost = authz_lost(mark)
        bound = len(names) + unrecorded + lost
        notes = ["after a kill: " + x for x in after_kill]
        if a.stale_temps:
            notes.append("STALE TEMPORARIES LEFT AFTER THE CLEAN RUN: "
                         + ", ".join(a.stale_temps))
        if self.kp.accounts_created > 1:
            notes.append("%d ACCOUNTS CREATED AT THE CA"
                         % self.kp.accounts_created)
        REPORT.append(
            "crash: %-26s %2d certs, %d kill(s): %3d orders, %3d wasted; "
            "unrecorded %d (unseen %d), authz lost %d: with resumption "
            "at most %d orders%s"
            % (label, len(names), kills, orders, orders - len(names),
               unrecorded, unseen, lost, bound,
               "".join("\n    " + n for n in notes)))

        if len(names) == 1:
            self.check_cert(names[0], names, d=d)
        else:
            self.check_certs(names, d)
        self.assertEqual(a.problems if STALE_TEMPS_SWEPT
                         else a.problems_besides_stale_temps(), [],
                         "%s: state after the clean run" % label)
        self.assertEqual(sorted(a.live), sorted(names), label)
        if RESUME_EXPECTED:  # every order ended: installed, or dead
            self.assertEqual(a.journal, [], "%s: journal left" % label)
        self.assertEqual(len(a.accounts), 1, "%s: accounts %r"
                         % (label, a.accounts))
        self.assertIn(self.kp.accounts_created, accounts,
                      "%s: accounts created at the CA" % label)
        if RESUME_EXPECTED:
            self.assertLessEqual(orders, bound, "%s: orders wasted: %s"
                                 % (label, REPORT[-1]))


class CrashPointTest(CrashCase):
    """Killed once at each protocol point, then run again."""

    def crash_at(self, point):
        for label, count, nth in (("single", 1, 1),
                                  ("batch", BATCH, NTH[point])):
            with self.subTest(point=point, run=label):
                names = ["%s-%s-%d.crash.leec.test" % (point, label, i)
                         for i in range(count)]
                d = os.path.join(self.tmp, label)
                argv = self.argv(names, d)
                self.kp.reset()
                mark = pebble_mark()
                self.kp.arm(point, nth)
                r = self.wait(self.start(argv))
                self.assertEqual(r.returncode, -signal.SIGKILL,
                                 "the kill point was never reached: "
                                 + describe(r))
                self.assertEqual(self.kp.killed, [(point, nth)])
                # What the kill left (the clean run must clean it up):
                # reported, not asserted.
                left = audit(d).problems if os.path.isdir(d) else []
                r = self.clean_run(argv)
                self.assertEqual(r.returncode, 0, describe(r))
                # Two accounts after the kill at newaccount, as a rule;
                # one if leec saved the key before the kill reached it (the
                # proxy's thread may lag behind its answer under load).
                accounts = (1, 2) if point == "newaccount" and \
                    not ACCOUNT_KEY_SAVED_FIRST else (1,)
                self.check_after(names, d, mark, 1,
                                 "%s (%s)" % (point, label), left, accounts)

    def test_0_after_newaccount(self):
        self.crash_at("newaccount")

    def test_a_after_neworder(self):
        self.crash_at("neworder")

    def test_b_after_challenge_answer(self):
        self.crash_at("challenge")

    def test_c_finalize_sent(self):
        self.crash_at("finalize-sent")

    def test_d_after_finalize(self):
        self.crash_at("finalize")

    def test_e_after_certificate_download(self):
        self.crash_at("certificate")



    def test_f_stale_install_folder(self):
        """What a kill during an install leaves (a whole version in
        archive/<name>/.1.tmp-XXXXXXXX), planted, then a run for that
        certificate."""
        name = "stale.crash.leec.test"
        other = os.path.join(self.tmp, "other")
        self.kp.reset()
        r = self.clean_run(self.argv([name], other))
        self.assertEqual(r.returncode, 0, describe(r))
        folder = os.path.join(self.dir, "archive", name)
        os.makedirs(folder)
        for p in (self.dir, os.path.dirname(folder), folder):
            os.chmod(p, 0o700)
        stale = os.path.join(folder, ".1.tmp-0123abcd")
        shutil.copytree(os.path.join(other, "archive", name, "1"), stale)
        os.remove(os.path.join(stale, "meta.json"))    # not written yet
        # An hour old, should a sweep spare recent ones.
        old = time.time() - 3600
        for f in os.listdir(stale):
            os.utime(os.path.join(stale, f), (old, old))
        os.utime(stale, (old, old))
        r = self.clean_run(self.argv([name], self.dir))
        self.assertEqual(r.returncode, 0, describe(r))
        self.check_cert(name, [name])
        self.assertEqual(audit(self.dir).problems_besides_stale_temps(),
                         [])
        self.assertEqual(os.path.isdir(stale), not STALE_TEMPS_SWEPT,
                         "%s is %s: STALE_TEMPS_SWEPT should say %s" % (
                             stale, "left" if os.path.isdir(stale) else "gone",
                             not os.path.isdir(stale)))


class RandomKillTest(CrashCase):
    """A batch killed RANDOM_KILLS times at random moments, then run to
    the end."""

    def test_random_kills(self):
        seed = int(os.environ.get("LEEC_TEST_CRASH_SEED")
                   or random.SystemRandom().randrange(1 << 30))
        rnd = random.Random(seed)
        names = ["r%02d.crash.leec.test" % i for i in range(RANDOM_CERTS)]
        argv = self.argv(names, self.dir)
        self.kp.reset()
        mark = pebble_mark()
        landed, left = 0, []
        for k in range(RANDOM_KILLS):
            delay = rnd.uniform(*(RANDOM_SPAN if k else FIRST_SPAN))
            p = self.start(argv)
            try:
                p.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)   # not reaped: still ours
                self.kp.note_kill()
                landed += 1
            r = self.wait(p)
            self.assertIn(r.returncode, (0, -signal.SIGKILL), describe(r))
            left += audit(self.dir).problems
        self.assertGreater(landed, 0, "no kill landed: every run ended "
                           "before its moment")
        r = self.clean_run(argv)
        self.assertEqual(r.returncode, 0, describe(r))
        # Today the first run's kill may land between newAccount and
        # the save of its key (ACCOUNT_KEY_SAVED_FIRST).
        self.check_after(names, self.dir, mark, landed,
                         "random (seed %d)" % seed, sorted(set(left)),
                         (1,) if ACCOUNT_KEY_SAVED_FIRST else (1, 2))
