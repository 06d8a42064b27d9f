#!/usr/bin/env bash
# make check: lint, unit and state-machine tests (plain and sanitized), an
# install test (scripts/check_install.sh), end to end against pebble. Counts
# every suite and ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
ASAN=${2:-build-asan}
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
if bash scripts/lint.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("lint"); fi

echo "== unit and state-machine tests"
meson test -C "$BUILD" --print-errorlogs --num-processes 2
count_meson "$BUILD" "unit"

echo "== install (into a temporary DESTDIR) and build a program against it"
if bash scripts/check_install.sh "$BUILD"; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("install"); fi

echo "== the same under AddressSanitizer and UBSan"
if [ ! -f "$ASAN/build.ninja" ]; then
    meson setup "$ASAN" --werror --buildtype=debug -Db_sanitize=address,undefined \
        -Db_lundef=false >/dev/null
fi
if ninja -C "$ASAN" >/dev/null; then
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        meson test -C "$ASAN" --print-errorlogs --num-processes 2
    count_meson "$ASAN" "asan"
else
    ninja -C "$ASAN" | tail -30
    failed=$((failed + 1)); failures+=("asan build")
fi

echo "== end to end against pebble"
e2e_out=$(mktemp)
python3 tests/e2e/run.py --leec "$BUILD/cli/leec" 2>&1 | tee "$e2e_out"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$e2e_out" | tail -n 1)
rm -f "$e2e_out"
if [ -n "$line" ]; then
    p=${line%% passed*}
    f=${line#*passed, }; f=${f%% failed*}
    passed=$((passed + p)); failed=$((failed + f))
    [ "$f" -eq 0 ] || failures+=("e2e: $f failed")
else
    failed=$((failed + 1)); failures+=("e2e: no summary")
fi

echo
for x in "${failures[@]}"; do echo "FAILED: $x"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
