/* libFuzzer target: the state and checkpoint records a node reads back from its store at
 * start-up, read by the code that reads them, from a real LevelDB store. The input is a list of
 * records, each u8 key length, key, u16 (big-endian) value length, value (at most 64; the key's
 * first byte is its kind, ledger/store.h). They are written over a devnet store holding its
 * genesis (made once, in a scratch directory), then read as a node opening its chain reads them:
 *   - the tip ('M' "tip", ledger_store_tip);
 *   - the engine's state (cmp_engine_load: the parameter record 'P', the accounts 'A'
 *     (ledger/state.c), usage 'U', addresses 'D', lists and the global record 'S', ids 'I';
 *     compliance/persist.c, usage.c, addresses.c) into an engine made from the genesis;
 *   - the checkpoint's height and tally ('M' "state" and "tally", node/chain_checkpoint.c,
 *     through the chain's internal header, as node/'s unit tests do);
 *   - each 'T' (the varint location of a transaction), 'H' (a block's height) and 'L' (a
 *     compliance alert) record given, and each 'A' and 'U' record on its own, which must
 *     re-encode to the same bytes (the usage codec through compliance/internal.h).
 * Then the store is put back as it was. Every refusal must carry a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compliance/engine.h"
#include "compliance/internal.h"
#include "ledger/block.h"
#include "ledger/changes.h"
#include "ledger/proof.h"
#include "ledger/state.h"
#include "ledger/store.h"
#include "node/chain_internal.h"
#include "node/devnet.h"
#include "ledger/keys.h"
#include "tests/fuzz/fuzz_common.h"
#include "util/buf.h"
#include "util/log.h"

#define MAX_RECORDS 64
#define GENESIS_MS 1767225600000 /* 2026-01-01: any fixed time, so that runs repeat */

struct record {
    const uint8_t *key, *val;
    size_t klen, vlen;
};

static struct ledger_store *store;
static struct ledger_tx genesis;

static void
close_store(void)
{
    ledger_store_close(store);
    ledger_tx_release(&genesis);
}

/* The devnet store and its genesis transaction (first call). */
static void
open_store(void)
{
    char dir[700], ledger[720];
    struct ledger_block b;
    struct sbx_err err;
    struct buf raw;

    if (store != NULL)
        return;
    log_set_stderr(0);
    sbx_err_clear(&err);
    snprintf(dir, sizeof(dir), "%s/devnet", fuzz_scratch_dir());
    snprintf(ledger, sizeof(ledger), "%s/ledger", dir);
    buf_init(&raw, LEDGER_BLOCK_MAX_SIZE);
    if (mkdir(dir, 0700) != 0 || node_devnet_init(dir, GENESIS_MS, NULL, 0, 0, &err) != SBX_OK ||
        ledger_store_open(&store, ledger, 0, &err) != SBX_OK ||
        ledger_store_get_block(store, 0, &raw, &err) != SBX_OK ||
        ledger_block_decode(&b, raw.data, raw.len, &err) != SBX_OK ||
        ledger_proof_genesis(&b, &genesis, &err) != SBX_OK) {
        fprintf(stderr, "fuzz_state: cannot make the devnet store: %s\n", err.msg);
        abort();
    }
    ledger_block_release(&b);
    buf_release(&raw);
    atexit(close_store);
}

static size_t
parse_records(const uint8_t *in, size_t size, struct record *r)
{
    size_t n = 0, off = 0;

    while (n < MAX_RECORDS && off < size) {
        r[n].klen = in[off++];
        if (r[n].klen == 0 || size - off < r[n].klen + 2)
            break;
        r[n].key = in + off;
        off += r[n].klen;
        r[n].vlen = (size_t)in[off] << 8 | in[off + 1];
        off += 2;
        if (size - off < r[n].vlen)
            break;
        r[n].val = in + off;
        off += r[n].vlen;
        n++;
    }
    return n;
}

/* A batch that puts back what the records overwrite. */
static struct ledger_store_batch *
undo_of(const struct record *r, size_t n)
{
    struct ledger_store_batch *undo = ledger_store_batch_new();
    struct buf v;

    if (undo == NULL)
        abort();
    buf_init(&v, 1 << 20);
    for (size_t i = 0; i < n; i++) {
        if (ledger_store_get(store, r[i].key, r[i].klen, &v, NULL) == SBX_OK)
            ledger_store_batch_put(undo, r[i].key, r[i].klen, v.data, v.len);
        else
            ledger_store_batch_del(undo, r[i].key, r[i].klen);
    }
    buf_release(&v);
    return undo;
}

static void
read_engine(void)
{
    struct ledger_changes ch;
    struct cmp_engine *e;
    struct sbx_err err;

    sbx_err_clear(&err);
    if (cmp_engine_new(&e, &genesis, &err) != SBX_OK)
        abort();
    ledger_changes_init(&ch);
    if (cmp_collect(e, &ch) != SBX_OK) /* the genesis records, pending until collected */
        abort();
    ledger_changes_release(&ch);
    (void)fuzz_check_refusal(cmp_engine_load(e, store, &err), &err);
    cmp_engine_free(e);
}

static void
read_checkpoint(void)
{
    struct node_chain *c = calloc(1, sizeof(*c));
    struct ledger_tip tip;
    struct sbx_err err;
    uint64_t h;

    if (c == NULL)
        abort();
    c->store = store;
    sbx_err_clear(&err);
    (void)fuzz_check_refusal(ledger_store_tip(store, &tip, &err), &err);
    sbx_err_clear(&err);
    (void)fuzz_check_refusal(node_chain_checkpoint_height(c, &h, &err), &err);
    sbx_err_clear(&err);
    (void)fuzz_check_refusal(node_chain_checkpoint_load_tally(c, &err), &err);
    free(c);
}

static void
read_record(const struct record *r)
{
    struct ledger_account a;
    struct cmp_usage u;
    struct cmp_alert al;
    struct buf enc;
    struct sbx_err err;
    uint8_t out[4096];
    uint64_t h;
    uint32_t idx;
    size_t len;

    sbx_err_clear(&err);
    switch (r->key[0]) {
    case LEDGER_K_TX:
        if (r->klen == 33)
            (void)fuzz_check_refusal(ledger_store_tx_location(store, r->key + 1, &h, &idx, &err),
                                     &err);
        return;
    case LEDGER_K_HASH:
        if (r->klen == 33)
            (void)fuzz_check_refusal(ledger_store_height_of(store, r->key + 1, &h, &err), &err);
        return;
    case LEDGER_K_ALERT:
        (void)fuzz_check_refusal(cmp_alert_decode(&al, r->val, r->vlen, &err), &err);
        return;
    case LEDGER_K_USAGE:
        if (cmp_usage_decode(&u, r->val, r->vlen) != SBX_OK)
            return;
        buf_init(&enc, 1 << 16);
        if (cmp_usage_encode(&u, &enc) != SBX_OK)
            abort();
        fuzz_check_same(enc.data, enc.len, r->val, r->vlen);
        buf_release(&enc);
        return;
    case LEDGER_K_ACCOUNT:
        memset(&a, 0, sizeof(a));
        if (fuzz_check_refusal(
                ledger_account_decode(&a, genesis.u.genesis.nassets, r->val, r->vlen, &err),
                &err) != SBX_OK)
            return;
        if (ledger_account_encode(&a, genesis.u.genesis.nassets, out, sizeof(out), &len) != SBX_OK)
            abort();
        fuzz_check_same(out, len, r->val, r->vlen);
        return;
    default:
        return;
    }
}

/* Once, before the first input (the devnet store made outside any input's time limit). */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    open_store();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct record r[MAX_RECORDS];
    struct ledger_store_batch *put, *undo;
    uint8_t *copy = fuzz_copy_input(data, size);
    size_t n;

    if (copy == NULL)
        return 0;
    n = parse_records(copy, size, r);
    undo = undo_of(r, n);
    put = ledger_store_batch_new();
    if (put == NULL)
        abort();
    for (size_t i = 0; i < n; i++)
        ledger_store_batch_put(put, r[i].key, r[i].klen, r[i].val, r[i].vlen);
    if (ledger_store_commit(store, put, 0, NULL) != SBX_OK)
        abort();
    read_checkpoint();
    read_engine();
    for (size_t i = 0; i < n; i++)
        read_record(&r[i]);
    if (ledger_store_commit(store, undo, 0, NULL) != SBX_OK)
        abort();
    ledger_store_batch_free(put);
    ledger_store_batch_free(undo);
    free(copy);
    return 0;
}
