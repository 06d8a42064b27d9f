"""e2e tests of `leec ca-cert` fetching the root over AIA caIssuers URLs
(RFC 5280 §4.2.2.1) when a stored chain stops short of it.

pebble's certificates carry no Authority Information Access, so this module
makes its own PKI with the openssl command: a root, an intermediate whose
caIssuers is http://127.0.0.1:PORT/root.der, a second-level intermediate
whose caIssuers is .../int.der, and leaves; it serves the DER files from an
http.server of its own on 127.0.0.1 (a port the kernel picks, a thread of
this process, shut down afterwards) and lays out state folders by hand as
lib/store_fs.c does.  No pebble.

* one hop (chain.pem: the intermediate) and two hops (the second-level
  intermediate), to a file and to stdout;
* the issuer served as PEM and as a PKCS#7 certs-only bundle;
* a chain that already ends in a root: written without any request;
* refused: a certificate that is not the issuer (same name, other key),
  an answer that is no certificate, HTTP 404, the server down: exit 1, the
  URL and the reason on stderr, nothing written.

Run alone with
    python3 tests/e2e/run.py --leec build/cli/leec test_aia
"""

import http.server
import os
import socket
import threading

import run
from run import LeecCase, describe

NAME = "aia.leec.test"


class Served:
    """A tiny HTTP server answering GET PATH from a dict; records paths."""

    def __init__(self):
        self.files = {}
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                ctype, data = body
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def closed_port():
    """A port nothing listens on (bound then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Pki:
    """Keys and certificates made with the openssl command in folder d."""

    def __init__(self, d):
        self.d = d
        os.makedirs(d, exist_ok=True)

    def path(self, name, ext="pem"):
        return os.path.join(self.d, "%s.%s" % (name, ext))

    def key(self, name):
        run.openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-out", self.path(name, "key"))

    def root(self, name, cn):
        self.key(name)
        run.openssl("req", "-x509", "-new", "-key", self.path(name, "key"),
                    "-subj", "/CN=%s" % cn, "-days", "30", "-sha256",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                    "-addext", "subjectKeyIdentifier=hash",
                    "-out", self.path(name))

    def issue(self, name, cn, issuer, aia_url, ca=True, san=None):
        """A certificate for cn signed by issuer, caIssuers aia_url."""
        self.key(name)
        run.openssl("req", "-new", "-key", self.path(name, "key"),
                    "-subj", "/CN=%s" % cn, "-out", self.path(name, "csr"))
        ext = ["subjectKeyIdentifier=hash",
               "authorityKeyIdentifier=keyid:always",
               "authorityInfoAccess=caIssuers;URI:%s" % aia_url]
        if ca:
            ext += ["basicConstraints=critical,CA:TRUE",
                    "keyUsage=critical,keyCertSign,cRLSign"]
        else:
            ext += ["basicConstraints=critical,CA:FALSE",
                    "keyUsage=critical,digitalSignature",
                    "subjectAltName=DNS:%s" % san]
        extfile = self.path(name, "ext")
        with open(extfile, "w") as f:
            f.write("\n".join(ext) + "\n")
        run.openssl("x509", "-req", "-in", self.path(name, "csr"),
                    "-CA", self.path(issuer), "-CAkey", self.path(issuer, "key"),
                    "-CAcreateserial", "-days", "30", "-sha256",
                    "-extfile", extfile, "-out", self.path(name))

    def pem(self, name):
        with open(self.path(name)) as f:
            return f.read()

    def der(self, name):
        run.openssl("x509", "-in", self.path(name), "-outform", "DER",
                    "-out", self.path(name, "der"))
        with open(self.path(name, "der"), "rb") as f:
            return f.read()

    def pkcs7_der(self, *names):
        args = ["crl2pkcs7", "-nocrl", "-outform", "DER",
                "-out", self.path("bundle", "p7c")]
        for n in names:
            args += ["-certfile", self.path(n)]
        run.openssl(*args)
        with open(self.path("bundle", "p7c"), "rb") as f:
            return f.read()


SERVED = None
PKI = None


class AiaTest(LeecCase):
    needs_pebble = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        global SERVED, PKI
        SERVED = Served()
        PKI = Pki(os.path.join(run.SCRATCH, "aia-pki"))
        PKI.root("root", "leec AIA Test Root")
        # the same name with another key: what an impostor would serve
        PKI.root("evil", "leec AIA Test Root")
        PKI.issue("int", "leec AIA Test Intermediate", "root",
                  SERVED.url("/root.der"))
        PKI.issue("int2", "leec AIA Test Second Intermediate", "int",
                  SERVED.url("/int.der"))
        PKI.issue("leaf", NAME, "int", SERVED.url("/int.der"), ca=False,
                  san=NAME)
        PKI.issue("leaf2", NAME, "int2", SERVED.url("/int2.der"), ca=False,
                  san=NAME)
        PKI.issue("int_dead", "leec AIA Test Intermediate", "root",
                  "http://127.0.0.1:%d/root.der" % closed_port())
        PKI.issue("leaf_dead", NAME, "int_dead", SERVED.url("/none"),
                  ca=False, san=NAME)
        cls.root_pem = PKI.pem("root")

    @classmethod
    def tearDownClass(cls):
        global SERVED
        if SERVED is not None:
            SERVED.stop()
            SERVED = None
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        SERVED.files = {
            "/root.der": ("application/pkix-cert", PKI.der("root")),
            "/int.der": ("application/pkix-cert", PKI.der("int")),
        }
        SERVED.requests = []

    # -- a state folder laid out as lib/store_fs.c does
    def make_store(self, leaf, chain):
        version = os.path.join(self.dir, "archive", NAME, "1")
        os.makedirs(version, mode=0o700)
        for sub in ("accounts", "live", "locks"):
            os.makedirs(os.path.join(self.dir, sub), mode=0o700,
                        exist_ok=True)
        cert = PKI.pem(leaf)
        chain_pem = "".join(PKI.pem(c) for c in chain)
        files = {"cert.pem": cert, "chain.pem": chain_pem,
                 "fullchain.pem": cert + chain_pem}
        for f, data in files.items():
            with open(os.path.join(version, f), "w") as fh:
                fh.write(data)
        key = os.path.join(version, "privkey.pem")
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(PKI.path(leaf, "key")) as src, os.fdopen(fd, "w") as dst:
            dst.write(src.read())
        os.symlink("../archive/%s/1" % NAME,
                   os.path.join(self.dir, "live", NAME))

    def ca_cert(self, *extra):
        out = os.path.join(self.tmp, "ca.pem")
        r = self.leec("ca-cert", NAME, "--dir", self.dir, "--out", out,
                      *extra)
        return r, out

    def assert_root_written(self, r, out):
        self.assertEqual(r.returncode, 0, describe(r))
        with open(out) as f:
            got = f.read()
        self.assertEqual(run.pem_blocks(got), run.pem_blocks(self.root_pem),
                         describe(r))
        self.assertIn("wrote the root", r.stderr, describe(r))

    def assert_refused(self, r, out, *needles):
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertFalse(os.path.exists(out), describe(r))
        self.assertEqual(r.stdout, "", describe(r))
        for n in needles:
            self.assertIn(n, r.stderr, describe(r))

    # -- fetched
    def test_a_one_hop(self):
        self.make_store("leaf", ["int"])
        r, out = self.ca_cert()
        self.assert_root_written(r, out)
        self.assertEqual(SERVED.requests, ["/root.der"])
        # stdout, and the store's only certificate by default
        r = self.leec("ca-cert", "--dir", self.dir)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(run.pem_blocks(r.stdout),
                         run.pem_blocks(self.root_pem), describe(r))

    def test_b_two_hops(self):
        self.make_store("leaf2", ["int2"])
        r, out = self.ca_cert()
        self.assert_root_written(r, out)
        self.assertEqual(SERVED.requests, ["/int.der", "/root.der"])

    def test_c_pem_and_pkcs7(self):
        self.make_store("leaf", ["int"])
        SERVED.files["/root.der"] = ("application/x-pem-file",
                                     self.root_pem.encode())
        r, out = self.ca_cert()
        self.assert_root_written(r, out)
        os.unlink(out)
        # a bundle holding another certificate before the issuer
        SERVED.files["/root.der"] = ("application/pkcs7-mime",
                                     PKI.pkcs7_der("evil", "root"))
        r, out = self.ca_cert()
        self.assert_root_written(r, out)

    def test_d_already_a_root(self):
        self.make_store("leaf", ["int", "root"])
        r, out = self.ca_cert()
        self.assert_root_written(r, out)
        self.assertEqual(SERVED.requests, [])

    # -- refused
    def test_e_not_the_issuer(self):
        self.make_store("leaf", ["int"])
        SERVED.files["/root.der"] = ("application/pkix-cert", PKI.der("evil"))
        r, out = self.ca_cert()
        self.assert_refused(r, out, SERVED.url("/root.der"),
                            "is not the issuer")

    def test_f_not_a_certificate(self):
        self.make_store("leaf", ["int"])
        SERVED.files["/root.der"] = ("application/pkix-cert",
                                     b"<html>hello</html>")
        r, out = self.ca_cert()
        self.assert_refused(r, out, SERVED.url("/root.der"),
                            "holds no certificate")

    def test_g_not_found(self):
        self.make_store("leaf", ["int"])
        del SERVED.files["/root.der"]
        r, out = self.ca_cert()
        self.assert_refused(r, out, SERVED.url("/root.der"), "HTTP status 404")

    def test_h_server_down(self):
        self.make_store("leaf_dead", ["int_dead"])
        r, out = self.ca_cert()
        self.assert_refused(r, out, "/root.der", "could not be fetched",
                            "HTTP transport error")

    def test_h_server_down_allow_intermediate(self):
        """--allow-intermediate: the root out of reach, the top certificate
        of the chain is written, with the reason as a warning."""
        self.make_store("leaf_dead", ["int_dead"])
        r, out = self.ca_cert("--allow-intermediate")
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn("could not be fetched", r.stderr, describe(r))
        self.assertIn("writing the top certificate", r.stderr, describe(r))
        self.assertIn("wrote the top CA certificate", r.stderr, describe(r))
        self.assertTrue(os.path.exists(out), describe(r))

    def test_i_too_large(self):
        self.make_store("leaf", ["int"])
        SERVED.files["/root.der"] = ("application/pkix-cert",
                                     b"\x30" * (65 * 1024))
        r, out = self.ca_cert()
        self.assert_refused(r, out, SERVED.url("/root.der"),
                            "response too large")
