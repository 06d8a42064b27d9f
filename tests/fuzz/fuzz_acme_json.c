/* Every JSON document a CA sends: the directory, order, authorization,
 * challenge, problem (RFC 8555 §7.1, §6.7) and renewalInfo (RFC 9773)
 * objects. The bytes are parsed as request.c parses a response body, then
 * handed to the reader of each kind of document, as the agent does. Every
 * reader must refuse what is not its kind, so each input goes to all of
 * them: no selector byte, and the seeds are the CA's bytes as they came.
 * (The account object is read inside the context's callbacks: the
 * acme_session target reaches it.) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "engine/internal.h"
#include "util/json.h"
#include "acme/order.h"
#include "acme/problem.h"
#include "engine/renewal.h"

/* A fixed "now", so that an input always takes the same path. */
#define NOW ((time_t)1767225600) /* 2026-01-01 */

static void directory(const json_t *o)
{
    leec_directory d;
    char *why = NULL;
    if (Leec_directory_parse(o, &d, &why) == LEEC_OK)
        Leec_directory_clear(&d);
    free(why);
}

static void order(const json_t *o)
{
    static char *const names[] = {"example.com", "www.example.com"};
    leec_order_view v;
    (void)Leec_order_parse(o, &v);
    (void)Leec_order_ids_match(o, names, 2);
    (void)Leec_order_ids_match(o, names, 1);
    leec_problem *p = Leec_order_error(o);
    Leec_problem_free(p);
}

static void authorization(const json_t *o)
{
    /* "" is what the agent asks first (the list of types offered). */
    static const char *const types[] = {"", "http-01", "dns-01", "tls-alpn-01"};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        leec_authz_view v;
        char *offered = NULL;
        (void)Leec_authz_parse(o, types[i], &v, &offered);
        free(offered);
    }
    leec_chall_view c;
    for (size_t i = 0; Leec_authz_challenge_at(o, i, &c); i++)
        ;
    Leec_problem_free(Leec_authz_error(o));
}

/* The answer to a challenge POST: its status and error (agent.c). */
static void challenge(const json_t *o)
{
    (void)Leec_json_str(o, "status");
    Leec_problem_free(
        Leec_problem_from_json(Leec_json_object(o, "error"), 0, -1));
}

static void problem(const json_t *o)
{
    leec_problem *p = Leec_problem_from_json(o, 400, -1);
    leec_problem *d = Leec_problem_dup(p);
    (void)Leec_problem_is(p, "badNonce");
    (void)Leec_problem_is(d, "rateLimited");
    Leec_problem_free(d);
    Leec_problem_free(p);
}

static void renewal_info(const json_t *o)
{
    leec_renewal_state st = {0};
    /* Twice: the second answer for the same id keeps the chosen time. */
    if (Leec_renewal_take_ari(&st, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", o, -1,
                              NOW) == LEEC_OK)
        (void)Leec_renewal_take_ari(&st, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE",
                                    o, 3600, NOW + 60);
    free(Leec_renewal_json(&st));
    Leec_renewal_clear(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *o = NULL;
    if (size > LEEC_MAX_BODY) /* the transport's cap on a body */
        return 0;
    if (Leec_json_parse_object((const char *)data, size, &o) != LEEC_OK)
        return 0;
    directory(o);
    order(o);
    authorization(o);
    challenge(o);
    problem(o);
    renewal_info(o);
    json_decref(o);
    return 0;
}
