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

#include "compliance/engine.h"
#include "node/node.h"
#include "rpc/auth.h"
#include "rpc/dashboard.h"
#include "rpc/events.h"
#include "rpc/health.h"
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

struct rpc_http;

/* A connection just accepted: its bufferevent, and whether it came over the cap. */
struct claim {
    struct bufferevent *bev;
    int refused;
};

/* One accepted connection. */
struct rpc_conn {
    struct rpc_server *s;
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
};

/* One HTTP request. */
struct rpc_http {
    struct rpc_server *s;       /* NULL once the server is gone */
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
    TAILQ_ENTRY(rpc_http) link; /* in the server's live list while `s` is set */
};

struct rpc_server {
    struct event_base *base;
    struct node *node;
    struct node_net *net;
    struct evhttp *http;
    struct rpc_auth *auth;
    struct rpc_metrics *metrics;
    struct rpc_events *events; /* GET /events */
    int port;
    size_t max_body;
    size_t max_batch;
    size_t max_conns;
    int auth_delay_ms;
    struct ledger_asset_def assets[SBX_MAX_ASSETS];
    size_t nassets;
    /* connections */
    TAILQ_HEAD(, rpc_conn) conns;
    size_t nconns;        /* counted from accept, including those not yet claimed */
    struct claim *claims; /* accepted, not yet claimed */
    size_t nclaims, claims_cap;
    struct event *claim_ev;
    /* requests in progress */
    TAILQ_HEAD(, rpc_http) live;
    /* stop */
    void (*stop_fn)(void *arg);
    void *stop_arg;
    struct event *stop_ev;
    int stop_armed, stop_fired;
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

    if (s->stop_armed)
        return;
    s->stop_armed = 1;
    evtimer_add(s->stop_ev, &tv);
}

/* ------------------------------------------------------------------ request contexts */

static void
live_unlink(struct rpc_http *h)
{
    if (h->s == NULL)
        return;
    TAILQ_REMOVE(&h->s->live, h, link);
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
    free(h);
}

static struct rpc_http *
http_new(struct rpc_server *s, struct evhttp_request *req, struct rpc_conn *conn)
{
    struct rpc_http *h = calloc(1, sizeof(*h));

    if (h == NULL)
        return NULL;
    h->s = s;
    h->req = req;
    h->conn = conn;
    h->t0_us = time_mono_us();
    if (conn != NULL)
        conn->cur = h;
    TAILQ_INSERT_HEAD(&s->live, h, link);
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
    json_t *body = NULL;

    if (h->stop && h->s != NULL)
        arm_stop(h->s);
    for (size_t i = 0; h->s != NULL && i < h->ncalls; i++)
        rpc_metrics_observe(h->s->metrics, h->calls[i].method,
                            h->calls[i].out.kind == RPC_OUT_ERROR ? h->calls[i].out.code : 0,
                            (double)(time_mono_us() - h->t0_us) / 1e6);
    if (req == NULL) {
        if (h->stop && h->s != NULL)
            event_active(h->s->stop_ev, EV_TIMEOUT, 0);
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
    if (h->stop && h->s != NULL)
        evhttp_request_set_on_complete_cb(req, stop_reply_done, h->s);
    if (body != NULL)
        send_json(req, body);
    else
        evhttp_send_reply(req, 204, "No Content", NULL);
    json_decref(body);
    http_free(h);
}

/* One call that waited for the node has its answer: reply once the last one has. */
static void
call_answered(struct rpc_call *c)
{
    struct rpc_http *h = c->h;

    if (--h->pending == 0)
        finish(h);
}

/* The node's answer to one submission (on the event loop). */
static void
submit_done(void *arg, const struct node_result *r)
{
    struct rpc_call *c = arg;

    rpc_methods_submit_done(&c->out, r);
    call_answered(c);
}

/* A call's background job (RPC_OUT_JOB), on the node's job thread: the call waits, untouched. */
static int
job_run(void *arg, struct sbx_err *err)
{
    struct rpc_call *c = arg;

    return c->out.job->run(c->out.job, err);
}

/* The job's end (on the event loop). */
static void
job_done(void *arg, int rc, const struct sbx_err *err)
{
    struct rpc_call *c = arg;

    rpc_outcome_job_done(&c->out, rc, err);
    call_answered(c);
}

/* Check one request object of the envelope and run its method. */
static void
run_call(struct rpc_http *h, struct rpc_call *c, json_t *req, const struct rpc_env *env)
{
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
    c->method = rpc_methods_find(json_string_value(method)) != NULL
                    ? rpc_methods_find(json_string_value(method))->name
                    : NULL;
    rpc_methods_call(env, json_string_value(method), params, &c->out);
    if (c->out.stop)
        h->stop = 1;
    if (c->out.kind == RPC_OUT_SUBMIT) {
        struct ledger_tx *tx = c->out.tx;

        c->out.tx = NULL;
        h->pending++;
        node_submit(env->node, tx, submit_done, c); /* copies tx; may answer at once */
        free(tx);
    } else if (c->out.kind == RPC_OUT_SUBMIT_RAW) {
        uint8_t *raw = c->out.raw;
        size_t len = c->out.rawlen;

        c->out.raw = NULL;
        c->out.rawlen = 0;
        h->pending++;
        node_submit_raw(env->node, raw, len, submit_done, c);
        free(raw);
    } else if (c->out.kind == RPC_OUT_JOB) {
        h->pending++;
        node_job_async(env->node, job_run, job_done, c);
    }
}

/* Parse the body and run its calls; the reply goes out from finish(). */
static void
process(struct rpc_http *h, int role)
{
    struct rpc_server *s = h->s;
    struct evbuffer *in = evhttp_request_get_input_buffer(h->req);
    size_t len = evbuffer_get_length(in);
    const unsigned char *p = len ? evbuffer_pullup(in, -1) : NULL;
    struct rpc_env env;
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
    env.node = s->node;
    env.net = s->net;
    env.role = role;
    env.now_ms = time_now_ms();
    env.assets = s->assets;
    env.nassets = s->nassets;
    h->budget = RPC_RENDER_BUDGET;
    env.budget = &h->budget;
    h->pending = 1; /* held while dispatching: a node answer cannot finish us midway */
    for (size_t i = 0; i < h->ncalls; i++)
        run_call(h, &h->calls[i], h->batch ? json_array_get(body, i) : body, &env);
    json_decref(body);
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
conn_find(struct rpc_server *s, struct evhttp_connection *evcon)
{
    struct rpc_conn *c;

    TAILQ_FOREACH(c, &s->conns, link)
    {
        if (c->evcon == evcon)
            return c;
    }
    return NULL;
}

static void
conn_unlink(struct rpc_conn *c)
{
    TAILQ_REMOVE(&c->s->conns, c, link);
}

/* libevent is about to free the connection (and, unless it was detached, its request). */
static void
conn_close_cb(struct evhttp_connection *evcon, void *arg)
{
    struct rpc_conn *c = arg;
    struct rpc_http *h = c->cur;

    rpc_events_closed(c->s->events, evcon);
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
    if (c->s->nconns > 0)
        c->s->nconns--;
    free(c);
}

/* A new connection: counted now, claimed (close callback installed) once evhttp has made it. */
static struct bufferevent *
bev_cb(struct event_base *base, void *arg)
{
    struct rpc_server *s = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, 0);

    if (bev == NULL)
        return NULL;
    if (array_reserve(&s->claims, s->nclaims + 1, &s->claims_cap, sizeof(*s->claims), 16) != SBX_OK)
        return bev;          /* not counted; still served */
    bufferevent_incref(bev); /* keeps the struct readable until claimed */
    s->nconns++;
    s->claims[s->nclaims].bev = bev;
    s->claims[s->nclaims].refused = s->nconns > s->max_conns;
    s->nclaims++;
    event_active(s->claim_ev, EV_TIMEOUT, 0);
    return bev;
}

/* Runs in the same loop pass as the accept, before any byte is read from the new connections:
 * find each one's evhttp_connection (the bufferevent's callback argument) and hook its close. */
static void
claim_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rpc_server *s = arg;

    (void)fd;
    (void)what;
    for (size_t i = 0; i < s->nclaims; i++) {
        struct bufferevent *bev = s->claims[i].bev;
        bufferevent_data_cb rcb = NULL, wcb = NULL;
        bufferevent_event_cb ecb = NULL;
        void *cbarg = NULL;
        struct rpc_conn *c;

        bufferevent_getcb(bev, &rcb, &wcb, &ecb, &cbarg);
        c = cbarg != NULL ? calloc(1, sizeof(*c)) : NULL;
        if (c == NULL) {
            s->nconns--; /* already gone, or cannot be tracked */
        } else {
            c->s = s;
            c->evcon = cbarg;
            c->refused = s->claims[i].refused;
            TAILQ_INSERT_HEAD(&s->conns, c, link);
            evhttp_connection_set_closecb(c->evcon, conn_close_cb, c);
            if (c->refused)
                LOG_WARN(LOG_RPC, "connection refused: %zu open, rpcmaxconns is %zu", s->nconns,
                         s->max_conns);
        }
        bufferevent_decref(bev);
    }
    s->nclaims = 0;
}

/* ------------------------------------------------------------------ the HTTP callback */

static void
http_cb(struct evhttp_request *req, void *arg)
{
    struct rpc_server *s = arg;
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
        conn = conn_find(s, evcon);
    }
    if (conn != NULL && conn->refused) {
        send_plain(req, 503, "Service Unavailable", "too many connections\n", 1);
        return;
    }
    if (path == NULL)
        path = "";
    if (strcmp(path, "/health") == 0) {
        rpc_health_serve(s->node, req);
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
    h = http_new(s, req, conn);
    if (h == NULL) {
        send_plain(req, 500, "Internal Server Error", "out of memory\n", 1);
        return;
    }
    if (role == 0) {
        /* answer a wrong password late, without holding up the loop */
        struct timeval tv = {s->auth_delay_ms / 1000, (s->auth_delay_ms % 1000) * 1000};

        LOG_DEBUG(LOG_RPC, "401 for a request without valid credentials");
        h->timer = evtimer_new(s->base, auth_fail_cb, h);
        if (h->timer == NULL || evtimer_add(h->timer, &tv) != 0) {
            auth_fail_cb(-1, 0, h);
            return;
        }
        return;
    }
    if (metrics) {
        rpc_metrics_serve(s->metrics, s->node, req);
        h->req = NULL;
        http_free(h);
        return;
    }
    if (events) {
        const char *why;
        int code;

        http_free(h);
        code = rpc_events_serve(s->events, req, &why); /* any role may read */
        if (code != 0)
            send_plain(req, code, NULL, why, 0);
        return;
    }
    process(h, role);
}

/* ------------------------------------------------------------------ lifecycle */

int
rpc_server_new(struct rpc_server **out, struct event_base *base, struct node *node,
               const struct rpc_config *cfg, struct sbx_err *err)
{
    struct rpc_server *s;
    struct evhttp_bound_socket *sock;
    const struct ledger_genesis *g;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    const char *bind = cfg->bind != NULL ? cfg->bind : "127.0.0.1";
    int rc;

    *out = NULL;
    if (cfg->port < 0 || cfg->port > 65535)
        return sbx_err_set(err, SBX_EINVAL, "rpcport: %d is not a port", cfg->port);
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    TAILQ_INIT(&s->conns);
    TAILQ_INIT(&s->live);
    s->base = base;
    s->node = node;
    s->net = cfg->net;
    s->max_body = cfg->max_body > 0 ? cfg->max_body : DEFAULT_MAX_BODY;
    s->max_batch = cfg->max_batch > 0 ? (size_t)cfg->max_batch : DEFAULT_MAX_BATCH;
    s->max_conns = cfg->max_conns > 0 ? (size_t)cfg->max_conns : DEFAULT_MAX_CONNS;
    s->auth_delay_ms =
        cfg->auth_fail_delay_ms >= 0 ? cfg->auth_fail_delay_ms : DEFAULT_AUTH_DELAY_MS;

    g = node_genesis(node); /* immutable while the node is open */
    s->nassets = g->nassets < SBX_MAX_ASSETS ? g->nassets : SBX_MAX_ASSETS;
    memcpy(s->assets, g->assets, s->nassets * sizeof(s->assets[0]));

    rc = rpc_auth_new(&s->auth, cfg->rpcauth, cfg->rpcauth != NULL ? cfg->nrpcauth : 0,
                      cfg->cookie_path, err);
    rc = rc ? rc
            : rpc_events_new(&s->events, base, node, s->assets, s->nassets, cfg->events_max_queue,
                             err);
    if (rc)
        goto fail;
    s->metrics = rpc_metrics_new();
    s->claim_ev = event_new(base, -1, 0, claim_cb, s);
    s->stop_ev = event_new(base, -1, 0, stop_cb, s);
    s->http = evhttp_new(base);
    if (s->claim_ev == NULL || s->stop_ev == NULL || s->http == NULL || s->metrics == NULL) {
        rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
        goto fail;
    }
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_POST | EVHTTP_REQ_GET);
    evhttp_set_max_body_size(s->http, (ev_ssize_t)s->max_body);
    evhttp_set_max_headers_size(s->http, MAX_HEADERS_SIZE);
    evhttp_set_timeout(s->http, IDLE_TIMEOUT_S);
    /* read (and drop) the rest of an oversized body so the client sees the 413 */
    evhttp_set_flags(s->http, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_gencb(s->http, http_cb, s);
    evhttp_set_bevcb(s->http, bev_cb, s);
    errno = 0;
    sock = evhttp_bind_socket_with_handle(s->http, bind, (ev_uint16_t)cfg->port);
    if (sock == NULL) {
        rc = sbx_err_set(err, SBX_EIO, "rpc: cannot listen on %s port %d: %s", bind, cfg->port,
                         errno ? strerror(errno) : "bind failed");
        goto fail;
    }
    if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    if (s->port == 0)
        s->port = cfg->port;
    *out = s;
    return SBX_OK;
fail:
    rpc_server_free(s);
    return rc;
}

void
rpc_server_free(struct rpc_server *s)
{
    struct rpc_http *h;
    struct rpc_conn *c;

    if (s == NULL)
        return;
    /* Orphan every request: evhttp_free below frees the evhttp requests, and contexts that
     * wait for the node free themselves when it answers. */
    while ((h = TAILQ_FIRST(&s->live)) != NULL) {
        TAILQ_REMOVE(&s->live, h, link);
        h->s = NULL;
        h->req = NULL;
        if (h->conn != NULL)
            h->conn->cur = NULL;
        h->conn = NULL;
        if (h->pending == 0)
            http_free(h);
    }
    if (s->http != NULL)
        evhttp_free(s->http); /* closes every connection: conn_close_cb frees our records */
    while ((c = TAILQ_FIRST(&s->conns)) != NULL) {
        conn_unlink(c);
        free(c);
    }
    rpc_events_free(s->events);
    for (size_t i = 0; i < s->nclaims; i++)
        bufferevent_decref(s->claims[i].bev);
    free(s->claims);
    if (s->claim_ev != NULL)
        event_free(s->claim_ev);
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
