/* A TSIG key file in BIND's format (key "NAME" { algorithm A; secret
 * "B64"; };), read as `leec issue --tsig-key FILE` reads it: through
 * Leec_rfc2136_new, from a file. The file is a memfd rewritten for each
 * input (opened again by its /proc path: the provider opens a path). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "engine/internal.h"
#include "solver/providers.h"

static leec_ctx *ctx;
static int fd = -1;
static char path[64];

static void setup(void)
{
    ctx = leec_ctx_new(); /* no log function: errors are not printed */
    fd = memfd_create("tsig.key", MFD_CLOEXEC);
    if (!ctx || fd < 0)
        abort();
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctx)
        setup();
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    leec_code rc;
    leec_dns_provider *p = Leec_rfc2136_new(ctx, "127.0.0.1:53", path, &rc);
    if (p)
        Leec_dns_provider_free(p);
    return 0;
}
