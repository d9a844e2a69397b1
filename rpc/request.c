/* JSON-RPC 2.0 requests: the body and the envelope of each request (see rpc/request.h). No I/O,
 * no state, any thread. */
#include "rpc/request.h"

#include <stdio.h>
#include <string.h>

#include "rpc/outcome.h"

int
rpc_request_parse(const char *body, size_t len, size_t max_batch, json_t **out,
                  char msg[static SBX_ERR_MSG_MAX])
{
    json_error_t je;
    json_t *j;
    size_t n;

    *out = NULL;
    msg[0] = '\0';
    j = len > 0 ? json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je) : NULL;
    if (j == NULL) {
        snprintf(msg, SBX_ERR_MSG_MAX, "parse error: %s", len > 0 ? je.text : "empty body");
        return RPC_PARSE_ERROR;
    }
    n = json_is_array(j) ? json_array_size(j) : 1;
    if (n == 0 || n > max_batch) {
        if (n == 0)
            snprintf(msg, SBX_ERR_MSG_MAX, "empty batch");
        else
            snprintf(msg, SBX_ERR_MSG_MAX, "batch of %zu requests: more than rpcmaxbatch (%zu)", n,
                     max_batch);
        json_decref(j);
        return RPC_INVALID_REQUEST;
    }
    *out = j;
    return 0;
}

int
rpc_request_check(json_t *req, struct rpc_request *r, char msg[static SBX_ERR_MSG_MAX])
{
    json_t *id, *version, *method, *params;
    const char *why = NULL;

    memset(r, 0, sizeof(*r));
    msg[0] = '\0';
    if (!json_is_object(req)) {
        snprintf(msg, SBX_ERR_MSG_MAX, "a request must be a JSON object");
        return RPC_INVALID_REQUEST;
    }
    id = json_object_get(req, "id");
    if (id != NULL && !json_is_string(id) && !json_is_number(id) && !json_is_null(id)) {
        snprintf(msg, SBX_ERR_MSG_MAX, "id: must be a string, a number or null");
        return RPC_INVALID_REQUEST;
    }
    r->id = id; /* an invalid request is answered even without an id */
    version = json_object_get(req, "jsonrpc");
    method = json_object_get(req, "method");
    params = json_object_get(req, "params");
    if (!json_is_string(version) || strcmp(json_string_value(version), "2.0") != 0)
        why = "jsonrpc: must be \"2.0\"";
    else if (!json_is_string(method))
        why = "method: must be a string";
    else if (params != NULL && !json_is_object(params) && !json_is_array(params) &&
             !json_is_null(params))
        why = "params: must be an object or an array";
    if (why != NULL) {
        snprintf(msg, SBX_ERR_MSG_MAX, "%s", why);
        return RPC_INVALID_REQUEST;
    }
    r->method = json_string_value(method);
    r->params = params;
    return 0;
}
