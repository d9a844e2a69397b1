/* Blocks and stores shared by the ledger/ block, store and verification unit tests: see
 * test_ledger_chainbuild.h. */
#include "tests/unit/test_common.h"
#include "tests/unit/test_ledger_chainbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/tx.h"
#include "util/log.h"
#include "util/sha256.h"

struct ledger_key g_op;
struct ledger_key g_prod;

/* ---- helpers ---- */

static void
make_trade(struct ledger_tx *tx, unsigned seed, size_t i)
{
    struct ledger_trade *t = &tx->u.trade;

    ledger_tx_init(tx, LEDGER_TX_TRADE);
    tx->timestamp = 1764300000000 + (int64_t)i;
    snprintf(t->trade_id, sizeof(t->trade_id), "T%u-%zu", seed, i);
    snprintf(t->buyer, sizeof(t->buyer), "acct-b%zu", i % 97);
    snprintf(t->seller, sizeof(t->seller), "acct-s%zu", i % 89);
    snprintf(t->asset, sizeof(t->asset), "BTC");
    t->quantity = 1000 + (int64_t)i;
    t->price = 2500000000;
    t->fee_buyer = 25;
    t->fee_seller = 30;
    t->executed_at = 1764300000000 + (int64_t)i;
    snprintf(t->buyer_order, sizeof(t->buyer_order), "o%zu", i);
}

/* Build t; returns SBX_OK or the first failure (no cmocka: the crash test's child uses it). */
int
tblock_make(struct tblock *t, size_t n, uint64_t height, const uint8_t prev[32],
            const uint8_t state_digest[32], unsigned seed)
{
    struct sbx_err err;
    struct ledger_tx tx;
    uint8_t(*ids)[32] = NULL;
    int rc;

    memset(t, 0, sizeof(*t));
    buf_init(&t->txs, (size_t)64 * 1024 * 1024);
    buf_init(&t->enc, LEDGER_BLOCK_MAX_SIZE);
    t->off = calloc(n + 1, sizeof(*t->off));
    t->txids = calloc(n ? n : 1, 32);
    t->b.entries = calloc(n ? n : 1, sizeof(*t->b.entries));
    ids = calloc(n ? n : 1, 32);
    if (t->off == NULL || t->txids == NULL || t->b.entries == NULL || ids == NULL) {
        rc = SBX_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        make_trade(&tx, seed, i);
        t->off[i] = t->txs.len;
        if (i % 2 == 0) {
            rc = ledger_tx_sign(&tx, &g_op, t->txids[i], &err);
            rc = rc ? rc : ledger_tx_encode(&tx, &t->txs, &err);
        } else {
            rc = ledger_tx_seal_for_block(&tx, g_prod.pubkey, &t->txs, t->txids[i], &err);
        }
        if (rc)
            goto out;
    }
    t->off[n] = t->txs.len;
    t->b.ntx = n;
    for (size_t i = 0; i < n; i++) {
        struct ledger_block_entry *e = &t->b.entries[i];

        e->tx = t->txs.data + t->off[i];
        e->tx_len = (uint32_t)(t->off[i + 1] - t->off[i]);
        e->verdict.param_version = 3;
        if (i % 3 == 2) {
            e->verdict.status = LEDGER_VERDICT_REJECTED;
            e->verdict.rule = (uint16_t)(100 + i % 7);
            e->verdict.limit = 500000000;
            e->verdict.used = 400000000;
            e->verdict.requested = 200000000 + (int64_t)i;
        } else {
            e->verdict.status = LEDGER_VERDICT_ACCEPTED;
        }
    }
    t->b.hdr.version = LEDGER_BLOCK_VERSION;
    t->b.hdr.height = height;
    memcpy(t->b.hdr.prev_hash, prev, 32);
    t->b.hdr.time_ms = 1764300000000 + (int64_t)height * 1000;
    memcpy(t->b.hdr.state_digest, state_digest, 32);
    t->b.hdr.ntx = (uint32_t)n;
    rc = ledger_block_roots(&t->b, t->b.hdr.tx_root, t->b.hdr.verdict_root, ids, &err);
    if (rc)
        goto out;
    /* the txids read from the block's bytes are the ones signing computed */
    if (n && memcmp(ids, t->txids, n * 32) != 0) {
        rc = SBX_EINTERNAL;
        goto out;
    }
    rc = ledger_block_sign(&t->b.hdr, &g_prod);
    if (rc)
        goto out;
    rc = ledger_block_encode(&t->b, &t->enc, &err);
    if (rc)
        goto out;
    ledger_block_hash(&t->b.hdr, t->hash);
out:
    free(ids);
    return rc;
}

void
tblock_build(struct tblock *t, size_t n, uint64_t height, const uint8_t prev[32],
             const uint8_t state_digest[32], unsigned seed)
{
    assert_int_equal(tblock_make(t, n, height, prev, state_digest, seed), SBX_OK);
}

void
tblock_free(struct tblock *t)
{
    buf_release(&t->txs);
    buf_release(&t->enc);
    free(t->off);
    free(t->txids);
    free(t->b.entries);
    memset(t, 0, sizeof(*t));
}

int
chainbuild_group_setup(void **state)
{
    (void)state;
    log_set_stderr(0); /* the store logs expected LevelDB errors */
    if (sha256_global_init() != SBX_OK || ledger_keys_global_init() != SBX_OK)
        return -1;
    if (ledger_keys_generate(&g_op) != SBX_OK || ledger_keys_generate(&g_prod) != SBX_OK)
        return -1;
    return 0;
}

int
chainbuild_group_teardown(void **state)
{
    (void)state;
    ledger_keys_wipe(&g_op);
    ledger_keys_wipe(&g_prod);
    log_set_stderr(1);
    return 0;
}

void
put_s(struct ledger_changes *c, const char *k, const char *v)
{
    assert_int_equal(ledger_changes_put(c, k, strlen(k), v, strlen(v)), SBX_OK);
}

/* ---- store ---- */

struct ledger_store *
open_ok(const char *dir, int create)
{
    struct ledger_store *s = NULL;
    struct sbx_err err;
    int rc;

    sbx_err_clear(&err);
    rc = ledger_store_open(&s, dir, create, &err);
    if (rc != SBX_OK)
        print_error("open %s: %s\n", dir, err.msg);
    assert_int_equal(rc, SBX_OK);
    assert_non_null(s);
    return s;
}

static char *
subdir(const char *base, const char *name)
{
    size_t n = strlen(base) + strlen(name) + 2;
    char *p = malloc(n);

    assert_non_null(p);
    snprintf(p, n, "%s/%s", base, name);
    return p;
}

char *
store_dir_new(char **tmp)
{
    *tmp = test_tmpdir();
    assert_non_null(*tmp);
    return subdir(*tmp, "ledger");
}

void
store_dir_free(char *tmp, char *dir)
{
    free(dir);
    test_rmtree(tmp);
    free(tmp);
}

/* Commit t with changes c as the new tip. */
void
commit_block(struct ledger_store *s, const struct tblock *t, const struct ledger_changes *c)
{
    struct ledger_store_batch *b = ledger_store_batch_new();
    struct ledger_tip tip;
    struct sbx_err err;

    assert_non_null(b);
    tip.height = t->b.hdr.height;
    memcpy(tip.hash, t->hash, 32);
    memcpy(tip.state_digest, t->b.hdr.state_digest, 32);
    if (c != NULL)
        ledger_store_batch_changes(b, c);
    ledger_store_batch_block(b, &tip, t->enc.data, t->enc.len, t->txids, t->b.ntx);
    assert_int_equal(ledger_store_commit(s, b, 1, &err), SBX_OK);
    ledger_store_batch_free(b);
}
