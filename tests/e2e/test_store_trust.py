"""e2e tests of the state folder's trust rules (issue 9, item 2): a state
folder or sub-folder others can write, or owned by another user, is refused
with the path and the fix named; a live/NAME link planted towards another
folder is refused, nothing read or written through it; the hooks kept in a
meta.json others can write, or owned by another user, never run.

Loaded by run.py; run alone with
    python3 tests/e2e/run.py --leec build/cli/leec test_store_trust
"""

import json
import os
import shutil
import stat
import unittest

import run
from run import LeecCase, describe

NOBODY = 65534


def snapshot(top):
    """Everything under top (top included), not following links: path ->
    (type and mode, owner, size, mtime, link text)."""
    out = {}
    for d, dirs, files in os.walk(top):
        for x in [""] + dirs + files:
            p = os.path.join(d, x) if x else d
            st = os.lstat(p)
            link = os.readlink(p) if stat.S_ISLNK(st.st_mode) else None
            out[os.path.relpath(p, top)] = (st.st_mode, st.st_uid,
                                            st.st_size, st.st_mtime_ns, link)
    return out


class StoreTrustTest(LeecCase):

    def marker(self, what):
        return os.path.join(self.tmp, what + ".ran")

    def assert_refused(self, r, *wanted):
        self.assertEqual(r.returncode, 1, describe(r))
        for w in wanted:
            self.assertIn(w, r.stderr, describe(r))

    def renew(self, *extra):
        return self.leec("renew", "--dir", self.dir, *extra)

    def test_a_unsafe_state_folder(self):
        """A 0777 state folder (and sub-folder, and one owned by another
        user): every command refuses it, naming it and the fix, and reads
        and writes nothing there."""
        name = "trust-a.leec.test"
        self.issue_ok([name])
        hook = self.marker("a")
        os.chmod(self.dir, 0o777)
        before = snapshot(self.dir)
        orders = run.orders_created()
        fix = "chmod go-w " + self.dir
        for argv in (["list"], ["renew"], ["renew", "--force"],
                     ["show", name], ["ca-cert", name], ["reset", "--yes", name],
                     ["account", "show", "--server", run.ENV.directory_url,
                      "--ca-bundle", run.ENV.ca_bundle], ["daemon"]):
            r = self.leec(*(argv + ["--dir", self.dir]))
            self.assert_refused(r, "state folder %s is writable by group or "
                                "others (mode 0777): %s" % (self.dir, fix))
        r = self.issue([name], "--force", "--deploy-hook", "touch " + hook)
        self.assert_refused(r, fix)
        r = self.issue(["trust-a2.leec.test"])
        self.assert_refused(r, fix)
        self.assertEqual(snapshot(self.dir), before)
        self.assertEqual(run.orders_created(), orders)
        self.assertFalse(os.path.exists(hook))

        os.chmod(self.dir, 0o700)
        for sub in ("live", "archive", "locks", "accounts"):
            p = os.path.join(self.dir, sub)
            os.chmod(p, 0o770)
            r = self.leec("list", "--dir", self.dir)
            self.assert_refused(r, p, "chmod go-w " + p)
            os.chmod(p, 0o700)
        if os.geteuid() == 0:
            os.chown(self.dir, NOBODY, -1)
            r = self.renew()
            self.assert_refused(r, "state folder %s is owned by uid %d, not by "
                                "the user running leec (uid 0): chown root %s"
                                % (self.dir, NOBODY, self.dir))
            os.chown(self.dir, 0, -1)
        r = self.leec("list", "--dir", self.dir)
        self.assertEqual(r.returncode, 0, describe(r))

    def plant(self, name):
        """A copy of name's current version outside the store, its settings
        given hooks that leave markers; returns its folder."""
        live = self.live(name)
        evil = os.path.join(self.tmp, "evil")
        shutil.copytree(os.path.realpath(live), evil)
        meta_path = os.path.join(evil, "meta.json")
        with open(meta_path) as f:
            meta = json.load(f)
        meta["settings"]["deploy_hook"] = "touch " + self.marker("deploy")
        meta["settings"]["pre_hook"] = "touch " + self.marker("pre")
        meta["settings"]["post_hook"] = "touch " + self.marker("post")
        with open(meta_path, "w") as f:
            json.dump(meta, f)
        return evil

    def test_b_planted_live_link(self):
        """live/NAME pointing at a folder outside the store, holding a
        meta.json with hooks: refused with the link named, no hook runs,
        nothing is read or written there."""
        name = "trust-b.leec.test"
        self.issue_ok([name])
        evil = self.plant(name)
        live = self.live(name)
        archive = os.path.join(self.dir, "archive", name)
        for target in (evil, "../archive/%s/1/../../../../evil" % name,
                       "../archive/%s/01" % name):
            os.unlink(live)
            os.symlink(target, live)
            before = snapshot(evil)
            orders = run.orders_created()
            for argv in (["renew", "--force"], ["renew"], ["renew", name],
                         ["list"], ["show", name], ["ca-cert", name]):
                r = self.leec(*(argv + ["--dir", self.dir]))
                self.assert_refused(r, "live link %s points at '%s'"
                                    % (live, target),
                                    "leec reset %s" % name)
            r = self.issue([name], "--force")
            self.assert_refused(r, "live link %s points at" % live)
            self.assertEqual(snapshot(evil), before)
            self.assertEqual(run.orders_created(), orders)
            self.assertEqual(os.listdir(archive), ["1"])
            for what in ("deploy", "pre", "post"):
                self.assertFalse(os.path.exists(self.marker(what)), what)
        # The way out the message names: reset forgets the link (not what
        # it points at), and the name can be issued again.
        os.unlink(live)
        os.symlink(evil, live)
        r = self.leec("reset", "--yes", "--dir", self.dir, name)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertFalse(os.path.lexists(live))
        self.assertTrue(os.path.isfile(os.path.join(evil, "meta.json")))

    def test_c_unsafe_meta_json_hooks_not_run(self):
        """A meta.json others can write, or owned by another user: its
        hooks never run; once it is safe again, they do."""
        name = "trust-c.leec.test"
        hook = self.marker("deploy")
        pre = self.marker("pre")
        self.issue_ok([name], "--deploy-hook", "touch " + hook,
                      "--pre-hook", "touch " + pre)
        self.assertTrue(os.path.exists(hook) and os.path.exists(pre))
        os.unlink(hook)
        os.unlink(pre)
        meta = os.path.join(os.path.realpath(self.live(name)), "meta.json")
        orders = run.orders_created()

        os.chmod(meta, 0o664)
        r = self.renew("--force", name)
        self.assert_refused(r, "leec: %s: " % name, "state file %s is "
                            "writable by group or others (mode 0664): "
                            "chmod go-w %s\n" % (meta, meta))
        r = self.renew("--force")
        self.assert_refused(r, meta)
        r = self.leec("list", "--dir", self.dir)
        self.assert_refused(r, meta)
        os.chmod(meta, 0o644)
        if os.geteuid() == 0:
            os.chown(meta, NOBODY, NOBODY)
            r = self.renew("--force", name)
            self.assert_refused(r, "state file %s is owned by uid %d"
                                % (meta, NOBODY), "chown root " + meta)
            os.chown(meta, 0, 0)
        self.assertFalse(os.path.exists(hook))
        self.assertFalse(os.path.exists(pre))
        self.assertEqual(run.orders_created(), orders)
        self.assertEqual(os.listdir(os.path.join(self.dir, "archive", name)),
                         ["1"])

        r = self.renew("--force", name)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertTrue(os.path.exists(hook))
        self.assertTrue(os.path.exists(pre))

    def test_d_unsafe_version_folder(self):
        """A certificate's own folder others can write: issue refuses it
        (the context logs the store's message) and orders nothing."""
        name = "trust-d.leec.test"
        self.issue_ok([name])
        archive = os.path.join(self.dir, "archive", name)
        os.chmod(archive, 0o777)
        orders = run.orders_created()
        r = self.issue([name], "--force")
        self.assert_refused(r, "state folder %s is writable by group or "
                            "others (mode 0777): chmod go-w %s"
                            % (archive, archive))
        self.assertEqual(run.orders_created(), orders)
        self.assertEqual(os.listdir(archive), ["1"])
        os.chmod(archive, 0o700)
        # --reuse-key: a key others can read is not reused (a new one is
        # made, said so); one its group can read (0640 for a web server's
        # group, the administrator's choice) is.
        key = os.path.join(archive, "1", "privkey.pem")
        os.chmod(key, 0o644)
        r = self.issue([name], "--force", "--reuse-key")
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn("private key %s is readable by others (mode 0644): "
                      "chmod o-r %s" % (key, key), r.stderr, describe(r))
        self.assertEqual(sorted(os.listdir(archive)), ["1", "2"])
        with open(key) as f1, open(os.path.join(archive, "2",
                                                "privkey.pem")) as f2:
            self.assertNotEqual(f1.read(), f2.read())
        key2 = os.path.join(archive, "2", "privkey.pem")
        os.chmod(key2, 0o640)
        r = self.issue([name], "--force", "--reuse-key")
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertNotIn("private key", r.stderr, describe(r))
        with open(key2) as f2, open(os.path.join(archive, "3",
                                                 "privkey.pem")) as f3:
            self.assertEqual(f2.read(), f3.read())

if __name__ == "__main__":
    unittest.main()
