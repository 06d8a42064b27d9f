/* Caps on what the CA may send us, and how long leec keeps retrying a
 * rejected nonce. Not installed. */
#ifndef LEEC_ACME_LIMITS_H
#define LEEC_ACME_LIMITS_H

#define LEEC_MAX_BODY         (1024 * 1024) /* JSON objects and PEM chains */
#define LEEC_MAX_URL          2048
#define LEEC_MAX_NONCE        256
#define LEEC_MAX_NAMES        100 /* Let's Encrypt's limit per order */
#define LEEC_NONCE_POOL       32
#define LEEC_BADNONCE_RETRIES 10 /* pebble rejects 5 % of good nonces */
/* After that many in a row, rounds of as many again after a growing pause
 * (250 ms, 500 ms, 1 s, 2 s): a storm of rejections (a CA rejecting half
 * its nonces) must not fail a certificate. */
#define LEEC_BADNONCE_ROUNDS   4
#define LEEC_BADNONCE_PAUSE_MS 250

#endif
