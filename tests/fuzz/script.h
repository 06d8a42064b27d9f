/* A scripted server for the fake transport (tests/fsm/fake_http.c): the
 * input is the sequence of HTTP responses the library will receive, in
 * the order it sends its requests, each as it comes over the wire
 * (without chunking), separated by a line "--":
 *
 *   HTTP/1.1 201 Created
 *   Content-Type: application/json
 *   Replay-Nonce: oFvnlFP1wIhRlYS2jTaXbA
 *
 *   {"status": "pending", ...}
 *   --
 *   HTTP/1.1 200 OK
 *   ...
 *
 * Header lines go through Leec_http_header_line as the real transport's
 * do; the status is the number after the first line's "HTTP/x "; a first
 * line that is not a status line makes the request fail as curl fails on
 * a reply that is not HTTP. Once the script is over, every request fails
 * (a transport error), so every run ends. */
#ifndef LEEC_FUZZ_SCRIPT_H
#define LEEC_FUZZ_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

/* Installs the script as the fake transport's responder; data must stay
 * valid while it answers. */
void fuzz_script_start(const uint8_t *data, size_t size);
/* Responses not used yet. */
size_t fuzz_script_left(void);

#endif
