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
#include "rpc/request.h"
#include "rpc/server_int.h"
#include "util/log.h"
#include "util/time.h"

#define STOP_FALLBACK_MS 1000 /* stop even if the reply to `stop` is never written */

/* ------------------------------------------------------------------ replies */

static int
dump_cb(const char *buffer, size_t size, void *data)
{
    return evbuffer_add(data, buffer, size) == 0 ? 0 : -1;
}

void
rpc_server_call_send_plain(struct evhttp_request *req, int code, const char *reason,
                           const char *body, int close)
{
    struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
    struct evbuffer *buf = evbuffer_new();

    evhttp_add_header(oh, "Content-Type", "text/plain; charset=utf-8");
    if (close && evhttp_find_header(oh, "Connection") == NULL)
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
        rpc_server_call_send_plain(req, 500, "Internal Server Error", "out of memory\n", 1);
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
        rpc_server_call_send_plain(req, 500, "Internal Server Error", "out of memory\n", 1);
        return;
    }
    send_json(req, resp);
    json_decref(resp);
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
    free(h->calls);
    if (h->body != NULL)
        evbuffer_free(h->body);
    free(h);
}

struct rpc_http *
rpc_server_call_new(struct srv_loop *l, struct evhttp_request *req, struct rpc_conn *conn)
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
        rpc_server_call_free(h);
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
    h->calls = calloc(h->ncalls, sizeof(h->calls[0]));
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
