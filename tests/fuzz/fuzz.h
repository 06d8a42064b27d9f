/* What the fuzz targets share (fuzz.c): the test PKI under
 * FUZZ_DATA_DIR (tests/fuzz/pki, see make.sh), read once. */
#ifndef LEEC_FUZZ_H
#define LEEC_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "leec/leec.h"

/* libFuzzer's entry point, defined by each target. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The NUL-terminated contents of FUZZ_DATA_DIR/name, malloc'd: a target
 * keeps it in a static (or frees it), else the leak checker reports it.
 * Aborts when the file cannot be read: a target without its data would
 * fuzz nothing. */
char *fuzz_data(const char *name, size_t *len);

/* With FUZZ_LOG set in the environment, ctx logs everything to stderr
 * (to see what a target does with one input: run it on that file alone);
 * silent otherwise. */
void fuzz_ctx_log(leec_ctx *ctx);

#endif
