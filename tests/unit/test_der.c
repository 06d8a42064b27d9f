/* Tests for lib/der.c: the validity and serial read from DER agree with
 * OpenSSL's full decoding (leec_cert_info_from_pem), and anything that is
 * not a strict DER certificate is refused. */
#define _GNU_SOURCE

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/der.h"

/* serial 0x87654321 (a sign byte in DER), UTCTime */
static const char leaf_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBeTCCAR+gAwIBAgIFAIdlQyEwCgYIKoZIzj0EAwIwFjEUMBIGA1UEAwwLYXJp\n"
    "LXRlc3QtY2EwHhcNMjYxMTIyMDkwNzE5WhcNMzYxMTE5MDkwNzE5WjAWMRQwEgYD\n"
    "VQQDDAthcmkuZXhhbXBsZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNuVBOMm\n"
    "KTMfFdei7FZGt+qz3Rl9ag5PkiAHg4iCQ2vGDTutdF26qIk73ZaPNw8WenAeS4OG\n"
    "tXLMMyACLdl7XrOjWjBYMB8GA1UdIwQYMBaAFGmIW2uHRkBB4bN7hHugrizeAcjU\n"
    "MBYGA1UdEQQPMA2CC2FyaS5leGFtcGxlMB0GA1UdDgQWBBRNsUrwN0rt/MDAsvXN\n"
    "gU1m/srT7zAKBggqhkjOPQQDAgNIADBFAiEA5QYf5GlYnXSjxI2aajlLaQlLvPoz\n"
    "l8ga+rjfnlyb6/ICIEq3N3M7NwFx5PdASOmqtIFBv8ltfCL00hcai/y0N7q4\n"
    "-----END CERTIFICATE-----\n";
/* serial 0x0102, notAfter in 2136: GeneralizedTime */
static const char leaf2_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBeTCCAR6gAwIBAgICAQIwCgYIKoZIzj0EAwIwFjEUMBIGA1UEAwwLYXJpLXRl\n"
    "c3QtY2EwIBcNMjYxMTIyMDkzNjUwWhgPMjEzNjA1MjkwOTM2NTBaMBYxFDASBgNV\n"
    "BAMMC2FyaS5leGFtcGxlMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE25UE4yYp\n"
    "Mx8V16LsVka36rPdGX1qDk+SIAeDiIJDa8YNO610XbqoiTvdlo83DxZ6cB5Lg4a1\n"
    "cswzIAIt2Xtes6NaMFgwHwYDVR0jBBgwFoAUaYhba4dGQEHhs3uEe6CuLN4ByNQw\n"
    "FgYDVR0RBA8wDYILYXJpLmV4YW1wbGUwHQYDVR0OBBYEFE2xSvA3Su38wMCy9c2B\n"
    "TWb+ytPvMAoGCCqGSM49BAMCA0kAMEYCIQDkFDmp1KZNkFI9mv+9JjicT6y90sc/\n"
    "Mk0rEd4i14VNpgIhAKEv/3UjQ4fBcrgkLy9UWh5Rx10QxZgZzoo2sob95Dds\n"
    "-----END CERTIFICATE-----\n";
/* a self-signed CA, a random 20-byte serial */
static const char ca_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBcDCCARagAwIBAgIUZa9YfxhOYl34kD2yESjjG9d8ijYwCgYIKoZIzj0EAwIw\n"
    "FjEUMBIGA1UEAwwLYXJpLXRlc3QtY2EwHhcNMjYxMTIyMDkwNzE5WhcNMzYxMTE5\n"
    "MDkwNzE5WjAWMRQwEgYDVQQDDAthcmktdGVzdC1jYTBZMBMGByqGSM49AgEGCCqG\n"
    "SM49AwEHA0IABKEtlVFhlvhDek8sSlvcR+u2j58Z9imuHixZcoV6ev4pGbgrZpiS\n"
    "mfKm8w0wTuuODAQSu+fzzm4tXpHec+qhk4ejQjBAMA8GA1UdEwEB/wQFMAMBAf8w\n"
    "DgYDVR0PAQH/BAQDAgIEMB0GA1UdDgQWBBRpiFtrh0ZAQeGze4R7oK4s3gHI1DAK\n"
    "BggqhkjOPQQDAgNIADBFAiEAhQNS675Du1G1CQxjP4D7lyAMDcvFz8GXesF8RIHT\n"
    "o/YCIAlMIHLZzIrWW2jPFXyCxNHA1uO6EBv7+fAdNCt/WO8B\n"
    "-----END CERTIFICATE-----\n";

static void agrees(const char *pem, const char *want_serial)
{
    unsigned char *der = NULL;
    size_t n = 0;
    time_t nb = 0, na = 0;
    char *serial = NULL;
    leec_cert_info *ci = NULL;
    assert_int_equal(Leec_pem_cert_der(pem, strlen(pem), &der, &n), LEEC_OK);
    assert_int_equal(Leec_der_cert_basics(der, n, &nb, &na, &serial), LEEC_OK);
    assert_int_equal(leec_cert_info_from_pem(pem, strlen(pem), &ci), LEEC_OK);
    assert_int_equal(nb, ci->not_before);
    assert_int_equal(na, ci->not_after);
    assert_string_equal(serial, ci->serial);
    if (want_serial)
        assert_string_equal(serial, want_serial);
    leec_cert_info_free(ci);
    free(serial);
    free(der);
}

static void test_agrees_with_openssl(void **state)
{
    (void)state;
    agrees(leaf_pem, "87654321");
    agrees(leaf2_pem, "0102");
    agrees(ca_pem, NULL);
}

static void test_refuses_what_is_not_strict_der(void **state)
{
    (void)state;
    unsigned char *der = NULL, *bad = NULL;
    size_t n = 0;
    time_t nb, na;
    char *serial = NULL;
    assert_int_equal(Leec_pem_cert_der(leaf_pem, strlen(leaf_pem), &der, &n),
                     LEEC_OK);
    /* Every truncation. */
    for (size_t k = 0; k < n; k++)
        assert_int_equal(Leec_der_cert_basics(der, k, &nb, &na, &serial),
                         LEEC_E_INVALID_ARG);
    assert_null(serial);
    assert_non_null(bad = malloc(n));
    /* Indefinite length at the top. */
    memcpy(bad, der, n);
    bad[1] = 0x80;
    assert_int_equal(Leec_der_cert_basics(bad, n, &nb, &na, &serial),
                     LEEC_E_INVALID_ARG);
    /* Not a SEQUENCE. */
    memcpy(bad, der, n);
    bad[0] = 0x31;
    assert_int_equal(Leec_der_cert_basics(bad, n, &nb, &na, &serial),
                     LEEC_E_INVALID_ARG);
    /* A time without its Z, and a negative serial. */
    for (size_t i = 0; i + 13 < n; i++) {
        if (der[i] == 0x17 && der[i + 1] == 13) {
            memcpy(bad, der, n);
            bad[i + 2 + 12] = 'X';
            assert_int_equal(Leec_der_cert_basics(bad, n, &nb, &na, &serial),
                             LEEC_E_INVALID_ARG);
            break;
        }
    }
    for (size_t i = 0; i + 2 < n; i++) {
        if (der[i] == 0x02 && der[i + 1] == 5 && der[i + 2] == 0) {
            memcpy(bad, der, n);
            bad[i + 2] = 0xff; /* the sign byte: negative */
            assert_int_equal(Leec_der_cert_basics(bad, n, &nb, &na, &serial),
                             LEEC_E_INVALID_ARG);
            break;
        }
    }
    free(bad);
    free(der);
    /* PEM: no block, bad base64. */
    assert_int_equal(Leec_pem_cert_der("nothing", 7, &der, &n),
                     LEEC_E_INVALID_ARG);
    const char *broken = "-----BEGIN CERTIFICATE-----\nMII*\n"
                         "-----END CERTIFICATE-----\n";
    assert_int_equal(Leec_pem_cert_der(broken, strlen(broken), &der, &n),
                     LEEC_E_INVALID_ARG);
    const char *empty = "-----BEGIN CERTIFICATE-----\n"
                        "-----END CERTIFICATE-----\n";
    assert_int_equal(Leec_pem_cert_der(empty, strlen(empty), &der, &n),
                     LEEC_E_INVALID_ARG);
    assert_null(der);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agrees_with_openssl),
        cmocka_unit_test(test_refuses_what_is_not_strict_der),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
