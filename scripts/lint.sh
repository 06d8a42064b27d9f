#!/usr/bin/env bash
# Banned functions and habits (DESIGN.md). Prints offenders, exits 1 if any.
# usage: lint.sh [BUILD_DIR] (default build: the circles of calls are read
# from its objects).
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
status=0
check() {
    local what=$1 pattern=$2; shift 2
    # Strip // and /* */ one-line comments and string literals before matching.
    local hits
    hits=$(grep -nE "$pattern" "$@" 2>/dev/null |
        grep -vE '^\S+:[0-9]+:\s*(/?\*|//)' || true)
    if [ -n "$hits" ]; then
        echo "lint: $what:" >&2
        echo "$hits" >&2
        status=1
    fi
}
LIB=$(find lib -name '*.c' -o -name '*.h' | sort)
ALL=$(find lib cli examples tests/unit tests/fsm tests/fuzz -name '*.c' -o -name '*.h' 2>/dev/null | sort)
# shellcheck disable=SC2086
check "unbounded string function" '\b(strcpy|strcat|sprintf|vsprintf|gets|strtok)\s*\(' $ALL
# shellcheck disable=SC2086
check "unchecked number parsing (use strtol/strtoull)" '\b(atoi|atol|atoll|atof)\s*\(' $ALL
# shellcheck disable=SC2086
check "printing from the library (log through the context)" '\b(printf|puts|perror)\s*\(|\bfprintf\s*\(\s*(stdout|stderr)' $LIB
# shellcheck disable=SC2086
check "sleeping in the library (use deadlines)" '\b(sleep|usleep|nanosleep)\s*\(' $LIB
# shellcheck disable=SC2086
check "curl outside net/http.c" '#include\s*<curl/' $(echo "$LIB" | grep -v '^lib/net/http.c$')
# shellcheck disable=SC2086
check "libmicrohttpd outside the http-01 responder" '#include\s*<microhttpd' $(echo "$LIB" | grep -v '^lib/net/http01_server.c$')
# shellcheck disable=SC2086
check "OpenSSL outside the crypto files and the tls-alpn-01 responder" '#include\s*<openssl/' $(echo "$LIB" | grep -vE '^lib/(crypto/[a-z0-9_]+|solver/tlsalpn01)\.c$')
# jansson behind util/json.c: the rest of lib/ reads typed views and
# leec_json.
# shellcheck disable=SC2086
check "jansson outside lib/util/json.c" '#include\s*<jansson' $(echo "$LIB" | grep -vE '^lib/util/json\.c$')
# shellcheck disable=SC2086
check "json_ call outside lib/util/json.c (use util/json.h)" '\bjson_[a-z_]+\s*\(' $(echo "$LIB" | grep -vE '^lib/util/json\.c$')
# libpq behind the PostgreSQL store: nothing else in lib/ talks to a database.
# shellcheck disable=SC2086
check "libpq outside lib/store/store_pg.c" '#include\s*<(libpq-fe|libpq/|pg_config)' $(echo "$LIB" | grep -vE '^lib/store/store_pg\.c$')
# shellcheck disable=SC2086
check "ldns outside the DNS files" '#include\s*<ldns/' $(echo "$LIB" | grep -vE '^lib/(net/dns|solver/dns01|solver/rfc2136|solver/persist)\.c$')
# The code's style (.clang-format), with the clang-format the tree is
# formatted with: another major version formats some lines otherwise, so
# it is not asked (said so).
if command -v clang-format >/dev/null 2>&1 &&
    clang-format --version | grep -qE 'version 14\.'; then
    unformatted=$(git ls-files '*.c' '*.h' 2>/dev/null |
        while read -r f; do
            clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || echo "$f"
        done)
    if [ -n "$unformatted" ]; then
        echo "lint: not formatted as .clang-format says (clang-format -i FILE):" >&2
        echo "$unformatted" >&2
        status=1
    fi
else
    echo "lint: format not checked (clang-format 14 not found)"
fi
# No circle of calls among the library's files, and no call up the layers;
# no circle among the CLI's files either (scripts/cycles.py): read from the
# objects of a build, so only with one.
if [ -d "$BUILD/libleec_internal.a.p" ]; then
    python3 scripts/cycles.py "$BUILD" lib || status=1
    if [ -d "$BUILD/cli/leec.p" ]; then
        python3 scripts/cycles.py "$BUILD" cli || status=1
    fi
else
    echo "cycles: skipped (no build)"
fi
[ $status -eq 0 ] && echo "lint: ok"
exit $status
