/* A small pool of threads for data-parallel loops: par_run(pool, n, fn, ctx) calls fn(ctx, i)
 * for every i in [0, n) on the pool's threads and the calling thread, and returns when all
 * calls have returned. Items are handed out in small chunks from a shared counter, so uneven
 * items balance by themselves.
 *
 * For CPU-bound work whose items are independent (a block's signature checks). fn must be
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

#endif
