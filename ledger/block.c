/* Blocks: canonical encoding, merkle roots, block hash and the producer's signature; see
 * block.h for the byte layouts.
 *
 * Decoding reads input from peers and from the disk, so it never trusts a count: the entry
 * count is checked against the bytes that are left before anything is allocated, every length
 * has a named maximum, and every read goes through a bounds-checked buf_reader. Merkle roots are
 * computed with a stack of at most 64 subtree roots, so they never allocate (a root over the
 * largest block costs 2n hashes and no memory).
 */
#include "ledger/block.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/tx.h"
#include "util/sha256.h"

/* Smallest encoding of one entry: its length prefix and its verdict (an empty tx is refused
 * later, by ledger_tx_decode; structurally it only has to fit). */
#define ENTRY_MIN_SIZE (4 + LEDGER_VERDICT_SIZE)

/* ---- verdicts ---- */

/* The canonical-form rules shared by encoding and decoding. */
static int
verdict_check(const struct ledger_verdict *v, struct sbx_err *err)
{
    if (v->status != LEDGER_VERDICT_ACCEPTED && v->status != LEDGER_VERDICT_REJECTED)
        return sbx_err_set(err, SBX_ETYPE, "verdict: unknown status %u", v->status);
    if (v->status == LEDGER_VERDICT_ACCEPTED &&
        (v->rule != 0 || v->limit != 0 || v->used != 0 || v->requested != 0))
        return sbx_err_set(err, SBX_ENONCANON, "verdict: accepted with a rule or figures set");
    return SBX_OK;
}

void
ledger_verdict_encode(const struct ledger_verdict *v, uint8_t out[static LEDGER_VERDICT_SIZE])
{
    out[0] = v->status;
    buf_store_u16(out + 1, v->rule);
    buf_store_u64(out + 3, (uint64_t)v->limit);
    buf_store_u64(out + 11, (uint64_t)v->used);
    buf_store_u64(out + 19, (uint64_t)v->requested);
    buf_store_u32(out + 27, v->param_version);
}

int
ledger_verdict_decode(struct ledger_verdict *v, const uint8_t in[static LEDGER_VERDICT_SIZE],
                      struct sbx_err *err)
{
    v->status = in[0];
    v->rule = buf_load_u16(in + 1);
    v->limit = (int64_t)buf_load_u64(in + 3);
    v->used = (int64_t)buf_load_u64(in + 11);
    v->requested = (int64_t)buf_load_u64(in + 19);
    v->param_version = buf_load_u32(in + 27);
    return verdict_check(v, err);
}

/* The verdict tree's item: plain SHA-256 of the encoding (ledger_merkle_root then hashes it as a
 * leaf with the "sbx/leaf" tag). */
void
ledger_verdict_hash(const struct ledger_verdict *v, uint8_t out[static 32])
{
    uint8_t enc[LEDGER_VERDICT_SIZE];

    ledger_verdict_encode(v, enc);
    sha256(out, enc, sizeof(enc));
}

/* ---- merkle ---- */

/* Streaming merkle root: perfect subtrees are kept on a stack (like a binary counter), and at
 * the end folded from the right. That gives exactly the tree of "pair each level, promote an
 * odd last node": at every level the last node is either a perfect subtree or the fold of the
 * smaller subtrees to its right. */
struct merkle {
    uint8_t node[64][32];
    uint8_t level[64];
    size_t depth;
    size_t n;
};

static void
merkle_init(struct merkle *m)
{
    m->depth = 0;
    m->n = 0;
}

static void
merkle_join(const uint8_t left[static 32], const uint8_t right[static 32], uint8_t out[static 32])
{
    uint8_t pair[64];

    memcpy(pair, left, 32);
    memcpy(pair + 32, right, 32);
    sha256_tagged(&SHA256_TAG_NODE, out, pair, sizeof(pair));
}

static void
merkle_add(struct merkle *m, const uint8_t item[static 32])
{
    uint8_t h[32];
    uint8_t level = 0;

    sha256_tagged(&SHA256_TAG_LEAF, h, item, 32);
    while (m->depth > 0 && m->level[m->depth - 1] == level) {
        merkle_join(m->node[m->depth - 1], h, h);
        m->depth--;
        level++;
    }
    /* depth <= number of set bits of n < 64 */
    memcpy(m->node[m->depth], h, 32);
    m->level[m->depth] = level;
    m->depth++;
    m->n++;
}

static void
merkle_finish(struct merkle *m, uint8_t out[static 32])
{
    uint8_t h[32];

    if (m->depth == 0) {
        memset(out, 0, 32);
        return;
    }
    memcpy(h, m->node[m->depth - 1], 32);
    for (size_t i = m->depth - 1; i-- > 0;)
        merkle_join(m->node[i], h, h);
    memcpy(out, h, 32);
}

void
ledger_merkle_root(const uint8_t (*leaves)[32], size_t n, uint8_t out[static 32])
{
    struct merkle m;

    merkle_init(&m);
    for (size_t i = 0; i < n; i++)
        merkle_add(&m, leaves[i]);
    merkle_finish(&m, out);
}

/* Node `j` of level `k` (level 0: the leaf hashes) is the root of the same construction over
 * leaves [j * 2^k, min((j + 1) * 2^k, n)): each level pairs from the left, so a subtree starting
 * at a multiple of 2^k is built exactly as a tree of its own. */
static void
merkle_node(const uint8_t (*leaves)[32], size_t n, unsigned k, size_t j, uint8_t out[static 32])
{
    size_t first = j << k, width = (size_t)1 << k;

    ledger_merkle_root(leaves + first, n - first < width ? n - first : width, out);
}

int
ledger_merkle_path(const uint8_t (*leaves)[32], size_t n, size_t index, uint8_t (*out)[32],
                   size_t *npath)
{
    size_t count = n, m = 0;

    *npath = 0;
    if (index >= n)
        return SBX_EINVAL;
    for (unsigned k = 0; count > 1; k++) {
        size_t sib = (index >> k) ^ 1;

        if (sib < count)
            merkle_node(leaves, n, k, sib, out[m++]);
        count = count / 2 + count % 2;
    }
    *npath = m;
    return SBX_OK;
}

int
ledger_merkle_path_verify(const uint8_t leaf[static 32], size_t index, size_t n,
                          const uint8_t (*path)[32], size_t npath, const uint8_t root[static 32])
{
    size_t count = n, m = 0;
    uint8_t h[32];

    if (index >= n)
        return 0;
    sha256_tagged(&SHA256_TAG_LEAF, h, leaf, 32);
    for (unsigned k = 0; count > 1; k++) {
        size_t pos = index >> k;

        if (pos % 2 == 1 || pos + 1 < count) {
            if (m == npath)
                return 0;
            if (pos % 2 == 1)
                merkle_join(path[m], h, h);
            else
                merkle_join(h, path[m], h);
            m++;
        }
        count = count / 2 + count % 2;
    }
    return m == npath && memcmp(h, root, 32) == 0;
}

/* ---- header ---- */

void
ledger_block_header_encode_unsigned(const struct ledger_block_header *h,
                                    uint8_t out[static LEDGER_HEADER_UNSIGNED_SIZE])
{
    uint8_t *p = out;

    buf_store_u32(p, h->version);
    p += 4;
    buf_store_u64(p, h->height);
    p += 8;
    memcpy(p, h->prev_hash, 32);
    p += 32;
    buf_store_u64(p, (uint64_t)h->time_ms);
    p += 8;
    memcpy(p, h->tx_root, 32);
    p += 32;
    memcpy(p, h->verdict_root, 32);
    p += 32;
    memcpy(p, h->state_digest, 32);
    p += 32;
    memcpy(p, h->producer, 32);
    p += 32;
    buf_store_u32(p, h->ntx);
}

void
ledger_block_hash(const struct ledger_block_header *h, uint8_t out[static 32])
{
    uint8_t enc[LEDGER_HEADER_UNSIGNED_SIZE];

    ledger_block_header_encode_unsigned(h, enc);
    sha256_tagged(&SHA256_TAG_BLOCK, out, enc, sizeof(enc));
}

/* Sets h->producer to k's public key (it is part of what is signed), then signs the hash. */
int
ledger_block_sign(struct ledger_block_header *h, const struct ledger_key *k)
{
    uint8_t hash[32];

    memcpy(h->producer, k->pubkey, 32);
    ledger_block_hash(h, hash);
    return ledger_keys_sign(k, hash, h->sig);
}

int
ledger_block_verify_sig(const struct ledger_block_header *h, struct sbx_err *err)
{
    uint8_t hash[32];
    int rc;

    ledger_block_hash(h, hash);
    rc = ledger_keys_verify(h->producer, hash, h->sig);
    if (rc == SBX_EPUBKEY)
        return sbx_err_set(err, SBX_EPUBKEY, "block %llu: invalid producer key",
                           (unsigned long long)h->height);
    if (rc)
        return sbx_err_set(err, SBX_EBADSIG, "block %llu: producer signature does not verify",
                           (unsigned long long)h->height);
    return SBX_OK;
}

/* Read and check a header from `r`. */
static int
header_read(struct ledger_block_header *h, struct buf_reader *r, struct sbx_err *err)
{
    int rc;

    memset(h, 0, sizeof(*h));
    rc = buf_read_u32(r, &h->version);
    rc = rc ? rc : buf_read_u64(r, &h->height);
    rc = rc ? rc : buf_read(r, h->prev_hash, 32);
    rc = rc ? rc : buf_read_i64(r, &h->time_ms);
    rc = rc ? rc : buf_read(r, h->tx_root, 32);
    rc = rc ? rc : buf_read(r, h->verdict_root, 32);
    rc = rc ? rc : buf_read(r, h->state_digest, 32);
    rc = rc ? rc : buf_read(r, h->producer, 32);
    rc = rc ? rc : buf_read_u32(r, &h->ntx);
    rc = rc ? rc : buf_read(r, h->sig, 64);
    if (rc)
        return sbx_err_set(err, rc, "block header: truncated");
    if (h->version != LEDGER_BLOCK_VERSION)
        return sbx_err_set(err, SBX_EVERSION, "block header: unknown version %lu",
                           (unsigned long)h->version);
    if (!ledger_time_valid(h->time_ms))
        return sbx_err_set(err, SBX_EINVAL, "block header: time_ms must be >= 0 and before 2200");
    if (h->ntx > LEDGER_BLOCK_MAX_TXS)
        return sbx_err_set(err, SBX_ETOOLONG, "block header: %lu transactions, at most %d",
                           (unsigned long)h->ntx, LEDGER_BLOCK_MAX_TXS);
    if (!ledger_keys_pubkey_valid(h->producer))
        return sbx_err_set(err, SBX_EPUBKEY, "block header: invalid producer key");
    return SBX_OK;
}

/* Decodes exactly LEDGER_HEADER_SIZE bytes. */
int
ledger_block_header_decode(struct ledger_block_header *h, const uint8_t *in, size_t len,
                           struct sbx_err *err)
{
    struct buf_reader r;
    int rc;

    buf_reader_init(&r, in, len);
    rc = header_read(h, &r, err);
    if (rc)
        return rc;
    if (buf_reader_left(&r))
        return sbx_err_set(err, SBX_ETRAILING, "block header: %zu trailing bytes",
                           buf_reader_left(&r));
    return SBX_OK;
}

/* ---- whole block ---- */

/* The checks of a block's shape that encoding and ledger_block_check share. */
static int
check_shape(const struct ledger_block *b, struct sbx_err *err)
{
    if (b->hdr.version != LEDGER_BLOCK_VERSION)
        return sbx_err_set(err, SBX_EVERSION, "block: unknown version %lu",
                           (unsigned long)b->hdr.version);
    if (!ledger_time_valid(b->hdr.time_ms))
        return sbx_err_set(err, SBX_EINVAL, "block: time_ms must be >= 0 and before 2200");
    if (b->ntx != b->hdr.ntx)
        return sbx_err_set(err, SBX_EINVAL, "block: header says %lu transactions, block has %zu",
                           (unsigned long)b->hdr.ntx, b->ntx);
    if (b->ntx > LEDGER_BLOCK_MAX_TXS)
        return sbx_err_set(err, SBX_ETOOLONG, "block: %zu transactions, at most %d", b->ntx,
                           LEDGER_BLOCK_MAX_TXS);
    return SBX_OK;
}

/* Appends to `out`; on failure `out` is left as it was. */
int
ledger_block_encode(const struct ledger_block *b, struct buf *out, struct sbx_err *err)
{
    uint8_t unsig[LEDGER_HEADER_UNSIGNED_SIZE], verdict[LEDGER_VERDICT_SIZE];
    size_t start = out->len, size = LEDGER_HEADER_SIZE;
    int rc;

    rc = check_shape(b, err);
    if (rc)
        return rc;
    if (!ledger_keys_pubkey_valid(b->hdr.producer))
        return sbx_err_set(err, SBX_EPUBKEY, "block: invalid producer key");
    for (size_t i = 0; i < b->ntx; i++) {
        const struct ledger_block_entry *e = &b->entries[i];

        if (e->tx_len > SBX_TX_MAX_SIZE)
            return sbx_err_set(err, SBX_ETOOLONG, "block entry %zu: transaction of %lu bytes", i,
                               (unsigned long)e->tx_len);
        rc = verdict_check(&e->verdict, err);
        if (rc)
            return rc;
        /* ntx <= 100000 and tx_len <= ~70 KB: no overflow in size_t */
        size += ENTRY_MIN_SIZE + e->tx_len;
    }
    if (size > LEDGER_BLOCK_MAX_SIZE)
        return sbx_err_set(err, SBX_ETOOLONG, "block: %zu bytes, at most %u", size,
                           LEDGER_BLOCK_MAX_SIZE);
    rc = buf_reserve(out, size);
    if (rc)
        return sbx_err_set(err, rc, "block: no room for %zu bytes", size);

    ledger_block_header_encode_unsigned(&b->hdr, unsig);
    rc = buf_put(out, unsig, sizeof(unsig));
    rc = rc ? rc : buf_put(out, b->hdr.sig, 64);
    for (size_t i = 0; rc == SBX_OK && i < b->ntx; i++) {
        const struct ledger_block_entry *e = &b->entries[i];

        ledger_verdict_encode(&e->verdict, verdict);
        rc = buf_put_u32(out, e->tx_len);
        rc = rc ? rc : buf_put(out, e->tx, e->tx_len);
        rc = rc ? rc : buf_put(out, verdict, sizeof(verdict));
    }
    if (rc) {
        /* cannot happen after the reserve above; keep `out` unchanged anyway */
        out->len = start;
        return sbx_err_set(err, rc, "block: encoding failed");
    }
    return SBX_OK;
}

int
ledger_block_decode(struct ledger_block *b, const uint8_t *in, size_t len, struct sbx_err *err)
{
    struct buf_reader r;
    const uint8_t *verdict;
    int rc;

    memset(b, 0, sizeof(*b));
    if (len > LEDGER_BLOCK_MAX_SIZE)
        return sbx_err_set(err, SBX_ETOOLONG, "block: %zu bytes, at most %u", len,
                           LEDGER_BLOCK_MAX_SIZE);
    buf_reader_init(&r, in, len);
    rc = header_read(&b->hdr, &r, err);
    if (rc)
        goto out;
    /* Check the count against what is left before allocating for it. */
    if (b->hdr.ntx > buf_reader_left(&r) / ENTRY_MIN_SIZE) {
        rc = sbx_err_set(err, SBX_ETRUNCATED, "block: %lu transactions cannot fit in %zu bytes",
                         (unsigned long)b->hdr.ntx, buf_reader_left(&r));
        goto out;
    }
    if (b->hdr.ntx > 0) {
        b->entries = calloc(b->hdr.ntx, sizeof(*b->entries));
        if (b->entries == NULL) {
            rc = sbx_err_set(err, SBX_ENOMEM, "block: out of memory");
            goto out;
        }
    }
    b->ntx = b->hdr.ntx;
    for (size_t i = 0; i < b->ntx; i++) {
        struct ledger_block_entry *e = &b->entries[i];

        rc = buf_read_u32(&r, &e->tx_len);
        if (rc) {
            sbx_err_set(err, rc, "block entry %zu: truncated", i);
            goto out;
        }
        if (e->tx_len > SBX_TX_MAX_SIZE) {
            rc = sbx_err_set(err, SBX_ETOOLONG, "block entry %zu: transaction of %lu bytes", i,
                             (unsigned long)e->tx_len);
            goto out;
        }
        rc = buf_read_ref(&r, &e->tx, e->tx_len);
        rc = rc ? rc : buf_read_ref(&r, &verdict, LEDGER_VERDICT_SIZE);
        if (rc) {
            sbx_err_set(err, rc, "block entry %zu: truncated", i);
            goto out;
        }
        rc = ledger_verdict_decode(&e->verdict, verdict, err);
        if (rc)
            goto out;
    }
    if (buf_reader_left(&r)) {
        rc = sbx_err_set(err, SBX_ETRAILING, "block: %zu trailing bytes", buf_reader_left(&r));
        goto out;
    }
    rc = SBX_OK;
out:
    if (rc)
        ledger_block_release(b);
    return rc;
}

void
ledger_block_release(struct ledger_block *b)
{
    free(b->entries);
    b->entries = NULL;
    b->ntx = 0;
}

int
ledger_block_roots(const struct ledger_block *b, uint8_t tx_root[static 32],
                   uint8_t verdict_root[static 32], uint8_t (*txids)[32], struct sbx_err *err)
{
    struct merkle *mt = NULL, *mv = NULL;
    struct ledger_tx tx;
    uint8_t txid[32], vh[32];
    size_t ulen;
    int rc;

    memset(tx_root, 0, 32);
    memset(verdict_root, 0, 32);
    /* two stacks of 2 KiB each: on the heap, to keep worker-thread stacks small */
    mt = malloc(sizeof(*mt));
    mv = malloc(sizeof(*mv));
    if (mt == NULL || mv == NULL) {
        rc = sbx_err_set(err, SBX_ENOMEM, "block: out of memory");
        goto out;
    }
    merkle_init(mt);
    merkle_init(mv);
    for (size_t i = 0; i < b->ntx; i++) {
        const struct ledger_block_entry *e = &b->entries[i];
        struct sbx_err txerr;

        sbx_err_clear(&txerr);
        memset(&tx, 0, sizeof(tx));
        rc = ledger_tx_decode(&tx, e->tx, e->tx_len, &ulen, &txerr);
        ledger_tx_release(&tx);
        if (rc) {
            sbx_err_set(err, rc, "block entry %zu: %s", i, txerr.msg);
            goto out;
        }
        ledger_tx_id_raw(txid, e->tx, ulen);
        if (txids != NULL)
            memcpy(txids[i], txid, 32);
        ledger_verdict_hash(&e->verdict, vh);
        merkle_add(mt, txid);
        merkle_add(mv, vh);
    }
    merkle_finish(mt, tx_root);
    merkle_finish(mv, verdict_root);
    rc = SBX_OK;
out:
    free(mt);
    free(mv);
    return rc;
}

int
ledger_block_check(const struct ledger_block *b, struct sbx_err *err)
{
    uint8_t tx_root[32], verdict_root[32];
    int rc;

    rc = check_shape(b, err);
    if (rc)
        return rc;
    rc = ledger_block_roots(b, tx_root, verdict_root, NULL, err);
    if (rc)
        return rc;
    if (memcmp(tx_root, b->hdr.tx_root, 32) != 0)
        return sbx_err_set(err, SBX_EINVAL, "block %llu: tx_root does not match the transactions",
                           (unsigned long long)b->hdr.height);
    if (memcmp(verdict_root, b->hdr.verdict_root, 32) != 0)
        return sbx_err_set(err, SBX_EINVAL, "block %llu: verdict_root does not match the verdicts",
                           (unsigned long long)b->hdr.height);
    return ledger_block_verify_sig(&b->hdr, err);
}
