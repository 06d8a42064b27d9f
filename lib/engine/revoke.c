/* Certificate revocation (RFC 8555 §7.6): a POST to the directory's
 * revokeCert URL, signed by the account (kid) or by the certificate's own
 * key (jwk). Each revocation is an operation of the context (ctx_ops.c):
 * queued by leec_ctx_revoke, advanced and reported from leec_ctx_perform.
 * Here: the payload, the request and the callback. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/b64url.h"
#include "engine/internal.h"
#include "crypto/x509.h"

struct leec_revoke_op {
    leec_op base; /* first: the queue handles it as a leec_op */
    char *what;   /* "revocation of <serial>", for logs */
    char *payload;
    char *serial;       /* for logs, may be NULL */
    leec_key *cert_key; /* NULL: signed by the account */
    leec_revoke_fn done;
    void *userdata;
};

static void revoke_destroy(leec_op *base)
{
    struct leec_revoke_op *op = (struct leec_revoke_op *)base;
    free(op->what);
    free(op->payload);
    free(op->serial);
    Leec_key_free(op->cert_key);
    free(op);
}

static void on_response(void *ud, leec_acme_resp *r)
{
    struct leec_revoke_op *op = ud;
    if (!Leec_op_answer_ok(&op->base, r, "revokeCert"))
        return;
    Leec_log(op->base.ctx, LEEC_LOG_INFO, "certificate %s revoked",
             op->serial ? op->serial : "?");
    Leec_op_finish(&op->base, LEEC_OK, NULL);
}

static leec_code revoke_send(leec_op *base)
{
    struct leec_revoke_op *op = (struct leec_revoke_op *)base;
    leec_ctx *ctx = base->ctx;
    if (!Leec_session_dir(ctx)->revoke_cert) {
        Leec_log(ctx, LEEC_LOG_ERROR,
                 "the CA's directory has no revokeCert URL");
        return LEEC_E_PROTOCOL;
    }
    const leec_key *key = op->cert_key ? op->cert_key : Leec_account_key(ctx);
    const char *kid = op->cert_key ? NULL : Leec_account_url(ctx);
    Leec_log(ctx, LEEC_LOG_DEBUG, "revoking %s (signed by the %s)",
             op->serial ? op->serial : "?",
             kid ? "account" : "certificate key");
    return Leec_acme_post(ctx, LEEC_EP_REVOKE_CERT,
                          Leec_session_dir(ctx)->revoke_cert, op->payload, key,
                          kid, NULL, on_response, op, &base->req);
}

static void revoke_report(leec_op *base)
{
    struct leec_revoke_op *op = (struct leec_revoke_op *)base;
    op->done(op->userdata, base->rc, base->problem);
}

/* Revocations run side by side: none changes what another uses. */
static const leec_op_kind revoke_kind = {.one_at_a_time = false,
                                         .send = revoke_send,
                                         .report = revoke_report,
                                         .destroy = revoke_destroy};

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

static char *revoke_payload(const char *cert_pem, int reason, leec_code *rc)
{
    unsigned char *der = NULL;
    size_t derlen = 0;
    char *b64 = NULL, *out = NULL;
    leec_json *o = NULL;
    *rc = Leec_cert_pem_to_der(cert_pem, strlen(cert_pem), &der, &derlen);
    if (*rc != LEEC_OK)
        goto out;
    *rc = LEEC_E_NOMEM;
    if (!(b64 = Leec_b64url_encode(der, derlen)) ||
        !(o = Leec_json_new_object()) ||
        !Leec_json_set_str(o, "certificate", b64))
        goto out;
    if (reason != LEEC_REVOKE_NO_REASON &&
        !Leec_json_set_int(o, "reason", reason))
        goto out;
    if ((out = Leec_json_dump(o, false)))
        *rc = LEEC_OK;
out:
    free(der);
    free(b64);
    Leec_json_free(o);
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
    Leec_op_init(&op->base, ctx, &revoke_kind, NULL);
    op->done = done;
    op->userdata = userdata;
    if (!(op->payload = revoke_payload(cert_pem, reason, &rc)))
        goto fail;
    leec_cert_info *info = NULL;
    if (leec_cert_info_from_pem(cert_pem, strlen(cert_pem), &info) == LEEC_OK) {
        op->serial = info->serial ? strdup(info->serial) : NULL;
        leec_cert_info_free(info);
    }
    rc = LEEC_E_NOMEM;
    if (asprintf(&op->what, "revocation of %s", op->serial ? op->serial : "?") <
        0) {
        op->what = NULL;
        goto fail;
    }
    op->base.what = op->what;
    if (cert_key_pem) {
        rc = Leec_key_load_pem(cert_key_pem, strlen(cert_key_pem),
                               &op->cert_key);
        if (rc != LEEC_OK)
            goto fail;
        if (!Leec_key_matches_cert_pem(op->cert_key, cert_pem,
                                       strlen(cert_pem))) {
            rc = LEEC_E_CERT_MISMATCH;
            goto fail;
        }
        op->base.dir_only = true;
    } else if ((rc = Leec_op_saved_account_exists(ctx)) != LEEC_OK) {
        goto fail;
    }
    if ((rc = Leec_op_queue(&op->base)) != LEEC_OK)
        goto fail;
    return LEEC_OK;
fail:
    if (op)
        Leec_op_free(&op->base);
    return rc;
}
