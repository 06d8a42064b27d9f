/* Tests for cli/hookrun.c: real shell commands, run and waited for. */
#define _GNU_SOURCE

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
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hookrun.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_exit_status(void **state)
{
    (void)state;
    assert_int_equal(cli_hook_run("test hook", "true", NULL, 0), 0);
    assert_int_equal(cli_hook_run("test hook", "exit 3", NULL, 10), 3);
    assert_int_equal(cli_hook_run("test hook", "exit 255", NULL, 10), 255);
    /* The shell's own syntax, on purpose. */
    assert_int_equal(cli_hook_run("test hook", "false || exit 7", NULL, 10), 7);
}

static void test_env(void **state)
{
    const char *const env[] = {"LEEC_X=y", "LEEC_EMPTY=", NULL};
    const char *const twice[] = {"LEEC_X=a", "LEEC_X=y", NULL};
    const char *const bad[] = {"NOEQUALS", NULL};

    (void)state;
    assert_int_equal(cli_hook_run("test hook", "test \"$LEEC_X\" = y", env, 10),
                     0);
    assert_int_equal(cli_hook_run("test hook",
                                  "test \"${LEEC_EMPTY-unset}\" = \"\"", env,
                                  10),
                     0);
    /* The process's environment is passed on... */
    assert_int_equal(setenv("LEEC_Y", "z", 1), 0);
    assert_int_equal(cli_hook_run("test hook", "test \"$LEEC_Y\" = z", env, 10),
                     0);
    assert_int_equal(
        cli_hook_run("test hook", "test \"$LEEC_Y\" = z", NULL, 10), 0);
    /* ...and a variable given replaces it, the last one of a name wins. */
    assert_int_equal(setenv("LEEC_X", "n", 1), 0);
    assert_int_equal(cli_hook_run("test hook", "test \"$LEEC_X\" = y", env, 10),
                     0);
    assert_int_equal(
        cli_hook_run("test hook", "test \"$LEEC_X\" = y", twice, 10), 0);
    assert_int_equal(
        cli_hook_run("test hook", "test \"$LEEC_X\" = n", NULL, 10), 0);
    unsetenv("LEEC_X");
    unsetenv("LEEC_Y");
    assert_int_equal(cli_hook_run("test hook", "true", bad, 10), -1);
}

static void test_timeout(void **state)
{
    double t0 = now_s();

    (void)state;
    assert_int_equal(cli_hook_run("test hook", "sleep 30", NULL, 1), -1);
    /* Well before the 30 s (not a timing test). */
    assert_true(now_s() - t0 < 20);
}

/* SIGTERM ignored by the command and what it started: SIGKILL 5 s later. */
static void test_timeout_kill(void **state)
{
    double t0 = now_s();

    (void)state;
    assert_int_equal(
        cli_hook_run("test hook", "trap '' TERM; sleep 30; exit 0", NULL, 1),
        -1);
    assert_true(now_s() - t0 < 25);
}

static void test_cannot_run(void **state)
{
    (void)state;
    assert_int_equal(cli_hook_run("test hook", "exec /nonexistent", NULL, 10),
                     127);
    assert_int_equal(cli_hook_run("test hook", "", NULL, 10), -1);
    assert_int_equal(cli_hook_run("test hook", NULL, NULL, 10), -1);
}

static void test_killed_by_signal(void **state)
{
    (void)state;
    assert_int_equal(cli_hook_run("test hook", "kill -KILL $$", NULL, 10), -1);
}

/* stdin is /dev/null, no descriptor above 2, a process group of its own. */
static void test_hygiene(void **state)
{
    char cmd[256];
    int fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */

    (void)state;
    assert_true(fd > 2);
    snprintf(cmd, sizeof cmd, "test ! -e /proc/$$/fd/%d", fd);
    assert_int_equal(cli_hook_run("test hook", cmd, NULL, 10), 0);
    close(fd);
    assert_int_equal(cli_hook_run("test hook",
                                  "test \"$(readlink /proc/$$/fd/0)\" = "
                                  "/dev/null",
                                  NULL, 10),
                     0);
    assert_int_equal(
        cli_hook_run("test hook",
                     "read -r pid comm st ppid pg rest </proc/$$/stat && "
                     "test \"$pg\" = $$",
                     NULL, 10),
        0);
}

/* A signal ignored by leec is not ignored by the command. */
static void test_default_signals(void **state)
{
    struct sigaction ign, old;

    (void)state;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    assert_int_equal(sigaction(SIGTERM, &ign, &old), 0);
    assert_int_equal(
        cli_hook_run("test hook", "kill -TERM $$; exit 0", NULL, 10), -1);
    assert_int_equal(sigaction(SIGTERM, &old, NULL), 0);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

/* The CLI's handlers have no SA_RESTART: interrupted waits go on. */
static void test_eintr(void **state)
{
    struct sigaction sa, old;
    struct itimerval every = {{0, 50000}, {0, 50000}}, off, prev;

    (void)state;
    memset(&sa, 0, sizeof sa);
    memset(&off, 0, sizeof off);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    alarms = 0;
    assert_int_equal(setitimer(ITIMER_REAL, &every, &prev), 0);
    int rc = cli_hook_run("test hook", "sleep 1; exit 4", NULL, 10);
    assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
    assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
    assert_int_equal(rc, 4);
    assert_true(alarms > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_status),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_timeout_kill),
        cmocka_unit_test(test_cannot_run),
        cmocka_unit_test(test_killed_by_signal),
        cmocka_unit_test(test_hygiene),
        cmocka_unit_test(test_default_signals),
        cmocka_unit_test(test_eintr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
