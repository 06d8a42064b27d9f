/* Certificate revocation (RFC 8555 §7.6): a POST to the directory's
 * revokeCert URL, signed by the account (kid) or by the certificate's own
 * key (jwk). Each revocation is a small job of the context: queued by
 * leec_ctx_revoke, advanced and reported from leec_ctx_perform. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "internal.h"
#include "problem.h"
#include "store.h"
#include "x509.h"

typedef enum {
    OP_QUEUED, /* not looked at yet */
    OP_WAIT,   /* waiting for the directory (cert key) or the account */
    OP_SENT,   /* the revokeCert request is out */
    OP_DONE    /* finished: done is called next */
} op_state;

struct leec_revoke_op {
    struct leec_revoke_op *next;
    leec_ctx *ctx;
    op_state state;
    char *payload;
    char *serial;       /* for logs, may be NULL */
    leec_key *cert_key; /* NULL: signed by the account */
    leec_acme_req *req;
    leec_revoke_fn done;
    void *userdata;
    leec_code rc;
    leec_problem *problem;
};

static void op_free(struct leec_revoke_op *op)
{
    if (!op)
        return;
    leec_acme_cancel(op->ctx, op->req);
    free(op->payload);
    free(op->serial);
    leec_key_free(op->cert_key);
    leec_problem_free(op->problem);
    free(op);
}

static void finish(struct leec_revoke_op *op, leec_code rc,
                   leec_problem *problem)
{
    op->state = OP_DONE;
    op->rc = rc;
    leec_problem_free(op->problem);
    op->problem = problem;
    const char *serial = op->serial ? op->serial : "?";
    if (rc == LEEC_OK)
        leec_log(op->ctx, LEEC_LOG_INFO, "certificate %s revoked", serial);
    else
        leec_log(op->ctx, LEEC_LOG_DEBUG, "revocation of %s failed: %s%s%s",
                 serial, leec_strerror(rc),
                 problem && problem->detail ? ": " : "",
                 problem && problem->detail ? problem->detail : "");
}

static void on_response(void *ud, leec_acme_resp *r)
{
    struct leec_revoke_op *op = ud;
    op->req = NULL;
    if (r->err != LEEC_OK) {
        leec_log(op->ctx, LEEC_LOG_ERROR, "revokeCert: %s",
                 r->errmsg ? r->errmsg : leec_strerror(r->err));
        finish(op, r->err, NULL);
        return;
    }
    if (r->status == 200) {
        finish(op, LEEC_OK, NULL);
        return;
    }
    leec_problem *p = r->problem;
    r->problem = NULL;
    if (!p)
        leec_log(op->ctx, LEEC_LOG_ERROR,
                 "revokeCert: HTTP %ld without a problem document", r->status);
    finish(op, p ? LEEC_E_ACME : LEEC_E_PROTOCOL, p);
}

static void send_revoke(struct leec_revoke_op *op, const leec_key *key,
                        const char *kid)
{
    leec_ctx *ctx = op->ctx;
    if (!ctx->dir.revoke_cert) {
        leec_log(ctx, LEEC_LOG_ERROR,
                 "the CA's directory has no revokeCert URL");
        finish(op, LEEC_E_PROTOCOL, NULL);
        return;
    }
    leec_log(ctx, LEEC_LOG_DEBUG, "revoking %s (signed by the %s)",
             op->serial ? op->serial : "?",
             kid ? "account" : "certificate key");
    op->state = OP_SENT;
    leec_code rc = leec_acme_post(ctx, ctx->dir.revoke_cert, op->payload, key,
                                  kid, NULL, on_response, op, &op->req);
    if (rc != LEEC_OK) {
        op->req = NULL;
        finish(op, rc, NULL);
    }
}

/* The account bootstrap failed: report its error. */
static void fail_from_account(struct leec_revoke_op *op)
{
    leec_problem *p = NULL;
    leec_code rc = leec_account_error(op->ctx, &p);
    finish(op, rc, p);
}

static void advance(struct leec_revoke_op *op)
{
    leec_ctx *ctx = op->ctx;
    if (op->cert_key) {
        leec_directory_ensure(ctx);
        if (ctx->dir_state == RES_READY)
            send_revoke(op, op->cert_key, NULL);
        else if (ctx->dir_state == RES_FAILED ||
                 (ctx->acct_state == RES_FAILED &&
                  ctx->dir_state != RES_PENDING))
            fail_from_account(op);
        else
            op->state = OP_WAIT;
        return;
    }
    leec_account_ensure(ctx);
    if (ctx->acct_state == RES_READY)
        send_revoke(op, ctx->acct_key, ctx->acct_url);
    else if (ctx->acct_state == RES_FAILED)
        fail_from_account(op);
    else
        op->state = OP_WAIT;
}

void leec_revoke_perform(leec_ctx *ctx)
{
    struct leec_revoke_op **pp = &ctx->revokes;
    while (*pp) {
        struct leec_revoke_op *op = *pp;
        if (op->state == OP_QUEUED || op->state == OP_WAIT)
            advance(op);
        if (op->state != OP_DONE) {
            pp = &op->next;
            continue;
        }
        /* Unlinked first: done may start another revocation (appended). */
        *pp = op->next;
        ctx->pending_ops--;
        op->done(op->userdata, op->rc, op->problem);
        op_free(op);
    }
}

bool leec_revoke_due(const leec_ctx *ctx)
{
    for (const struct leec_revoke_op *op = ctx->revokes; op; op = op->next) {
        switch (op->state) {
        case OP_QUEUED:
        case OP_DONE:
            return true;
        case OP_WAIT:
            if (op->cert_key ? ctx->dir_state != RES_PENDING
                             : ctx->acct_state != RES_PENDING)
                return true;
            break;
        case OP_SENT:
            break;
        }
    }
    return false;
}

void leec_revoke_free_all(leec_ctx *ctx)
{
    while (ctx->revokes) {
        struct leec_revoke_op *op = ctx->revokes;
        ctx->revokes = op->next;
        op_free(op);
    }
    ctx->pending_ops = 0;
}

static bool reason_ok(int reason)
{
    switch (reason) {
    case LEEC_REVOKE_NO_REASON:
    case LEEC_REVOKE_UNSPECIFIED:
    case LEEC_REVOKE_KEY_COMPROMISE:
    case LEEC_REVOKE_AFFILIATION_CHANGED:
    case LEEC_REVOKE_SUPERSEDED:
    case LEEC_REVOKE_CESSATION_OF_OPERATION:
        return true;
    default:
        return false;
    }
}

/* Signing with a saved account that is not loaded yet: it must exist in
 * the store (a new account could not revoke anything). */
static leec_code saved_account_exists(leec_ctx *ctx)
{
    char *pem = NULL, *js = NULL;
    if (ctx->account_mode != LEEC_ACCOUNT_SAVED ||
        ctx->acct_state == RES_READY || ctx->acct_state == RES_PENDING)
        return LEEC_OK;
    if (!ctx->store)
        return LEEC_E_INVALID_ARG;
    if (ctx->acct_skip_saved)
        return LEEC_E_NOT_FOUND;
    char *ca_id = leec_ca_id(ctx->server);
    if (!ca_id)
        return LEEC_E_INVALID_ARG;
    leec_code rc = ctx->store->ops->account_load(ctx->store, ca_id, &pem, &js);
    leec_secure_free(pem);
    free(js);
    free(ca_id);
    return rc;
}

static char *revoke_payload(const char *cert_pem, int reason, leec_code *rc)
{
    unsigned char *der = NULL;
    size_t derlen = 0;
    char *b64 = NULL, *out = NULL;
    json_t *o = NULL;
    *rc = leec_cert_pem_to_der(cert_pem, strlen(cert_pem), &der, &derlen);
    if (*rc != LEEC_OK)
        goto out;
    *rc = LEEC_E_NOMEM;
    if (!(b64 = leec_b64url_encode(der, derlen)) ||
        !(o = json_pack("{s:s}", "certificate", b64)))
        goto out;
    if (reason != LEEC_REVOKE_NO_REASON &&
        json_object_set_new(o, "reason", json_integer(reason)) != 0)
        goto out;
    if ((out = json_dumps(o, JSON_COMPACT)))
        *rc = LEEC_OK;
out:
    free(der);
    free(b64);
    json_decref(o);
    return out;
}

leec_code leec_ctx_revoke(leec_ctx *ctx, const char *cert_pem,
                          const char *cert_key_pem, int reason,
                          leec_revoke_fn done, void *userdata)
{
    leec_code rc = LEEC_E_INVALID_ARG;
    struct leec_revoke_op *op = NULL;
    if (!ctx || !cert_pem || !done || !reason_ok(reason))
        goto fail;
    rc = LEEC_E_NOMEM;
    if (!(op = calloc(1, sizeof *op)))
        goto fail;
    op->ctx = ctx;
    op->done = done;
    op->userdata = userdata;
    if (!(op->payload = revoke_payload(cert_pem, reason, &rc)))
        goto fail;
    leec_cert_info *info = NULL;
    if (leec_cert_info_from_pem(cert_pem, strlen(cert_pem), &info) == LEEC_OK) {
        op->serial = info->serial ? strdup(info->serial) : NULL;
        leec_cert_info_free(info);
    }
    if (cert_key_pem) {
        rc = leec_key_load_pem(cert_key_pem, strlen(cert_key_pem),
                               &op->cert_key);
        if (rc != LEEC_OK)
            goto fail;
        if (!leec_key_matches_cert_pem(op->cert_key, cert_pem,
                                       strlen(cert_pem))) {
            rc = LEEC_E_CERT_MISMATCH;
            goto fail;
        }
    } else if ((rc = saved_account_exists(ctx)) != LEEC_OK) {
        goto fail;
    }
    rc = LEEC_E_NOMEM;
    if (!leec_ctx_http(ctx))
        goto fail;
    struct leec_revoke_op **pp = &ctx->revokes;
    while (*pp)
        pp = &(*pp)->next;
    *pp = op;
    ctx->pending_ops++;
    leec_log(ctx, LEEC_LOG_DEBUG, "revocation of %s queued",
             op->serial ? op->serial : "?");
    return LEEC_OK;
fail:
    op_free(op);
    return rc;
}
