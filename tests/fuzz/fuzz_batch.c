/* The batch file of `leec issue --batch` (cli/batchfile.c), then what
 * cli/batch.c does with each certificate line: an agent for its names,
 * which the library validates (names.c), freed again at once. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

#include "batchfile.h"
#include "fuzz.h"
#include "leec/leec.h"

static leec_ctx *ctx;

static int take(void *ud, unsigned line, const char *const *w, size_t n)
{
    (void)ud;
    (void)line;
    leec_code rc;
    leec_agent *a = leec_agent_new(ctx, w[0], w + 1, n - 1, &rc);
    leec_agent_free(a);
    return a || rc == LEEC_E_NOMEM ? 0 : 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctx && !(ctx = leec_ctx_new()))
        abort();
    if (size == 0)
        return 0; /* fmemopen wants at least one byte */
    FILE *f = fmemopen((void *)data, size, "r");
    if (!f)
        return 0;
    (void)batch_file_read(f, "batch.txt", take, NULL);
    fclose(f);
    return 0;
}
