/* bench/keygen.py's program: one batch of certificates in one context (the
 * public API only), optionally with one RSA-4096 certificate among them,
 * against the CA given; prints one JSON line: the batch's wall time, when
 * the last EC certificate and the RSA one finished, and how long one
 * RSA-4096 key takes to generate on this machine (measured apart, after
 * the batch).
 *
 *   keygen_batch DIRECTORY-URL CA-BUNDLE HTTP01-ADDR STATE-DIR N RSA(0|1)
 */
#define _GNU_SOURCE
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "leec/leec.h"

typedef struct run {
    double t0, last_ec, rsa;
    size_t issued, failed;
    leec_agent *rsa_agent;
} run;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_done(void *ud, leec_agent *a, leec_outcome outcome)
{
    run *r = ud;
    double t = now_s() - r->t0;
    if (outcome == LEEC_OUTCOME_ISSUED)
        r->issued++;
    else
        r->failed++;
    if (a == r->rsa_agent)
        r->rsa = t;
    else if (t > r->last_ec)
        r->last_ec = t;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fputs("usage: keygen_batch URL CA-BUNDLE HTTP01-ADDR DIR N RSA\n",
              stderr);
        return 2;
    }
    size_t n = strtoul(argv[5], NULL, 10);
    int with_rsa = strcmp(argv[6], "1") == 0;
    leec_code rc;
    run r = {0};
    leec_ctx *ctx = leec_ctx_new();
    leec_store *st = leec_store_fs_new(argv[4], &rc);
    if (!ctx || !st || leec_ctx_set_server(ctx, argv[1]) != LEEC_OK ||
        leec_ctx_set_ca_bundle(ctx, argv[2]) != LEEC_OK ||
        leec_ctx_listen_http01(ctx, argv[3]) != LEEC_OK) {
        fputs("keygen_batch: set-up failed\n", stderr);
        return 2;
    }
    leec_ctx_set_store(ctx, st);
    leec_ctx_set_agree_tos(ctx, true);
    /* The RSA one first: its key is needed early (at its FINALIZE), while
     * the others still order; the default ten orders in flight. */
    for (size_t i = with_rsa ? 0 : 1; i <= n; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s%zu.keygen.leec.test",
                 i == 0 ? "rsa" : "ec", i);
        const char *names[] = {name};
        leec_agent *a = leec_agent_new(ctx, NULL, names, 1, &rc);
        if (!a)
            return 2;
        if (i == 0) {
            leec_agent_set_key_type(a, LEEC_KEY_RSA4096);
            r.rsa_agent = a;
        }
        leec_agent_set_callbacks(a, NULL, on_done, &r);
        if (leec_agent_start(a) != LEEC_OK)
            return 2;
    }
    r.t0 = now_s();
    rc = leec_ctx_run(ctx);
    double wall = now_s() - r.t0;
    leec_ctx_free(ctx);
    /* One RSA-4096 key alone, for comparison (the median of three: their
     * time varies with the primes found). */
    double k[3];
    for (int i = 0; i < 3; i++) {
        double t = now_s();
        EVP_PKEY *p = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
        k[i] = now_s() - t;
        EVP_PKEY_free(p);
    }
    double lo = k[0] < k[1] ? k[0] : k[1], hi = k[0] < k[1] ? k[1] : k[0];
    double key = k[2] < lo ? lo : k[2] > hi ? hi : k[2];
    printf("{\"n\": %zu, \"rsa\": %s, \"issued\": %zu, \"failed\": %zu, "
           "\"wall\": %.3f, \"last_ec\": %.3f, \"rsa_done\": %.3f, "
           "\"keygen\": %.3f, \"rc\": %d}\n",
           n, with_rsa ? "true" : "false", r.issued, r.failed, wall, r.last_ec,
           r.rsa, key, (int)rc);
    return rc == LEEC_OK && r.failed == 0 ? 0 : 1;
}
