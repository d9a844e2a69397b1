/* GET /health: whether this node is fit for its job, without credentials (for load balancers
 * and process supervisors): {"status": "ok"|"degraded"|"failed", "reasons": [...]}, HTTP 200 for
 * ok and 503 otherwise. See doc/operations.md for what each reason means.
 *
 * Threads: event loop only.
 */
#ifndef SBX_RPC_HEALTH_H
#define SBX_RPC_HEALTH_H

#include <jansson.h>

#include "node/node.h"

struct evhttp_request;

/* The status object at `now_ms` (new reference), or NULL when out of memory. */
json_t *rpc_health_json(struct node *node, int64_t now_ms);
/* Answer GET /health (405 for another method). */
void rpc_health_serve(struct node *node, struct evhttp_request *req);

#endif
