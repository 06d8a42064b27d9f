"""e2e tests of what leec does with strings from the CA before they reach a
hook, a solver or a log: an authorization naming an identifier the order
did not ask for fails the certificate before any challenge is answered
(through tests/e2e/ari_proxy.py, which rewrites pebble's authorizations).
The DNS side (a CNAME to a name with shell metacharacters) is in
test_dns01.py, C0 and C1 control characters in the unit and state-machine
tests.

Loaded by run.py; run alone with
    python3 tests/e2e/run.py --leec build/cli/leec test_untrusted
"""

import os

import run
from run import LeecCase, describe
from ari_proxy import AriProxy

HOOK = r"""#!/bin/sh
printf '%%s\n' "$*" >> %s
exit 0
"""


class UntrustedTest(LeecCase):

    def test_a_authorization_for_another_name(self):
        name, victim = "liar.leec.test", "victim.leec.test"
        log = os.path.join(self.tmp, "hook.log")
        hook = os.path.join(self.tmp, "hook.sh")
        with open(hook, "w") as f:
            f.write(HOOK % log)
        os.chmod(hook, 0o755)
        with AriProxy(os.path.join(self.tmp, "ari"), run.ENV.directory_url,
                      run.ENV.ca_bundle, authz_ident=victim) as ari:
            r = self.leec("issue", "-d", name, "--server", ari.directory_url,
                          "--ca-bundle", ari.ca_bundle, "--agree-tos",
                          "--dir", self.dir, "--hook", hook)
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn("is for dns %s, which this order did not ask for"
                      % victim, r.stderr, describe(r))
        self.assertFalse(os.path.exists(log), "the hook was called")
        self.assertFalse(os.path.lexists(self.live(name)))
