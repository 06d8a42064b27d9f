/* Internal knobs of the hook solver and the dns-01 hook provider
 * (solver/hook.c); the constructors are in solver/providers.h. */
#ifndef LEEC_SOLVER_HOOK_H
#define LEEC_SOLVER_HOOK_H

#include <stdint.h>

#include "solver/dns01.h"
#include "solver/solver.h"

/* A hook runs for at most this long (120 s by default); then its process
 * group gets SIGTERM and, min(2 s, timeout) later, SIGKILL. A synchronous
 * run (teardown) waits min(timeout, 10 s) before doing the same. ms > 0.
 * Objects of another kind are left alone. For tests. */
void Leec_hook_solver_set_timeout_ms(leec_solver *s, int64_t ms);
void Leec_dns_hook_set_timeout_ms(leec_dns_provider *p, int64_t ms);

#endif
