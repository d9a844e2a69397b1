/* verifychain: re-verify stored blocks, on a thread of its own so that the event loop (RPC,
 * peer links) keeps serving. One at a time; node_close cancels a running one between blocks.
 *
 * Threads: verify_main (and the node_verify it calls) runs on the verifychain thread;
 * node_verify_async, verify_finish, verify_done_cb and node_verify_cancel on the event-loop
 * thread. node_verify may also be called directly from any thread (the store is thread-safe).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "node/node_int.h"

/* Block ranges the store check takes at a time, so that a stop need not wait for all of it. */
#define VERIFY_STEP 1000

struct verify_job {
    struct node *n;
    uint64_t from, to;
    node_verify_fn fn;
    void *arg;
    pthread_t thr;
    struct event *done;
    struct node_verify_result res; /* written by the thread, read after pthread_join */
};

int
node_verify(struct node *n, uint64_t from, uint64_t to, uint64_t *checked, uint64_t *failed_at,
            struct sbx_err *err)
{
    uint64_t done = 0;
    int rc = SBX_OK;

    *checked = 0;
    *failed_at = 0;
    for (uint64_t a = from; a <= to && rc == SBX_OK;) {
        uint64_t b = to - a >= VERIFY_STEP ? a + VERIFY_STEP - 1 : to, k = 0;

        if (atomic_load_explicit(&n->verify.cancel, memory_order_relaxed))
            return sbx_err_set(err, SBX_EUNAVAIL, "verification stopped: the node is stopping");
        rc = ledger_store_verify(node_chain_store(n->chain), a, b, &k, failed_at, err);
        done += k;
        if (rc || b == UINT64_MAX)
            break;
        a = b + 1;
        if (a > to || k == 0)
            break; /* the tip is below `to`: nothing more is stored */
    }
    *checked = done;
    if (rc)
        return rc;
    return node_chain_replay_check(n->chain, from, to, checked, failed_at, &n->verify.cancel, err);
}

static void *
verify_main(void *arg)
{
    struct verify_job *v = arg;
    struct sbx_err err;

    sbx_err_clear(&err);
    v->res.rc = node_verify(v->n, v->from, v->to, &v->res.checked, &v->res.failed_at, &err);
    snprintf(v->res.message, sizeof(v->res.message), "%s", err.msg);
    event_active(v->done, EV_TIMEOUT, 0);
    return NULL;
}

/* Once the thread is done (or from node_close): join it and deliver its result. */
static void
verify_finish(struct node *n)
{
    struct verify_job *v = n->verify.job;

    if (v == NULL)
        return;
    pthread_join(v->thr, NULL);
    n->verify.job = NULL;
    event_free(v->done);
    v->fn(v->arg, &v->res);
    free(v);
}

static void
verify_done_cb(evutil_socket_t fd, short what, void *arg)
{
    verify_finish(arg);
}

static void
verify_refuse(node_verify_fn fn, void *arg, int rc, const char *msg)
{
    struct node_verify_result r;

    memset(&r, 0, sizeof(r));
    r.rc = rc;
    snprintf(r.message, sizeof(r.message), "%s", msg);
    fn(arg, &r);
}

void
node_verify_async(struct node *n, uint64_t from, uint64_t to, node_verify_fn fn, void *arg)
{
    struct verify_job *v;

    if (n->verify.job != NULL || n->stopping) {
        verify_refuse(fn, arg, SBX_EUNAVAIL,
                      n->stopping ? "the node is shutting down"
                                  : "a verifychain is already running; retry when it has "
                                    "finished");
        return;
    }
    v = calloc(1, sizeof(*v));
    if (v != NULL)
        v->done = event_new(n->base, -1, 0, verify_done_cb, n);
    if (v == NULL || v->done == NULL) {
        free(v);
        verify_refuse(fn, arg, SBX_ENOMEM, "out of memory");
        return;
    }
    v->n = n;
    v->from = from;
    v->to = to;
    v->fn = fn;
    v->arg = arg;
    n->verify.job = v;
    if (pthread_create(&v->thr, NULL, verify_main, v) != 0) {
        n->verify.job = NULL;
        event_free(v->done);
        free(v);
        verify_refuse(fn, arg, SBX_EINTERNAL, "cannot start a thread");
    }
}

void
node_verify_cancel(struct node *n)
{
    /* a running verifychain stops at its next block; its caller gets an answer */
    atomic_store_explicit(&n->verify.cancel, 1, memory_order_relaxed);
    verify_finish(n);
}
