/* What leec renew and the daemon need from leec issue: the renewal settings
 * kept with each certificate (meta.json "settings"), and the pre, post and
 * deploy hooks run around orders. */
#ifndef LEEC_CLI_LIFECYCLE_H
#define LEEC_CLI_LIFECYCLE_H

#include "ca.h"

#define LC_HOOK_TIMEOUT_S 600 /* a hook that hangs must not stop renewals */

/* The per-certificate options of o as a JSON object (paths made absolute:
 * a renewal runs from another folder). NULL on OOM. */
json_t *lc_settings_json(const ca_opts *o);

/* Fills the per-certificate fields of o from a settings object (the
 * strings stay owned by it). 0, or 1 with a reason in *why (static). */
int lc_opts_from_settings(const json_t *settings, ca_opts *o, const char **why);

/* Hooks of a run: the pre-hook of each distinct command once per wave of
 * orders; at the end of the wave, the deploy-hook of each certificate
 * installed, then the post-hooks owed. opts_of gives an agent's options. */
typedef const ca_opts *(*lc_opts_of_fn)(void *ud, leec_agent *agent);
typedef struct lc_deploy {
    const char *cmd; /* the certificate's options' */
    char *env[3];    /* LEEC_CERT_NAME=, LEEC_LIVE_DIR=, LEEC_DOMAINS= */
} lc_deploy;
typedef struct lc_hooks {
    leec_store *store;
    lc_opts_of_fn opts_of;
    void *ud;
    const char **pre_ran; /* pre-hooks run in this wave */
    size_t npre;
    const char **post_owed; /* post-hooks to run when it ends */
    size_t npost;
    lc_deploy *deploys; /* deploy hooks owed, run when it ends: a slow
                           hook must not stall other certificates'
                           requests in flight */
    size_t ndeploy;
    unsigned failed; /* hooks that failed (non-zero exit) */
} lc_hooks;

void lc_hooks_init(lc_hooks *h, leec_store *store, lc_opts_of_fn opts_of,
                   void *ud);
/* The library's hook callback (leec_ctx_set_hook_fn), ud = the lc_hooks. */
void lc_hook_fn(void *ud, leec_hook_point point, leec_agent *agent);
/* Runs the deploy and post-hooks still owed (a run that ended early). */
void lc_hooks_finish(lc_hooks *h);

#endif
