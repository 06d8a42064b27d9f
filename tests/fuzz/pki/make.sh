#!/usr/bin/env bash
# Writes the small test PKI the fuzz targets load at start-up (FUZZ_DATA_DIR;
# meta.json next to it, hand-written, is what acme_session installs with the
# leaf):
# a root, an intermediate it signs (with an AIA caIssuers URI), and a leaf
# for example.com and www.example.com whose key the targets check chains
# against. The files are committed; run this again only to replace them
# (then regenerate the seeds that embed them: tests/fuzz/capture_seeds.py).
set -euo pipefail
cd "$(dirname "$0")"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ec "$t/root.key"
ec "$t/inter.key"
ec leaf.key.pem
cat > "$t/ext.cnf" <<'CNF'
[root]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[inter]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
authorityInfoAccess = caIssuers;URI:http://ca.test/root.der
[leaf]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:example.com, DNS:www.example.com
authorityInfoAccess = caIssuers;URI:http://ca.test/inter.der
CNF
openssl req -new -x509 -key "$t/root.key" -subj "/CN=leec fuzz root" \
    -days 7300 -extensions root -config "$t/ext.cnf" -out root.pem 2>/dev/null
openssl req -new -key "$t/inter.key" -subj "/CN=leec fuzz intermediate" \
    -out "$t/inter.csr"
openssl x509 -req -in "$t/inter.csr" -CA root.pem -CAkey "$t/root.key" \
    -CAcreateserial -CAserial "$t/serial" -days 7300 -extfile "$t/ext.cnf" -extensions inter \
    -out inter.pem 2>/dev/null
openssl req -new -key leaf.key.pem -subj "/CN=example.com" -out "$t/leaf.csr"
openssl x509 -req -in "$t/leaf.csr" -CA inter.pem -CAkey "$t/inter.key" \
    -CAcreateserial -CAserial "$t/serial" -days 3650 -extfile "$t/ext.cnf" -extensions leaf \
    -out leaf.pem 2>/dev/null
openssl x509 -in root.pem -outform DER -out root.der
