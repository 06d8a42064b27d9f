/* Context-level operations (revocations, account operations): the queue,
 * the wait for the directory or the account bootstrap, the request's common
 * answers, and the report from leec_ctx_perform. What each operation sends
 * and makes of the CA's answer stays in its own file (revoke.c,
 * account_ops.c). */
#include <stdlib.h>

#include "engine/internal.h"
#include "acme/problem.h"
#include "store/store.h"

/* The context's operations, oldest first. Private to this file. */
struct leec_ops {
    leec_op *list;
    unsigned pending_ops; /* their number, counted in *running */
};

leec_code Leec_ctx_ops_attach(leec_ctx *ctx)
{
    struct leec_ops *os = calloc(1, sizeof *os);
    if (!os)
        return LEEC_E_NOMEM;
    Leec_ctx_set_ops(ctx, os);
    return LEEC_OK;
}

void Leec_ctx_ops_detach(leec_ctx *ctx)
{
    if (!Leec_ctx_ops(ctx))
        return;
    Leec_ctx_ops_free_all(ctx);
    free(Leec_ctx_ops(ctx));
    Leec_ctx_set_ops(ctx, NULL);
}

unsigned Leec_ctx_ops_pending(const leec_ctx *ctx)
{
    return Leec_ctx_ops(ctx)->pending_ops;
}

void Leec_op_init(leec_op *op, leec_ctx *ctx, const leec_op_kind *kind,
                  const char *what)
{
    op->ctx = ctx;
    op->kind = kind;
    op->what = what;
    op->state = LEEC_OP_QUEUED;
}

leec_code Leec_op_queue(leec_op *op)
{
    leec_ctx *ctx = op->ctx;
    struct leec_ops *os = Leec_ctx_ops(ctx);
    /* The loop must exist: perform sends the request. */
    if (!Leec_ctx_http(ctx))
        return LEEC_E_NOMEM;
    leec_op **pp = &os->list;
    while (*pp)
        pp = &(*pp)->next;
    *pp = op;
    os->pending_ops++;
    Leec_log(ctx, LEEC_LOG_DEBUG, "%s queued", op->what);
    return LEEC_OK;
}

void Leec_op_free(leec_op *op)
{
    if (!op)
        return;
    Leec_acme_cancel(op->ctx, op->req);
    Leec_problem_free(op->problem);
    op->kind->destroy(op);
}

void Leec_op_finish(leec_op *op, leec_code rc, leec_problem *problem)
{
    op->state = LEEC_OP_DONE;
    op->rc = rc;
    Leec_problem_free(op->problem);
    op->problem = problem;
    if (rc != LEEC_OK)
        Leec_log(op->ctx, LEEC_LOG_DEBUG, "%s failed: %s%s%s", op->what,
                 leec_strerror(rc), problem && problem->detail ? ": " : "",
                 problem && problem->detail ? problem->detail : "");
}

bool Leec_op_answer_ok(leec_op *op, leec_acme_resp *r, const char *req_name)
{
    op->req = NULL;
    if (r->err != LEEC_OK) {
        Leec_log(op->ctx, LEEC_LOG_ERROR, "%s: %s", req_name,
                 r->errmsg ? r->errmsg : leec_strerror(r->err));
        Leec_op_finish(op, r->err, NULL);
        return false;
    }
    if (r->status == 200)
        return true;
    leec_problem *p = r->problem;
    r->problem = NULL;
    if (!p)
        Leec_log(op->ctx, LEEC_LOG_ERROR,
                 "%s: HTTP %ld without a problem document", req_name,
                 r->status);
    Leec_op_finish(op, p ? LEEC_E_ACME : LEEC_E_PROTOCOL, p);
    return false;
}

leec_code Leec_op_saved_account_exists(leec_ctx *ctx)
{
    char *pem = NULL, *js = NULL;
    if (Leec_account_mode(ctx) != LEEC_ACCOUNT_SAVED ||
        Leec_account_state(ctx) == RES_READY ||
        Leec_account_state(ctx) == RES_PENDING)
        return LEEC_OK;
    if (!leec_ctx_get_store(ctx))
        return LEEC_E_INVALID_ARG;
    if (Leec_account_skip_saved(ctx))
        return LEEC_E_NOT_FOUND;
    char *ca_id = Leec_ca_id(Leec_ctx_server(ctx));
    if (!ca_id)
        return LEEC_E_INVALID_ARG;
    leec_code rc =
        Leec_store_account_load(leec_ctx_get_store(ctx), ca_id, &pem, &js);
    Leec_secure_free(pem);
    free(js);
    free(ca_id);
    return rc;
}

static void start(leec_op *op)
{
    op->state = LEEC_OP_SENT;
    leec_code rc = op->kind->send(op);
    if (rc != LEEC_OK) {
        op->req = NULL;
        Leec_op_finish(op, rc, NULL);
    }
}

/* The account bootstrap (or the directory fetch) failed: report its
 * error. */
static void fail_from_account(leec_op *op)
{
    leec_problem *p = NULL;
    leec_code rc = Leec_account_error(op->ctx, &p);
    /* The operation's report has a code and the CA's problem, not the
     * account's message (a transport error's detail, say): said here. */
    if (Leec_account_errmsg(op->ctx) && !p)
        Leec_log(op->ctx, LEEC_LOG_ERROR, "account: %s",
                 Leec_account_errmsg(op->ctx));
    Leec_op_finish(op, rc, p);
}

static void advance(leec_op *op)
{
    leec_ctx *ctx = op->ctx;
    if (op->dir_only) {
        Leec_directory_ensure(ctx);
        if (Leec_dir_state(ctx) == RES_READY)
            start(op);
        else if (Leec_dir_state(ctx) == RES_FAILED ||
                 (Leec_account_state(ctx) == RES_FAILED &&
                  Leec_dir_state(ctx) != RES_PENDING))
            fail_from_account(op);
        else
            op->state = LEEC_OP_WAIT;
        return;
    }
    Leec_account_ensure(ctx);
    if (Leec_account_state(ctx) == RES_READY)
        start(op);
    else if (Leec_account_state(ctx) == RES_FAILED)
        fail_from_account(op);
    else
        op->state = LEEC_OP_WAIT;
}

/* False for an operation that waits behind an older one of its kind. */
static bool may_advance(const leec_ctx *ctx, const leec_op *op)
{
    struct leec_ops *os = Leec_ctx_ops(ctx);
    if (!op->kind->one_at_a_time)
        return true;
    for (const leec_op *o = os->list; o != op; o = o->next)
        if (o->kind == op->kind)
            return false;
    return true;
}

void Leec_ctx_ops_perform(leec_ctx *ctx)
{
    struct leec_ops *os = Leec_ctx_ops(ctx);
    leec_op **pp = &os->list;
    while (*pp) {
        leec_op *op = *pp;
        if (may_advance(ctx, op) &&
            (op->state == LEEC_OP_QUEUED || op->state == LEEC_OP_WAIT))
            advance(op);
        if (op->state != LEEC_OP_DONE) {
            pp = &op->next;
            continue;
        }
        /* Unlinked first: report may queue another operation (appended,
         * so this loop reaches it). */
        *pp = op->next;
        os->pending_ops--;
        op->kind->report(op);
        Leec_op_free(op);
    }
}

bool Leec_ctx_ops_due(const leec_ctx *ctx)
{
    struct leec_ops *os = Leec_ctx_ops(ctx);
    for (const leec_op *op = os->list; op; op = op->next) {
        if (!may_advance(ctx, op))
            continue;
        switch (op->state) {
        case LEEC_OP_QUEUED:
        case LEEC_OP_DONE:
            return true;
        case LEEC_OP_WAIT:
            if (op->dir_only ? Leec_dir_state(ctx) != RES_PENDING
                             : Leec_account_state(ctx) != RES_PENDING)
                return true;
            break;
        case LEEC_OP_SENT:
            break;
        }
    }
    return false;
}

void Leec_ctx_ops_free_all(leec_ctx *ctx)
{
    struct leec_ops *os = Leec_ctx_ops(ctx);
    while (os->list) {
        leec_op *op = os->list;
        os->list = op->next;
        Leec_op_free(op);
    }
    os->pending_ops = 0;
}
