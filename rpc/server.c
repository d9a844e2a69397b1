/* The JSON-RPC server: HTTP on libevent's evhttp, JSON-RPC 2.0 envelopes, batches, auth, limits;
 * its event loops (-rpcthreads) and connections. The calls of a request are in
 * rpc/server_call.c.
 *
 * Loops: loop 0 is the node's event loop; each other loop runs a base of its own on a thread of
 * its own (rpc/loop.h). Every loop has its own evhttp, all accepting on one listening socket,
 * its own connections, live requests, /events hub and node sink, touched only on its thread:
 * a request is served start to end by the loop of its connection. The connection caps are one
 * book for all loops (rpc/gate.h). What only the node's loop may do (the methods flagged
 * RPC_METHOD_MAIN, a regulator's relayed submissions, the /health and /metrics pages) is posted
 * to loop 0 as a hop and its answer posted back. Shutdown: rpc_server_stop ends the other
 * loops' threads before node_close; rpc_server_free then delivers what the node handed the
 * sinks and runs (cancelled) every hop still posted, before it frees anything.
 *
 * One `struct rpc_http` lives from the moment a POST is read until its reply is sent (or until
 * both the client is gone and every submission in it has been answered by the node). Requests
 * are answered in the order of their calls; a batch is answered once its last submission is
 * durable. Three things can outlive each other and are kept apart with care:
 *
 *   - the evhttp request: freed by libevent when its connection goes (we learn it from the
 *     connection's close callback and forget the pointer) or after we reply;
 *   - our context: freed after the reply, or when the last node callback arrives for a request
 *     whose client or server is gone (node callbacks always come, even at node_close);
 *   - the server: rpc_server_free orphans every context first (they no longer point at it).
 *
 * Connections are counted from accept (the bufferevent callback) and their close callback is
 * installed before libevent reads a byte from them; then the front door (rpc/server_door.c)
 * admits them against the caps, bounds their first request in time and checks its credentials
 * before its body is read: http_cb sees that request with the door's verdict (401, 429, 503
 * for a connection refused), and a connection that has not authenticated closes after it.
 * libevent 2.1 keeps reading a connection whose request has no body while the request waits for its
 * reply and aborts on data it then receives, so reading is switched off while a request is ours (as
 * Bitcoin Core does); evhttp switches it back on for the next request.
 */
#include "rpc/server.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "compliance/engine.h"
#include "node/node.h"
#include "rpc/auth.h"
#include "rpc/dashboard.h"
#include "rpc/events.h"
#include "rpc/health.h"
#include "rpc/loop.h"
#include "rpc/metrics.h"
#include "rpc/methods.h"
#include "rpc/server_int.h"
#include "rpc/tls.h"
#include "util/array.h"
#include "util/cidr.h"
#include "util/log.h"
#include "util/map.h"
#include "util/time.h"

#define DEFAULT_PORT 8645
#define DEFAULT_MAX_BODY (1024u * 1024u)
#define DEFAULT_MAX_BATCH 1000
#define DEFAULT_MAX_CONNS 512
#define DEFAULT_AUTH_DELAY_MS 250
#define IDLE_TIMEOUT_S 30
#define DEFAULT_HEADER_TIMEOUT_MS 10000
#define DEFAULT_BODY_TIMEOUT_MS 60000
#define DEFAULT_MAX_PER_ADDR 256
#define DEFAULT_MAX_UNAUTH_PER_ADDR 32
#define DEFAULT_AUTH_DELAY_MAX_MS 4000
#define MAX_THREADS 64
#define BALANCE_MS 50

void
rpc_config_defaults(struct rpc_config *c)
{
    memset(c, 0, sizeof(*c));
    c->bind = "127.0.0.1";
    c->port = DEFAULT_PORT;
    c->max_body = DEFAULT_MAX_BODY;
    c->max_batch = DEFAULT_MAX_BATCH;
    c->max_conns = DEFAULT_MAX_CONNS;
    c->auth_fail_delay_ms = DEFAULT_AUTH_DELAY_MS;
    c->auth_fail_delay_max_ms = DEFAULT_AUTH_DELAY_MAX_MS;
    c->header_timeout_ms = DEFAULT_HEADER_TIMEOUT_MS;
    c->body_timeout_ms = DEFAULT_BODY_TIMEOUT_MS;
    c->max_conns_per_addr = DEFAULT_MAX_PER_ADDR;
    c->max_unauth_per_addr = DEFAULT_MAX_UNAUTH_PER_ADDR;
    c->reserve = -1;
    c->threads = 1;
}

int
rpc_config_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

static void
auth_fail_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rpc_http *h = arg;
    int64_t early_us = h->conn != NULL && h->code == 401 && h->timer != NULL
                           ? h->conn->door.lock_end_us - time_mono_us()
                           : 0;

    (void)fd;
    (void)what;
    if (early_us > 0 && h->req != NULL) {
        /* libevent counts the delay from the loop's cached time, which may be older than the
         * lock's start: a client that retried at once after the 401 would find its address
         * still locked (429) */
        struct timeval tv = {(time_t)(early_us / 1000000), (suseconds_t)(early_us % 1000000)};

        if (evtimer_add(h->timer, &tv) == 0)
            return;
    }
    if (h->req != NULL && h->code == 429) {
        rpc_server_call_send_plain(h->req, 429, "Too Many Requests",
                                   "too many failed logins from this address\n", 1);
        h->req = NULL;
    } else if (h->req != NULL) {
        evhttp_add_header(evhttp_request_get_output_headers(h->req), "WWW-Authenticate",
                          "Basic realm=\"sbx\"");
        rpc_server_call_send_plain(h->req, 401, "Unauthorized", "unauthorized\n", 0);
        h->req = NULL;
    }
    rpc_server_call_free(h);
}

/* ------------------------------------------------------------------ connections */

/* The record of `evcon` (evhttp keeps no pointer of ours on a connection): a hash lookup, as a
 * loop holds hundreds of connections and every request looks its own up. */
static struct rpc_conn *
conn_find(struct srv_loop *l, struct evhttp_connection *evcon)
{
    return map_get(&l->byevcon, &evcon, sizeof(evcon));
}

static void
conn_unlink(struct rpc_conn *c)
{
    map_del(&c->l->byevcon, &c->evcon, sizeof(c->evcon));
    TAILQ_REMOVE(&c->l->conns, c, link);
}

/* Keep the loops' shares of the connections even (clients keep theirs open, so where a
 * connection lands decides which loop serves it; every loop wakes on a new one and the first to
 * accept takes it): a loop holding more than its share (all / loops + 1) stops accepting until
 * it is back to it, re-checked on each close, while paused every BALANCE_MS, and at once when
 * another loop asks. The last loop accepting stops too when it goes over its share, and first
 * posts each paused loop a re-check: one of them is under its share (some loop always is) and
 * resumes as soon as its thread runs, at the latest on its timer; until then new connections
 * wait in the listen backlog. (When the last one kept accepting instead, a burst of clients
 * connecting at once all went to it before the other loop's thread had run: 61 of 64.) Runs on
 * the loop's thread. */
static void recheck_others(struct srv_loop *l);

static void
balance(struct srv_loop *l)
{
    static const struct timeval balance_tv = {0, BALANCE_MS * 1000};
    struct rpc_server *s = l->s;
    size_t share = atomic_load(&s->nconns) / (size_t)s->nloops + 1;

    if (s->nloops < 2 || l->listener == NULL || s->closing)
        return; /* closing: evhttp_free closes the connections after the listeners */
    if (!l->paused && l->nopen > share) {
        /* paused before counted out: a loop that counts itself out as the last one after us
         * sees us paused and posts us a re-check (else both would wait for their timers) */
        atomic_store(&l->paused, 1);
        if (atomic_fetch_sub(&s->naccepting, 1) == 1)
            recheck_others(l); /* the last one accepting: the paused ones may be under now */
        evconnlistener_disable(l->listener);
        evtimer_add(l->balance_ev, &balance_tv);
    } else if (l->paused && l->nopen <= share) {
        atomic_fetch_add(&s->naccepting, 1);
        if (!l->accept_waiting) /* else accept_ev enables it */
            evconnlistener_enable(l->listener);
        l->paused = 0;
        evtimer_del(l->balance_ev);
    } else if (l->paused) {
        evtimer_add(l->balance_ev, &balance_tv);
    }
}

static void
recheck_hop(struct rpc_hop *hop, int cancelled)
{
    struct srv_loop *l = CONTAINER(hop, struct srv_loop, recheck_hop);

    atomic_store(&l->recheck, 0);
    if (!cancelled)
        balance(l);
}

/* Ask every paused loop but `l` to re-check its share on its own thread (once per post). */
static void
recheck_others(struct srv_loop *l)
{
    for (int i = 0; i < l->s->nloops; i++) {
        struct srv_loop *m = &l->s->loops[i];

        if (m != l && atomic_load(&m->paused) && !atomic_exchange(&m->recheck, 1)) {
            m->recheck_hop.fn = recheck_hop;
            rpc_loop_post(m->loop, &m->recheck_hop);
        }
    }
}

static void
balance_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    balance(arg);
}

/* libevent is about to free the connection (and, unless it was detached, its request). */
static void
conn_close_cb(struct evhttp_connection *evcon, void *arg)
{
    struct rpc_conn *c = arg;
    struct rpc_http *h = c->cur;

    rpc_events_closed(c->l->events, evcon);
    if (h != NULL) {
        h->conn = NULL;
        c->cur = NULL;
        if (h->req != NULL && evhttp_request_get_connection(h->req) == NULL)
            evhttp_request_free(h->req); /* detached from the connection: ours to free */
        h->req = NULL;
        if (h->pending == 0)
            rpc_server_call_free(h); /* waiting only for the 401 delay */
        /* else: freed when the node has answered every submission */
    }
    conn_unlink(c);
    rpc_server_door_close(c);
    atomic_fetch_sub(&c->l->s->nconns, 1);
    c->l->nopen--;
    balance(c->l);
    free(c);
}

/* A new connection: counted now, claimed (close callback installed, the front door's checks
 * begun) once evhttp has made it. */
static struct bufferevent *
bev_cb(struct event_base *base, void *arg)
{
    struct srv_loop *l = arg;
    struct bufferevent *bev = l->s->tls != NULL ? rpc_tls_server_bev(l->s->tls, base)
                                                : bufferevent_socket_new(base, -1, 0);

    rpc_server_door_accepted(l);
    if (bev == NULL)
        return NULL;
    if (array_reserve(&l->claims, l->nclaims + 1, &l->claims_cap, sizeof(*l->claims), 16) != SBX_OK)
        return bev;                     /* not counted; still served */
    bufferevent_incref(bev);            /* keeps the struct readable until claimed */
    atomic_fetch_add(&l->s->nconns, 1); /* the loops' balance */
    l->nopen++;
    l->claims[l->nclaims].bev = bev;
    l->nclaims++;
    event_active(l->claim_ev, EV_TIMEOUT, 0);
    balance(l); /* a pause takes effect before the listener accepts the next one */
    return bev;
}

/* Replies go out without waiting: libevent writes at most 16 KiB a call, and with Nagle's rule
 * the rest of a larger reply (a batch's) waited for the client's delayed ACK, up to 40 ms. */
static void
no_delay(struct bufferevent *bev)
{
    evutil_socket_t fd = bufferevent_getfd(bev);
    int one = 1;

    if (fd >= 0)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Runs in the same loop pass as the accept, before any byte is read from the new connections:
 * find each one's evhttp_connection (the bufferevent's callback argument) and hook its close. */
static void
claim_cb(evutil_socket_t fd, short what, void *arg)
{
    struct srv_loop *l = arg;

    (void)fd;
    (void)what;
    for (size_t i = 0; i < l->nclaims; i++) {
        struct bufferevent *bev = l->claims[i].bev;
        bufferevent_data_cb rcb = NULL, wcb = NULL;
        bufferevent_event_cb ecb = NULL;
        void *cbarg = NULL;
        struct rpc_conn *c;

        bufferevent_getcb(bev, &rcb, &wcb, &ecb, &cbarg);
        c = cbarg != NULL ? calloc(1, sizeof(*c)) : NULL;
        if (c != NULL && map_put(&l->byevcon, &cbarg, sizeof(cbarg), c) != SBX_OK) {
            free(c);
            c = NULL;
        }
        if (c == NULL) {
            atomic_fetch_sub(&l->s->nconns, 1); /* already gone, or cannot be tracked */
            l->nopen--;
        } else {
            c->l = l;
            c->evcon = cbarg;
            TAILQ_INSERT_HEAD(&l->conns, c, link);
            evhttp_connection_set_closecb(c->evcon, conn_close_cb, c);
            no_delay(bev);
            rpc_server_door_open(c, bev);
        }
        bufferevent_decref(bev);
    }
    l->nclaims = 0;
}

/* ------------------------------------------------------------------ pages of loop 0 */

/* /health and /metrics read the network layer's peers, which live on the node's loop (0): they
 * are rendered there and sent by the request's own loop. */
enum page { PAGE_HEALTH = 1, PAGE_METRICS };

/* Render page `h->page` into h->body and h->code (loop 0, or any loop once every thread has
 * stopped: then only an error). */
static void
page_render(struct rpc_server *s, struct rpc_http *h, int cancelled)
{
    h->body = evbuffer_new();
    h->code = 500;
    if (h->body == NULL || cancelled)
        return;
    if (h->page == PAGE_HEALTH)
        h->code = rpc_health_render(s->node, time_now_ms(), h->body);
    else if (rpc_metrics_render(s->metrics, s->node, time_now_ms(), h->body) == SBX_OK)
        h->code = 200;
    if (h->page == PAGE_METRICS && h->code == 200)
        rpc_server_door_metrics(s, h->body);
}

/* On the request's loop: send the page and free the context. */
static void
page_send(struct rpc_http *h)
{
    struct evhttp_request *req = h->req;

    h->req = NULL;
    if (req != NULL && h->code != 500) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          h->page == PAGE_HEALTH ? "application/json"
                                                 : "text/plain; version=0.0.4; charset=utf-8");
        evhttp_send_reply(req, h->code, h->code == 200 ? "OK" : "Service Unavailable", h->body);
    } else if (req != NULL) {
        evhttp_send_error(req, 500, "Internal Server Error");
    }
    rpc_server_call_free(h);
}

static void
page_back_hop(struct rpc_hop *hop, int cancelled)
{
    struct rpc_http *h = CONTAINER(hop, struct rpc_http, hop);

    (void)cancelled;
    h->pending = 0;
    page_send(h);
}

static void
page_main_hop(struct rpc_hop *hop, int cancelled)
{
    struct rpc_http *h = CONTAINER(hop, struct rpc_http, hop);

    page_render(h->home->s, h, cancelled);
    h->hop.fn = page_back_hop;
    rpc_loop_post(h->home->loop, &h->hop);
}

/* Answer GET /health or /metrics (credentials checked as the page requires). */
static void
page_serve(struct srv_loop *l, struct evhttp_request *req, struct rpc_conn *conn, int page)
{
    struct rpc_http *h = rpc_server_call_new(l, req, conn);

    if (h == NULL) {
        evhttp_send_error(req, 500, "Internal Server Error");
        return;
    }
    h->page = page;
    if (l->index == 0) {
        page_render(l->s, h, 0);
        page_send(h);
        return;
    }
    h->pending = 1; /* held while loop 0 renders: a closed connection does not free it */
    h->hop.fn = page_main_hop;
    rpc_loop_post(l->s->loops[0].loop, &h->hop);
}

/* ------------------------------------------------------------------ the HTTP callback */

/* 0 if the client of `evcon` may be served; else the HTTP status to refuse it with: 403 when
 * its address is in no -rpcallowip range (or cannot be read), 503 when the server speaks TLS but
 * this connection does not (libevent falls back to a plain connection when the TLS one could not
 * be made: refused, never served in clear). */
static int
client_check(const struct rpc_server *s, struct evhttp_connection *evcon)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
    evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;

    if (s->tls != NULL && (bev == NULL || bufferevent_openssl_get_ssl(bev) == NULL))
        return 503;
    if (s->nallow == 0)
        return 0;
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
        return 403;
    for (size_t i = 0; i < s->nallow; i++)
        if (cidr_match(&s->allow[i], (const struct sockaddr *)&ss))
            return 0;
    return 403;
}

static void
http_cb(struct evhttp_request *req, void *arg)
{
    struct srv_loop *l = arg;
    struct rpc_server *s = l->s;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    struct rpc_conn *conn = NULL;
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    struct rpc_http *h;
    int role, metrics, events, page, get, refuse;

    if (evcon != NULL) {
        struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);

        if (bev != NULL)
            bufferevent_disable(bev, EV_READ); /* see the top of the file */
        conn = conn_find(l, evcon);
    }
    if (conn != NULL) {
        rpc_server_door_request(conn);
        if (!conn->door.authed) /* its one request: no body was read, it closes after */
            evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
    }
    refuse = client_check(s, evcon);
    if (refuse != 0) {
        char *peer = NULL;
        ev_uint16_t port = 0;

        if (evcon != NULL)
            evhttp_connection_get_peer(evcon, &peer, &port);
        LOG_DEBUG(LOG_RPC, "%d for %s", refuse, peer != NULL ? peer : "?");
        rpc_server_call_send_plain(
            req, refuse, refuse == 403 ? "Forbidden" : "Service Unavailable",
            refuse == 403 ? "this address is not in the node's rpcallowip\n" : "no TLS\n", 1);
        return;
    }
    if (conn != NULL && conn->refused) {
        rpc_server_call_send_plain(req, 503, "Service Unavailable", "too many connections\n", 1);
        return;
    }
    if (path == NULL)
        path = "";
    if (strcmp(path, "/health") == 0) {
        if (cmd != EVHTTP_REQ_GET) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
            rpc_server_call_send_plain(req, 405, "Method Not Allowed", "use GET\n", 0);
            return;
        }
        page_serve(l, req, conn, PAGE_HEALTH);
        return;
    }
    metrics = strcmp(path, "/metrics") == 0;
    events = strcmp(path, "/events") == 0;
    page = rpc_dashboard_match(path);
    get = metrics || events || page;
    if (!get && strcmp(path, "/") != 0) {
        rpc_server_call_send_plain(req, 404, "Not Found", "not found\n", 0);
        return;
    }
    if (cmd != (get ? EVHTTP_REQ_GET : EVHTTP_REQ_POST)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", get ? "GET" : "POST");
        rpc_server_call_send_plain(req, 405, "Method Not Allowed", get ? "use GET\n" : "use POST\n",
                                   0);
        return;
    }
    /* the front door checked the first request's credentials, or refused to (429) */
    role =
        conn != NULL && conn->door.checked && !conn->door.authed
            ? 0
            : rpc_auth_check_header(
                  s->auth,
                  evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization"), NULL);
    if (page && role != 0) {
        rpc_dashboard_serve(req, path);
        return;
    }
    h = rpc_server_call_new(l, req, conn);
    if (h == NULL) {
        rpc_server_call_send_plain(req, 500, "Internal Server Error", "out of memory\n", 1);
        return;
    }
    if (role == 0) {
        /* answer a wrong password late (the longer the more failures from its address),
         * without holding up the loop */
        int ms = conn != NULL && conn->door.checked ? conn->door.delay_ms : s->auth_delay_ms;
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

        h->code = conn != NULL && conn->door.code == 429 ? 429 : 401;
        if (h->code == 429) {
            char retry[16];

            snprintf(retry, sizeof(retry), "%d", conn->door.retry_s);
            evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", retry);
        }
        h->timer = evtimer_new(l->base, auth_fail_cb, h);
        if (h->timer == NULL || evtimer_add(h->timer, &tv) != 0) {
            auth_fail_cb(-1, 0, h);
            return;
        }
        return;
    }
    if (metrics) {
        rpc_server_call_free(h);
        page_serve(l, req, conn, PAGE_METRICS);
        return;
    }
    if (events) {
        const char *why;
        int code;

        rpc_server_call_free(h);
        code = rpc_events_serve(l->events, req, &why); /* any role may read */
        if (code != 0)
            rpc_server_call_send_plain(req, code, NULL, why, 0);
        return;
    }
    rpc_server_call_process(h, role);
}

/* ------------------------------------------------------------------ lifecycle */

/* The bound port of `fd` (0 if unknown); warn when it is reachable beyond loopback in clear. */
static int
bound_port(const struct rpc_server *s, evutil_socket_t fd, const char *bind)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return 0;
    if (s->tls == NULL && !cidr_is_loopback((const struct sockaddr *)&ss))
        LOG_WARN(LOG_RPC,
                 "JSON-RPC listens on %s, beyond loopback, without TLS: passwords and answers "
                 "cross the network in clear; set rpctls=1 (doc/operations.md)",
                 bind);
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

/* Make loop `l`'s evhttp and what it serves with (its loop and base are made). */
static int
loop_setup(struct rpc_server *s, struct srv_loop *l, const struct rpc_config *cfg,
           struct sbx_err *err)
{
    int rc;

    TAILQ_INIT(&l->conns);
    TAILQ_INIT(&l->live);
    TAILQ_INIT(&l->spare);
    map_init(&l->byevcon);
    l->s = s;
    l->base = rpc_loop_base(l->loop);
    /* the node calls its watches on its own loop: a hub on another loop is woken by an event */
    rc = rpc_events_new(&l->events, l->base, s->node, l->index != 0, &s->nstreams, s->assets,
                        s->nassets, cfg->events_max_queue, err);
    if (rc)
        return rc;
    l->sink = node_sink_new(s->node, l->base);
    l->claim_ev = event_new(l->base, -1, 0, claim_cb, l);
    l->balance_ev = evtimer_new(l->base, balance_cb, l);
    l->http = evhttp_new(l->base);
    if (l->sink == NULL || l->claim_ev == NULL || l->balance_ev == NULL || l->http == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    evhttp_set_allowed_methods(l->http, EVHTTP_REQ_POST | EVHTTP_REQ_GET);
    evhttp_set_max_body_size(l->http, (ev_ssize_t)s->max_body);
    evhttp_set_max_headers_size(l->http, MAX_HEADERS_SIZE);
    /* an idle timeout (reset by each byte): the front door's deadlines bound the first
     * request; a Content-Length over the cap is answered 413 at once, and the connection
     * closed without reading the body */
    evhttp_set_timeout(l->http, IDLE_TIMEOUT_S);
    evhttp_set_gencb(l->http, http_cb, l);
    evhttp_set_bevcb(l->http, bev_cb, l);
    return SBX_OK;
}

/* Listen on loop 0, then let every other loop accept on the same socket. One socket shared
 * (a dup per loop, as each listener closes its own) rather than SO_REUSEPORT sockets: no other
 * process of the same user can join the port by mistake, port 0 needs no second bind, and a
 * loop takes a new connection only when it is free to (the kernel's hash of SO_REUSEPORT would
 * queue it behind a busy loop). Every loop wakes on a connection; clients keep theirs open. */
static int
listen_all(struct rpc_server *s, const struct rpc_config *cfg, struct sbx_err *err)
{
    const char *bind = cfg->bind != NULL ? cfg->bind : "127.0.0.1";
    struct evhttp_bound_socket *sock;
    evutil_socket_t fd;
    int backlog;

    errno = 0;
    sock = evhttp_bind_socket_with_handle(s->loops[0].http, bind, (ev_uint16_t)cfg->port);
    if (sock == NULL)
        return sbx_err_set(err, SBX_EIO, "rpc: cannot listen on %s port %d: %s", bind, cfg->port,
                           errno ? strerror(errno) : "bind failed");
    fd = evhttp_bound_socket_get_fd(sock);
    /* evhttp listens with a backlog of 128: a pool of clients connecting at once (up to
     * -rpcmaxconns) overflowed it while the loops were busy, and each connection refused there
     * waited a second for its SYN to be sent again. Room for all of them (the kernel caps it at
     * net.core.somaxconn). */
    backlog = s->max_conns < 128 ? 128 : s->max_conns > 65535 ? 65535 : (int)s->max_conns;
    if (listen(fd, backlog) != 0)
        LOG_WARN(LOG_RPC, "rpc: cannot widen the listen backlog to %d: %s", backlog,
                 strerror(errno));
    s->loops[0].listener = evhttp_bound_socket_get_listener(sock);
    for (int i = 1; i < s->nloops; i++) {
        evutil_socket_t dfd = dup(fd);

        if (dfd < 0 || evutil_make_socket_nonblocking(dfd) != 0 ||
            (sock = evhttp_accept_socket_with_handle(s->loops[i].http, dfd)) == NULL) {
            if (dfd >= 0)
                close(dfd);
            return sbx_err_set(err, SBX_EIO, "rpc: cannot share the listening socket: %s",
                               strerror(errno));
        }
        s->loops[i].listener = evhttp_bound_socket_get_listener(sock);
    }
    for (int i = 0; i < s->nloops; i++)
        if (rpc_server_door_listen(&s->loops[i]) != SBX_OK)
            return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    atomic_store(&s->naccepting, s->nloops);
    s->port = bound_port(s, fd, bind);
    if (s->port == 0)
        s->port = cfg->port;
    return SBX_OK;
}

/* The server's own fields from `cfg` and the node. */
static void
server_init(struct rpc_server *s, struct node *node, const struct rpc_config *cfg)
{
    const struct ledger_genesis *g = node_genesis(node); /* immutable while the node is open */

    s->node = node;
    s->net = cfg->net;
    s->operator_node = node_role(node) == NODE_ROLE_OPERATOR;
    s->max_body = cfg->max_body > 0 ? cfg->max_body : DEFAULT_MAX_BODY;
    s->max_batch = cfg->max_batch > 0 ? (size_t)cfg->max_batch : DEFAULT_MAX_BATCH;
    s->max_conns = cfg->max_conns > 0 ? (size_t)cfg->max_conns : DEFAULT_MAX_CONNS;
    s->auth_delay_ms =
        cfg->auth_fail_delay_ms >= 0 ? cfg->auth_fail_delay_ms : DEFAULT_AUTH_DELAY_MS;
    s->header_timeout_ms =
        cfg->header_timeout_ms > 0 ? cfg->header_timeout_ms : DEFAULT_HEADER_TIMEOUT_MS;
    s->body_timeout_ms = cfg->body_timeout_ms > 0 ? cfg->body_timeout_ms : DEFAULT_BODY_TIMEOUT_MS;
    s->nassets = g->nassets < SBX_MAX_ASSETS ? g->nassets : SBX_MAX_ASSETS;
    memcpy(s->assets, g->assets, s->nassets * sizeof(s->assets[0]));
}

/* The book of client addresses, with the caps of `cfg` (defaults for those left at 0; a
 * reserve of -1: a quarter of the connections). SBX_EINVAL names a reserve that leaves
 * unauthenticated clients no slot. */
static int
gate_new(struct rpc_server *s, const struct rpc_config *cfg, struct sbx_err *err)
{
    struct rpc_gate_limits lim = {
        .max_conns = s->max_conns,
        .reserve = cfg->reserve >= 0 ? (size_t)cfg->reserve : s->max_conns / 4,
        .max_per_addr =
            cfg->max_conns_per_addr > 0 ? (size_t)cfg->max_conns_per_addr : DEFAULT_MAX_PER_ADDR,
        .max_unauth = cfg->max_unauth_per_addr > 0 ? (size_t)cfg->max_unauth_per_addr
                                                   : DEFAULT_MAX_UNAUTH_PER_ADDR,
        .fail_delay_ms = s->auth_delay_ms,
        .fail_delay_max_ms = cfg->auth_fail_delay_max_ms > s->auth_delay_ms
                                 ? cfg->auth_fail_delay_max_ms
                                 : s->auth_delay_ms,
    };

    if (lim.reserve >= lim.max_conns)
        return sbx_err_set(err, SBX_EINVAL,
                           "rpcreserve: %zu leaves no slot of rpcmaxconns (%zu) for "
                           "unauthenticated clients",
                           lim.reserve, lim.max_conns);
    if (rpc_gate_new(&s->gate, &lim) != SBX_OK)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    return SBX_OK;
}

/* TLS (its pair opened or made, its fingerprint logged) and the allow list from `cfg`. */
static int
server_tls(struct rpc_server *s, const struct rpc_config *cfg, struct sbx_err *err)
{
    char fp[TLS_FINGERPRINT_HEX];
    int rc;

    if (cfg->nallow > 0) {
        s->allow = calloc(cfg->nallow, sizeof(*s->allow));
        if (s->allow == NULL)
            return sbx_err_set(err, SBX_ENOMEM, "out of memory");
        memcpy(s->allow, cfg->allow, cfg->nallow * sizeof(*s->allow));
        s->nallow = cfg->nallow;
    }
    if (cfg->tls_cert == NULL)
        return SBX_OK;
    rc = rpc_tls_server_new(&s->tls, s->tls_fp, &s->tls_made, cfg->tls_key, cfg->tls_cert,
                            cfg->tls_make, err);
    if (rc != SBX_OK)
        return rc;
    tls_fingerprint_hex(fp, s->tls_fp);
    if (s->tls_made)
        LOG_INFO(LOG_RPC, "made a new RPC TLS key %s and certificate %s", cfg->tls_key,
                 cfg->tls_cert);
    LOG_INFO(LOG_RPC, "RPC TLS certificate %s, SHA-256 fingerprint %s", cfg->tls_cert, fp);
    return SBX_OK;
}

int
rpc_server_new(struct rpc_server **out, struct event_base *base, struct node *node,
               const struct rpc_config *cfg, struct sbx_err *err)
{
    struct rpc_server *s;
    int rc, n = cfg->threads < 1 ? 1 : cfg->threads > MAX_THREADS ? MAX_THREADS : cfg->threads;

    *out = NULL;
    if (cfg->port < 0 || cfg->port > 65535)
        return sbx_err_set(err, SBX_EINVAL, "rpcport: %d is not a port", cfg->port);
    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->loops = calloc((size_t)n, sizeof(*s->loops))) == NULL) {
        free(s);
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    }
    s->base = base;
    server_init(s, node, cfg);
    rc = gate_new(s, cfg, err);
    if (rc == SBX_OK)
        rc = rpc_auth_new(&s->auth, cfg->rpcauth, cfg->rpcauth != NULL ? cfg->nrpcauth : 0,
                          cfg->cookie_path, err);
    if (rc == SBX_OK)
        rc = server_tls(s, cfg, err);
    if (rc)
        goto fail;
    s->metrics = rpc_metrics_new();
    s->stop_ev = event_new(base, -1, 0, rpc_server_call_stop_cb, s);
    if (s->stop_ev == NULL || s->metrics == NULL) {
        rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        struct srv_loop *l = &s->loops[i];

        l->index = i;
        s->nloops = i + 1; /* counted before its setup: freed whole if that fails midway */
        if (rpc_loop_new(&l->loop, i == 0 ? base : NULL) != SBX_OK) {
            rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
            goto fail;
        }
        rc = loop_setup(s, l, cfg, err);
        if (rc)
            goto fail;
    }
    rc = listen_all(s, cfg, err);
    for (int i = 1; rc == SBX_OK && i < s->nloops; i++)
        if (rpc_loop_start(s->loops[i].loop) != SBX_OK)
            rc = sbx_err_set(err, SBX_EINTERNAL, "cannot start an RPC thread");
    if (rc)
        goto fail;
    *out = s;
    return SBX_OK;
fail:
    rpc_server_free(s);
    return rc;
}

void
rpc_server_stop(struct rpc_server *s)
{
    if (s == NULL)
        return;
    for (int i = 1; i < s->nloops; i++)
        rpc_loop_stop(s->loops[i].loop); /* NULL is a no-op */
}

/* Every thread has stopped: deliver what the node handed the sinks, then run (cancelled) what
 * the loops posted each other, until nothing is left. */
static void
server_drain(struct rpc_server *s)
{
    size_t ran;

    s->closing = 1;
    for (int i = 0; i < s->nloops; i++) {
        node_sink_free(s->loops[i].sink);
        s->loops[i].sink = NULL;
    }
    do {
        ran = 0;
        for (int i = 0; i < s->nloops; i++)
            ran += s->loops[i].loop != NULL ? rpc_loop_drain(s->loops[i].loop) : 0;
    } while (ran > 0);
}

/* Free one loop's connections, requests and evhttp (its thread has stopped). */
static void
loop_free(struct srv_loop *l)
{
    struct rpc_http *h;
    struct rpc_conn *c;

    rpc_server_door_unlisten(l);
    /* Orphan every request: evhttp_free below frees the evhttp requests, and contexts that
     * wait for the node free themselves when it answers. */
    while ((h = TAILQ_FIRST(&l->live)) != NULL) {
        TAILQ_REMOVE(&l->live, h, link);
        h->l = NULL;
        h->req = NULL;
        if (h->conn != NULL)
            h->conn->cur = NULL;
        h->conn = NULL;
        if (h->pending == 0)
            rpc_server_call_free(h);
    }
    if (l->http != NULL)
        evhttp_free(l->http); /* closes every connection: conn_close_cb frees our records */
    while ((c = TAILQ_FIRST(&l->conns)) != NULL) {
        conn_unlink(c);
        rpc_server_door_close(c);
        free(c);
    }
    map_release(&l->byevcon);
    free(l->tx_spare);
    rpc_server_call_spares_free(l);
    rpc_events_free(l->events);
    for (size_t i = 0; i < l->nclaims; i++)
        bufferevent_decref(l->claims[i].bev);
    free(l->claims);
    if (l->claim_ev != NULL)
        event_free(l->claim_ev);
    if (l->balance_ev != NULL)
        event_free(l->balance_ev);
}

void
rpc_server_free(struct rpc_server *s)
{
    if (s == NULL)
        return;
    rpc_server_stop(s);
    server_drain(s);
    for (int i = s->nloops - 1; i >= 0; i--)
        loop_free(&s->loops[i]);
    for (int i = s->nloops - 1; i >= 0; i--)
        rpc_loop_free(s->loops[i].loop);
    free(s->loops);
    if (s->stop_ev != NULL)
        event_free(s->stop_ev);
    rpc_auth_free(s->auth); /* removes the cookie file */
    rpc_metrics_free(s->metrics);
    rpc_tls_free(s->tls);   /* after the loops: their connections hold SSLs of its context */
    rpc_gate_free(s->gate); /* after the loops: closing connections leave it */
    free(s->allow);
    free(s);
}

void
rpc_server_on_stop(struct rpc_server *s, void (*fn)(void *arg), void *arg)
{
    s->stop_fn = fn;
    s->stop_arg = arg;
}

int
rpc_server_port(const struct rpc_server *s)
{
    return s->port;
}

int
rpc_server_tls(const struct rpc_server *s, char fp[static TLS_FINGERPRINT_HEX])
{
    if (s->tls == NULL)
        return 0;
    tls_fingerprint_hex(fp, s->tls_fp);
    return s->tls_made ? 2 : 1;
}
