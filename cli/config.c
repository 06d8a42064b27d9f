#define _GNU_SOURCE
/* The configuration file (config.h) and `leec config check`. YAML through
 * libyaml's event API: a maintained parser (Debian's libyaml), whose events
 * carry the line and column every error here names. The events become a
 * small tree; the tree is checked against one table, leec issue's own
 * options (issue.h), and each certificate becomes issue's arguments. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "issue.h"

#define CFG_MAX_DEPTH 16 /* nesting; the schema needs 4 */

/* ---- the tree of the YAML document ---- */

typedef enum { CN_SCALAR, CN_SEQ, CN_MAP } cn_kind;

typedef struct cnode {
    cn_kind kind;
    unsigned line, col;  /* 1-based */
    char *value;         /* a scalar's */
    bool plain;          /* an unquoted scalar: may mean null or a boolean */
    struct cnode **kids; /* a map's: key, value, key, value... */
    size_t n, cap;
} cnode;

static void cn_free(cnode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++)
        cn_free(n->kids[i]);
    free(n->kids);
    free(n->value);
    free(n);
}

static bool cn_add(cnode *parent, cnode *kid)
{
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? 2 * parent->cap : 8;
        cnode **v = realloc(parent->kids, cap * sizeof *v);
        if (!v)
            return false;
        parent->kids = v;
        parent->cap = cap;
    }
    parent->kids[parent->n++] = kid;
    return true;
}

/* The checker's state: the file, the error count, where errors go. */
typedef struct chk {
    const char *path;
    cfg_err_fn err;
    void *ud;
    unsigned nerr;
} chk;

__attribute__((format(printf, 4, 5))) static void
fail(chk *k, unsigned line, unsigned col, const char *fmt, ...)
{
    char *what = NULL, *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&what, fmt, ap) < 0)
        what = NULL;
    va_end(ap);
    if (what && asprintf(&msg, "%s:%u:%u: %s", k->path, line, col, what) < 0)
        msg = NULL;
    k->err(k->ud, msg ? msg : "out of memory");
    free(msg);
    free(what);
    k->nerr++;
}

/* The file into a tree (NULL root: an empty file). 0, or errors told. */
static int parse_yaml(chk *k, FILE *f, cnode **root)
{
    yaml_parser_t p;
    yaml_event_t ev;
    cnode *stack[CFG_MAX_DEPTH + 1];
    size_t depth = 0;
    int docs = 0, status = 0;
    *root = NULL;
    if (!yaml_parser_initialize(&p)) {
        fail(k, 1, 1, "out of memory");
        return 1;
    }
    yaml_parser_set_input_file(&p, f);
    for (bool done = false; !done && status == 0;) {
        if (!yaml_parser_parse(&p, &ev)) {
            fail(k, (unsigned)p.problem_mark.line + 1,
                 (unsigned)p.problem_mark.column + 1, "%s%s%s",
                 p.problem ? p.problem : "malformed YAML", p.context ? " " : "",
                 p.context ? p.context : "");
            status = 1;
            break;
        }
        unsigned line = (unsigned)ev.start_mark.line + 1;
        unsigned col = (unsigned)ev.start_mark.column + 1;
        cnode *n = NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                fail(k, line, col, "one YAML document only (a second '---')");
                status = 1;
            }
            break;
        case YAML_ALIAS_EVENT:
            fail(k, line, col,
                 "anchors and aliases (*name) are not used here: write the "
                 "value out");
            status = 1;
            break;
        case YAML_SCALAR_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (!(n = calloc(1, sizeof *n))) {
                fail(k, line, col, "out of memory");
                status = 1;
                break;
            }
            n->line = line;
            n->col = col;
            if (ev.type == YAML_SCALAR_EVENT) {
                n->kind = CN_SCALAR;
                n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                n->value = strndup((const char *)ev.data.scalar.value,
                                   ev.data.scalar.length);
                if (n->value &&
                    strlen(n->value) != (size_t)ev.data.scalar.length) {
                    fail(k, line, col, "NUL byte in a value");
                    status = 1;
                }
            } else {
                n->kind =
                    ev.type == YAML_SEQUENCE_START_EVENT ? CN_SEQ : CN_MAP;
            }
            if (status == 0 && n->kind == CN_SCALAR && !n->value) {
                fail(k, line, col, "out of memory");
                status = 1;
            } else if (status == 0 && depth == 0) {
                *root = n;
            } else if (status == 0 && !cn_add(stack[depth - 1], n)) {
                fail(k, line, col, "out of memory");
                status = 1;
            }
            if (status != 0) {
                if (*root != n)
                    cn_free(n);
                break;
            }
            if (n->kind != CN_SCALAR) {
                if (depth == CFG_MAX_DEPTH) {
                    fail(k, line, col, "nested too deeply");
                    status = 1;
                    break;
                }
                stack[depth++] = n;
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    return status;
}

/* ---- the table of keys ---- */

/* leec issue's options a file does not set: the certificate's own
 * (cert-name, domains are its keys), and those of one run. */
static const char *const not_in_file[] = {
    "domain", "cert-name", "batch",   "json",  "help",
    "queue",  "force",     "verbose", "quiet", NULL,
};

/* The account's keys: the only ones of the ca section. */
static const char *const ca_keys[] = {
    "server",
    "ca-bundle",
    "email",
    "account-key-type",
    "agree-tos",
    "eab-kid",
    "eab-hmac-key",
    "eab-hmac-key-file",
    "throwaway-account",
    NULL,
};

/* Those that choose how challenges are answered: one layer's choice
 * replaces the layers' below (defaults' webroot, a certificate's dns). */
static const char *const solver_keys[] = {
    "http-port", "webroot", "tls-port", "dns",
    "dns-hook",  "hook",    "dns-ovh",  "dns-ovh-credentials",
    NULL,
};

/* Whole numbers; rate-limit is a decimal one. */
static const char *const number_keys[] = {
    "max-parallel",
    "budget-orders",
    "budget-domain",
    "dns-auth-port",
    "dns-propagation-timeout",
    "max-wait",
    "order-timeout",
    "lock-timeout",
    NULL,
};

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

static size_t nopts(void)
{
    size_t n = 0;
    while (issue_options[n].name)
        n++;
    return n;
}

/* The index of key in issue_options, or -1. */
static long opt_index(const char *key)
{
    for (long i = 0; issue_options[i].name; i++)
        if (strcmp(issue_options[i].name, key) == 0)
            return i;
    return -1;
}

enum section { SEC_CA, SEC_DEFAULTS, SEC_CERT };

/* Whether key may be written in section (besides cert-name and domains of
 * a certificate, and store, store-key of defaults). */
static bool allowed(enum section sec, const char *key)
{
    if (opt_index(key) < 0 || in_list(not_in_file, key))
        return false;
    if (sec == SEC_CA)
        return in_list(ca_keys, key);
    return sec == SEC_DEFAULTS || strcmp(key, "dir") != 0;
}

/* Edit distance, for "did you mean" (short keys only). */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[64];
    if (la >= 63 || lb >= 63)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The allowed key of sec nearest to key, if near enough. */
static const char *near_key(enum section sec, const char *key)
{
    static const char *const extra_cert[] = {"cert-name", "domains", NULL};
    static const char *const extra_def[] = {"store", "store-key", NULL};
    const char *best = NULL;
    size_t bd = 3; /* at most 2 edits */
    for (size_t i = 0; issue_options[i].name; i++) {
        const char *o = issue_options[i].name;
        size_t d = allowed(sec, o) ? distance(key, o) : 99;
        if (3 * d > strlen(key))
            continue; /* too far to be a slip */
        if (d < bd) {
            bd = d;
            best = o;
        }
    }
    const char *const *ex = sec == SEC_CERT       ? extra_cert
                            : sec == SEC_DEFAULTS ? extra_def
                                                  : NULL;
    for (; ex && *ex; ex++) {
        size_t d = distance(key, *ex);
        if (3 * d > strlen(key))
            continue;
        if (d < bd) {
            bd = d;
            best = *ex;
        }
    }
    return best;
}

/* ---- values ---- */

static bool is_null(const cnode *v)
{
    return v->kind == CN_SCALAR && v->plain &&
           (!*v->value || strcmp(v->value, "~") == 0 ||
            strcasecmp(v->value, "null") == 0);
}

/* A YAML boolean: 1 true, 0 false, -1 not one. */
static int boolean(const cnode *v)
{
    static const char *const yes[] = {"true", "yes", "on", NULL};
    static const char *const no[] = {"false", "no", "off", NULL};
    if (v->kind != CN_SCALAR || !v->plain)
        return -1;
    for (size_t i = 0; yes[i]; i++) {
        if (strcasecmp(v->value, yes[i]) == 0)
            return 1;
        if (strcasecmp(v->value, no[i]) == 0)
            return 0;
    }
    return -1;
}

static const char *kind_name(const cnode *v)
{
    return v->kind == CN_SEQ   ? "a list"
           : v->kind == CN_MAP ? "a mapping"
                               : "a string";
}

static bool whole_number(const char *s)
{
    if (!*s || strlen(s) > 10)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* One layer of settings: per option of issue_options, set (NULL value:
 * set off, or to nothing) and where. */
typedef struct layer {
    bool *set;
    const char **val; /* the tree's strings; "" for a flag that is on */
    unsigned *line, *col;
} layer;

static bool layer_new(layer *l, size_t n)
{
    l->set = calloc(n, sizeof *l->set);
    l->val = calloc(n, sizeof *l->val);
    l->line = calloc(n, sizeof *l->line);
    l->col = calloc(n, sizeof *l->col);
    return l->set && l->val && l->line && l->col;
}

static void layer_free(layer *l)
{
    free(l->set);
    free(l->val);
    free(l->line);
    free(l->col);
}

/* Whether the library takes val as the server or the contact (as leec
 * issue would give it). */
static bool ctx_accepts(const char *name, const char *val)
{
    leec_ctx *ctx = leec_ctx_new();
    leec_code rc = LEEC_E_NOMEM;
    if (ctx)
        rc = name[0] == 's' ? leec_ctx_set_server(ctx, val)
                            : leec_ctx_set_contact(ctx, val);
    leec_ctx_free(ctx);
    return rc == LEEC_OK;
}

/* One key: value of a section into l, checked. */
static void take_value(chk *k, layer *l, const cnode *key, const cnode *v)
{
    long i = opt_index(key->value);
    const char *name = key->value;
    const char *val = NULL;
    int opt_b = issue_options[i].has_arg == optional_argument ? boolean(v) : -1;
    if (opt_b >= 0) {
        /* An option whose value may be left out (throwaway-account): true
         * is the option alone, false leaves it out, else its value. */
        val = opt_b ? "" : NULL;
    } else if (issue_options[i].has_arg == no_argument) {
        int b = boolean(v);
        if (b < 0) {
            fail(k, v->line, v->col, "%s takes true or false, not %s%s%s%s",
                 name, kind_name(v), v->kind == CN_SCALAR ? " '" : "",
                 v->kind == CN_SCALAR ? v->value : "",
                 v->kind == CN_SCALAR ? "'" : "");
            return;
        }
        val = b ? "" : NULL;
    } else if (v->kind != CN_SCALAR) {
        fail(k, v->line, v->col, "%s takes one value, not %s", name,
             kind_name(v));
        return;
    } else if (!is_null(v)) {
        val = v->value;
        leec_key_type kt;
        if (in_list(number_keys, name) && !whole_number(val))
            fail(k, v->line, v->col, "%s takes a whole number, not '%s'", name,
                 val);
        else if (strcmp(name, "rate-limit") == 0) {
            char *end = NULL;
            double d = strtod(val, &end);
            if (end == val || *end || !(d >= 0 && d <= 1e6))
                fail(k, v->line, v->col,
                     "rate-limit takes a number 0 to 1000000, not '%s'", val);
        } else if ((strcmp(name, "key-type") == 0 ||
                    strcmp(name, "account-key-type") == 0) &&
                   leec_key_type_parse(val, &kt) != LEEC_OK)
            fail(k, v->line, v->col,
                 "unknown %s '%s' (ec256, ec384, rsa2048, rsa3072, rsa4096)",
                 name, val);
        else if ((strcmp(name, "server") == 0 || strcmp(name, "email") == 0) &&
                 !ctx_accepts(name, val))
            fail(k, v->line, v->col, "%s: '%s' is not %s", name, val,
                 name[0] == 's' ? "letsencrypt, letsencrypt-staging nor an "
                                  "https URL"
                                : "an e-mail address");
        else if (strcmp(name, "dns") == 0 && strcmp(val, "rfc2136") != 0 &&
                 strcmp(val, "ovh") != 0 && strcmp(val, "hook") != 0)
            fail(k, v->line, v->col, "dns: rfc2136, ovh or hook, not '%s'",
                 val);
    }
    l->set[i] = true;
    l->val[i] = val;
    l->line[i] = key->line;
    l->col[i] = key->col;
}

/* A section (a mapping of options) into l. extra: its own keys besides the
 * options (cert-name...), handed to take_extra. */
typedef void (*extra_fn)(chk *k, void *ud, const cnode *key, const cnode *v);

static void take_section(chk *k, enum section sec, const char *what,
                         const cnode *m, layer *l, const char *const *extra,
                         extra_fn take_extra, void *ud)
{
    if (is_null(m))
        return; /* "defaults:" with nothing under it */
    if (m->kind != CN_MAP) {
        fail(k, m->line, m->col, "%s is a mapping (KEY: VALUE lines), not %s",
             what, kind_name(m));
        return;
    }
    for (size_t i = 0; i + 1 < m->n; i += 2) {
        const cnode *key = m->kids[i], *v = m->kids[i + 1];
        if (key->kind != CN_SCALAR) {
            fail(k, key->line, key->col, "a key is a word, not %s",
                 kind_name(key));
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j += 2)
            if (m->kids[j]->kind == CN_SCALAR &&
                strcmp(m->kids[j]->value, key->value) == 0) {
                fail(k, key->line, key->col,
                     "%s given twice in %s (first on "
                     "line %u)",
                     key->value, what, m->kids[j]->line);
                dup = true;
            }
        if (dup)
            continue;
        if (extra && in_list(extra, key->value)) {
            take_extra(k, ud, key, v);
        } else if (allowed(sec, key->value)) {
            take_value(k, l, key, v);
        } else {
            const char *near = near_key(sec, key->value);
            const char *why =
                sec == SEC_CA && allowed(SEC_DEFAULTS, key->value)
                    ? " (the ca section holds the account's keys; put it "
                      "under defaults:)"
                : sec == SEC_CERT && strcmp(key->value, "dir") == 0
                    ? " (one state folder per file: under defaults:)"
                : opt_index(key->value) >= 0
                    ? " (an option of one run, not of the file)"
                    : "";
            fail(k, key->line, key->col, "unknown key '%s' in %s%s%s%s%s",
                 key->value, what, why, near && !*why ? "; did you mean '" : "",
                 near && !*why ? near : "", near && !*why ? "'?" : "");
        }
    }
}

/* ---- certificates ---- */

typedef struct cert_in {
    const cnode *cert_name;
    const cnode *domains;
} cert_in;

static void take_cert_key(chk *k, void *ud, const cnode *key, const cnode *v)
{
    cert_in *ci = ud;
    if (strcmp(key->value, "cert-name") == 0) {
        if (v->kind != CN_SCALAR || is_null(v))
            fail(k, v->line, v->col, "cert-name takes a name, not %s",
                 is_null(v) ? "nothing" : kind_name(v));
        else if (!leec_store_name_valid(v->value))
            fail(k, v->line, v->col,
                 "invalid cert-name '%s' (letters, digits, '.', '_', '-')",
                 v->value);
        else
            ci->cert_name = v;
        return;
    }
    if (v->kind == CN_SEQ && v->n == 0)
        fail(k, v->line, v->col, "domains is empty");
    else if (v->kind == CN_MAP || is_null(v))
        fail(k, v->line, v->col, "domains takes a list of names, not %s",
             is_null(v) ? "nothing" : kind_name(v));
    else
        ci->domains = v;
}

static int push(char ***v, size_t *n, const char *s)
{
    char **w = realloc(*v, (*n + 1) * sizeof *w);
    if (!w)
        return 1;
    *v = w;
    if (!(w[*n] = strdup(s)))
        return 1;
    (*n)++;
    return 0;
}

/* The merged layers as issue's arguments. 0, or 1 (out of memory). */
static int make_args(cfg_cert *c, const layer *const *ls, size_t nl)
{
    size_t no = nopts();
    /* The nearest layer that chooses a solver: only its solver keys. */
    size_t solver_layer = 0;
    for (size_t L = 0; L < nl; L++)
        for (size_t i = 0; i < no; i++)
            if (ls[L]->set[i] && in_list(solver_keys, issue_options[i].name))
                solver_layer = L;
    for (size_t i = 0; i < no; i++) {
        const char *name = issue_options[i].name;
        bool solver = in_list(solver_keys, name);
        const char *val = NULL;
        bool on = false;
        for (size_t L = 0; L < nl; L++)
            if (ls[L]->set[i] && (!solver || L == solver_layer)) {
                val = ls[L]->val[i];
                on = val != NULL;
            }
        if (!on || strcmp(name, "dir") == 0)
            continue;
        /* getopt takes an optional value only as --name=value. */
        bool joined = issue_options[i].has_arg == optional_argument;
        char *opt = NULL;
        if (asprintf(&opt, "--%s%s%s", name, joined && *val ? "=" : "",
                     joined ? val : "") < 0)
            return 1;
        int r = push(&c->args, &c->nargs, opt);
        free(opt);
        if (r != 0 || (issue_options[i].has_arg == required_argument &&
                       push(&c->args, &c->nargs, val) != 0))
            return 1;
    }
    return 0;
}

/* The names of a certificate, each checked as a DNS name (by the library,
 * as leec issue checks -d). */
static void take_names(chk *k, leec_ctx *ctx, cfg_cert *c, const cnode *d)
{
    size_t n = d->kind == CN_SEQ ? d->n : 1;
    cli_nameset seen = {NULL, 0, 0};
    for (size_t i = 0; i < n; i++) {
        const cnode *v = d->kind == CN_SEQ ? d->kids[i] : d;
        leec_code rc = LEEC_OK;
        if (v->kind != CN_SCALAR || is_null(v)) {
            fail(k, v->line, v->col, "a name in domains is a word, not %s",
                 is_null(v) ? "nothing" : kind_name(v));
            continue;
        }
        const char *name = v->value;
        leec_agent *a =
            ctx ? leec_agent_new(ctx, "probe", &name, 1, &rc) : NULL;
        leec_agent_free(a);
        unsigned prev = 0;
        int added = a ? cli_nameset_add(&seen, name, v->line, &prev) : 1;
        if (!a && rc == LEEC_E_BAD_NAME)
            fail(k, v->line, v->col, "'%s' is not a DNS name", name);
        else if (!a)
            fail(k, v->line, v->col, "%s", leec_strerror(rc));
        else if (added == 0) /* else compared with the store as changed */
            fail(k, v->line, v->col, "'%s' given twice (first on line %u)",
                 name, prev);
        else if (added < 0 || push(&c->names, &c->nnames, name) != 0)
            fail(k, v->line, v->col, "out of memory");
    }
    cli_nameset_free(&seen);
}

/* What leec issue says of a certificate's options taken together (one way
 * to answer challenges, rfc2136's server and key...): its own messages,
 * after one naming the entry. */
static void check_with_issue(chk *k, const cfg_cert *c)
{
    size_t argc = 0;
    char **argv = calloc(c->nargs + 2 * c->nnames + 4, sizeof *argv);
    if (!argv) {
        fail(k, c->line, c->col, "out of memory");
        return;
    }
    argv[argc++] = "issue";
    for (size_t i = 0; i < c->nargs; i++)
        argv[argc++] = c->args[i];
    argv[argc++] = "--cert-name";
    argv[argc++] = c->cert_name;
    for (size_t i = 0; i < c->nnames; i++) {
        argv[argc++] = "-d";
        argv[argc++] = c->names[i];
    }
    /* issue's messages go to stderr: capture them into the error. */
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    FILE *saved = stderr;
    if (mem)
        stderr = mem;
    ca_opts o;
    ca_opts_init(&o);
    int r = issue_parse((int)argc, argv, &o);
    if (mem) {
        stderr = saved;
        fclose(mem);
    }
    bool eab_key = o.eab_hmac_key || o.eab_hmac_key_file;
    if (r == 0 && (o.eab_kid != NULL) != eab_key) {
        fail(k, c->line, c->col,
             "certificate '%s': eab-kid and eab-hmac-key (or "
             "eab-hmac-key-file) go together",
             c->cert_name);
        r = -2; /* told */
    }
    free(o.names);
    free(o.dir);
    free(argv);
    if (r != 0 && r != -2) {
        char *nl = buf ? strchr(buf, '\n') : NULL;
        if (nl)
            *nl = '\0';
        const char *msg = buf && strncmp(buf, "leec: ", 6) == 0 ? buf + 6
                          : buf                                 ? buf
                                                                : "";
        fail(k, c->line, c->col, "certificate '%s': %s", c->cert_name,
             *msg ? msg : "its options do not go together");
    }
    free(buf);
}

static void take_certs(chk *k, cfg *out, const cnode *seq, const layer *ca,
                       const layer *def)
{
    static const char *const extra[] = {"cert-name", "domains", NULL};
    if (is_null(seq))
        return;
    if (seq->kind != CN_SEQ) {
        fail(k, seq->line, seq->col,
             "certificates is a list ('- cert-name: ...' entries), not %s",
             kind_name(seq));
        return;
    }
    unsigned base = k->nerr; /* in the ca and defaults sections */
    leec_ctx *ctx = leec_ctx_new();
    cli_nameset seen = {NULL, 0, 0};
    if (!(out->certs = calloc(seq->n ? seq->n : 1, sizeof *out->certs)))
        fail(k, seq->line, seq->col, "out of memory");
    for (size_t i = 0; out->certs && i < seq->n; i++) {
        const cnode *e = seq->kids[i];
        unsigned before = k->nerr;
        layer own;
        cert_in ci = {NULL, NULL};
        if (!layer_new(&own, nopts())) {
            layer_free(&own);
            fail(k, e->line, e->col, "out of memory");
            break;
        }
        take_section(k, SEC_CERT, "a certificate", e, &own, extra,
                     take_cert_key, &ci);
        cfg_cert *c = &out->certs[out->n];
        c->line = e->line;
        c->col = e->col;
        if (e->kind == CN_MAP && !ci.domains && k->nerr == before)
            fail(k, e->line, e->col, "a certificate needs domains:");
        if (ci.domains)
            take_names(k, ctx, c, ci.domains);
        const char *name = ci.cert_name ? ci.cert_name->value
                           : c->nnames  ? c->names[0]
                                        : NULL;
        const cnode *at = ci.cert_name ? ci.cert_name : ci.domains;
        unsigned prev = 0;
        int added = name ? cli_nameset_add(&seen, name, at->line, &prev) : 1;
        if (added == 0)
            fail(k, at->line, at->col, "certificate '%s' is already on line %u",
                 name, prev);
        else if (added < 0)
            fail(k, at->line, at->col, "out of memory");
        const layer *ls[] = {ca, def, &own};
        if (name && !(c->cert_name = strdup(name)))
            fail(k, e->line, e->col, "out of memory");
        else if (name && make_args(c, ls, 3) != 0)
            fail(k, e->line, e->col, "out of memory");
        else if (name && k->nerr == before && base == 0)
            check_with_issue(k, c); /* only on sound layers: said once */
        layer_free(&own);
        out->n++; /* freed with out, valid or not */
    }
    cli_nameset_free(&seen);
    leec_ctx_free(ctx);
}

/* ---- the file ---- */

static void take_store_key(chk *k, void *ud, const cnode *key, const cnode *v)
{
    char **dst = ud;
    char **slot = strcmp(key->value, "store") == 0 ? &dst[0] : &dst[1];
    if (v->kind != CN_SCALAR || is_null(v))
        fail(k, v->line, v->col, "%s takes one value, not %s", key->value,
             is_null(v) ? "nothing" : kind_name(v));
    else if (!(*slot = strdup(v->value)))
        fail(k, v->line, v->col, "out of memory");
}

static void check_tree(chk *k, const cnode *root, cfg *out)
{
    static const char *const def_extra[] = {"store", "store-key", NULL};
    layer ca, def;
    const cnode *certs = NULL;
    char *store[2] = {NULL, NULL};
    if (!layer_new(&ca, nopts()) || !layer_new(&def, nopts())) {
        fail(k, 1, 1, "out of memory");
        goto out;
    }
    if (!root || is_null(root))
        goto out; /* an empty file: nothing to keep */
    if (root->kind != CN_MAP) {
        fail(k, root->line, root->col,
             "the file is a mapping of ca:, defaults: and certificates:, not "
             "%s",
             kind_name(root));
        goto out;
    }
    const cnode *seen[3] = {NULL, NULL, NULL};
    static const char *const top[] = {"ca", "defaults", "certificates", NULL};
    for (size_t i = 0; i + 1 < root->n; i += 2) {
        const cnode *key = root->kids[i], *v = root->kids[i + 1];
        size_t t = 0;
        while (top[t] &&
               (key->kind != CN_SCALAR || strcmp(top[t], key->value) != 0))
            t++;
        if (!top[t]) {
            const char *near = NULL;
            for (size_t j = 0; key->kind == CN_SCALAR && top[j]; j++)
                if (distance(key->value, top[j]) <= 2)
                    near = top[j];
            const char *hint = key->kind == CN_SCALAR && !near &&
                                       allowed(SEC_DEFAULTS, key->value)
                                   ? " (settings go under defaults:)"
                                   : "";
            fail(k, key->line, key->col,
                 "unknown section '%s' (ca, defaults, certificates)%s%s%s%s",
                 key->kind == CN_SCALAR ? key->value : "?", hint,
                 near ? "; did you mean '" : "", near ? near : "",
                 near ? "'?" : "");
            continue;
        }
        if (seen[t]) {
            fail(k, key->line, key->col, "%s given twice (first on line %u)",
                 top[t], seen[t]->line);
            continue;
        }
        seen[t] = key;
        if (t == 0)
            take_section(k, SEC_CA, "ca", v, &ca, NULL, NULL, NULL);
        else if (t == 1)
            take_section(k, SEC_DEFAULTS, "defaults", v, &def, def_extra,
                         take_store_key, store);
        else
            certs = v;
    }
    long d = opt_index("dir");
    if (def.set[d] && def.val[d] && !(out->dir = strdup(def.val[d])))
        fail(k, def.line[d], def.col[d], "out of memory");
    out->store = store[0];
    out->store_key = store[1];
    store[0] = store[1] = NULL;
    if (certs)
        take_certs(k, out, certs, &ca, &def);
out:
    free(store[0]);
    free(store[1]);
    layer_free(&ca);
    layer_free(&def);
}

unsigned cfg_load(const char *path, cfg *c, cfg_err_fn err, void *ud)
{
    chk k = {path, err, ud, 0};
    cnode *root = NULL;
    struct stat st;
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "r");
    if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size > (off_t)CFG_MAX_BYTES) {
        char *msg = NULL;
        if (asprintf(&msg, "cannot read %s: %s", path,
                     !f || !S_ISREG(st.st_mode)
                         ? (f ? "not a file" : strerror(errno))
                         : "larger than 4 MiB") < 0)
            msg = NULL;
        err(ud, msg ? msg : "out of memory");
        free(msg);
        if (f)
            fclose(f);
        return 1;
    }
    if (!(c->path = strdup(path)))
        fail(&k, 1, 1, "out of memory");
    else if (parse_yaml(&k, f, &root) == 0)
        check_tree(&k, root, c);
    fclose(f);
    cn_free(root);
    if (k.nerr)
        cfg_free(c);
    return k.nerr;
}

void cfg_free(cfg *c)
{
    for (size_t i = 0; i < c->n; i++) {
        cfg_cert *e = &c->certs[i];
        free(e->cert_name);
        for (size_t j = 0; j < e->nnames; j++)
            free(e->names[j]);
        free(e->names);
        for (size_t j = 0; j < e->nargs; j++)
            free(e->args[j]);
        free(e->args);
    }
    free(c->certs);
    free(c->path);
    free(c->dir);
    free(c->store);
    free(c->store_key);
    memset(c, 0, sizeof *c);
}

char *cfg_default_path(void)
{
    const char *tail = "/leec/leec.conf";
    char *out = NULL;
    if (geteuid() == 0)
        return strdup("/etc/leec/leec.conf");
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg == '/') {
        if (asprintf(&out, "%s%s", xdg, tail) < 0)
            return NULL;
    } else if (home && *home == '/') {
        if (asprintf(&out, "%s/.config%s", home, tail) < 0)
            return NULL;
    }
    return out;
}

int cfg_locate(const char *given, char **path)
{
    *path = NULL;
    if (given) {
        if (access(given, F_OK) != 0) {
            fprintf(stderr, "leec: --config %s: %s\n", given, strerror(errno));
            return 1;
        }
        *path = strdup(given);
    } else {
        char *def = cfg_default_path();
        if (def && access(def, F_OK) == 0) {
            *path = def;
            return 0;
        }
        free(def);
        return 0;
    }
    if (!*path) {
        fputs("leec: out of memory\n", stderr);
        return 1;
    }
    return 0;
}

/* ---- leec config check ---- */

static void to_stderr(void *ud, const char *msg)
{
    (void)ud;
    fprintf(stderr, "leec: %s\n", msg);
}

static const char config_usage[] =
    "usage: leec config check [--config FILE]\n"
    "  checks the configuration file (default: /etc/leec/leec.conf as\n"
    "  root, else ~/.config/leec/leec.conf): every error with its line\n"
    "      --config FILE        the file to check\n";

enum { OPT_CONFIG = 256 };

static int take_config(void *ud, int c, const char *arg)
{
    const char **given = ud;
    if (c != OPT_CONFIG)
        return CLI_OPT_OTHER;
    *given = arg;
    return 0;
}

int cmd_config(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, OPT_CONFIG},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const cli_cmd cmd = {.shortopts = "h",
                                .longopts = opts,
                                .take = take_config,
                                .usage = config_usage,
                                .usage_on_error = true};
    const char *given = NULL;
    if (argc >= 2 && strcmp(argv[1], "check") == 0) {
        argc--;
        argv++;
    } else if (argc < 2 ||
               (strcmp(argv[1], "--help") != 0 && strcmp(argv[1], "-h") != 0)) {
        fputs("leec: config: the action is check\n", stderr);
        fputs(config_usage, stderr);
        return EXIT_USAGE;
    }
    int r = cli_getopt(&cmd, argc, argv, &given);
    if (r != 0)
        return r < 0 ? 0 : r;
    if (optind < argc) {
        fprintf(stderr, "leec: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    char *path = NULL;
    if ((r = cfg_locate(given, &path)) != 0)
        return r;
    if (!path) {
        char *def = cfg_default_path();
        fprintf(stderr, "leec: no configuration file (%s does not exist)\n",
                def ? def : "no default");
        free(def);
        return 1;
    }
    cfg c;
    unsigned nerr = cfg_load(path, &c, to_stderr, NULL);
    if (nerr)
        fprintf(stderr, "leec: %s: %u error%s\n", path, nerr,
                nerr == 1 ? "" : "s");
    else
        printf("%s: OK, %zu certificate%s\n", path, c.n, c.n == 1 ? "" : "s");
    cfg_free(&c);
    free(path);
    return nerr ? 1 : 0;
}
