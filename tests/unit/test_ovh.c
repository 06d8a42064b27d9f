/* Tests for lib/solver/ovh.c: the request signature, the zone/subDomain
 * split, the credentials file (its mode first). No network. */
#define _GNU_SOURCE

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "crypto/crypto.h"
#include "solver/providers.h"
#include "testutil.h"

/* The test hooks of ovh.c (not in any header). */
leec_code Leec_ovh_sign(const char *secret, const char *consumer_key,
                        const char *method, const char *url, const char *body,
                        long long timestamp, char out[44]);
leec_code Leec_ovh_split(const char *zone, const char *fqdn, char **ovh_zone,
                         char **sub);
const char *Leec_ovh_cred(const leec_dns_provider *p, const char *key);

#define SECRET   "EXEMPLEpV4ucWaLmnS7sYDSoawRcR54m"
#define CONSUMER "MtSwSrPpNjqfVSmJhLbPyr2i45lSwPU1"
#define APPKEY   "7kbG7Bk7S9Nt7ZSV"
#define URL      "https://eu.api.ovh.com/1.0/domain/zone/example.com/record"
#define BODY                                                                   \
    "{\"fieldType\":\"TXT\",\"subDomain\":\"_acme-challenge\",\"target\":"     \
    "\"abc\",\"ttl\":60}"

/* ---- logs, to check what is said and that no secret is ---- */

typedef struct logs {
    char text[8192];
    size_t len;
} logs;

static void log_cb(void *ud, leec_log_level level, const char *msg)
{
    logs *l = ud;
    (void)level;
    int n = snprintf(l->text + l->len, sizeof l->text - l->len, "%s\n", msg);
    if (n > 0 && (size_t)n < sizeof l->text - l->len)
        l->len += (size_t)n;
}

typedef struct fixture {
    char *dir;
    char *file;
    leec_ctx *ctx;
    logs log;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    if (!f)
        return -1;
    if (!(f->dir = tu_tmpdir("leec-ovh")))
        return -1;
    if (asprintf(&f->file, "%s/ovh.conf", f->dir) < 0)
        return -1;
    f->ctx = leec_ctx_new();
    if (!f->ctx)
        return -1;
    leec_ctx_set_log(f->ctx, log_cb, &f->log, LEEC_LOG_DEBUG);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tu_rmtree(f->dir);
    leec_ctx_free(f->ctx);
    free(f->file);
    free(f->dir);
    free(f);
    return 0;
}

static void write_file(fixture *f, const char *text, mode_t mode)
{
    FILE *fp = fopen(f->file, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(f->file, mode), 0);
}

static void assert_no_secret(const fixture *f)
{
    assert_null(strstr(f->log.text, SECRET));
    assert_null(strstr(f->log.text, CONSUMER));
    assert_null(strstr(f->log.text, APPKEY));
}

#define GOOD_CREDS                                                             \
    "# OVH API\n"                                                              \
    "\n"                                                                       \
    "endpoint = https://eu.api.ovh.com/1.0/\n"                                 \
    "  application_key=" APPKEY "  \n"                                         \
    "application_secret = " SECRET "\r\n"                                      \
    "\t# a comment\n"                                                          \
    "consumer_key = " CONSUMER "\n"

/* ---- the signature ---- */

static void reference_sign(const char *method, const char *url,
                           const char *body, long long ts, char out[44])
{
    char *s = NULL;
    unsigned char md[SHA_DIGEST_LENGTH];

    assert_true(asprintf(&s, "%s+%s+%s+%s+%s+%lld", SECRET, CONSUMER, method,
                         url, body, ts) > 0);
    SHA1((const unsigned char *)s, strlen(s), md);
    memcpy(out, "$1$", 3);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(out + 3 + 2 * i, 3, "%02x", md[i]);
    free(s);
}

static void test_sha1_hex(void **state)
{
    (void)state;
    char hex[41];
    Leec_sha1_hex("abc", 3, hex);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    Leec_sha1_hex("", 0, hex);
    assert_string_equal(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

static void test_signature(void **state)
{
    (void)state;
    char got[44], want[44];

    assert_int_equal(
        Leec_ovh_sign(SECRET, CONSUMER, "POST", URL, BODY, 1366560945LL, got),
        LEEC_OK);
    reference_sign("POST", URL, BODY, 1366560945LL, want);
    assert_string_equal(got, want);
    /* The same vector computed by tests/e2e/ovh_stub.py (Python's
     * hashlib): both sides of the e2e test agree. */
    assert_string_equal(got, "$1$b6d973772b585068e5ad96a560f2faa34a8deec8");

    /* No body (GET, DELETE, the refresh): an empty field. */
    assert_int_equal(Leec_ovh_sign(SECRET, CONSUMER, "DELETE", URL "/1234",
                                   NULL, 1700000000LL, got),
                     LEEC_OK);
    reference_sign("DELETE", URL "/1234", "", 1700000000LL, want);
    assert_string_equal(got, want);
    assert_int_equal(strlen(got), 43);

    /* Every part counts. */
    reference_sign("POST", URL, BODY, 1366560946LL, want);
    assert_int_equal(
        Leec_ovh_sign(SECRET, CONSUMER, "POST", URL, BODY, 1366560945LL, got),
        LEEC_OK);
    assert_string_not_equal(got, want);
    assert_int_equal(Leec_ovh_sign(NULL, CONSUMER, "GET", URL, NULL, 1, got),
                     LEEC_E_INVALID_ARG);
}

/* ---- zone and subDomain ---- */

static void check_split(const char *zone, const char *fqdn, const char *z,
                        const char *s)
{
    char *oz = NULL, *os = NULL;
    assert_int_equal(Leec_ovh_split(zone, fqdn, &oz, &os), LEEC_OK);
    assert_string_equal(oz, z);
    assert_string_equal(os, s);
    free(oz);
    free(os);
}

static void check_split_bad(const char *zone, const char *fqdn)
{
    char *oz = NULL, *os = NULL;
    assert_int_equal(Leec_ovh_split(zone, fqdn, &oz, &os), LEEC_E_INVALID_ARG);
    assert_null(oz);
    assert_null(os);
}

static void test_split(void **state)
{
    (void)state;
    check_split("example.com.", "_acme-challenge.example.com.", "example.com",
                "_acme-challenge");
    check_split("example.com.", "_acme-challenge.www.example.com.",
                "example.com", "_acme-challenge.www");
    check_split("Example.COM.", "_acme-challenge.a.b.example.com.",
                "example.com", "_acme-challenge.a.b");
    check_split("example.com", "_acme-challenge.example.com", "example.com",
                "_acme-challenge");
    check_split("example.com.", "example.com.", "example.com", "");
    check_split_bad("example.com.", "_acme-challenge.example.org.");
    check_split_bad("example.com.", "_acme-challenge.badexample.com.");
    check_split_bad("example.com.", "com.");
    check_split_bad("example.com.", "_acme-challenge.x/../example.com.");
    check_split_bad("exa?mple.com.", "_acme-challenge.exa?mple.com.");
    check_split_bad(".", "_acme-challenge.example.com.");
    check_split_bad("example.com.", ".example.com.");
}

/* ---- credentials ---- */

static void test_creds_ok(void **state)
{
    fixture *f = *state;
    leec_code err = LEEC_E_IO;

    write_file(f, GOOD_CREDS "ca_bundle = /etc/ssl/certs/ca.pem\n", 0600);
    leec_dns_provider *p = Leec_ovh_new(f->ctx, f->file, &err);
    assert_int_equal(err, LEEC_OK);
    assert_non_null(p);
    assert_string_equal(p->ops->name, "ovh");
    assert_true(p->ops->needs_zone);
    assert_string_equal(Leec_ovh_cred(p, "endpoint"),
                        "https://eu.api.ovh.com/1.0");
    assert_string_equal(Leec_ovh_cred(p, "application_key"), APPKEY);
    assert_string_equal(Leec_ovh_cred(p, "application_secret"), SECRET);
    assert_string_equal(Leec_ovh_cred(p, "consumer_key"), CONSUMER);
    assert_string_equal(Leec_ovh_cred(p, "ca_bundle"), "/etc/ssl/certs/ca.pem");
    Leec_dns_provider_free(p);

    /* 0400 is fine too; ca_bundle is optional. */
    write_file(f, GOOD_CREDS, 0400);
    p = Leec_ovh_new(f->ctx, f->file, &err);
    assert_int_equal(err, LEEC_OK);
    assert_non_null(p);
    assert_null(Leec_ovh_cred(p, "ca_bundle"));
    Leec_dns_provider_free(p);
    assert_no_secret(f);
}

/* certbot's OVH credentials file, as the LEEC manual has one write it:
 * dns_ovh_ keys, the endpoint by name. */
static void test_creds_certbot(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *name, *url;
    } names[] = {{"ovh-eu", "https://eu.api.ovh.com/1.0"},
                 {"ovh-ca", "https://ca.api.ovh.com/1.0"},
                 {"ovh-us", "https://api.us.ovhcloud.com/1.0"},
                 {"kimsufi-eu", "https://eu.api.kimsufi.com/1.0"},
                 {"kimsufi-ca", "https://ca.api.kimsufi.com/1.0"},
                 {"soyoustart-eu", "https://eu.api.soyoustart.com/1.0"},
                 {"soyoustart-ca", "https://ca.api.soyoustart.com/1.0"}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char text[1024];
        snprintf(text, sizeof text,
                 "# OVH API credentials used by Certbot\n"
                 "dns_ovh_endpoint = %s\n"
                 "dns_ovh_application_key = " APPKEY "\n"
                 "dns_ovh_application_secret = " SECRET "\n"
                 "dns_ovh_consumer_key = " CONSUMER "\n",
                 names[i].name);
        write_file(f, text, 0600);
        leec_code err = LEEC_E_IO;
        leec_dns_provider *p = Leec_ovh_new(f->ctx, f->file, &err);
        assert_int_equal(err, LEEC_OK);
        assert_non_null(p);
        assert_string_equal(Leec_ovh_cred(p, "endpoint"), names[i].url);
        assert_string_equal(Leec_ovh_cred(p, "application_key"), APPKEY);
        assert_string_equal(Leec_ovh_cred(p, "application_secret"), SECRET);
        assert_string_equal(Leec_ovh_cred(p, "consumer_key"), CONSUMER);
        Leec_dns_provider_free(p);
    }
    /* leec's own keys take a name too. */
    write_file(f,
               "endpoint = ovh-ca\n"
               "application_key = " APPKEY "\n"
               "application_secret = " SECRET "\n"
               "consumer_key = " CONSUMER "\n",
               0600);
    leec_code err = LEEC_E_IO;
    leec_dns_provider *p = Leec_ovh_new(f->ctx, f->file, &err);
    assert_non_null(p);
    assert_string_equal(Leec_ovh_cred(p, "endpoint"),
                        "https://ca.api.ovh.com/1.0");
    Leec_dns_provider_free(p);
    assert_no_secret(f);
}

static void test_creds_mode(void **state)
{
    fixture *f = *state;
    static const mode_t bad[] = {0644, 0640, 0604, 0660, 0602, 0620};
    leec_code err = LEEC_OK;

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        f->log.len = 0;
        f->log.text[0] = '\0';
        write_file(f, GOOD_CREDS, bad[i]);
        assert_null(Leec_ovh_new(f->ctx, f->file, &err));
        assert_int_equal(err, LEEC_E_INVALID_ARG);
        assert_non_null(strstr(f->log.text, "readable by group or others"));
        assert_non_null(strstr(f->log.text, "chmod 600 it"));
        assert_non_null(strstr(f->log.text, f->file));
        char mode[16];
        snprintf(mode, sizeof mode, "(mode %04o)", (unsigned)bad[i]);
        assert_non_null(strstr(f->log.text, mode));
        assert_no_secret(f);
    }
    /* Refused even when the content is garbage: the mode comes first. */
    write_file(f, "not a credentials file\n", 0644);
    f->log.len = 0;
    assert_null(Leec_ovh_new(f->ctx, f->file, &err));
    assert_int_equal(err, LEEC_E_INVALID_ARG);
    assert_non_null(strstr(f->log.text, "chmod 600 it"));
    assert_null(strstr(f->log.text, "key = value"));

    write_file(f, GOOD_CREDS, 0600);
    leec_dns_provider *p = Leec_ovh_new(f->ctx, f->file, &err);
    assert_non_null(p);
    assert_int_equal(err, LEEC_OK);
    Leec_dns_provider_free(p);
}

static void expect_refused(fixture *f, const char *text, const char *why)
{
    leec_code err = LEEC_OK;
    f->log.len = 0;
    f->log.text[0] = '\0';
    write_file(f, text, 0600);
    assert_null(Leec_ovh_new(f->ctx, f->file, &err));
    assert_int_equal(err, LEEC_E_INVALID_ARG);
    if (!strstr(f->log.text, why))
        fail_msg("log \"%s\" lacks \"%s\"", f->log.text, why);
    assert_no_secret(f);
}

static void test_creds_bad(void **state)
{
    fixture *f = *state;
    leec_code err = LEEC_OK;

    expect_refused(f,
                   "endpoint = http://eu.api.ovh.com/1.0\n"
                   "application_key = " APPKEY "\n"
                   "application_secret = " SECRET "\n"
                   "consumer_key = " CONSUMER "\n",
                   "endpoint must be an https URL");
    expect_refused(f,
                   "endpoint = https://eu.api.ovh.com/1.0\n"
                   "application_key = " APPKEY "\n"
                   "consumer_key = " CONSUMER "\n",
                   "application_secret missing");
    expect_refused(f, GOOD_CREDS "consumer_key = " CONSUMER "\n",
                   "consumer_key given twice");
    expect_refused(f, GOOD_CREDS "colour = blue\n", "unknown key \"colour\"");
    expect_refused(f, GOOD_CREDS SECRET "\n", "line 8: expected key = value");
    expect_refused(f,
                   "endpoint = https://eu.api.ovh.com/1.0\n"
                   "application_key = " APPKEY "\n"
                   "application_secret =\n"
                   "consumer_key = " CONSUMER "\n",
                   "value for application_secret");
    expect_refused(f,
                   "endpoint = https://eu.api.ovh.com/1.0\n"
                   "application_key = " APPKEY "\n"
                   "application_secret = a secret with spaces\n"
                   "consumer_key = " CONSUMER "\n",
                   "application_secret contains spaces");
    expect_refused(f, "", "endpoint missing");
    expect_refused(f,
                   "dns_ovh_endpoint = ovh-mars\n"
                   "dns_ovh_application_key = " APPKEY "\n"
                   "dns_ovh_application_secret = " SECRET "\n"
                   "dns_ovh_consumer_key = " CONSUMER "\n",
                   "or one of ovh-eu, ovh-ca, ovh-us");
    expect_refused(f, GOOD_CREDS "dns_ovh_consumer_key = " CONSUMER "\n",
                   "consumer_key given twice");

    /* A missing file is an I/O error, named. */
    char *missing = NULL;
    assert_true(asprintf(&missing, "%s/nope.conf", f->dir) > 0);
    f->log.len = 0;
    assert_null(Leec_ovh_new(f->ctx, missing, &err));
    assert_int_equal(err, LEEC_E_IO);
    assert_non_null(strstr(f->log.text, missing));
    free(missing);
    /* A directory is not a credentials file. */
    assert_null(Leec_ovh_new(f->ctx, f->dir, &err));
    assert_int_equal(err, LEEC_E_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha1_hex),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_split),
        cmocka_unit_test_setup_teardown(test_creds_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_creds_certbot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_creds_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_creds_bad, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
