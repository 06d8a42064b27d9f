/* Constructors of the built-in solvers and dns-01 providers. Each is an
 * implementation of the public interfaces (leec/solver.h,
 * leec/dns_provider.h: static ops and an impl of its own), wrapped in the
 * library's handle; none has a way in that a program's own lacks. Each
 * logs why it failed through the context (Leec_log at ERROR) before
 * returning NULL. */
#ifndef LEEC_SOLVER_PROVIDERS_H
#define LEEC_SOLVER_PROVIDERS_H

#include "solver/dns01.h"
#include "solver/solver.h"

/* RFC 2136 dynamic update signed with TSIG (solver/rfc2136.c). server:
 * "HOST[:PORT]" (numeric address; port 53 by default). tsig_key_file: BIND's
 * format (key "name" { algorithm hmac-sha256; secret "base64"; };).
 * Algorithms hmac-sha256 (default), hmac-sha512, hmac-sha1; others are
 * refused by name. *err: LEEC_E_INVALID_ARG, LEEC_E_IO, LEEC_E_NOMEM. */
leec_dns_provider *Leec_rfc2136_new(leec_ctx *ctx, const char *server,
                                    const char *tsig_key_file, leec_code *err);

/* The OVH API (solver/ovh.c). credentials_file: key = value lines:
 * endpoint (URL of the API, e.g. https://eu.api.ovh.com/1.0),
 * application_key, application_secret, consumer_key, and optionally
 * ca_bundle (a PEM file trusted for the endpoint instead of the system
 * store). Refused (LEEC_E_INVALID_ARG, before any request) when the file is
 * readable or writable by group or others. */
leec_dns_provider *Leec_ovh_new(leec_ctx *ctx, const char *credentials_file,
                                leec_code *err);

/* Any other provider through a command (solver/hook.c): `CMD present FQDN
 * VALUE` and `CMD cleanup FQDN VALUE`, FQDN with its trailing dot (lego's
 * exec convention); exit status 0 means done. Run through /bin/sh -c. */
leec_dns_provider *Leec_dns_hook_new(leec_ctx *ctx, const char *cmd,
                                     leec_code *err);

/* uacme's hook, for every challenge type (solver/hook.c): `CMD begin TYPE
 * IDENT TOKEN AUTH`, then `CMD done|failed TYPE IDENT TOKEN AUTH`; AUTH is
 * the key authorization for http-01 and the base64url SHA-256 digest for
 * dns-01 and tls-alpn-01. A non-zero exit status of begin declines that
 * type: the next challenge the CA offers is tried. */
leec_solver *Leec_hook_solver_new(leec_ctx *ctx, const char *cmd,
                                  leec_code *err);

/* tls-alpn-01 (RFC 8737) responder on "[ADDR:]PORT" (solver/tlsalpn01.c):
 * for ALPN acme-tls/1 and the SNI of a live challenge it presents a
 * self-signed certificate for that name carrying the critical
 * acmeIdentifier extension (1.3.6.1.5.5.7.1.31) with the SHA-256 digest of
 * the key authorization. Non-blocking, on the context's loop. */
leec_solver *Leec_tlsalpn01_solver_new(leec_ctx *ctx, const char *addr,
                                       leec_code *err);

/* dns-persist-01 (solver/persist.c): checks that the persistent record
 * for the account and the CA is there, through resolver ("ADDR[:PORT]";
 * NULL: the system's); creates a missing one through creator (a built-in
 * dns-01 solver of the context, or NULL: none), never removes one. */
leec_solver *Leec_persist_solver_new(leec_ctx *ctx, const char *resolver,
                                     leec_solver *creator, leec_code *err);

/* http-01 (solver/http01.c, solver/webroot.c): the context's token table
 * (served by the built-in responder, leec_ctx_listen_http01, or by the host
 * through leec_ctx_http01_key_authorization), or files under a webroot. */
leec_solver *Leec_http01_solver_new(leec_ctx *ctx, leec_code *err);
leec_solver *Leec_webroot_solver_new(leec_ctx *ctx, const char *dir,
                                     leec_code *err);
/* The folder of a webroot solver, NULL for any other solver. */
const char *Leec_webroot_solver_dir(const leec_solver *s);

/* The context's solvers (solvers.c): owned by the context. */
/* Takes ownership (destroyed with the context, after its agents). */
leec_code Leec_ctx_add_solver(leec_ctx *ctx, struct leec_solver *s);
/* http-01 through the token table, created on first use. */
struct leec_solver *Leec_ctx_default_solver(leec_ctx *ctx);
void Leec_ctx_free_solvers(leec_ctx *ctx);

#endif
