/* JSON-RPC 2.0 requests: the body and the envelope of each request (see rpc/request.h). No I/O,
 * no state, any thread. */
#include "rpc/request.h"

#include <stdio.h>
#include <string.h>

#include "rpc/outcome.h"

/* ------------------------------------------------------------------ the plain reader */

/* Jansson's parser takes several microseconds for a trade's request (it reads through a
 * character stream and copies every token twice), as much as the rest of the call. Bodies as
 * clients write them are read here instead: strings of printable ASCII without escapes,
 * integers of at most 18 digits, true, false, null, objects (no key twice) and arrays nested at
 * most PLAIN_DEPTH deep. The reader makes the same values Jansson would, in the same order; at
 * the first thing outside that subset (an escape, a byte outside printable ASCII, a fraction,
 * a duplicate key, an error of any kind) it gives up and Jansson reads the whole body, so every
 * refusal and its message are Jansson's. */
#define PLAIN_DEPTH 32

struct plain {
    const char *p, *end;
    int depth;
};

static json_t *plain_value(struct plain *r);

static void
plain_ws(struct plain *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
}

/* A string of printable ASCII without escapes: its span; 0 for anything else. */
static int
plain_string(struct plain *r, const char **s, size_t *n)
{
    const char *q;

    if (r->p >= r->end || *r->p != '"')
        return 0;
    for (q = r->p + 1; q < r->end && *q != '"'; q++)
        if (*q < 0x20 || *q > 0x7e || *q == '\\')
            return 0;
    if (q >= r->end)
        return 0;
    *s = r->p + 1;
    *n = (size_t)(q - *s);
    r->p = q + 1;
    return 1;
}

/* -?(0|[1-9][0-9]*) of at most 18 digits, not followed by a fraction or an exponent. */
static json_t *
plain_integer(struct plain *r)
{
    const char *q = r->p;
    json_int_t v = 0;
    int neg = 0, nd = 0;

    if (q < r->end && *q == '-') {
        neg = 1;
        q++;
    }
    if (q >= r->end || *q < '0' || *q > '9' ||
        (*q == '0' && q + 1 < r->end && q[1] >= '0' && q[1] <= '9'))
        return NULL;
    for (; q < r->end && *q >= '0' && *q <= '9'; q++) {
        if (++nd > 18)
            return NULL;
        v = v * 10 + (*q - '0');
    }
    if (q < r->end && (*q == '.' || *q == 'e' || *q == 'E'))
        return NULL;
    r->p = q;
    return json_integer(neg ? -v : v);
}

/* Take `c` after any whitespace: 1 if it is there. */
static int
plain_take(struct plain *r, char c)
{
    plain_ws(r);
    if (r->p >= r->end || *r->p != c)
        return 0;
    r->p++;
    return 1;
}

/* After a member or an element: 1 at the closing `close`, 0 after a ',' (either taken), -1 at
 * anything else. */
static int
plain_next(struct plain *r, char close)
{
    if (plain_take(r, close))
        return 1;
    return plain_take(r, ',') ? 0 : -1;
}

/* Add `v` (taken) to the object or array `c`: under `k` (`kn` bytes) when `k` is set. 0, or -1
 * when out of memory or `k` is there already (Jansson refuses a key twice). */
static int
plain_add(json_t *c, const char *k, size_t kn, json_t *v)
{
    size_t before = json_object_size(c);

    if (k == NULL)
        return json_array_append_new(c, v);
    if (json_object_setn_new_nocheck(c, k, kn, v) != 0 || json_object_size(c) == before)
        return -1;
    return 0;
}

/* After an opening bracket (r->depth counts it) that `close` closes: an object's members or an
 * array's elements, then the closing bracket. */
static json_t *
plain_container(struct plain *r, char close)
{
    json_t *c = close == '}' ? json_object() : json_array();
    int end = plain_take(r, close);

    while (c != NULL && !end) {
        const char *k = NULL;
        size_t kn = 0;
        json_t *v;

        if (close == '}') {
            plain_ws(r);
            if (!plain_string(r, &k, &kn) || !plain_take(r, ':'))
                break;
        }
        v = plain_value(r);
        if (v == NULL || plain_add(c, k, kn, v) != 0)
            break;
        end = plain_next(r, close);
        if (end < 0)
            break;
    }
    if (end > 0)
        return c;
    json_decref(c);
    return NULL;
}

/* The literal `lit` at r->p (Jansson reads a word: one running on is an error). */
static int
plain_word(struct plain *r, const char *lit, size_t n)
{
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0)
        return 0;
    r->p += n;
    return 1;
}

static json_t *
plain_value(struct plain *r)
{
    json_t *v = NULL;
    const char *s;
    size_t n;

    plain_ws(r);
    if (r->p >= r->end)
        return NULL;
    switch (*r->p) {
    case '{':
    case '[':
        if (++r->depth > PLAIN_DEPTH)
            return NULL;
        r->p++;
        v = plain_container(r, r->p[-1] == '{' ? '}' : ']');
        r->depth--;
        return v;
    case '"':
        return plain_string(r, &s, &n) ? json_stringn_nocheck(s, n) : NULL;
    case 't':
        return plain_word(r, "true", 4) ? json_true() : NULL;
    case 'f':
        return plain_word(r, "false", 5) ? json_false() : NULL;
    case 'n':
        return plain_word(r, "null", 4) ? json_null() : NULL;
    default:
        return plain_integer(r);
    }
}

/* The value of the whole body, or NULL when the plain reader gives up (see above). */
static json_t *
plain_load(const char *body, size_t len)
{
    struct plain r = {body, body + len, 0};
    json_t *j = plain_value(&r);

    plain_ws(&r);
    if (j != NULL && r.p != r.end) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* ------------------------------------------------------------------ the body and envelopes */

int
rpc_request_parse(const char *body, size_t len, size_t max_batch, json_t **out,
                  char msg[static SBX_ERR_MSG_MAX])
{
    json_error_t je;
    json_t *j;
    size_t n;

    *out = NULL;
    msg[0] = '\0';
    j = len > 0 ? plain_load(body, len) : NULL;
    if (j == NULL && len > 0)
        j = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
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
