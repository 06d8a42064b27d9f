#!/usr/bin/env bash
# make check's install test: `meson install` of a build into a temporary
# DESTDIR, then checks that every file is there (program, shared library with
# its soname, headers, pkg-config file, man pages when scdoc is installed, bash
# completion, systemd units, the JSON Schemas of --json) and that a small
# program builds against the installed headers and library through
# pkg-config, links and runs. Exits 1 if
# anything fails.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-build}
status=0
ok() { echo "install: ok: $*"; }
bad() { echo "install: FAILED: $*" >&2; status=1; }

[ -f "$BUILD/build.ninja" ] || { bad "$BUILD is not a configured build"; exit 1; }

DEST=$(mktemp -d)
trap 'rm -rf "$DEST"' EXIT

# Installation directories as configured (relative ones are under prefix;
# an empty systemdunitdir means prefix/lib/systemd/system).
bindir='' libdir='' includedir='' mandir='' datadir='' systemdunitdir=''
eval "$(meson introspect "$BUILD" --buildoptions | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
p = o["prefix"]
o["systemdunitdir"] = o.get("systemdunitdir") or "lib/systemd/system"
for k in ("bindir", "libdir", "includedir", "mandir", "datadir", "systemdunitdir"):
    v = o[k] if o[k].startswith("/") else p.rstrip("/") + "/" + o[k]
    print(f"{k}={v!r}")
')"

if DESTDIR="$DEST" meson install -C "$BUILD" --no-rebuild >"$DEST.log" 2>&1; then
    ok "meson install into DESTDIR"
else
    cat "$DEST.log" >&2
    bad "meson install"
fi
rm -f "$DEST.log"

lib="$DEST$libdir"
have() { # test-flag path what
    if test "$1" "$2"; then ok "$3 (${2#"$DEST"})"; else bad "$3 missing: ${2#"$DEST"}"; fi
}
have -x "$DEST$bindir/leec" "program"
have -f "$lib/libleec.so.0" "shared library"
have -L "$lib/libleec.so" "development link"
have -f "$DEST$includedir/leec/leec.h" "header"
have -f "$DEST$includedir/leec/store.h" "header"
have -f "$DEST$includedir/leec/solver.h" "header (solver interface)"
have -f "$DEST$includedir/leec/dns_provider.h" "header (DNS-provider interface)"
have -f "$lib/pkgconfig/libleec.pc" "pkg-config file"
have -f "$DEST$datadir/bash-completion/completions/leec" "bash completion"
have -f "$DEST$datadir/doc/leec/leec.conf.sample" "sample configuration file"

soname=$(readelf -d "$lib/libleec.so.0" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" = "libleec.so.0" ]; then ok "soname $soname"; else bad "soname is '$soname'"; fi

if command -v scdoc >/dev/null 2>&1; then
    for page in man1/leec.1 man3/libleec.3; do
        f="$DEST$mandir/$page"
        if [ -f "$f" ] && MANWIDTH=80 man -l "$f" 2>/dev/null | grep -q '^NAME'; then
            ok "man page ${f#"$DEST"}"
        else
            bad "man page $page missing or does not render"
        fi
    done
else
    echo "install: skipped: man pages (scdoc is not installed)"
fi

# systemd units: all three, running the installed program by its full path.
for unit in leec.service leec-renew.service leec-renew.timer; do
    have -f "$DEST$systemdunitdir/$unit" "systemd unit"
done
for unit in leec.service leec-renew.service; do
    f="$DEST$systemdunitdir/$unit"
    if grep -q "^ExecStart=$bindir/leec " "$f" 2>/dev/null; then
        ok "$unit runs $bindir/leec"
    else
        bad "$unit does not run $bindir/leec: $(grep '^ExecStart=' "$f" 2>/dev/null)"
    fi
done
if grep -q '^OnCalendar=' "$DEST$systemdunitdir/leec-renew.timer" 2>/dev/null &&
    ! grep -q '@[a-z]*@' "$DEST$systemdunitdir"/leec* 2>/dev/null; then
    ok "systemd units configured (no @...@ left)"
else
    bad "systemd units not configured"
fi
# systemd's own check, on copies that run the program where it was installed
# in DESTDIR (the units name its final path, which may not exist here).
if command -v systemd-analyze >/dev/null 2>&1; then
    mkdir -p "$DEST/units"
    for unit in leec.service leec-renew.service leec-renew.timer; do
        sed "s#^ExecStart=$bindir/leec #ExecStart=$DEST$bindir/leec #" \
            "$DEST$systemdunitdir/$unit" >"$DEST/units/$unit"
    done
    # It warns of unknown keys and bad values but still exits 0: any output
    # is a failure.
    if out=$(cd "$DEST/units" && systemd-analyze verify --man=no \
        ./leec.service ./leec-renew.service ./leec-renew.timer 2>&1) &&
        [ -z "$out" ]; then
        ok "systemd-analyze verify"
    else
        bad "systemd-analyze verify: $out"
    fi
else
    echo "install: skipped: systemd-analyze verify (systemd-analyze is not installed)"
fi

comp="$DEST$datadir/bash-completion/completions/leec"
if [ -f "$comp" ] && bash -c 'source "$1" && complete -p leec' _ "$comp" >/dev/null 2>&1; then
    ok "completion loads"
else
    bad "completion does not load"
fi

# The JSON Schemas of --json (doc/json/): every one, each valid JSON.
for f in doc/json/*.schema.json; do
    g="$DEST$datadir/doc/leec/json/${f#doc/json/}"
    if python3 -m json.tool "$g" >/dev/null 2>&1; then
        ok "JSON Schema ${g#"$DEST"}"
    else
        bad "JSON Schema missing or not JSON: ${g#"$DEST"}"
    fi
done

out=$(LD_LIBRARY_PATH="$lib" "$DEST$bindir/leec" version 2>&1)
if [ "$out" = "leec $(sed -n 's/^#define LEEC_VERSION "\(.*\)"/\1/p' include/leec/leec.h)" ]; then
    ok "installed leec runs: $out"
else
    bad "installed leec version: $out"
fi

# Build programs against the installed files only, through pkg-config.
export PKG_CONFIG_PATH="$lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$DEST"
if pkg-config --print-errors --exists libleec &&
    pkg-config --print-errors --static --libs libleec >/dev/null; then
    ok "pkg-config libleec (Requires.private resolve): $(pkg-config --modversion libleec)"
else
    bad "pkg-config cannot resolve libleec or its Requires.private"
fi
cflags=$(pkg-config --cflags libleec)
libs=$(pkg-config --libs libleec)
cat >"$DEST/t.c" <<'C'
#include <leec/leec.h>
#include <leec/store.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    leec_ctx *ctx = leec_ctx_new();
    if (!ctx)
        return 1;
    /* The store interface's header stands on its own. */
    if (!leec_store_name_valid("example.com") ||
        leec_store_new(NULL, NULL, NULL) != NULL)
        return 1;
    const char *m = leec_strerror(LEEC_E_TOS);
    printf("%s: %s\n", LEEC_VERSION, m);
    leec_ctx_free(ctx);
    return strcmp(leec_strerror(LEEC_OK), "success") != 0;
}
C
# shellcheck disable=SC2086 # pkg-config output is a list of words
if cc -std=c17 -Wall -Wextra -Werror -pedantic $cflags "$DEST/t.c" -o "$DEST/t" \
    $libs -Wl,-rpath,"$lib" 2>&1; then
    ok "compiled and linked with: cc $cflags t.c $libs"
    if ldd "$DEST/t" | grep -q "libleec.so.0 => $lib/"; then
        ok "the program uses the installed libleec"
    else
        bad "the program does not load the installed libleec: $(ldd "$DEST/t" | grep leec)"
    fi
    if out=$("$DEST/t"); then ok "the program runs: $out"; else bad "the program failed: $out"; fi
else
    bad "cannot build a program against the installed library"
fi

# A program with a solver and a DNS provider of its own, plugged in through
# the installed headers: registered, given to an agent, destroyed with the
# context (no network: the agent is never started).
cat >"$DEST/plug.c" <<'C'
#include <leec/dns_provider.h>
#include <leec/leec.h>
#include <leec/solver.h>
#include <stdio.h>

static int destroyed;

static leec_status present(void *impl, const leec_challenge *ch,
                           leec_solver_done_fn done, void *done_arg, void **op)
{
    (void)impl, (void)done, (void)done_arg, (void)op;
    return ch->wildcard ? LEEC_STATUS_DECLINED : LEEC_STATUS_DONE;
}

static leec_status cleanup(void *impl, void *op, bool valid,
                           leec_solver_done_fn done, void *done_arg)
{
    (void)impl, (void)op, (void)valid, (void)done, (void)done_arg;
    return LEEC_STATUS_DONE;
}

static leec_status add(void *impl, const char *zone, const char *fqdn,
                       const char *value, leec_solver_done_fn done,
                       void *done_arg, void **op)
{
    (void)impl, (void)zone, (void)fqdn, (void)value, (void)op;
    done(done_arg, LEEC_E_SOLVER, "not here");
    return LEEC_STATUS_PENDING;
}

static leec_status remove_txt(void *impl, void *op, leec_solver_done_fn done,
                              void *done_arg)
{
    (void)impl, (void)op, (void)done, (void)done_arg;
    return LEEC_STATUS_DONE;
}

static void destroy(void *impl)
{
    (void)impl;
    destroyed++;
}

static const leec_solver_ops solver_ops = {
    .type = "http-01", .name = "mine", .present = present,
    .cleanup = cleanup, .destroy = destroy};
static const leec_dns_provider_ops dns_ops = {
    .name = "my DNS", .needs_zone = true, .add = add,
    .remove = remove_txt, .destroy = destroy};

int main(void)
{
    leec_code err = LEEC_E_IO;
    leec_ctx *ctx = leec_ctx_new();
    leec_dns_options o = {.resolver = "127.0.0.1:53"};
    const char *names[] = {"example.org"};
    if (!ctx)
        return 1;
    leec_solver *s = leec_ctx_add_solver(ctx, &solver_ops, NULL, &err);
    if (!s || err != LEEC_OK)
        return 2;
    leec_solver *d = leec_ctx_solver_dns(ctx, &o, &dns_ops, NULL, &err);
    if (!d || err != LEEC_OK)
        return 3;
    leec_agent *a = leec_agent_new(ctx, NULL, names, 1, &err);
    if (!a || leec_agent_set_solver(a, s) != LEEC_OK ||
        leec_agent_set_solver(a, d) != LEEC_OK)
        return 4;
    leec_ctx_free(ctx);
    printf("solver and DNS provider plugged in, %d destroyed\n", destroyed);
    return destroyed != 2;
}
C
# shellcheck disable=SC2086 # pkg-config output is a list of words
if cc -std=c17 -Wall -Wextra -Werror -pedantic $cflags "$DEST/plug.c" \
    -o "$DEST/plug" $libs -Wl,-rpath,"$lib" 2>&1; then
    ok "compiled and linked a program with its own solver and DNS provider"
    if out=$("$DEST/plug"); then ok "it runs: $out"; else bad "it failed: $out"; fi
else
    bad "cannot build a program with its own solver and DNS provider"
fi

[ $status -eq 0 ] && echo "install: ok"
exit $status
