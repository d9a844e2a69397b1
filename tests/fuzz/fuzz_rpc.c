/* libFuzzer target: what the JSON-RPC server does with an HTTP body, as rpc/server_call.c does
 * it: the body parsed (rpc_request_parse: one request or a batch), each request's envelope
 * checked (rpc_request_check: jsonrpc, id, method, params), then the call run through the
 * method table (rpc_methods_call: method lookup, role, the params against the method's spec,
 * and the handler, whose parameter parsers read amounts, ids, hex, times and enums) against a
 * real devnet node opened once in a scratch directory (holding an account, deposits, a trade
 * and a withdrawal, so that reads find something), as the admin role (every method is
 * reached). Calls the server would post to the node's event loop (RPC_METHOD_MAIN) stop after
 * the envelope, as do submissions and background jobs after their handler: they are built,
 * never run. Every refusal must carry a JSON-RPC code and a message; every result must be
 * JSON the server can send. The parse must agree with Jansson's parser (same_as_jansson). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>

#include "node/node.h"
#include "rpc/auth.h"
#include "rpc/methods.h"
#include "rpc/outcome.h"
#include "rpc/request.h"
#include "ledger/keys.h"
#include "tests/fuzz/fuzz_common.h"
#include "util/log.h"
#include "util/time.h"

#define MAX_BATCH 100 /* the server's default rpcmaxbatch */

static struct event_base *base;
static struct node *node;
static char datadir[600];
static int pending; /* submissions of populate() not answered yet */

/* What the node holds before the first input, so that reads find something (doc/rpc.md's
 * examples): an account, deposits, a trade, a withdrawal. */
static const char *const ledger[][2] = {
    {"openaccount", "{\"account\":\"alice\",\"kyc_tier\":1,\"investor_class\":"
                    "\"domestic_individual\",\"country\":\"VN\",\"kyc_ref\":\"3f6c1b9e0d2a48f7a5c6"
                    "e1d0b9f8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0\",\"bank_ref\":\"9b2e4d6f8a0c1e3"
                    "f5a7b9c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a1b3c5d7e9f\"}"},
    {"deposit", "{\"transfer_id\":\"DEP-1001\",\"account\":\"alice\",\"asset\":\"VND\","
                "\"amount\":\"500000000\",\"reference\":\"VCB-20261128-000123\"}"},
    {"deposit", "{\"transfer_id\":\"DEP-1002\",\"account\":\"HOUSE\",\"asset\":\"BTC\","
                "\"amount\":\"1.5\",\"reference\":\"bc1qhouse0cold0wallet0example0000000000\"}"},
    {"submittrade", "{\"trade_id\":\"T-1001\",\"buyer\":\"alice\",\"seller\":\"HOUSE\","
                    "\"asset\":\"BTC\",\"quantity\":\"0.01\",\"price\":\"2500000000\",\"executed_"
                    "at\":1767225600000}"},
    {"withdraw", "{\"transfer_id\":\"WD-1001\",\"account\":\"alice\",\"asset\":\"VND\","
                 "\"amount\":\"10000000\",\"reference\":\"VCB-20261128-000456\"}"},
};

static void
submitted(void *arg, const struct node_result *r)
{
    (void)arg;
    (void)r; /* recorded or rejected: either is on the ledger for the reads */
    pending--;
}

/* Submit the `ledger` transactions and run the node's loop until each is answered. */
static void
populate(void)
{
    const struct ledger_genesis *g = node_genesis(node);
    int64_t deadline = time_mono_us() + 60 * 1000000LL;
    struct sbx_err err;

    for (size_t i = 0; i < SBX_ARRAY_LEN(ledger); i++) {
        json_t *params = json_loads(ledger[i][1], 0, NULL);
        struct ledger_tx tx;

        sbx_err_clear(&err);
        if (params == NULL || rpc_methods_build_tx(ledger[i][0], params, g->assets, g->nassets, &tx,
                                                   &err) != SBX_OK) {
            fprintf(stderr, "fuzz_rpc: %s: %s\n", ledger[i][0], err.msg);
            abort();
        }
        pending++;
        node_submit(node, &tx, submitted, NULL);
        ledger_tx_release(&tx);
        json_decref(params);
    }
    while (pending > 0) {
        if (time_mono_us() > deadline) {
            fprintf(stderr, "fuzz_rpc: the devnet node did not answer its first submissions\n");
            abort();
        }
        event_base_loop(base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
}

static void
close_node(void)
{
    node_close(node);
    event_base_free(base);
}

/* The devnet node every input is run against (first call). */
static void
open_node(void)
{
    struct node_config cfg;
    struct sbx_err err;

    if (node != NULL)
        return;
    log_set_stderr(0);
    if (evthread_use_pthreads() != 0 ||
        snprintf(datadir, sizeof(datadir), "%s/node", fuzz_scratch_dir()) >= (int)sizeof(datadir))
        abort();
    if (mkdir(datadir, 0700) != 0)
        abort();
    base = event_base_new();
    node_config_defaults(&cfg);
    cfg.datadir = datadir;
    cfg.devnet = 1;
    cfg.workers = 1;
    sbx_err_clear(&err);
    if (base == NULL || node_open(&node, &cfg, base, &err) != SBX_OK) {
        fprintf(stderr, "fuzz_rpc: cannot open a devnet node: %s\n", err.msg);
        abort();
    }
    atexit(close_node);
    populate();
}

static void
check_outcome(const struct rpc_outcome *o)
{
    json_t *e;
    char *s;

    switch (o->kind) {
    case RPC_OUT_RESULT:
        s = json_dumps(o->result, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s == NULL)
            abort(); /* a result the server cannot send */
        free(s);
        break;
    case RPC_OUT_ERROR:
        if (o->code == 0 || o->message[0] == '\0')
            abort(); /* an error without a code or a message */
        e = rpc_methods_error_object(o);
        if (e == NULL)
            abort();
        json_decref(e);
        break;
    case RPC_OUT_SUBMIT:
        if (o->tx == NULL)
            abort();
        break;
    case RPC_OUT_SUBMIT_RAW:
        if (o->raw == NULL)
            abort();
        break;
    case RPC_OUT_JOB:
        if (o->job == NULL)
            abort();
        break;
    default:
        abort();
    }
}

static void
call(const struct rpc_env *env, json_t *req)
{
    const struct rpc_method *m;
    struct rpc_request r;
    struct rpc_outcome out;
    char msg[SBX_ERR_MSG_MAX];

    if (rpc_request_check(req, &r, msg) != 0) {
        if (msg[0] == '\0' || r.method != NULL)
            abort();
        return;
    }
    m = rpc_methods_find(r.method);
    if (m != NULL && (m->flags & RPC_METHOD_MAIN))
        return; /* the node's event loop runs it: not here */
    rpc_outcome_init(&out);
    rpc_methods_call(env, r.method, r.params, &out);
    check_outcome(&out);
    rpc_outcome_release(&out);
}

/* Once, before the first input (the node opened and filled outside any input's time limit). */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    open_node();
    return 0;
}

/* rpc_request_parse reads most bodies without Jansson's parser: what it makes must be what
 * Jansson makes of the same bytes, members in the same order (compared as Jansson writes them),
 * and it must refuse what Jansson refuses. */
static void
same_as_jansson(const uint8_t *data, size_t size, int rc, const json_t *body)
{
    json_t *ref = size > 0 ? json_loadb((const char *)data, size,
                                        JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL)
                           : NULL;
    char *a, *b;

    if (rc == RPC_PARSE_ERROR) {
        if (ref != NULL)
            abort();
        return;
    }
    if (ref == NULL || body == NULL)
        abort();
    a = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    b = json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY);
    if (a == NULL || b == NULL || strcmp(a, b) != 0 || !json_equal(body, ref))
        abort();
    free(a);
    free(b);
    json_decref(ref);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct ledger_genesis *g;
    struct rpc_env env;
    char msg[SBX_ERR_MSG_MAX];
    size_t budget = RPC_RENDER_BUDGET;
    json_t *body;
    uint8_t *copy = fuzz_copy_input(data, size);
    int rc;

    if (copy == NULL)
        return 0;
    rc = rpc_request_parse((const char *)copy, size, MAX_BATCH, &body, msg);
    if (rc != RPC_INVALID_REQUEST) /* a batch's size is checked after the parse */
        same_as_jansson(copy, size, rc, body);
    if (rc != 0) {
        if (msg[0] == '\0' || body != NULL)
            abort();
        free(copy);
        return 0;
    }
    g = node_genesis(node);
    memset(&env, 0, sizeof(env));
    env.node = node;
    env.role = RPC_ROLE_ADMIN;
    env.now_ms = 1767225600000; /* fixed: the same input runs the same way */
    env.assets = g->assets;
    env.nassets = g->nassets;
    env.budget = &budget;
    if (json_is_array(body)) {
        for (size_t i = 0; i < json_array_size(body); i++)
            call(&env, json_array_get(body, i));
    } else {
        call(&env, body);
    }
    json_decref(body);
    free(copy);
    return 0;
}
