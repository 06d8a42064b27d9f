#define _GNU_SOURCE
/* The agents of a run, as leec issue (both forms) and renew make them:
 * per-certificate options and settings, the solver, the result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "agents.h"
#include "lifecycle.h"

char *agents_settings_text(const ca_opts *o)
{
    json_t *j = lc_settings_json(o);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    return text;
}

int agents_setup(leec_agent *agent, const ca_opts *o)
{
    /* Only a type asked for: the default must not order again a fresh
     * certificate of another type. */
    leec_code rc =
        o->key_type_set ? leec_agent_set_key_type(agent, o->key_type) : LEEC_OK;
    leec_agent_set_force(agent, o->force);
    leec_agent_set_reuse_key(agent, o->reuse_key);
    if (rc == LEEC_OK && o->webroot &&
        (rc = leec_agent_set_webroot(agent, o->webroot)) != LEEC_OK &&
        rc != LEEC_E_NOMEM) {
        /* Said once, of the option: nothing has been ordered. */
        fputs("leec: --webroot ", stderr);
        cli_put_safe(o->webroot);
        fprintf(stderr, ": %s\n",
                rc == LEEC_E_NOT_FOUND     ? "no such folder"
                : rc == LEEC_E_INVALID_ARG ? "not a folder"
                                           : leec_strerror(rc));
        return 1;
    }
    if (rc == LEEC_OK && o->preferred_chain)
        rc = leec_agent_set_preferred_chain(agent, o->preferred_chain);
    if (rc == LEEC_OK && o->profile)
        rc = leec_agent_set_profile(agent, o->profile);
    char *made = o->settings || rc != LEEC_OK ? NULL : agents_settings_text(o);
    const char *text = o->settings ? o->settings : made;
    if (rc == LEEC_OK)
        rc = text ? leec_agent_set_settings(agent, text) : LEEC_E_NOMEM;
    free(made);
    if (rc != LEEC_OK) {
        fprintf(stderr, "leec: %s: %s\n", leec_agent_cert_name(agent),
                leec_strerror(rc));
        return 1;
    }
    return 0;
}

const ca_opts *agents_opts_of(void *ud, leec_agent *agent)
{
    (void)agent;
    return ud;
}

/* The dns-01 solver of --dns. */
static leec_solver *dns_solver(leec_ctx *ctx, const ca_opts *o,
                               const leec_dns_options *d, leec_code *rc)
{
    if (strcmp(o->dns, "rfc2136") == 0)
        return leec_ctx_solver_dns_rfc2136(ctx, d, o->dns_server, o->tsig_key,
                                           rc);
    if (strcmp(o->dns, "ovh") == 0)
        return leec_ctx_solver_dns_ovh(ctx, d, o->dns_credentials, rc);
    return leec_ctx_solver_dns_hook(ctx, d, o->dns_hook, rc);
}

/* The solver chosen by the options, made once for all the run's agents
 * (NULL: the default http-01 one). */
leec_solver *agents_make_solver(leec_ctx *ctx, const ca_opts *o, leec_code *rc)
{
    leec_dns_options d = {.resolver = o->dns_resolver,
                          .zone = o->dns_zone,
                          .propagation_timeout_s = o->dns_propagation,
                          .auth_port = (int)o->dns_auth_port};
    *rc = LEEC_OK;
    if (o->tls_port)
        return leec_ctx_solver_tls_alpn(ctx, o->tls_port, rc);
    if (o->hook)
        return leec_ctx_solver_hook(ctx, o->hook, rc);
    if (o->dns_persist) {
        /* With --dns too, that provider creates a missing record. */
        leec_solver *creator = NULL;
        if (o->dns && !(creator = dns_solver(ctx, o, &d, rc)))
            return NULL;
        return leec_ctx_solver_dns_persist(ctx, &d, creator, rc);
    }
    if (!o->dns)
        return NULL;
    return dns_solver(ctx, o, &d, rc);
}

int agents_listen(leec_ctx *ctx, const ca_opts *o, leec_agent *const *agents,
                  size_t n)
{
    leec_code rc;
    if (o->http_port &&
        (rc = leec_ctx_listen_http01(ctx, o->http_port)) != LEEC_OK) {
        fprintf(stderr, "leec: cannot listen on %s for http-01: %s\n",
                o->http_port, leec_strerror(rc));
        return 1;
    }
    leec_solver *s = agents_make_solver(ctx, o, &rc);
    if (!s && rc != LEEC_OK) {
        /* The library logged why; say what it was about. */
        fprintf(stderr, "leec: cannot set up the %s: %s\n",
                o->tls_port      ? "tls-alpn-01 responder"
                : o->hook        ? "hook"
                : o->dns_persist ? "dns-persist-01 solver"
                                 : "dns-01 solver",
                leec_strerror(rc));
        return 1;
    }
    for (size_t i = 0; s && i < n; i++)
        leec_agent_set_solver(agents[i], s);
    return 0;
}

const char *agents_outcome_name(leec_outcome out)
{
    return out == LEEC_OUTCOME_ISSUED     ? "issued"
           : out == LEEC_OUTCOME_FRESH    ? "fresh"
           : out == LEEC_OUTCOME_DEFERRED ? "deferred"
                                          : "failed";
}

json_t *agents_result_json(leec_agent *agent, leec_store *store, json_t *names,
                           long requests, double seconds)
{
    leec_outcome out = leec_agent_get_outcome(agent);
    const char *name = leec_agent_cert_name(agent);
    char *live = leec_store_live_path(store, name);
    /* Only a folder that is there: a certificate that failed before its
     * first version has none. */
    if (live && access(live, F_OK) != 0) {
        free(live);
        live = NULL;
    }
    json_t *j =
        json_pack("{s:s, s:s, s:o, s:s?}", "cert_name", name, "outcome",
                  agents_outcome_name(out), "names", names, "live", live);
    free(live);
    if (!j)
        return NULL;
    if (requests >= 0)
        json_object_set_new(j, "requests", json_integer(requests));
    json_object_set_new(j, "seconds", json_real(seconds));
    /* The order at the CA, and whether an earlier run made it (taken up
     * from the store's journal rather than ordered again). */
    if (leec_agent_order_url(agent)) {
        json_object_set_new(j, "order_url",
                            json_string(leec_agent_order_url(agent)));
        json_object_set_new(j, "resumed",
                            json_boolean(leec_agent_resumed(agent)));
    }
    if (out == LEEC_OUTCOME_FAILED) {
        json_object_set_new(j, "error",
                            json_string(leec_agent_error_message(agent)));
        if (leec_agent_problem(agent))
            json_object_set_new(j, "problem",
                                cli_problem_json(leec_agent_problem(agent)));
    }
    return j;
}

char *agents_failure_text(const leec_agent *agent)
{
    const leec_problem *p = leec_agent_problem(agent);
    char *s = NULL, when[64] = "";
    time_t retry = leec_agent_retry_at(agent);
    if (retry) {
        struct tm tm;
        gmtime_r(&retry, &tm);
        strftime(when, sizeof when, "; try again after %Y-%m-%d %H:%M:%S UTC",
                 &tm);
    }
    int n =
        p ? asprintf(&s, "%s: %s (%s)%s", leec_agent_error_message(agent),
                     p->detail ? p->detail : "", p->type ? p->type : "", when)
          : asprintf(&s, "%s%s", leec_agent_error_message(agent), when);
    return n < 0 ? NULL : s;
}

struct agents_solver {
    char *key; /* the configuration, as compact JSON */
    leec_solver *s;
};

int agents_solver_set(leec_ctx *ctx, leec_agent *agent, const ca_opts *o,
                      agents_solvers *cache)
{
    if (o->http_port || o->webroot)
        return 0; /* the responder, or agents_setup's webroot */
    json_t *k =
        json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, "
                  "s:s?, s:i, s:i, s:b}",
                  "tls", o->tls_port, "hook", o->hook, "dns", o->dns, "srv",
                  o->dns_server, "tsig", o->tsig_key, "zone", o->dns_zone,
                  "cred", o->dns_credentials, "dnshook", o->dns_hook, "res",
                  o->dns_resolver, "prop", o->dns_propagation, "port",
                  (int)o->dns_auth_port, "persist", o->dns_persist);
    char *key = k ? json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(k);
    if (!key)
        return 1;
    leec_solver *s = NULL;
    for (size_t i = 0; i < cache->n && !s; i++)
        if (strcmp(cache->v[i].key, key) == 0)
            s = cache->v[i].s;
    leec_code rc = LEEC_OK;
    if (!s) {
        if (!(s = agents_make_solver(ctx, o, &rc))) {
            fprintf(stderr, "leec: %s: cannot set up its solver: %s\n",
                    leec_agent_cert_name(agent), leec_strerror(rc));
            free(key);
            return 1;
        }
        struct agents_solver *v = realloc(cache->v, (cache->n + 1) * sizeof *v);
        if (!v) {
            free(key);
            return 1;
        }
        cache->v = v;
        v[cache->n++] = (struct agents_solver){key, s};
        key = NULL;
    }
    free(key);
    return leec_agent_set_solver(agent, s) == LEEC_OK ? 0 : 1;
}

void agents_solvers_clear(agents_solvers *cache)
{
    for (size_t i = 0; i < cache->n; i++)
        free(cache->v[i].key);
    free(cache->v);
    cache->v = NULL;
    cache->n = 0;
}
