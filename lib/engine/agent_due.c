/*
 * Whether the agent orders at all: its first steps. CHECK_EXISTING looks at
 * the installed certificate and its renewal state (renewal.c); RENEWAL_INFO
 * asks the CA for the certificate's renewal window (RFC 9773) unless the
 * last answer's Retry-After has not passed; the second look, under the
 * certificate's lock, finds a certificate another process installed
 * meanwhile. A failed renewal is recorded here too. The rest of the state
 * machine is in agent.c.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/names.h"
#include "acme/problem.h"
#include "engine/renewal.h"
#include "store/store.h"
#include "crypto/x509.h"

#include "engine/agent_internal.h"

static void fmt_time(char *buf, size_t n, time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M UTC", &tm);
}

/* A failed renewal is remembered with the certificate it was to replace, and
 * the next attempt waits (1 h, doubling up to a day): a broken name must not
 * spend the CA's failed-validation limit run after run. */
void Leec_agent_record_failure(leec_agent *a)
{
    leec_renewal_state *st = &a->rs;
    time_t now = time(NULL);
    const char *msg = leec_agent_error_message(a);
    char *text = NULL;
    if (asprintf(
            &text, "%s%s%s", msg, a->problem && a->problem->detail ? ": " : "",
            a->problem && a->problem->detail ? a->problem->detail : "") < 0)
        text = NULL;
    free(st->last_error);
    st->last_error = text;
    st->failures++;
    st->last_failure = now;
    /* The CA said when (a rate limit): then, and not before. */
    st->retry_at = a->retry_at > now
                       ? a->retry_at
                       : Leec_renewal_retry_at(st->failures, now, a->cert_na);
    leec_code rc = Leec_renewal_save_fenced(leec_ctx_get_store(a->ctx),
                                            a->cert_name, st, a->lease_token);
    char when[32];
    fmt_time(when, sizeof when, st->retry_at);
    Leec_log(a->ctx, rc == LEEC_OK ? LEEC_LOG_INFO : LEEC_LOG_WARN,
             "agent %u (%s): renewal failure %u; next attempt after %s%s",
             a->id, a->cert_name, st->failures, when,
             rc == LEEC_OK ? "" : " (could not be saved)");
}

const char *Leec_agent_ari_id(leec_agent *a)
{
    /* Another full X.509 decode: only when renewal information matters,
     * not for every fresh certificate of a CA that offers none. */
    if (!a->ari_id_known && a->had_cert && a->cert_pem) {
        a->ari_id_known = true;
        if (Leec_ari_cert_id(a->cert_pem, strlen(a->cert_pem), &a->ari_id) !=
            LEEC_OK)
            a->ari_id = NULL; /* no AKI: no renewal information */
    }
    return a->ari_id;
}

/* The renewal state holds a window for the installed certificate. */
static bool ari_window_current(leec_agent *a)
{
    const char *id = a->rs.ari_offered && a->rs.win_end && a->rs.ari_id
                         ? Leec_agent_ari_id(a)
                         : NULL;
    return id && strcmp(a->rs.ari_id, id) == 0;
}

/* The installed certificate is kept: FRESH. */
static void keep(leec_agent *a, time_t due, const char *why)
{
    char when[32];
    fmt_time(when, sizeof when, due);
    Leec_log(a->ctx, LEEC_LOG_INFO,
             "agent %u (%s): installed certificate is fresh (due %s, %s)",
             a->id, a->cert_name, when, why);
    Leec_agent_finish(a, LEEC_OUTCOME_FRESH);
}

static void order_because(leec_agent *a, const char *why)
{
    Leec_log(a->ctx, LEEC_LOG_INFO, "agent %u (%s): ordering (%s)", a->id,
             a->cert_name, why);
    Leec_agent_start_ordering(a);
}

/* When the installed certificate is due, by the rule leec_renewal_plan
 * follows too (renewal.c), so that the agent, leec renew --dry-run, leec
 * list and the daemon never disagree. A window that lies too late is
 * said (WARN when just fetched: the CA's answer is news). */
static leec_due due_now(leec_agent *a, bool fetched)
{
    leec_due d =
        Leec_renewal_due(&a->rs, ari_window_current(a), a->cert_nb, a->cert_na);
    if (d.ari_ignored) {
        char s[32], e[32], l[32];
        fmt_time(s, sizeof s, a->rs.win_start);
        fmt_time(e, sizeof e, a->rs.win_end);
        fmt_time(l, sizeof l, d.at);
        Leec_log(a->ctx, fetched ? LEEC_LOG_WARN : LEEC_LOG_INFO,
                 "agent %u (%s): ignoring the CA's renewal window (%s to "
                 "%s): it starts after %s, when %s",
                 a->id, a->cert_name, s, e, l,
                 a->rs.win_start >= a->cert_na ? "the certificate has expired"
                                               : "the lifetime rule renews it");
    }
    return d;
}

/* Keeps or orders, from the renewal state as it stands. */
static void decide(leec_agent *a, bool fetched)
{
    leec_due d = due_now(a, fetched);
    const char *rule = Leec_renewal_rule_text(d.why, a->cert_nb, a->cert_na);
    if (time(NULL) < d.at) {
        keep(a, d.at, rule);
    } else {
        char *why = NULL;
        if (asprintf(&why, "due: %s", rule) < 0)
            why = NULL;
        order_because(a, why ? why : rule);
        free(why);
    }
}

/* Why the installed version no longer fits what the agent asks for,
 * beyond its names: a key type asked for (leec_agent_set_key_type) or a
 * profile other than the one it was issued with, as its meta.json says.
 * NULL when it fits (or says nothing: an older version); a static text. */
static const char *settings_changed(leec_agent *a)
{
    char *meta = NULL;
    leec_json *m = NULL;
    const char *why = NULL;
    if (!a->key_type_set && !a->profile)
        return NULL;
    if (leec_store_read_meta(leec_ctx_get_store(a->ctx), a->cert_name, &meta) !=
            LEEC_OK ||
        Leec_json_parse_object(meta, strlen(meta), &m) != LEEC_OK) {
        free(meta);
        return NULL;
    }
    const char *kt = Leec_json_str(m, "key_type");
    const char *prof = Leec_json_str(m, "profile");
    if (a->key_type_set && kt &&
        strcmp(kt, leec_key_type_name(a->key_type)) != 0)
        why = "key type changed";
    else if (a->profile && (!prof || strcmp(prof, a->profile) != 0))
        why = "profile changed";
    Leec_json_free(m);
    free(meta);
    return why;
}

/*
 * CHECK_EXISTING: looks at the installed certificate and its renewal state.
 * New names, force, or no certificate: order. Backing off after failed
 * renewals: DEFERRED. Due already (revoked, the lifetime rule, a window
 * time passed): order, with no need to ask the CA (a window cannot
 * postpone it). Otherwise the timing is decided by RENEWAL_INFO, except
 * when the CA is known to offer no renewal information or the window kept
 * is still good (no request at all).
 */
void Leec_agent_check_existing(leec_agent *a)
{
    char *pem = NULL, *broken = NULL;
    leec_cert_info *ci = NULL;
    leec_store *st = leec_ctx_get_store(a->ctx);
    leec_code rc = leec_store_read_cert(st, a->cert_name, &pem);
    if (rc == LEEC_E_NOT_FOUND) {
        Leec_agent_start_ordering(a);
        return;
    }
    if (rc == LEEC_E_IO) {
        rc = LEEC_OK;
        broken = strdup("cert.pem cannot be read");
    } else if (rc != LEEC_OK) {
        Leec_agent_fail(a, rc, NULL, "cannot read the installed certificate");
        return;
    } else if (leec_cert_info_from_pem(pem, strlen(pem), &ci) != LEEC_OK) {
        broken = strdup("cert.pem holds no readable certificate");
    } else if (!(a->seen_serial = strdup(ci->serial))) {
        rc = LEEC_E_NOMEM;
    } else {
        a->had_cert = true;
        a->names_same =
            Leec_names_same(a->names, a->nnames, ci->names, ci->nnames);
        a->cert_nb = ci->not_before;
        a->cert_na = ci->not_after;
        free(a->ari_id);
        a->ari_id = NULL;
        a->ari_id_known = false;
        free(a->cert_pem);
        a->cert_pem = pem; /* leec_agent_cert_pem() when kept */
        pem = NULL;
        /* The whole version, key included: a server could not use it. */
        broken = Leec_version_broken(st, a->cert_name, a->cert_pem, true, &rc);
    }
    free(pem);
    leec_cert_info_free(ci);
    const char *serial =
        a->seen_serial ? a->seen_serial : LEEC_SERIAL_UNREADABLE;
    Leec_renewal_clear(&a->rs);
    if (rc != LEEC_OK ||
        (rc = Leec_renewal_load(st, a->cert_name, serial, &a->rs)) != LEEC_OK ||
        (!a->rs.serial && !(a->rs.serial = strdup(serial)))) {
        free(broken);
        Leec_agent_fail(a, rc != LEEC_OK ? rc : LEEC_E_NOMEM, NULL,
                        "cannot read the installed version");
        return;
    }
    time_t now = time(NULL);
    const char *changed = a->had_cert && !broken ? settings_changed(a) : NULL;
    if (a->had_cert && !a->names_same) {
        order_because(a, "names changed");
    } else if (changed && !(a->rs.failures && a->rs.retry_at > now)) {
        /* Not while backing off: a key type or profile the CA keeps
         * refusing must not spend its failed-validation limit run after
         * run (the failure is recorded with the installed version). */
        order_because(a, changed);
    } else if (a->force) {
        order_because(a, "forced");
    } else if (a->rs.failures && a->rs.retry_at > now) {
        char when[32];
        fmt_time(when, sizeof when, a->rs.retry_at);
        Leec_log(a->ctx, LEEC_LOG_WARN,
                 "agent %u (%s): %u failed renewal%s; next attempt after %s "
                 "(last: %s)",
                 a->id, a->cert_name, a->rs.failures,
                 a->rs.failures == 1 ? "" : "s", when,
                 a->rs.last_error ? a->rs.last_error : "?");
        Leec_agent_finish(a, LEEC_OUTCOME_DEFERRED);
    } else if (broken) {
        /* Never called fresh: what is installed cannot be served. */
        a->repairing = true;
        Leec_log(a->ctx, LEEC_LOG_WARN,
                 "agent %u (%s): the installed version is broken (%s); "
                 "ordering a new one",
                 a->id, a->cert_name, broken);
        Leec_agent_start_ordering(a);
    } else if (now >= Leec_renewal_due(&a->rs, ari_window_current(a),
                                       a->cert_nb, a->cert_na)
                          .at ||
               (a->rs.ari_known && !a->rs.ari_offered) ||
               (ari_window_current(a) && a->rs.next_check > now)) {
        decide(a, false); /* nothing the CA could say would change it */
    } else {
        Leec_agent_set_state(a, LEEC_ST_RENEWAL_INFO);
    }
    free(broken);
}

static void save_renewal_state(leec_agent *a)
{
    if (Leec_renewal_save(leec_ctx_get_store(a->ctx), a->cert_name, &a->rs) !=
        LEEC_OK)
        Leec_log(a->ctx, LEEC_LOG_WARN,
                 "agent %u (%s): cannot save the renewal state", a->id,
                 a->cert_name);
}

/* RENEWAL_INFO: with the directory known, fetch the certificate's
 * renewalInfo unless the last answer's Retry-After has not passed. Runs
 * again when the directory resolves (Leec_agent_wake). */
void Leec_agent_renewal_info_step(leec_agent *a, leec_acme_fn on_response)
{
    leec_ctx *ctx = a->ctx;
    if (a->req || a->state != LEEC_ST_RENEWAL_INFO)
        return;
    if (Leec_dir_state(ctx) == RES_PENDING ||
        (Leec_dir_state(ctx) == RES_NONE &&
         Leec_account_state(ctx) == RES_PENDING))
        return; /* woken when it resolves */
    if (Leec_dir_state(ctx) != RES_READY) {
        /* A CA that cannot be reached must not fail a certificate that is
         * not due: decide on what is known (an order, if due, then fails
         * with the directory's error). */
        Leec_log(ctx, LEEC_LOG_WARN,
                 "agent %u (%s): no renewal information (%s); timing by what "
                 "is known",
                 a->id, a->cert_name,
                 Leec_account_errmsg(ctx) ? Leec_account_errmsg(ctx)
                                          : "no directory");
        decide(a, false);
        return;
    }
    bool offered = Leec_session_dir(ctx)->renewal_info && Leec_agent_ari_id(a);
    if (!offered) {
        if (!a->rs.ari_known || a->rs.ari_offered) {
            a->rs.ari_known = true;
            a->rs.ari_offered = false;
            save_renewal_state(a);
        }
        decide(a, false);
        return;
    }
    time_t now = time(NULL);
    bool same = a->rs.ari_id && strcmp(a->rs.ari_id, a->ari_id) == 0;
    if (same && a->rs.ari_offered && a->rs.next_check > now) {
        decide(a, false); /* the CA asked not to be asked again before */
        return;
    }
    char *url = NULL;
    if (asprintf(&url, "%s/%s", Leec_session_dir(ctx)->renewal_info,
                 a->ari_id) < 0) {
        Leec_agent_fail(a, LEEC_E_NOMEM, NULL, "out of memory");
        return;
    }
    leec_code rc =
        Leec_acme_get(ctx, LEEC_EP_RENEWAL_INFO, url, on_response, a, &a->req);
    free(url);
    if (rc != LEEC_OK)
        Leec_agent_fail(a, rc, NULL, "cannot ask for the renewal information");
}

void Leec_agent_on_renewal_info(leec_agent *a, leec_acme_resp *r)
{
    time_t now = time(NULL);
    leec_code rc = LEEC_E_PROTOCOL;
    if (r->err == LEEC_OK && r->status == 200 && r->json) {
        leec_ari_view w;
        rc = Leec_ari_parse(r->json, &w);
        if (rc != LEEC_E_NOMEM)
            rc = Leec_renewal_take_ari(&a->rs, a->ari_id,
                                       rc == LEEC_OK ? &w : NULL,
                                       r->retry_after, now);
        Leec_ari_view_clear(&w);
    }
    if (rc == LEEC_E_NOMEM) {
        Leec_agent_fail(a, rc, NULL, "out of memory");
        return;
    }
    if (rc != LEEC_OK) {
        /* RFC 9773 §4.3.3: fall back on our own timing; ask again later. */
        a->rs.ari_known = a->rs.ari_offered = true;
        long wait = r->retry_after >= LEEC_ARI_MIN_CHECK_S
                        ? r->retry_after
                        : LEEC_ARI_FAILED_CHECK_S;
        a->rs.next_check =
            now + (wait > LEEC_ARI_MAX_CHECK_S ? LEEC_ARI_MAX_CHECK_S : wait);
        Leec_log(a->ctx, LEEC_LOG_WARN,
                 "agent %u (%s): no usable renewal information (%s); "
                 "timing by what is known",
                 a->id, a->cert_name,
                 r->err != LEEC_OK  ? leec_strerror(r->err)
                 : r->status != 200 ? "HTTP error"
                                    : "malformed answer");
    } else {
        char s[32], e[32];
        fmt_time(s, sizeof s, a->rs.win_start);
        fmt_time(e, sizeof e, a->rs.win_end);
        Leec_log(a->ctx, LEEC_LOG_INFO,
                 "agent %u (%s): renewal window %s to %s%s%s", a->id,
                 a->cert_name, s, e,
                 a->rs.explanation ? "; the CA explains: " : "",
                 a->rs.explanation ? a->rs.explanation : "");
    }
    save_renewal_state(a);
    decide(a, rc == LEEC_OK);
}

bool Leec_agent_kept_meanwhile(leec_agent *a)
{
    char *pem = NULL;
    leec_cert_info *ci = NULL;
    leec_code rc =
        leec_store_read_cert(leec_ctx_get_store(a->ctx), a->cert_name, &pem);
    if (rc != LEEC_OK && rc != LEEC_E_NOT_FOUND) {
        Leec_agent_fail(a, rc, NULL, "cannot read the installed certificate");
        return true;
    }
    /* The same file as at the first look (the usual case): nothing to
     * decode. */
    if (rc == LEEC_E_NOT_FOUND ||
        (a->had_cert && a->cert_pem && strcmp(pem, a->cert_pem) == 0)) {
        free(pem);
        return false;
    }
    bool theirs = leec_cert_info_from_pem(pem, strlen(pem), &ci) == LEEC_OK &&
                  (!a->seen_serial || strcmp(a->seen_serial, ci->serial)) &&
                  Leec_names_same(a->names, a->nnames, ci->names, ci->nnames);
    time_t due =
        ci ? Leec_renewal_lifetime_due(ci->not_before, ci->not_after) : 0;
    leec_cert_info_free(ci);
    if (theirs) {
        free(a->cert_pem);
        a->cert_pem = pem;
        keep(a, due, "installed by another process");
        return true;
    }
    free(pem);
    return false;
}
