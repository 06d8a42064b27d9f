/*
 * The CLI's pre, post and deploy hooks: one shell command, run and waited
 * for in real time (the CLI has no event loop around it; the library's
 * challenge hooks in lib/solver/hook.c run on the context's loop instead).
 *
 *   argv = { "/bin/sh", "-c", CMD }, env = environ + the caller's variables
 *
 * CMD is the administrator's own configuration, given to the shell on
 * purpose (pipes, &&, quoting are theirs to use); nothing that comes from
 * the CA is ever pasted into it, callers pass such values as environment
 * variables, which the shell does not parse.
 *
 * The child is started as the library's hooks are (lib/util/spawn.c,
 * compiled in): stdin /dev/null, stdout and stderr leec's, every other
 * descriptor closed (closefrom 3: the CA connection, the store's locks),
 * default signal dispositions, an empty signal mask, a process group of its
 * own. Its end is waited for through a pidfd and
 * poll() against a CLOCK_MONOTONIC deadline (or, where pidfd_open is
 * refused, waitpid polled every 100 ms); a signal that interrupts the wait
 * does not end it. At the deadline its group gets SIGTERM, 5 s later
 * SIGKILL, and it is always reaped.
 */
#define _GNU_SOURCE

#include "hookrun.h"

#include "util/spawn.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HOOKRUN_GRACE_MS 5000    /* from SIGTERM to SIGKILL */
#define HOOKRUN_POLL_MS  100     /* without a pidfd: waitpid this often */
#define HOOKRUN_SLICE_MS 3600000 /* at most one poll() (int milliseconds) */
#define HOOKRUN_SHOWN    200     /* bytes of the command in messages */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* s on stderr, cut, control and non-ASCII bytes as '?' (it may hold
 * anything the administrator typed). */
static void put_safe(const char *s)
{
    size_t i = 0;

    for (; s[i] && i < HOOKRUN_SHOWN; i++)
        fputc(isprint((unsigned char)s[i]) ? s[i] : '?', stderr);
    if (s[i])
        fputs("...", stderr);
}

/* "leec: WHAT 'CMD': " on stderr. */
static void put_prefix(const char *what, const char *cmd)
{
    fprintf(stderr, "leec: %s '", what);
    put_safe(cmd);
    fputs("': ", stderr);
}

/* Length of the name of a "NAME=value" string; 0 when it is not one. */
static size_t env_name_len(const char *s)
{
    const char *eq = strchr(s, '=');
    return eq ? (size_t)(eq - s) : 0;
}

/* Starts /bin/sh -c CMD with the environment plus env, its stdout and
 * stderr leec's. 0 with *pid set, else an errno value (*step: what
 * failed). */
static int spawn(const char *cmd, const char *const *env, pid_t *pid,
                 const char **step)
{
    static char sh[] = "/bin/sh", dash_c[] = "-c";
    char *argv[] = {sh, dash_c, (char *)cmd, NULL};
    char **envp = NULL;
    int e = ENOMEM;

    *step = "out of memory";
    envp = Leec_spawn_env(env);
    if (!envp)
        return e;
    *step = "posix_spawn";
    /* What leec printed so far comes before what the command prints. */
    fflush(stdout);
    fflush(stderr);
    e = Leec_spawn(pid, sh, argv, envp, -1, -1);
    free(envp);
    return e;
}

/* Waits until pid has ended, without reaping it (so its process group id
 * stays taken while we may still signal the group). deadline_ms < 0: no
 * limit. 1: it has ended; 0: the deadline passed; -1: it cannot be waited
 * for (ECHILD: SIGCHLD is ignored and the kernel reaped it). */
static int wait_end(pid_t pid, int pidfd, int64_t deadline_ms)
{
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (si.si_pid == pid)
            return 1;

        int64_t left = HOOKRUN_SLICE_MS;
        if (deadline_ms >= 0) {
            left = deadline_ms - mono_ms();
            if (left <= 0)
                return 0;
            if (left > HOOKRUN_SLICE_MS)
                left = HOOKRUN_SLICE_MS;
        }
        if (pidfd >= 0) {
            struct pollfd pf = {.fd = pidfd, .events = POLLIN};
            /* An error (EINTR) or a timeout: look again. */
            (void)poll(&pf, 1, (int)left);
        } else {
            (void)poll(NULL, 0,
                       (int)(left < HOOKRUN_POLL_MS ? left : HOOKRUN_POLL_MS));
        }
    }
}

/* Signals the command's process group (its own since the spawn). */
static void signal_group(pid_t pid, int sig)
{
    if (kill(-pid, sig) != 0)
        (void)kill(pid, sig);
}

int cli_hook_run(const char *what, const char *cmd, const char *const *env,
                 unsigned timeout_s)
{
    pid_t pid = -1;
    int pidfd = -1, st = 0, ended = 0, ret = -1;
    const char *step = NULL;
    bool timed_out = false, reaped = false;
    int e = 0;

    if (!what)
        what = "hook";
    if (!cmd || !*cmd) {
        fprintf(stderr, "leec: %s: no command\n", what);
        return -1;
    }
    for (size_t i = 0; env && env[i]; i++) {
        if (env_name_len(env[i]) == 0) {
            put_prefix(what, cmd);
            fputs("not a NAME=value environment variable: '", stderr);
            put_safe(env[i]);
            fputs("'\n", stderr);
            return -1;
        }
    }
    e = spawn(cmd, env, &pid, &step);
    if (e != 0) {
        put_prefix(what, cmd);
        fprintf(stderr, "cannot start it: %s: %s\n", step, strerror(e));
        return -1;
    }
    /* Refused by some seccomp filters and old kernels: waitpid is polled
     * then. Any failure, not only ENOSYS: the command runs already and must
     * be waited for either way. */
    pidfd = pidfd_open(pid, 0);

    ended = wait_end(pid, pidfd,
                     timeout_s ? mono_ms() + (int64_t)timeout_s * 1000 : -1);
    if (ended == 0) {
        timed_out = true;
        put_prefix(what, cmd);
        fprintf(stderr, "still running after %u s, terminating it\n",
                timeout_s);
        signal_group(pid, SIGTERM);
        ended = wait_end(pid, pidfd, mono_ms() + HOOKRUN_GRACE_MS);
        if (ended == 0) {
            put_prefix(what, cmd);
            fputs("still running, killing it\n", stderr);
        }
        /* Also when the shell obeyed: what it started may have ignored the
         * SIGTERM. Its group id cannot be reused before it is reaped. */
        signal_group(pid, SIGKILL);
        if (ended == 0)
            ended = wait_end(pid, pidfd, -1);
    }
    while (!reaped) {
        pid_t got = waitpid(pid, &st, 0);
        if (got == pid)
            reaped = true;
        else if (got < 0 && errno != EINTR)
            break; /* ECHILD: reaped by the kernel, status unknown */
    }
    if (pidfd >= 0)
        close(pidfd);

    if (timed_out) {
        put_prefix(what, cmd);
        fprintf(stderr, "timed out after %u s\n", timeout_s);
    } else if (!reaped) {
        put_prefix(what, cmd);
        fputs("ended with an unknown exit status\n", stderr);
    } else if (WIFEXITED(st)) {
        ret = WEXITSTATUS(st);
    } else if (WIFSIGNALED(st)) {
        put_prefix(what, cmd);
        fprintf(stderr, "was killed by signal %d (%s)\n", WTERMSIG(st),
                strsignal(WTERMSIG(st)));
    } else {
        put_prefix(what, cmd);
        fputs("ended with an unknown exit status\n", stderr);
    }
    return ret;
}
