/* Starting a command as a child process, the one way both kinds of hooks
 * do it: the library's challenge hooks (solver/hook.c, watched from the
 * context's loop) and the CLI's pre, deploy and post hooks (cli/hookrun.c,
 * waited for). libc only, so that the CLI compiles it in too. */
#ifndef LEEC_UTIL_SPAWN_H
#define LEEC_UTIL_SPAWN_H

#include <sys/types.h>

/*
 * The environment for a child: the process's own without the variables
 * that add sets (the same NAME), then add's (NULL-terminated "NAME=value"
 * strings, may be NULL; of two with the same name the last wins). Entries
 * of environ that are not NAME=value are passed on. The strings stay their
 * owners' (environ's, add's): free the array only. NULL when out of memory.
 */
char **Leec_spawn_env(const char *const *add);

/*
 * Starts path with argv and envp, set up as every hook is: stdin from
 * /dev/null; stdout and stderr onto out_fd and err_fd (-1: the parent's,
 * inherited; otherwise descriptors above 2); no other descriptor (also
 * none opened without O_CLOEXEC); default signal dispositions and an
 * empty signal mask; a process group of its own, whose id is the child's
 * pid (so that a timeout can signal whatever it started). Returns 0 with
 * *pid set, or an errno value (nothing started).
 */
int Leec_spawn(pid_t *pid, const char *path, char *const argv[],
               char *const envp[], int out_fd, int err_fd);

#endif
