/* GET /health: whether this node is fit for its job, without credentials (for load balancers
 * and process supervisors): {"status": "ok"|"degraded"|"failed", "reasons": [...]}, HTTP 200 for
 * ok and 503 otherwise. See doc/operations.md for what each reason means.
 *
 * Threads: the node's event loop only (it reads the network layer's peers).
 */
#ifndef SBX_RPC_HEALTH_H
#define SBX_RPC_HEALTH_H

#include <jansson.h>

#include "node/node.h"

struct evbuffer;

/* The status object at `now_ms` (new reference), or NULL when out of memory. */
json_t *rpc_health_json(struct node *node, int64_t now_ms);
/* Append the status object (one line) to `out`: the HTTP status to answer with, 200 for ok, 503
 * otherwise, 500 when out of memory. */
int rpc_health_render(struct node *node, int64_t now_ms, struct evbuffer *out);

#endif
