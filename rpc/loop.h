/* An event loop of the RPC server, with a mailbox that any thread may post work to.
 *
 * The server runs one loop per core (-rpcthreads): loop 0 borrows the node's event base (the
 * thread that calls event_base_dispatch on it), every other loop makes its own base and runs it
 * on a thread of its own. evhttp is not thread-safe, so what one loop must do on another (run a
 * call that needs the node's loop, hand its answer back) is posted as a hop: `fn` then runs on
 * the target loop's thread, in the order posted, with one wake-up per batch of hops.
 */
#ifndef SBX_RPC_LOOP_H
#define SBX_RPC_LOOP_H

#include <sys/queue.h>

#include "util/err.h"

struct event_base;
struct rpc_loop;

/* A piece of work for another loop, embedded in its owner. `cancelled` is 1 when it runs at
 * rpc_loop_drain (the loop is stopped; it runs on the draining thread): it must then finish
 * without posting anything. */
struct rpc_hop {
    void (*fn)(struct rpc_hop *hop, int cancelled);
    STAILQ_ENTRY(rpc_hop) link;
};

/* A loop on `base` (borrowed: run by its owner) or, with `base` NULL, on a new base of its
 * own that rpc_loop_start runs on a new thread. SBX_ENOMEM. */
int rpc_loop_new(struct rpc_loop **out, struct event_base *base) SBX_WARN_UNUSED;
struct event_base *rpc_loop_base(const struct rpc_loop *l);
/* Start the thread of a loop with its own base (no-op for a borrowed one). SBX_EINTERNAL. */
int rpc_loop_start(struct rpc_loop *l) SBX_WARN_UNUSED;
/* Any thread: run hop->fn (set by the caller) on `l`'s thread. */
void rpc_loop_post(struct rpc_loop *l, struct rpc_hop *hop);
/* End the loop's thread and wait for it (no-op for a borrowed base or a loop not started).
 * From another thread than the loop's. */
void rpc_loop_stop(struct rpc_loop *l);
/* Once stopped: run every hop still posted with `cancelled` = 1, on the calling thread; returns
 * how many ran (a hop may post to another loop: drain every loop until none runs). */
size_t rpc_loop_drain(struct rpc_loop *l);
/* Stop it, free the mailbox and an own base. Drain it first. NULL is a no-op. */
void rpc_loop_free(struct rpc_loop *l);

#endif
