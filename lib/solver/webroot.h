/* The webroot http-01 solver: challenge files written for a web server that
 * is already running. */
#ifndef LEEC_SOLVER_WEBROOT_H
#define LEEC_SOLVER_WEBROOT_H

#include "leec/leec.h"

/*
 * Writes webroot/.well-known/acme-challenge/TOKEN (0644) holding the key
 * authorization, creating the two folders (0755) if missing, atomically.
 * The token must be valid base64url (LEEC_E_INVALID_ARG otherwise), so no
 * path outside that folder can ever be written. LEEC_E_IO on failure.
 */
leec_code leec_webroot_present(const char *webroot, const char *token,
                               const char *key_auth);

/* Removes the challenge file; the folders stay (a web server may rely on
 * them). A missing file is not an error. LEEC_E_INVALID_ARG for a bad token,
 * LEEC_E_IO if it cannot be removed. */
leec_code leec_webroot_cleanup(const char *webroot, const char *token);

#endif
