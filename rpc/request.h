/* JSON-RPC 2.0 requests as the server reads them: the HTTP body (one request or a batch) and
 * each request object's envelope (jsonrpc, id, method, params). Pure functions over Jansson
 * values: the server (rpc/server_call.c) runs every body through them, and so does the fuzz
 * target tests/fuzz/fuzz_rpc.c. */
#ifndef SBX_RPC_REQUEST_H
#define SBX_RPC_REQUEST_H

#include <stddef.h>

#include <jansson.h>

#include "util/err.h"

/* Parse an HTTP body of `len` bytes (duplicate keys refused). 0 with *out set (a new reference:
 * any JSON value; an array holds 1 to `max_batch` requests); RPC_PARSE_ERROR for what is not
 * JSON (or an empty body), RPC_INVALID_REQUEST for an empty batch or one over `max_batch`, with
 * the reason in `msg` and *out NULL. */
int rpc_request_parse(const char *body, size_t len, size_t max_batch, json_t **out,
                      char msg[static SBX_ERR_MSG_MAX]);

/* One request object's envelope; the pointers are borrowed from the request. */
struct rpc_request {
    json_t *id;         /* NULL when absent (a notification), or invalid (after a failure) */
    const char *method; /* NULL after a failure */
    json_t *params;     /* NULL when absent */
};

/* Check one request of a body: 0 with `r` filled, or RPC_INVALID_REQUEST with the reason in
 * `msg` (naming the member at fault); r->id is then the id to answer with if the request had
 * a valid one, else NULL (answered with a null id). */
int rpc_request_check(json_t *req, struct rpc_request *r, char msg[static SBX_ERR_MSG_MAX]);

#endif
