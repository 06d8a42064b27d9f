/*
 * The library's side of the solver interface (include/leec/solver.h, where
 * the contract is): a solver is its ops and impl, whoever wrote them (the
 * built-in solvers of this folder or a program). Agents use solvers only
 * through Leec_solver_present and Leec_solver_cleanup, which keep one
 * record per presentation and turn the public contract into the one the
 * agent relies on:
 *
 *   - a result known when present returns (DONE, DECLINED, or a done
 *     called from inside present) is reported through the agent's done
 *     before Leec_solver_present returns, as it always was;
 *   - a done called later is delivered from the context's loop (a timer
 *     due at once), never from inside the solver's own call stack nor
 *     outside leec_ctx_perform();
 *   - after a cleanup, the presentation's done is never delivered;
 *   - the implementation's cleanup is owed only for DONE and PENDING.
 */
#ifndef LEEC_SOLVER_SOLVER_H
#define LEEC_SOLVER_SOLVER_H

#include <stdbool.h>

#include "leec/leec.h"
#include "leec/solver.h"

/* The context's solvers (solvers.c; the engine owns them through these).
 * Takes ownership (destroyed with the context, after its agents). */
leec_code Leec_ctx_add_solver(leec_ctx *ctx, leec_solver *s);
/* http-01 through the token table, created on first use. */
leec_solver *Leec_ctx_default_solver(leec_ctx *ctx);
void Leec_ctx_free_solvers(leec_ctx *ctx);

/* A solver over ops and impl, not yet the context's (Leec_ctx_add_solver
 * adopts it). impl is taken even on failure (ops->destroy(impl) then).
 * NULL with *err: LEEC_E_INVALID_ARG (the reason logged), LEEC_E_NOMEM. */
leec_solver *Leec_solver_new(leec_ctx *ctx, const leec_solver_ops *ops,
                             void *impl, leec_code *err);

/* ops->destroy(impl), then frees what is left of its presentations. NULL
 * does nothing. */
void Leec_solver_free(leec_solver *s);

/* Its operations (type, name) and the context it belongs to. */
const leec_solver_ops *Leec_solver_ops(const leec_solver *s);
leec_ctx *Leec_solver_ctx(const leec_solver *s);

/* impl when s was made with ops, else NULL: how a built-in solver finds
 * its own among the context's. */
void *Leec_solver_impl(const leec_solver *s, const leec_solver_ops *ops);

/* Starts presenting ch. LEEC_OK: done is called exactly once (maybe before
 * this returns) unless the presentation is cleaned up first, and one
 * Leec_solver_cleanup of *op is owed. Otherwise nothing is owed and done
 * is never called: LEEC_E_SOLVER (the solver failed), LEEC_E_NOMEM. */
leec_code Leec_solver_present(leec_solver *s, const leec_challenge *ch,
                              leec_solver_done_fn done, void *userdata,
                              void **op);

/* Undoes a presentation (op from Leec_solver_present; NULL: nothing to
 * undo). done NULL: before returning. Otherwise done is called exactly
 * once, maybe before this returns. */
void Leec_solver_cleanup(leec_solver *s, void *op, bool valid,
                         leec_solver_done_fn done, void *userdata);

#endif
