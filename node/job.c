/* The node's background read job: one long read of the stored chain at a time (verifychain,
 * getreport, getusage of the exchange as of a block) on a thread of its own, so that the event loop
 * (RPC, peer links) keeps serving. A job only reads the store (thread-safe) and memory of its own;
 * it checks node_job_stopping between blocks, so that node_close, which cancels it and waits, is
 * not held up.
 *
 * One job at a time, whatever its kind: a second is refused with SBX_EUNAVAIL at once, which
 * bounds the work and the memory any number of clients can start to one replay.
 *
 * Threads: job_main and node_job_stopping run on the job thread; node_job_async, job_finish,
 * job_done_cb and node_job_cancel on the event-loop thread.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "node/node_int.h"
#include "util/par.h"

struct node_job {
    struct node *n;
    node_job_run_fn run;
    node_job_done_fn done;
    void *arg;
    pthread_t thr;
    struct event *ev;
    int rc;             /* written by the thread, read after pthread_join */
    struct sbx_err err; /* likewise */
};

static void *
job_main(void *arg)
{
    struct node_job *j = arg;

    par_thread_name("sbx-job");
    sbx_err_clear(&j->err);
    j->rc = j->run(j->arg, &j->err);
    event_active(j->ev, EV_TIMEOUT, 0);
    return NULL;
}

/* Once the thread is done (or from node_close): join it and deliver its result. */
static void
job_finish(struct node *n)
{
    struct node_job *j = n->job.job;

    if (j == NULL)
        return;
    pthread_join(j->thr, NULL);
    n->job.job = NULL;
    event_free(j->ev);
    j->done(j->arg, j->rc, &j->err);
    free(j);
}

static void
job_done_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    job_finish(arg);
}

static void
job_refuse(node_job_done_fn done, void *arg, int rc, const char *msg)
{
    struct sbx_err err;

    sbx_err_clear(&err);
    done(arg, sbx_err_set(&err, rc, "%s", msg), &err);
}

void
node_job_async(struct node *n, node_job_run_fn run, node_job_done_fn done, void *arg)
{
    struct node_job *j;

    if (n->job.job != NULL || n->stopping) {
        job_refuse(done, arg, SBX_EUNAVAIL,
                   n->stopping ? "the node is shutting down"
                               : "a verifychain, getreport or past getusage is already running; "
                                 "retry when it has finished");
        return;
    }
    j = calloc(1, sizeof(*j));
    if (j != NULL)
        j->ev = event_new(n->base, -1, 0, job_done_cb, n);
    if (j == NULL || j->ev == NULL) {
        free(j);
        job_refuse(done, arg, SBX_ENOMEM, "out of memory");
        return;
    }
    j->n = n;
    j->run = run;
    j->done = done;
    j->arg = arg;
    n->job.job = j;
    if (pthread_create(&j->thr, NULL, job_main, j) != 0) {
        n->job.job = NULL;
        event_free(j->ev);
        free(j);
        job_refuse(done, arg, SBX_EINTERNAL, "cannot start a thread");
    }
}

int
node_job_stopping(struct node *n)
{
#ifdef SBX_TEST_HOOKS
    int ms = atomic_load_explicit(&n->job.test_delay_ms, memory_order_relaxed);

    if (ms > 0) {
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

        nanosleep(&ts, NULL);
    }
#endif
    return atomic_load_explicit(&n->job.cancel, memory_order_relaxed);
}

void
node_job_cancel(struct node *n)
{
    /* a running job stops at its next block; its caller gets an answer */
    atomic_store_explicit(&n->job.cancel, 1, memory_order_relaxed);
    job_finish(n);
}

#ifdef SBX_TEST_HOOKS
void
node_test_job_delay(struct node *n, int ms)
{
    atomic_store_explicit(&n->job.test_delay_ms, ms, memory_order_relaxed);
}
#endif
