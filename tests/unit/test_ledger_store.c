/* Unit tests of ledger/block.c, ledger/changes.c and ledger/store.c: block encoding and its
 * refusals, merkle roots, block signatures, change sets and the state digest, and the LevelDB
 * store (schema check, atomic synced commits, a crash in the middle of commits, scans, chain
 * verification that finds a tampered block).
 *
 * Transactions are real signed trades (ledger/tx.c, ledger/keys.c), so the roots and
 * signatures checked here are the ones a node would check.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_ledger.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ledger/block.h"
#include "ledger/changes.h"
#include "ledger/keys.h"
#include "ledger/store.h"
#include "ledger/tx.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/sha256.h"

/* Offsets in an encoded block (see block.h). */
#define OFF_VERSION 0
#define OFF_TIME 44
#define OFF_PRODUCER 148
#define OFF_NTX 180
#define OFF_SIG 184
#define OFF_ENTRY0 LEDGER_HEADER_SIZE

static struct ledger_key g_op;   /* signs the transactions */
static struct ledger_key g_prod; /* signs the blocks */

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

/* A block of n signed trades with real roots, signed by g_prod. */
struct tblock {
    struct buf txs; /* the encoded transactions back to back */
    size_t *off;
    uint8_t (*txids)[32];
    struct ledger_block b;
    struct buf enc;
    uint8_t hash[32];
};

/* Build t; returns SBX_OK or the first failure (no cmocka: the crash test's child uses it). */
static int
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
        rc = ledger_keys_sign_tx(&tx, &g_op, t->txids[i], &err);
        if (rc)
            goto out;
        t->off[i] = t->txs.len;
        rc = ledger_tx_encode(&tx, &t->txs, &err);
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

static void
tblock_build(struct tblock *t, size_t n, uint64_t height, const uint8_t prev[32],
             const uint8_t state_digest[32], unsigned seed)
{
    assert_int_equal(tblock_make(t, n, height, prev, state_digest, seed), SBX_OK);
}

static void
tblock_free(struct tblock *t)
{
    buf_release(&t->txs);
    buf_release(&t->enc);
    free(t->off);
    free(t->txids);
    free(t->b.entries);
    memset(t, 0, sizeof(*t));
}

/* Field-by-field comparisons (the structs have padding, so no memcmp of whole structs). */
static void
assert_verdict_equal(const struct ledger_verdict *a, const struct ledger_verdict *b)
{
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->rule, b->rule);
    assert_true(a->limit == b->limit);
    assert_true(a->used == b->used);
    assert_true(a->requested == b->requested);
    assert_int_equal(a->param_version, b->param_version);
}

static void
assert_header_equal(const struct ledger_block_header *a, const struct ledger_block_header *b)
{
    uint8_t ea[LEDGER_HEADER_UNSIGNED_SIZE], eb[LEDGER_HEADER_UNSIGNED_SIZE];

    assert_int_equal(a->version, b->version);
    assert_int_equal(a->height, b->height);
    assert_true(a->time_ms == b->time_ms);
    assert_int_equal(a->ntx, b->ntx);
    ledger_block_header_encode_unsigned(a, ea);
    ledger_block_header_encode_unsigned(b, eb);
    assert_memory_equal(ea, eb, sizeof(ea));
    assert_memory_equal(a->sig, b->sig, 64);
}

/* Decode a copy of `in` (exactly len bytes on the heap, so ASan sees any over-read). */
static int
decode_copy(const uint8_t *in, size_t len, struct sbx_err *err)
{
    struct ledger_block b;
    uint8_t *p = malloc(len ? len : 1);
    int rc;

    assert_non_null(p);
    if (len)
        memcpy(p, in, len);
    rc = ledger_block_decode(&b, p, len, err);
    if (rc == SBX_OK)
        ledger_block_release(&b);
    free(p);
    return rc;
}

/* Reference merkle root, level by level (the rule as block.h states it). */
static void
ref_merkle(const uint8_t (*items)[32], size_t n, uint8_t out[32])
{
    uint8_t(*lv)[32], pair[64];
    size_t m = n;

    memset(out, 0, 32);
    if (n == 0)
        return;
    lv = malloc(n * 32);
    assert_non_null(lv);
    for (size_t i = 0; i < n; i++)
        sha256_tagged_slow(lv[i], "sbx/leaf", items[i], 32);
    while (m > 1) {
        size_t k = 0;

        for (size_t i = 0; i + 1 < m; i += 2) {
            memcpy(pair, lv[i], 32);
            memcpy(pair + 32, lv[i + 1], 32);
            sha256_tagged_slow(lv[k++], "sbx/node", pair, 64);
        }
        if (m % 2)
            memcpy(lv[k++], lv[m - 1], 32);
        m = k;
    }
    memcpy(out, lv[0], 32);
    free(lv);
}

static void
fill_items(uint8_t (*items)[32], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t seed[8];

        buf_store_u64(seed, i);
        sha256(items[i], seed, sizeof(seed));
    }
}

static int
group_setup(void **state)
{
    (void)state;
    log_set_stderr(0); /* the store logs expected LevelDB errors */
    if (sha256_global_init() != SBX_OK || ledger_keys_global_init() != SBX_OK)
        return -1;
    if (ledger_keys_generate(&g_op) != SBX_OK || ledger_keys_generate(&g_prod) != SBX_OK)
        return -1;
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    ledger_keys_wipe(&g_op);
    ledger_keys_wipe(&g_prod);
    log_set_stderr(1);
    return 0;
}

/* ---- blocks ---- */

static void
check_roundtrip(size_t n)
{
    static const uint8_t prev[32] = {1, 2, 3}, digest[32] = {9, 8, 7};
    struct tblock t;
    struct ledger_block d;
    struct buf again;
    struct sbx_err err;

    tblock_build(&t, n, 42, prev, digest, (unsigned)n);
    assert_int_equal(t.enc.len, LEDGER_HEADER_SIZE + n * (4 + LEDGER_VERDICT_SIZE) + t.txs.len);
    assert_int_equal(ledger_block_decode(&d, t.enc.data, t.enc.len, &err), SBX_OK);
    assert_header_equal(&d.hdr, &t.b.hdr);
    assert_int_equal(d.ntx, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(d.entries[i].tx_len, t.b.entries[i].tx_len);
        assert_memory_equal(d.entries[i].tx, t.b.entries[i].tx, d.entries[i].tx_len);
        /* tx points into the block's bytes */
        assert_true(d.entries[i].tx > t.enc.data && d.entries[i].tx < t.enc.data + t.enc.len);
        assert_verdict_equal(&d.entries[i].verdict, &t.b.entries[i].verdict);
    }
    assert_int_equal(ledger_block_check(&d, &err), SBX_OK);
    buf_init(&again, LEDGER_BLOCK_MAX_SIZE);
    assert_int_equal(ledger_block_encode(&d, &again, &err), SBX_OK);
    assert_int_equal(again.len, t.enc.len);
    assert_memory_equal(again.data, t.enc.data, t.enc.len);
    if (n == 0) {
        static const uint8_t zero[32];

        assert_memory_equal(d.hdr.tx_root, zero, 32);
        assert_memory_equal(d.hdr.verdict_root, zero, 32);
    }
    buf_release(&again);
    ledger_block_release(&d);
    assert_null(d.entries);
    tblock_free(&t);
}

static void
test_block_roundtrip(void **state)
{
    (void)state;
    check_roundtrip(0);
    check_roundtrip(1);
    check_roundtrip(3);
    check_roundtrip(1000);
}

static void
test_block_truncated_trailing(void **state)
{
    static const uint8_t zero[32];
    struct tblock t;
    struct sbx_err err;
    uint8_t *longer;

    (void)state;
    tblock_build(&t, 3, 1, zero, zero, 7);
    /* every proper prefix, from empty to one byte short */
    for (size_t len = 0; len < t.enc.len; len++)
        assert_int_equal(decode_copy(t.enc.data, len, &err), SBX_ETRUNCATED);
    assert_int_equal(decode_copy(t.enc.data, t.enc.len, &err), SBX_OK);
    longer = malloc(t.enc.len + 1);
    assert_non_null(longer);
    memcpy(longer, t.enc.data, t.enc.len);
    longer[t.enc.len] = 0;
    assert_int_equal(decode_copy(longer, t.enc.len + 1, &err), SBX_ETRAILING);
    free(longer);
    /* the header alone: exactly LEDGER_HEADER_SIZE, nothing more */
    {
        struct ledger_block_header h;

        assert_int_equal(ledger_block_header_decode(&h, t.enc.data, LEDGER_HEADER_SIZE, &err),
                         SBX_OK);
        assert_header_equal(&h, &t.b.hdr);
        assert_int_equal(ledger_block_header_decode(&h, t.enc.data, LEDGER_HEADER_SIZE - 1, &err),
                         SBX_ETRUNCATED);
        assert_int_equal(ledger_block_header_decode(&h, t.enc.data, LEDGER_HEADER_SIZE + 1, &err),
                         SBX_ETRAILING);
    }
    tblock_free(&t);
}

static void
test_block_bad_header(void **state)
{
    static const uint8_t zero[32];
    struct tblock t;
    struct sbx_err err;
    uint8_t *p;
    uint32_t versions[] = {0, 2, 0x01000001u, UINT32_MAX};

    (void)state;
    tblock_build(&t, 2, 1, zero, zero, 11);
    p = malloc(t.enc.len);
    assert_non_null(p);

    for (size_t i = 0; i < SBX_ARRAY_LEN(versions); i++) {
        memcpy(p, t.enc.data, t.enc.len);
        buf_store_u32(p + OFF_VERSION, versions[i]);
        sbx_err_clear(&err);
        assert_int_equal(decode_copy(p, t.enc.len, &err), SBX_EVERSION);
        assert_non_null(strstr(err.msg, "version"));
    }

    /* an invalid producer key (x >= field size) */
    memcpy(p, t.enc.data, t.enc.len);
    memset(p + OFF_PRODUCER, 0xff, 32);
    assert_int_equal(decode_copy(p, t.enc.len, &err), SBX_EPUBKEY);

    /* forged entry counts: never a huge allocation, the right code at each edge */
    memcpy(p, t.enc.data, t.enc.len);
    buf_store_u32(p + OFF_NTX, UINT32_MAX);
    assert_int_equal(decode_copy(p, t.enc.len, &err), SBX_ETOOLONG);
    buf_store_u32(p + OFF_NTX, LEDGER_BLOCK_MAX_TXS + 1);
    assert_int_equal(decode_copy(p, t.enc.len, &err), SBX_ETOOLONG);
    buf_store_u32(p + OFF_NTX, LEDGER_BLOCK_MAX_TXS);
    assert_int_equal(decode_copy(p, t.enc.len, &err), SBX_ETRUNCATED);
    buf_store_u32(p + OFF_NTX, 3);
    assert_int_equal(decode_copy(p, t.enc.len, &err), SBX_ETRUNCATED);
    buf_store_u32(p + OFF_NTX, 1);
    assert_int_equal(decode_copy(p, t.enc.len, &err), SBX_ETRAILING);

    /* forged tx lengths */
    memcpy(p, t.enc.data, t.enc.len);
    buf_store_u32(p + OFF_ENTRY0, SBX_TX_MAX_SIZE + 1);
    assert_int_equal(decode_copy(p, t.enc.len, &err), SBX_ETOOLONG);
    buf_store_u32(p + OFF_ENTRY0, SBX_TX_MAX_SIZE);
    assert_int_equal(decode_copy(p, t.enc.len, &err), SBX_ETRUNCATED);
    buf_store_u32(p + OFF_ENTRY0, UINT32_MAX);
    assert_int_equal(decode_copy(p, t.enc.len, &err), SBX_ETOOLONG);
    free(p);

    /* a block over the size limit is refused before anything is read */
    {
        size_t big = (size_t)LEDGER_BLOCK_MAX_SIZE + 1;
        uint8_t *q = calloc(1, big);
        struct ledger_block b;

        assert_non_null(q);
        memcpy(q, t.enc.data, t.enc.len);
        assert_int_equal(ledger_block_decode(&b, q, big, &err), SBX_ETOOLONG);
        free(q);
    }
    tblock_free(&t);
}

static void
test_block_bad_verdict(void **state)
{
    static const uint8_t zero[32];
    struct tblock t;
    struct sbx_err err;
    struct ledger_verdict v;
    uint8_t *p, enc[LEDGER_VERDICT_SIZE];
    size_t voff;
    struct buf out;

    (void)state;
    tblock_build(&t, 1, 1, zero, zero, 13);
    p = malloc(t.enc.len);
    assert_non_null(p);
    voff = t.enc.len - LEDGER_VERDICT_SIZE; /* the only verdict: accepted */
    assert_int_equal(t.enc.data[voff], LEDGER_VERDICT_ACCEPTED);

    const uint8_t statuses[] = {0, 3, 0xff};
    for (size_t i = 0; i < sizeof(statuses); i++) {
        memcpy(p, t.enc.data, t.enc.len);
        p[voff] = statuses[i];
        assert_int_equal(decode_copy(p, t.enc.len, &err), SBX_ETYPE);
    }
    /* accepted, with a rule or any figure set: each byte of rule/limit/used/requested */
    for (size_t off = 1; off < 1 + 2 + 8 + 8 + 8; off++) {
        memcpy(p, t.enc.data, t.enc.len);
        p[voff + off] = 1;
        assert_int_equal(decode_copy(p, t.enc.len, &err), SBX_ENONCANON);
    }
    /* the param version is free */
    memcpy(p, t.enc.data, t.enc.len);
    p[voff + 27] ^= 0x80;
    assert_int_equal(decode_copy(p, t.enc.len, &err), SBX_OK);
    free(p);

    /* the same rules on the encoding side */
    buf_init(&out, LEDGER_BLOCK_MAX_SIZE);
    t.b.entries[0].verdict.rule = 5;
    assert_int_equal(ledger_block_encode(&t.b, &out, &err), SBX_ENONCANON);
    t.b.entries[0].verdict.rule = 0;
    t.b.entries[0].verdict.status = 0;
    assert_int_equal(ledger_block_encode(&t.b, &out, &err), SBX_ETYPE);
    assert_int_equal(out.len, 0);
    buf_release(&out);

    /* verdict encoding round trip, at extreme values */
    memset(&v, 0, sizeof(v));
    v.status = LEDGER_VERDICT_REJECTED;
    v.rule = UINT16_MAX;
    v.limit = INT64_MAX;
    v.used = INT64_MIN;
    v.requested = -1;
    v.param_version = UINT32_MAX;
    ledger_verdict_encode(&v, enc);
    {
        struct ledger_verdict w;

        assert_int_equal(ledger_verdict_decode(&w, enc, &err), SBX_OK);
        assert_verdict_equal(&w, &v);
    }
    tblock_free(&t);
}

static void
test_block_encode_checks(void **state)
{
    static const uint8_t zero[32];
    struct tblock t;
    struct sbx_err err;
    struct buf out;

    (void)state;
    tblock_build(&t, 2, 1, zero, zero, 17);
    buf_init(&out, LEDGER_BLOCK_MAX_SIZE);
    t.b.hdr.ntx = 3; /* header and entries disagree */
    assert_int_equal(ledger_block_encode(&t.b, &out, &err), SBX_EINVAL);
    t.b.hdr.ntx = 2;
    t.b.hdr.version = 2;
    assert_int_equal(ledger_block_encode(&t.b, &out, &err), SBX_EVERSION);
    t.b.hdr.version = 1;
    t.b.entries[1].tx_len = SBX_TX_MAX_SIZE + 1;
    assert_int_equal(ledger_block_encode(&t.b, &out, &err), SBX_ETOOLONG);
    assert_int_equal(out.len, 0);
    /* a cap too small for the block: refused, out unchanged */
    t.b.entries[1].tx_len = (uint32_t)(t.off[2] - t.off[1]);
    buf_release(&out);
    buf_init(&out, t.enc.len - 1);
    assert_int_equal(ledger_block_encode(&t.b, &out, &err), SBX_ETOOLONG);
    assert_int_equal(out.len, 0);
    buf_release(&out);
    tblock_free(&t);
}

static void
test_merkle(void **state)
{
    uint8_t items[100][32], root[32], ref[32], pair[64], la[32], lb[32], lc[32];
    static const uint8_t zero[32];

    (void)state;
    fill_items(items, 100);

    ledger_merkle_root(items, 0, root);
    assert_memory_equal(root, zero, 32);

    /* one leaf: the tagged leaf hash, not the item itself */
    ledger_merkle_root(items, 1, root);
    sha256_tagged_slow(la, "sbx/leaf", items[0], 32);
    assert_memory_equal(root, la, 32);
    assert_memory_not_equal(root, items[0], 32);

    /* two: node(leaf a, leaf b) */
    ledger_merkle_root(items, 2, root);
    sha256_tagged_slow(lb, "sbx/leaf", items[1], 32);
    memcpy(pair, la, 32);
    memcpy(pair + 32, lb, 32);
    sha256_tagged_slow(ref, "sbx/node", pair, 64);
    assert_memory_equal(root, ref, 32);

    /* three: the odd c is promoted unchanged, node(node(a, b), leaf c) */
    ledger_merkle_root(items, 3, root);
    sha256_tagged_slow(lc, "sbx/leaf", items[2], 32);
    memcpy(pair, ref, 32);
    memcpy(pair + 32, lc, 32);
    sha256_tagged_slow(ref, "sbx/node", pair, 64);
    assert_memory_equal(root, ref, 32);

    /* [a, b, c] and [a, b, c, c] differ (no duplication of the odd node) */
    {
        uint8_t abcc[4][32], r4[32];

        memcpy(abcc, items, 3 * 32);
        memcpy(abcc[3], items[2], 32);
        ledger_merkle_root(abcc, 4, r4);
        assert_memory_not_equal(root, r4, 32);
    }
    /* order matters */
    {
        uint8_t ba[2][32], r2[32], r2b[32];

        memcpy(ba[0], items[1], 32);
        memcpy(ba[1], items[0], 32);
        ledger_merkle_root(ba, 2, r2);
        ledger_merkle_root(items, 2, r2b);
        assert_memory_not_equal(r2, r2b, 32);
    }
    /* the streaming implementation agrees with the level-by-level rule for every n to 100 */
    for (size_t n = 0; n <= 100; n++) {
        ledger_merkle_root(items, n, root);
        ref_merkle(items, n, ref);
        assert_memory_equal(root, ref, 32);
    }
}

static void
test_block_signature(void **state)
{
    static const uint8_t zero[32];
    struct ledger_block_header h;
    struct tblock t;
    struct sbx_err err;
    uint8_t hash[32], ref[32], unsig[LEDGER_HEADER_UNSIGNED_SIZE];

    (void)state;
    tblock_build(&t, 3, 5, zero, zero, 19);
    h = t.b.hdr;
    assert_memory_equal(h.producer, g_prod.pubkey, 32);
    assert_int_equal(ledger_block_verify_sig(&h, &err), SBX_OK);

    /* the hash is the tagged hash of the unsigned header */
    ledger_block_header_encode_unsigned(&h, unsig);
    assert_memory_equal(unsig, t.enc.data, sizeof(unsig));
    ledger_block_hash(&h, hash);
    sha256_tagged_slow(ref, "sbx/block", unsig, sizeof(unsig));
    assert_memory_equal(hash, ref, 32);

    /* every bit of the unsigned header is covered by the signature */
    for (size_t bit = 0; bit < LEDGER_HEADER_UNSIGNED_SIZE * 8; bit += 7) {
        struct ledger_block_header x;
        int rc;

        memcpy(unsig, t.enc.data, sizeof(unsig));
        unsig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        /* decode the flipped header with the original signature */
        {
            uint8_t full[LEDGER_HEADER_SIZE];

            memcpy(full, unsig, sizeof(unsig));
            memcpy(full + sizeof(unsig), h.sig, 64);
            rc = ledger_block_header_decode(&x, full, sizeof(full), &err);
        }
        if (rc != SBX_OK)
            continue; /* version, ntx or producer no longer decodes: refused anyway */
        rc = ledger_block_verify_sig(&x, &err);
        assert_true(rc == SBX_EBADSIG || rc == SBX_EPUBKEY);
    }
    /* a flipped signature bit */
    h.sig[10] ^= 0x04;
    assert_int_equal(ledger_block_verify_sig(&h, &err), SBX_EBADSIG);
    h.sig[10] ^= 0x04;
    /* signed by another key than the producer named */
    memcpy(h.producer, g_op.pubkey, 32);
    assert_int_equal(ledger_block_verify_sig(&h, &err), SBX_EBADSIG);

    /* ledger_block_check: roots and signature */
    assert_int_equal(ledger_block_check(&t.b, &err), SBX_OK);
    t.b.hdr.time_ms++;
    assert_int_equal(ledger_block_check(&t.b, &err), SBX_EBADSIG);
    t.b.hdr.time_ms--;
    t.b.hdr.tx_root[0] ^= 1;
    assert_int_equal(ledger_block_check(&t.b, &err), SBX_EINVAL);
    assert_non_null(strstr(err.msg, "tx_root"));
    t.b.hdr.tx_root[0] ^= 1;
    t.b.entries[1].verdict.param_version++;
    assert_int_equal(ledger_block_check(&t.b, &err), SBX_EINVAL);
    assert_non_null(strstr(err.msg, "verdict_root"));
    t.b.entries[1].verdict.param_version--;
    /* an entry that is not a transaction */
    t.b.entries[2].tx_len = 5;
    assert_int_not_equal(ledger_block_check(&t.b, &err), SBX_OK);
    tblock_free(&t);
}

/* ---- change sets ---- */

static void
put_s(struct ledger_changes *c, const char *k, const char *v)
{
    assert_int_equal(ledger_changes_put(c, k, strlen(k), v, strlen(v)), SBX_OK);
}

static void
test_changes_last_write_wins(void **state)
{
    struct ledger_changes c;

    (void)state;
    ledger_changes_init(&c);
    put_s(&c, "b", "1");
    put_s(&c, "a", "1");
    put_s(&c, "b", "2");
    put_s(&c, "ab", "x");
    assert_int_equal(ledger_changes_del(&c, "a", 1), SBX_OK);
    put_s(&c, "c", "gone");
    assert_int_equal(ledger_changes_del(&c, "c", 1), SBX_OK);
    put_s(&c, "c", "back");
    put_s(&c, "b", "3");
    ledger_changes_finish(&c);
    assert_true(c.sorted);
    assert_int_equal(c.n, 4);
    /* bytewise order, a prefix before its extensions */
    assert_int_equal(c.v[0].klen, 1);
    assert_memory_equal(c.v[0].key, "a", 1);
    assert_true(c.v[0].del);
    assert_int_equal(c.v[1].klen, 2);
    assert_memory_equal(c.v[1].key, "ab", 2);
    assert_memory_equal(c.v[2].key, "b", 1);
    assert_false(c.v[2].del);
    assert_int_equal(c.v[2].vlen, 1);
    assert_memory_equal(c.v[2].val, "3", 1);
    assert_memory_equal(c.v[3].key, "c", 1);
    assert_false(c.v[3].del);
    assert_memory_equal(c.v[3].val, "back", 4);
    /* finishing again changes nothing */
    ledger_changes_finish(&c);
    assert_int_equal(c.n, 4);

    /* limits */
    {
        uint8_t key[LEDGER_KEY_MAX + 1];

        memset(key, 'k', sizeof(key));
        assert_int_equal(ledger_changes_put(&c, key, LEDGER_KEY_MAX, "v", 1), SBX_OK);
        assert_int_equal(ledger_changes_put(&c, key, LEDGER_KEY_MAX + 1, "v", 1), SBX_ETOOLONG);
        assert_int_equal(ledger_changes_del(&c, key, LEDGER_KEY_MAX + 1), SBX_ETOOLONG);
        assert_int_equal(ledger_changes_put(&c, key, 0, "v", 1), SBX_EINVAL);
        assert_int_equal(ledger_changes_put(&c, "k", 1, key, (size_t)LEDGER_VALUE_MAX + 1),
                         SBX_ETOOLONG);
        assert_false(c.sorted);
        assert_int_equal(c.n, 5);
    }
    ledger_changes_reset(&c);
    assert_int_equal(c.n, 0);

    /* many writes to few keys: the last value of each key survives */
    {
        uint32_t last[50];
        char key[8];
        uint8_t val[4];

        for (uint32_t i = 0; i < 20000; i++) {
            uint32_t k = (i * 2654435761u) % 50;

            snprintf(key, sizeof(key), "k%02u", (unsigned)k);
            buf_store_u32(val, i);
            assert_int_equal(ledger_changes_put(&c, key, 3, val, 4), SBX_OK);
            last[k] = i;
        }
        ledger_changes_finish(&c);
        assert_int_equal(c.n, 50);
        for (uint32_t k = 0; k < 50; k++) {
            snprintf(key, sizeof(key), "k%02u", (unsigned)k);
            assert_memory_equal(c.v[k].key, key, 3);
            assert_int_equal(buf_load_u32(c.v[k].val), last[k]);
        }
    }
    ledger_changes_release(&c);
    ledger_changes_release(&c); /* released twice: still fine */
}

static void
test_changes_hash(void **state)
{
    struct ledger_changes a, b;
    uint8_t ha[32], hb[32], ref[32], prev[32], next[32], msg[64];

    (void)state;
    ledger_changes_init(&a);
    ledger_changes_init(&b);

    /* empty: SHA-256 of nothing */
    ledger_changes_hash(&a, ha);
    sha256(ref, "", 0);
    assert_memory_equal(ha, ref, 32);

    /* the exact serialisation: u16 klen | key | u8 op | u32 vlen | value, in key order */
    put_s(&a, "kb", "val");
    assert_int_equal(ledger_changes_del(&a, "ka", 2), SBX_OK);
    ledger_changes_hash(&a, ha);
    {
        static const uint8_t ser[] = {0,   2,   'k', 'a', 2, 0, 0, 0,   0,   0,  2,
                                      'k', 'b', 1,   0,   0, 0, 3, 'v', 'a', 'l'};

        sha256(ref, ser, sizeof(ser));
        assert_memory_equal(ha, ref, 32);
    }

    /* order of writes to different keys does not matter */
    ledger_changes_reset(&a);
    put_s(&a, "A1", "x");
    put_s(&a, "A2", "y");
    put_s(&a, "U9", "z");
    put_s(&b, "U9", "z");
    put_s(&b, "A2", "y");
    put_s(&b, "A1", "x");
    ledger_changes_hash(&a, ha);
    ledger_changes_hash(&b, hb);
    assert_memory_equal(ha, hb, 32);

    /* an overwritten write leaves no trace */
    put_s(&b, "A1", "old");
    put_s(&b, "A1", "x");
    ledger_changes_hash(&b, hb);
    assert_memory_equal(ha, hb, 32);

    /* a different final value, and a delete, change the hash */
    put_s(&b, "A1", "x2");
    ledger_changes_hash(&b, hb);
    assert_memory_not_equal(ha, hb, 32);
    assert_int_equal(ledger_changes_del(&b, "A1", 2), SBX_OK);
    ledger_changes_hash(&b, hb);
    assert_memory_not_equal(ha, hb, 32);
    /* a put of an empty value is not a delete */
    put_s(&a, "A1", "");
    ledger_changes_hash(&a, ha);
    assert_memory_not_equal(ha, hb, 32);

    /* the digest chain */
    memset(prev, 0x11, 32);
    ledger_state_digest_next(prev, ha, next);
    memcpy(msg, prev, 32);
    memcpy(msg + 32, ha, 32);
    sha256_tagged_slow(ref, "sbx/state", msg, 64);
    assert_memory_equal(next, ref, 32);

    ledger_changes_release(&a);
    ledger_changes_release(&b);
}

/* ---- store ---- */

static struct ledger_store *
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

static void
test_store_open(void **state)
{
    char *tmp = test_tmpdir(), *dir;
    struct ledger_store *s = NULL;
    struct ledger_tip tip;
    struct sbx_err err;
    struct buf v;

    (void)state;
    assert_non_null(tmp);
    dir = subdir(tmp, "ledger");

    /* not there and not to be created */
    assert_int_equal(ledger_store_open(&s, dir, 0, &err), SBX_ENOTFOUND);
    assert_null(s);

    s = open_ok(dir, 1);
    assert_int_equal(ledger_store_tip(s, &tip, &err), SBX_ENOTFOUND);
    buf_init(&v, 16);
    assert_int_equal(ledger_store_get(s, "Mschema", 7, &v, &err), SBX_OK);
    assert_int_equal(v.len, 4);
    assert_int_equal(buf_load_u32(v.data), LEDGER_STORE_SCHEMA);
    buf_release(&v);
    ledger_store_close(s);

    /* reopen, without create */
    s = open_ok(dir, 0);
    ledger_store_close(s);
    ledger_store_close(NULL);

    /* a second handle on the same directory is refused (LevelDB's lock) */
    s = open_ok(dir, 0);
    {
        struct ledger_store *s2 = NULL;

        assert_int_equal(ledger_store_open(&s2, dir, 1, &err), SBX_EIO);
        assert_null(s2);
    }
    ledger_store_close(s);

    free(dir);
    test_rmtree(tmp);
    free(tmp);
}

static void
test_store_schema(void **state)
{
    char *tmp = test_tmpdir(), *dir;
    struct ledger_store *s = NULL;
    struct ledger_store_batch *b;
    struct sbx_err err;
    uint8_t v[4];

    (void)state;
    assert_non_null(tmp);
    dir = subdir(tmp, "ledger");

    /* a store of schema 2 */
    s = open_ok(dir, 1);
    b = ledger_store_batch_new();
    assert_non_null(b);
    buf_store_u32(v, 2);
    ledger_store_batch_put(b, "Mschema", 7, v, 4);
    assert_int_equal(ledger_store_commit(s, b, 1, &err), SBX_OK);
    ledger_store_batch_free(b);
    ledger_store_close(s);
    s = NULL;
    sbx_err_clear(&err);
    assert_int_equal(ledger_store_open(&s, dir, 1, &err), SBX_ECORRUPT);
    assert_null(s);
    assert_non_null(strstr(err.msg, "version 2"));
    assert_non_null(strstr(err.msg, "version 1"));

    /* a malformed schema record */
    test_rmtree(dir);
    s = open_ok(dir, 1);
    b = ledger_store_batch_new();
    assert_non_null(b);
    ledger_store_batch_put(b, "Mschema", 7, v, 3);
    assert_int_equal(ledger_store_commit(s, b, 1, &err), SBX_OK);
    ledger_store_batch_free(b);
    ledger_store_close(s);
    s = NULL;
    assert_int_equal(ledger_store_open(&s, dir, 0, &err), SBX_ECORRUPT);

    /* a database with records but no schema record */
    test_rmtree(dir);
    s = open_ok(dir, 1);
    b = ledger_store_batch_new();
    assert_non_null(b);
    ledger_store_batch_del(b, "Mschema", 7);
    ledger_store_batch_put(b, "Aacct", 5, "x", 1);
    assert_int_equal(ledger_store_commit(s, b, 1, &err), SBX_OK);
    ledger_store_batch_free(b);
    ledger_store_close(s);
    s = NULL;
    sbx_err_clear(&err);
    assert_int_equal(ledger_store_open(&s, dir, 1, &err), SBX_ECORRUPT);
    assert_non_null(strstr(err.msg, "schema"));
    assert_null(s);

    free(dir);
    test_rmtree(tmp);
    free(tmp);
}

/* Commit t with changes c as the new tip. */
static void
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

static void
test_store_commit_reopen(void **state)
{
    static const uint8_t zero[32];
    char *tmp = test_tmpdir(), *dir;
    struct ledger_store *s;
    struct ledger_changes c;
    struct ledger_tip tip;
    struct tblock t;
    struct sbx_err err;
    struct buf v;
    uint8_t ch[32], digest[32];
    uint64_t height;
    uint32_t idx;

    (void)state;
    assert_non_null(tmp);
    dir = subdir(tmp, "ledger");
    s = open_ok(dir, 1);

    /* a state record that the block deletes */
    {
        struct ledger_store_batch *b = ledger_store_batch_new();

        assert_non_null(b);
        ledger_store_batch_put(b, "Aold", 4, "o", 1);
        assert_int_equal(ledger_store_commit(s, b, 0, &err), SBX_OK);
        ledger_store_batch_free(b);
    }
    ledger_changes_init(&c);
    put_s(&c, "Aalice", "balance=1");
    put_s(&c, "Abob", "balance=2");
    put_s(&c, "Aalice", "balance=3");
    assert_int_equal(ledger_changes_del(&c, "Aold", 4), SBX_OK);
    ledger_changes_hash(&c, ch);
    ledger_state_digest_next(zero, ch, digest);
    tblock_build(&t, 5, 0, zero, digest, 23);
    commit_block(s, &t, &c);
    ledger_store_close(s);

    s = open_ok(dir, 0);
    assert_int_equal(ledger_store_tip(s, &tip, &err), SBX_OK);
    assert_int_equal(tip.height, 0);
    assert_memory_equal(tip.hash, t.hash, 32);
    assert_memory_equal(tip.state_digest, digest, 32);

    buf_init(&v, LEDGER_BLOCK_MAX_SIZE);
    assert_int_equal(ledger_store_get_block(s, 0, &v, &err), SBX_OK);
    assert_int_equal(v.len, t.enc.len);
    assert_memory_equal(v.data, t.enc.data, t.enc.len);
    assert_int_equal(ledger_store_get_block(s, 1, &v, &err), SBX_ENOTFOUND);
    assert_int_equal(ledger_store_height_of(s, t.hash, &height, &err), SBX_OK);
    assert_int_equal(height, 0);
    assert_int_equal(ledger_store_height_of(s, zero, &height, &err), SBX_ENOTFOUND);
    for (uint32_t i = 0; i < 5; i++) {
        assert_int_equal(ledger_store_tx_location(s, t.txids[i], &height, &idx, &err), SBX_OK);
        assert_int_equal(height, 0);
        assert_int_equal(idx, i);
    }
    assert_int_equal(ledger_store_tx_location(s, zero, &height, &idx, &err), SBX_ENOTFOUND);
    assert_int_equal(ledger_store_get(s, "Aalice", 6, &v, &err), SBX_OK);
    assert_int_equal(v.len, 9);
    assert_memory_equal(v.data, "balance=3", 9);
    assert_int_equal(ledger_store_get(s, "Abob", 4, &v, &err), SBX_OK);
    assert_int_equal(ledger_store_get(s, "Aold", 4, &v, &err), SBX_ENOTFOUND);
    assert_int_equal(v.len, 0);
    buf_release(&v);

    /* a value larger than the caller's cap */
    buf_init(&v, 4);
    assert_int_equal(ledger_store_get(s, "Aalice", 6, &v, &err), SBX_ETOOLONG);
    buf_release(&v);

    ledger_store_close(s);
    ledger_changes_release(&c);
    tblock_free(&t);
    free(dir);
    test_rmtree(tmp);
    free(tmp);
}

static void
test_store_atomic(void **state)
{
    static const uint8_t zero[32];
    char *tmp = test_tmpdir(), *dir;
    struct ledger_store *s;
    struct ledger_store_batch *b;
    struct ledger_changes c;
    struct ledger_tip tip;
    struct tblock t;
    struct sbx_err err;
    struct buf v;
    uint64_t height;
    uint32_t idx;
    char key[16];

    (void)state;
    assert_non_null(tmp);
    dir = subdir(tmp, "ledger");
    s = open_ok(dir, 1);
    tblock_build(&t, 20, 0, zero, zero, 29);
    ledger_changes_init(&c);
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "Aacct%03d", i);
        put_s(&c, key, "v");
    }
    ledger_changes_finish(&c);
    buf_init(&v, LEDGER_BLOCK_MAX_SIZE);

    /* a batch that is built and never committed leaves nothing */
    b = ledger_store_batch_new();
    assert_non_null(b);
    ledger_store_batch_changes(b, &c);
    {
        struct ledger_tip nt = {0};

        memcpy(nt.hash, t.hash, 32);
        ledger_store_batch_block(b, &nt, t.enc.data, t.enc.len, t.txids, t.b.ntx);
    }
    ledger_store_batch_free(b);
    assert_int_equal(ledger_store_tip(s, &tip, &err), SBX_ENOTFOUND);
    assert_int_equal(ledger_store_get_block(s, 0, &v, &err), SBX_ENOTFOUND);
    assert_int_equal(ledger_store_height_of(s, t.hash, &height, &err), SBX_ENOTFOUND);
    for (size_t i = 0; i < t.b.ntx; i++)
        assert_int_equal(ledger_store_tx_location(s, t.txids[i], &height, &idx, &err),
                         SBX_ENOTFOUND);
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "Aacct%03d", i);
        assert_int_equal(ledger_store_get(s, key, strlen(key), &v, &err), SBX_ENOTFOUND);
    }
    ledger_store_close(s);

    /* ... also across a reopen; then a commit makes all of it visible at once */
    s = open_ok(dir, 0);
    assert_int_equal(ledger_store_tip(s, &tip, &err), SBX_ENOTFOUND);
    commit_block(s, &t, &c);
    assert_int_equal(ledger_store_tip(s, &tip, &err), SBX_OK);
    assert_int_equal(ledger_store_get_block(s, 0, &v, &err), SBX_OK);
    assert_int_equal(ledger_store_height_of(s, t.hash, &height, &err), SBX_OK);
    for (size_t i = 0; i < t.b.ntx; i++)
        assert_int_equal(ledger_store_tx_location(s, t.txids[i], &height, &idx, &err), SBX_OK);
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "Aacct%03d", i);
        assert_int_equal(ledger_store_get(s, key, strlen(key), &v, &err), SBX_OK);
    }
    ledger_store_close(s);

    buf_release(&v);
    ledger_changes_release(&c);
    tblock_free(&t);
    free(dir);
    test_rmtree(tmp);
    free(tmp);
}

/* ---- crash simulation ---- */

#define CRASH_TXS 3

/* The changes of block h: its own account record, plus a counter every block overwrites. */
static int
crash_changes(struct ledger_changes *c, uint64_t h, uint8_t prev_digest[32], uint8_t digest[32])
{
    char key[32];
    uint8_t v[8], ch[32];
    int rc;

    ledger_changes_reset(c);
    snprintf(key, sizeof(key), "Ablock%06llu", (unsigned long long)h);
    buf_store_u64(v, h);
    rc = ledger_changes_put(c, key, strlen(key), v, 8);
    rc = rc ? rc : ledger_changes_put(c, "Ucount", 6, v, 8);
    if (rc)
        return rc;
    ledger_changes_hash(c, ch);
    ledger_state_digest_next(prev_digest, ch, digest);
    return SBX_OK;
}

/* The child: commit blocks 0..n-1 synced, report each height on `ackfd` after its commit (if
 * >= 0), then leave without closing anything. No cmocka here: failures are exit codes. */
static void
crash_child(const char *dir, uint64_t n, int ackfd)
{
    struct ledger_store *s = NULL;
    struct ledger_changes c;
    struct sbx_err err;
    uint8_t prev[32] = {0}, digest[32] = {0}, next[32];

    if (ledger_store_open(&s, dir, 1, &err) != SBX_OK)
        _exit(2);
    ledger_changes_init(&c);
    for (uint64_t h = 0; h < n; h++) {
        struct ledger_store_batch *b;
        struct ledger_tip tip;
        struct tblock t;

        if (crash_changes(&c, h, digest, next) != SBX_OK)
            _exit(3);
        if (tblock_make(&t, CRASH_TXS, h, prev, next, (unsigned)h) != SBX_OK)
            _exit(7);
        b = ledger_store_batch_new();
        if (b == NULL)
            _exit(4);
        tip.height = h;
        memcpy(tip.hash, t.hash, 32);
        memcpy(tip.state_digest, next, 32);
        ledger_store_batch_changes(b, &c);
        ledger_store_batch_block(b, &tip, t.enc.data, t.enc.len, t.txids, t.b.ntx);
        if (ledger_store_commit(s, b, 1, &err) != SBX_OK)
            _exit(5);
        ledger_store_batch_free(b);
        memcpy(prev, t.hash, 32);
        memcpy(digest, next, 32);
        tblock_free(&t);
        if (ackfd >= 0) {
            uint8_t ack[8];

            buf_store_u64(ack, h);
            if (write(ackfd, ack, 8) != 8)
                _exit(6);
        }
    }
    _exit(0); /* no close, no flush: as if the process died here */
}

/* After a crash: the tip is a whole block, the chain up to it verifies, every block's changes
 * are there and nothing of a later block is. */
static void
crash_check(const char *dir, uint64_t at_least)
{
    struct ledger_store *s = open_ok(dir, 0);
    struct ledger_tip tip;
    struct sbx_err err;
    struct buf v;
    uint64_t checked, failed_at;
    char key[32];
    int rc;

    assert_int_equal(ledger_store_tip(s, &tip, &err), SBX_OK);
    assert_true(tip.height >= at_least);
    rc = ledger_store_verify(s, 0, UINT64_MAX, &checked, &failed_at, &err);
    if (rc)
        print_error("verify: %s\n", err.msg);
    assert_int_equal(rc, SBX_OK);
    assert_int_equal(checked, tip.height + 1);
    buf_init(&v, LEDGER_BLOCK_MAX_SIZE);
    for (uint64_t h = 0; h <= tip.height; h++) {
        snprintf(key, sizeof(key), "Ablock%06llu", (unsigned long long)h);
        assert_int_equal(ledger_store_get(s, key, strlen(key), &v, &err), SBX_OK);
        assert_int_equal(buf_load_u64(v.data), h);
    }
    assert_int_equal(ledger_store_get(s, "Ucount", 6, &v, &err), SBX_OK);
    assert_int_equal(buf_load_u64(v.data), tip.height);
    snprintf(key, sizeof(key), "Ablock%06llu", (unsigned long long)(tip.height + 1));
    assert_int_equal(ledger_store_get(s, key, strlen(key), &v, &err), SBX_ENOTFOUND);
    assert_int_equal(ledger_store_get_block(s, tip.height + 1, &v, &err), SBX_ENOTFOUND);
    /* the state digest chain recomputed from the stored changes matches the tip */
    {
        struct ledger_changes c;
        uint8_t digest[32] = {0}, next[32];

        ledger_changes_init(&c);
        for (uint64_t h = 0; h <= tip.height; h++) {
            assert_int_equal(crash_changes(&c, h, digest, next), SBX_OK);
            memcpy(digest, next, 32);
        }
        assert_memory_equal(digest, tip.state_digest, 32);
        ledger_changes_release(&c);
    }
    buf_release(&v);
    ledger_store_close(s);
}

static void
test_store_crash_exit(void **state)
{
    char *tmp = test_tmpdir(), *dir;
    pid_t pid;
    int status;

    (void)state;
    assert_non_null(tmp);
    dir = subdir(tmp, "ledger");
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        crash_child(dir, 12, -1);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    crash_check(dir, 11);
    {
        struct ledger_store *s = open_ok(dir, 0);
        struct ledger_tip tip;
        struct sbx_err err;

        assert_int_equal(ledger_store_tip(s, &tip, &err), SBX_OK);
        assert_int_equal(tip.height, 11);
        ledger_store_close(s);
    }
    free(dir);
    test_rmtree(tmp);
    free(tmp);
}

/* kill -9 in the middle of a stream of commits: every acknowledged block survives. */
static void
test_store_crash_kill(void **state)
{
    char *tmp = test_tmpdir(), *dir;
    uint64_t acked = 0;
    int fds[2], status, nacks = 0;
    pid_t pid;

    (void)state;
    assert_non_null(tmp);
    dir = subdir(tmp, "ledger");
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        crash_child(dir, 100000, fds[1]);
    }
    close(fds[1]);
    /* let it acknowledge a few blocks, then kill it between (or in the middle of) commits */
    while (nacks < 8) {
        uint8_t ack[8];

        assert_int_equal(read(fds[0], ack, 8), 8);
        acked = buf_load_u64(ack);
        nacks++;
    }
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    close(fds[0]);
    crash_check(dir, acked);
    free(dir);
    test_rmtree(tmp);
    free(tmp);
}

/* ---- scans ---- */

struct scan_acc {
    char keys[32][16];
    size_t n;
    size_t stop_after;
};

static int
scan_collect(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct scan_acc *a = ctx;

    (void)val;
    (void)vlen;
    if (a->n < 32 && klen < 16) {
        memcpy(a->keys[a->n], key, klen);
        a->keys[a->n][klen] = '\0';
        a->n++;
    }
    return a->stop_after && a->n >= a->stop_after;
}

static void
test_store_scan(void **state)
{
    char *tmp = test_tmpdir(), *dir;
    struct ledger_store *s;
    struct ledger_store_batch *b;
    struct scan_acc a;
    struct sbx_err err;
    const char *keys[] = {"W9", "X", "X1", "X2", "X3", "X4", "X4a", "X5", "Y", "Y0"};

    (void)state;
    assert_non_null(tmp);
    dir = subdir(tmp, "ledger");
    s = open_ok(dir, 1);
    b = ledger_store_batch_new();
    assert_non_null(b);
    for (size_t i = 0; i < SBX_ARRAY_LEN(keys); i++)
        ledger_store_batch_put(b, keys[i], strlen(keys[i]), "v", 1);
    ledger_store_batch_put(b, "\xff\x01", 2, "v", 1);
    ledger_store_batch_put(b, "\xff\xff", 2, "v", 1);
    assert_int_equal(ledger_store_commit(s, b, 0, &err), SBX_OK);
    ledger_store_batch_free(b);

    /* forward over the prefix */
    memset(&a, 0, sizeof(a));
    assert_int_equal(ledger_store_scan(s, "X", 1, NULL, 0, 0, scan_collect, &a, &err), SBX_OK);
    assert_int_equal(a.n, 7);
    assert_string_equal(a.keys[0], "X");
    assert_string_equal(a.keys[5], "X4a");
    assert_string_equal(a.keys[6], "X5");

    /* forward from a start key (inclusive) */
    memset(&a, 0, sizeof(a));
    assert_int_equal(ledger_store_scan(s, "X", 1, "X3", 2, 0, scan_collect, &a, &err), SBX_OK);
    assert_int_equal(a.n, 4);
    assert_string_equal(a.keys[0], "X3");
    assert_string_equal(a.keys[3], "X5");

    /* reverse over the whole prefix */
    memset(&a, 0, sizeof(a));
    assert_int_equal(ledger_store_scan(s, "X", 1, NULL, 0, 1, scan_collect, &a, &err), SBX_OK);
    assert_int_equal(a.n, 7);
    assert_string_equal(a.keys[0], "X5");
    assert_string_equal(a.keys[1], "X4a");
    assert_string_equal(a.keys[6], "X");

    /* reverse from the last key < start */
    memset(&a, 0, sizeof(a));
    assert_int_equal(ledger_store_scan(s, "X", 1, "X4", 2, 1, scan_collect, &a, &err), SBX_OK);
    assert_int_equal(a.n, 4);
    assert_string_equal(a.keys[0], "X3");
    assert_string_equal(a.keys[3], "X");
    /* a start between keys, and one past them all */
    memset(&a, 0, sizeof(a));
    assert_int_equal(ledger_store_scan(s, "X", 1, "X4b", 3, 1, scan_collect, &a, &err), SBX_OK);
    assert_int_equal(a.n, 6);
    assert_string_equal(a.keys[0], "X4a");
    memset(&a, 0, sizeof(a));
    assert_int_equal(ledger_store_scan(s, "X", 1, "X9", 2, 1, scan_collect, &a, &err), SBX_OK);
    assert_int_equal(a.n, 7);
    assert_string_equal(a.keys[0], "X5");

    /* a start outside the prefix's range: the scan still covers just the range */
    memset(&a, 0, sizeof(a));
    assert_int_equal(ledger_store_scan(s, "X", 1, "W9", 2, 0, scan_collect, &a, &err), SBX_OK);
    assert_int_equal(a.n, 7);
    assert_string_equal(a.keys[0], "X");
    memset(&a, 0, sizeof(a));
    assert_int_equal(ledger_store_scan(s, "X", 1, "Y0", 2, 1, scan_collect, &a, &err), SBX_OK);
    assert_int_equal(a.n, 7);
    assert_string_equal(a.keys[0], "X5");

    /* the callback stops the scan */
    memset(&a, 0, sizeof(a));
    a.stop_after = 2;
    assert_int_equal(ledger_store_scan(s, "X", 1, NULL, 0, 0, scan_collect, &a, &err), SBX_OK);
    assert_int_equal(a.n, 2);
    memset(&a, 0, sizeof(a));
    a.stop_after = 1;
    assert_int_equal(ledger_store_scan(s, "X", 1, NULL, 0, 1, scan_collect, &a, &err), SBX_OK);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.keys[0], "X5");

    /* longer prefixes, an empty range, the last key of the keyspace */
    memset(&a, 0, sizeof(a));
    assert_int_equal(ledger_store_scan(s, "X4", 2, NULL, 0, 1, scan_collect, &a, &err), SBX_OK);
    assert_int_equal(a.n, 2);
    assert_string_equal(a.keys[0], "X4a");
    memset(&a, 0, sizeof(a));
    assert_int_equal(ledger_store_scan(s, "Z", 1, NULL, 0, 0, scan_collect, &a, &err), SBX_OK);
    assert_int_equal(a.n, 0);
    assert_int_equal(ledger_store_scan(s, "Z", 1, NULL, 0, 1, scan_collect, &a, &err), SBX_OK);
    assert_int_equal(a.n, 0);
    memset(&a, 0, sizeof(a));
    assert_int_equal(ledger_store_scan(s, "\xff\xff", 2, NULL, 0, 1, scan_collect, &a, &err),
                     SBX_OK);
    assert_int_equal(a.n, 1);
    memset(&a, 0, sizeof(a));
    assert_int_equal(ledger_store_scan(s, "\xff", 1, NULL, 0, 1, scan_collect, &a, &err), SBX_OK);
    assert_int_equal(a.n, 2);
    assert_string_equal(a.keys[0], "\xff\xff");
    /* reverse from a start past the last key of the keyspace */
    memset(&a, 0, sizeof(a));
    assert_int_equal(ledger_store_scan(s, "\xff", 1, "\xff\xff\x01", 3, 1, scan_collect, &a, &err),
                     SBX_OK);
    assert_int_equal(a.n, 2);
    assert_string_equal(a.keys[0], "\xff\xff");
    assert_string_equal(a.keys[1], "\xff\x01");

    ledger_store_close(s);
    free(dir);
    test_rmtree(tmp);
    free(tmp);
}

/* ---- verification ---- */

#define CHAIN_LEN 5

/* A store holding a valid chain of CHAIN_LEN blocks; the encoded blocks in t[]. */
static struct ledger_store *
chain_store(const char *dir, struct tblock t[CHAIN_LEN])
{
    struct ledger_store *s = open_ok(dir, 1);
    uint8_t prev[32] = {0}, digest[32] = {0};

    for (uint64_t h = 0; h < CHAIN_LEN; h++) {
        digest[0] = (uint8_t)h;
        tblock_build(&t[h], 2 + h, h, prev, digest, 100 + (unsigned)h);
        commit_block(s, &t[h], NULL);
        memcpy(prev, t[h].hash, 32);
    }
    return s;
}

/* Overwrite stored block h with `raw` through a raw batch. */
static void
overwrite_block(struct ledger_store *s, uint64_t h, const uint8_t *raw, size_t len)
{
    struct ledger_store_batch *b = ledger_store_batch_new();
    struct sbx_err err;
    uint8_t key[9];

    assert_non_null(b);
    key[0] = LEDGER_K_BLOCK;
    buf_store_u64(key + 1, h);
    ledger_store_batch_put(b, key, sizeof(key), raw, len);
    assert_int_equal(ledger_store_commit(s, b, 1, &err), SBX_OK);
    ledger_store_batch_free(b);
}

static void
expect_verify_fail(struct ledger_store *s, uint64_t from, uint64_t want_failed,
                   uint64_t want_checked)
{
    uint64_t checked = 99, failed_at = 99;
    struct sbx_err err;

    sbx_err_clear(&err);
    assert_int_equal(ledger_store_verify(s, from, UINT64_MAX, &checked, &failed_at, &err),
                     SBX_ECORRUPT);
    assert_int_equal(failed_at, want_failed);
    assert_int_equal(checked, want_checked);
    assert_true(err.msg[0] != '\0');
}

static void
test_store_verify(void **state)
{
    char *tmp = test_tmpdir(), *dir;
    struct ledger_store *s;
    struct tblock t[CHAIN_LEN];
    struct sbx_err err;
    uint64_t checked, failed_at;
    uint8_t *raw;

    (void)state;
    assert_non_null(tmp);
    dir = subdir(tmp, "ledger");

    /* an empty store verifies, with nothing checked */
    s = open_ok(dir, 1);
    assert_int_equal(ledger_store_verify(s, 0, UINT64_MAX, &checked, &failed_at, &err), SBX_OK);
    assert_int_equal(checked, 0);
    ledger_store_close(s);
    test_rmtree(dir);

    s = chain_store(dir, t);
    assert_int_equal(ledger_store_verify(s, 0, UINT64_MAX, &checked, &failed_at, &err), SBX_OK);
    assert_int_equal(checked, CHAIN_LEN);
    assert_int_equal(ledger_store_verify(s, 2, 3, &checked, &failed_at, &err), SBX_OK);
    assert_int_equal(checked, 2);
    assert_int_equal(ledger_store_verify(s, 4, 1000, &checked, &failed_at, &err), SBX_OK);
    assert_int_equal(checked, 1);
    assert_int_equal(ledger_store_verify(s, 7, 9, &checked, &failed_at, &err), SBX_OK);
    assert_int_equal(checked, 0);

    raw = malloc(t[2].enc.len);
    assert_non_null(raw);

    /* a flipped bit in block 2's header: its signature fails; from 3 on, the link to it */
    memcpy(raw, t[2].enc.data, t[2].enc.len);
    raw[OFF_TIME + 7] ^= 0x01;
    overwrite_block(s, 2, raw, t[2].enc.len);
    expect_verify_fail(s, 0, 2, 2);
    assert_int_equal(ledger_store_verify(s, 0, 1, &checked, &failed_at, &err), SBX_OK);
    expect_verify_fail(s, 3, 3, 0);

    /* a flipped bit in a transaction's signature (not covered by the roots) */
    memcpy(raw, t[2].enc.data, t[2].enc.len);
    raw[OFF_ENTRY0 + 4 + t[2].b.entries[0].tx_len - 1] ^= 0x20;
    overwrite_block(s, 2, raw, t[2].enc.len);
    expect_verify_fail(s, 0, 2, 2);
    {
        sbx_err_clear(&err);
        assert_int_equal(ledger_store_verify(s, 1, UINT64_MAX, &checked, &failed_at, &err),
                         SBX_ECORRUPT);
        assert_non_null(strstr(err.msg, "transaction 0"));
    }

    /* a flipped bit in a verdict: the verdict root no longer matches */
    memcpy(raw, t[2].enc.data, t[2].enc.len);
    raw[t[2].enc.len - 1] ^= 0x01;
    overwrite_block(s, 2, raw, t[2].enc.len);
    expect_verify_fail(s, 0, 2, 2);

    /* truncated by one byte */
    overwrite_block(s, 2, t[2].enc.data, t[2].enc.len - 1);
    expect_verify_fail(s, 0, 2, 2);

    /* restored: valid again */
    overwrite_block(s, 2, t[2].enc.data, t[2].enc.len);
    assert_int_equal(ledger_store_verify(s, 0, UINT64_MAX, &checked, &failed_at, &err), SBX_OK);
    assert_int_equal(checked, CHAIN_LEN);

    /* a transaction index entry pointing elsewhere, then missing */
    {
        struct ledger_store_batch *b = ledger_store_batch_new();
        uint8_t key[33], val[12];

        assert_non_null(b);
        key[0] = LEDGER_K_TX;
        memcpy(key + 1, t[3].txids[1], 32);
        buf_store_u64(val, 3);
        buf_store_u32(val + 8, 0);
        ledger_store_batch_put(b, key, sizeof(key), val, sizeof(val));
        assert_int_equal(ledger_store_commit(s, b, 1, &err), SBX_OK);
        expect_verify_fail(s, 0, 3, 3);
        ledger_store_batch_del(b, key, sizeof(key));
        assert_int_equal(ledger_store_commit(s, b, 1, &err), SBX_OK);
        expect_verify_fail(s, 0, 3, 3);
        ledger_store_batch_free(b);
    }
    /* a missing hash index entry */
    {
        struct ledger_store_batch *b = ledger_store_batch_new();
        uint8_t key[33];

        assert_non_null(b);
        key[0] = LEDGER_K_HASH;
        memcpy(key + 1, t[1].hash, 32);
        ledger_store_batch_del(b, key, sizeof(key));
        assert_int_equal(ledger_store_commit(s, b, 1, &err), SBX_OK);
        ledger_store_batch_free(b);
        expect_verify_fail(s, 0, 1, 1);
    }
    /* a missing block */
    {
        struct ledger_store_batch *b = ledger_store_batch_new();
        uint8_t key[9];

        assert_non_null(b);
        key[0] = LEDGER_K_BLOCK;
        buf_store_u64(key + 1, 0);
        ledger_store_batch_del(b, key, sizeof(key));
        assert_int_equal(ledger_store_commit(s, b, 1, &err), SBX_OK);
        ledger_store_batch_free(b);
        expect_verify_fail(s, 0, 0, 0);
    }

    free(raw);
    ledger_store_close(s);
    for (size_t i = 0; i < CHAIN_LEN; i++)
        tblock_free(&t[i]);
    free(dir);
    test_rmtree(tmp);
    free(tmp);
}

int
test_ledger_store_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_roundtrip),     cmocka_unit_test(test_block_truncated_trailing),
        cmocka_unit_test(test_block_bad_header),    cmocka_unit_test(test_block_bad_verdict),
        cmocka_unit_test(test_block_encode_checks), cmocka_unit_test(test_merkle),
        cmocka_unit_test(test_block_signature),     cmocka_unit_test(test_changes_last_write_wins),
        cmocka_unit_test(test_changes_hash),        cmocka_unit_test(test_store_open),
        cmocka_unit_test(test_store_schema),        cmocka_unit_test(test_store_commit_reopen),
        cmocka_unit_test(test_store_atomic),        cmocka_unit_test(test_store_crash_exit),
        cmocka_unit_test(test_store_crash_kill),    cmocka_unit_test(test_store_scan),
        cmocka_unit_test(test_store_verify),
    };

    return cmocka_run_group_tests_name("ledger_store", tests, group_setup, group_teardown);
}
