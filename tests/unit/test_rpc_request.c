/* rpc/ unit tests of rpc/request.c: the body (single, batch at its cap and one over, empty,
 * not JSON) and the envelope (every member wrong in turn, and which id an error is answered
 * with). tests/fuzz/fuzz_rpc.c feeds them everything else. */
#include "tests/unit/test_common.h"
#include "tests/unit/test_rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/outcome.h"
#include "rpc/request.h"

static int
parse(const char *body, size_t max_batch, json_t **out, char *msg)
{
    return rpc_request_parse(body, strlen(body), max_batch, out, msg);
}

void
test_request_parse(void **state)
{
    char msg[SBX_ERR_MSG_MAX], body[64];
    json_t *j;

    (void)state;
    assert_int_equal(parse("{\"a\":1}", 2, &j, msg), 0);
    assert_true(json_is_object(j));
    json_decref(j);
    assert_int_equal(parse("[1,2]", 2, &j, msg), 0); /* exactly at the cap */
    json_decref(j);
    assert_int_equal(parse("[1,2,3]", 2, &j, msg), RPC_INVALID_REQUEST); /* one over */
    assert_null(j);
    assert_non_null(strstr(msg, "rpcmaxbatch"));
    assert_int_equal(parse("[]", 2, &j, msg), RPC_INVALID_REQUEST);
    assert_string_equal(msg, "empty batch");
    assert_int_equal(parse("", 2, &j, msg), RPC_PARSE_ERROR);
    assert_string_equal(msg, "parse error: empty body");
    assert_int_equal(parse("{\"a\":1,\"a\":2}", 2, &j, msg), RPC_PARSE_ERROR); /* duplicate key */
    assert_int_equal(parse("{\"a\":1} x", 2, &j, msg), RPC_PARSE_ERROR);       /* trailing */
    snprintf(body, sizeof(body), "\"%c\"", '\0');
    assert_int_equal(rpc_request_parse(body, 3, 2, &j, msg), RPC_PARSE_ERROR); /* NUL in text */
    assert_null(j);
}

/* rpc_request_parse reads plain bodies without Jansson's parser and hands everything else to
 * it: for each body, the same value as Jansson's (members in the same order) or the same
 * refusal. */
void
test_request_parse_like_jansson(void **state)
{
    static const char *const bodies[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"submittrade\",\"params\":{\"trade_id\":"
        "\"T-1\",\"buyer\":\"a\",\"seller\":\"b\",\"asset\":\"BTC\",\"quantity\":\"0.01\","
        "\"price\":\"2500000000\",\"executed_at\":1767225600000}}",
        "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"getinfo\"},{\"id\":\"x\",\"params\":[]}]",
        " { \"a\" : 1 , \"b\" :[ ] ,\"c\":{ } }\r\n\t",
        "{\"a\":true,\"b\":false,\"c\":null,\"d\":[1,[2,[3,{}]]]}",
        "{\"a\":\"\\u00e9\"}",
        "{\"a\":\"\xc3\xa9\"}",
        "{\"a\":\"\\\"q\\\"\"}",
        "{\"a\":\"\x7f\"}",
        "{\"a\":\"\xff\"}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":1.5}",
        "{\"a\":1e3}",
        "{\"a\":-0}",
        "{\"a\":-12}",
        "{\"a\":0}",
        "{\"a\":01}",
        "{\"a\":-}",
        "{\"a\":123456789012345678}",
        "{\"a\":1234567890123456789}",
        "{\"a\":-9223372036854775808}",
        "{\"a\":99999999999999999999}",
        "{\"a\":tru}",
        "{\"a\":truex}",
        "{\"a\":nul}",
        "{\"a\":1,\"a\":2}",
        "{\"a\":{\"b\":1,\"b\":2}}",
        "{\"a\":1,}",
        "[1,]",
        "{,}",
        "{\"a\"}",
        "{\"a\" 1}",
        "[1 2]",
        "{\"a\":1}}",
        "[",
        "{",
        "\"",
        "42",
        " \"x\" ",
        "true",
        "null",
        "{\"a\":1} x",
        "{\"\":1}",
        "{\"a\":\"\"}"};
    char msg[SBX_ERR_MSG_MAX], deep[2 * 40 + 1];
    const char *all[SBX_ARRAY_LEN(bodies) + 1];

    (void)state;
    memset(deep, '[', 40); /* deeper than the plain reader goes: Jansson reads it */
    memset(deep + 40, ']', 40);
    deep[80] = '\0';
    memcpy(all, bodies, sizeof(bodies));
    all[SBX_ARRAY_LEN(bodies)] = deep;
    for (size_t i = 0; i < SBX_ARRAY_LEN(all); i++) {
        json_t *j = NULL, *ref = json_loads(all[i], JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
        int rc = parse(all[i], 1000, &j, msg);
        char *a, *b;

        if (ref == NULL) {
            assert_int_equal(rc, RPC_PARSE_ERROR);
            assert_null(j);
            continue;
        }
        assert_int_equal(rc, 0);
        a = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        b = json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY);
        assert_string_equal(a, b);
        assert_true(json_equal(j, ref));
        free(a);
        free(b);
        json_decref(j);
        json_decref(ref);
    }
}

/* The code of checking `text`, and the id it is answered with (a JSON text, "none" if none). */
static int
check(const char *text, const char *want_id)
{
    struct rpc_request r;
    char msg[SBX_ERR_MSG_MAX];
    json_t *req = json_loads(text, JSON_DECODE_ANY, NULL);
    char *id;
    int rc;

    assert_non_null(req);
    rc = rpc_request_check(req, &r, msg);
    id = r.id != NULL ? json_dumps(r.id, JSON_ENCODE_ANY) : NULL;
    assert_string_equal(id != NULL ? id : "none", want_id);
    free(id);
    if (rc != 0)
        assert_true(msg[0] != '\0' && r.method == NULL);
    json_decref(req);
    return rc;
}

void
test_request_check(void **state)
{
    (void)state;
    assert_int_equal(check("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"m\",\"params\":{}}", "7"),
                     0);
    assert_int_equal(check("{\"jsonrpc\":\"2.0\",\"method\":\"m\"}", "none"), 0); /* notification */
    assert_int_equal(
        check("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"m\",\"params\":[]}", "null"), 0);
    assert_int_equal(check("[1]", "none"), RPC_INVALID_REQUEST);
    assert_int_equal(check("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"m\"}", "none"),
                     RPC_INVALID_REQUEST);
    assert_int_equal(check("{\"jsonrpc\":\"1.0\",\"id\":\"a\",\"method\":\"m\"}", "\"a\""),
                     RPC_INVALID_REQUEST);
    assert_int_equal(check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}", "1"),
                     RPC_INVALID_REQUEST);
    assert_int_equal(check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":3}", "1"),
                     RPC_INVALID_REQUEST);
}
