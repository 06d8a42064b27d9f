#define _GNU_SOURCE
/* Renewal settings and the pre/post/deploy hooks (see lifecycle.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookrun.h"
#include "lifecycle.h"

static void put_str(json_t *o, const char *key, const char *v)
{
    if (v)
        json_object_set_new(o, key, json_string(v));
}

/* An absolute form of a path option (as given when it cannot be made). */
static void put_path(json_t *o, const char *key, const char *v)
{
    char *abs = v ? realpath(v, NULL) : NULL;
    put_str(o, key, abs ? abs : v);
    free(abs);
}

json_t *lc_settings_json(const ca_opts *o)
{
    json_t *j = json_pack("{s:i}", "version", 1);
    if (!j)
        return NULL;
    put_str(j, "server", o->server);
    put_path(j, "ca_bundle", o->ca_bundle);
    put_str(j, "http_port", o->http_port);
    put_path(j, "webroot", o->webroot);
    put_str(j, "tls_port", o->tls_port);
    put_str(j, "dns", o->dns);
    if (o->dns_persist)
        json_object_set_new(j, "dns_persist", json_true());
    put_str(j, "dns_server", o->dns_server);
    put_path(j, "tsig_key", o->tsig_key);
    put_str(j, "dns_zone", o->dns_zone);
    put_path(j, "dns_credentials", o->dns_credentials);
    put_str(j, "dns_hook", o->dns_hook);
    put_str(j, "dns_resolver", o->dns_resolver);
    if (o->dns_propagation >= 0)
        json_object_set_new(j, "dns_propagation_timeout",
                            json_integer(o->dns_propagation));
    if (o->dns_auth_port)
        json_object_set_new(j, "dns_auth_port", json_integer(o->dns_auth_port));
    put_str(j, "hook", o->hook);
    put_str(j, "key_type", leec_key_type_name(o->key_type));
    put_str(j, "email", o->email);
    json_object_set_new(j, "throwaway_account", json_boolean(o->throwaway));
    if (o->throwaway_per_cert)
        json_object_set_new(j, "throwaway_account_per_certificate",
                            json_true());
    put_str(j, "preferred_chain", o->preferred_chain);
    put_str(j, "profile", o->profile);
    json_object_set_new(j, "reuse_key", json_boolean(o->reuse_key));
    put_str(j, "pre_hook", o->pre_hook);
    put_str(j, "post_hook", o->post_hook);
    put_str(j, "deploy_hook", o->deploy_hook);
    return j;
}

static const char *get_str(const json_t *j, const char *key)
{
    const json_t *v = json_object_get(j, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int lc_opts_from_settings(const json_t *j, ca_opts *o, const char **why)
{
    *why = NULL;
    if (!json_is_object(j)) {
        *why = "no renewal settings (issued by another program or an "
               "older leec: run leec issue for it once)";
        return 1;
    }
    const json_t *ver = json_object_get(j, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
        *why = "renewal settings of an unknown version";
        return 1;
    }
    o->server = get_str(j, "server");
    o->ca_bundle = get_str(j, "ca_bundle");
    o->http_port = get_str(j, "http_port");
    o->webroot = get_str(j, "webroot");
    o->tls_port = get_str(j, "tls_port");
    o->dns = get_str(j, "dns");
    o->dns_persist = json_is_true(json_object_get(j, "dns_persist"));
    o->dns_server = get_str(j, "dns_server");
    o->tsig_key = get_str(j, "tsig_key");
    o->dns_zone = get_str(j, "dns_zone");
    o->dns_credentials = get_str(j, "dns_credentials");
    o->dns_hook = get_str(j, "dns_hook");
    o->dns_resolver = get_str(j, "dns_resolver");
    const json_t *v = json_object_get(j, "dns_propagation_timeout");
    o->dns_propagation = json_is_integer(v) && json_integer_value(v) >= 0 &&
                                 json_integer_value(v) <= 86400
                             ? (int)json_integer_value(v)
                             : -1;
    v = json_object_get(j, "dns_auth_port");
    o->dns_auth_port = json_is_integer(v) && json_integer_value(v) > 0 &&
                               json_integer_value(v) < 65536
                           ? (unsigned)json_integer_value(v)
                           : 0;
    o->hook = get_str(j, "hook");
    const char *kt = get_str(j, "key_type");
    if (kt && leec_key_type_parse(kt, &o->key_type) != LEEC_OK) {
        *why = "unknown key type in the renewal settings";
        return 1;
    }
    o->key_type_set = kt != NULL;
    o->email = get_str(j, "email");
    o->throwaway = json_is_true(json_object_get(j, "throwaway_account"));
    o->throwaway_per_cert =
        json_is_true(json_object_get(j, "throwaway_account_per_certificate"));
    o->preferred_chain = get_str(j, "preferred_chain");
    o->profile = get_str(j, "profile");
    o->reuse_key = json_is_true(json_object_get(j, "reuse_key"));
    o->pre_hook = get_str(j, "pre_hook");
    o->post_hook = get_str(j, "post_hook");
    o->deploy_hook = get_str(j, "deploy_hook");
    int solvers = !!o->http_port + !!o->webroot + !!(o->dns || o->dns_persist) +
                  !!o->hook + !!o->tls_port;
    if (solvers != 1) {
        *why = "the renewal settings name no way to answer challenges";
        return 1;
    }
    return 0;
}

void lc_hooks_init(lc_hooks *h, leec_store *store, lc_opts_of_fn opts_of,
                   void *ud)
{
    memset(h, 0, sizeof *h);
    h->store = store;
    h->opts_of = opts_of;
    h->ud = ud;
}

static bool in(const char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static void add(const char ***v, size_t *n, const char *s)
{
    const char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return; /* out of memory: the hook may then run twice */
    *v = nv;
    nv[(*n)++] = s;
}

static void run(lc_hooks *h, const char *what, const char *cmd,
                const char *const *env)
{
    if (cli_hook_run(what, cmd, env, LC_HOOK_TIMEOUT_S) != 0) {
        h->failed++;
        fprintf(stderr, "leec: the %s failed: %s\n", what, cmd);
    }
}

/* The deploy hooks owed, then the post-hooks: the end of a wave. */
static void run_posts(lc_hooks *h)
{
    for (size_t i = 0; i < h->ndeploy; i++) {
        lc_deploy *d = &h->deploys[i];
        const char *env[] = {d->env[0], d->env[1], d->env[2], NULL};
        run(h, "deploy hook", d->cmd, env);
        for (int k = 0; k < 3; k++)
            free(d->env[k]);
    }
    free(h->deploys);
    h->deploys = NULL;
    h->ndeploy = 0;
    for (size_t i = 0; i < h->npost; i++)
        run(h, "post-hook", h->post_owed[i], NULL);
    free(h->post_owed);
    free(h->pre_ran);
    h->post_owed = h->pre_ran = NULL;
    h->npost = h->npre = 0;
}

static char *env_var(const char *name, const char *value)
{
    char *s = NULL;
    return value && asprintf(&s, "%s=%s", name, value) >= 0 ? s : NULL;
}

/* Queues the deploy hook of a certificate just installed, with what it is
 * told in its environment. */
static void deploy(lc_hooks *h, leec_agent *a, const char *cmd)
{
    const char *const *names;
    size_t n = leec_agent_names(a, &names);
    char *live = leec_store_live_path(h->store, leec_agent_cert_name(a));
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(names[i]) + 1;
    char *doms = calloc(1, len), *at = doms;
    for (size_t i = 0; doms && i < n; i++) {
        size_t k = strlen(names[i]);
        if (i)
            *at++ = ' ';
        memcpy(at, names[i], k);
        at += k;
    }
    lc_deploy d = {cmd,
                   {env_var("LEEC_CERT_NAME", leec_agent_cert_name(a)),
                    env_var("LEEC_LIVE_DIR", live),
                    env_var("LEEC_DOMAINS", doms)}};
    lc_deploy *v = realloc(h->deploys, (h->ndeploy + 1) * sizeof *v);
    if (v)
        h->deploys = v;
    if (!v || !d.env[0] || !d.env[1] || !d.env[2]) {
        fputs("leec: out of memory: deploy hook not run\n", stderr);
        h->failed++;
        for (int k = 0; k < 3; k++)
            free(d.env[k]);
    } else {
        v[h->ndeploy++] = d;
    }
    free(live);
    free(doms);
}

void lc_hook_fn(void *ud, leec_hook_point point, leec_agent *agent)
{
    lc_hooks *h = ud;
    const ca_opts *o = agent ? h->opts_of(h->ud, agent) : NULL;
    switch (point) {
    case LEEC_HOOK_PRE:
        if (o && o->pre_hook && !in(h->pre_ran, h->npre, o->pre_hook)) {
            add(&h->pre_ran, &h->npre, o->pre_hook);
            run(h, "pre-hook", o->pre_hook, NULL);
        }
        if (o && o->post_hook && !in(h->post_owed, h->npost, o->post_hook))
            add(&h->post_owed, &h->npost, o->post_hook);
        break;
    case LEEC_HOOK_DEPLOY:
        if (o && o->deploy_hook)
            deploy(h, agent, o->deploy_hook);
        break;
    case LEEC_HOOK_POST:
        run_posts(h);
        break;
    }
}

void lc_hooks_finish(lc_hooks *h)
{
    run_posts(h);
}
