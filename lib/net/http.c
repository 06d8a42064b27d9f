#define _GNU_SOURCE
#include "net/http.h"

#include <ctype.h>
#include <errno.h>
#include <curl/curl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define EVENTS_MAX 64

typedef struct http_req {
    struct http_req *next;
    leec_http *h;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    leec_http_done_fn fn;
    void *userdata;
    leec_http_resp resp;
    char errbuf[CURL_ERROR_SIZE]; /* curl's own contract: this size */
} http_req;

struct leec_http {
    CURLM *multi;
    CURLSH *share;
    char *ca_bundle;
    char *user_agent;
    size_t max_body;
    long connect_timeout_ms;
    long timeout_ms;
    http_req *reqs;
    unsigned long count;
    unsigned long connects;
    /* curl's sockets live in this epoll set (the multi_socket API), so the
     * context can hand one descriptor to a host loop. */
    int epfd;
    int64_t timer_at; /* curl's next deadline (monotonic ms), -1: none */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *ud,
                     void *sockp)
{
    (void)easy;
    leec_http *h = ud;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(h->epfd, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.data.fd = fd;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        ev.events |= EPOLLIN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        ev.events |= EPOLLOUT;
    /* curl keeps a pointer per socket for us: set once the socket is in
     * the set, so each change is one system call. */
    if (sockp) {
        epoll_ctl(h->epfd, EPOLL_CTL_MOD, fd, &ev);
    } else if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ||
               (errno == EEXIST &&
                epoll_ctl(h->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)) {
        curl_multi_assign(h->multi, fd, h);
    }
    return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *ud)
{
    (void)multi;
    leec_http *h = ud;
    h->timer_at = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
    return 0;
}

static void req_free(http_req *r)
{
    if (!r)
        return;
    if (r->easy) {
        curl_multi_remove_handle(r->h->multi, r->easy);
        curl_easy_cleanup(r->easy);
    }
    curl_slist_free_all(r->headers);
    free(r->body);
    Leec_http_resp_clear(&r->resp);
    free(r);
}

leec_http *Leec_http_new(const leec_http_opts *o)
{
    leec_http *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->epfd = epoll_create1(EPOLL_CLOEXEC);
    h->timer_at = -1;
    h->multi = curl_multi_init();
    h->share = curl_share_init();
    h->user_agent = strdup(o->user_agent ? o->user_agent : "leec");
    if (o->ca_bundle)
        h->ca_bundle = strdup(o->ca_bundle);
    if (h->epfd < 0 || !h->multi || !h->share || !h->user_agent ||
        (o->ca_bundle && !h->ca_bundle)) {
        Leec_http_free(h);
        return NULL;
    }
    /* One TLS session cache and DNS cache for every request of the context. */
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 6L);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    h->max_body = o->max_body ? o->max_body : 1024 * 1024;
    h->connect_timeout_ms =
        o->connect_timeout_ms ? o->connect_timeout_ms : 10000;
    h->timeout_ms = o->timeout_ms ? o->timeout_ms : 60000;
    return h;
}

void Leec_http_free(leec_http *h)
{
    if (!h)
        return;
    while (h->reqs) {
        http_req *r = h->reqs;
        h->reqs = r->next;
        req_free(r);
    }
    if (h->multi)
        curl_multi_cleanup(h->multi);
    if (h->share)
        curl_share_cleanup(h->share);
    if (h->epfd >= 0)
        close(h->epfd);
    free(h->ca_bundle);
    free(h->user_agent);
    free(h);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    http_req *r = ud;
    size_t n = size * nmemb;
    if (Leec_buf_append(&r->resp.body, ptr, n) != LEEC_OK) {
        r->resp.err = LEEC_E_TOO_LARGE;
        return 0; /* makes curl abort the transfer */
    }
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    http_req *r = ud;
    size_t n = size * nmemb;
    Leec_http_header_line(&r->resp, ptr, n);
    return n;
}

leec_code Leec_http_submit(leec_http *h, const char *method, const char *url,
                           const char *body, const char *content_type,
                           const char *accept, leec_http_done_fn fn,
                           void *userdata)
{
    return Leec_http_submit_headers(h, method, url, body, content_type, accept,
                                    NULL, fn, userdata);
}

/* "Name: value" with a token name and no line breaks (no injection). */
static bool header_ok(const char *hv)
{
    const char *colon = strchr(hv, ':');
    if (!colon || colon == hv || strlen(hv) > LEEC_HTTP_HEADER_MAX)
        return false;
    for (const char *p = hv; p < colon; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
            return false;
    for (const char *p = colon; *p; p++)
        if (*p == '\r' || *p == '\n')
            return false;
    return true;
}

leec_code Leec_http_submit_headers(leec_http *h, const char *method,
                                   const char *url, const char *body,
                                   const char *content_type, const char *accept,
                                   const char *const *headers,
                                   leec_http_done_fn fn, void *userdata)
{
    return Leec_http_submit_opts(h, method, url, body, content_type, accept,
                                 headers, NULL, fn, userdata);
}

leec_code Leec_http_submit_opts(leec_http *h, const char *method,
                                const char *url, const char *body,
                                const char *content_type, const char *accept,
                                const char *const *headers,
                                const leec_http_req_opts *o,
                                leec_http_done_fn fn, void *userdata)
{
    leec_code rc = LEEC_E_NOMEM;
    char *hdr = NULL;
    size_t max_body = h->max_body;
    long timeout_ms = h->timeout_ms;
    long connect_ms = h->connect_timeout_ms;
    if (o && o->max_body && o->max_body < max_body)
        max_body = o->max_body;
    if (o && o->timeout_ms > 0 && o->timeout_ms < timeout_ms)
        timeout_ms = o->timeout_ms;
    if (connect_ms > timeout_ms)
        connect_ms = timeout_ms;
    for (size_t i = 0; headers && headers[i]; i++)
        if (!header_ok(headers[i]))
            return LEEC_E_INVALID_ARG;
    http_req *r = calloc(1, sizeof *r);
    if (!r)
        return LEEC_E_NOMEM;
    r->h = h;
    r->fn = fn;
    r->userdata = userdata;
    Leec_buf_init(&r->resp.body, max_body);
    r->easy = curl_easy_init();
    if (!r->easy)
        goto out;
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    /* https only, but for the one kind of request that asks for http. */
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR,
                     o && o->allow_http ? "http,https" : "https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, h->user_agent);
    curl_easy_setopt(e, CURLOPT_SHARE, h->share);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_body);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    if (h->ca_bundle) {
        /* Replace, not add to, the system store (as curl --cacert). */
        curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_bundle);
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    }
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "POST") == 0) {
        r->body = strdup(body ? body : "");
        if (!r->body)
            goto out;
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)strlen(r->body));
    } else if (strcmp(method, "GET") != 0) {
        /* DELETE, PUT...: the verb as given, with the body if any. */
        if (body) {
            r->body = strdup(body);
            if (!r->body)
                goto out;
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)strlen(r->body));
        }
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    }
    /* No "Expect: 100-continue" round trip for our small bodies. */
    struct curl_slist *l = curl_slist_append(NULL, "Expect:");
    if (!l)
        goto out;
    r->headers = l;
    if (content_type) {
        if (asprintf(&hdr, "Content-Type: %s", content_type) < 0) {
            hdr = NULL;
            goto out;
        }
        if (!(l = curl_slist_append(r->headers, hdr)))
            goto out;
        free(hdr);
        hdr = NULL;
    }
    if (accept) {
        if (asprintf(&hdr, "Accept: %s", accept) < 0) {
            hdr = NULL;
            goto out;
        }
        if (!(l = curl_slist_append(r->headers, hdr)))
            goto out;
    }
    for (size_t i = 0; headers && headers[i]; i++)
        if (!(l = curl_slist_append(r->headers, headers[i])))
            goto out;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
        rc = LEEC_E_HTTP;
        goto out;
    }
    r->next = h->reqs;
    h->reqs = r;
    h->count++;
    r = NULL;
    rc = LEEC_OK;
out:
    free(hdr);
    if (r) {
        CURL *easy = r->easy;
        r->easy = NULL; /* not added to the multi handle */
        curl_easy_cleanup(easy);
        req_free(r);
    }
    return rc;
}

static void unlink_req(leec_http *h, http_req *r)
{
    for (http_req **pp = &h->reqs; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            return;
        }
    }
}

void Leec_http_cancel(leec_http *h, void *userdata)
{
    http_req **pp = &h->reqs;
    while (*pp) {
        http_req *r = *pp;
        if (r->userdata == userdata) {
            *pp = r->next;
            req_free(r);
        } else {
            pp = &r->next;
        }
    }
}

static leec_code map_curl_error(CURLcode c)
{
    switch (c) {
    case CURLE_OPERATION_TIMEDOUT:
        return LEEC_E_TIMEOUT;
    case CURLE_FILESIZE_EXCEEDED:
        return LEEC_E_TOO_LARGE;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        return LEEC_E_TLS;
    default:
        return LEEC_E_HTTP;
    }
}

static void collect(leec_http *h)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(h->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        http_req *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (!r)
            continue;
        CURLcode cc = msg->data.result;
        long conns = 0;
        if (curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &conns) ==
                CURLE_OK &&
            conns > 0)
            h->connects += (unsigned long)conns;
        unlink_req(h, r);
        if (cc != CURLE_OK) {
            if (r->resp.err == LEEC_OK)
                r->resp.err = map_curl_error(cc);
            r->resp.errmsg =
                strdup(r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc));
        } else {
            curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->resp.status);
        }
        /* The callback may submit new requests or cancel others; this one
         * is already unlinked so it cannot be cancelled under our feet. */
        r->fn(r->userdata, &r->resp);
        req_free(r);
    }
}

leec_code Leec_http_perform(leec_http *h)
{
    struct epoll_event ev[EVENTS_MAX];
    int running = 0;
    int n = epoll_wait(h->epfd, ev, EVENTS_MAX, 0);
    for (int i = 0; i < n; i++) {
        int mask = 0;
        if (ev[i].events & (EPOLLIN | EPOLLHUP))
            mask |= CURL_CSELECT_IN;
        if (ev[i].events & EPOLLOUT)
            mask |= CURL_CSELECT_OUT;
        if (ev[i].events & EPOLLERR)
            mask |= CURL_CSELECT_ERR;
        if (curl_multi_socket_action(h->multi, ev[i].data.fd, mask, &running) !=
            CURLM_OK)
            return LEEC_E_HTTP;
    }
    if (h->timer_at >= 0 && mono_ms() >= h->timer_at) {
        h->timer_at = -1;
        if (curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0,
                                     &running) != CURLM_OK)
            return LEEC_E_HTTP;
    }
    collect(h);
    return LEEC_OK;
}

int Leec_http_fd(leec_http *h)
{
    return h->epfd;
}

long Leec_http_timeout_ms(leec_http *h)
{
    if (h->timer_at < 0)
        return -1;
    int64_t d = h->timer_at - mono_ms();
    return d < 0 ? 0 : (long)d;
}

unsigned long Leec_http_connection_count(leec_http *h)
{
    return h->connects;
}

unsigned long Leec_http_request_count(leec_http *h)
{
    return h->count;
}
