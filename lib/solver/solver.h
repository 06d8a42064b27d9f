/*
 * The solver interface: how an agent makes a challenge answerable. Every
 * challenge type (http-01, dns-01, tls-alpn-01) and every way of answering
 * it (built-in responder, webroot, RFC 2136, OVH, a hook) implements it; the
 * agent picks the challenge of its solver's type.
 *
 *   present  start making the challenge answerable; report through done()
 *            when it is ready to be validated (for dns-01: after the
 *            propagation check), or failed. Asynchronous: done may run
 *            later from leec_ctx_perform(), or before present() returns.
 *   cleanup  undo what present did. Called exactly once for every present
 *            that returned LEEC_OK, whether it succeeded or not. With a done
 *            callback it may be asynchronous; with done == NULL (the context
 *            or agent is being freed, or a signal ends the run) it must
 *            finish before returning, bounded in time (a few seconds).
 *            A cleanup while its present is still in flight cancels it: that
 *            present's done is then never called.
 *   destroy  free the solver, finishing (synchronously, bounded) any
 *            cleanup still in flight; no present is outstanding by then.
 */
#ifndef LEEC_SOLVER_H
#define LEEC_SOLVER_H

#include <stdbool.h>

#include "leec/leec.h"

typedef struct leec_chall {
    const char *type;     /* "http-01", "dns-01", "tls-alpn-01" */
    const char *ident;    /* the identifier's value, never with "*." */
    bool wildcard;        /* the authorization is for "*." + ident */
    const char *token;    /* validated base64url */
    const char *key_auth; /* token "." thumbprint (RFC 8555 §8.1) */
    const char *digest;   /* base64url(SHA-256(key_auth)): the dns-01 TXT
                             value, the tls-alpn-01 extension content */
} leec_chall;

/* rc LEEC_OK: ready; else why not (msg: one line, may be NULL). */
typedef void (*leec_solver_done_fn)(void *userdata, leec_code rc,
                                    const char *msg);

typedef struct leec_solver leec_solver;

struct leec_solver_ops {
    /* The challenge type answered, or NULL for a solver that takes any
     * type the CA offers, in the CA's order, declining those it cannot
     * answer by reporting LEEC_E_NO_CHALLENGE through done (uacme's hook). */
    const char *type;
    const char *name; /* for logs: "dns-01 via RFC 2136", ... */
    /* *op: the solver's handle of this presentation, passed to cleanup. */
    leec_code (*present)(leec_solver *s, const leec_chall *ch,
                         leec_solver_done_fn done, void *userdata, void **op);
    /* valid: whether the challenge was validated (a hook is told "done"
     * or "failed", as uacme's are). */
    void (*cleanup)(leec_solver *s, void *op, bool valid,
                    leec_solver_done_fn done, void *userdata);
    void (*destroy)(leec_solver *s);
};

struct leec_solver {
    const struct leec_solver_ops *ops;
    leec_ctx *ctx;
};

#endif
