/* http-01 on the solver interface: the context's token table (served by the
 * built-in responder or looked up by the host server), optionally mirrored
 * as files under a webroot. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/log.h"
#include "solver/http01_tokens.h"
#include "util/log.h"
#include "solver/providers.h"
#include "solver/webroot.h"
#include "store/store.h"

typedef struct http_solver {
    leec_ctx *ctx;
    char *webroot; /* NULL: the token table only */
} http_solver;

typedef struct http_op {
    char *token;
    leec_store *pending;      /* the store the token is being written to */
    leec_solver_done_fn done; /* then: present's */
    void *ud;
} http_op;

/* The token is in the shared store: the CA may look (at any node). */
static void put_done(void *ud, leec_code rc)
{
    http_op *o = ud;
    o->pending = NULL;
    o->done(o->ud, rc,
            rc == LEEC_OK ? NULL : "cannot record the token in the store");
}

static leec_status http_present(void *impl, const leec_challenge *ch,
                                leec_solver_done_fn done, void *ud, void **op)
{
    http_solver *hs = impl;
    http_op *o = calloc(1, sizeof *o);
    if (!o || !(o->token = strdup(ch->token))) {
        free(o);
        return LEEC_STATUS_FAILED;
    }
    /* A shared store whose writes do not wait: the token is served here at
     * once, and reported ready when the store has it (another node may
     * answer the CA). */
    leec_store *st = Leec_tokens_store(Leec_ctx_tokens(hs->ctx));
    bool async = st && Leec_store_has_async(st) && done;
    /* Owner: the op, so that several agents' tokens never collide. */
    leec_code rc = Leec_tokens_add_local(Leec_ctx_tokens(hs->ctx), ch->token,
                                         ch->key_auth, o, !async);
    if (rc == LEEC_OK && hs->webroot) {
        char *why = NULL;
        rc = Leec_webroot_present(hs->webroot, ch->token, ch->key_auth, &why);
        if (rc != LEEC_OK) {
            if (why)
                Leec_log(hs->ctx, LEEC_LOG_ERROR, "http-01 webroot: %s", why);
            Leec_tokens_remove(Leec_ctx_tokens(hs->ctx), ch->token, o);
        }
        free(why);
    }
    if (rc == LEEC_OK && async) {
        o->done = done;
        o->ud = ud;
        o->pending = st;
        rc = Leec_store_token_put_async(st, ch->token, ch->key_auth, put_done,
                                        o);
        if (rc != LEEC_OK) {
            o->pending = NULL;
            Leec_tokens_remove(Leec_ctx_tokens(hs->ctx), ch->token, o);
            if (hs->webroot)
                (void)Leec_webroot_cleanup(hs->webroot, ch->token, NULL);
        }
    }
    if (rc != LEEC_OK) {
        free(o->token);
        free(o);
        return LEEC_STATUS_FAILED;
    }
    *op = o;
    return o->pending ? LEEC_STATUS_PENDING : LEEC_STATUS_DONE;
}

static leec_status http_cleanup(void *impl, void *op, bool valid,
                                leec_solver_done_fn done, void *ud)
{
    (void)valid;
    http_solver *hs = impl;
    http_op *o = op;
    leec_code rc = LEEC_OK;
    char *why = NULL;
    /* Taken down before the store answered: nobody waits for it now. */
    if (o->pending)
        Leec_store_async_forget(o->pending, o);
    Leec_tokens_remove(Leec_ctx_tokens(hs->ctx), o->token, o);
    if (hs->webroot)
        rc = Leec_webroot_cleanup(hs->webroot, o->token, &why);
    free(o->token);
    free(o);
    if (rc == LEEC_OK)
        return LEEC_STATUS_DONE;
    /* The reason goes with the failure, to the agent's log. */
    if (done)
        done(ud, rc, why ? why : "cannot remove the webroot file");
    free(why);
    return done ? LEEC_STATUS_PENDING : LEEC_STATUS_FAILED;
}

static void http_destroy(void *impl)
{
    http_solver *hs = impl;
    free(hs->webroot);
    free(hs);
}

static const struct leec_solver_ops http01_ops = {
    .type = "http-01",
    .name = "http-01",
    .present = http_present,
    .cleanup = http_cleanup,
    .destroy = http_destroy,
};

static const struct leec_solver_ops webroot_ops = {
    .type = "http-01",
    .name = "http-01 webroot",
    .present = http_present,
    .cleanup = http_cleanup,
    .destroy = http_destroy,
};

static leec_solver *make(leec_ctx *ctx, const struct leec_solver_ops *ops,
                         const char *dir, leec_code *err)
{
    http_solver *hs = calloc(1, sizeof *hs);
    if (!hs || (dir && !(hs->webroot = strdup(dir)))) {
        free(hs);
        if (err)
            *err = LEEC_E_NOMEM;
        return NULL;
    }
    hs->ctx = ctx;
    return Leec_solver_new(ctx, ops, hs, err);
}

leec_solver *Leec_http01_solver_new(leec_ctx *ctx, leec_code *err)
{
    return make(ctx, &http01_ops, NULL, err);
}

leec_solver *Leec_webroot_solver_new(leec_ctx *ctx, const char *dir,
                                     leec_code *err)
{
    struct stat st;
    leec_code rc = LEEC_E_INVALID_ARG;
    if (!dir || !*dir)
        goto fail;
    /* Refused now, before anything is ordered: a typo must not cost the
     * CA an order and a failed validation. */
    if (stat(dir, &st) != 0) {
        rc = errno == ENOENT || errno == ENOTDIR ? LEEC_E_NOT_FOUND : LEEC_E_IO;
        goto fail;
    }
    if (!S_ISDIR(st.st_mode))
        goto fail;
    return make(ctx, &webroot_ops, dir, err);
fail:
    if (err)
        *err = rc;
    return NULL;
}

const char *Leec_webroot_solver_dir(const leec_solver *s)
{
    const http_solver *hs = Leec_solver_impl(s, &webroot_ops);
    return hs ? hs->webroot : NULL;
}
