#!/usr/bin/env bash
# make check's systemd units test: `systemd-analyze security` must rate both
# services of a build (as installed: build/contrib/systemd) at most 4.0
# (unconfined they are 9.0 UNSAFE), and both must be confined alike. The
# units are looked at under an empty --root, so that drop-ins of the machine
# running the test do not count. Skipped without a systemd-analyze that has
# --offline (systemd 250 or later). `systemd-analyze verify` is in
# check_install.sh. Exits 1 if anything fails.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-build}
MAX=4.0
status=0
ok() { echo "units: ok: $*"; }
bad() { echo "units: FAILED: $*" >&2; status=1; }

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "units: skipped: systemd-analyze is not installed"
    exit 0
fi
if ! systemd-analyze --help 2>/dev/null | grep -q -- '--offline'; then
    echo "units: skipped: systemd-analyze has no --offline (systemd < 250)"
    exit 0
fi

ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT
mkdir -p "$ROOT/etc/systemd/system"
for unit in leec.service leec-renew.service; do
    cp "$BUILD/contrib/systemd/$unit" "$ROOT/etc/systemd/system/" ||
        bad "$BUILD/contrib/systemd/$unit missing (not built?)"
done
[ $status -eq 0 ] || exit 1

for unit in leec.service leec-renew.service; do
    out=$(systemd-analyze security --offline=true --root="$ROOT" --no-pager \
        "$unit" 2>&1)
    rc=$?
    level=$(printf '%s\n' "$out" |
        sed -n "s/.*Overall exposure level for $unit: \([0-9.]*\).*/\1/p")
    if [ $rc -ne 0 ] || [ -z "$level" ]; then
        printf '%s\n' "$out" >&2
        bad "systemd-analyze security $unit (exit $rc)"
    elif awk -v l="$level" -v m="$MAX" 'BEGIN { exit !(l <= m) }'; then
        ok "systemd-analyze security $unit: $level (at most $MAX)"
    else
        printf '%s\n' "$out" | grep '✗' >&2
        bad "systemd-analyze security $unit: $level, above $MAX"
    fi
done

# The confinement lines of [Service] (all but what to run and how to
# restart) must be the same in both.
confinement() {
    sed -n '/^\[Service\]/,/^\[/p' "$ROOT/etc/systemd/system/$1" |
        grep -E '^[A-Za-z]+=' |
        grep -Ev '^(Type|Exec[A-Za-z]*|Restart[A-Za-z]*)=' | sort
}
if diff <(confinement leec.service) <(confinement leec-renew.service) >&2; then
    ok "leec.service and leec-renew.service confined alike ($(confinement leec.service | wc -l) settings)"
else
    bad "leec.service and leec-renew.service differ in confinement (above)"
fi

[ $status -eq 0 ] && echo "units: ok"
exit $status
