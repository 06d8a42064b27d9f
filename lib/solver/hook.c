/*
 * Hooks: user commands that answer challenges (uacme's hook) or add and
 * remove TXT records (lego's exec provider), run as child processes watched
 * from the context's loop.
 *
 * The command text is the user's and goes through /bin/sh -c; the values
 * that come from the CA (identifiers, tokens, key authorizations, digests)
 * are the shell's positional parameters, appended as "$@", and are never
 * parsed by it:
 *
 *   argv = { "/bin/sh", "-c", CMD " \"$@\"", "leec-hook", METHOD, ARGS... }
 *
 * The child gets /dev/null as stdin, a pipe each for stdout and stderr
 * (logged at INFO line by line, sanitised, 16 KiB at most per run), no other
 * descriptor, default signal dispositions, an empty signal mask, a process
 * group of its own (so a timeout reaches whatever it started), and the
 * environment plus LEEC_HOOK=1. Its end is noticed through a pidfd on the
 * loop (or, where pidfd_open is refused, by polling waitpid), and it is
 * always reaped.
 */
#define _GNU_SOURCE

#include "util/log.h"
#include "solver/hook.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/spawn.h"
#include "util/loop.h"
#include "acme/problem.h"
#include "solver/providers.h"

#define HOOK_TIMEOUT_MS   120000      /* a run on the loop */
#define HOOK_SYNC_MAX_MS  10000       /* a run at teardown */
#define HOOK_GRACE_MAX_MS 2000        /* from SIGTERM to SIGKILL */
#define HOOK_OUTPUT_MAX   (16 * 1024) /* output logged per run */
#define HOOK_READ_MAX     (64 * 1024) /* read per event, and after the exit */
#define HOOK_LINE_SHOWN   1024        /* bytes of one output line logged */
#define HOOK_CMD_SHOWN    200         /* bytes of the command in messages */
#define HOOK_POLL_MS      100         /* without a pidfd: waitpid this often */
#define HOOK_ARG_MAX      4096        /* a value passed to the command */
#define HOOK_CMD_MAX      4096

/* ------------------------------------------------------------------ */
/* The process runner                                                  */
/* ------------------------------------------------------------------ */

typedef enum {
    HOOK_EXITED,    /* code: the exit status */
    HOOK_SIGNALED,  /* code: the signal */
    HOOK_TIMED_OUT, /* terminated by us at its timeout */
    HOOK_UNKNOWN,   /* reaped by someone else (SIGCHLD ignored) */
    HOOK_ABANDONED  /* its owner is being destroyed: free, report nothing */
} hook_end;

typedef struct hook_result {
    hook_end how;
    int code;
    int64_t limit_ms; /* HOOK_TIMED_OUT: the time it was given */
    char *last; /* the last stderr line (else stdout's), sanitised; owned */
} hook_result;

typedef void (*hook_end_fn)(void *userdata, const hook_result *res);

typedef struct hook_proc hook_proc;

typedef struct hook_runner {
    leec_ctx *ctx;
    const char *what; /* "dns hook", "hook": for messages */
    char *shown;      /* the command, sanitised and cut, for messages */
    char *script;     /* CMD " \"$@\"" */
    int64_t timeout_ms;
    hook_proc *live; /* processes running on the loop */
} hook_runner;

struct hook_proc {
    hook_runner *r;
    hook_proc *prev, *next;
    char *label;      /* "dns hook present": for the log */
    pid_t pid;        /* -1 before the spawn */
    int pidfd;        /* -1: polled with waitpid */
    int fd[2];        /* stdout, stderr (read ends); -1 once closed */
    leec_buf line[2]; /* the line being read on each */
    char *last[2];    /* the last line of each, sanitised */
    size_t taken;     /* output bytes consumed, up to HOOK_OUTPUT_MAX */
    bool truncated;
    bool on_loop; /* its descriptors are watched */
    bool exited;  /* reaped (or gone) */
    bool status_known;
    int wstatus;
    bool timed_out;
    bool signalled;       /* we sent its group SIGTERM or SIGKILL */
    int64_t limit_ms;     /* the time it was given */
    leec_timer *deadline; /* the timeout, then the SIGKILL */
    leec_timer *poll;     /* waitpid polling when there is no pidfd */
    hook_end_fn fn;
    void *userdata;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t grace_ms(const hook_runner *r)
{
    return r->timeout_ms < HOOK_GRACE_MAX_MS ? r->timeout_ms
                                             : HOOK_GRACE_MAX_MS;
}

static int64_t sync_ms(const hook_runner *r)
{
    return r->timeout_ms < HOOK_SYNC_MAX_MS ? r->timeout_ms : HOOK_SYNC_MAX_MS;
}

/* A value we pass on: present, short, no control bytes (a hook reading its
 * arguments line-wise must not be confused). */
static bool arg_ok(const char *s)
{
    size_t n = 0;

    if (!s || !*s)
        return false;
    for (n = 0; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (c < 0x20 || c == 0x7f || n >= HOOK_ARG_MAX)
            return false;
    }
    return true;
}

/* Signals the child's process group (its own, from the spawn). */
static void signal_group(hook_proc *p, int sig)
{
    if (p->pid <= 0 || p->exited)
        return;
    p->signalled = true;
    if (kill(-p->pid, sig) != 0)
        (void)kill(p->pid, sig);
}

/* Reaps the child if it has ended (or waits for it when block). True once
 * it is reaped. */
static bool try_reap(hook_proc *p, bool block)
{
    if (p->signalled && !p->exited) {
        /* Ended after our SIGTERM: what it started may have ignored it.
         * While the leader is an unreaped zombie its group id cannot be
         * reused, so the group is signalled before the leader is reaped. */
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)p->pid, &si,
                   WEXITED | WNOWAIT | (block ? 0 : WNOHANG)) == 0 &&
            si.si_pid == p->pid)
            (void)kill(-p->pid, SIGKILL);
    }
    while (!p->exited) {
        int st = 0;
        pid_t got = waitpid(p->pid, &st, block ? 0 : WNOHANG);
        if (got == p->pid) {
            p->exited = true;
            p->status_known = true;
            p->wstatus = st;
        } else if (got == 0) {
            return false;
        } else if (errno != EINTR) {
            /* ECHILD: the host ignores SIGCHLD, the kernel reaped it. */
            p->exited = true;
            p->status_known = false;
        }
    }
    return true;
}

/* Logs the line gathered on stream i and keeps it as that stream's last. */
static void emit_line(hook_proc *p, int i)
{
    leec_buf *b = &p->line[i];
    char *shown = NULL;

    if (!b->data || b->len == 0)
        return;
    if (b->data[b->len - 1] == '\r')
        b->data[--b->len] = '\0';
    if (b->len > 0)
        shown = Leec_sanitize(b->data, HOOK_LINE_SHOWN);
    if (shown) {
        Leec_log(p->r->ctx, LEEC_LOG_INFO, "%s[%ld]%s: %s", p->label,
                 (long)p->pid, i ? " stderr" : "", shown);
        free(p->last[i]);
        p->last[i] = shown;
    }
    b->len = 0;
    b->data[0] = '\0';
}

/* Consumes n bytes of output from stream i, up to the run's cap. */
static void take_output(hook_proc *p, int i, const char *d, size_t n)
{
    while (n > 0 && !p->truncated) {
        size_t room = HOOK_OUTPUT_MAX - p->taken;
        if (room == 0) {
            p->truncated = true;
            emit_line(p, 0);
            emit_line(p, 1);
            Leec_log(p->r->ctx, LEEC_LOG_INFO,
                     "%s[%ld]: more than %d bytes of output, the rest is "
                     "not logged",
                     p->label, (long)p->pid, HOOK_OUTPUT_MAX);
            break;
        }
        const char *nl = memchr(d, '\n', n);
        size_t span = nl ? (size_t)(nl - d) + 1 : n;
        bool whole = span <= room;
        size_t take = whole ? span : room;
        size_t keep = whole && nl ? take - 1 : take;
        /* On OOM the bytes are lost from the log, nothing else. */
        (void)Leec_buf_append(&p->line[i], d, keep);
        p->taken += take;
        if (whole && nl)
            emit_line(p, i);
        d += take;
        n -= take;
    }
}

static void close_stream(hook_proc *p, int i)
{
    if (p->fd[i] < 0)
        return;
    emit_line(p, i);
    if (p->on_loop)
        Leec_loop_unwatch(p->r->ctx, p->fd[i]);
    close(p->fd[i]);
    p->fd[i] = -1;
}

/* Reads what stream i holds now, at most max bytes; closes it at its end. */
static void read_stream(hook_proc *p, int i, size_t max)
{
    char chunk[4096];
    size_t got = 0;

    while (p->fd[i] >= 0 && got < max) {
        ssize_t n = read(p->fd[i], chunk, sizeof chunk);
        if (n > 0) {
            take_output(p, i, chunk, (size_t)n);
            got += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        } else {
            close_stream(p, i); /* end of file, or an error */
        }
    }
}

/* After the exit: what the child wrote is in the pipes already. Something
 * it started may still hold them open, so read what is there and close. */
static void drain(hook_proc *p)
{
    for (int i = 0; i < 2; i++) {
        read_stream(p, i, HOOK_READ_MAX);
        close_stream(p, i);
    }
}

/* Takes the descriptors off the loop and cancels the timers. */
static void leave_loop(hook_proc *p)
{
    leec_ctx *ctx = p->r->ctx;

    if (p->on_loop) {
        if (p->pidfd >= 0)
            Leec_loop_unwatch(ctx, p->pidfd);
        for (int i = 0; i < 2; i++)
            if (p->fd[i] >= 0)
                Leec_loop_unwatch(ctx, p->fd[i]);
        p->on_loop = false;
    }
    Leec_loop_timer_cancel(ctx, p->deadline);
    Leec_loop_timer_cancel(ctx, p->poll);
    p->deadline = p->poll = NULL;
}

/* Frees a process that was reaped (or never started). */
static void proc_free(hook_proc *p)
{
    if (!p)
        return;
    leave_loop(p);
    if (p->pidfd >= 0)
        close(p->pidfd);
    for (int i = 0; i < 2; i++) {
        if (p->fd[i] >= 0)
            close(p->fd[i]);
        Leec_buf_free(&p->line[i]);
        free(p->last[i]);
    }
    if (p->prev)
        p->prev->next = p->next;
    else if (p->r->live == p)
        p->r->live = p->next;
    if (p->next)
        p->next->prev = p->prev;
    free(p->label);
    free(p);
}

/* The result of a reaped process (res->last is the caller's). */
static void proc_result(hook_proc *p, hook_result *res)
{
    memset(res, 0, sizeof *res);
    res->limit_ms = p->limit_ms;
    if (p->timed_out) {
        res->how = HOOK_TIMED_OUT;
    } else if (!p->status_known) {
        res->how = HOOK_UNKNOWN;
    } else if (WIFEXITED(p->wstatus)) {
        res->how = HOOK_EXITED;
        res->code = WEXITSTATUS(p->wstatus);
    } else {
        res->how = HOOK_SIGNALED;
        res->code = WIFSIGNALED(p->wstatus) ? WTERMSIG(p->wstatus) : 0;
    }
    res->last = p->last[1] ? p->last[1] : p->last[0];
    if (res->last == p->last[1])
        p->last[1] = NULL;
    else
        p->last[0] = NULL;
    if (res->how == HOOK_EXITED)
        Leec_log(p->r->ctx, LEEC_LOG_DEBUG, "%s[%ld]: exit status %d", p->label,
                 (long)p->pid, res->code);
}

/* "dns hook 'CMD' exited with status 1: the last line", malloc'd. */
static char *describe(const hook_runner *r, const hook_result *res)
{
    char *s = NULL;
    int n = -1;
    const char *sep = res->last ? ": " : "";
    const char *last = res->last ? res->last : "";

    switch (res->how) {
    case HOOK_EXITED:
        n = asprintf(&s, "%s '%s' exited with status %d%s%s", r->what, r->shown,
                     res->code, sep, last);
        break;
    case HOOK_SIGNALED:
        n = asprintf(&s, "%s '%s' was killed by signal %d%s%s", r->what,
                     r->shown, res->code, sep, last);
        break;
    case HOOK_TIMED_OUT:
        n = asprintf(&s, "%s '%s' timed out after %lld ms%s%s", r->what,
                     r->shown, (long long)res->limit_ms, sep, last);
        break;
    case HOOK_UNKNOWN:
    case HOOK_ABANDONED:
        n = asprintf(&s, "%s '%s' ended with an unknown exit status", r->what,
                     r->shown);
        break;
    }
    return n < 0 ? NULL : s;
}

static bool succeeded(const hook_result *res)
{
    return res->how == HOOK_EXITED && res->code == 0;
}

/* A pipe for one of the child's outputs: close-on-exec, the write end
 * above 2 (so the dup2 onto 1 or 2 never meets itself), the read end
 * non-blocking (the write end must stay blocking for the child). */
static leec_code make_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) != 0)
        return LEEC_E_IO;
    if (fds[1] < 3) {
        int hi = fcntl(fds[1], F_DUPFD_CLOEXEC, 3);
        if (hi < 0)
            return LEEC_E_IO;
        close(fds[1]);
        fds[1] = hi;
    }
    int fl = fcntl(fds[0], F_GETFL);
    if (fl < 0 || fcntl(fds[0], F_SETFL, fl | O_NONBLOCK) != 0)
        return LEEC_E_IO;
    return LEEC_OK;
}

/* Starts CMD METHOD ARGS... (not yet on the loop). */
static leec_code spawn(hook_runner *r, const char *method,
                       const char *const *args, size_t nargs, hook_proc **out)
{
    static char sh[] = "/bin/sh", dash_c[] = "-c", name[] = "leec-hook";
    static const char *const mark[] = {"LEEC_HOOK=1", NULL};
    leec_code rc = LEEC_E_NOMEM;
    hook_proc *p = NULL;
    int pout[2] = {-1, -1}, perr[2] = {-1, -1};
    char **argv = NULL, **envp = NULL;
    const char *step = "posix_spawn";
    int e = 0;

    p = calloc(1, sizeof *p);
    if (!p)
        goto out;
    p->r = r;
    p->pid = -1;
    p->pidfd = p->fd[0] = p->fd[1] = -1;
    Leec_buf_init(&p->line[0], 0);
    Leec_buf_init(&p->line[1], 0);
    if (asprintf(&p->label, "%s %s", r->what, method) < 0) {
        p->label = NULL;
        goto out;
    }
    argv = calloc(nargs + 6, sizeof *argv);
    /* The environment plus LEEC_HOOK=1 (any LEEC_HOOK already there
     * dropped). */
    envp = Leec_spawn_env(mark);
    if (!argv || !envp)
        goto out;
    argv[0] = sh;
    argv[1] = dash_c;
    argv[2] = r->script;
    argv[3] = name;
    argv[4] = (char *)method;
    for (size_t i = 0; i < nargs; i++)
        argv[5 + i] = (char *)args[i];

    rc = LEEC_E_SOLVER;
    if (make_pipe(pout) != LEEC_OK || make_pipe(perr) != LEEC_OK) {
        e = errno;
        step = "pipe";
        goto fail;
    }
    if ((e = Leec_spawn(&p->pid, sh, argv, envp, pout[1], perr[1])) != 0) {
        p->pid = -1;
        goto fail;
    }
    p->fd[0] = pout[0];
    p->fd[1] = perr[0];
    pout[0] = perr[0] = -1;
    /* Refused by some seccomp filters: then waitpid is polled. */
    p->pidfd = pidfd_open(p->pid, 0);
    p->next = r->live;
    if (r->live)
        r->live->prev = p;
    r->live = p;
    Leec_log(r->ctx, LEEC_LOG_INFO, "%s: running '%s' %s (pid %ld)", r->what,
             r->shown, method, (long)p->pid);
    *out = p;
    p = NULL;
    rc = LEEC_OK;
    goto out;

fail:
    Leec_log(r->ctx, LEEC_LOG_ERROR, "%s '%s': cannot start it: %s: %s",
             r->what, r->shown, step, strerror(e));
out:
    for (int i = 0; i < 2; i++) {
        if (pout[i] >= 0)
            close(pout[i]);
        if (perr[i] >= 0)
            close(perr[i]);
    }
    free(argv);
    free(envp);
    proc_free(p);
    return rc;
}

/* Waits for p at most wait_ms (0: terminate it now), then SIGTERM, then
 * SIGKILL after the grace period; reaps it and reads the rest of its
 * output. Off the loop, in real time. */
static void proc_wait_sync(hook_proc *p, int64_t wait_ms)
{
    int64_t deadline = mono_ms() + wait_ms;
    bool termed = false;

    leave_loop(p);
    while (!try_reap(p, false)) {
        int64_t now = mono_ms();
        if (now >= deadline && !termed) {
            if (wait_ms > 0) {
                p->timed_out = true;
                p->limit_ms = wait_ms;
                Leec_log(p->r->ctx, LEEC_LOG_WARN,
                         "%s[%ld]: still running after %lld ms, terminating "
                         "it",
                         p->label, (long)p->pid, (long long)wait_ms);
            }
            signal_group(p, SIGTERM);
            termed = true;
            deadline = now + grace_ms(p->r);
            continue;
        }
        if (now >= deadline) {
            Leec_log(p->r->ctx, LEEC_LOG_WARN, "%s[%ld]: killing it", p->label,
                     (long)p->pid);
            signal_group(p, SIGKILL);
            (void)try_reap(p, true);
            break;
        }
        struct pollfd pf[3];
        int map[3];
        nfds_t n = 0;
        if (p->pidfd >= 0) {
            pf[n] = (struct pollfd){.fd = p->pidfd, .events = POLLIN};
            map[n++] = -1;
        }
        for (int i = 0; i < 2; i++) {
            if (p->fd[i] >= 0) {
                pf[n] = (struct pollfd){.fd = p->fd[i], .events = POLLIN};
                map[n++] = i;
            }
        }
        int64_t left = deadline - now;
        if (p->pidfd < 0 && left > HOOK_POLL_MS)
            left = HOOK_POLL_MS;
        if (poll(pf, n, (int)left) <= 0)
            continue;
        for (nfds_t k = 0; k < n; k++)
            if (map[k] >= 0 && pf[k].revents)
                read_stream(p, map[k], HOOK_READ_MAX);
    }
    drain(p);
}

/* The process ended: report it (p is gone before fn runs, so fn may free
 * anything, the runner included). */
static void proc_finish(hook_proc *p)
{
    hook_result res;
    hook_end_fn fn = p->fn;
    void *ud = p->userdata;

    drain(p);
    proc_result(p, &res);
    proc_free(p);
    fn(ud, &res);
    free(res.last);
}

static void on_io(void *userdata, int fd, unsigned events)
{
    hook_proc *p = userdata;

    (void)events;
    if (fd == p->pidfd) {
        if (try_reap(p, false))
            proc_finish(p);
        return;
    }
    for (int i = 0; i < 2; i++)
        if (fd == p->fd[i])
            read_stream(p, i, HOOK_READ_MAX);
}

static void on_deadline(void *userdata)
{
    hook_proc *p = userdata;
    leec_ctx *ctx = p->r->ctx;

    p->deadline = NULL;
    if (p->timed_out) {
        Leec_log(ctx, LEEC_LOG_WARN, "%s[%ld]: killing it", p->label,
                 (long)p->pid);
        signal_group(p, SIGKILL);
        return;
    }
    p->timed_out = true;
    p->limit_ms = p->r->timeout_ms;
    Leec_log(ctx, LEEC_LOG_WARN,
             "%s[%ld]: still running after %lld ms, terminating it", p->label,
             (long)p->pid, (long long)p->r->timeout_ms);
    signal_group(p, SIGTERM);
    p->deadline =
        Leec_loop_timer(ctx, Leec_now_ms(ctx) + grace_ms(p->r), on_deadline, p);
    if (!p->deadline)
        signal_group(p, SIGKILL);
}

static void on_poll(void *userdata)
{
    hook_proc *p = userdata;
    leec_ctx *ctx = p->r->ctx;

    p->poll = NULL;
    if (!try_reap(p, false))
        p->poll =
            Leec_loop_timer(ctx, Leec_now_ms(ctx) + HOOK_POLL_MS, on_poll, p);
    if (!p->poll && !p->exited) {
        /* Out of memory: no other way to notice its end. */
        signal_group(p, SIGKILL);
        (void)try_reap(p, true);
    }
    if (p->exited)
        proc_finish(p);
}

/* Starts CMD METHOD ARGS... on the loop; fn runs once when it has ended
 * (never from inside this call). */
static leec_code proc_start(hook_runner *r, const char *method,
                            const char *const *args, size_t nargs,
                            hook_end_fn fn, void *userdata, hook_proc **out)
{
    leec_ctx *ctx = r->ctx;
    hook_proc *p = NULL;
    leec_code rc = spawn(r, method, args, nargs, &p);

    if (rc != LEEC_OK)
        return rc;
    p->fn = fn;
    p->userdata = userdata;
    p->on_loop = true;
    if (p->pidfd >= 0)
        rc = Leec_loop_watch(ctx, p->pidfd, EPOLLIN, on_io, p);
    else if (!(p->poll = Leec_loop_timer(ctx, Leec_now_ms(ctx) + HOOK_POLL_MS,
                                         on_poll, p)))
        rc = LEEC_E_NOMEM;
    for (int i = 0; i < 2 && rc == LEEC_OK; i++)
        rc = Leec_loop_watch(ctx, p->fd[i], EPOLLIN, on_io, p);
    if (rc == LEEC_OK &&
        !(p->deadline = Leec_loop_timer(ctx, Leec_now_ms(ctx) + r->timeout_ms,
                                        on_deadline, p)))
        rc = LEEC_E_NOMEM;
    if (rc != LEEC_OK) {
        Leec_log(ctx, LEEC_LOG_ERROR, "%s '%s': cannot watch it: %s", r->what,
                 r->shown, leec_strerror(rc));
        proc_wait_sync(p, 0);
        proc_free(p);
        return rc;
    }
    *out = p;
    return LEEC_OK;
}

/* Runs CMD METHOD ARGS... to its end, bounded (teardown). */
static leec_code proc_run_sync(hook_runner *r, const char *method,
                               const char *const *args, size_t nargs,
                               hook_result *res)
{
    hook_proc *p = NULL;
    leec_code rc = spawn(r, method, args, nargs, &p);

    memset(res, 0, sizeof *res);
    if (rc != LEEC_OK)
        return rc;
    proc_wait_sync(p, sync_ms(r));
    proc_result(p, res);
    proc_free(p);
    return LEEC_OK;
}

/* Stops a running process now and forgets it: its fn never runs. */
static void proc_cancel(hook_proc *p)
{
    if (!p)
        return;
    Leec_log(p->r->ctx, LEEC_LOG_INFO, "%s[%ld]: cancelled", p->label,
             (long)p->pid);
    proc_wait_sync(p, 0);
    proc_free(p);
}

static leec_code runner_init(hook_runner *r, leec_ctx *ctx, const char *cmd,
                             const char *what)
{
    size_t n = 0;
    bool blank = true;

    memset(r, 0, sizeof *r);
    r->ctx = ctx;
    r->what = what;
    r->timeout_ms = HOOK_TIMEOUT_MS;
    for (n = 0; cmd && cmd[n] && n <= HOOK_CMD_MAX; n++) {
        unsigned char c = (unsigned char)cmd[n];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            break;
        if (c != ' ' && c != '\t')
            blank = false;
    }
    if (!cmd || cmd[n] || blank) {
        Leec_log(ctx, LEEC_LOG_ERROR,
                 "%s: the command must be one line of at most %d bytes", what,
                 HOOK_CMD_MAX);
        return LEEC_E_INVALID_ARG;
    }
    r->shown = Leec_sanitize(cmd, HOOK_CMD_SHOWN);
    if (!r->shown || asprintf(&r->script, "%s \"$@\"", cmd) < 0) {
        r->script = NULL;
        Leec_log(ctx, LEEC_LOG_ERROR, "%s: out of memory", what);
        return LEEC_E_NOMEM;
    }
    return LEEC_OK;
}

/* Teardown: running processes get their bounded time, then are killed;
 * their owners are told HOOK_ABANDONED (to free, not to report). */
static void runner_clear(hook_runner *r)
{
    while (r->live) {
        hook_proc *p = r->live;
        hook_end_fn fn = p->fn;
        void *ud = p->userdata;
        hook_result res;

        proc_wait_sync(p, sync_ms(r));
        proc_result(p, &res);
        proc_free(p);
        res.how = HOOK_ABANDONED;
        fn(ud, &res);
        free(res.last);
    }
    free(r->shown);
    free(r->script);
    r->shown = r->script = NULL;
}

/* ------------------------------------------------------------------ */
/* dns-01 provider: CMD present|cleanup FQDN VALUE (lego's exec)       */
/* ------------------------------------------------------------------ */

typedef struct dns_hook {
    hook_runner r;
} dns_hook;

typedef struct dns_hook_op {
    dns_hook *h;
    char *fqdn;
    char *value;
    hook_proc *proc; /* present or cleanup, while it runs */
    leec_solver_done_fn done;
    void *userdata;
} dns_hook_op;

static void dns_op_free(dns_hook_op *op)
{
    if (!op)
        return;
    free(op->fqdn);
    free(op->value);
    free(op);
}

/* Reports the end of present or cleanup; op is freed first after cleanup. */
static void dns_end(dns_hook_op *op, const hook_result *res, bool last)
{
    leec_solver_done_fn done = op->done;
    void *ud = op->userdata;
    leec_code rc = LEEC_OK;
    char *msg = NULL;

    op->proc = NULL;
    if (res->how == HOOK_ABANDONED) {
        dns_op_free(op);
        return;
    }
    if (!succeeded(res)) {
        rc = LEEC_E_SOLVER;
        msg = describe(&op->h->r, res);
        Leec_log(op->h->r.ctx, LEEC_LOG_WARN, "%s",
                 msg ? msg : "dns hook failed");
    }
    if (last)
        dns_op_free(op);
    done(ud, rc, msg);
    free(msg);
}

static void dns_add_end(void *userdata, const hook_result *res)
{
    dns_end(userdata, res, false);
}

static void dns_remove_end(void *userdata, const hook_result *res)
{
    dns_end(userdata, res, true);
}

static leec_status dns_hook_add(void *impl, const char *zone, const char *fqdn,
                                const char *value, leec_solver_done_fn done,
                                void *userdata, void **opp)
{
    dns_hook *h = impl;
    dns_hook_op *op = NULL;
    leec_code rc = LEEC_E_INVALID_ARG;

    (void)zone;
    if (!arg_ok(fqdn) || !arg_ok(value) || !done || !opp)
        goto out;
    rc = LEEC_E_NOMEM;
    op = calloc(1, sizeof *op);
    if (!op)
        goto out;
    op->h = h;
    op->fqdn = strdup(fqdn);
    op->value = strdup(value);
    op->done = done;
    op->userdata = userdata;
    if (!op->fqdn || !op->value)
        goto out;
    const char *args[] = {op->fqdn, op->value};
    rc = proc_start(&h->r, "present", args, 2, dns_add_end, op, &op->proc);
    if (rc != LEEC_OK)
        goto out;
    *opp = op;
    op = NULL;

out:
    dns_op_free(op);
    return rc == LEEC_OK ? LEEC_STATUS_PENDING : LEEC_STATUS_FAILED;
}

static leec_status dns_hook_remove(void *impl, void *opv,
                                   leec_solver_done_fn done, void *userdata)
{
    dns_hook *h = impl;
    dns_hook_op *op = opv;
    hook_result res;
    leec_code rc = LEEC_OK;
    bool ok = true;

    if (!op)
        return LEEC_STATUS_DONE;
    /* present still running: whatever it did, cleanup undoes. */
    proc_cancel(op->proc);
    op->proc = NULL;
    const char *args[] = {op->fqdn, op->value};
    if (!done) {
        rc = proc_run_sync(&h->r, "cleanup", args, 2, &res);
        ok = rc == LEEC_OK && succeeded(&res);
        if (rc == LEEC_OK && !ok) {
            char *msg = describe(&h->r, &res);
            Leec_log(h->r.ctx, LEEC_LOG_WARN, "%s",
                     msg ? msg : "dns hook cleanup failed");
            free(msg);
        }
        if (rc == LEEC_OK)
            free(res.last);
        dns_op_free(op);
        return ok ? LEEC_STATUS_DONE : LEEC_STATUS_FAILED;
    }
    op->done = done;
    op->userdata = userdata;
    rc = proc_start(&h->r, "cleanup", args, 2, dns_remove_end, op, &op->proc);
    if (rc != LEEC_OK) {
        char *msg = NULL;
        if (asprintf(&msg, "dns hook '%s' could not be started", h->r.shown) <
            0)
            msg = NULL;
        dns_op_free(op);
        /* The reason, with the failure (the library acts on it later). */
        done(userdata, rc == LEEC_E_NOMEM ? rc : LEEC_E_SOLVER, msg);
        free(msg);
    }
    return LEEC_STATUS_PENDING;
}

/* dns-persist-01's record stays (dns01.h): no cleanup is run; a present
 * still running is stopped. */
static void dns_hook_forget(void *impl, void *opv)
{
    dns_hook_op *op = opv;
    (void)impl;
    if (!op)
        return;
    proc_cancel(op->proc);
    dns_op_free(op);
}

static void dns_hook_destroy(void *impl)
{
    dns_hook *h = impl;

    if (!h)
        return;
    runner_clear(&h->r);
    free(h);
}

static const struct leec_dns_provider_ops dns_hook_ops = {
    .name = "hook",
    .needs_zone = false,
    .add = dns_hook_add,
    .remove = dns_hook_remove,
    .destroy = dns_hook_destroy,
};

leec_dns_provider *Leec_dns_hook_new(leec_ctx *ctx, const char *cmd,
                                     leec_code *err)
{
    dns_hook *h = calloc(1, sizeof *h);
    leec_code rc = LEEC_E_NOMEM;

    if (!h) {
        Leec_log(ctx, LEEC_LOG_ERROR, "dns hook: out of memory");
        goto out;
    }
    rc = runner_init(&h->r, ctx, cmd, "dns hook");
    if (rc != LEEC_OK)
        goto out;
    leec_dns_provider *dp =
        Leec_dns_provider_new(ctx, &dns_hook_ops, h, err); /* h is taken */
    if (dp)
        dp->forget = dns_hook_forget;
    return dp;

out:
    if (h) {
        runner_clear(&h->r);
        free(h);
    }
    if (err)
        *err = rc;
    return NULL;
}

void Leec_dns_hook_set_timeout_ms(leec_dns_provider *p, int64_t ms)
{
    dns_hook *h = Leec_dns_provider_impl(p, &dns_hook_ops);
    if (h && ms > 0)
        h->r.timeout_ms = ms;
}

/* ------------------------------------------------------------------ */
/* uacme's hook: CMD begin|done|failed TYPE IDENT TOKEN AUTH           */
/* ------------------------------------------------------------------ */

typedef struct hook_solver {
    hook_runner r;
} hook_solver;

enum { ARG_TYPE, ARG_IDENT, ARG_TOKEN, ARG_AUTH, NARGS };

typedef struct hook_op {
    hook_solver *hs;
    char *args[NARGS];
    hook_proc *proc; /* begin or done/failed, while it runs */
    bool declined;   /* begin said no: nothing to undo */
    leec_solver_done_fn done;
    void *userdata;
} hook_op;

static void hook_op_free(hook_op *op)
{
    if (!op)
        return;
    for (int i = 0; i < NARGS; i++)
        free(op->args[i]);
    free(op);
}

static void hook_begin_end(void *userdata, const hook_result *res)
{
    hook_op *op = userdata;
    hook_runner *r = &op->hs->r;
    leec_code rc = LEEC_OK;
    char *msg = NULL;

    op->proc = NULL;
    if (res->how == HOOK_ABANDONED) {
        hook_op_free(op);
        return;
    }
    if (succeeded(res)) {
        Leec_log(r->ctx, LEEC_LOG_INFO, "hook: %s ready for %s",
                 op->args[ARG_TYPE], op->args[ARG_IDENT]);
    } else if (res->how == HOOK_EXITED && res->code != 126 &&
               res->code != 127) {
        /* 126, 127: the shell could not run the command; that is a broken
         * setup, not a hook declining a type. */
        op->declined = true;
        rc = LEEC_E_NO_CHALLENGE;
        Leec_log(r->ctx, LEEC_LOG_INFO,
                 "hook: '%s' declined %s for %s (status %d)", r->shown,
                 op->args[ARG_TYPE], op->args[ARG_IDENT], res->code);
        if (asprintf(&msg, "hook declined %s", op->args[ARG_TYPE]) < 0)
            msg = NULL;
    } else {
        rc = LEEC_E_SOLVER;
        msg = describe(r, res);
        Leec_log(r->ctx, LEEC_LOG_WARN, "%s", msg ? msg : "hook failed");
    }
    op->done(op->userdata, rc, msg); /* may free op */
    free(msg);
}

static void hook_cleanup_end(void *userdata, const hook_result *res)
{
    hook_op *op = userdata;
    hook_runner *r = &op->hs->r;
    leec_solver_done_fn done = op->done;
    void *ud = op->userdata;
    leec_code rc = LEEC_OK;
    char *msg = NULL;

    op->proc = NULL;
    if (res->how != HOOK_ABANDONED && !succeeded(res)) {
        rc = LEEC_E_SOLVER;
        msg = describe(r, res);
        Leec_log(r->ctx, LEEC_LOG_WARN, "%s", msg ? msg : "hook failed");
    }
    hook_op_free(op);
    if (res->how != HOOK_ABANDONED)
        done(ud, rc, msg);
    free(msg);
}

static leec_status hook_present(void *impl, const leec_challenge *ch,
                                leec_solver_done_fn done, void *userdata,
                                void **opp)
{
    hook_solver *hs = impl;
    hook_op *op = NULL;
    leec_code rc = LEEC_E_INVALID_ARG;
    const char *auth = NULL;

    if (!ch || !done || !opp || !arg_ok(ch->type))
        goto out;
    /* A type without a token (dns-persist-01) has nothing for the hook's
     * arguments: the next challenge is offered. */
    if (!ch->token)
        return LEEC_STATUS_DECLINED;
    if (strcmp(ch->type, "http-01") == 0)
        auth = ch->key_auth;
    else
        auth = ch->digest;
    if (!arg_ok(ch->ident) || !arg_ok(ch->token) || !arg_ok(auth))
        goto out;
    rc = LEEC_E_NOMEM;
    op = calloc(1, sizeof *op);
    if (!op)
        goto out;
    op->hs = hs;
    op->done = done;
    op->userdata = userdata;
    op->args[ARG_TYPE] = strdup(ch->type);
    /* As uacme: the identifier as the CA reports it, without "*.". */
    op->args[ARG_IDENT] = strdup(ch->ident);
    op->args[ARG_TOKEN] = strdup(ch->token);
    op->args[ARG_AUTH] = strdup(auth);
    for (int i = 0; i < NARGS; i++)
        if (!op->args[i])
            goto out;
    rc = proc_start(&hs->r, "begin", (const char *const *)op->args, NARGS,
                    hook_begin_end, op, &op->proc);
    if (rc != LEEC_OK)
        goto out;
    *opp = op;
    op = NULL;

out:
    hook_op_free(op);
    return rc == LEEC_OK ? LEEC_STATUS_PENDING : LEEC_STATUS_FAILED;
}

static leec_status hook_cleanup(void *impl, void *opv, bool valid,
                                leec_solver_done_fn done, void *userdata)
{
    hook_solver *hs = impl;
    hook_op *op = opv;
    const char *method = valid ? "done" : "failed";
    hook_result res;
    leec_code rc = LEEC_OK;
    bool ok = true;

    if (!op || op->declined) {
        hook_op_free(op);
        return LEEC_STATUS_DONE;
    }
    /* begin still running (the run is being torn down): it is stopped,
     * and told "failed" like any other begin. */
    proc_cancel(op->proc);
    op->proc = NULL;
    if (!done) {
        rc = proc_run_sync(&hs->r, method, (const char *const *)op->args, NARGS,
                           &res);
        ok = rc == LEEC_OK && succeeded(&res);
        if (rc == LEEC_OK && !ok) {
            char *msg = describe(&hs->r, &res);
            Leec_log(hs->r.ctx, LEEC_LOG_WARN, "%s", msg ? msg : "hook failed");
            free(msg);
        }
        if (rc == LEEC_OK)
            free(res.last);
        hook_op_free(op);
        return ok ? LEEC_STATUS_DONE : LEEC_STATUS_FAILED;
    }
    op->done = done;
    op->userdata = userdata;
    rc = proc_start(&hs->r, method, (const char *const *)op->args, NARGS,
                    hook_cleanup_end, op, &op->proc);
    if (rc != LEEC_OK) {
        char *msg = NULL;
        if (asprintf(&msg, "hook '%s' could not be started", hs->r.shown) < 0)
            msg = NULL;
        hook_op_free(op);
        /* The reason, with the failure (the library acts on it later). */
        done(userdata, rc == LEEC_E_NOMEM ? rc : LEEC_E_SOLVER, msg);
        free(msg);
    }
    return LEEC_STATUS_PENDING;
}

static void hook_destroy(void *impl)
{
    hook_solver *hs = impl;

    if (!hs)
        return;
    runner_clear(&hs->r);
    free(hs);
}

static const struct leec_solver_ops hook_solver_ops = {
    .type = NULL, /* any type: begin declines what it cannot answer */
    .name = "hook",
    .present = hook_present,
    .cleanup = hook_cleanup,
    .destroy = hook_destroy,
};

leec_solver *Leec_hook_solver_new(leec_ctx *ctx, const char *cmd,
                                  leec_code *err)
{
    hook_solver *hs = calloc(1, sizeof *hs);
    leec_code rc = LEEC_E_NOMEM;

    if (!hs) {
        Leec_log(ctx, LEEC_LOG_ERROR, "hook: out of memory");
        goto out;
    }
    rc = runner_init(&hs->r, ctx, cmd, "hook");
    if (rc != LEEC_OK)
        goto out;
    return Leec_solver_new(ctx, &hook_solver_ops, hs, err); /* hs is taken */

out:
    if (hs) {
        runner_clear(&hs->r);
        free(hs);
    }
    if (err)
        *err = rc;
    return NULL;
}

void Leec_hook_solver_set_timeout_ms(leec_solver *s, int64_t ms)
{
    hook_solver *hs = Leec_solver_impl(s, &hook_solver_ops);
    if (hs && ms > 0)
        hs->r.timeout_ms = ms;
}
