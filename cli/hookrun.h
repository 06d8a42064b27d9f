/* The CLI's pre, post and deploy hooks: the administrator's shell commands
 * (certbot's --deploy-hook "systemctl reload nginx"), run once, waited for.
 */
#ifndef LEEC_CLI_HOOKRUN_H
#define LEEC_CLI_HOOKRUN_H

/* Runs cmd with /bin/sh -c, stdin from /dev/null, stdout/stderr inherited,
 * the environment of the process plus env (NULL-terminated "NAME=value"
 * strings, may be NULL; each replaces a variable of the same name), waiting
 * at most timeout_s seconds (0: no limit): after that SIGTERM to its process
 * group, then SIGKILL 5 s later. what names it in messages ("deploy hook").
 * Returns its exit status (0..255), or -1 after a message on stderr (cannot
 * start, killed by a signal, timed out).
 *
 * cmd is the administrator's configured command and goes through the shell
 * on purpose; values that come from the CA (names, URLs, anything from the
 * network) must never be pasted into it: pass them in env instead.
 *
 * The command gets a process group of its own (so a timeout reaches what it
 * started; something it leaves running after a normal exit is left alone),
 * default signal dispositions, an empty signal mask and no descriptor but
 * 0-2. Signals that interrupt the wait (the CLI's SIGINT/SIGTERM handlers)
 * do not end it: it lasts until the command ends or its deadline. */
int cli_hook_run(const char *what, const char *cmd, const char *const *env,
                 unsigned timeout_s);

#endif
