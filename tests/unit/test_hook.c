/* Tests for lib/solver/hook.c: real processes running shell scripts the
 * tests write, on a real context's loop. */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "leec/leec.h"
#include "solver/hook.h"
#include "solver/providers.h"
#include "testutil.h"

#define FQDN    "_acme-challenge.example.com."
#define TXT     "LPsIwTo7o8BoG0-vjCyGQGBWSVIPxI-i_X336eUOQZo"
#define TOKEN   "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define KEYAUTH TOKEN ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
/* What a hostile CA might try on a hook that builds a shell string. */
#define EVIL                                                                   \
    "a b  \"c\" 'd' $(touch PWNED1) ; touch PWNED2 `touch PWNED3` "            \
    "$HOME \\ * && touch PWNED4 | >PWNED5"
/* A descriptor the host opened without O_CLOEXEC: no hook may see it. */
#define STRAY_FD 57

typedef struct fixture {
    char *dir;
    leec_ctx *ctx;
    char **logs;
    size_t nlogs;
    int nfds; /* open descriptors after setup */
} fixture;

typedef struct result {
    int calls;
    leec_code rc;
    char *msg;
} result;

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the DIR's own */
}

static void log_fn(void *userdata, leec_log_level level, const char *msg)
{
    fixture *f = userdata;
    char **v = realloc(f->logs, (f->nlogs + 1) * sizeof *v);

    (void)level;
    if (!v)
        return;
    f->logs = v;
    f->logs[f->nlogs] = strdup(msg);
    if (f->logs[f->nlogs])
        f->nlogs++;
}

static bool log_has(const fixture *f, const char *needle)
{
    for (size_t i = 0; i < f->nlogs; i++)
        if (strstr(f->logs[i], needle))
            return true;
    return false;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    if (!f)
        return -1;
    if (!(f->dir = tu_tmpdir("leec-hook")))
        return -1;
    f->ctx = leec_ctx_new();
    if (!f->ctx)
        return -1;
    leec_ctx_set_log(f->ctx, log_fn, f, LEEC_LOG_DEBUG);
    /* Creates the transport (and its descriptors) before counting. */
    (void)leec_ctx_poll(f->ctx, 0);
    f->nfds = count_fds();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    leec_ctx_free(f->ctx);
    tu_rmtree(f->dir);
    for (size_t i = 0; i < f->nlogs; i++)
        free(f->logs[i]);
    free(f->logs);
    free(f->dir);
    free(f);
    return 0;
}

/* No child left, running or zombie; no descriptor left open. */
static void assert_clean(const fixture *f)
{
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    assert_int_equal(count_fds(), f->nfds);
}

__attribute__((format(printf, 2, 3))) static char *pathf(const fixture *f,
                                                         const char *fmt, ...)
{
    char *rel = NULL, *p = NULL;
    va_list ap;

    va_start(ap, fmt);
    assert_true(vasprintf(&rel, fmt, ap) >= 0);
    va_end(ap);
    assert_true(asprintf(&p, "%s/%s", f->dir, rel) >= 0);
    free(rel);
    return p;
}

/* Writes dir/name, executable: "#!/bin/sh", cd to dir, then body. */
static char *script(const fixture *f, const char *name, const char *body)
{
    char *path = pathf(f, "%s", name);
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fprintf(fp, "#!/bin/sh\ncd '%s' || exit 99\n%s\n", f->dir, body);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, 0700), 0);
    return path;
}

/* A hook that appends its arguments, one a line, to dir/args. */
static char *recorder(const fixture *f, const char *then)
{
    char *body = NULL, *path = NULL;

    assert_true(asprintf(&body,
                         "{ echo \"--- $#\"\n"
                         "  for a in \"$@\"; do printf '[%%s]\\n' \"$a\"; "
                         "done\n"
                         "  echo \"LEEC_HOOK=$LEEC_HOOK\"\n"
                         "  if [ -e /proc/$$/fd/%d ]; then echo leak; fi\n"
                         "} >> args\n%s",
                         STRAY_FD, then) >= 0);
    path = script(f, "hook.sh", body);
    free(body);
    return path;
}

static char *slurp(const fixture *f, const char *name)
{
    char *path = pathf(f, "%s", name);
    FILE *fp = fopen(path, "r");
    char *s = calloc(1, 65536);
    size_t n = 0;

    assert_non_null(s);
    if (fp) {
        n = fread(s, 1, 65535, fp);
        fclose(fp);
    }
    s[n] = '\0';
    free(path);
    return s;
}

static bool exists(const fixture *f, const char *name)
{
    char *path = pathf(f, "%s", name);
    bool yes = access(path, F_OK) == 0;

    free(path);
    return yes;
}

static void done_cb(void *userdata, leec_code rc, const char *msg)
{
    result *r = userdata;

    r->calls++;
    r->rc = rc;
    free(r->msg);
    r->msg = msg ? strdup(msg) : NULL;
}

static void result_reset(result *r)
{
    free(r->msg);
    memset(r, 0, sizeof *r);
}

/* Drives the loop until r is reported, at most max_ms. */
static void run_until(fixture *f, result *r, int max_ms)
{
    int64_t end = tu_now_ms() + max_ms;

    while (r->calls == 0 && tu_now_ms() < end) {
        assert_int_equal(leec_ctx_perform(f->ctx, NULL), LEEC_OK);
        if (r->calls)
            break;
        assert_int_equal(leec_ctx_poll(f->ctx, 50), LEEC_OK);
    }
    assert_int_equal(r->calls, 1);
}

/* Drives the loop a little more: nothing else may be reported. */
static void run_idle(fixture *f, int ms)
{
    int64_t end = tu_now_ms() + ms;

    while (tu_now_ms() < end) {
        assert_int_equal(leec_ctx_perform(f->ctx, NULL), LEEC_OK);
        assert_int_equal(leec_ctx_poll(f->ctx, 20), LEEC_OK);
    }
}

static leec_dns_provider *dns_hook(fixture *f, const char *cmd)
{
    leec_code err = LEEC_E_STATE;
    leec_dns_provider *p = Leec_dns_hook_new(f->ctx, cmd, &err);

    assert_non_null(p);
    assert_int_equal(err, LEEC_OK);
    assert_false(p->ops->needs_zone);
    return p;
}

static leec_solver *hook_solver(fixture *f, const char *cmd)
{
    leec_code err = LEEC_E_STATE;
    leec_solver *s = Leec_hook_solver_new(f->ctx, cmd, &err);

    assert_non_null(s);
    assert_int_equal(err, LEEC_OK);
    assert_null(Leec_solver_ops(s)->type);
    return s;
}

/* The process state letter of pid, 0 if it is gone. */
static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    FILE *fp;
    char st = 0;

    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    fp = fopen(path, "r");
    if (!fp)
        return 0;
    if (fgets(buf, sizeof buf, fp)) {
        char *rp = strrchr(buf, ')');
        if (rp && rp[1] == ' ')
            st = rp[2];
    }
    fclose(fp);
    return st;
}

/* ---- dns-01 provider ------------------------------------------------ */

static void test_dns_args_exact(void **state)
{
    fixture *f = *state;
    char *hook = recorder(f, "exit 0");
    char *cmd = NULL;
    char *got = NULL, *want = NULL;
    result r = {0};
    void *op = NULL;
    int stray = open("/dev/null", O_RDONLY);

    /* The user's command is shell text: its own arguments come first. */
    assert_true(asprintf(&cmd, "%s 'user arg'", hook) >= 0);
    assert_true(stray >= 0);
    assert_int_equal(dup2(stray, STRAY_FD), STRAY_FD); /* no O_CLOEXEC */
    close(stray);
    setenv("LEEC_HOOK", "0", 1); /* replaced, not doubled */

    leec_dns_provider *p = dns_hook(f, cmd);
    assert_int_equal(p->ops->add(p->impl, NULL, FQDN, EVIL, done_cb, &r, &op),
                     LEEC_STATUS_PENDING);
    assert_non_null(op);
    assert_int_equal(r.calls, 0); /* never from inside add */
    run_until(f, &r, 10000);
    assert_int_equal(r.rc, LEEC_OK);
    assert_null(r.msg);
    result_reset(&r);

    p->ops->remove(p->impl, op, done_cb, &r);
    assert_int_equal(r.calls, 0);
    run_until(f, &r, 10000);
    assert_int_equal(r.rc, LEEC_OK);
    result_reset(&r);

    got = slurp(f, "args");
    assert_true(asprintf(&want, "--- 4\n[user arg]\n[present]\n[" FQDN
                                "]\n[" EVIL "]\nLEEC_HOOK=1\n"
                                "--- 4\n[user arg]\n[cleanup]\n[" FQDN
                                "]\n[" EVIL "]\nLEEC_HOOK=1\n") >= 0);
    assert_string_equal(got, want);
    for (int i = 1; i <= 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "PWNED%d", i);
        assert_false(exists(f, name));
    }
    unsetenv("LEEC_HOOK");
    close(STRAY_FD);
    Leec_dns_provider_free(p);
    assert_clean(f);
    free(got);
    free(want);
    free(cmd);
    free(hook);
}

static void test_dns_exit_status(void **state)
{
    fixture *f = *state;
    char *hook = script(f, "fail.sh",
                        "echo 'working on it'\n"
                        "echo 'first problem' >&2\n"
                        "echo 'zone not found' >&2\n"
                        "exit 3");
    char *want = NULL;
    result r = {0};
    void *op = NULL;
    leec_dns_provider *p = dns_hook(f, hook);

    assert_int_equal(p->ops->add(p->impl, NULL, FQDN, TXT, done_cb, &r, &op),
                     LEEC_STATUS_PENDING);
    run_until(f, &r, 10000);
    assert_int_equal(r.rc, LEEC_E_SOLVER);
    assert_true(asprintf(&want,
                         "dns hook '%s' exited with status 3: zone not found",
                         hook) >= 0);
    assert_string_equal(r.msg, want);
    assert_true(log_has(f, "]: working on it"));
    assert_true(log_has(f, "] stderr: first problem"));
    result_reset(&r);

    /* remove is owed all the same, and fails the same way. */
    p->ops->remove(p->impl, op, done_cb, &r);
    run_until(f, &r, 10000);
    assert_int_equal(r.rc, LEEC_E_SOLVER);
    assert_non_null(strstr(r.msg, "status 3"));
    result_reset(&r);
    Leec_dns_provider_free(p);
    assert_clean(f);
    free(want);
    free(hook);
}

static void test_dns_output(void **state)
{
    fixture *f = *state;
    /* An escape sequence, a CR LF line, no final newline; then far more
     * than the 16 KiB logged, which must not block the hook. */
    char *hook = script(f, "chatty.sh",
                        "printf 'red \\033[31mtext\\r\\n'\n"
                        "printf 'no newline'\n"
                        "if [ \"$1\" = cleanup ]; then\n"
                        "  i=0; while [ $i -lt 3000 ]; do\n"
                        "    echo 'line of output, line of output'; "
                        "i=$((i+1)); done\n"
                        "fi\nexit 0");
    result r = {0};
    void *op = NULL;
    leec_dns_provider *p = dns_hook(f, hook);

    assert_int_equal(p->ops->add(p->impl, NULL, FQDN, TXT, done_cb, &r, &op),
                     LEEC_STATUS_PENDING);
    run_until(f, &r, 10000);
    assert_int_equal(r.rc, LEEC_OK);
    assert_true(log_has(f, "dns hook present["));
    assert_true(log_has(f, "]: red ?[31mtext"));
    assert_false(log_has(f, "\033"));
    assert_false(log_has(f, "\r"));
    assert_true(log_has(f, "]: no newline"));
    assert_false(log_has(f, "the rest is not logged"));
    result_reset(&r);

    p->ops->remove(p->impl, op, done_cb, &r);
    run_until(f, &r, 10000);
    assert_int_equal(r.rc, LEEC_OK);
    assert_true(log_has(f, "the rest is not logged"));
    size_t lines = 0;
    for (size_t i = 0; i < f->nlogs; i++)
        lines += strstr(f->logs[i], "]: line of output") != NULL;
    assert_true(lines > 100 && lines < 16 * 1024 / 30 + 2);
    result_reset(&r);
    Leec_dns_provider_free(p);
    assert_clean(f);
    free(hook);
}

static void test_dns_timeout(void **state)
{
    fixture *f = *state;
    /* The script and what it started get SIGTERM: its process group. */
    char *hook =
        script(f, "hang.sh", "sleep 30 &\necho $! > bgpid\nwait\nexit 0");
    result r = {0};
    void *op = NULL;
    leec_dns_provider *p = dns_hook(f, hook);

    Leec_dns_hook_set_timeout_ms(p, 300);
    int64_t t0 = tu_now_ms();
    assert_int_equal(p->ops->add(p->impl, NULL, FQDN, TXT, done_cb, &r, &op),
                     LEEC_STATUS_PENDING);
    run_until(f, &r, 10000);
    int64_t took = tu_now_ms() - t0;
    assert_true(took >= 300 && took < 3000);
    assert_int_equal(r.rc, LEEC_E_SOLVER);
    assert_non_null(strstr(r.msg, "timed out after 300 ms"));
    assert_true(log_has(f, "terminating it"));
    assert_false(log_has(f, "killing it"));

    char *bg = slurp(f, "bgpid");
    pid_t pid = (pid_t)strtol(bg, NULL, 10);
    assert_true(pid > 1);
    /* Reparented to init, which reaps it (or leaves a zombie). */
    int64_t end = tu_now_ms() + 2000;
    while (proc_state(pid) != 0 && proc_state(pid) != 'Z' && tu_now_ms() < end)
        usleep(10000);
    char st = proc_state(pid);
    assert_true(st == 0 || st == 'Z');
    free(bg);
    result_reset(&r);

    /* Cleanup is a new run, with a fresh timeout. */
    p->ops->remove(p->impl, op, done_cb, &r);
    run_until(f, &r, 10000);
    assert_int_equal(r.rc, LEEC_E_SOLVER);
    result_reset(&r);
    Leec_dns_provider_free(p);
    assert_clean(f);
    free(hook);
}

static void test_dns_timeout_kill(void **state)
{
    fixture *f = *state;
    /* Ignores SIGTERM (and so does the sleep it starts). */
    char *hook = script(f, "stubborn.sh",
                        "trap '' TERM\necho $$ > scriptpid\necho started\n"
                        "while :; do sleep 0.05; done");
    char *cmd = NULL;
    result r = {0};
    void *op = NULL;

    /* The shell running the command dies of SIGTERM, the script it started
     * does not: it gets SIGKILL when the shell is reaped. */
    leec_dns_provider *p = dns_hook(f, hook);
    Leec_dns_hook_set_timeout_ms(p, 200);
    int64_t t0 = tu_now_ms();
    assert_int_equal(p->ops->add(p->impl, NULL, FQDN, TXT, done_cb, &r, &op),
                     LEEC_STATUS_PENDING);
    run_until(f, &r, 10000);
    int64_t took = tu_now_ms() - t0;
    assert_true(took >= 200 && took < 3000);
    assert_int_equal(r.rc, LEEC_E_SOLVER);
    assert_non_null(strstr(r.msg, "timed out after 200 ms"));
    char *pidtext = slurp(f, "scriptpid");
    pid_t pid = (pid_t)strtol(pidtext, NULL, 10);
    assert_true(pid > 1);
    int64_t end = tu_now_ms() + 2000;
    while (proc_state(pid) != 0 && proc_state(pid) != 'Z' && tu_now_ms() < end)
        usleep(10000);
    char st = proc_state(pid);
    assert_true(st == 0 || st == 'Z');
    free(pidtext);
    result_reset(&r);
    p->ops->remove(p->impl, op, NULL, NULL);
    Leec_dns_provider_free(p);
    assert_clean(f);

    /* The command itself ignores SIGTERM: SIGKILL after the grace. */
    assert_true(asprintf(&cmd, "exec %s", hook) >= 0);
    p = dns_hook(f, cmd);
    Leec_dns_hook_set_timeout_ms(p, 200);
    t0 = tu_now_ms();
    assert_int_equal(p->ops->add(p->impl, NULL, FQDN, TXT, done_cb, &r, &op),
                     LEEC_STATUS_PENDING);
    run_until(f, &r, 10000);
    took = tu_now_ms() - t0;
    assert_true(took >= 400 && took < 3000); /* timeout + grace */
    assert_int_equal(r.rc, LEEC_E_SOLVER);
    assert_non_null(strstr(r.msg, "timed out after 200 ms: started"));
    assert_true(log_has(f, "killing it"));
    result_reset(&r);

    /* The synchronous cleanup of a stubborn hook is bounded too. */
    t0 = tu_now_ms();
    p->ops->remove(p->impl, op, NULL, NULL);
    took = tu_now_ms() - t0;
    assert_true(took >= 400 && took < 3000);
    Leec_dns_provider_free(p);
    assert_clean(f);
    free(cmd);
    free(hook);
}

static void test_dns_sync_cleanup(void **state)
{
    fixture *f = *state;
    char *hook = recorder(f, "[ \"$1\" = cleanup ] && sleep 0.2\nexit 0");
    char *got = NULL;
    result r = {0};
    void *op = NULL;
    leec_dns_provider *p = dns_hook(f, hook);

    assert_int_equal(p->ops->add(p->impl, NULL, FQDN, TXT, done_cb, &r, &op),
                     LEEC_STATUS_PENDING);
    run_until(f, &r, 10000);
    assert_int_equal(r.rc, LEEC_OK);
    result_reset(&r);

    /* done == NULL: finished when remove returns, nothing reported. */
    p->ops->remove(p->impl, op, NULL, NULL);
    got = slurp(f, "args");
    assert_non_null(strstr(got, "[cleanup]\n[" FQDN "]\n[" TXT "]\n"));
    assert_clean(f);
    run_idle(f, 100);
    assert_int_equal(r.calls, 0);
    free(got);

    /* remove while present still runs (teardown): present is stopped, its
     * done never runs, cleanup runs. */
    char *slow = recorder(f, "[ \"$1\" = present ] && sleep 30\nexit 0");
    free(slow);
    op = NULL;
    assert_int_equal(p->ops->add(p->impl, NULL, FQDN, TXT, done_cb, &r, &op),
                     LEEC_STATUS_PENDING);
    run_idle(f, 100);
    int64_t t0 = tu_now_ms();
    p->ops->remove(p->impl, op, NULL, NULL);
    assert_true(tu_now_ms() - t0 < 3000);
    run_idle(f, 100);
    assert_int_equal(r.calls, 0);
    got = slurp(f, "args");
    assert_non_null(strstr(got, "[present]\n[" FQDN "]\n[" TXT "]\n"
                                "LEEC_HOOK=1\n--- 3\n[cleanup]"));
    Leec_dns_provider_free(p);
    assert_clean(f);
    free(got);
    free(hook);
}

static void test_dns_destroy_waits(void **state)
{
    fixture *f = *state;
    char *hook = script(f, "slowclean.sh",
                        "[ \"$1\" = cleanup ] && sleep 0.3 && touch cleaned\n"
                        "exit 0");
    result r = {0};
    void *op = NULL;
    leec_dns_provider *p = dns_hook(f, hook);

    assert_int_equal(p->ops->add(p->impl, NULL, FQDN, TXT, done_cb, &r, &op),
                     LEEC_STATUS_PENDING);
    run_until(f, &r, 10000);
    result_reset(&r);
    /* An asynchronous cleanup still running when the provider goes: it is
     * given its bounded time; its done is not called any more. */
    p->ops->remove(p->impl, op, done_cb, &r);
    Leec_dns_provider_free(p);
    assert_true(exists(f, "cleaned"));
    run_idle(f, 100);
    assert_int_equal(r.calls, 0);
    assert_clean(f);
    free(hook);
}

static void test_bad_arguments(void **state)
{
    fixture *f = *state;
    const char *bad[] = {"", "   ", "a\nb", "echo \x1b"};
    leec_code err = LEEC_OK;
    result r = {0};
    void *op = NULL;

    assert_null(Leec_dns_hook_new(f->ctx, NULL, &err));
    assert_int_equal(err, LEEC_E_INVALID_ARG);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err = LEEC_OK;
        assert_null(Leec_dns_hook_new(f->ctx, bad[i], &err));
        assert_int_equal(err, LEEC_E_INVALID_ARG);
        err = LEEC_OK;
        assert_null(Leec_hook_solver_new(f->ctx, bad[i], &err));
        assert_int_equal(err, LEEC_E_INVALID_ARG);
    }
    assert_true(log_has(f, "the command must be one line"));

    /* Control bytes never reach a hook. */
    leec_dns_provider *p = dns_hook(f, "true");
    assert_int_equal(p->ops->add(p->impl, NULL, FQDN, "a\nb", done_cb, &r, &op),
                     LEEC_STATUS_FAILED);
    assert_int_equal(p->ops->add(p->impl, NULL, "", TXT, done_cb, &r, &op),
                     LEEC_STATUS_FAILED);
    assert_null(op);
    Leec_dns_provider_free(p);

    leec_solver *s = hook_solver(f, "true");
    leec_challenge ch = {.type = "http-01",
                         .ident = "example.com",
                         .token = "tok\x7f",
                         .key_auth = KEYAUTH,
                         .digest = TXT};
    assert_int_equal(Leec_solver_present(s, &ch, done_cb, &r, &op),
                     LEEC_E_SOLVER);
    assert_null(op);
    Leec_solver_free(s);
    assert_int_equal(r.calls, 0);
    assert_clean(f);
}

/* ---- uacme's hook ----------------------------------------------------- */

static const char *const UACME_BODY =
    "case \"$1\" in\n"
    "  begin) case \"$2\" in http-01) exit 1;; *) exit 0;; esac;;\n"
    "  done|failed) exit 0;;\n"
    "esac\nexit 2";

static void test_uacme_sequence(void **state)
{
    fixture *f = *state;
    char *hook = recorder(f, UACME_BODY);
    char *got = NULL;
    result r = {0};
    void *op = NULL;
    leec_solver *s = hook_solver(f, hook);
    leec_challenge http = {.type = "http-01",
                           .ident = "example.com",
                           .token = TOKEN,
                           .key_auth = KEYAUTH,
                           .digest = TXT};
    leec_challenge dns = {.type = "dns-01",
                          .ident = "example.com",
                          .wildcard = true,
                          .token = TOKEN,
                          .key_auth = KEYAUTH,
                          .digest = TXT};
    leec_challenge alpn = {.type = "tls-alpn-01",
                           .ident = "www.example.com",
                           .token = TOKEN,
                           .key_auth = KEYAUTH,
                           .digest = TXT};

    /* dns-persist-01 has no token for the hook's arguments: declined
     * without running it. */
    static const char *const issuers[] = {"ca.example"};
    leec_challenge persist = {.type = "dns-persist-01",
                              .ident = "example.com",
                              .issuer_domain_names = issuers,
                              .nissuer_domain_names = 1,
                              .account_uri = "https://ca.example/acct/1"};
    assert_int_equal(Leec_solver_present(s, &persist, done_cb, &r, &op),
                     LEEC_OK);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.rc, LEEC_E_NO_CHALLENGE);
    result_reset(&r);
    Leec_solver_cleanup(s, op, false, done_cb, &r);
    assert_int_equal(r.rc, LEEC_OK);
    result_reset(&r);

    /* http-01 declined: the next type is to be tried; nothing to undo. */
    assert_int_equal(Leec_solver_present(s, &http, done_cb, &r, &op), LEEC_OK);
    run_until(f, &r, 10000);
    assert_int_equal(r.rc, LEEC_E_NO_CHALLENGE);
    assert_string_equal(r.msg, "hook declined http-01");
    result_reset(&r);
    Leec_solver_cleanup(s, op, false, done_cb, &r);
    assert_int_equal(r.calls, 1); /* nothing to run: done at once */
    assert_int_equal(r.rc, LEEC_OK);
    result_reset(&r);

    /* dns-01 accepted, validated: done. AUTH is the digest. */
    assert_int_equal(Leec_solver_present(s, &dns, done_cb, &r, &op), LEEC_OK);
    run_until(f, &r, 10000);
    assert_int_equal(r.rc, LEEC_OK);
    assert_null(r.msg);
    result_reset(&r);
    Leec_solver_cleanup(s, op, true, done_cb, &r);
    run_until(f, &r, 10000);
    assert_int_equal(r.rc, LEEC_OK);
    result_reset(&r);

    /* tls-alpn-01 accepted, not validated: failed, synchronously. */
    assert_int_equal(Leec_solver_present(s, &alpn, done_cb, &r, &op), LEEC_OK);
    run_until(f, &r, 10000);
    assert_int_equal(r.rc, LEEC_OK);
    result_reset(&r);
    Leec_solver_cleanup(s, op, false, NULL, NULL);

    got = slurp(f, "args");
    assert_string_equal(
        got, "--- 5\n[begin]\n[http-01]\n[example.com]\n[" TOKEN "]\n[" KEYAUTH
             "]\nLEEC_HOOK=1\n"
             "--- 5\n[begin]\n[dns-01]\n[example.com]\n[" TOKEN "]\n[" TXT
             "]\nLEEC_HOOK=1\n"
             "--- 5\n[done]\n[dns-01]\n[example.com]\n[" TOKEN "]\n[" TXT
             "]\nLEEC_HOOK=1\n"
             "--- 5\n[begin]\n[tls-alpn-01]\n[www.example.com]\n[" TOKEN
             "]\n[" TXT "]\nLEEC_HOOK=1\n"
             "--- 5\n[failed]\n[tls-alpn-01]\n[www.example.com]\n[" TOKEN
             "]\n[" TXT "]\nLEEC_HOOK=1\n");
    Leec_solver_free(s);
    assert_clean(f);
    free(got);
    free(hook);
}

static void test_uacme_failures(void **state)
{
    fixture *f = *state;
    char *missing = pathf(f, "no-such-hook");
    char *want = NULL;
    result r = {0};
    void *op = NULL;
    leec_challenge http = {.type = "http-01",
                           .ident = "example.com",
                           .token = TOKEN,
                           .key_auth = KEYAUTH,
                           .digest = TXT};

    /* A command the shell cannot find is an error, not a decline. */
    leec_solver *s = hook_solver(f, missing);
    assert_int_equal(Leec_solver_present(s, &http, done_cb, &r, &op), LEEC_OK);
    run_until(f, &r, 10000);
    assert_int_equal(r.rc, LEEC_E_SOLVER);
    assert_true(
        asprintf(&want, "hook '%s' exited with status 127: ", missing) >= 0);
    assert_non_null(strstr(r.msg, want));
    assert_non_null(strstr(r.msg, "not found"));
    result_reset(&r);
    Leec_solver_cleanup(s, op, false, done_cb, &r); /* failed: fails too */
    run_until(f, &r, 10000);
    assert_int_equal(r.rc, LEEC_E_SOLVER);
    result_reset(&r);
    Leec_solver_free(s);

    /* done/failed exiting non-zero is reported. */
    char *hook = script(f, "picky.sh",
                        "[ \"$1\" = begin ] && exit 0\n"
                        "echo \"cannot undo $2\" >&2\nexit 4");
    s = hook_solver(f, hook);
    assert_int_equal(Leec_solver_present(s, &http, done_cb, &r, &op), LEEC_OK);
    run_until(f, &r, 10000);
    assert_int_equal(r.rc, LEEC_OK);
    result_reset(&r);
    Leec_solver_cleanup(s, op, true, done_cb, &r);
    run_until(f, &r, 10000);
    assert_int_equal(r.rc, LEEC_E_SOLVER);
    assert_non_null(strstr(r.msg, "exited with status 4: cannot undo http-01"));
    result_reset(&r);

    /* A begin that hangs times out: an error, not a decline. */
    Leec_hook_solver_set_timeout_ms(s, 200);
    free(hook);
    hook = script(f, "picky.sh", "sleep 30");
    assert_int_equal(Leec_solver_present(s, &http, done_cb, &r, &op), LEEC_OK);
    run_until(f, &r, 10000);
    assert_int_equal(r.rc, LEEC_E_SOLVER);
    assert_non_null(strstr(r.msg, "timed out after 200 ms"));
    result_reset(&r);
    Leec_solver_cleanup(s, op, false, NULL, NULL);
    Leec_solver_free(s);
    assert_clean(f);
    free(hook);
    free(want);
    free(missing);
}

static void test_uacme_cancel(void **state)
{
    fixture *f = *state;
    char *hook = recorder(f, "[ \"$1\" = begin ] && sleep 30\nexit 0");
    char *got = NULL;
    result r = {0};
    void *op = NULL;
    leec_challenge dns = {.type = "dns-01",
                          .ident = "example.org",
                          .token = TOKEN,
                          .key_auth = KEYAUTH,
                          .digest = TXT};
    leec_solver *s = hook_solver(f, hook);

    assert_int_equal(Leec_solver_present(s, &dns, done_cb, &r, &op), LEEC_OK);
    run_idle(f, 100);
    assert_int_equal(r.calls, 0);
    /* Teardown while begin runs: begin is stopped, failed runs. */
    int64_t t0 = tu_now_ms();
    Leec_solver_cleanup(s, op, false, NULL, NULL);
    assert_true(tu_now_ms() - t0 < 3000);
    run_idle(f, 100);
    assert_int_equal(r.calls, 0);
    got = slurp(f, "args");
    assert_non_null(strstr(got, "LEEC_HOOK=1\n--- 5\n[failed]\n[dns-01]\n"
                                "[example.org]\n"));
    Leec_solver_free(s);
    assert_clean(f);
    free(got);
    free(hook);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dns_args_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dns_exit_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dns_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dns_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dns_timeout_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dns_sync_cleanup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dns_destroy_waits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uacme_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uacme_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uacme_cancel, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
