/* Sealing secrets for a shared store: a round trip, a record's binding
 * (additional data), tampering, key ids, rotation, and the key file's
 * rules. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/seal.h"

static char dir[] = "/tmp/leec-test-seal-XXXXXX";

static char *write_key(const char *name, const void *data, size_t n,
                       mode_t mode)
{
    char *path = NULL;
    assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static void load(const char *text, leec_seal_key *k)
{
    char *p = write_key("k", text, strlen(text), 0600);
    char *why = NULL;
    assert_int_equal(Leec_seal_key_load(p, k, &why), LEEC_OK);
    assert_null(why);
    assert_int_equal(strlen(k->id), LEEC_SEAL_ID_LEN);
    free(p);
}

static const char HEX1[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
static const char HEX2[] =
    "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

static void test_round_trip_and_binding(void **state)
{
    (void)state;
    leec_seal_key k;
    load(HEX1, &k);
    const char *secret = "-----BEGIN PRIVATE KEY-----\nabc\n";
    char *s1 = NULL, *s2 = NULL, *out = NULL;
    size_t n = 0;
    assert_int_equal(Leec_seal(&k, "version\na.test\n1\nprivkey", secret,
                               strlen(secret), &s1),
                     LEEC_OK);
    assert_int_equal(Leec_seal(&k, "version\na.test\n1\nprivkey", secret,
                               strlen(secret), &s2),
                     LEEC_OK);
    /* A fresh nonce each time; nothing of the secret in clear. */
    assert_string_not_equal(s1, s2);
    assert_null(strstr(s1, "PRIVATE"));
    assert_true(Leec_sealed_with(s1, k.id));
    const leec_seal_key *keys[] = {&k};
    assert_int_equal(
        Leec_unseal(keys, 1, "version\na.test\n1\nprivkey", s1, &out, &n),
        LEEC_OK);
    assert_string_equal(out, secret);
    assert_int_equal(n, strlen(secret));
    free(out);
    /* Bound to its record: another record's additional data fails. */
    assert_int_equal(
        Leec_unseal(keys, 1, "version\nb.test\n1\nprivkey", s1, &out, &n),
        LEEC_E_CRYPTO);
    assert_null(out);
    /* One character changed anywhere in the sealed part fails. */
    size_t len = strlen(s1);
    s1[len - 3] = s1[len - 3] == 'A' ? 'B' : 'A';
    assert_int_equal(
        Leec_unseal(keys, 1, "version\na.test\n1\nprivkey", s1, &out, &n),
        LEEC_E_CRYPTO);
    /* Not a sealed text at all. */
    assert_int_equal(Leec_unseal(keys, 1, "x", "-----BEGIN", &out, &n),
                     LEEC_E_INVALID_ARG);
    free(s1);
    free(s2);
    Leec_seal_key_clear(&k);
}

static void test_key_ids_and_rotation(void **state)
{
    (void)state;
    leec_seal_key a, b;
    load(HEX1, &a);
    load(HEX2, &b);
    assert_string_not_equal(a.id, b.id);
    char *s = NULL, *out = NULL;
    assert_int_equal(Leec_seal(&a, "account\nca", "k", 1, &s), LEEC_OK);
    const leec_seal_key *only_b[] = {&b};
    const leec_seal_key *both[] = {&b, &a};
    assert_int_equal(Leec_unseal(only_b, 1, "account\nca", s, &out, NULL),
                     LEEC_E_BAD_KEY);
    assert_int_equal(Leec_unseal(both, 2, "account\nca", s, &out, NULL),
                     LEEC_OK);
    assert_string_equal(out, "k");
    assert_false(Leec_sealed_with(s, b.id));
    free(out);
    free(s);
    /* An empty secret seals too. */
    assert_int_equal(Leec_seal(&a, "x", "", 0, &s), LEEC_OK);
    const leec_seal_key *only_a[] = {&a};
    assert_int_equal(Leec_unseal(only_a, 1, "x", s, &out, NULL), LEEC_OK);
    assert_string_equal(out, "");
    free(out);
    free(s);
}

static void test_key_file_forms_and_rules(void **state)
{
    (void)state;
    leec_seal_key hex, raw, b64;
    load(HEX1, &hex);
    unsigned char bytes[32];
    for (int i = 0; i < 32; i++)
        bytes[i] = (unsigned char)i;
    char *p = write_key("raw", bytes, 32, 0400);
    assert_int_equal(Leec_seal_key_load(p, &raw, NULL), LEEC_OK);
    free(p);
    load("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", &b64);
    assert_string_equal(hex.id, raw.id);
    assert_string_equal(hex.id, b64.id);

    char *why = NULL;
    leec_seal_key k;
    p = write_key("open", HEX1, strlen(HEX1), 0644);
    assert_int_equal(Leec_seal_key_load(p, &k, &why), LEEC_E_BAD_KEY);
    assert_non_null(strstr(why, "chmod 600"));
    free(why);
    free(p);
    p = write_key("short", "abcd\n", 5, 0600);
    assert_int_equal(Leec_seal_key_load(p, &k, &why), LEEC_E_BAD_KEY);
    assert_non_null(strstr(why, "32-byte"));
    free(why);
    free(p);

    /* systemd's credentials folder. */
    unsetenv("CREDENTIALS_DIRECTORY");
    assert_int_equal(Leec_seal_key_from_credentials(&k, &why),
                     LEEC_E_NOT_FOUND);
    p = write_key("leec-store-key", HEX1, strlen(HEX1), 0600);
    setenv("CREDENTIALS_DIRECTORY", dir, 1);
    assert_int_equal(Leec_seal_key_from_credentials(&k, &why), LEEC_OK);
    assert_string_equal(k.id, hex.id);
    unsetenv("CREDENTIALS_DIRECTORY");
    free(p);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_binding),
        cmocka_unit_test(test_key_ids_and_rotation),
        cmocka_unit_test(test_key_file_forms_and_rules),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        r = r ? r : 1;
    return r;
}
