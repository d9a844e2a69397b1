/* Unit tests of ledger/block.c, ledger/proof.c and ledger/changes.c: block encoding and its
 * refusals, merkle roots and paths, transaction proofs, block signatures, change sets and the
 * state digest.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_ledger.h"
#include "tests/unit/test_ledger_chainbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/proof.h"
#include "ledger/tx.h"
#include "util/sha256.h"

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

/* Reference inner node: tagged("sbx/node", left | right). `out` may be `left`. */
static void
ref_node(uint8_t out[32], const uint8_t left[32], const uint8_t right[32])
{
    uint8_t pair[64];

    memcpy(pair, left, 32);
    memcpy(pair + 32, right, 32);
    sha256_tagged_slow(out, "sbx/node", pair, 64);
}

/* Reference merkle root, level by level (the rule as block.h states it). */
static void
ref_merkle(const uint8_t (*items)[32], size_t n, uint8_t out[32])
{
    uint8_t(*lv)[32];
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
            ref_node(lv[k++], lv[i], lv[i + 1]);
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
    uint8_t items[100][32], root[32], ref[32], la[32], lb[32], lc[32];
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
    ref_node(ref, la, lb);
    assert_memory_equal(root, ref, 32);

    /* three: the odd c is promoted unchanged, node(node(a, b), leaf c) */
    ledger_merkle_root(items, 3, root);
    sha256_tagged_slow(lc, "sbx/leaf", items[2], 32);
    ref_node(ref, ref, lc);
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

/* Reference inclusion path of every leaf, level by level as block.h states it: side[i][m] is
 * 'L' or 'R', where sibling m of leaf i sits. */
struct ref_paths {
    uint8_t (*sib)[LEDGER_MERKLE_PATH_MAX][32];
    char (*side)[LEDGER_MERKLE_PATH_MAX];
    size_t *len;
};

static void
ref_paths_make(struct ref_paths *r, const uint8_t (*items)[32], size_t n)
{
    uint8_t(*lv)[32] = malloc(n * 32);
    size_t m = n;

    r->sib = calloc(n, sizeof(*r->sib));
    r->side = calloc(n, sizeof(*r->side));
    r->len = calloc(n, sizeof(*r->len));
    assert_true(lv != NULL && r->sib != NULL && r->side != NULL && r->len != NULL);
    for (size_t i = 0; i < n; i++)
        sha256_tagged_slow(lv[i], "sbx/leaf", items[i], 32);
    for (unsigned k = 0; m > 1; k++) {
        size_t next = 0;

        for (size_t i = 0; i < n; i++) {
            size_t pos = i >> k, sib = pos ^ 1;

            if (sib < m) {
                memcpy(r->sib[i][r->len[i]], lv[sib], 32);
                r->side[i][r->len[i]++] = pos % 2 ? 'L' : 'R';
            }
        }
        for (size_t i = 0; i + 1 < m; i += 2)
            ref_node(lv[next++], lv[i], lv[i + 1]);
        if (m % 2)
            memcpy(lv[next++], lv[m - 1], 32);
        m = next;
    }
    free(lv);
}

static void
ref_paths_free(struct ref_paths *r)
{
    free(r->sib);
    free(r->side);
    free(r->len);
}

/* The sides leaf `index` of n leaves takes on its way up, as a string. */
static void
sides_of(size_t index, size_t n, char out[LEDGER_MERKLE_PATH_MAX + 1])
{
    size_t count = n, m = 0;

    for (unsigned k = 0; count > 1; k++) {
        size_t pos = index >> k;

        if (pos % 2 == 1)
            out[m++] = 'L';
        else if (pos + 1 < count)
            out[m++] = 'R';
        count = count / 2 + count % 2;
    }
    out[m] = '\0';
}

/* Leaf `i` of n: its path matches the reference, verifies, and every change fails. Returns the
 * number of wrong counts that the path happened to fit (possible: see block.h). */
static size_t
check_path(const uint8_t (*items)[32], size_t n, size_t i, const uint8_t root[32],
           const struct ref_paths *r)
{
    uint8_t path[LEDGER_MERKLE_PATH_MAX + 1][32];
    char mine[LEDGER_MERKLE_PATH_MAX + 1], other[LEDGER_MERKLE_PATH_MAX + 1];
    size_t np = 99, fits = 0;

    assert_int_equal(ledger_merkle_path(items, n, i, path, &np), SBX_OK);
    assert_int_equal(np, r->len[i]);
    assert_memory_equal(path, r->sib[i], np * 32);
    assert_true(ledger_merkle_path_verify(items[i], i, n, path, np, root));
    /* a flipped bit in each sibling, in the leaf, in the root */
    for (size_t m = 0; m < np; m++) {
        path[m][(i + m) % 32] ^= 0x10;
        assert_false(ledger_merkle_path_verify(items[i], i, n, path, np, root));
        path[m][(i + m) % 32] ^= 0x10;
    }
    {
        uint8_t leaf[32], bad_root[32];

        memcpy(leaf, items[i], 32);
        leaf[i % 32] ^= 1;
        assert_false(ledger_merkle_path_verify(leaf, i, n, path, np, root));
        memcpy(bad_root, root, 32);
        bad_root[31] ^= 0x80;
        assert_false(ledger_merkle_path_verify(items[i], i, n, path, np, bad_root));
    }
    /* a sibling too many or too few */
    memset(path[np], 0, 32);
    assert_false(ledger_merkle_path_verify(items[i], i, n, path, np + 1, root));
    if (np > 0)
        assert_false(ledger_merkle_path_verify(items[i], i, n, path, np - 1, root));
    /* every wrong index (all of them for small n, the neighbours and ends for large n) */
    for (size_t j = 0; j <= n; j++) {
        if (j == i || (n > 64 && j + 1 != i && j != i + 1 && j != 0 && j != n - 1 && j != n))
            continue;
        assert_false(ledger_merkle_path_verify(items[i], j, n, path, np, root));
    }
    /* a wrong count: refused unless the leaf takes the same sides in both trees, in which case
     * the path is the same and so is the root (the header's ntx fixes the count) */
    sides_of(i, n, mine);
    assert_int_equal(strlen(mine), np);
    assert_memory_equal(mine, r->side[i], np);
    for (size_t d = 1; d <= 2; d++) {
        size_t wrong[2] = {n + d, n > d ? n - d : 0};

        for (size_t w = 0; w < 2; w++) {
            int ok = ledger_merkle_path_verify(items[i], i, wrong[w], path, np, root);

            sides_of(i, wrong[w], other);
            assert_int_equal(ok, i < wrong[w] && strcmp(mine, other) == 0);
            fits += (size_t)ok;
        }
    }
    return fits;
}

static void
test_merkle_path(void **state)
{
    static const size_t sizes[] = {1, 2, 3, 5, 6, 7, 8, 13, 1000};
    uint8_t(*items)[32] = malloc(1000 * 32), root[32];
    uint8_t path[LEDGER_MERKLE_PATH_MAX][32];
    size_t np;

    (void)state;
    assert_non_null(items);
    fill_items(items, 1000);
    for (size_t s = 0; s < SBX_ARRAY_LEN(sizes); s++) {
        size_t n = sizes[s], fits = 0;
        struct ref_paths r;

        ledger_merkle_root(items, n, root);
        ref_paths_make(&r, items, n);
        for (size_t i = 0; i < n; i++)
            fits += check_path(items, n, i, root, &r);
        /* a wrong count (four tried per leaf) is refused for some leaves at least */
        assert_true(fits < 4 * n);
        ref_paths_free(&r);
        assert_int_equal(ledger_merkle_path(items, n, n, path, &np), SBX_EINVAL);
        assert_int_equal(np, 0);
    }
    /* one leaf: an empty path, the root is its leaf hash */
    assert_int_equal(ledger_merkle_path(items, 1, 0, path, &np), SBX_OK);
    assert_int_equal(np, 0);
    ledger_merkle_root(items, 1, root);
    assert_true(ledger_merkle_path_verify(items[0], 0, 1, path, 0, root));
    assert_false(ledger_merkle_path_verify(items[0], 0, 0, path, 0, root));
    free(items);
}

/* ledger/proof.c: a proof of every entry of blocks of 1, 2, 5 and 7 trades (some rejected)
 * checks; a flipped bit in the signature, the header, the transaction's unsigned part, the
 * verdict or a sibling, a wrong index, or a path of another entry, is refused. */
static void
test_proof(void **state)
{
    static const uint8_t zero[32];
    static const size_t sizes[] = {1, 2, 5, 7};
    struct ledger_proof *p = malloc(sizeof(*p)), *q = malloc(sizeof(*q));
    uint8_t txid[32], hash[32], tx[SBX_TX_MAX_SIZE];
    struct sbx_err err;

    (void)state;
    assert_true(p != NULL && q != NULL);
    for (size_t s = 0; s < SBX_ARRAY_LEN(sizes); s++) {
        struct tblock t;

        tblock_build(&t, sizes[s], 9, zero, zero, (unsigned)(40 + s));
        assert_int_equal(ledger_proof_make(p, &t.b, (uint32_t)t.b.ntx, &err), SBX_EINVAL);
        for (uint32_t i = 0; i < t.b.ntx; i++) {
            assert_int_equal(ledger_proof_make(p, &t.b, i, &err), SBX_OK);
            assert_int_equal(ledger_proof_check(p, txid, hash, &err), SBX_OK);
            assert_memory_equal(txid, t.txids[i], 32);
            assert_memory_equal(hash, t.hash, 32);

            *q = *p;
            q->hdr.sig[i % 64] ^= 1;
            assert_int_equal(ledger_proof_check(q, txid, hash, &err), SBX_EBADSIG);
            *q = *p;
            q->hdr.state_digest[3] ^= 0x40;
            assert_int_equal(ledger_proof_check(q, txid, hash, &err), SBX_EBADSIG);
            *q = *p;
            q->verdict.param_version ^= 1;
            assert_int_equal(ledger_proof_check(q, txid, hash, &err), SBX_EINVAL);
            assert_non_null(strstr(err.msg, "verdict_path"));
            /* byte 40 is in the timestamp, which the txid covers */
            *q = *p;
            memcpy(tx, p->tx, p->tx_len);
            tx[40] ^= 1;
            q->tx = tx;
            if (i % 2 == 0) { /* signed (tblock_make): its own signature no longer verifies */
                assert_int_equal(ledger_proof_check(q, txid, hash, &err), SBX_EBADSIG);
                assert_true(strncmp(err.msg, "tx: ", 4) == 0);
            } else { /* block-authenticated: the changed txid does not lead to the root */
                assert_int_equal(ledger_proof_check(q, txid, hash, &err), SBX_EINVAL);
                assert_non_null(strstr(err.msg, "tx_path"));
                /* nor is it valid under another producer (the tx check comes first) */
                *q = *p;
                q->hdr.producer[0] ^= 1;
                assert_int_equal(ledger_proof_check(q, txid, hash, &err), SBX_EBADSIG);
                assert_true(strncmp(err.msg, "tx: ", 4) == 0);
            }
            if (t.b.ntx == 1)
                continue;
            *q = *p;
            q->tx_path[0][7] ^= 0x02;
            assert_int_equal(ledger_proof_check(q, txid, hash, &err), SBX_EINVAL);
            *q = *p;
            q->verdict_path[q->verdict_npath - 1][31] ^= 0x80;
            assert_int_equal(ledger_proof_check(q, txid, hash, &err), SBX_EINVAL);
            *q = *p;
            q->index = (i + 1) % (uint32_t)t.b.ntx;
            assert_int_equal(ledger_proof_check(q, txid, hash, &err), SBX_EINVAL);
            /* another entry's transaction with this entry's paths */
            assert_int_equal(ledger_proof_make(q, &t.b, (i + 1) % (uint32_t)t.b.ntx, &err), SBX_OK);
            q->index = i;
            memcpy(q->tx_path, p->tx_path, sizeof(p->tx_path));
            q->tx_npath = p->tx_npath;
            assert_int_equal(ledger_proof_check(q, txid, hash, &err), SBX_EINVAL);
        }
        tblock_free(&t);
    }
    free(p);
    free(q);
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

int
test_ledger_block_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_roundtrip),     cmocka_unit_test(test_block_truncated_trailing),
        cmocka_unit_test(test_block_bad_header),    cmocka_unit_test(test_block_bad_verdict),
        cmocka_unit_test(test_block_encode_checks), cmocka_unit_test(test_merkle),
        cmocka_unit_test(test_merkle_path),         cmocka_unit_test(test_proof),
        cmocka_unit_test(test_block_signature),     cmocka_unit_test(test_changes_last_write_wins),
        cmocka_unit_test(test_changes_hash),
    };

    return cmocka_run_group_tests_name("ledger_block", tests, chainbuild_group_setup,
                                       chainbuild_group_teardown);
}
