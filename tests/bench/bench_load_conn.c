/* sbx-bench: sending the phases to the node over keep-alive HTTP/1.1 connections (see
 * bench_load.h), reading the responses with a minimal parser and classifying every reply
 * against the outcome its call was built for. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>
#include <jansson.h>

#include "util/err.h"
#include "util/time.h"

#include "tests/bench/bench_load.h"

/* What each kind of call should get: accepted (rule NULL, alt 0), a rejection by `rule`, or
 * the JSON-RPC error `alt_code` (either one is expected when both are set). */
static const struct kind_info {
    const char *name;
    const char *rule;
    int alt_code;
} kinds[K_COUNT] = {
    [K_INFO] = {"getinfo", NULL, 0},
    [K_OPEN] = {"openaccount", NULL, 0},
    [K_DEPOSIT] = {"deposit", NULL, 0},
    [K_SETUP] = {"set-up trade", NULL, 0},
    [K_TRADE] = {"trade", NULL, 0},
    [K_BAD_PER_TRADE] = {"bad: per-trade limit", "limit.per_trade", 0},
    [K_BAD_DAILY] = {"bad: daily limit", "limit.daily", 0},
    [K_BAD_BALANCE] = {"bad: no funds", "balance.insufficient", 0},
    [K_BAD_UNKNOWN] = {"bad: unknown account", "account.unknown", 0},
    [K_BAD_UNLISTED] = {"bad: unlisted asset", "asset.unlisted", 0},
    [K_BAD_SETTLEMENT] = {"bad: trade in VND", "settlement.currency", 0},
    /* The same account id with other content is an id conflict before it is a duplicate. */
    [K_BAD_REOPEN] = {"bad: re-open account", "account.duplicate", -32003},
    [K_BAD_CONFLICT] = {"bad: trade id reused", NULL, -32003},
};

/* Batches whose receipts are read without Jansson (larger ones take the Jansson path). */
#define FAST_BATCH_MAX 128

/* ------------------------------------------------------------------ results */

static void
surprise(struct bench *b, struct phase *p, size_t call, const char *what, json_t *reply)
{
    char *text;

    p->surprises++;
    if (p->examples >= EXAMPLES_MAX)
        return;
    p->examples++;
    text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    fprintf(stderr, "sbx-bench: %s: call %zu (%s): %s: %.400s\n", p->name, call,
            kinds[p->calls[call].kind].name, what, text ? text : "");
    free(text);
}

static void
write_receipt(struct bench *b, struct phase *p, size_t call, json_t *obj, const char *outcome)
{
    json_t *txid = json_object_get(obj, "txid");
    json_t *height = json_object_get(obj, "height");

    if (b->receipts == NULL || !json_is_string(txid) || !json_is_integer(height))
        return;
    fprintf(b->receipts, "%s %" JSON_INTEGER_FORMAT " %s %s\n", json_string_value(txid),
            json_integer_value(height), outcome, kinds[p->calls[call].kind].name);
}

/* One call's reply (an object with result or error). */
static void
classify(struct bench *b, struct phase *p, size_t call, json_t *reply)
{
    const struct kind_info *ki = &kinds[p->calls[call].kind];
    const char *verdict;
    json_t *result = json_object_get(reply, "result");
    json_t *error = json_object_get(reply, "error");
    char key[48];

    p->calls[call].answered = 1;
    if (json_is_object(error)) {
        json_t *code = json_object_get(error, "code");
        json_t *data = json_object_get(error, "data");
        const char *rule = json_string_value(json_object_get(data, "rule"));
        json_int_t c = json_is_integer(code) ? json_integer_value(code) : 0;

        if (c == -32000) {
            p->rejected++;
            tally_add(&p->rules, rule ? rule : "(no rule)");
            write_receipt(b, p, call, data, rule ? rule : "rejected");
            if (ki->rule == NULL || rule == NULL || strcmp(ki->rule, rule) != 0)
                surprise(b, p, call, "unexpected rejection", reply);
            return;
        }
        snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT, c);
        tally_add(&p->codes, key);
        if (c == -32003) {
            p->conflicts++;
            if (ki->alt_code != -32003)
                surprise(b, p, call, "unexpected conflict", reply);
            return;
        }
        p->errors++;
        b->unexpected = 1;
        surprise(b, p, call, "unexpected error code", reply);
        return;
    }
    if (json_is_object(result)) {
        if (p->calls[call].kind == K_INFO) {
            const char *net = json_string_value(json_object_get(result, "network"));
            json_t *h = json_object_get(result, "height");

            snprintf(b->network, sizeof(b->network), "%s", net ? net : "?");
            b->height = json_is_integer(h) ? (long long)json_integer_value(h) : -1;
            p->accepted++;
            return;
        }
        verdict = json_string_value(json_object_get(result, "verdict"));
        if (verdict == NULL || strcmp(verdict, "accepted") != 0) {
            p->errors++;
            b->unexpected = 1;
            surprise(b, p, call, "a result without verdict accepted", reply);
            return;
        }
        p->accepted++;
        write_receipt(b, p, call, result, "accepted");
        if (ki->rule != NULL || ki->alt_code != 0)
            surprise(b, p, call, "accepted, but built to break a rule", reply);
        return;
    }
    p->errors++;
    b->unexpected = 1;
    tally_add(&p->codes, "(malformed reply)");
    surprise(b, p, call, "neither result nor error", reply);
}

/* The calls of a request that got no JSON-RPC answer (all of them, or those missing from a
 * batch reply) failed for a transport reason. */
static void
fail_request(struct bench *b, struct phase *p, const struct hreq *h, const char *why)
{
    uint64_t n = 0;

    for (size_t i = 0; i < h->ncalls; i++) {
        if (p->calls[h->first + i].answered)
            continue;
        p->calls[h->first + i].answered = 1;
        n++;
    }
    p->transport += n;
    if (n > 0)
        tally_add(&p->http, why);
}

/* ------------------------------------------------------------------ receipts read fast */

/* Most replies under load are receipts, written by sbxd in one fixed form:
 *   {"jsonrpc":"2.0","id":N,"result":{"txid":"<64 hex>","height":N,"block_hash":"<64 hex>",
 *   "verdict":"accepted"}}
 * (a batch: an array of them). A reply in exactly that form is read here without building a
 * JSON tree, with the checks handle_response makes of it; anything else (an error, another
 * spacing, a call that expects something else) takes the Jansson path. */
struct fast_receipt {
    long long id;
    long long height;
    const char *txid; /* 64 hex digits, not terminated */
};

static const char *
fast_lit(const char *p, const char *end, const char *lit)
{
    size_t n = strlen(lit);

    return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0 ? p + n : NULL;
}

static const char *
fast_uint(const char *p, const char *end, long long *v)
{
    const char *q = p;

    *v = 0;
    while (q < end && *q >= '0' && *q <= '9' && q - p < 18)
        *v = *v * 10 + (*q++ - '0');
    return q > p && (q == end || *q < '0' || *q > '9') && (*p != '0' || q == p + 1) ? q : NULL;
}

static const char *
fast_hex64(const char *p, const char *end)
{
    if (end - p < 64)
        return NULL;
    for (int i = 0; i < 64; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return NULL;
    return p + 64;
}

/* One receipt reply at `p`: its end, or NULL if it is not one in the fixed form. */
static const char *
fast_one(const char *p, const char *end, struct fast_receipt *r)
{
    p = fast_lit(p, end, "{\"jsonrpc\":\"2.0\",\"id\":");
    p = p ? fast_uint(p, end, &r->id) : NULL;
    p = p ? fast_lit(p, end, ",\"result\":{\"txid\":\"") : NULL;
    r->txid = p;
    p = p ? fast_hex64(p, end) : NULL;
    p = p ? fast_lit(p, end, "\",\"height\":") : NULL;
    p = p ? fast_uint(p, end, &r->height) : NULL;
    p = p ? fast_lit(p, end, ",\"block_hash\":\"") : NULL;
    p = p ? fast_hex64(p, end) : NULL;
    return p ? fast_lit(p, end, "\",\"verdict\":\"accepted\"}}") : NULL;
}

/* The receipts of `body` in `out` (at most `cap`); their number, or 0 if the body is not a
 * reply of receipts in the fixed form (then nothing was counted). */
static size_t
fast_scan(const char *body, size_t len, int batch, struct fast_receipt *out, size_t cap)
{
    const char *p = body, *end = body + len;
    size_t n = 0;

    while (end > p && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
        end--;
    if (batch && (p = fast_lit(p, end, "[")) == NULL)
        return 0;
    for (;;) {
        if (n == cap || (p = fast_one(p, end, &out[n])) == NULL)
            return 0;
        n++;
        if (!batch)
            return p == end ? n : 0;
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        return p + 1 == end && *p == ']' ? n : 0;
    }
}

/* Account the receipts of `body` (a reply to `h`) as handle_response would; 0 if it is not in
 * the fixed form or a call of `h` expects something else than a receipt. */
static int
fast_receipts(struct bench *b, struct phase *p, const struct hreq *h, int status, const char *body,
              size_t len)
{
    struct fast_receipt r[FAST_BATCH_MAX];
    int batch = len > 0 && body[0] == '[';
    size_t n;

    if (status != 200 || (!batch && h->ncalls != 1) || h->ncalls > FAST_BATCH_MAX)
        return 0;
    for (size_t i = 0; i < h->ncalls; i++) {
        const struct kind_info *ki = &kinds[p->calls[h->first + i].kind];

        if (p->calls[h->first + i].kind == K_INFO || ki->rule != NULL || ki->alt_code != 0)
            return 0;
    }
    n = fast_scan(body, len, batch, r, FAST_BATCH_MAX);
    if (n == 0)
        return 0;
    for (size_t i = 0; batch && i < n; i++)
        if (r[i].id < (long long)h->first || r[i].id >= (long long)(h->first + h->ncalls))
            return 0;
    for (size_t i = 0; i < n; i++) {
        size_t call = batch ? (size_t)r[i].id : h->first;

        if (batch && p->calls[call].answered) {
            p->errors++;
            b->unexpected = 1;
            tally_add(&p->codes, "(bad id in batch)");
            continue;
        }
        p->calls[call].answered = 1;
        p->accepted++;
        if (b->receipts != NULL)
            fprintf(b->receipts, "%.64s %lld accepted %s\n", r[i].txid, r[i].height,
                    kinds[p->calls[call].kind].name);
    }
    if (batch)
        fail_request(b, p, h, "missing from batch reply");
    return 1;
}

static void
handle_response(struct bench *b, struct phase *p, const struct hreq *h, int status,
                const char *body, size_t len)
{
    json_error_t jerr;
    json_t *j;
    char why[48];

    if (status == 401 || status == 403) {
        snprintf(why, sizeof(why), "HTTP %d", status);
        fail_request(b, p, h, why);
        if (!b->fatal)
            fprintf(stderr,
                    "sbx-bench: HTTP %d: authentication failed (check the cookie or "
                    "-rpcuser and its password)\n",
                    status);
        b->fatal = 1;
        return;
    }
    if (fast_receipts(b, p, h, status, body, len))
        return;
    j = json_loadb(body, len, 0, &jerr);
    if (j == NULL) {
        snprintf(why, sizeof(why), "HTTP %d without JSON", status);
        fail_request(b, p, h, why);
        return;
    }
    if (json_is_object(j)) {
        /* a single reply, or one error for a whole batch */
        for (size_t i = 0; i < h->ncalls; i++)
            classify(b, p, h->first + i, j);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *r;

        json_array_foreach(j, i, r)
        {
            json_t *id = json_object_get(r, "id");
            json_int_t v = json_is_integer(id) ? json_integer_value(id) : -1;

            if (v < (json_int_t)h->first || v >= (json_int_t)(h->first + h->ncalls) ||
                p->calls[v].answered) {
                p->errors++;
                b->unexpected = 1;
                tally_add(&p->codes, "(bad id in batch)");
                continue;
            }
            classify(b, p, (size_t)v, r);
        }
        fail_request(b, p, h, "missing from batch reply");
    } else {
        fail_request(b, p, h, "reply neither object nor array");
    }
    json_decref(j);
}

static void
phase_check_done(struct bench *b)
{
    struct phase *p = b->ph;

    if (p == NULL)
        return;
    if (p->done == p->nreqs || b->fatal || (b->alive == 0 && !p->aborted)) {
        if (b->alive == 0 && p->done < p->nreqs) {
            p->aborted = 1;
            for (size_t r = p->next; r < p->nreqs; r++)
                p->unsent += p->reqs[r].ncalls;
        }
        p->t1 = time_mono_us();
        event_base_loopbreak(b->base);
    }
}

static void
conn_reset_parser(struct conn *c)
{
    c->in_body = 0;
    c->status = 0;
    c->clen = 0;
    c->clen_known = 0;
    c->close_after = 0;
}

/* The request in flight ended (answered or failed). */
static void
request_done(struct conn *c)
{
    struct bench *b = c->b;

    c->cur = -1;
    b->ph->done++;
}

/* The connection broke or closed: fail what was in flight, reconnect or give up. */
static void
conn_broken(struct conn *c, const char *why, int was_error)
{
    struct bench *b = c->b;

    if (c->cur >= 0) {
        fail_request(b, b->ph, &b->ph->reqs[c->cur], why);
        request_done(c);
    }
    if (c->bev != NULL)
        bufferevent_free(c->bev);
    c->bev = NULL;
    conn_reset_parser(c);
    if (was_error && !c->connected)
        c->fails++;
    c->connected = 0;
    if (c->fails >= RECONNECTS_MAX || b->fatal) {
        if (!c->dead) {
            c->dead = 1;
            b->alive--;
            if (b->alive == 0)
                fprintf(stderr, "sbx-bench: every connection failed (last: %s)\n", why);
        }
        phase_check_done(b);
        return;
    }
    phase_check_done(b);
    conn_open(c);
}

static void
deliver(struct conn *c, const char *body, size_t len)
{
    struct bench *b = c->b;
    struct phase *p = b->ph;
    int64_t lat = time_mono_us() - c->t_sent;

    if (c->cur < 0)
        return;
    p->lat_us[p->nlat++] = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
    handle_response(b, p, &p->reqs[c->cur], c->status, body, len);
    request_done(c);
}

/* Parse the header block at the front of `in`. 1: parsed; 0: incomplete; -1: malformed. */
static int
parse_head(struct conn *c, struct evbuffer *in)
{
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    size_t hlen;
    char *h, *line, *next;

    if (end.pos < 0)
        return evbuffer_get_length(in) > RESP_HEAD_MAX ? -1 : 0;
    hlen = (size_t)end.pos + 4;
    if (hlen > RESP_HEAD_MAX)
        return -1;
    h = (char *)evbuffer_pullup(in, (ev_ssize_t)hlen);
    if (h == NULL)
        return -1;
    h[hlen - 2] = '\0'; /* inside the buffer we are about to drain */
    if (strncmp(h, "HTTP/1.", 7) != 0 || hlen < 13 || h[8] != ' ')
        return -1;
    c->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    c->close_after = h[7] == '0';
    for (line = strstr(h, "\r\n"); line != NULL && line[2] != '\0'; line = next) {
        line += 2;
        next = strstr(line, "\r\n");
        if (strncasecmp(line, "content-length:", 15) == 0) {
            char *e = NULL;
            unsigned long long v = strtoull(line + 15, &e, 10);

            if (e == line + 15 || v > RESP_BODY_MAX)
                return -1;
            c->clen = (size_t)v;
            c->clen_known = 1;
        } else if (strncasecmp(line, "connection:", 11) == 0) {
            const char *v = line + 11;

            while (*v == ' ')
                v++;
            if (strncasecmp(v, "close", 5) == 0)
                c->close_after = 1;
            else if (strncasecmp(v, "keep-alive", 10) == 0)
                c->close_after = 0;
        } else if (strncasecmp(line, "transfer-encoding:", 18) == 0) {
            return -1; /* sbxd's evhttp replies carry a Content-Length; chunked is not read */
        }
    }
    evbuffer_drain(in, hlen);
    c->in_body = 1;
    if (!c->clen_known)
        c->close_after = 1; /* the body runs to the end of the connection */
    return 1;
}

static void
on_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    for (;;) {
        if (!c->in_body) {
            int r;

            if (evbuffer_get_length(in) == 0)
                return;
            if (c->cur < 0) {
                conn_broken(c, "reply without a request", 1);
                return;
            }
            r = parse_head(c, in);
            if (r == 0)
                return;
            if (r < 0) {
                conn_broken(c, "malformed HTTP reply", 1);
                return;
            }
        }
        if (!c->clen_known) {
            if (evbuffer_get_length(in) > RESP_BODY_MAX) {
                conn_broken(c, "HTTP reply too large", 1);
                return;
            }
            return; /* read until the server closes */
        }
        if (evbuffer_get_length(in) < c->clen)
            return;
        deliver(c, (const char *)evbuffer_pullup(in, (ev_ssize_t)c->clen), c->clen);
        evbuffer_drain(in, c->clen);
        if (c->close_after) {
            c->fails = 0;
            conn_broken(c, "closed by server", 0);
            return;
        }
        conn_reset_parser(c);
        conn_next(c);
        phase_check_done(c->b);
        if (c->bev == NULL)
            return;
    }
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;

    if (what & BEV_EVENT_CONNECTED) {
        evutil_socket_t fd = bufferevent_getfd(bev);
        int one = 1;

        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->connected = 1;
        c->fails = 0;
        conn_next(c);
        phase_check_done(c->b);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        if (c->cur < 0) { /* idle between phases: nothing is late */
            bufferevent_enable(bev, EV_READ);
            return;
        }
        conn_broken(c, "reply timed out", 1);
        return;
    }
    if ((what & BEV_EVENT_EOF) && c->in_body && !c->clen_known) {
        struct evbuffer *in = bufferevent_get_input(bev);
        size_t len = evbuffer_get_length(in);

        deliver(c, (const char *)evbuffer_pullup(in, (ev_ssize_t)len), len);
        evbuffer_drain(in, len);
        c->fails = 0;
        conn_broken(c, "closed by server", 0);
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        char why[96];

        snprintf(why, sizeof(why), "connection error: %.60s",
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        conn_broken(c, c->connected ? "connection reset" : why, 1);
        return;
    }
    conn_broken(c, "connection closed", 1);
}

void
conn_open(struct conn *c)
{
    struct bench *b = c->b;
    struct timeval tv = {READ_TIMEOUT_S, 0};

    c->bev = bufferevent_socket_new(b->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL)
        die("out of memory");
    bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
    bufferevent_set_timeouts(c->bev, &tv, NULL);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&b->addr, b->addrlen) != 0)
        conn_broken(c, "connect failed", 1);
}

/* Send the phase's next request, if any, on an idle connected connection. */
void
conn_next(struct conn *c)
{
    struct bench *b = c->b;
    struct phase *p = b->ph;
    struct hreq *h;
    struct evbuffer *out;
    size_t sent = 0;
    int64_t now;

    if (p == NULL || c->cur >= 0 || !c->connected || c->bev == NULL || b->fatal ||
        p->next >= p->nreqs)
        return;
    now = time_mono_us();
    if (b->rate > 0) {
        /* the request's scheduled start: it counts from there, even if it leaves late */
        int64_t due = p->t0 + (int64_t)((double)p->next * 1e6 / (double)b->rate);

        if (due > now)
            return;
        now = due;
    }
    c->cur = (long)p->next++;
    h = &p->reqs[c->cur];
    c->t_sent = now;
    out = bufferevent_get_output(c->bev);
    if (evbuffer_get_length(out) == 0) {
        /* write at once: through the bufferevent the request waits for the next loop pass and
         * costs two epoll_ctl calls (the bench shares the machine with the node it measures);
         * what the socket does not take, and any error, is left to the bufferevent */
        ssize_t w = send(bufferevent_getfd(c->bev), h->buf, h->len, MSG_NOSIGNAL);

        sent = w > 0 ? (size_t)w : 0;
    }
    if (sent < h->len && evbuffer_add_reference(out, h->buf + sent, h->len - sent, NULL, NULL) != 0)
        die("out of memory");
}
