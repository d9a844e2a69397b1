/* The JSON-RPC server: HTTP on libevent's evhttp, JSON-RPC 2.0 envelopes, batches, auth, limits.
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
 * installed before libevent reads a byte from them; past the cap a connection gets 503 to each
 * request and is closed. libevent 2.1 keeps reading a connection whose request has no body
 * while the request waits for its reply and aborts on data it then receives, so reading is
 * switched off while a request is ours (as Bitcoin Core does); evhttp switches it back on for
 * the next request.
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
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <netinet/in.h>
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
#include "util/array.h"
#include "util/log.h"
#include "util/time.h"

#define DEFAULT_PORT 8645
#define DEFAULT_MAX_BODY (1024u * 1024u)
#define DEFAULT_MAX_BATCH 1000
#define DEFAULT_MAX_CONNS 512
#define DEFAULT_AUTH_DELAY_MS 250
#define MAX_HEADERS_SIZE 16384
#define IDLE_TIMEOUT_S 30
#define STOP_FALLBACK_MS 1000 /* stop even if the reply to `stop` is never written */
#define MAX_THREADS 64

#define CONTAINER(p, type, field) ((type *)(void *)((char *)(p)-offsetof(type, field)))

struct rpc_http;
struct srv_loop;

/* A connection just accepted: its bufferevent, and whether it came over the cap. */
struct claim {
    struct bufferevent *bev;
    int refused;
};

/* One accepted connection. */
struct rpc_conn {
    struct srv_loop *l;
    struct evhttp_connection *evcon;
    int refused;                /* accepted over the cap: 503 and close */
    struct rpc_http *cur;       /* the request of this connection we are working on */
    TAILQ_ENTRY(rpc_conn) link; /* in the server's conns */
};

/* One JSON-RPC call of a request. */
struct rpc_call {
    struct rpc_http *h;
    json_t *id;         /* NULL: a notification (no reply); json null for an unknown id */
    const char *method; /* the method table's name of the method called, or NULL (metrics) */
    struct rpc_outcome out;
    int remote;         /* runs or waits on loop 0: its answer comes back by a hop */
    json_t *rq;         /* a remote call not yet run: a copy of its request object */
    struct rpc_hop hop; /* to loop 0 and back */
};

/* One HTTP request. */
struct rpc_http {
    struct srv_loop *l;         /* the loop of its connection; NULL once the server is gone */
    struct srv_loop *home;      /* the same, kept until it is freed (hops come back there) */
    struct evhttp_request *req; /* NULL once the request is gone (or answered) */
    struct rpc_conn *conn;      /* NULL once the connection is gone */
    struct event *timer;        /* the delay before a 401 */
    int batch;
    size_t ncalls;
    struct rpc_call *calls;
    size_t pending; /* submissions not yet answered, +1 while dispatching */
    size_t budget;  /* what the reply may still show (RPC_RENDER_BUDGET) */
    int stop;
    int64_t t0_us;              /* when the request was read (metrics) */
    struct rpc_env env;         /* what its calls see (remote ones too) */
    int page;                   /* GET /health or /metrics rendered on loop 0 */
    struct evbuffer *body;      /* ... into this, */
    int code;                   /* ... with this HTTP status */
    struct rpc_hop hop;         /* the page's way to loop 0 and back */
    TAILQ_ENTRY(rpc_http) link; /* in its loop's live list while `l` is set */
};

/* One event loop of the server: its evhttp, connections and requests are its thread's alone. */
struct srv_loop {
    struct rpc_server *s;
    int index; /* 0: the node's loop */
    struct rpc_loop *loop;
    struct event_base *base;
    struct evhttp *http;
    struct node_sink *sink;    /* the node answers this loop's submissions here */
    struct rpc_events *events; /* GET /events on this loop */
    TAILQ_HEAD(, rpc_conn) conns;
    struct claim *claims; /* accepted, not yet claimed */
    size_t nclaims, claims_cap;
    struct event *claim_ev;
    TAILQ_HEAD(, rpc_http) live; /* requests in progress */
};

struct rpc_server {
    struct event_base *base; /* the node's (loop 0's) */
    struct node *node;
    struct node_net *net;
    struct rpc_auth *auth;
    struct rpc_metrics *metrics;
    struct srv_loop *loops;
    int nloops;
    int operator_node; /* submissions may go to the node from any loop */
    int port;
    size_t max_body;
    size_t max_batch;
    size_t max_conns;
    int auth_delay_ms;
    struct ledger_asset_def assets[SBX_MAX_ASSETS];
    size_t nassets;
    /* connections of every loop, counted from accept, including those not yet claimed */
    atomic_size_t nconns;
    /* stop (stop_ev runs on loop 0) */
    void (*stop_fn)(void *arg);
    void *stop_arg;
    struct event *stop_ev;
    atomic_int stop_armed;
    int stop_fired; /* loop 0 only */
};

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
    c->threads = 1;
}

int
rpc_config_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

/* ------------------------------------------------------------------ replies */

static int
dump_cb(const char *buffer, size_t size, void *data)
{
    return evbuffer_add(data, buffer, size) == 0 ? 0 : -1;
}

static void
send_plain(struct evhttp_request *req, int code, const char *reason, const char *body, int close)
{
    struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
    struct evbuffer *buf = evbuffer_new();

    evhttp_add_header(oh, "Content-Type", "text/plain; charset=utf-8");
    if (close)
        evhttp_add_header(oh, "Connection", "close");
    if (buf != NULL)
        evbuffer_add(buf, body, strlen(body));
    evhttp_send_reply(req, code, reason, buf);
    if (buf != NULL)
        evbuffer_free(buf);
}

static void
send_json(struct evhttp_request *req, const json_t *j)
{
    struct evbuffer *buf = evbuffer_new();

    if (buf == NULL || json_dump_callback(j, dump_cb, buf, JSON_COMPACT) != 0) {
        if (buf != NULL)
            evbuffer_free(buf);
        LOG_ERROR(LOG_RPC, "out of memory writing a reply");
        send_plain(req, 500, "Internal Server Error", "out of memory\n", 1);
        return;
    }
    evbuffer_add(buf, "\n", 1);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, 200, "OK", buf);
    evbuffer_free(buf);
}

/* {"jsonrpc":"2.0","id":ID,"error":{...}} for an error found before any call ran. */
static void
send_error(struct evhttp_request *req, int code, const char *message)
{
    struct rpc_outcome o;
    json_t *resp;

    rpc_outcome_init(&o);
    rpc_outcome_error(&o, code, "%s", message);
    resp =
        json_pack("{s:s, s:n, s:o}", "jsonrpc", "2.0", "id", "error", rpc_methods_error_object(&o));
    rpc_outcome_release(&o);
    if (resp == NULL) {
        send_plain(req, 500, "Internal Server Error", "out of memory\n", 1);
        return;
    }
    send_json(req, resp);
    json_decref(resp);
}

/* ------------------------------------------------------------------ stop */

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rpc_server *s = arg;

    (void)fd;
    (void)what;
    if (s->stop_fired)
        return;
    s->stop_fired = 1;
    event_del(s->stop_ev);
    LOG_INFO(LOG_RPC, "stop requested over RPC");
    if (s->stop_fn != NULL)
        s->stop_fn(s->stop_arg);
}

/* The reply to `stop` is written: stop now. */
static void
stop_reply_done(struct evhttp_request *req, void *arg)
{
    struct rpc_server *s = arg;

    (void)req;
    event_active(s->stop_ev, EV_TIMEOUT, 0);
}

/* Stop once the reply is out, or after STOP_FALLBACK_MS if it never is. */
static void
arm_stop(struct rpc_server *s)
{
    struct timeval tv = {STOP_FALLBACK_MS / 1000, (STOP_FALLBACK_MS % 1000) * 1000};

    if (atomic_exchange(&s->stop_armed, 1))
        return;
    evtimer_add(s->stop_ev, &tv); /* any loop: the base is thread-safe (evthread) */
}

/* ------------------------------------------------------------------ request contexts */

static void
live_unlink(struct rpc_http *h)
{
    if (h->l == NULL)
        return;
    TAILQ_REMOVE(&h->l->live, h, link);
}

static void
http_free(struct rpc_http *h)
{
    live_unlink(h);
    if (h->conn != NULL && h->conn->cur == h)
        h->conn->cur = NULL;
    if (h->timer != NULL)
        event_free(h->timer);
    for (size_t i = 0; i < h->ncalls; i++) {
        json_decref(h->calls[i].id);
        rpc_outcome_release(&h->calls[i].out);
    }
    free(h->calls);
    if (h->body != NULL)
        evbuffer_free(h->body);
    free(h);
}

static struct rpc_http *
http_new(struct srv_loop *l, struct evhttp_request *req, struct rpc_conn *conn)
{
    struct rpc_http *h = calloc(1, sizeof(*h));

    if (h == NULL)
        return NULL;
    h->l = l;
    h->home = l;
    h->req = req;
    h->conn = conn;
    h->t0_us = time_mono_us();
    if (conn != NULL)
        conn->cur = h;
    TAILQ_INSERT_HEAD(&l->live, h, link);
    return h;
}

/* The response object of one call, or NULL for a notification. */
static json_t *
call_response(const struct rpc_call *c)
{
    json_t *resp;

    if (c->id == NULL)
        return NULL;
    resp = json_object();
    if (resp == NULL)
        return NULL;
    json_object_set_new(resp, "jsonrpc", json_string("2.0"));
    json_object_set(resp, "id", c->id);
    if (c->out.kind == RPC_OUT_RESULT && c->out.result != NULL) {
        json_object_set(resp, "result", c->out.result);
    } else if (c->out.kind == RPC_OUT_ERROR) {
        json_object_set_new(resp, "error", rpc_methods_error_object(&c->out));
    } else {
        struct rpc_outcome o;

        rpc_outcome_init(&o);
        rpc_outcome_fail(&o, SBX_EINTERNAL, "a call ended without an answer");
        json_object_set_new(resp, "error", rpc_methods_error_object(&o));
        rpc_outcome_release(&o);
    }
    return resp;
}

/* Every call is answered: reply (if the client is still there) and free the context. */
static void
finish(struct rpc_http *h)
{
    struct evhttp_request *req = h->req;
    struct rpc_server *s = h->l != NULL ? h->l->s : NULL;
    json_t *body = NULL;

    if (h->stop && s != NULL)
        arm_stop(s);
    for (size_t i = 0; s != NULL && i < h->ncalls; i++)
        rpc_metrics_observe(s->metrics, h->calls[i].method,
                            h->calls[i].out.kind == RPC_OUT_ERROR ? h->calls[i].out.code : 0,
                            (double)(time_mono_us() - h->t0_us) / 1e6);
    if (req == NULL) {
        if (h->stop && s != NULL)
            event_active(s->stop_ev, EV_TIMEOUT, 0);
        http_free(h);
        return;
    }
    h->req = NULL;
    if (h->batch) {
        body = json_array();
        for (size_t i = 0; body != NULL && i < h->ncalls; i++) {
            json_t *r = call_response(&h->calls[i]);

            if (r != NULL)
                json_array_append_new(body, r);
        }
        if (body != NULL && json_array_size(body) == 0) {
            json_decref(body);
            body = NULL; /* only notifications: nothing to say */
        }
    } else if (h->ncalls == 1) {
        body = call_response(&h->calls[0]);
    }
    if (h->stop && s != NULL)
        evhttp_request_set_on_complete_cb(req, stop_reply_done, s);
    if (body != NULL)
        send_json(req, body);
    else
        evhttp_send_reply(req, 204, "No Content", NULL);
    json_decref(body);
    http_free(h);
}

/* On the request's own loop: one call that waited has its answer; reply once the last one has. */
static void
call_answered(struct rpc_call *c)
{
    struct rpc_http *h = c->h;

    if (--h->pending == 0)
        finish(h);
}

static void
call_back_hop(struct rpc_hop *hop, int cancelled)
{
    (void)cancelled;
    call_answered(CONTAINER(hop, struct rpc_call, hop));
}

/* A call's wait is over, on whichever loop it waited: a remote call goes home first. */
static void
call_done(struct rpc_call *c)
{
    if (!c->remote) {
        call_answered(c);
        return;
    }
    c->hop.fn = call_back_hop;
    rpc_loop_post(c->h->home->loop, &c->hop);
}

/* The node's answer to one submission (on the loop whose sink it named). */
static void
submit_done(void *arg, const struct node_result *r)
{
    struct rpc_call *c = arg;

    rpc_methods_submit_done(&c->out, r);
    call_done(c);
}

/* A call's background job (RPC_OUT_JOB), on the node's job thread: the call waits, untouched. */
static int
job_run(void *arg, struct sbx_err *err)
{
    struct rpc_call *c = arg;

    return c->out.job->run(c->out.job, err);
}

/* The job's end (on loop 0). */
static void
job_done(void *arg, int rc, const struct sbx_err *err)
{
    struct rpc_call *c = arg;

    rpc_outcome_job_done(&c->out, rc, err);
    call_done(c);
}

/* 1 if the outcome of `c` must wait on loop 0: a background job (node_job_async is the node
 * loop's), or a submission a regulator or observer relays from there. */
static int
wait_on_main(const struct rpc_server *s, const struct rpc_call *c)
{
    return c->out.kind == RPC_OUT_JOB || (!s->operator_node && (c->out.kind == RPC_OUT_SUBMIT ||
                                                                c->out.kind == RPC_OUT_SUBMIT_RAW));
}

/* Hand a submission or job of `c` (h->pending counts it) to the node on loop `l`, else answer. */
static void
call_wait(struct srv_loop *l, struct rpc_call *c)
{
    if (c->out.kind == RPC_OUT_SUBMIT) {
        struct ledger_tx *tx = c->out.tx;

        c->out.tx = NULL;
        node_sink_submit(l->sink, tx, submit_done, c); /* copies tx; may answer at once */
        free(tx);
    } else if (c->out.kind == RPC_OUT_SUBMIT_RAW) {
        uint8_t *raw = c->out.raw;
        size_t len = c->out.rawlen;

        c->out.raw = NULL;
        c->out.rawlen = 0;
        node_sink_submit_raw(l->sink, raw, len, submit_done, c);
        free(raw);
    } else if (c->out.kind == RPC_OUT_JOB) {
        node_job_async(l->s->node, job_run, job_done, c);
    } else {
        call_done(c);
    }
}

/* On loop 0: run a remote call (unless it already ran) and wait for what it hands the node. */
static void
call_main_hop(struct rpc_hop *hop, int cancelled)
{
    struct rpc_call *c = CONTAINER(hop, struct rpc_call, hop);
    struct rpc_http *h = c->h;

    if (cancelled) { /* the server is going: every thread has stopped */
        rpc_outcome_release(&c->out);
        rpc_outcome_init(&c->out);
        rpc_outcome_fail(&c->out, SBX_EUNAVAIL, "the node is shutting down");
    } else if (c->rq != NULL) {
        rpc_methods_call(&h->env, json_string_value(json_object_get(c->rq, "method")),
                         json_object_get(c->rq, "params"), &c->out);
    }
    json_decref(c->rq);
    c->rq = NULL;
    if (cancelled)
        call_done(c);
    else
        call_wait(&h->home->s->loops[0], c);
}

/* Check one request object of the envelope and run its method. */
static void
run_call(struct rpc_http *h, struct rpc_call *c, json_t *req, const struct rpc_env *env)
{
    struct srv_loop *l = h->l;
    const struct rpc_method *m;
    json_t *id, *version, *method, *params;

    c->h = h;
    rpc_outcome_init(&c->out);
    if (!json_is_object(req)) {
        c->id = json_null();
        rpc_outcome_error(&c->out, RPC_INVALID_REQUEST, "a request must be a JSON object");
        return;
    }
    id = json_object_get(req, "id");
    if (id != NULL && !json_is_string(id) && !json_is_number(id) && !json_is_null(id)) {
        c->id = json_null();
        rpc_outcome_error(&c->out, RPC_INVALID_REQUEST, "id: must be a string, a number or null");
        return;
    }
    version = json_object_get(req, "jsonrpc");
    method = json_object_get(req, "method");
    params = json_object_get(req, "params");
    if (!json_is_string(version) || strcmp(json_string_value(version), "2.0") != 0 ||
        !json_is_string(method) ||
        (params != NULL && !json_is_object(params) && !json_is_array(params) &&
         !json_is_null(params))) {
        /* an invalid request is answered even without an id */
        c->id = id != NULL ? json_incref(id) : json_null();
        if (!json_is_string(version) || strcmp(json_string_value(version), "2.0") != 0)
            rpc_outcome_error(&c->out, RPC_INVALID_REQUEST, "jsonrpc: must be \"2.0\"");
        else if (!json_is_string(method))
            rpc_outcome_error(&c->out, RPC_INVALID_REQUEST, "method: must be a string");
        else
            rpc_outcome_error(&c->out, RPC_INVALID_REQUEST,
                              "params: must be an object or an array");
        return;
    }
    c->id = id != NULL ? json_incref(id) : NULL;
    m = rpc_methods_find(json_string_value(method));
    c->method = m != NULL ? m->name : NULL;
    if (m != NULL && (m->flags & RPC_METHOD_MAIN) && l->index != 0) {
        c->rq = json_deep_copy(req); /* loop 0 runs it: nothing of `req` is shared */
        if (c->rq == NULL) {
            rpc_outcome_fail(&c->out, SBX_ENOMEM, "out of memory");
            return;
        }
        c->remote = 1;
        h->pending++;
        return; /* posted once every call of the request has run (process) */
    }
    rpc_methods_call(env, json_string_value(method), params, &c->out);
    if (c->out.stop)
        h->stop = 1;
    if (c->out.kind == RPC_OUT_SUBMIT || c->out.kind == RPC_OUT_SUBMIT_RAW ||
        c->out.kind == RPC_OUT_JOB) {
        h->pending++;
        if (l->index != 0 && wait_on_main(l->s, c))
            c->remote = 1; /* posted by process */
        else
            call_wait(l, c);
    }
}

/* Parse the body and run its calls; the reply goes out from finish(). */
static void
process(struct rpc_http *h, int role)
{
    struct rpc_server *s = h->l->s;
    struct evbuffer *in = evhttp_request_get_input_buffer(h->req);
    size_t len = evbuffer_get_length(in);
    const unsigned char *p = len ? evbuffer_pullup(in, -1) : NULL;
    struct rpc_env *env = &h->env;
    json_error_t je;
    json_t *body;
    char msg[SBX_ERR_MSG_MAX];

    body = p != NULL
               ? json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je)
               : NULL;
    if (body == NULL) {
        snprintf(msg, sizeof(msg), "parse error: %s", p != NULL ? je.text : "empty body");
        send_error(h->req, RPC_PARSE_ERROR, msg);
        h->req = NULL;
        http_free(h);
        return;
    }
    if (json_is_array(body)) {
        size_t n = json_array_size(body);

        if (n == 0 || n > s->max_batch) {
            if (n == 0)
                snprintf(msg, sizeof(msg), "empty batch");
            else
                snprintf(msg, sizeof(msg), "batch of %zu requests: more than rpcmaxbatch (%zu)", n,
                         s->max_batch);
            send_error(h->req, RPC_INVALID_REQUEST, msg);
            h->req = NULL;
            http_free(h);
            json_decref(body);
            return;
        }
        h->batch = 1;
        h->ncalls = n;
    } else {
        h->ncalls = 1;
    }
    h->calls = calloc(h->ncalls, sizeof(h->calls[0]));
    if (h->calls == NULL) {
        h->ncalls = 0;
        send_plain(h->req, 500, "Internal Server Error", "out of memory\n", 1);
        h->req = NULL;
        http_free(h);
        json_decref(body);
        return;
    }
    env->node = s->node;
    env->net = s->net;
    env->role = role;
    env->now_ms = time_now_ms();
    env->assets = s->assets;
    env->nassets = s->nassets;
    h->budget = RPC_RENDER_BUDGET;
    env->budget = &h->budget;
    h->pending = 1; /* held while dispatching: a node answer cannot finish us midway */
    for (size_t i = 0; i < h->ncalls; i++)
        run_call(h, &h->calls[i], h->batch ? json_array_get(body, i) : body, env);
    json_decref(body);
    /* loop 0 gets the remote calls only now: this thread no longer touches h->budget */
    for (size_t i = 0; i < h->ncalls; i++) {
        if (h->calls[i].remote) {
            h->calls[i].hop.fn = call_main_hop;
            rpc_loop_post(s->loops[0].loop, &h->calls[i].hop);
        }
    }
    if (--h->pending == 0)
        finish(h);
}

static void
auth_fail_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rpc_http *h = arg;

    (void)fd;
    (void)what;
    if (h->req != NULL) {
        evhttp_add_header(evhttp_request_get_output_headers(h->req), "WWW-Authenticate",
                          "Basic realm=\"sbx\"");
        send_plain(h->req, 401, "Unauthorized", "unauthorized\n", 0);
        h->req = NULL;
    }
    http_free(h);
}

/* ------------------------------------------------------------------ connections */

static struct rpc_conn *
conn_find(struct srv_loop *l, struct evhttp_connection *evcon)
{
    struct rpc_conn *c;

    TAILQ_FOREACH(c, &l->conns, link)
    {
        if (c->evcon == evcon)
            return c;
    }
    return NULL;
}

static void
conn_unlink(struct rpc_conn *c)
{
    TAILQ_REMOVE(&c->l->conns, c, link);
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
            http_free(h); /* waiting only for the 401 delay */
        /* else: freed when the node has answered every submission */
    }
    conn_unlink(c);
    atomic_fetch_sub(&c->l->s->nconns, 1);
    free(c);
}

/* A new connection: counted now, claimed (close callback installed) once evhttp has made it. */
static struct bufferevent *
bev_cb(struct event_base *base, void *arg)
{
    struct srv_loop *l = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, 0);
    size_t open;

    if (bev == NULL)
        return NULL;
    if (array_reserve(&l->claims, l->nclaims + 1, &l->claims_cap, sizeof(*l->claims), 16) != SBX_OK)
        return bev;                                /* not counted; still served */
    bufferevent_incref(bev);                       /* keeps the struct readable until claimed */
    open = atomic_fetch_add(&l->s->nconns, 1) + 1; /* one cap for every loop */
    l->claims[l->nclaims].bev = bev;
    l->claims[l->nclaims].refused = open > l->s->max_conns;
    l->nclaims++;
    event_active(l->claim_ev, EV_TIMEOUT, 0);
    return bev;
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
        if (c == NULL) {
            atomic_fetch_sub(&l->s->nconns, 1); /* already gone, or cannot be tracked */
        } else {
            c->l = l;
            c->evcon = cbarg;
            c->refused = l->claims[i].refused;
            TAILQ_INSERT_HEAD(&l->conns, c, link);
            evhttp_connection_set_closecb(c->evcon, conn_close_cb, c);
            if (c->refused)
                LOG_WARN(LOG_RPC, "connection refused: %zu open, rpcmaxconns is %zu",
                         atomic_load(&l->s->nconns), l->s->max_conns);
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
    http_free(h);
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
    struct rpc_http *h = http_new(l, req, conn);

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
    int role, metrics, events, page, get;

    if (evcon != NULL) {
        struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);

        if (bev != NULL)
            bufferevent_disable(bev, EV_READ); /* see the top of the file */
        conn = conn_find(l, evcon);
    }
    if (conn != NULL && conn->refused) {
        send_plain(req, 503, "Service Unavailable", "too many connections\n", 1);
        return;
    }
    if (path == NULL)
        path = "";
    if (strcmp(path, "/health") == 0) {
        if (cmd != EVHTTP_REQ_GET) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
            evhttp_send_error(req, 405, "Method Not Allowed");
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
        send_plain(req, 404, "Not Found", "not found\n", 0);
        return;
    }
    if (cmd != (get ? EVHTTP_REQ_GET : EVHTTP_REQ_POST)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", get ? "GET" : "POST");
        send_plain(req, 405, "Method Not Allowed", get ? "use GET\n" : "use POST\n", 0);
        return;
    }
    role = rpc_auth_check_header(
        s->auth, evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization"), NULL);
    if (page && role != 0) {
        rpc_dashboard_serve(req, path);
        return;
    }
    h = http_new(l, req, conn);
    if (h == NULL) {
        send_plain(req, 500, "Internal Server Error", "out of memory\n", 1);
        return;
    }
    if (role == 0) {
        /* answer a wrong password late, without holding up the loop */
        struct timeval tv = {s->auth_delay_ms / 1000, (s->auth_delay_ms % 1000) * 1000};

        LOG_DEBUG(LOG_RPC, "401 for a request without valid credentials");
        h->timer = evtimer_new(l->base, auth_fail_cb, h);
        if (h->timer == NULL || evtimer_add(h->timer, &tv) != 0) {
            auth_fail_cb(-1, 0, h);
            return;
        }
        return;
    }
    if (metrics) {
        http_free(h);
        page_serve(l, req, conn, PAGE_METRICS);
        return;
    }
    if (events) {
        const char *why;
        int code;

        http_free(h);
        code = rpc_events_serve(l->events, req, &why); /* any role may read */
        if (code != 0)
            send_plain(req, code, NULL, why, 0);
        return;
    }
    process(h, role);
}

/* ------------------------------------------------------------------ lifecycle */

/* The bound port of `fd` (0 if unknown). */
static int
bound_port(evutil_socket_t fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return 0;
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
    l->s = s;
    l->base = rpc_loop_base(l->loop);
    /* the node calls its watches on its own loop: a hub on another loop is woken by an event */
    rc = rpc_events_new(&l->events, l->base, s->node, l->index != 0, s->assets, s->nassets,
                        cfg->events_max_queue, err);
    if (rc)
        return rc;
    l->sink = node_sink_new(s->node, l->base);
    l->claim_ev = event_new(l->base, -1, 0, claim_cb, l);
    l->http = evhttp_new(l->base);
    if (l->sink == NULL || l->claim_ev == NULL || l->http == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    evhttp_set_allowed_methods(l->http, EVHTTP_REQ_POST | EVHTTP_REQ_GET);
    evhttp_set_max_body_size(l->http, (ev_ssize_t)s->max_body);
    evhttp_set_max_headers_size(l->http, MAX_HEADERS_SIZE);
    evhttp_set_timeout(l->http, IDLE_TIMEOUT_S);
    /* read (and drop) the rest of an oversized body so the client sees the 413 */
    evhttp_set_flags(l->http, EVHTTP_SERVER_LINGERING_CLOSE);
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

    errno = 0;
    sock = evhttp_bind_socket_with_handle(s->loops[0].http, bind, (ev_uint16_t)cfg->port);
    if (sock == NULL)
        return sbx_err_set(err, SBX_EIO, "rpc: cannot listen on %s port %d: %s", bind, cfg->port,
                           errno ? strerror(errno) : "bind failed");
    fd = evhttp_bound_socket_get_fd(sock);
    for (int i = 1; i < s->nloops; i++) {
        evutil_socket_t dfd = dup(fd);

        if (dfd < 0 || evutil_make_socket_nonblocking(dfd) != 0 ||
            evhttp_accept_socket_with_handle(s->loops[i].http, dfd) == NULL) {
            if (dfd >= 0)
                close(dfd);
            return sbx_err_set(err, SBX_EIO, "rpc: cannot share the listening socket: %s",
                               strerror(errno));
        }
    }
    s->port = bound_port(fd);
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
    s->nassets = g->nassets < SBX_MAX_ASSETS ? g->nassets : SBX_MAX_ASSETS;
    memcpy(s->assets, g->assets, s->nassets * sizeof(s->assets[0]));
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
    rc = rpc_auth_new(&s->auth, cfg->rpcauth, cfg->rpcauth != NULL ? cfg->nrpcauth : 0,
                      cfg->cookie_path, err);
    if (rc)
        goto fail;
    s->metrics = rpc_metrics_new();
    s->stop_ev = event_new(base, -1, 0, stop_cb, s);
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
            http_free(h);
    }
    if (l->http != NULL)
        evhttp_free(l->http); /* closes every connection: conn_close_cb frees our records */
    while ((c = TAILQ_FIRST(&l->conns)) != NULL) {
        conn_unlink(c);
        free(c);
    }
    rpc_events_free(l->events);
    for (size_t i = 0; i < l->nclaims; i++)
        bufferevent_decref(l->claims[i].bev);
    free(l->claims);
    if (l->claim_ev != NULL)
        event_free(l->claim_ev);
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
