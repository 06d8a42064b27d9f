/* Internal accessors of the tls-alpn-01 responder (solver/tlsalpn01.c), for
 * tests. The constructor is in solver/providers.h. */
#ifndef LEEC_SOLVER_TLSALPN01_H
#define LEEC_SOLVER_TLSALPN01_H

#include "solver/solver.h"

/* The port the responder's socket is bound to (useful after asking for port
 * 0), or -1 when s is not a tls-alpn-01 responder. */
int Leec_tlsalpn01_solver_port(const leec_solver *s);

/* Connections being handshaken right now. */
unsigned Leec_tlsalpn01_solver_connections(const leec_solver *s);

#endif
