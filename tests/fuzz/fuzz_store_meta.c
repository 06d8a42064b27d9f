/* The store's own metadata, read back on every run: a version's
 * renewal.json and meta.json, and the saved account's account.json. The
 * input is all three files of an in-memory store at once (each reader
 * refuses what is not its own), next to the test leaf as cert.pem and its
 * key as the account key (pki/). Read by the library (the renewal state,
 * the renewal plan, the saved account when a context starts an account
 * operation) and by the CLI's renew (meta.json's names and settings). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "fake.h"
#include "fuzz.h"
#include "util/json.h"
#include "lifecycle.h"
#include "memstore.h"
#include "engine/renewal.h"

#define NAME "example.com"
#define DIRECTORY                                                              \
    "{\"newNonce\":\"https://ca.test/nonce\",\"newAccount\":"                  \
    "\"https://ca.test/acct\",\"newOrder\":\"https://ca.test/order\"}"

static char *cert, *key;
static size_t cert_len, key_len;

/* The CA's side of the account operation: a directory, nonces, and the
 * account object; the library under test is what reads account.json. */
static void respond(void *ud, const fake_request *req, leec_http_resp *resp)
{
    (void)ud;
    resp->status = 200;
    fake_resp_set(&resp->replay_nonce, "bm9uY2Vub25jZQ");
    if (strcmp(req->method, "GET") == 0)
        fake_resp_body(resp, "application/json", DIRECTORY);
    else if (strcmp(req->method, "POST") == 0)
        fake_resp_body(resp, "application/json", "{\"status\":\"valid\"}");
}

static void done(void *ud, leec_code rc, const leec_account_info *info,
                 const leec_problem *problem)
{
    (void)rc;
    (void)info;
    (void)problem;
    *(bool *)ud = true;
}

/* account.json as load_saved (account.c) reads it: an account operation
 * makes the context look for the saved account. */
static void account(leec_store *store)
{
    bool finished = false;
    leec_ctx *ctx = leec_ctx_new();
    if (!ctx || leec_ctx_set_server(ctx, "https://ca.test/dir") != LEEC_OK)
        abort();
    leec_ctx_set_store(ctx, store); /* freed with the context */
    Leec_ctx_set_clock(ctx, fake_clock, NULL);
    fuzz_ctx_log(ctx);
    if (leec_ctx_account_op(ctx, LEEC_ACCOUNT_OP_SHOW, NULL, done, &finished) ==
        LEEC_OK)
        for (int i = 0; i < 50 && !finished; i++) {
            int running = 0;
            if (leec_ctx_perform(ctx, &running) != LEEC_OK)
                break;
        }
    leec_ctx_free(ctx);
}

/* meta.json as leec renew reads it (cli/renew.c load_cert): the names,
 * then the renewal settings. */
static void renew_settings(const uint8_t *data, size_t size)
{
    /* The CLI reads it with jansson itself (it is not the library). */
    json_error_t jerr;
    json_t *meta =
        json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(meta)) {
        json_decref(meta);
        return;
    }
    json_t *names = json_object_get(meta, "names");
    for (size_t i = 0; i < json_array_size(names); i++)
        (void)json_string_value(json_array_get(names, i));
    ca_opts o;
    memset(&o, 0, sizeof o);
    o.dns_propagation = -1;
    const char *why = NULL;
    json_t *settings = json_object_get(meta, "settings");
    if (lc_opts_from_settings(settings, &o, &why) == 0)
        free(json_dumps(settings, JSON_COMPACT | JSON_SORT_KEYS));
    json_decref(meta);
}

static void renewal(leec_store *store, const uint8_t *data, size_t size)
{
    /* The state of the certificate the input names, so that the rest of
     * the file is read, then of the installed one. */
    char *serial = NULL;
    leec_json *o = NULL;
    if (Leec_json_parse_object((const char *)data, size, &o) == LEEC_OK &&
        Leec_json_str(o, "serial"))
        serial = strdup(Leec_json_str(o, "serial"));
    Leec_json_free(o);
    leec_renewal_state st;
    if (Leec_renewal_load(store, NAME, serial, &st) == LEEC_OK) {
        free(Leec_renewal_json(&st));
        Leec_renewal_clear(&st);
    }
    free(serial);
    leec_renewal_plan *plan = NULL;
    if (leec_store_renewal_plan(store, NAME, &plan) == LEEC_OK)
        leec_renewal_plan_free(plan);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!cert) {
        cert = fuzz_data("leaf.pem", &cert_len);
        key = fuzz_data("leaf.key.pem", &key_len);
        fake_http_set_responder(respond, NULL);
    }
    leec_store *store = fuzz_store_new();
    fuzz_store_set(store, "cert.pem", cert, cert_len);
    fuzz_store_set(store, "account.key.pem", key, key_len);
    fuzz_store_set(store, "renewal.json", data, size);
    fuzz_store_set(store, "meta.json", data, size);
    fuzz_store_set(store, "account.json", data, size);
    renewal(store, data, size);
    renew_settings(data, size);
    account(store);
    fake_http_log_clear(); /* the transport's log grows otherwise */
    return 0;
}
