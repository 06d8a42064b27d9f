/* Tests for lib/renewal.c (timing: lifetime, ARI windows, back-off, the
 * state file and the plan) and the ARI certificate id of lib/x509.c. */
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

#include "engine/renewal.h"
#include "store/store.h"
#include "testutil.h"
#include "crypto/x509.h"

/* AKI keyid 69:88:5B:...:C8:D4 and serial 0x87654321: the example of
 * RFC 9773 §4.1, made with openssl. */
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
static const char leaf_key[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg6VzdaYh6xeq4IJ9m\n"
    "9OxQHO4bbIWERFBjos44rmhpNfqhRANCAATblQTjJikzHxXXouxWRrfqs90ZfWoO\n"
    "T5IgB4OIgkNrxg07rXRduqiJO92WjzcPFnpwHkuDhrVyzDMgAi3Ze16z\n"
    "-----END PRIVATE KEY-----\n";

static void test_ari_cert_id_rfc_example(void **state)
{
    (void)state;
    char *id = NULL;
    assert_int_equal(Leec_ari_cert_id(leaf_pem, strlen(leaf_pem), &id),
                     LEEC_OK);
    assert_string_equal(id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    free(id);
    assert_int_equal(Leec_ari_cert_id("nope", 4, &id), LEEC_E_INVALID_ARG);
    assert_null(id);
}

static void test_rfc3339(void **state)
{
    (void)state;
    time_t t = 0;
    assert_true(Leec_rfc3339_parse("2025-01-02T03:04:05Z", &t));
    assert_int_equal(t, 1735787045);
    assert_true(Leec_rfc3339_parse("2025-01-02T03:04:05.123456Z", &t));
    assert_int_equal(t, 1735787045);
    assert_true(Leec_rfc3339_parse("2025-01-02T04:04:05+01:00", &t));
    assert_int_equal(t, 1735787045);
    assert_true(Leec_rfc3339_parse("2025-01-01T23:04:05-04:00", &t));
    assert_int_equal(t, 1735787045);
    assert_true(Leec_rfc3339_parse("2025-01-02t03:04:05z", &t));
    const char *bad[] = {"",
                         "2025-01-02",
                         "2025-01-02T03:04:05",
                         "2025-1-02T03:04:05Z",
                         "2025-01-02T03:04:05ZZ",
                         "2025-13-02T03:04:05Z",
                         "2025-01-02T03:04:05.Z",
                         "2025-01-02T03:04:05+0100",
                         "1969-12-31T00:00:00Z",
                         "2025-01-02 03:04:05Z"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(Leec_rfc3339_parse(bad[i], &t));
    assert_false(Leec_rfc3339_parse(NULL, &t));
}

static void test_lifetime_and_backoff(void **state)
{
    (void)state;
    const time_t d = 86400;
    /* 90 days: a third left; 6 days: half left; 10 days: a third. */
    assert_int_equal(Leec_renewal_lifetime_due(0, 90 * d), 60 * d);
    assert_int_equal(Leec_renewal_lifetime_due(0, 6 * d), 3 * d);
    assert_int_equal(Leec_renewal_lifetime_due(0, 30), 15);
    assert_int_equal(Leec_renewal_lifetime_due(100, 100), 100);
    assert_int_equal(Leec_renewal_backoff_s(1), 3600);
    assert_int_equal(Leec_renewal_backoff_s(2), 7200);
    assert_int_equal(Leec_renewal_backoff_s(5), 16 * 3600);
    assert_int_equal(Leec_renewal_backoff_s(6), 86400);
    assert_int_equal(Leec_renewal_backoff_s(400), 86400);
}

/* The one rule (renewal.c): the earlier of the lifetime rule and the CA's
 * chosen time; a window after the lifetime rule is ignored; revoked: at
 * once. */
static void test_due_rule(void **state)
{
    (void)state;
    const time_t d = 86400, nb = 1000 * d, na = nb + 90 * d;
    const time_t life = na - 30 * d;
    leec_renewal_state st;
    memset(&st, 0, sizeof st);
    /* Nothing known: the lifetime rule. */
    leec_due due = Leec_renewal_due(&st, true, nb, na);
    assert_int_equal(due.at, life);
    assert_int_equal(due.why, LEEC_DUE_LIFETIME);
    assert_false(due.ari_ignored);
    /* A window before the lifetime time: the CA's chosen time. */
    st.ari_known = st.ari_offered = true;
    st.win_start = life - 5 * d;
    st.win_end = life - 3 * d;
    st.chosen = life - 4 * d;
    due = Leec_renewal_due(&st, true, nb, na);
    assert_int_equal(due.at, life - 4 * d);
    assert_int_equal(due.why, LEEC_DUE_ARI);
    /* ... not when the window belongs to another certificate. */
    due = Leec_renewal_due(&st, false, nb, na);
    assert_int_equal(due.at, life);
    assert_int_equal(due.why, LEEC_DUE_LIFETIME);
    /* A window across the lifetime time, its chosen time later: the
     * earlier of the two, nothing ignored. */
    st.win_start = life - d;
    st.win_end = life + d;
    st.chosen = life + d / 2;
    due = Leec_renewal_due(&st, true, nb, na);
    assert_int_equal(due.at, life);
    assert_int_equal(due.why, LEEC_DUE_LIFETIME);
    assert_false(due.ari_ignored);
    /* A window ten years away (after expiry): ignored, said so. */
    st.win_start = na + 3650 * d;
    st.win_end = st.win_start + d;
    st.chosen = st.win_start;
    due = Leec_renewal_due(&st, true, nb, na);
    assert_int_equal(due.at, life);
    assert_int_equal(due.why, LEEC_DUE_LIFETIME);
    assert_true(due.ari_ignored);
    /* A short certificate: half of its lifetime, named as such. */
    due = Leec_renewal_due(&st, true, nb, nb + 60);
    assert_int_equal(due.at, nb + 30);
    assert_string_equal(Leec_renewal_rule_text(due.why, nb, nb + 60),
                        "half of the lifetime left (lifetime under 10 days)");
    assert_string_equal(Leec_renewal_rule_text(LEEC_DUE_LIFETIME, nb, na),
                        "a third of the lifetime left");
    /* Revoked by leec: due then, whatever the window says. */
    st.revoked_at = nb + d;
    due = Leec_renewal_due(&st, true, nb, na);
    assert_int_equal(due.at, nb + d);
    assert_int_equal(due.why, LEEC_DUE_REVOKED);
    /* The back-off never lets a short certificate lapse: a third of the
     * time left, at least LEEC_RETRY_MIN_S; the full back-off when far. */
    assert_int_equal(Leec_renewal_retry_at(1, nb, nb + 60), nb + 20);
    assert_int_equal(Leec_renewal_retry_at(3, nb, nb + 12),
                     nb + LEEC_RETRY_MIN_S);
    assert_int_equal(Leec_renewal_retry_at(1, nb, na), nb + 3600);
    assert_int_equal(Leec_renewal_retry_at(1, na + 5, na), na + 5 + 3600);
    st.win_start = st.win_end = st.chosen = 0;
    Leec_renewal_clear(&st);
}

static leec_json *window(const char *start, const char *end, const char *ex)
{
    leec_json *o = Leec_json_new_object();
    leec_json *w = Leec_json_new_object();
    assert_true(Leec_json_set_str(w, "start", start) &&
                Leec_json_set_str(w, "end", end) &&
                Leec_json_set(o, "suggestedWindow", w));
    if (ex)
        assert_true(Leec_json_set_str(o, "explanationURL", ex));
    return o;
}

/* The agent's way: the view, then the state (NULL view when malformed). */
static leec_code take_ari(leec_renewal_state *st, const char *id,
                          const leec_json *o, long retry_after, time_t now)
{
    leec_ari_view v;
    leec_code rc = Leec_ari_parse(o, &v);
    if (rc != LEEC_E_NOMEM)
        rc = Leec_renewal_take_ari(st, id, rc == LEEC_OK ? &v : NULL,
                                   retry_after, now);
    Leec_ari_view_clear(&v);
    return rc;
}

static void test_take_ari(void **state)
{
    (void)state;
    leec_renewal_state st;
    memset(&st, 0, sizeof st);
    const time_t now = 1735787045; /* 2025-01-02T03:04:05Z */
    leec_json *w = window("2025-02-01T00:00:00Z", "2025-02-02T00:00:00Z",
                          "https://ca.example/why");
    assert_int_equal(take_ari(&st, "a.b", w, 5, now), LEEC_OK);
    assert_true(st.ari_known && st.ari_offered);
    assert_string_equal(st.ari_id, "a.b");
    assert_int_equal(st.win_start, 1738368000);
    assert_int_equal(st.win_end, 1738454400);
    assert_true(st.chosen >= st.win_start && st.chosen <= st.win_end);
    assert_int_equal(st.next_check, now + 60); /* clamped up to a minute */
    assert_string_equal(st.explanation, "https://ca.example/why");
    /* Asking again: same window, same chosen time (no re-roll). */
    time_t chosen = st.chosen;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(take_ari(&st, "a.b", w, -1, now), LEEC_OK);
        assert_int_equal(st.chosen, chosen);
    }
    assert_int_equal(st.next_check, now + 6 * 3600); /* no Retry-After */
    Leec_json_free(w);
    /* A moved window: a time inside the new one; huge Retry-After: a day. */
    w = window("2025-03-01T00:00:00Z", "2025-03-01T00:00:00Z",
               "http://plain.example/");
    assert_int_equal(take_ari(&st, "a.b", w, 86400 * 30, now), LEEC_OK);
    assert_int_equal(st.chosen, 1740787200);
    assert_int_equal(st.next_check, now + 86400);
    assert_null(st.explanation); /* not https */
    Leec_json_free(w);
    /* Unusable answers: end before start, missing window. */
    w = window("2025-03-02T00:00:00Z", "2025-03-01T00:00:00Z", NULL);
    assert_int_equal(take_ari(&st, "a.b", w, 60, now), LEEC_E_PROTOCOL);
    assert_int_equal(st.next_check, now + 3600);
    Leec_json_free(w);
    w = Leec_json_new_object();
    assert_true(Leec_json_set_str(w, "suggestedWindow", "soon"));
    assert_int_equal(take_ari(&st, "a.b", w, 60, now), LEEC_E_PROTOCOL);
    Leec_json_free(w);
    Leec_renewal_clear(&st);
}

/* ---- the state file and the plan, in a real filesystem store ---- */

typedef struct fixture {
    char *dir;
    leec_store *store;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || !(f->dir = tu_tmpdir("leec-renewal")))
        return -1;
    leec_code rc;
    if (!(f->store = leec_store_fs_new(f->dir, &rc)))
        return -1;
    leec_store_new_version in = {
        .privkey = leaf_key, .cert = leaf_pem, .chain = "", .meta_json = "{}"};
    if (leec_store_install_version(f->store, "ari.example", &in, NULL) !=
        LEEC_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    leec_store_free(f->store);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void test_state_roundtrip_and_plan(void **state)
{
    fixture *f = *state;
    leec_renewal_state st, back;
    leec_renewal_plan *p = NULL;
    leec_cert_info *ci = NULL;
    assert_int_equal(leec_cert_info_from_pem(leaf_pem, strlen(leaf_pem), &ci),
                     LEEC_OK);
    time_t due = Leec_renewal_lifetime_due(ci->not_before, ci->not_after);

    /* Nothing known yet: the lifetime rule, no ARI. */
    assert_int_equal(leec_store_renewal_plan(f->store, "ari.example", &p),
                     LEEC_OK);
    assert_int_equal(p->due, due);
    assert_int_equal(p->why, LEEC_DUE_LIFETIME);
    assert_false(p->ari);
    assert_int_equal(p->wake, due);
    leec_renewal_plan_free(p);

    memset(&st, 0, sizeof st);
    st.version = 1; /* saved into version 1, the current one */
    st.serial = strdup("87654321");
    st.ari_known = st.ari_offered = true;
    st.ari_id = strdup("a.b");
    st.win_start = 1000;
    st.win_end = 2000;
    st.chosen = 1500;
    st.next_check = 1200;
    st.explanation = strdup("https://ca.example/why");
    st.failures = 2;
    st.last_failure = 900;
    st.retry_at = 1700;
    st.last_error = strdup("validation failed: \"quoted\"");
    assert_int_equal(Leec_renewal_save(f->store, "ari.example", &st), LEEC_OK);
    assert_int_equal(
        Leec_renewal_load(f->store, "ari.example", "87654321", &back), LEEC_OK);
    assert_true(back.ari_known && back.ari_offered);
    assert_string_equal(back.ari_id, "a.b");
    assert_int_equal(back.win_start, 1000);
    assert_int_equal(back.win_end, 2000);
    assert_int_equal(back.chosen, 1500);
    assert_int_equal(back.next_check, 1200);
    assert_string_equal(back.explanation, "https://ca.example/why");
    assert_int_equal(back.failures, 2);
    assert_int_equal(back.last_failure, 900);
    assert_int_equal(back.retry_at, 1700);
    assert_string_equal(back.last_error, "validation failed: \"quoted\"");
    Leec_renewal_clear(&back);

    /* The plan: due at the chosen time, woken at the next check unless
     * backing off longer. */
    assert_int_equal(leec_store_renewal_plan(f->store, "ari.example", &p),
                     LEEC_OK);
    assert_int_equal(p->why, LEEC_DUE_ARI);
    assert_int_equal(p->due, 1500);
    assert_int_equal(p->window_start, 1000);
    assert_int_equal(p->next_check, 1200);
    assert_int_equal(p->failures, 2);
    assert_int_equal(p->wake, 1700); /* max(retry_at, min(due, check)) */
    assert_string_equal(p->last_error, "validation failed: \"quoted\"");
    leec_renewal_plan_free(p);

    st.failures = 0;
    assert_int_equal(Leec_renewal_save(f->store, "ari.example", &st), LEEC_OK);
    assert_int_equal(leec_store_renewal_plan(f->store, "ari.example", &p),
                     LEEC_OK);
    assert_int_equal(p->wake, 1200);
    assert_int_equal(p->retry_at, 0);
    leec_renewal_plan_free(p);

    /* A state written for another certificate (one installed meanwhile by
     * another process) is not this one's. */
    free(st.serial);
    st.serial = strdup("0123");
    st.failures = 3;
    assert_int_equal(Leec_renewal_save(f->store, "ari.example", &st), LEEC_OK);
    assert_int_equal(
        Leec_renewal_load(f->store, "ari.example", "87654321", &back), LEEC_OK);
    assert_false(back.ari_known);
    assert_int_equal(back.failures, 0);
    Leec_renewal_clear(&back);
    assert_int_equal(leec_store_renewal_plan(f->store, "ari.example", &p),
                     LEEC_OK);
    assert_int_equal(p->failures, 0);
    assert_int_equal(p->why, LEEC_DUE_LIFETIME);
    leec_renewal_plan_free(p);
    Leec_renewal_clear(&st);

    /* A damaged file is an empty state, never an error. */
    assert_int_equal(
        Leec_store_renewal_write(f->store, "ari.example", 1, "{not json"),
        LEEC_OK);
    assert_int_equal(
        Leec_renewal_load(f->store, "ari.example", "87654321", &back), LEEC_OK);
    assert_false(back.ari_known);
    assert_int_equal(back.failures, 0);
    Leec_renewal_clear(&back);
    /* Only for the current version of a known name. */
    assert_int_equal(Leec_store_renewal_write(f->store, "ari.example", 0, "x"),
                     LEEC_E_INVALID_ARG);
    assert_int_equal(Leec_store_renewal_write(f->store, "ari.example", 2, "x"),
                     LEEC_E_NOT_FOUND);
    assert_int_equal(Leec_store_renewal_write(f->store, "other", 1, "{}"),
                     LEEC_E_NOT_FOUND);
    assert_int_equal(leec_store_renewal_plan(f->store, "other", &p),
                     LEEC_E_NOT_FOUND);

    /* A version installed from a CA offering renewal information says so
     * in its meta.json: its window is asked for at the first look. */
    leec_store_new_version in = {.privkey = leaf_key,
                                 .cert = leaf_pem,
                                 .chain = "",
                                 .meta_json = "{\"ari_offered\":true}"};
    assert_int_equal(leec_store_install_version(f->store, "fresh", &in, NULL),
                     LEEC_OK);
    assert_int_equal(leec_store_renewal_plan(f->store, "fresh", &p), LEEC_OK);
    assert_true(p->ari);
    assert_int_equal(p->why, LEEC_DUE_LIFETIME);
    assert_int_equal(p->next_check, 0);
    assert_int_equal(p->wake, 0);
    leec_renewal_plan_free(p);

    /* A window years after expiry: the lifetime rule, the window kept but
     * marked ignored. */
    memset(&st, 0, sizeof st);
    st.version = 1;
    st.serial = strdup("87654321");
    st.ari_known = st.ari_offered = true;
    st.ari_id = strdup("a.b");
    st.win_start = ci->not_after + 3650L * 86400;
    st.win_end = st.win_start + 86400;
    st.chosen = st.win_start;
    st.next_check = ci->not_after + 1;
    assert_int_equal(Leec_renewal_save(f->store, "ari.example", &st), LEEC_OK);
    assert_int_equal(leec_store_renewal_plan(f->store, "ari.example", &p),
                     LEEC_OK);
    assert_int_equal(p->due, due);
    assert_int_equal(p->why, LEEC_DUE_LIFETIME);
    assert_true(p->ari_ignored);
    assert_int_equal(p->window_start, st.win_start);
    assert_string_equal(leec_renewal_plan_rule(p),
                        "a third of the lifetime left");
    leec_renewal_plan_free(p);
    Leec_renewal_clear(&st);

    /* Revoked by leec: due at once; an older certificate's revocation
     * changes nothing; the window and the rest are kept. */
    assert_int_equal(
        leec_store_note_revoked(f->store, "ari.example", leaf_pem, 12345),
        LEEC_OK);
    assert_int_equal(leec_store_renewal_plan(f->store, "ari.example", &p),
                     LEEC_OK);
    assert_int_equal(p->why, LEEC_DUE_REVOKED);
    assert_int_equal(p->due, 12345);
    assert_int_equal(p->revoked_at, 12345);
    assert_int_equal(p->wake, 12345);
    assert_true(p->ari);
    assert_string_equal(leec_renewal_plan_rule(p), "revoked by leec");
    leec_renewal_plan_free(p);
    assert_int_equal(leec_store_note_revoked(f->store, "nosuch", leaf_pem, 1),
                     LEEC_E_NOT_FOUND);
    assert_int_equal(leec_store_note_revoked(f->store, "ari.example", "x", 1),
                     LEEC_E_INVALID_ARG);
    leec_cert_info_free(ci);
}

/* A renewal.json or meta.json others can write is refused, not taken for
 * a missing one (which would silently forget the back-off). */
static void test_unsafe_state_refused(void **state)
{
    fixture *f = *state;
    leec_renewal_plan *p = NULL;
    leec_renewal_state st;
    char *vdir = tu_pathf("%s/archive/ari.example/1", f->dir);
    char *rj = tu_pathf("%s/renewal.json", vdir);
    char *meta = tu_pathf("%s/meta.json", vdir);

    assert_int_equal(chmod(meta, 0666), 0);
    assert_int_equal(leec_store_renewal_plan(f->store, "ari.example", &p),
                     LEEC_E_STORE);
    assert_null(p);
    assert_non_null(strstr(leec_store_errmsg(f->store), meta));
    assert_int_equal(chmod(meta, 0644), 0);

    memset(&st, 0, sizeof st);
    st.version = 1;
    st.serial = strdup("87654321");
    st.failures = 1;
    st.retry_at = 1700;
    assert_int_equal(Leec_renewal_save(f->store, "ari.example", &st), LEEC_OK);
    Leec_renewal_clear(&st);
    assert_int_equal(chmod(rj, 0664), 0);
    assert_int_equal(leec_store_renewal_plan(f->store, "ari.example", &p),
                     LEEC_E_STORE);
    assert_non_null(strstr(leec_store_errmsg(f->store), rj));
    assert_int_equal(
        Leec_renewal_load(f->store, "ari.example", "87654321", &st),
        LEEC_E_STORE);
    Leec_renewal_clear(&st);
    assert_int_equal(chmod(rj, 0644), 0);
    assert_int_equal(leec_store_renewal_plan(f->store, "ari.example", &p),
                     LEEC_OK);
    leec_renewal_plan_free(p);
    free(vdir);
    free(rj);
    free(meta);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ari_cert_id_rfc_example),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_lifetime_and_backoff),
        cmocka_unit_test(test_due_rule),
        cmocka_unit_test(test_take_ari),
        cmocka_unit_test_setup_teardown(test_state_roundtrip_and_plan, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unsafe_state_refused, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
