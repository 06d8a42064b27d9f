/* When to renew: the lifetime rule, ACME Renewal Information (RFC 9773) and
 * the back-off after failures, kept per certificate version in
 * renewal.json next to its files (a new version starts afresh). */
#ifndef LEEC_RENEWAL_H
#define LEEC_RENEWAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "leec/leec.h"
#include "acme/ari.h"

#define LEEC_ARI_DEFAULT_CHECK_S (6 * 3600) /* no Retry-After: 6 hours */
#define LEEC_ARI_MIN_CHECK_S     60         /* RFC 9773 §4.3.3's clamps */
#define LEEC_ARI_MAX_CHECK_S     86400
#define LEEC_ARI_FAILED_CHECK_S  3600 /* after an unusable answer */

typedef struct leec_renewal_state {
    char *serial;     /* the certificate it belongs to (hex), or NULL */
    bool ari_known;   /* whether the CA's offer was looked at */
    bool ari_offered; /* its directory has renewalInfo */
    char *ari_id;     /* the id the window below belongs to */
    time_t win_start, win_end; /* suggestedWindow (0: none yet) */
    time_t chosen;             /* the random renewal time inside it */
    time_t next_check;         /* fetch renewalInfo again from then (0: now) */
    char *explanation;         /* explanationURL, or NULL */
    unsigned failures;         /* consecutive failed renewals */
    time_t last_failure;
    time_t retry_at; /* no attempt before (without force) */
    char *last_error;
    time_t revoked_at; /* leec revoked it then (0: not that we know) */
    uint64_t version;  /* the store's version it was read for, where it is
                          saved (0: none) */
} leec_renewal_state;

/* Reads the state of cert_name's current version, whose certificate has
 * this serial (lower-case hex): a missing or unreadable file, or one
 * written for another certificate (a version installed meanwhile by
 * another process), gives an empty state (LEEC_OK). st->version: that
 * version. LEEC_E_NOMEM; LEEC_E_STORE when the store refuses a file as
 * unsafe. */
leec_code Leec_renewal_load(leec_store *store, const char *cert_name,
                            const char *serial, leec_renewal_state *st);
/* The state as JSON text (malloc'd, NULL on OOM). */
char *Leec_renewal_json(const leec_renewal_state *st);
/* Replaces the renewal state of version st->version, when that is still
 * current (st->serial says whose certificate it is): LEEC_E_NOT_FOUND
 * when another version was installed meanwhile (it starts afresh). */
leec_code Leec_renewal_save(leec_store *store, const char *cert_name,
                            const leec_renewal_state *st);
/* The same, presenting token, the fencing token of the writer's "cert"
 * lease (LEEC_E_FENCED when a newer one was granted). */
leec_code Leec_renewal_save_fenced(leec_store *store, const char *cert_name,
                                   const leec_renewal_state *st,
                                   uint64_t token);
void Leec_renewal_clear(leec_renewal_state *st);

/* Due by lifetime: a third of it left, half for lifetimes under 10 days. */
time_t Leec_renewal_lifetime_due(time_t not_before, time_t not_after);
/* The wait after the n-th consecutive failure: 1 h, 2 h, 4 h, ... 1 day. */
time_t Leec_renewal_backoff_s(unsigned failures);
/* When the next attempt may come after the n-th consecutive failure at now,
 * for a certificate expiring at not_after: the back-off, but never more
 * than a third of the time left (at least LEEC_RETRY_MIN_S), so that a
 * short-lived certificate gets further attempts before it lapses. */
#define LEEC_RETRY_MIN_S 10
time_t Leec_renewal_retry_at(unsigned failures, time_t now, time_t not_after);

/*
 * The one rule every reader follows (the agent, leec renew and its dry run,
 * leec list, the daemon): when a certificate is due, and why.
 *   - revoked by leec: at once (the time it was revoked);
 *   - else the lifetime rule, unless the CA's renewal window (ARI, when
 *     window_current: st's window belongs to this certificate) gives an
 *     earlier time: the earlier of the two. A window that starts after the
 *     lifetime rule's time (or after expiry) is ignored (*ari_ignored).
 */
typedef struct leec_due {
    time_t at;
    leec_due_reason why;
    bool ari_ignored; /* a window was known but lies too late */
} leec_due;
/* The serial a renewal state is kept under when the installed certificate
 * cannot be read (its repairs' failures still back off). */
#define LEEC_SERIAL_UNREADABLE "unreadable"

/* What makes cert_name's current version unusable to a server, with its
 * certificate cert_pem (read already): a key file missing, empty or not a
 * key, and with thorough not the certificate's (that one needs OpenSSL);
 * meta.json missing or malformed. NULL when it is whole; else a malloc'd
 * reason ("privkey.pem is empty"). *rc: LEEC_OK, or an error that is not
 * the version's fault (LEEC_E_NOMEM, LEEC_E_STORE: a version the store
 * refuses to read), with NULL returned. */
char *Leec_version_broken(leec_store *store, const char *cert_name,
                          const char *cert_pem, bool thorough, leec_code *rc);

/* The rule in words (leec_renewal_plan_rule's text). */
const char *Leec_renewal_rule_text(leec_due_reason why, time_t not_before,
                                   time_t not_after);
leec_due Leec_renewal_due(const leec_renewal_state *st, bool window_current,
                          time_t not_before, time_t not_after);

/* Takes a renewalInfo answer (its view, NULL when malformed; its
 * explanation is moved out) with its Retry-After or -1 for id at now: the
 * window (choosing a new random time when it moved), the next check, the
 * explanation. LEEC_E_PROTOCOL (no usable window; the state then only gets
 * a next check an hour later), LEEC_E_NOMEM. */
leec_code Leec_renewal_take_ari(leec_renewal_state *st, const char *id,
                                leec_ari_view *w, long retry_after, time_t now);

#endif
