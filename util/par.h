/* A small pool of threads for data-parallel loops: par_run(pool, n, fn, ctx) calls fn(ctx, i)
 * for every i in [0, n) on the pool's threads and the calling thread, and returns when all
 * calls have returned. Items are handed out in small chunks from a shared counter, so uneven
 * items balance by themselves.
 *
 * For CPU-bound work whose items are independent (the stateless checks of blocks). fn must be
 * thread-safe. One par_run at a time per pool (callers serialise; a second caller waits).
 * A NULL pool, or one with no threads, runs the loop on the caller alone.
 */
#ifndef SBX_UTIL_PAR_H
#define SBX_UTIL_PAR_H

#include <stddef.h>

#include "util/err.h"

struct par_pool;

/* `nthreads` helper threads besides the caller (0 is allowed: the caller does all). */
int par_pool_new(struct par_pool **out, int nthreads) SBX_WARN_UNUSED;
void par_pool_free(struct par_pool *p);
void par_run(struct par_pool *p, size_t n, void (*fn)(void *ctx, size_t i), void *ctx);
/* par_run in two halves, so that the caller can do other work while the helpers run: par_start
 * hands the loop to the helper threads and returns at once; par_wait makes the caller take the
 * items still unclaimed and returns when every item has been done. Between the two the caller
 * must not touch what fn reads or writes, nor call par_run, par_start (this pool: it holds the
 * pool until par_wait) or anything that does. Every par_start is followed by one par_wait with
 * the same arguments; with a NULL pool, no helpers or few items, par_wait does all. */
void par_start(struct par_pool *p, size_t n, void (*fn)(void *ctx, size_t i), void *ctx);
void par_wait(struct par_pool *p, size_t n, void (*fn)(void *ctx, size_t i), void *ctx);

/* Name the calling thread (at most 15 bytes are kept) as top -H, ps -L, perf and gdb show it:
 * every thread of sbxd calls this first, with a name starting "sbx-". */
void par_thread_name(const char *name);

/* Mark the calling thread as throughput work (Linux SCHED_BATCH; the RPC event loops): its
 * wake-ups do not preempt a running thread, so that a thread every pending receipt waits for
 * (the sequencer, the committer) gets a core as soon as it wakes instead of after a loop's time
 * slice. Only from the default policy: one the service manager set is kept. Threads the caller
 * creates afterwards inherit it. */
void par_thread_batch(void);

#endif
