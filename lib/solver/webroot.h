/* The webroot http-01 solver: challenge files written for a web server that
 * is already running. */
#ifndef LEEC_SOLVER_WEBROOT_H
#define LEEC_SOLVER_WEBROOT_H

#include "leec/leec.h"

/*
 * Writes webroot/.well-known/acme-challenge/TOKEN (0644) holding the key
 * authorization, creating the two folders (0755) if missing, atomically.
 * The token must be valid base64url (LEEC_E_INVALID_ARG otherwise), so no
 * path outside that folder can ever be written. Below webroot no symbolic
 * link is followed unless it belongs to the user running leec or to root:
 * one planted by another user at .well-known or acme-challenge is refused,
 * one at TOKEN is replaced. LEEC_E_IO on failure, with *why (when why is
 * not NULL) a newly allocated message saying what and where, or NULL.
 */
leec_code Leec_webroot_present(const char *webroot, const char *token,
                               const char *key_auth, char **why);

/* Removes the challenge file (a link at its name: the link), reaching it as
 * present does; the folders stay (a web server may rely on them). A missing
 * file or folder is not an error. LEEC_E_INVALID_ARG for a bad token,
 * LEEC_E_IO if it cannot be removed, with *why as for present. */
leec_code Leec_webroot_cleanup(const char *webroot, const char *token,
                               char **why);

#endif
