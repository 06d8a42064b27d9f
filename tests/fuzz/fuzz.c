/* Helpers shared by the fuzz targets (fuzz.h). */
#define _GNU_SOURCE
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/fsutil.h"

char *fuzz_data(const char *name, size_t *len)
{
    char *path = NULL, *text = NULL;
    size_t n = 0;
    if (asprintf(&path, "%s/%s", FUZZ_DATA_DIR, name) < 0 ||
        Leec_file_read(path, 1 << 20, &text, &n) != LEEC_OK) {
        fprintf(stderr, "fuzz: cannot read %s\n", path ? path : name);
        abort();
    }
    free(path);
    if (len)
        *len = n;
    return text;
}

static void log_fn(void *ud, leec_log_level level, const char *msg)
{
    (void)ud;
    fprintf(stderr, "leec[%d]: %s\n", (int)level, msg);
}

void fuzz_ctx_log(leec_ctx *ctx)
{
    if (getenv("FUZZ_LOG"))
        leec_ctx_set_log(ctx, log_fn, NULL, LEEC_LOG_DEBUG);
}
