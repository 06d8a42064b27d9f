/* The CA's directory (RFC 8555 §7.1.1) as a typed view. Not installed. */
#ifndef LEEC_ACME_DIRECTORY_H
#define LEEC_ACME_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>

#include "leec/leec.h"
#include "util/json.h"

typedef struct leec_directory {
    char *new_nonce;
    char *new_account;
    char *new_order;
    char *revoke_cert;
    char *key_change;
    char *renewal_info; /* may be NULL */
    char *terms;        /* meta.termsOfService, may be NULL */
    char **profiles;    /* meta.profiles' names (draft-ietf-acme-profiles) */
    size_t nprofiles;
    char **caa; /* meta.caaIdentities that are domain names, at most 10 */
    size_t ncaa;
} leec_directory;

/* Parses and validates a directory object: the required URLs must be https
 * and short. */
leec_code Leec_directory_parse(const leec_json *obj, leec_directory *dir,
                               char **why);
void Leec_directory_clear(leec_directory *dir);

/* True if url is https://, without spaces or control bytes, and short. */
bool Leec_url_ok(const char *url);
/* An id of the CA usable as a store folder name ("host" or "host_port"),
 * malloc'd. */
char *Leec_ca_id(const char *url);

/* An id of the CA usable as a store folder name ("host" or "host_port"). */
char *Leec_ca_id(const char *url);

#endif
