/* A small pool of threads for data-parallel loops; see par.h. */
#define _GNU_SOURCE /* pthread_setname_np */
#include "util/par.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>

/* Items claimed at a time: large enough that the shared counter is not contended, small enough
 * that the last chunks balance (a signature check is ~45 us). */
#define PAR_CHUNK 16

struct par_pool {
    pthread_mutex_t run_mu; /* one par_run at a time */
    pthread_mutex_t mu;
    pthread_cond_t start_cv, done_cv;
    pthread_t *thr;
    int nthr;
    /* the current loop (under mu, except next which is atomic) */
    unsigned long gen;
    int stop;
    int finished; /* helper threads done with the current loop */
    size_t n;
    void (*fn)(void *ctx, size_t i);
    void *ctx;
    atomic_size_t next;
};

static void
run_items(struct par_pool *p, size_t n, void (*fn)(void *, size_t), void *ctx)
{
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, PAR_CHUNK);

        if (i >= n)
            return;
        for (size_t end = i + PAR_CHUNK < n ? i + PAR_CHUNK : n; i < end; i++)
            fn(ctx, i);
    }
}

void
par_thread_name(const char *name)
{
    char cut[16];

    snprintf(cut, sizeof(cut), "%s", name);
    pthread_setname_np(pthread_self(), cut); /* a name only: failing changes nothing */
}

void
par_thread_batch(void)
{
    struct sched_param sp = {.sched_priority = 0};

    /* this thread only; failing changes nothing */
    if (sched_getscheduler(0) == SCHED_OTHER)
        (void)sched_setscheduler(0, SCHED_BATCH, &sp);
}

static void *
helper_main(void *arg)
{
    struct par_pool *p = arg;
    unsigned long seen = 0;

    par_thread_name("sbx-pool");

    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->stop)
            pthread_cond_wait(&p->start_cv, &p->mu);
        if (p->stop)
            break;
        seen = p->gen;
        {
            size_t n = p->n;
            void (*fn)(void *, size_t) = p->fn;
            void *ctx = p->ctx;

            pthread_mutex_unlock(&p->mu);
            run_items(p, n, fn, ctx);
            pthread_mutex_lock(&p->mu);
        }
        if (++p->finished == p->nthr)
            pthread_cond_signal(&p->done_cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int
par_pool_new(struct par_pool **out, int nthreads)
{
    struct par_pool *p = calloc(1, sizeof(*p));

    *out = NULL;
    if (p == NULL)
        return SBX_ENOMEM;
    pthread_mutex_init(&p->run_mu, NULL);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    atomic_init(&p->next, 0);
    if (nthreads > 0) {
        p->thr = calloc((size_t)nthreads, sizeof(*p->thr));
        if (p->thr == NULL) {
            par_pool_free(p);
            return SBX_ENOMEM;
        }
    }
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&p->thr[i], NULL, helper_main, p) != 0) {
            par_pool_free(p);
            return SBX_EINTERNAL;
        }
        p->nthr++;
    }
    *out = p;
    return SBX_OK;
}

void
par_pool_free(struct par_pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthr; i++)
        pthread_join(p->thr[i], NULL);
    free(p->thr);
    pthread_mutex_destroy(&p->run_mu);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start_cv);
    pthread_cond_destroy(&p->done_cv);
    free(p);
}

/* Whether the loop runs on the caller alone. */
static int
inline_only(const struct par_pool *p, size_t n)
{
    return p == NULL || p->nthr == 0 || n <= PAR_CHUNK;
}

void
par_start(struct par_pool *p, size_t n, void (*fn)(void *ctx, size_t i), void *ctx)
{
    if (n == 0 || inline_only(p, n))
        return; /* par_wait does it all */
    pthread_mutex_lock(&p->run_mu);
    pthread_mutex_lock(&p->mu);
    p->n = n;
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->next, 0);
    p->finished = 0;
    p->gen++;
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->mu);
}

void
par_wait(struct par_pool *p, size_t n, void (*fn)(void *ctx, size_t i), void *ctx)
{
    if (n == 0)
        return;
    if (inline_only(p, n)) {
        for (size_t i = 0; i < n; i++)
            fn(ctx, i);
        return;
    }
    run_items(p, n, fn, ctx);
    /* every item is claimed; wait until every helper has left this loop (one that woke late
     * finds nothing left), so that none can still touch fn/ctx, or the next loop's counter */
    pthread_mutex_lock(&p->mu);
    while (p->finished < p->nthr)
        pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_unlock(&p->run_mu);
}

void
par_run(struct par_pool *p, size_t n, void (*fn)(void *ctx, size_t i), void *ctx)
{
    par_start(p, n, fn, ctx);
    par_wait(p, n, fn, ctx);
}
