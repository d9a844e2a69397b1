/* GET /metrics: the node's figures in the Prometheus text exposition format (0.0.4), and the
 * counts and latencies of the JSON-RPC requests this server answered.
 *
 * Threads: rpc_metrics_observe on any RPC loop (the counters have a lock of their own);
 * rpc_metrics_render on the node's loop only (it reads the network layer's peers; the node's
 * figures come through node_metrics_get and the other snapshot functions of node/node.h).
 */
#ifndef SBX_RPC_METRICS_H
#define SBX_RPC_METRICS_H

#include <stdint.h>

#include "node/node.h"

struct evbuffer;
struct rpc_metrics;

/* A new, empty set of RPC counters; NULL when out of memory. */
struct rpc_metrics *rpc_metrics_new(void);
void rpc_metrics_free(struct rpc_metrics *m);
/* One JSON-RPC call answered: `method` (a name from the method table; anything else is
 * counted as "unknown"), `code` (0 for a result, else the JSON-RPC error code) and the seconds
 * its HTTP request took. */
void rpc_metrics_observe(struct rpc_metrics *m, const char *method, int code, double seconds);
/* Append the whole exposition to `out`. SBX_OK or SBX_ENOMEM. */
int rpc_metrics_render(struct rpc_metrics *m, struct node *node, int64_t now_ms,
                       struct evbuffer *out) SBX_WARN_UNUSED;

#endif
