#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

char *cli_default_dir(void)
{
    const char *suffix = "/leec";
    char *out = NULL;
    if (geteuid() == 0)
        return strdup("/var/lib/leec");
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg && *xdg == '/') {
        size_t n = strlen(xdg) + strlen(suffix) + 1;
        if ((out = malloc(n)))
            snprintf(out, n, "%s%s", xdg, suffix);
        return out;
    }
    const char *home = getenv("HOME");
    if (!home || *home != '/') {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    if (!home)
        return NULL;
    const char *mid = "/.local/share";
    size_t n = strlen(home) + strlen(mid) + strlen(suffix) + 1;
    if ((out = malloc(n)))
        snprintf(out, n, "%s%s%s", home, mid, suffix);
    return out;
}

static void put_usage(const cli_cmd *cmd, FILE *f)
{
    fputs(cmd->usage, f);
    if (cmd->usage_more)
        fputs(cmd->usage_more, f);
}

int cli_getopt(const cli_cmd *cmd, int argc, char **argv, void *ud)
{
    int c, r;
    optind = 1;
    for (;;) {
        c = getopt_long(argc, argv, cmd->shortopts, cmd->longopts, NULL);
        if (c == -1)
            break;
        if (c == 'h') {
            put_usage(cmd, stdout);
            return -1;
        }
        /* getopt_long has said what was wrong with an unknown one. */
        if ((r = cmd->take(ud, c, optarg)) == CLI_OPT_OTHER) {
            if (cmd->usage_on_error)
                put_usage(cmd, stderr);
            return EXIT_USAGE;
        }
        if (r != 0)
            return r;
    }
    if (cmd->missing && optind != argc - 1) {
        fputs(optind >= argc ? cmd->missing : cmd->extra, stderr);
        put_usage(cmd, stderr);
        return EXIT_USAGE;
    }
    return 0;
}

int cli_set_dir(char **dir, const char *arg)
{
    free(*dir);
    if (!(*dir = strdup(arg))) {
        fputs("leec: out of memory\n", stderr);
        return EXIT_USAGE;
    }
    return 0;
}

const struct option cli_dir_json_options[] = {
    {"dir", required_argument, NULL, 'D'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int cli_take_dir_json(void *ud, int c, const char *arg)
{
    cli_dir_json *a = ud;
    switch (c) {
    case 'D':
        return cli_set_dir(&a->dir, arg);
    case 'j':
        a->json = true;
        return 0;
    default:
        return CLI_OPT_OTHER;
    }
}

bool cli_state_dir(char **dir)
{
    if (!*dir && !(*dir = cli_default_dir())) {
        fputs("leec: no state folder: use --dir DIR\n", stderr);
        return false;
    }
    return true;
}

/* Set once from main's arguments (and leec daemon's --node) before any
 * store is opened; read by cli_store_open. */
static struct {
    const char *spec, *key_file, *old_key_file, *node;
} store_opts;

void cli_set_old_store_key(const char *file)
{
    store_opts.old_key_file = file;
}

const char *cli_old_store_key(void)
{
    return store_opts.old_key_file;
}

void cli_set_store(const char *spec, const char *key_file)
{
    if (spec)
        store_opts.spec = spec;
    if (key_file)
        store_opts.key_file = key_file;
}

const char *cli_store_key_file(void)
{
    return store_opts.key_file;
}

void cli_set_node(const char *node)
{
    store_opts.node = node;
}

const char *cli_store_spec(void)
{
    if (store_opts.spec)
        return store_opts.spec;
    const char *env = getenv("LEEC_STORE");
    return env && *env ? env : NULL;
}

bool cli_store_shared(void)
{
    return leec_store_spec_is_pg(cli_store_spec());
}

leec_store *cli_store_open(const char *dir)
{
    leec_code rc;
    char *why = NULL;
    const char *spec = cli_store_spec();
    if (leec_store_spec_is_pg(spec)) {
        leec_store_pg_options po = {.node = store_opts.node,
                                    .key_file = store_opts.key_file,
                                    .old_key_file = store_opts.old_key_file};
        leec_store *store = leec_store_pg_open(spec, &po, &rc, &why);
        if (!store)
            fprintf(stderr, "leec: cannot open the store: %s\n",
                    why ? why : leec_strerror(rc));
        free(why);
        return store;
    }
    /* --store DIR names the state folder, as --dir does. */
    if (spec)
        dir = spec;
    leec_store *store = leec_store_fs_open(dir, &rc, &why);
    if (!store && why)
        fprintf(stderr, "leec: %s\n", why);
    else if (!store)
        fprintf(stderr, "leec: cannot open %s: %s\n", dir, leec_strerror(rc));
    free(why);
    return store;
}

const char *cli_store_error(leec_store *store, leec_code rc)
{
    /* LEEC_E_BAD_KEY: a shared store's record sealed with another key. */
    const char *why = rc == LEEC_E_STORE || rc == LEEC_E_BAD_KEY
                          ? leec_store_errmsg(store)
                          : NULL;
    return why ? why : leec_strerror(rc);
}

void cli_log(void *userdata, leec_log_level level, const char *msg)
{
    (void)userdata;
    static const char *const tag[] = {"error: ", "warning: ", "", ""};
    fprintf(stderr, "leec: %s%s\n", tag[level], msg);
}

void cli_vsay(bool to_syslog, bool on_stderr, int prio, const char *fmt,
              va_list ap)
{
    if (to_syslog) {
        vsyslog(prio, fmt, ap);
        return;
    }
    FILE *f = prio <= LOG_WARNING || on_stderr ? stderr : stdout;
    if (f == stderr)
        fputs("leec: ", f);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    fflush(f);
}

void cli_print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *cli_problem_json(const leec_problem *p)
{
    if (!p)
        return json_null();
    json_t *subs = json_array();
    for (size_t i = 0; i < p->nsub; i++) {
        const leec_subproblem *s = &p->sub[i];
        json_array_append_new(subs,
                              json_pack("{s:o, s:o, s:{s:o, s:o}}", "type",
                                        str_or_null(s->type), "detail",
                                        str_or_null(s->detail), "identifier",
                                        "type", str_or_null(s->id_type),
                                        "value", str_or_null(s->id_value)));
    }
    return json_pack("{s:o, s:o, s:I, s:o}", "type", str_or_null(p->type),
                     "detail", str_or_null(p->detail), "status",
                     (json_int_t)p->status, "subproblems", subs);
}

void cli_iso_time(time_t t, char *buf, size_t len)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A whole non-negative decimal number that fits an unsigned. */
bool cli_parse_unsigned(const char *opt, const char *s, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = isdigit((unsigned char)*s) ? strtoul(s, &end, 10) : 0;
    if (!isdigit((unsigned char)*s) || *end || errno || v > UINT_MAX) {
        fprintf(stderr, "leec: %s: '%s' is not a whole number (0 to %u)\n", opt,
                s, UINT_MAX);
        return false;
    }
    *out = (unsigned)v;
    return true;
}

/* A finite non-negative decimal number ("2", "0.5"). */
bool cli_parse_rate(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    bool ok = isdigit((unsigned char)*s) ||
              (*s == '.' && isdigit((unsigned char)s[1]));
    double v = ok ? strtod(s, &end) : 0;
    if (!ok || *end || errno || !isfinite(v) || v < 0 || v > 1e6) {
        fprintf(stderr,
                "leec: %s: '%s' is not a number of requests per "
                "second (0 to 1000000)\n",
                opt, s);
        return false;
    }
    *out = v;
    return true;
}

bool cli_confirm_answer(void)
{
    char line[64];
    fflush(stderr);
    if (!fgets(line, sizeof line, stdin))
        return false;
    line[strcspn(line, "\r\n")] = '\0';
    return strcmp(line, "y") == 0 || strcmp(line, "Y") == 0 ||
           strcmp(line, "yes") == 0;
}

void cli_put_safe(const char *s)
{
    size_t i = 0;
    for (; s[i] && i < 200; i++)
        fputc(isprint((unsigned char)s[i]) ? s[i] : '?', stderr);
    if (s[i])
        fputs("...", stderr);
}

static size_t hash(const char *s)
{
    size_t h = 14695981039346656037u & (size_t)-1;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * (size_t)1099511628211u;
    return h;
}

static cli_nameslot *nameset_find(cli_nameset *s, const char *key)
{
    size_t i = hash(key) & (s->cap - 1);
    while (s->v[i].key && strcmp(s->v[i].key, key) != 0)
        i = (i + 1) & (s->cap - 1);
    return &s->v[i];
}

int cli_nameset_add(cli_nameset *s, const char *name, unsigned line,
                    unsigned *prev)
{
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        cli_nameset g = {calloc(cap, sizeof(cli_nameslot)), 0, cap};
        if (!g.v)
            return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->v[i].key)
                *nameset_find(&g, s->v[i].key) = s->v[i];
        g.n = s->n;
        free(s->v);
        *s = g;
    }
    char *key = strdup(name);
    if (!key)
        return -1;
    for (char *k = key; *k; k++)
        *k = (char)tolower((unsigned char)*k);
    cli_nameslot *slot = nameset_find(s, key);
    if (slot->key) {
        *prev = slot->line;
        free(key);
        return 0;
    }
    slot->key = key;
    slot->line = line;
    s->n++;
    return 1;
}

void cli_nameset_free(cli_nameset *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->v[i].key);
    free(s->v);
}

bool cli_printable_word(const char *s, bool spaces)
{
    if (!s || !*s || strlen(s) > 256)
        return false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f || (c == ' ' && !spaces))
            return false;
    }
    return true;
}

#define SECRET_MAX 4096

char *cli_read_secret(const char *opt, const char *path)
{
    struct stat st;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "leec: %s %s: %s\n", opt, path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
        fprintf(stderr,
                "leec: %s %s: must be a regular file that only its owner "
                "can read (chmod 600)\n",
                opt, path);
        goto fail;
    }
    if (!(buf = calloc(1, SECRET_MAX + 1)))
        goto fail;
    size_t n = 0;
    ssize_t r;
    while (n <= SECRET_MAX &&
           (r = read(fd, buf + n, SECRET_MAX + 1 - n)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fprintf(stderr, "leec: %s %s: %s\n", opt, path, strerror(errno));
            goto fail;
        }
        n += (size_t)r;
    }
    if (n > SECRET_MAX) {
        fprintf(stderr, "leec: %s %s: larger than %d bytes\n", opt, path,
                SECRET_MAX);
        goto fail;
    }
    while (n && isspace((unsigned char)buf[n - 1]))
        buf[--n] = '\0';
    size_t skip = 0;
    while (skip < n && isspace((unsigned char)buf[skip]))
        skip++;
    memmove(buf, buf + skip, n - skip + 1);
    if (!*buf) {
        fprintf(stderr, "leec: %s %s: empty\n", opt, path);
        goto fail;
    }
    close(fd);
    return buf;
fail:
    if (fd >= 0)
        close(fd);
    cli_free_secret(buf);
    return NULL;
}

void cli_free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, SECRET_MAX + 1); /* trimmed bytes too */
        free(s);
    }
}

double cli_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
