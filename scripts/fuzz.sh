#!/usr/bin/env bash
# make fuzz: builds the libFuzzer targets of tests/fuzz with clang (ASan,
# UBSan) in their own build folder and runs each for FUZZ_SECONDS (default
# 60), FUZZ_JOBS at a time (default: the number of CPUs), from its seed
# corpus. Prints one line per target (executions, coverage, corpus, result)
# and exits 1 when any target found a crash, a leak or a hang (its input is
# kept: the path is printed; replay it with `BUILD/tests/fuzz/fuzz_T FILE`).
#
#   scripts/fuzz.sh [BUILD]          BUILD default: build-fuzz
#   FUZZ_SECONDS=600 FUZZ_TARGETS="acme_json dns_msg" scripts/fuzz.sh
#   FUZZ_WORK=DIR    the working corpora and findings (default BUILD/fuzz-work;
#                    kept between runs, so a longer run goes on from there)
#
# Exit status: 0 all clean, 1 a target failed, 2 not runnable here (no
# clang or no libFuzzer runtime: the apt-get line to run is printed).
set -u
cd "$(dirname "$0")/.." || exit 2
BUILD=${1:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
JOBS=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
WORK=${FUZZ_WORK:-$BUILD/fuzz-work}
CC_FUZZ=${FUZZ_CC:-clang}

# clang with the libFuzzer runtime: a program that links -fsanitize=fuzzer.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
    '{ (void)d; (void)n; return 0; }' >"$probe/t.c"
if ! command -v "$CC_FUZZ" >/dev/null 2>&1 ||
    ! "$CC_FUZZ" -fsanitize=fuzzer,address,undefined "$probe/t.c" \
        -o "$probe/t" >/dev/null 2>&1; then
    echo "fuzz: $CC_FUZZ with the libFuzzer runtime is missing; on Debian:" >&2
    echo "  sudo apt-get install -y --no-install-recommends clang libclang-rt-dev" >&2
    exit 2
fi

if [ ! -f "$BUILD/build.ninja" ]; then
    CC=$CC_FUZZ meson setup "$BUILD" --werror --buildtype=debugoptimized \
        -Dfuzz=true -Dtests=false -Db_sanitize=address,undefined \
        -Db_lundef=false >"$probe/setup.log" 2>&1 || {
        cat "$probe/setup.log" >&2
        exit 1
    }
fi
if ! ninja -C "$BUILD" fuzz >"$probe/build.log" 2>&1; then
    tail -40 "$probe/build.log" >&2
    exit 1
fi

targets=${FUZZ_TARGETS:-$(cd tests/fuzz && for f in fuzz_*.c; do
    t=${f#fuzz_}
    echo "${t%.c}"
done)}

# One target: its own folder under WORK holds the corpus it grows (the
# committed seeds are read, never written), the log and any finding. The
# table's corpus is libFuzzer's: inputs kept (seeds and new ones)/bytes.
run_one() {
    local t=$1 dir="$WORK/$1" exe="$BUILD/tests/fuzz/fuzz_$1" opts=()
    mkdir -p "$dir/corpus"
    rm -f "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* \
        "$dir/result"
    [ -f "tests/fuzz/$t.dict" ] && opts+=("-dict=tests/fuzz/$t.dict")
    # A per-input timeout well above the slowest seed; stdout and stderr
    # of the code under test closed (the CLI's messages), libFuzzer's and
    # the sanitizers' reports kept.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
        "$exe" -max_total_time="$SECONDS_EACH" -timeout=25 \
        -rss_limit_mb=2560 -print_final_stats=1 -close_fd_mask=3 \
        -artifact_prefix="$dir/" "${opts[@]}" "$dir/corpus" \
        "tests/fuzz/corpus/$t" >"$dir/log" 2>&1
    local rc=$? execs cov corp finding
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$dir/log" | tail -1)
    corp=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$dir/log" | tail -1)
    corp=${corp#corp: }
    finding=$(ls "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* \
        2>/dev/null | head -1)
    if [ "$rc" -eq 0 ] && [ -z "$finding" ]; then
        res=ok
    else
        res="FAILED ${finding:-exit $rc} (log: $dir/log)"
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$t" "${execs:-?}" "${cov:-?}" "$corp" \
        "$res" >"$dir/result"
}

echo "fuzz: $(echo "$targets" | wc -w) targets, ${SECONDS_EACH}s each, $JOBS at a time"
running=0
for t in $targets; do
    if [ ! -f "tests/fuzz/fuzz_$t.c" ]; then
        echo "fuzz: no target $t" >&2
        exit 2
    fi
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

status=0
printf '%-14s %12s %-22s %12s  %s\n' target executions coverage corpus result
for t in $targets; do
    if [ -f "$WORK/$t/result" ]; then
        IFS=$'\t' read -r name execs cov corp res <"$WORK/$t/result"
    else
        name=$t execs=? cov=? corp=? res="FAILED (no result)"
    fi
    printf '%-14s %12s %-22s %12s  %s\n' "$name" "$execs" "$cov" "$corp" "$res"
    [ "$res" = ok ] || status=1
done
exit $status
