/* The fleet daemon's copy of the shared store in DIR, on a thread of its
 * own (fleet_sync.h). The loop thread only queues names (and versions it
 * read without a round trip); everything that waits is here. */
#define _GNU_SOURCE
#include "fleet_sync.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ca.h"
#include "cli.h"
#include "hookrun.h"

#define FL_HOOK_TIMEOUT_S 600
#define FL_RETRY_S        3 /* a copy that failed (the store restarting) */

typedef struct fl_item {
    struct fl_item *next;
    char *name;
    leec_store_version v; /* number 0: to be read */
} fl_item;

struct fl_sync {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    fl_item *head, **tail; /* under mu */
    bool all, stop;        /* under mu */
    /* The thread's alone: */
    leec_store *shared, *local;
    json_t *synced; /* name -> the shared version number copied */
    unsigned interval_s;
    const char *deploy_hook;
    fl_sync_say_fn say;
    fl_sync_after_fn after;
    void *after_ud;
};

static void item_free(fl_item *it)
{
    if (!it)
        return;
    leec_store_version_clear(&it->v);
    free(it->name);
    free(it);
}

static void deploy_hook(fl_sync *s, const char *name)
{
    if (!s->deploy_hook)
        return;
    char *live = leec_store_live_path(s->local, name);
    char *e1 = NULL, *e2 = NULL;
    if (asprintf(&e1, "LEEC_CERT_NAME=%s", name) < 0)
        e1 = NULL;
    if (asprintf(&e2, "LEEC_LIVE_DIR=%s", live ? live : "") < 0)
        e2 = NULL;
    const char *env[] = {e1, e2, NULL};
    if (e1 && e2) {
        int st =
            cli_hook_run("deploy hook", s->deploy_hook, env, FL_HOOK_TIMEOUT_S);
        if (st != 0)
            s->say(1, "%s: deploy hook exited with %d", name, st);
    }
    free(e1);
    free(e2);
    free(live);
}

/* Copies v (the shared current version of name, read by the caller, or
 * by this function when its number is 0) into DIR when it is newer than
 * what was copied. false when it could not (looked at again soon). */
static bool sync_one(fl_sync *s, const char *name, leec_store_version *v)
{
    leec_code rc = LEEC_OK;
    /* One read of the parts a web server needs, whose number says whether
     * it is news. */
    if (v->number == 0)
        rc = leec_store_read_version(
            s->shared, name,
            LEEC_PARTS(LEEC_PART_PRIVKEY) | LEEC_PARTS(LEEC_PART_CERT) |
                LEEC_PARTS(LEEC_PART_CHAIN) | LEEC_PARTS(LEEC_PART_META),
            v);
    json_t *had = json_object_get(s->synced, name);
    if (rc == LEEC_E_NOT_FOUND ||
        (rc == LEEC_OK && had &&
         (uint64_t)json_integer_value(had) >= v->number))
        return true;
    if (rc != LEEC_OK || !v->text[LEEC_PART_PRIVKEY] ||
        !v->text[LEEC_PART_CERT]) {
        s->say(1, "%s: cannot read its current version: %s", name,
               rc == LEEC_OK ? "parts missing"
                             : cli_store_error(s->shared, rc));
        return false;
    }
    /* Already there (this node's own copy, or a restart): same leaf. */
    char *mine = NULL;
    bool same = leec_store_read_part(s->local, name, LEEC_PART_CERT, &mine,
                                     NULL) == LEEC_OK &&
                strcmp(mine, v->text[LEEC_PART_CERT]) == 0;
    free(mine);
    if (!same) {
        leec_store_new_version nv = {.privkey = v->text[LEEC_PART_PRIVKEY],
                                     .cert = v->text[LEEC_PART_CERT],
                                     .chain = v->text[LEEC_PART_CHAIN],
                                     .meta_json = v->text[LEEC_PART_META]};
        rc = leec_store_install_version(s->local, name, &nv, NULL);
        if (rc != LEEC_OK) {
            s->say(0, "%s: cannot install version %llu here: %s", name,
                   (unsigned long long)v->number,
                   cli_store_error(s->local, rc));
            return false;
        }
        s->say(2, "%s: version %llu installed here", name,
               (unsigned long long)v->number);
    }
    json_object_set_new(s->synced, name, json_integer((json_int_t)v->number));
    if (!same)
        deploy_hook(s, name);
    return true;
}

/* The periodic look: one read of every current version's number, and a
 * copy of those newer than this machine's. false when some could not be
 * made. */
static bool sync_all(fl_sync *s)
{
    char **names = NULL;
    uint64_t *numbers = NULL;
    size_t n = 0;
    bool ok = true;
    leec_code rc = leec_store_list_numbers(s->shared, &names, &numbers, &n);
    if (rc != LEEC_OK) {
        s->say(1, "cannot list the certificates: %s",
               cli_store_error(s->shared, rc));
        return false;
    }
    for (size_t i = 0; i < n && !ca_stop_signal; i++) {
        json_t *had = json_object_get(s->synced, names[i]);
        if (!had || (uint64_t)json_integer_value(had) < numbers[i]) {
            leec_store_version v = {0};
            ok = sync_one(s, names[i], &v) && ok;
            leec_store_version_clear(&v);
        }
        pthread_mutex_lock(&s->mu);
        bool stop = s->stop;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            break;
    }
    leec_store_list_free(names, n);
    free(numbers);
    return ok;
}

static void deadline_in(struct timespec *t, unsigned s)
{
    clock_gettime(CLOCK_MONOTONIC, t);
    t->tv_sec += (time_t)s;
}

static void *sync_main(void *arg)
{
    fl_sync *s = arg;
    struct timespec next;
    deadline_in(&next, s->interval_s);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->stop && !s->head && !s->all)
            if (pthread_cond_timedwait(&s->cv, &s->mu, &next) == ETIMEDOUT)
                s->all = true;
        if (s->stop)
            break;
        fl_item *list = s->head;
        bool all = s->all;
        s->head = NULL;
        s->tail = &s->head;
        s->all = false;
        pthread_mutex_unlock(&s->mu);
        bool ok = true;
        while (list) {
            fl_item *it = list;
            list = it->next;
            ok = sync_one(s, it->name, &it->v) && ok;
            item_free(it);
        }
        if (all) {
            ok = sync_all(s) && ok;
            if (s->after)
                s->after(s->after_ud, s->shared);
        }
        /* A copy that failed (the store restarting, a full disk): the
         * whole look again soon, not at the next interval. */
        if (!ok)
            deadline_in(&next, FL_RETRY_S);
        else if (all)
            deadline_in(&next, s->interval_s);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

fl_sync *fl_sync_start(leec_store *shared, leec_store *local,
                       unsigned interval_s, const char *deploy_hook,
                       fl_sync_say_fn say, fl_sync_after_fn after, void *ud)
{
    fl_sync *s = calloc(1, sizeof *s);
    pthread_condattr_t ca;
    bool attr = false, mu = false, cv = false;
    if (!s || !(s->synced = json_object()))
        goto fail;
    s->shared = shared;
    s->local = local;
    s->interval_s = interval_s ? interval_s : 1;
    s->deploy_hook = deploy_hook;
    s->say = say;
    s->after = after;
    s->after_ud = ud;
    s->tail = &s->head;
    s->all = true; /* the first look, at once */
    if (pthread_condattr_init(&ca) != 0)
        goto fail;
    attr = true;
    /* Its periodic look on the monotonic clock, as the daemon's. */
    if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_mutex_init(&s->mu, NULL) != 0)
        goto fail;
    mu = true;
    if (pthread_cond_init(&s->cv, &ca) != 0)
        goto fail;
    cv = true;
    if (pthread_create(&s->th, NULL, sync_main, s) != 0)
        goto fail;
    pthread_condattr_destroy(&ca);
    return s;
fail:
    if (attr)
        pthread_condattr_destroy(&ca);
    if (cv)
        pthread_cond_destroy(&s->cv);
    if (mu)
        pthread_mutex_destroy(&s->mu);
    if (s)
        json_decref(s->synced);
    free(s);
    leec_store_free(shared);
    leec_store_free(local);
    return NULL;
}

static void push(fl_sync *s, fl_item *it)
{
    pthread_mutex_lock(&s->mu);
    *s->tail = it;
    s->tail = &it->next;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void fl_sync_name(fl_sync *s, const char *name)
{
    fl_item *it = calloc(1, sizeof *it);
    if (!it || !(it->name = strdup(name))) {
        free(it);
        return; /* the periodic look makes up for it */
    }
    push(s, it);
}

void fl_sync_version(fl_sync *s, const char *name, leec_store_version *v)
{
    fl_item *it = calloc(1, sizeof *it);
    if (!it || !(it->name = strdup(name))) {
        free(it);
        leec_store_version_clear(v);
        return;
    }
    it->v = *v;
    memset(v, 0, sizeof *v);
    push(s, it);
}

void fl_sync_all(fl_sync *s)
{
    pthread_mutex_lock(&s->mu);
    s->all = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void fl_sync_stop(fl_sync *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->th, NULL);
    while (s->head) {
        fl_item *it = s->head;
        s->head = it->next;
        item_free(it);
    }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    json_decref(s->synced);
    leec_store_free(s->shared);
    leec_store_free(s->local);
    free(s);
}
