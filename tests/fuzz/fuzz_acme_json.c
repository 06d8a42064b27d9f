/* Every JSON document a CA sends: the directory, order, authorization,
 * challenge, account, problem (RFC 8555 §7.1, §6.7) and renewalInfo (RFC 9773)
 * objects. The bytes are parsed as request.c parses a response body, then
 * handed to the reader of each kind of document, as the agent does. Every
 * reader must refuse what is not its kind, so each input goes to all of
 * them: no selector byte, and the seeds are the CA's bytes as they came. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "engine/internal.h"
#include "util/json.h"
#include "acme/account.h"
#include "acme/ari.h"
#include "acme/order.h"
#include "acme/problem.h"
#include "engine/renewal.h"

/* A fixed "now", so that an input always takes the same path. */
#define NOW ((time_t)1767225600) /* 2026-01-01 */

static void directory(const leec_json *o)
{
    leec_directory d;
    char *why = NULL;
    if (Leec_directory_parse(o, &d, &why) == LEEC_OK)
        Leec_directory_clear(&d);
    free(why);
}

static void order(const leec_json *o)
{
    static char *const names[] = {"example.com", "www.example.com"};
    leec_order_view v;
    if (Leec_order_parse(o, &v) == LEEC_OK) {
        (void)Leec_order_ids_match(&v, names, 2);
        (void)Leec_order_ids_match(&v, names, 1);
    }
    Leec_order_view_clear(&v);
}

static void authorization(const leec_json *o)
{
    static const char *const types[] = {"http-01", "dns-01", "tls-alpn-01"};
    leec_authz_view v;
    if (Leec_authz_parse(o, &v) == LEEC_OK)
        for (size_t i = 0; i < sizeof types / sizeof *types; i++)
            (void)Leec_authz_find(&v, types[i]);
    Leec_authz_view_clear(&v);
}

/* The answer to a challenge POST: its status and error (agent.c). */
static void challenge(const leec_json *o)
{
    leec_chall_answer a;
    Leec_chall_answer_parse(o, &a);
    Leec_problem_free(a.error);
}

static void account(const leec_json *o)
{
    leec_account_view v;
    (void)Leec_account_parse(o, &v);
    Leec_account_view_clear(&v);
}

static void problem(const leec_json *o)
{
    leec_problem *p = Leec_problem_from_json(o, 400, -1);
    leec_problem *d = Leec_problem_dup(p);
    (void)Leec_problem_is(p, "badNonce");
    (void)Leec_problem_is(d, "rateLimited");
    Leec_problem_free(d);
    Leec_problem_free(p);
}

static void renewal_info(const leec_json *o)
{
    static const char id[] = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE";
    leec_renewal_state st = {0};
    leec_ari_view v;
    leec_code rc = Leec_ari_parse(o, &v);
    /* Twice: the second answer for the same id keeps the chosen time. */
    if (rc != LEEC_E_NOMEM &&
        Leec_renewal_take_ari(&st, id, rc == LEEC_OK ? &v : NULL, -1, NOW) ==
            LEEC_OK &&
        Leec_ari_parse(o, &v) == LEEC_OK)
        (void)Leec_renewal_take_ari(&st, id, &v, 3600, NOW + 60);
    Leec_ari_view_clear(&v);
    free(Leec_renewal_json(&st));
    Leec_renewal_clear(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    leec_json *o = NULL;
    if (size > LEEC_MAX_BODY) /* the transport's cap on a body */
        return 0;
    if (Leec_json_parse_object((const char *)data, size, &o) != LEEC_OK)
        return 0;
    directory(o);
    order(o);
    authorization(o);
    challenge(o);
    account(o);
    problem(o);
    renewal_info(o);
    Leec_json_free(o);
    return 0;
}
