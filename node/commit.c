/* The committer (operator and followers) and the hand-over of results to the event loop.
 *
 *   sealed blocks --committer: one synced LevelDB batch per round--> durable tip, doneq
 *   doneq --event loop: callbacks (the RPC replies), then the network layer hears of the tip
 *
 * Group commit: every block queued when the committer looks is written in one commit (a
 * follower catching up queues many; the operator rarely more than one). Nothing is acknowledged
 * before its block is synced.
 *
 * Threads: committer_main runs on the committer thread; node_commit_push_locked,
 * node_commit_idle_locked, node_commit_complete_locked and node_commit_complete_one on the
 * sequencer, workers, applier or committer (mu held or taken); node_commit_init,
 * node_commit_start, node_commit_stop, node_commit_deliver, done_cb, notify and node_tip on the
 * event-loop thread; node_storage_failure on any thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "node/node_int.h"
#include "util/array.h"
#include "util/log.h"
#include "util/time.h"
#include "util/par.h"

/* ------------------------------------------------------------------ queues (mu held) */

void
node_commit_push_locked(struct node *n, struct sealed_item *it)
{
    STAILQ_INSERT_TAIL(&n->commit.queue, it, link);
    n->commit.nqueued++;
    pthread_cond_signal(&n->commit.cv);
}

int
node_commit_idle_locked(const struct node *n)
{
    return STAILQ_EMPTY(&n->commit.queue) && !n->commit.committing;
}

int64_t
node_commit_seal_at_locked(const struct node *n)
{
    if (!STAILQ_EMPTY(&n->commit.queue))
        return INT64_MAX;
    if (!n->commit.committing)
        return 0;
    /* sealing takes a fraction of a write: the last quarter of one covers it and the wake-ups */
    return n->commit.started_us + n->commit.ewma_us * 3 / 4;
}

void
node_commit_complete_locked(struct node *n, struct jobq *jobs)
{
    if (STAILQ_EMPTY(&jobs->head))
        return;
    n->pipe.inflight -= jobs->n;
    node_sink_dispatch_locked(jobs); /* those of other loops */
    if (STAILQ_EMPTY(&jobs->head))
        return;
    node_pipeline_jobq_concat(&n->commit.doneq, jobs);
    event_active(n->commit.done_ev, EV_READ, 0);
}

void
node_commit_complete_one(struct node *n, struct job *j)
{
    struct jobq q;

    node_pipeline_jobq_init(&q);
    j->decided = 1;
    node_pipeline_jobq_push(&q, j);
    pthread_mutex_lock(&n->mu);
    node_commit_complete_locked(n, &q);
    pthread_mutex_unlock(&n->mu);
}

/* ------------------------------------------------------------------ the committer */

/* The first failed write: the node stops taking submissions (reads go on) and raises the
 * critical node alert storage_failed. A failed write is not retried: LevelDB keeps a failed
 * sync as the open database's error, and the engine's state is already past the block. */
static void
commit_failed(struct node *n, uint64_t height, const char *detail)
{
    const char *cause;

    LOG_ERROR(LOG_NODE, "writing block %llu failed: %s; the node stops taking submissions",
              (unsigned long long)height, detail);
    node_pipeline_fail(n, NODE_FAILURE_STORE);
    cause = node_storage_failure(n);
    if (cause == NULL)
        return; /* an internal failure came first: already reported */
    node_alert(n, NODE_ALERT_CRITICAL, "storage_failed", height, NULL, NULL,
               "block %llu could not be written (%s): submissions are refused (-32004) until "
               "the node is restarted; reads go on",
               (unsigned long long)height, cause);
}

/* Write the blocks of `list` in one commit; on failure refuse their jobs (-32004: none of them
 * was acknowledged) and stop taking submissions. Returns SBX_OK or the error. `arr` is grown to
 * hold the blocks. */
static int
commit_write(struct node *n, struct sealed_list *list, size_t k, struct node_sealed ***arr,
             size_t *cap)
{
    struct sealed_item *it;
    struct sbx_err err;
    char text[SBX_ERR_MSG_MAX];
    int rc, before;

    if (array_reserve(arr, k, cap, sizeof(**arr), k) != SBX_OK)
        SBX_BUG("out of memory in the committer");
    k = 0;
    for (it = STAILQ_FIRST(list); it != NULL; it = STAILQ_NEXT(it, link))
        (*arr)[k++] = &it->s;
    before = atomic_load(&n->failed);
    rc = before ? SBX_EIO : node_chain_write_all(n->chain, *arr, k, &err);
    if (rc == SBX_OK) {
        LOG_DEBUG(LOG_STORE, "blocks %llu..%llu written (%zu)",
                  (unsigned long long)STAILQ_FIRST(list)->s.tip.height,
                  (unsigned long long)(*arr)[k - 1]->tip.height, k);
        return SBX_OK;
    }
    if (!before)
        commit_failed(n, STAILQ_FIRST(list)->s.tip.height, err.msg);
    if (node_storage_failure(n) != NULL)
        snprintf(text, sizeof(text),
                 "storage_failed: the block holding this submission could not be written (%s); "
                 "it was not acknowledged: submit it again with the same id once the node is back",
                 node_storage_failure(n));
    else
        snprintf(text, sizeof(text), "%s",
                 "the node has stopped after an error; this submission was not acknowledged");
    for (it = STAILQ_FIRST(list); it != NULL; it = STAILQ_NEXT(it, link)) {
        struct job *j;

        for (j = STAILQ_FIRST(&it->jobs.head); j != NULL; j = STAILQ_NEXT(j, link))
            node_result_refuse(&j->res, SBX_EUNAVAIL, text);
    }
    return rc;
}

/* The blocks of one write are durable: measure them and announce their alerts. */
static void
commit_observe(struct node *n, struct node_sealed **arr, size_t k, double seconds)
{
    size_t ntx[64];

    for (size_t i = 0; i < k; i += SBX_ARRAY_LEN(ntx)) {
        size_t m = k - i < SBX_ARRAY_LEN(ntx) ? k - i : SBX_ARRAY_LEN(ntx);

        for (size_t j = 0; j < m; j++)
            ntx[j] = arr[i + j]->ntx;
        node_metrics_observe_commit(n, i == 0 ? seconds : -1, ntx, m);
    }
    for (size_t i = 0; i < k; i++)
        node_notify_alerts(n, arr[i]->tip.height, arr[i]->alerts, arr[i]->nalerts);
}

/* Writes sealed blocks in order, a round at a time. */
static void *
committer_main(void *arg)
{
    struct node *n = arg;
    struct node_sealed **arr = NULL;
    size_t cap = 0;

    par_thread_name("sbx-commit");
    for (;;) {
        struct sealed_list list;
        struct sealed_item *it;
        size_t k = 0;
        int64_t t0;
        int rc;

        STAILQ_INIT(&list);
        pthread_mutex_lock(&n->mu);
        while (STAILQ_EMPTY(&n->commit.queue) && !n->commit.stop)
            pthread_cond_wait(&n->commit.cv, &n->mu);
        if (STAILQ_EMPTY(&n->commit.queue)) {
            pthread_mutex_unlock(&n->mu);
            break;
        }
        STAILQ_CONCAT(&list, &n->commit.queue);
        n->commit.committing = 1;
        n->commit.started_us = time_mono_us();
        pthread_mutex_unlock(&n->mu);

        for (it = STAILQ_FIRST(&list); it != NULL; it = STAILQ_NEXT(it, link))
            k++;
        t0 = time_mono_us();
        rc = commit_write(n, &list, k, &arr, &cap);
        if (rc == SBX_OK)
            commit_observe(n, arr, k, (double)(time_mono_us() - t0) / 1e6);
        pthread_mutex_lock(&n->mu);
        if (rc == SBX_OK)
            n->commit.durable = arr[k - 1]->tip;
        n->commit.durable_gen++;
        n->commit.nqueued -= (int)k;
        n->commit.committing = 0;
        if (rc == SBX_OK) {
            int64_t took = time_mono_us() - n->commit.started_us;

            n->commit.ewma_us = n->commit.ewma_us ? (n->commit.ewma_us * 7 + took) / 8 : took;
        }
        for (it = STAILQ_FIRST(&list); it != NULL; it = STAILQ_NEXT(it, link))
            node_commit_complete_locked(n, &it->jobs);
        if (n->role != NODE_ROLE_OPERATOR)
            node_follower_update_idle_locked(n);
        event_active(n->commit.done_ev, EV_READ, 0); /* the loop hears of the new tip */
        pthread_cond_signal(&n->pipe.seq_cv);
        pthread_cond_broadcast(&n->follow.follow_cv);
        pthread_mutex_unlock(&n->mu);
        while ((it = STAILQ_FIRST(&list)) != NULL) {
            STAILQ_REMOVE_HEAD(&list, link);
            node_sealed_release(&it->s);
            free(it);
        }
    }
    free(arr);
    return NULL;
}

/* ------------------------------------------------------------------ the event loop's side */

/* Tell the network layer and the watches what changed since they last heard: the tip, a
 * refused block, new node alerts. */
static void
notify(struct node *n)
{
    struct node_follower *f = &n->follow;
    struct node_watch *w;
    struct ledger_tip tip;
    uint64_t gen, rheight = 0, nalerts;
    char rmsg[SBX_ERR_MSG_MAX];
    int idle, refused = 0;

    pthread_mutex_lock(&n->mu);
    gen = n->commit.durable_gen;
    tip = n->commit.durable;
    idle = n->role == NODE_ROLE_OPERATOR ? 1 : f->idle;
    if (f->stopped && !f->refused_reported) {
        f->refused_reported = 1;
        refused = 1;
        rheight = f->refused_height;
        snprintf(rmsg, sizeof(rmsg), "%s", f->refused_msg);
    }
    pthread_mutex_unlock(&n->mu);
    if (gen != n->commit.notified_gen) {
        n->commit.notified_gen = gen;
        node_relay_check(n);
        node_reserves_check(n);
        TAILQ_FOREACH(w, &n->watches, link)
        {
            if (w->on_tip != NULL)
                w->on_tip(w->ctx, &tip, idle);
        }
    }
    if (refused) {
        node_alert(n, NODE_ALERT_CRITICAL, "block_invalid", rheight, NULL, NULL,
                   "block %llu refused, following stopped: %s", (unsigned long long)rheight, rmsg);
        TAILQ_FOREACH(w, &n->watches, link)
        {
            if (w->on_refused != NULL)
                w->on_refused(w->ctx, rheight, rmsg);
        }
    }
    nalerts = node_alerts_total(n);
    if (nalerts != n->alerts_notified) {
        n->alerts_notified = nalerts;
        TAILQ_FOREACH(w, &n->watches, link)
        {
            if (w->on_node_alerts != NULL)
                w->on_node_alerts(w->ctx, nalerts);
        }
    }
}

void
node_commit_deliver(struct node *n)
{
    struct jobq q;
    struct job *j;

    node_pipeline_jobq_init(&q);
    pthread_mutex_lock(&n->mu);
    node_pipeline_jobq_concat(&q, &n->commit.doneq);
    pthread_mutex_unlock(&n->mu);
    while ((j = node_pipeline_jobq_pop(&q)) != NULL) {
        j->fn(j->arg, &j->res);
        node_pipeline_job_free(j);
    }
    notify(n);
}

static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
    node_commit_deliver(arg);
}

int
node_commit_init(struct node *n)
{
    /* persistent, with a long timeout so that it counts as pending: it keeps the loop alive
     * while results may still arrive (a timeout just delivers nothing) */
    n->commit.done_ev = event_new(n->base, -1, EV_PERSIST, done_cb, n);
    if (n->commit.done_ev == NULL || event_add(n->commit.done_ev, &(struct timeval){3600, 0}) != 0)
        return SBX_ENOMEM;
    return SBX_OK;
}

void
node_commit_stop(struct node *n)
{
    pthread_mutex_lock(&n->mu);
    n->commit.stop = 1;
    pthread_cond_broadcast(&n->commit.cv);
    pthread_mutex_unlock(&n->mu);
    pthread_join(n->commit.thr, NULL);
}

void
node_commit_start(struct node *n)
{
    if (pthread_create(&n->commit.thr, NULL, committer_main, n) != 0)
        SBX_BUG("cannot start the committer thread");
}

const char *
node_storage_failure(struct node *n)
{
    if (atomic_load(&n->failed) != NODE_FAILURE_STORE)
        return NULL;
    return ledger_store_write_failure(node_chain_store(n->chain));
}

void
node_tip(struct node *n, struct ledger_tip *out)
{
    pthread_mutex_lock(&n->mu);
    *out = n->commit.durable;
    pthread_mutex_unlock(&n->mu);
}
