/* Renewal timing: the lifetime rule, ARI windows (RFC 9773) and the
 * back-off after failures, persisted in the version's renewal.json so that
 * a Retry-After or a failure is remembered across runs, and the plan a
 * scheduler (leec renew, the daemon, a host) reads without the network. */
#define _GNU_SOURCE
#include "engine/renewal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "crypto/crypto.h"
#include "crypto/der.h"
#include "util/json.h"
#include "acme/problem.h"
#include "store/store.h"

#define LIFETIME_SHORT_S (10 * 86400)
#define BACKOFF_FIRST_S  3600
#define BACKOFF_MAX_S    86400
#define TEXT_MAX         1024 /* last_error, explanation URL */

void Leec_renewal_clear(leec_renewal_state *st)
{
    free(st->serial);
    free(st->ari_id);
    free(st->explanation);
    free(st->last_error);
    memset(st, 0, sizeof *st);
}

time_t Leec_renewal_lifetime_due(time_t not_before, time_t not_after)
{
    time_t life = not_after - not_before;
    if (life <= 0)
        return not_before;
    return not_after - (life < LIFETIME_SHORT_S ? life / 2 : life / 3);
}

time_t Leec_renewal_backoff_s(unsigned failures)
{
    time_t d = BACKOFF_FIRST_S;
    for (unsigned i = 1; i < failures && d < BACKOFF_MAX_S; i++)
        d *= 2;
    return d > BACKOFF_MAX_S ? BACKOFF_MAX_S : d;
}

time_t Leec_renewal_retry_at(unsigned failures, time_t now, time_t not_after)
{
    time_t d = Leec_renewal_backoff_s(failures);
    if (not_after > now) {
        /* An hour's back-off would let a certificate of minutes lapse. */
        time_t cap = (not_after - now) / 3;
        if (cap < LEEC_RETRY_MIN_S)
            cap = LEEC_RETRY_MIN_S;
        if (d > cap)
            d = cap;
    }
    return now + d;
}

leec_due Leec_renewal_due(const leec_renewal_state *st, bool window_current,
                          time_t not_before, time_t not_after)
{
    leec_due d = {Leec_renewal_lifetime_due(not_before, not_after),
                  LEEC_DUE_LIFETIME, false};
    if (st->revoked_at) {
        d.at = st->revoked_at;
        d.why = LEEC_DUE_REVOKED;
        return d;
    }
    if (!window_current || !st->ari_offered || !st->win_end)
        return d;
    /* The CA may advance a renewal (a revocation ahead, an incident), never
     * postpone it past our own rule: a window after it would let the
     * certificate lapse on a CA's word. */
    if (st->win_start > d.at) {
        d.ari_ignored = true;
        return d;
    }
    if (st->chosen <= d.at) {
        d.at = st->chosen;
        d.why = LEEC_DUE_ARI;
    }
    return d;
}

static time_t get_time(const leec_json *o, const char *key)
{
    long long i = 0;
    return Leec_json_int(o, key, &i) && i > 0 ? (time_t)i : 0;
}

static char *get_text(const leec_json *o, const char *key)
{
    const char *s = o ? Leec_json_str(o, key) : NULL;
    /* Printed by renew, list and the daemon: cleaned like any log line. */
    return s && strlen(s) <= TEXT_MAX ? Leec_sanitize(s, TEXT_MAX) : NULL;
}

/* Whether the CA offered renewal information when the version was
 * installed, from its meta.json ("ari_offered"): the state of a version
 * that has no renewal.json yet (installs write no extra file). */
/* Whether the CA offered renewal information when the version was
 * installed, from its meta.json ("ari_offered"): the state of a version
 * that has no renewal.json yet (installs write no extra file). meta is
 * the parsed meta.json when the caller has it already, else it is read. */
static leec_code from_meta(leec_store *store, const char *cert_name,
                           const leec_json *meta, leec_renewal_state *st)
{
    char *text = NULL;
    size_t len = 0;
    leec_json *o = NULL;
    if (!meta) {
        leec_code rc =
            leec_store_read_part(store, cert_name, LEEC_PART_META, &text, &len);
        /* LEEC_E_STORE: refused as unsafe (its message says why), not
         * absent. */
        if (rc == LEEC_E_NOMEM || rc == LEEC_E_STORE)
            return rc;
        if (rc == LEEC_OK && Leec_json_parse_object(text, len, &o) == LEEC_OK)
            meta = o;
    }
    int offered = Leec_json_bool(meta, "ari_offered");
    if (offered >= 0) {
        st->ari_known = true;
        st->ari_offered = offered == 1;
        st->next_check = 0; /* ask at the first look */
    }
    Leec_json_free(o);
    free(text);
    return LEEC_OK;
}

/* The state of the version in ver (read already, with its renewal state)
 * or, ver NULL, of the current version, read here. */
static leec_code load_state(leec_store *store, const char *cert_name,
                            const char *serial, const leec_json *meta,
                            const leec_store_version *ver,
                            leec_renewal_state *st)
{
    leec_store_version own;
    leec_json *o = NULL;
    memset(st, 0, sizeof *st);
    if (!ver) {
        leec_code rc = leec_store_read_version(
            store, cert_name, LEEC_PARTS(LEEC_PART_RENEWAL), &own);
        if (rc == LEEC_E_NOMEM || rc == LEEC_E_STORE)
            return rc;
        /* Unreadable (too large, an I/O error): no state, but the version
         * it is saved into next. */
        if (rc != LEEC_OK &&
            leec_store_read_version(store, cert_name, 0, &own) != LEEC_OK)
            leec_store_version_clear(&own);
        ver = &own;
    }
    const char *text = ver->text[LEEC_PART_RENEWAL];
    st->version = ver->number;
    leec_code rc =
        text ? Leec_json_parse_object(text, ver->len[LEEC_PART_RENEWAL], &o)
             : LEEC_E_NOT_FOUND;
    if (ver == &own)
        leec_store_version_clear(&own);
    if (rc != LEEC_OK)
        return from_meta(store, cert_name, meta, st);
    const char *whose = Leec_json_str(o, "serial");
    if (!whose || !serial || strcmp(whose, serial) != 0) {
        Leec_json_free(o); /* another certificate's: not this one's past */
        return from_meta(store, cert_name, meta, st);
    }
    const leec_json *ari = Leec_json_object(o, "ari");
    const leec_json *fail = Leec_json_object(o, "failures");
    if (ari) {
        st->ari_known = true;
        st->ari_offered = Leec_json_bool(ari, "offered") == 1;
        st->ari_id = get_text(ari, "id");
        st->win_start = get_time(ari, "window_start");
        st->win_end = get_time(ari, "window_end");
        st->chosen = get_time(ari, "chosen");
        st->next_check = get_time(ari, "next_check");
        st->explanation = get_text(ari, "explanation_url");
        if (st->win_end < st->win_start)
            st->win_start = st->win_end = st->chosen = 0;
    }
    if (fail) {
        long long c = 0;
        (void)Leec_json_int(fail, "count", &c);
        st->failures = c > 0 && c < 1000 ? (unsigned)c : 0;
        st->last_failure = get_time(fail, "last");
        st->retry_at = get_time(fail, "retry_at");
        st->last_error = get_text(fail, "error");
    }
    st->revoked_at = get_time(o, "revoked");
    Leec_json_free(o);
    return ari ? LEEC_OK : from_meta(store, cert_name, meta, st);
}

leec_code Leec_renewal_load(leec_store *store, const char *cert_name,
                            const char *serial, leec_renewal_state *st)
{
    return load_state(store, cert_name, serial, NULL, NULL, st);
}

char *Leec_renewal_json(const leec_renewal_state *st)
{
    leec_json *o = Leec_json_new_object();
    char *s = NULL;
    bool ok = o != NULL;
    if (ok && st->serial)
        ok = Leec_json_set_str(o, "serial", st->serial);
    if (ok && st->ari_known) {
        leec_json *a = Leec_json_new_object();
        bool a_ok = Leec_json_set_bool(a, "offered", st->ari_offered);
        if (a_ok && st->ari_id)
            (void)Leec_json_set_str(a, "id", st->ari_id);
        if (a_ok && st->win_end) {
            (void)Leec_json_set_int(a, "window_start", st->win_start);
            (void)Leec_json_set_int(a, "window_end", st->win_end);
            (void)Leec_json_set_int(a, "chosen", st->chosen);
        }
        if (a_ok && st->ari_offered)
            (void)Leec_json_set_int(a, "next_check", st->next_check);
        if (a_ok && st->explanation)
            (void)Leec_json_set_str(a, "explanation_url", st->explanation);
        if (!a_ok) {
            Leec_json_free(a);
            a = NULL;
        }
        ok = Leec_json_set(o, "ari", a);
    }
    if (ok && st->failures) {
        leec_json *f = Leec_json_new_object();
        bool f_ok = Leec_json_set_int(f, "count", (int)st->failures) &&
                    Leec_json_set_int(f, "last", st->last_failure) &&
                    Leec_json_set_int(f, "retry_at", st->retry_at);
        if (f_ok && st->last_error)
            (void)Leec_json_set_str(f, "error", st->last_error);
        if (!f_ok) {
            Leec_json_free(f);
            f = NULL;
        }
        ok = Leec_json_set(o, "failures", f);
    }
    if (ok && st->revoked_at)
        ok = Leec_json_set_int(o, "revoked", st->revoked_at);
    if (ok)
        s = Leec_json_dump(o, true);
    Leec_json_free(o);
    return s;
}

leec_code Leec_renewal_save(leec_store *store, const char *cert_name,
                            const leec_renewal_state *st)
{
    return Leec_renewal_save_fenced(store, cert_name, st, 0);
}

leec_code Leec_renewal_save_fenced(leec_store *store, const char *cert_name,
                                   const leec_renewal_state *st, uint64_t token)
{
    char *s = Leec_renewal_json(st);
    if (!s)
        return LEEC_E_NOMEM;
    leec_code rc = Leec_store_renewal_write_fenced(store, cert_name,
                                                   st->version, s, token);
    free(s);
    return rc;
}

static time_t random_between(time_t a, time_t b)
{
    unsigned long long r = 0;
    if (b <= a)
        return a;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (unsigned long long)time(NULL); /* a spread, not a secret */
    return a + (time_t)(r % ((unsigned long long)(b - a) + 1));
}

leec_code Leec_renewal_take_ari(leec_renewal_state *st, const char *id,
                                leec_ari_view *w, long retry_after, time_t now)
{
    long wait = retry_after >= 0 ? retry_after : LEEC_ARI_DEFAULT_CHECK_S;
    if (wait < LEEC_ARI_MIN_CHECK_S)
        wait = LEEC_ARI_MIN_CHECK_S;
    if (wait > LEEC_ARI_MAX_CHECK_S)
        wait = LEEC_ARI_MAX_CHECK_S;
    st->ari_known = st->ari_offered = true;
    if (!w) {
        st->next_check = now + LEEC_ARI_FAILED_CHECK_S;
        return LEEC_E_PROTOCOL;
    }
    time_t start = w->start, end = w->end;
    bool same_id = st->ari_id && strcmp(st->ari_id, id) == 0;
    if (!same_id) {
        char *c = strdup(id);
        if (!c)
            return LEEC_E_NOMEM;
        free(st->ari_id);
        st->ari_id = c;
    }
    /* A new random time only when the window moves: checking again must not
     * re-roll the dice (it would drift towards the window's start). */
    if (!same_id || start != st->win_start || end != st->win_end ||
        st->chosen < start || st->chosen > end)
        st->chosen = random_between(start, end);
    st->win_start = start;
    st->win_end = end;
    st->next_check = now + wait;
    free(st->explanation);
    st->explanation = w->explanation;
    w->explanation = NULL;
    return LEEC_OK;
}

const char *Leec_renewal_rule_text(leec_due_reason why, time_t not_before,
                                   time_t not_after)
{
    switch (why) {
    case LEEC_DUE_ARI:
        return "the CA's renewal window (ARI)";
    case LEEC_DUE_REVOKED:
        return "revoked by leec";
    case LEEC_DUE_BROKEN:
        return "the installed version is broken";
    case LEEC_DUE_LIFETIME:
        break;
    }
    return not_after - not_before < LIFETIME_SHORT_S
               ? "half of the lifetime left (lifetime under 10 days)"
               : "a third of the lifetime left";
}

const char *leec_renewal_plan_rule(const leec_renewal_plan *plan)
{
    return plan ? Leec_renewal_rule_text(plan->why, plan->not_before,
                                         plan->not_after)
                : "?";
}

/* The serial and validity of a PEM certificate, through the DER reader
 * (no full X.509 decoding). */
static leec_code pem_basics(const char *pem, time_t *nb, time_t *na,
                            char **serial)
{
    unsigned char *der = NULL;
    size_t derlen = 0;
    leec_code rc = Leec_pem_cert_der(pem, strlen(pem), &der, &derlen);
    if (rc == LEEC_OK)
        rc = Leec_der_cert_basics(der, derlen, nb, na, serial);
    free(der);
    return rc;
}

leec_code leec_store_note_revoked(leec_store *store, const char *cert_name,
                                  const char *cert_pem, time_t when)
{
    char *pem = NULL, *mine = NULL, *cur = NULL;
    time_t nb, na;
    leec_renewal_state st;
    memset(&st, 0, sizeof st);
    if (!store || !cert_pem || !Leec_store_name_valid(cert_name))
        return LEEC_E_INVALID_ARG;
    leec_code rc = pem_basics(cert_pem, &nb, &na, &mine);
    if (rc != LEEC_OK)
        return rc == LEEC_E_NOMEM ? rc : LEEC_E_INVALID_ARG;
    if ((rc = leec_store_read_cert(store, cert_name, &pem)) != LEEC_OK)
        goto out;
    if (pem_basics(pem, &nb, &na, &cur) != LEEC_OK || strcmp(cur, mine) != 0)
        goto out; /* not the current version: nothing to plan */
    if ((rc = Leec_renewal_load(store, cert_name, cur, &st)) != LEEC_OK)
        goto out;
    if (!st.serial && !(st.serial = strdup(cur))) {
        rc = LEEC_E_NOMEM;
        goto out;
    }
    st.revoked_at = when > 0 ? when : 1;
    rc = Leec_renewal_save(store, cert_name, &st);
out:
    Leec_renewal_clear(&st);
    free(pem);
    free(mine);
    free(cur);
    return rc;
}

void leec_renewal_plan_free(leec_renewal_plan *plan)
{
    if (!plan)
        return;
    free(plan->explanation_url);
    free(plan->last_error);
    free(plan->broken);
    free(plan);
}

/* A reason, or LEEC_E_NOMEM in *rc. */
__attribute__((format(printf, 2, 3))) static char *reason(leec_code *rc,
                                                          const char *fmt, ...)
{
    char *why = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&why, fmt, ap) < 0) {
        why = NULL;
        *rc = LEEC_E_NOMEM;
    }
    va_end(ap);
    return why;
}

/* The file name of a part, for reasons. */
static const char *part_name(leec_store_part part)
{
    return Leec_store_part_file(part);
}

/* Why a part of the version read already (v) is not usable: missing or
 * empty; NULL when neither. */
static char *part_missing(const leec_store_version *v, leec_store_part part,
                          leec_code *rc)
{
    if (!v->text[part])
        return reason(rc, "%s is missing", part_name(part));
    if (v->len[part] == 0)
        return reason(rc, "%s is empty", part_name(part));
    return NULL;
}

/* A part of the version, read for a check: its text, or a reason why it is
 * not usable (*rc: only errors that are not the part's fault). */
static char *read_part(leec_store *store, const char *name,
                       leec_store_part part, char **text, size_t *len,
                       leec_code *rc)
{
    char *why = NULL;
    const char *file = part_name(part);
    *text = NULL;
    *rc = leec_store_read_part(store, name, part, text, len);
    if (*rc == LEEC_E_NOT_FOUND) {
        *rc = LEEC_OK;
        why = reason(rc, "%s is missing", file);
    } else if (*rc == LEEC_E_IO || *rc == LEEC_E_TOO_LARGE) {
        leec_code was = *rc;
        *rc = LEEC_OK;
        why = reason(rc, "%s cannot be read (%s)", file, leec_strerror(was));
    } else if (*rc == LEEC_OK && *len == 0) {
        why = reason(rc, "%s is empty", file);
    } else if (*rc == LEEC_E_STORE && part == LEEC_PART_PRIVKEY) {
        /* A key refused as unsafe (readable by others, not ours): never
         * read, and replaced by a new version with a new key. A refused
         * meta.json stays an error: its hooks must not run. */
        const char *m = leec_store_errmsg(store);
        *rc = LEEC_OK;
        why = reason(rc, "%s", m ? m : "privkey.pem is refused as unsafe");
    }
    if (why || *rc != LEEC_OK) {
        Leec_secure_free(*text);
        *text = NULL;
    }
    return why;
}

/* What is wrong with a version's key and meta.json texts (read already;
 * lengths without the NUL). *meta: the parsed meta.json, when whole and
 * meta is not NULL (the caller's then). */
static char *parts_broken(const char *key, size_t klen, const char *mtext,
                          size_t mlen, const char *cert_pem, bool thorough,
                          leec_json **meta, leec_code *rc)
{
    char *why = NULL;
    leec_key *k = NULL;
    leec_json *o = NULL;
    if (klen == 0)
        why = reason(rc, "privkey.pem is empty");
    else if (!Leec_pem_key_plausible(key, klen) ||
             (thorough && Leec_key_load_pem(key, klen, &k) != LEEC_OK))
        why = reason(rc, "privkey.pem holds no usable private key");
    else if (thorough &&
             !Leec_key_matches_cert_pem(k, cert_pem, strlen(cert_pem)))
        why = reason(rc, "privkey.pem is not the key of cert.pem");
    else if (mlen == 0)
        why = reason(rc, "meta.json is empty");
    else if (Leec_json_parse_object(mtext, mlen, &o) != LEEC_OK)
        why = reason(rc, "meta.json is malformed (truncated?)");
    Leec_key_free(k);
    if (!why && meta) {
        *meta = o;
        o = NULL;
    }
    Leec_json_free(o);
    return why;
}

char *Leec_version_broken(leec_store *store, const char *cert_name,
                          const char *cert_pem, bool thorough, leec_code *rc)
{
    char *key = NULL, *meta = NULL, *why = NULL;
    size_t klen = 0, mlen = 0;
    why = read_part(store, cert_name, LEEC_PART_PRIVKEY, &key, &klen, rc);
    if (!why && *rc == LEEC_OK)
        why = read_part(store, cert_name, LEEC_PART_META, &meta, &mlen, rc);
    if (!why && *rc == LEEC_OK)
        why = parts_broken(key, klen, meta, mlen, cert_pem, thorough, NULL, rc);
    if (*rc != LEEC_OK) {
        free(why);
        why = NULL;
    }
    Leec_secure_free(key);
    free(meta);
    return why;
}

leec_code leec_store_renewal_plan(leec_store *store, const char *cert_name,
                                  leec_renewal_plan **out)
{
    const leec_store_part C = LEEC_PART_CERT, K = LEEC_PART_PRIVKEY,
                          M = LEEC_PART_META;
    leec_store_version v;
    char *serial = NULL, *broken = NULL;
    leec_json *meta = NULL;
    time_t nb = 0, na = 0;
    bool whole = true; /* v holds every part asked for that there is */
    leec_renewal_state st;
    leec_renewal_plan *p = NULL;
    memset(&st, 0, sizeof st);
    memset(&v, 0, sizeof v);
    if (!store || !out || !Leec_store_name_valid(cert_name))
        return LEEC_E_INVALID_ARG;
    *out = NULL;
    /* The usual case in one go (one look at the current version): its
     * certificate, key, settings and renewal state; when one is amiss,
     * each alone, to say which. */
    leec_code rc =
        leec_store_read_version(store, cert_name,
                                LEEC_PARTS(C) | LEEC_PARTS(K) | LEEC_PARTS(M) |
                                    LEEC_PARTS(LEEC_PART_RENEWAL),
                                &v);
    if (rc == LEEC_E_NOMEM)
        return rc;
    if (rc != LEEC_OK) {
        whole = false;
        rc = leec_store_read_version(store, cert_name, LEEC_PARTS(C), &v);
    }
    if (rc == LEEC_OK && !v.text[C])
        rc = LEEC_E_NOT_FOUND; /* a version without its certificate */
    if (rc == LEEC_E_IO) {
        rc = LEEC_OK;
        broken = reason(&rc, "cert.pem cannot be read (%s)",
                        leec_strerror(LEEC_E_IO));
    } else if (rc != LEEC_OK) {
        goto out;
    } else if (pem_basics(v.text[C], &nb, &na, &serial) != LEEC_OK) {
        /* Validity and serial only: a pass over thousands of certificates
         * must not decode each one whole. */
        nb = na = 0;
        broken = reason(&rc, "cert.pem holds no readable certificate");
    } else if (whole) {
        if (!(broken = part_missing(&v, K, &rc)) && rc == LEEC_OK &&
            !(broken = part_missing(&v, M, &rc)) && rc == LEEC_OK)
            broken = parts_broken(v.text[K], v.len[K], v.text[M], v.len[M],
                                  v.text[C], false, &meta, &rc);
    } else {
        broken = Leec_version_broken(store, cert_name, v.text[C], false, &rc);
    }
    if (rc == LEEC_OK)
        rc = load_state(store, cert_name,
                        serial ? serial : LEEC_SERIAL_UNREADABLE, meta,
                        whole ? &v : NULL, &st);
    free(serial);
    if (rc == LEEC_OK && !(p = calloc(1, sizeof *p)))
        rc = LEEC_E_NOMEM;
    if (rc != LEEC_OK)
        goto out;
    p->not_before = nb;
    p->not_after = na;
    /* renewal.json belongs to this certificate (its serial): its window
     * is current. */
    leec_due d = Leec_renewal_due(&st, true, nb, na);
    p->due = d.at;
    p->why = d.why;
    p->ari_ignored = d.ari_ignored;
    p->revoked_at = st.revoked_at;
    p->ari = st.ari_offered;
    if (st.ari_offered && st.win_end) {
        p->window_start = st.win_start;
        p->window_end = st.win_end;
    }
    p->next_check = st.ari_offered ? st.next_check : 0;
    p->failures = st.failures;
    p->retry_at = st.failures ? st.retry_at : 0;
    p->explanation_url = st.explanation;
    p->last_error = st.last_error;
    st.explanation = st.last_error = NULL;
    if (broken) { /* due at once: a renewal replaces it */
        p->broken = broken;
        broken = NULL;
        p->due = time(NULL);
        p->why = LEEC_DUE_BROKEN;
        p->ari_ignored = false;
    }
    p->wake = p->due;
    if (p->ari && p->next_check < p->wake)
        p->wake = p->next_check;
    if (p->retry_at > p->wake)
        p->wake = p->retry_at;
    *out = p;
out:
    free(broken);
    Leec_json_free(meta);
    leec_store_version_clear(&v);
    Leec_renewal_clear(&st);
    return rc;
}
