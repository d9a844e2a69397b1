/* rpc/ unit tests of the node's answers to submissions as the server gives them
 * (rpc_methods_submit_done): a receipt, kept as values and written as text
 * (rpc_render_receipt_text, the text Jansson would write for the same object), a recorded
 * rejection with its rule and figures, and the other refusals through the code table. */
#include "tests/unit/test_common.h"
#include "tests/unit/test_rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "compliance/rules.h"
#include "rpc/methods.h"
#include "rpc/outcome.h"
#include "rpc/render.h"

void
test_submit_done(void **state)
{
    struct node_result r;
    struct rpc_outcome o;
    char text[RPC_RECEIPT_TEXT_MAX], hex11[65], hex22[65], *dumped;
    json_t *d, *j;
    size_t n;

    (void)state;
    memset(hex11, '1', 64);
    hex11[64] = '\0';
    memset(hex22, '2', 64);
    hex22[64] = '\0';
    memset(&r, 0, sizeof(r));
    memset(r.txid, 0x11, 32);
    memset(r.block_hash, 0x22, 32);
    r.height = 42;
    rpc_outcome_init(&o);
    rpc_methods_submit_done(&o, &r);
    assert_int_equal(o.kind, RPC_OUT_RESULT);
    assert_int_equal(o.has_receipt, 1);
    assert_null(o.result);
    /* the receipt's text is the JSON Jansson writes for the same object, in the same order */
    n = rpc_render_receipt_text(text, &o.receipt);
    assert_int_equal(n, strlen(text));
    j = json_loads(text, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "verdict")), "accepted");
    assert_int_equal(json_integer_value(json_object_get(j, "height")), 42);
    assert_string_equal(json_string_value(json_object_get(j, "txid")), hex11);
    assert_string_equal(json_string_value(json_object_get(j, "block_hash")), hex22);
    dumped = json_dumps(j, JSON_COMPACT);
    assert_string_equal(dumped, text);
    free(dumped);
    json_decref(j);
    r.height = UINT64_MAX; /* capped as every height is: JSON integers are signed */
    rpc_methods_submit_done(&o, &r);
    n = rpc_render_receipt_text(text, &o.receipt);
    assert_non_null(strstr(text, "\"height\":9223372036854775807,"));
    r.height = 42;

    r.rc = SBX_EREJECTED;
    r.verdict.status = LEDGER_VERDICT_REJECTED;
    r.verdict.rule = CMP_RULE_LIMIT_DAILY;
    r.verdict.limit = 400000000;
    r.verdict.used = 399999999;
    r.verdict.requested = 2;
    snprintf(r.message, sizeof(r.message), "limit.daily: A");
    rpc_methods_submit_done(&o, &r);
    assert_int_equal(o.kind, RPC_OUT_ERROR);
    assert_int_equal(o.code, RPC_REJECTED);
    d = o.data;
    assert_non_null(d);
    assert_string_equal(json_string_value(json_object_get(d, "rule")), "limit.daily");
    assert_string_equal(json_string_value(json_object_get(d, "limit")), "400000000");
    assert_string_equal(json_string_value(json_object_get(d, "used")), "399999999");
    assert_string_equal(json_string_value(json_object_get(d, "requested")), "2");
    assert_int_equal(json_integer_value(json_object_get(d, "height")), 42);
    assert_non_null(json_object_get(d, "txid"));
    assert_non_null(json_object_get(d, "message"));

    r.verdict.used = 0; /* figures that are 0 are left out */
    rpc_methods_submit_done(&o, &r);
    assert_null(json_object_get(o.data, "used"));

    r.rc = SBX_ECONFLICT;
    rpc_methods_submit_done(&o, &r);
    assert_int_equal(o.code, RPC_CONFLICT);
    assert_null(o.data);
    r.rc = SBX_EOVERLOAD;
    rpc_methods_submit_done(&o, &r);
    assert_int_equal(o.code, RPC_OVERLOADED);
    r.rc = SBX_EIO;
    rpc_methods_submit_done(&o, &r);
    assert_int_equal(o.code, RPC_INTERNAL_ERROR);
    assert_string_equal(o.message, "internal error");
    rpc_outcome_release(&o);
}
