/* Starting a hook's process (see spawn.h). */
#define _GNU_SOURCE

#include "util/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

/* Length of the name of a "NAME=value" string; 0 when it is not one. */
static size_t env_name_len(const char *s)
{
    const char *eq = strchr(s, '=');
    return eq ? (size_t)(eq - s) : 0;
}

static bool same_name(const char *a, const char *b, size_t n)
{
    return strncmp(a, b, n) == 0 && b[n] == '=';
}

char **Leec_spawn_env(const char *const *add)
{
    size_t n = 0, m = 0, k = 0;
    char **out = NULL;

    while (environ && environ[n])
        n++;
    while (add && add[m])
        m++;
    out = calloc(n + m + 1, sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t len = env_name_len(environ[i]);
        bool replaced = false;
        for (size_t j = 0; j < m && len > 0 && !replaced; j++)
            replaced = same_name(environ[i], add[j], len);
        if (!replaced)
            out[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++) {
        size_t len = env_name_len(add[j]);
        bool later = false;
        for (size_t i = j + 1; i < m && !later; i++)
            later = same_name(add[j], add[i], len);
        if (!later)
            out[k++] = (char *)add[j];
    }
    out[k] = NULL;
    return out;
}

int Leec_spawn(pid_t *pid, const char *path, char *const argv[],
               char *const envp[], int out_fd, int err_fd)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    bool fa_ok = false, attr_ok = false;
    sigset_t none, all;
    int e = 0;

    if ((e = posix_spawn_file_actions_init(&fa)) != 0)
        goto out;
    fa_ok = true;
    if ((e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
                                              0)) != 0 ||
        (out_fd >= 0 &&
         (e = posix_spawn_file_actions_adddup2(&fa, out_fd, 1)) != 0) ||
        (err_fd >= 0 &&
         (e = posix_spawn_file_actions_adddup2(&fa, err_fd, 2)) != 0) ||
        /* Also what was opened without O_CLOEXEC (by a host, say). */
        (e = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0)
        goto out;
    if ((e = posix_spawnattr_init(&attr)) != 0)
        goto out;
    attr_ok = true;
    sigemptyset(&none);
    sigfillset(&all);
    if ((e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                                 POSIX_SPAWN_SETSIGMASK |
                                                 POSIX_SPAWN_SETSIGDEF)) != 0 ||
        (e = posix_spawnattr_setpgroup(&attr, 0)) != 0 ||
        (e = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
        (e = posix_spawnattr_setsigdefault(&attr, &all)) != 0)
        goto out;
    e = posix_spawn(pid, path, &fa, &attr, argv, envp);

out:
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    if (attr_ok)
        posix_spawnattr_destroy(&attr);
    return e;
}
