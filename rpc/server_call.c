/* The JSON-RPC side of the server: a request's context, its calls run through the method
 * table, the hand-over of submissions to the node (node_sink_submit) and of the calls that need
 * the node's loop to loop 0 and back (hops), and the reply in call order.
 *
 * Threads: everything runs on the thread of the request's loop, except call_main_hop (and what
 * it calls: the handler, call_wait, and submit_done and job_done of its waits), which runs on
 * loop 0 for a remote call, and every hop's `cancelled` path, which runs on the thread that
 * frees the server once every loop has stopped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "node/node.h"
#include "rpc/methods.h"
#include "rpc/metrics.h"
#include "rpc/render.h"
#include "rpc/request.h"
#include "rpc/server_int.h"
#include "util/log.h"
#include "util/time.h"

#define STOP_FALLBACK_MS 1000 /* stop even if the reply to `stop` is never written */
#define SPARE_MAX 64          /* request contexts a loop keeps for reuse */

/* ------------------------------------------------------------------ replies */

/* A reply being written: the small pieces of its JSON gather here and reach the request's
 * output buffer in a few evbuffer_add calls (Jansson hands its writer one token at a time). */
struct reply {
    struct evbuffer *out;
    size_t n;
    int failed; /* out of memory */
    char b[2048];
};

static void
reply_flush(struct reply *w)
{
    if (w->n > 0 && evbuffer_add(w->out, w->b, w->n) != 0)
        w->failed = 1;
    w->n = 0;
}

static void
reply_put(struct reply *w, const char *p, size_t len)
{
    if (w->n + len > sizeof(w->b)) {
        reply_flush(w);
        if (len > sizeof(w->b)) {
            if (evbuffer_add(w->out, p, len) != 0)
                w->failed = 1;
            return;
        }
    }
    memcpy(w->b + w->n, p, len);
    w->n += len;
}

#define REPLY_LIT(w, lit) reply_put((w), (lit), sizeof(lit) - 1)

static int
reply_dump_cb(const char *buffer, size_t size, void *data)
{
    struct reply *w = data;

    reply_put(w, buffer, size);
    return w->failed ? -1 : 0;
}

/* `j` as Jansson writes it compactly (an integer id without Jansson). */
static void
reply_json(struct reply *w, const json_t *j)
{
    if (json_is_integer(j)) {
        char num[24];
        int n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));

        reply_put(w, num, (size_t)n);
    } else if (j == NULL ||
               json_dump_callback(j, reply_dump_cb, w, JSON_COMPACT | JSON_ENCODE_ANY) != 0) {
        w->failed = 1;
    }
}

/* {"jsonrpc":"2.0","id":ID,"error":{...}} with the error of `o` (ID NULL: null). */
static void
reply_error(struct reply *w, const json_t *id, const struct rpc_outcome *o)
{
    json_t *e = rpc_methods_error_object(o);

    REPLY_LIT(w, "{\"jsonrpc\":\"2.0\",\"id\":");
    if (id != NULL)
        reply_json(w, id);
    else
        REPLY_LIT(w, "null");
    REPLY_LIT(w, ",\"error\":");
    reply_json(w, e);
    REPLY_LIT(w, "}");
    json_decref(e);
}

void
rpc_server_call_send_plain(struct evhttp_request *req, int code, const char *reason,
                           const char *body, int close)
{
    struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
    struct evbuffer *buf = evhttp_request_get_output_buffer(req);

    evbuffer_drain(buf, evbuffer_get_length(buf)); /* a reply that failed midway */
    evhttp_add_header(oh, "Content-Type", "text/plain; charset=utf-8");
    if (close && evhttp_find_header(oh, "Connection") == NULL)
        evhttp_add_header(oh, "Connection", "close");
    evbuffer_add(buf, body, strlen(body));
    evhttp_send_reply(req, code, reason, NULL);
}

/* Send what `w` wrote (and a newline) as the JSON reply to `req`. */
static void
reply_send(struct evhttp_request *req, struct reply *w)
{
    REPLY_LIT(w, "\n");
    reply_flush(w);
    if (w->failed) {
        LOG_ERROR(LOG_RPC, "out of memory writing a reply");
        rpc_server_call_send_plain(req, 500, "Internal Server Error", "out of memory\n", 1);
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, 200, "OK", NULL); /* the body is in the request's output buffer */
}

/* {"jsonrpc":"2.0","id":null,"error":{...}} for an error found before any call ran. */
static void
send_error(struct evhttp_request *req, int code, const char *message)
{
    struct reply w = {.out = evhttp_request_get_output_buffer(req)};
    struct rpc_outcome o;

    rpc_outcome_init(&o);
    rpc_outcome_error(&o, code, "%s", message);
    reply_error(&w, NULL, &o);
    rpc_outcome_release(&o);
    reply_send(req, &w);
}

/* ------------------------------------------------------------------ stop */

void
rpc_server_call_stop_cb(evutil_socket_t fd, short what, void *arg)
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

void
rpc_server_call_free(struct rpc_http *h)
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
    if (h->calls != &h->one)
        free(h->calls);
    if (h->body != NULL)
        evbuffer_free(h->body);
    if (h->l != NULL && h->l->nspare < SPARE_MAX) {
        TAILQ_INSERT_HEAD(&h->l->spare, h, link); /* its loop's thread (or every loop stopped) */
        h->l->nspare++;
    } else {
        free(h);
    }
}

void
rpc_server_call_spares_free(struct srv_loop *l)
{
    struct rpc_http *h;

    while ((h = TAILQ_FIRST(&l->spare)) != NULL) {
        TAILQ_REMOVE(&l->spare, h, link);
        free(h);
    }
    l->nspare = 0;
}

struct rpc_http *
rpc_server_call_new(struct srv_loop *l, struct evhttp_request *req, struct rpc_conn *conn)
{
    struct rpc_http *h = TAILQ_FIRST(&l->spare);

    if (h != NULL) {
        TAILQ_REMOVE(&l->spare, h, link);
        l->nspare--;
        memset(h, 0, sizeof(*h));
    } else if ((h = calloc(1, sizeof(*h))) == NULL) {
        return NULL;
    }
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

/* The response of one call (nothing for a notification): the text Jansson would write for
 * {"jsonrpc", "id", "result" or "error"}, a receipt written without a tree. */
static void
call_write(struct reply *w, const struct rpc_call *c)
{
    if (c->out.kind == RPC_OUT_RESULT && (c->out.has_receipt || c->out.result != NULL)) {
        REPLY_LIT(w, "{\"jsonrpc\":\"2.0\",\"id\":");
        reply_json(w, c->id);
        REPLY_LIT(w, ",\"result\":");
        if (c->out.has_receipt) {
            char text[RPC_RECEIPT_TEXT_MAX];

            reply_put(w, text, rpc_render_receipt_text(text, &c->out.receipt));
        } else {
            reply_json(w, c->out.result);
        }
        REPLY_LIT(w, "}");
    } else if (c->out.kind == RPC_OUT_ERROR) {
        reply_error(w, c->id, &c->out);
    } else {
        struct rpc_outcome o;

        rpc_outcome_init(&o);
        rpc_outcome_fail(&o, SBX_EINTERNAL, "a call ended without an answer");
        reply_error(w, c->id, &o);
        rpc_outcome_release(&o);
    }
}

/* Write the reply of every call of `h` to `req`: one response, a batch's array of them, or 204
 * when every call was a notification. */
static void
reply_calls(struct rpc_http *h, struct evhttp_request *req)
{
    struct reply w = {.out = evhttp_request_get_output_buffer(req)};
    size_t n = 0;

    for (size_t i = 0; i < h->ncalls; i++)
        n += h->calls[i].id != NULL;
    if (n == 0 || (!h->batch && h->ncalls != 1)) {
        evhttp_send_reply(req, 204, "No Content", NULL);
        return;
    }
    if (h->batch)
        REPLY_LIT(&w, "[");
    for (size_t i = 0, k = 0; i < h->ncalls; i++) {
        if (h->calls[i].id == NULL)
            continue;
        if (k++ > 0)
            REPLY_LIT(&w, ",");
        call_write(&w, &h->calls[i]);
    }
    if (h->batch)
        REPLY_LIT(&w, "]");
    reply_send(req, &w);
}

/* Every call is answered: reply (if the client is still there) and free the context. */
static void
finish(struct rpc_http *h)
{
    struct evhttp_request *req = h->req;
    struct rpc_server *s = h->l != NULL ? h->l->s : NULL;

    if (h->stop && s != NULL)
        arm_stop(s);
    for (size_t i = 0; s != NULL && i < h->ncalls; i++)
        rpc_metrics_observe(s->metrics, h->calls[i].method,
                            h->calls[i].out.kind == RPC_OUT_ERROR ? h->calls[i].out.code : 0,
                            (double)(time_mono_us() - h->t0_us) / 1e6);
    if (req == NULL) {
        if (h->stop && s != NULL)
            event_active(s->stop_ev, EV_TIMEOUT, 0);
        rpc_server_call_free(h);
        return;
    }
    h->req = NULL;
    if (h->stop && s != NULL)
        evhttp_request_set_on_complete_cb(req, stop_reply_done, s);
    reply_calls(h, req);
    rpc_server_call_free(h);
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
        if (l->tx_spare == NULL)
            l->tx_spare = tx; /* the next submission on this loop builds into it */
        else
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
        struct rpc_env env = h->env;

        env.tx_spare = &h->home->s->loops[0].tx_spare; /* this thread's slot */
        rpc_methods_call(&env, json_string_value(json_object_get(c->rq, "method")),
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
    struct rpc_request r;
    char msg[SBX_ERR_MSG_MAX];

    c->h = h;
    rpc_outcome_init(&c->out);
    if (rpc_request_check(req, &r, msg) != 0) {
        c->id = r.id != NULL ? json_incref(r.id) : json_null();
        rpc_outcome_error(&c->out, RPC_INVALID_REQUEST, "%s", msg);
        return;
    }
    c->id = r.id != NULL ? json_incref(r.id) : NULL;
    m = rpc_methods_find(r.method);
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
    rpc_methods_call(env, r.method, r.params, &c->out);
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
void
rpc_server_call_process(struct rpc_http *h, int role)
{
    struct rpc_server *s = h->l->s;
    struct evbuffer *in = evhttp_request_get_input_buffer(h->req);
    size_t len = evbuffer_get_length(in);
    const unsigned char *p = len ? evbuffer_pullup(in, -1) : NULL;
    struct rpc_env *env = &h->env;
    json_t *body;
    char msg[SBX_ERR_MSG_MAX];
    int code;

    code = rpc_request_parse((const char *)p, p != NULL ? len : 0, s->max_batch, &body, msg);
    if (code != 0) {
        send_error(h->req, code, msg);
        h->req = NULL;
        rpc_server_call_free(h);
        return;
    }
    h->batch = json_is_array(body);
    h->ncalls = h->batch ? json_array_size(body) : 1;
    h->calls = h->ncalls == 1 ? &h->one : calloc(h->ncalls, sizeof(h->calls[0]));
    if (h->calls == NULL) {
        h->ncalls = 0;
        rpc_server_call_send_plain(h->req, 500, "Internal Server Error", "out of memory\n", 1);
        h->req = NULL;
        rpc_server_call_free(h);
        json_decref(body);
        return;
    }
    env->node = s->node;
    env->net = s->net;
    env->role = role;
    env->now_ms = time_now_ms();
    env->assets = s->assets;
    env->nassets = s->nassets;
    env->tx_spare = &h->l->tx_spare;
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
