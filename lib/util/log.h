/* The context's log: where its lines go and from which level. Every layer
 * logs through the context it works for. Not installed. */
#ifndef LEEC_LOG_H
#define LEEC_LOG_H

#include "leec/leec.h"

typedef struct leec_logger leec_logger;

leec_logger *Leec_logger_new(void); /* nowhere until set; NULL on OOM */
void Leec_logger_free(leec_logger *l);
void Leec_logger_set(leec_logger *l, leec_log_fn fn, void *userdata,
                     leec_log_level level);

void Leec_log(leec_ctx *ctx, leec_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
