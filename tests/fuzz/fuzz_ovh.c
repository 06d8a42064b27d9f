/* The OVH API's answers (lib/solver/ovh.c) as the provider reads them: the
 * input is the script of responses (script.h) to one record's life,
 * GET /auth/time, POST .../record, POST .../refresh, then its removal,
 * DELETE .../record/ID and the refresh again, and a second record removed
 * the blocking way (what a stopped run does). The provider talks through
 * the scripted transport on a context whose clock jumps. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake.h"
#include "fuzz.h"
#include "script.h"
#include "solver/providers.h"

#define MAX_ITER 200
#define VALUE    "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"

static char creds[64];

/* The credentials file: a memfd (mode 0600, as the provider demands),
 * opened by its /proc path. */
static void setup(void)
{
    static const char text[] =
        "endpoint = https://eu.api.ovh.test/1.0\n"
        "application_key = 7kbG7Bk7S9Nt7ZSV\n"
        "application_secret = EXEMPLEpV4ucWaLmnS7sYDSoawRcR54m\n"
        "consumer_key = MtSwSrPpNjqfVSmJhLbPyr2i45lSwPU1\n";
    int fd = memfd_create("ovh.conf", MFD_CLOEXEC);
    if (fd < 0 || fchmod(fd, 0600) != 0 ||
        write(fd, text, sizeof text - 1) != (ssize_t)(sizeof text - 1))
        abort();
    snprintf(creds, sizeof creds, "/proc/self/fd/%d", fd);
}

static void done(void *ud, leec_code rc, const char *msg)
{
    (void)rc;
    (void)msg;
    *(bool *)ud = true;
}

static bool is_true(void *ud)
{
    return *(bool *)ud;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!creds[0])
        setup();
    fake_clock_set(1000000);
    leec_ctx *ctx = leec_ctx_new();
    if (!ctx)
        abort();
    Leec_ctx_set_clock(ctx, fake_clock, NULL);
    fuzz_ctx_log(ctx);
    leec_code rc;
    leec_dns_provider *p = Leec_ovh_new(ctx, creds, &rc);
    if (!p)
        abort();
    fuzz_script_start(data, size);
    const struct leec_dns_provider_ops *ops = p->ops;
    void *op = NULL;
    bool added = false, removed = false;
    if (ops->add(p->impl, "example.com.", "_acme-challenge.www.example.com.",
                 VALUE, done, &added, &op) == LEEC_STATUS_PENDING) {
        (void)fake_drive_until(ctx, MAX_ITER, is_true, &added);
        ops->remove(p->impl, op, done, &removed);
        (void)fake_drive_until(ctx, MAX_ITER, is_true, &removed);
    }
    /* A record added, then removed without waiting (done NULL). */
    added = false;
    op = NULL;
    if (fuzz_script_left() &&
        ops->add(p->impl, "example.com.", "_acme-challenge.example.com.", VALUE,
                 done, &added, &op) == LEEC_STATUS_PENDING) {
        (void)fake_drive_until(ctx, MAX_ITER, is_true, &added);
        ops->remove(p->impl, op, NULL, NULL);
    }
    Leec_dns_provider_free(p);
    leec_ctx_free(ctx);
    fake_http_log_clear();
    return 0;
}
