/*
 * libleec — the solver interface: answering challenges a program's own way.
 *
 * A solver makes the challenges of an authorization answerable: http-01 by
 * serving the key authorization at http://NAME/.well-known/acme-challenge/
 * TOKEN, dns-01 by publishing a TXT record, tls-alpn-01 by presenting a
 * certificate, or any other type a CA offers. The library's own solvers
 * (the default http-01 one, leec_ctx_solver_webroot, the dns-01 solvers of
 * leec_ctx_solver_dns and leec_ctx_solver_dns_*, leec_ctx_solver_hook,
 * leec_ctx_solver_tls_alpn) are built on this interface; a program plugs
 * in its own with leec_ctx_add_solver() and hands it to agents with
 * leec_agent_set_solver(). For dns-01 it is usually simpler to write a DNS
 * provider (leec/dns_provider.h) and let the library's dns-01 solver do
 * the rest.
 *
 * One presentation (an agent, one challenge of one authorization):
 *
 *   present    makes the challenge answerable and says, on returning:
 *                LEEC_STATUS_DONE      it is: the CA may validate it now;
 *                LEEC_STATUS_PENDING   under way: done() reports it later;
 *                LEEC_STATUS_DECLINED  not a challenge this solver answers,
 *                                      nothing was done: the agent offers
 *                                      the authorization's next challenge
 *                                      (a solver of every type, below), or
 *                                      fails with LEEC_E_NO_CHALLENGE;
 *                LEEC_STATUS_FAILED    it could not, nothing is left to
 *                                      undo: the agent fails with
 *                                      LEEC_E_SOLVER.
 *   done       after PENDING, exactly once: rc LEEC_OK (ready),
 *              LEEC_E_NO_CHALLENGE (declined, as DECLINED; its cleanup is
 *              still owed), or any other code (failed; msg says why, in
 *              one line, and becomes the agent's error message).
 *   cleanup    undoes what present did: when the CA has validated the
 *              challenge (valid true), or when the agent gives up on it,
 *              fails, is freed, or the context is freed (valid false).
 *              Called exactly once for every present that returned DONE
 *              or PENDING, never after DECLINED or FAILED. A cleanup
 *              while present is still PENDING cancels it: that present's
 *              done must not be called any more.
 *   destroy    once, when the context is freed (after its agents), or when
 *              leec_ctx_add_solver() fails.
 *
 * Threads and time. A solver is used from the thread that uses its context,
 * like everything of the context. The library calls present, and cleanup
 * with a done callback, from inside leec_ctx_perform() only; cleanup
 * without one (done NULL: it must finish before returning, in a few seconds
 * at most) also from leec_agent_free() and leec_ctx_free(), and destroy
 * from leec_ctx_free(). None of them may call back into the context
 * (perform, poll, run, free an agent or the context). They should not
 * block for long either: every agent of the context waits meanwhile, so
 * what takes time belongs to PENDING.
 *
 * done (present's or cleanup's) may be called on the context's thread from
 * anywhere: from inside present or cleanup themselves (a result known at
 * once, with a message: call done and return LEEC_STATUS_PENDING), from a
 * callback the library runs, or from the program's own event loop between
 * calls to leec_ctx_perform(). done only records the result: the library
 * acts on it later, from leec_ctx_perform() (leec_ctx_timeout_ms() answers
 * 0 until it has), so done never calls back into the solver. Never from
 * another thread.
 *
 * Ownership. The challenge (and its strings) is valid only during present:
 * copy what you keep. op is the solver's own handle of one presentation
 * (it may stay NULL), passed back to cleanup. msg is copied by done. The
 * ops structure is not copied: it must stay valid and unchanged until
 * destroy has run (make it static const).
 */
#ifndef LEEC_SOLVER_H
#define LEEC_SOLVER_H

#include <stdbool.h>

#include "leec/leec.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a solver's (or DNS provider's) operation says when it returns. */
typedef enum leec_status {
    LEEC_STATUS_DONE = 0,     /* finished, successfully: done is not called */
    LEEC_STATUS_PENDING = 1,  /* under way: done is called once, later */
    LEEC_STATUS_DECLINED = 2, /* present only: not this challenge */
    LEEC_STATUS_FAILED = 3    /* failed, nothing to undo: done is not called */
} leec_status;

/* The end of a PENDING operation: rc LEEC_OK, or why not (msg: one line,
 * may be NULL, copied). done_arg is the one the operation was given. */
typedef void (*leec_solver_done_fn)(void *done_arg, leec_code rc,
                                    const char *msg);

/* A challenge to answer. Every string is NUL-terminated; the structure
 * may grow at its end in later versions. */
typedef struct leec_challenge {
    const char *type;       /* "http-01", "dns-01", "tls-alpn-01",
                               "dns-persist-01", ... */
    const char *ident_type; /* "dns", or "ip" (RFC 8738) */
    const char *ident;      /* the identifier's value, lower case, never
                               with "*." (see wildcard) */
    bool wildcard;          /* the authorization is for "*." + ident */
    const char *token;      /* the CA's token, checked to be base64url */
    const char *key_auth;   /* token "." thumbprint of the account key
                               (RFC 8555 §8.1): what http-01 serves */
    const char *digest;     /* base64url(SHA-256(key_auth)): the TXT value
                               of dns-01 at _acme-challenge.<ident>; for
                               tls-alpn-01, the acmeIdentifier extension
                               holds the 32 bytes it encodes */
    /* dns-persist-01 (which has no token: token, key_auth and digest are
     * NULL): the CA's issuer-domain-names (1 to 10 lower case domain
     * names); NULL and 0 for the other types. */
    const char *const *issuer_domain_names;
    size_t nissuer_domain_names;
    const char *account_uri; /* the account URL, for every type */
} leec_challenge;

typedef struct leec_solver_ops {
    /* The challenge type answered ("http-01", ...): the agent offers the
     * solver the authorization's challenges of that type only. NULL: every
     * type, in the CA's order, until one is not declined (uacme's hook). */
    const char *type;
    /* For logs and messages ("my DNS", "dns-01 via RFC 2136"); required. */
    const char *name;
    /* Required. *op is NULL on entry. */
    leec_status (*present)(void *impl, const leec_challenge *ch,
                           leec_solver_done_fn done, void *done_arg, void **op);
    /* Required. done NULL: finish before returning (DONE or FAILED).
     * Otherwise DONE, FAILED, or PENDING and done later. A failure is only
     * logged: the challenge has served its purpose either way. */
    leec_status (*cleanup)(void *impl, void *op, bool valid,
                           leec_solver_done_fn done, void *done_arg);
    /* Frees impl; may be NULL. No presentation is outstanding by then;
     * a cleanup still PENDING is abandoned (finish it before returning:
     * its done is no longer listened to). */
    void (*destroy)(void *impl);
} leec_solver_ops;

/*
 * Adds a solver of the program's own to the context: ops says how to use
 * it, impl is passed back to each operation. The context owns the solver
 * (it is freed with the context, after its agents) and impl from now on,
 * even when this fails: ops->destroy(impl) then runs before the return
 * (when ops and ops->destroy are not NULL). Give it to agents with
 * leec_agent_set_solver().
 * NULL with *err on failure: LEEC_E_INVALID_ARG (ctx or ops NULL, no
 * present, cleanup or name, an empty type), LEEC_E_NOMEM.
 */
LEEC_API leec_solver *leec_ctx_add_solver(leec_ctx *ctx,
                                          const leec_solver_ops *ops,
                                          void *impl, leec_code *err);

#ifdef __cplusplus
}
#endif
#endif /* LEEC_SOLVER_H */
