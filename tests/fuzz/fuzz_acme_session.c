/* A whole conversation with a CA, every answer from the input: the script
 * of responses (script.h) to what an agent renewing the test leaf (pki/,
 * installed with its meta.json in an in-memory store, its key reused so
 * that a chain issued for it installs) sends: the directory, nonces,
 * newAccount (the account object), renewalInfo when the directory offers
 * it, newOrder, authorizations, the challenge, polls, finalize, the
 * download and the alternate chains (the preferred chain is the test
 * root's, which no CA offers); then the context's account fetched (an
 * account operation) and a revocation. Everything the agent, the account
 * code and the request layer do with the CA's headers and bodies, in the
 * order they do it; the clock jumps to each deadline (Retry-After,
 * polling). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "fake.h"
#include "fuzz.h"
#include "memstore.h"
#include "script.h"

#define MAX_ITER 2000

static char *cert, *key, *meta;
static size_t cert_len, key_len, meta_len;

static void agent_done(void *ud, leec_agent *agent, leec_outcome outcome)
{
    (void)agent;
    (void)outcome;
    *(bool *)ud = true;
}

static void account_done(void *ud, leec_code rc, const leec_account_info *i,
                         const leec_problem *problem)
{
    (void)rc;
    (void)i;
    (void)problem;
    *(bool *)ud = true;
}

static void revoke_done(void *ud, leec_code rc, const leec_problem *problem)
{
    (void)rc;
    (void)problem;
    *(bool *)ud = true;
}

static bool is_true(void *ud)
{
    return *(bool *)ud;
}

/* Whether the first response (the directory) offers renewal information:
 * then the agent asks for it instead of being forced to order. */
static bool offers_ari(const uint8_t *data, size_t size)
{
    const uint8_t *sep = memmem(data, size, "\n--\n", 4);
    size_t n = sep ? (size_t)(sep - data) : size;
    return memmem(data, n, "\"renewalInfo\"", 13) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"example.com", "www.example.com"};
    if (!cert) {
        cert = fuzz_data("leaf.pem", &cert_len);
        key = fuzz_data("leaf.key.pem", &key_len);
        meta = fuzz_data("meta.json", &meta_len);
    }
    fake_clock_set(1000000);
    fuzz_script_start(data, size);
    leec_store *store = fuzz_store_new();
    fuzz_store_set(store, "cert.pem", cert, cert_len);
    fuzz_store_set(store, "privkey.pem", key, key_len);
    fuzz_store_set(store, "meta.json", meta, meta_len);
    leec_ctx *ctx = leec_ctx_new();
    if (!ctx || leec_ctx_set_server(ctx, "https://ca.test/dir") != LEEC_OK)
        abort();
    leec_ctx_set_store(ctx, store);
    Leec_ctx_set_clock(ctx, fake_clock, NULL);
    leec_ctx_set_account_mode(ctx, LEEC_ACCOUNT_THROWAWAY);
    leec_ctx_set_agree_tos(ctx, true);
    fuzz_ctx_log(ctx);
    leec_code rc;
    bool finished = false;
    leec_agent *a = leec_agent_new(ctx, NULL, names, 2, &rc);
    if (!a || leec_agent_set_preferred_chain(a, "leec fuzz root") != LEEC_OK)
        abort();
    leec_agent_set_reuse_key(a, true);
    leec_agent_set_force(a, !offers_ari(data, size));
    leec_agent_set_callbacks(a, NULL, agent_done, &finished);
    if (leec_agent_start(a) == LEEC_OK)
        (void)fake_drive_until(ctx, MAX_ITER, is_true, &finished);
    finished = false;
    if (fuzz_script_left() &&
        leec_ctx_account_op(ctx, LEEC_ACCOUNT_OP_SHOW, NULL, account_done,
                            &finished) == LEEC_OK)
        (void)fake_drive_until(ctx, MAX_ITER, is_true, &finished);
    finished = false;
    if (fuzz_script_left() &&
        leec_ctx_revoke(ctx, cert, key, LEEC_REVOKE_SUPERSEDED, revoke_done,
                        &finished) == LEEC_OK)
        (void)fake_drive_until(ctx, MAX_ITER, is_true, &finished);
    leec_ctx_free(ctx);
    fake_http_log_clear();
    return 0;
}
