/* Sinks: the hand-back of finished submissions to an event loop of the caller's choosing, so
 * that every RPC loop (rpc/server.c) gets its own requests' results on its own thread; and the
 * other way, the business submissions of one pass of that loop admitted together at its end
 * (one lock of mu, at most one wake-up of the sequencer, rather than one per submission).
 *
 *   committer / workers --node_commit_complete_locked: one lock and one event_active per sink
 *   and batch--> sink queue --the sink's loop: callbacks--> the RPC replies
 *
 * A job names its sink (NULL: the node's own loop, commit.c's doneq, as before sinks existed).
 * A sink does not need the node once made: it may outlive node_close, and node_sink_free
 * delivers what it still holds.
 *
 * Threads: node_sink_new on any thread (before the sink's loop runs, or on it);
 * node_sink_dispatch_locked on the sequencer, workers or committer (mu held); sink_cb on the
 * thread that runs the sink's loop; node_sink_submit, node_sink_submit_raw, node_sink_defer,
 * out_cb and node_sink_job_take (the sink's spare jobs and the submissions of the loop's pass
 * are that thread's alone) on that thread too;
 * node_sink_free once the sink's loop no longer runs it (or on its thread), after node_close.
 */
#include <pthread.h>
#include <stdlib.h>

#include <event2/event.h>

#include "node/node_int.h"

/* Sinks one batch can name before it is split (more are handed over in a second pass). */
#define DISPATCH_SINKS 16

/* Finished jobs a sink keeps for its loop's next submissions: a job is a few kilobytes, which
 * malloc serves from its slow path (and a consolidation of its fast bins) on every trade. */
#define SPARE_MAX 64

struct node_sink {
    struct node *n;       /* immutable; not used after node_close */
    pthread_mutex_t mu;   /* sink_mu: a leaf */
    struct jobq q;        /* sink_mu: finished jobs */
    int armed;            /* sink_mu: the event is active and will take q */
    struct event *ev;     /* immutable */
    struct jobq spare;    /* the sink loop's thread only: delivered jobs, to be reused */
    struct jobq out;      /* the sink loop's thread only: sealed submissions of this pass */
    struct event *out_ev; /* immutable: admits `out` once the pass's callbacks have run */
};

/* Run the callbacks of every job `s` holds, on the calling thread. */
static void
sink_deliver(struct node_sink *s)
{
    struct jobq q;
    struct job *j;

    node_pipeline_jobq_init(&q);
    pthread_mutex_lock(&s->mu);
    node_pipeline_jobq_concat(&q, &s->q);
    s->armed = 0;
    pthread_mutex_unlock(&s->mu);
    while ((j = node_pipeline_jobq_pop(&q)) != NULL) {
        j->fn(j->arg, &j->res);
        if (s->spare.n < SPARE_MAX)
            node_pipeline_jobq_push(&s->spare, j);
        else
            node_pipeline_job_free(j);
    }
}

/* Submissions of a pass are admitted at once when this many wait (a batch request's calls, or
 * a busy pass), so that the sequencer starts on them while the loop reads on: admitting only at
 * the end of the pass sent whole waves of thousands of trades through the pipeline one stage
 * at a time. */
#define ADMIT_AT 64

/* The loop's pass has run the callbacks that were due: admit what they submitted. */
static void
out_cb(evutil_socket_t fd, short what, void *arg)
{
    struct node_sink *s = arg;

    (void)fd;
    (void)what;
    if (s->out.n > 0)
        node_pipeline_admit_sealed(s->n, &s->out);
}

void
node_sink_defer(struct node_sink *s, struct job *j)
{
    node_pipeline_jobq_push(&s->out, j);
    if (s->out.n >= ADMIT_AT) {
        node_pipeline_admit_sealed(s->n, &s->out);
        return;
    }
    if (s->out.n == 1)
        event_active(s->out_ev, EV_TIMEOUT, 0); /* after the callbacks already due */
}

struct job *
node_sink_job_take(struct node_sink *s)
{
    return s != NULL ? node_pipeline_jobq_pop(&s->spare) : NULL;
}

static void
sink_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sink_deliver(arg);
}

struct node_sink *
node_sink_new(struct node *n, struct event_base *base)
{
    struct node_sink *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->n = n;
    node_pipeline_jobq_init(&s->q);
    node_pipeline_jobq_init(&s->spare);
    node_pipeline_jobq_init(&s->out);
    s->ev = event_new(base, -1, 0, sink_cb, s);
    s->out_ev = event_new(base, -1, 0, out_cb, s);
    if (s->ev == NULL || s->out_ev == NULL || pthread_mutex_init(&s->mu, NULL) != 0) {
        if (s->ev != NULL)
            event_free(s->ev);
        if (s->out_ev != NULL)
            event_free(s->out_ev);
        free(s);
        return NULL;
    }
    return s;
}

void
node_sink_free(struct node_sink *s)
{
    struct job *j;

    if (s == NULL)
        return;
    /* submissions never admitted (the loop stopped first; the node may be closed) */
    while ((j = node_pipeline_jobq_pop(&s->out)) != NULL) {
        node_result_refuse(&j->res, SBX_EUNAVAIL, "the node is shutting down");
        j->fn(j->arg, &j->res);
        node_pipeline_job_free(j);
    }
    sink_deliver(s);
    while ((j = node_pipeline_jobq_pop(&s->spare)) != NULL)
        node_pipeline_job_free(j);
    event_free(s->out_ev);
    event_free(s->ev);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Move the jobs of `jobs` that name `s` to it (one lock); wake its loop if it was idle. */
static void
hand_over(struct node_sink *s, struct jobq *mine)
{
    int wake;

    pthread_mutex_lock(&s->mu);
    node_pipeline_jobq_concat(&s->q, mine);
    wake = !s->armed;
    s->armed = 1;
    pthread_mutex_unlock(&s->mu);
    if (wake)
        event_active(s->ev, EV_TIMEOUT, 0);
}

void
node_sink_dispatch_locked(struct jobq *jobs)
{
    while (!STAILQ_EMPTY(&jobs->head)) {
        struct node_sink *sinks[DISPATCH_SINKS];
        struct jobq parts[DISPATCH_SINKS], rest;
        size_t k = 0, moved = 0;
        struct job *j;

        node_pipeline_jobq_init(&rest);
        while ((j = node_pipeline_jobq_pop(jobs)) != NULL) {
            size_t i = 0;

            while (i < k && sinks[i] != j->sink)
                i++;
            if (j->sink == NULL || (i == k && k == DISPATCH_SINKS)) {
                node_pipeline_jobq_push(&rest, j);
                continue;
            }
            if (i == k) {
                sinks[k] = j->sink;
                node_pipeline_jobq_init(&parts[k++]);
            }
            node_pipeline_jobq_push(&parts[i], j);
            moved++;
        }
        for (size_t i = 0; i < k; i++)
            hand_over(sinks[i], &parts[i]);
        node_pipeline_jobq_concat(jobs, &rest);
        if (moved == 0)
            return; /* what is left is the node's own */
    }
}

void
node_sink_submit(struct node_sink *s, const struct ledger_tx *tx, node_done_fn fn, void *arg)
{
    node_pipeline_submit(s->n, s, tx, fn, arg);
}

void
node_sink_submit_raw(struct node_sink *s, const uint8_t *raw, size_t len, node_done_fn fn,
                     void *arg)
{
    node_pipeline_submit_raw(s->n, s, raw, len, fn, arg);
}
