#!/usr/bin/env bash
# make check: lint, unit and state-machine tests (plain and sanitized), an
# install test (scripts/check_install.sh), the systemd units' confinement
# (scripts/check_units.sh), end to end against pebble. Counts every suite and
# ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-build}
ASAN=${2:-build-asan}
FUZZ=${3:-build-fuzz}
passed=0
failed=0
failures=()

count_meson() { # builddir label
    local log="$1/meson-logs/testlog.json" p f
    [ -f "$log" ] || { failed=$((failed + 1)); failures+=("$2: no test log"); return; }
    p=$(grep -c '"result": "OK"' "$log")
    f=$(grep -cE '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log")
    passed=$((passed + p))
    failed=$((failed + f))
    [ "$f" -eq 0 ] || failures+=("$2: $f test programs failed")
}

echo "== lint"
if bash scripts/lint.sh "$BUILD"; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("lint"); fi

echo "== unit and state-machine tests"
meson test -C "$BUILD" --print-errorlogs --num-processes 2
count_meson "$BUILD" "unit"

# The PostgreSQL store's tests need a server: tests/pg_env.py starts a
# throwaway one (PostgreSQL 15, as nobody when root) for each run and stops
# it after; meson test above skipped them.
count_pg() { # label, test program
    python3 tests/pg_env.py run -- "$2"
    case $? in
    0) passed=$((passed + 1)) ;;
    77) echo "$1: skipped (no PostgreSQL 15)" ;;
    *) failed=$((failed + 1)); failures+=("$1") ;;
    esac
}

echo "== the PostgreSQL store against a throwaway server"
count_pg "store_conformance_pg" "$BUILD/tests/test_store_conformance_pg"

echo "== install (into a temporary DESTDIR) and build a program against it"
if bash scripts/check_install.sh "$BUILD"; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("install"); fi

echo "== systemd units: systemd-analyze security at most 4.0"
if bash scripts/check_units.sh "$BUILD"; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("units"); fi

echo "== the same under AddressSanitizer and UBSan"
if [ ! -f "$ASAN/build.ninja" ]; then
    meson setup "$ASAN" --werror --buildtype=debug -Db_sanitize=address,undefined \
        -Db_lundef=false >/dev/null
fi
if ninja -C "$ASAN" >/dev/null; then
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        meson test -C "$ASAN" --print-errorlogs --num-processes 2
    count_meson "$ASAN" "asan"
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        count_pg "store_conformance_pg (asan)" "$ASAN/tests/test_store_conformance_pg"
else
    ninja -C "$ASAN" | tail -30
    failed=$((failed + 1)); failures+=("asan build")
fi

# Every seed of every fuzz target, then a little fuzzing: a regression
# that a seed (a past finding among them) catches fails here. Skipped
# without clang and its libFuzzer runtime (not in scripts/deps.sh).
echo "== fuzz targets, 3 seconds each (make fuzz runs them longer)"
rm -rf "$FUZZ/fuzz-smoke"
FUZZ_SECONDS=3 FUZZ_WORK="$FUZZ/fuzz-smoke" bash scripts/fuzz.sh "$FUZZ"
case $? in
0) passed=$((passed + 1)) ;;
2) echo "fuzz: skipped: no clang with the libFuzzer runtime" ;;
*) failed=$((failed + 1)); failures+=("fuzz") ;;
esac

count_e2e() { # label, then the arguments of tests/e2e/run.py
    local label=$1 out line p f
    shift
    out=$(mktemp)
    python3 tests/e2e/run.py "$@" 2>&1 | tee "$out"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    rm -f "$out"
    if [ -n "$line" ]; then
        p=${line%% passed*}
        f=${line#*passed, }; f=${f%% failed*}
        passed=$((passed + p)); failed=$((failed + f))
        [ "$f" -eq 0 ] || failures+=("$label: $f failed")
    else
        failed=$((failed + 1)); failures+=("$label: no summary")
    fi
}

echo "== end to end against pebble"
count_e2e e2e --leec "$BUILD/cli/leec"

# The command line's own paths (renew, the daemon, revoke, ca-cert, list,
# every --json)
# under the sanitizers: a leak or undefined behaviour fails the exit status
# the tests check.
echo "== end to end under AddressSanitizer and UBSan (a sample)"
if [ -x "$ASAN/cli/leec" ]; then
    export ASAN_OPTIONS=detect_leaks=1
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    count_e2e e2e-asan --leec "$ASAN/cli/leec" test_renew.RenewTest \
        test_renew.AriTest test_renew.DaemonSignalsTest test_revoke test_aia \
        test_admin test_json
    unset ASAN_OPTIONS UBSAN_OPTIONS
else
    failed=$((failed + 1)); failures+=("e2e-asan: no sanitized leec")
fi

echo
for x in "${failures[@]}"; do echo "FAILED: $x"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
