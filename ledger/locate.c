/* Locating transactions in the stored chain; see locate.h.
 *
 * Optimised for lists that walk an index newest first: consecutive entries often sit in the
 * same block, and the block is decoded once for all of them.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "ledger/locate.h"

#include <string.h>

void
ledger_locate_init(struct ledger_locate *k)
{
    memset(k, 0, sizeof(*k));
    buf_init(&k->raw, LEDGER_BLOCK_MAX_SIZE);
}

void
ledger_locate_release(struct ledger_locate *k)
{
    if (k->loaded)
        ledger_block_release(&k->b);
    buf_release(&k->raw);
    k->loaded = 0;
}

int
ledger_locate_block(struct ledger_store *st, uint64_t height, struct ledger_locate *k,
                    struct sbx_err *err)
{
    struct sbx_err e;
    int rc;

    if (k->loaded && k->height == height)
        return SBX_OK;
    if (k->loaded) {
        ledger_block_release(&k->b);
        k->loaded = 0;
    }
    rc = ledger_store_get_block(st, height, &k->raw, err);
    if (rc)
        return rc;
    sbx_err_clear(&e);
    rc = ledger_block_decode(&k->b, k->raw.data, k->raw.len, &e);
    if (rc) /* what is stored went in through our own checks: not the caller's fault */
        return sbx_err_set(err, SBX_ECORRUPT, "stored block %llu does not decode: %s",
                           (unsigned long long)height, e.msg);
    ledger_block_hash(&k->b.hdr, k->hash);
    k->height = height;
    k->loaded = 1;
    return SBX_OK;
}

int
ledger_locate_header(struct ledger_store *st, uint64_t height, struct ledger_block_header *h,
                     struct sbx_err *err)
{
    struct buf raw;
    int rc;

    buf_init(&raw, LEDGER_BLOCK_MAX_SIZE);
    rc = ledger_store_get_block(st, height, &raw, err);
    if (rc == SBX_OK && raw.len < LEDGER_HEADER_SIZE)
        rc = sbx_err_set(err, SBX_ECORRUPT, "block %llu: truncated", (unsigned long long)height);
    if (rc == SBX_OK)
        rc = ledger_block_header_decode(h, raw.data, LEDGER_HEADER_SIZE, err);
    buf_release(&raw);
    return rc;
}

int
ledger_locate_txid(struct ledger_store *st, const uint8_t txid[static 32], struct ledger_locate *k,
                   uint32_t *index, struct sbx_err *err)
{
    uint64_t height;
    int rc;

    rc = ledger_store_tx_location(st, txid, &height, index, err);
    return rc ? rc : ledger_locate_block(st, height, k, err);
}

int
ledger_locate_entry(const struct ledger_locate *k, size_t i, struct ledger_tx *tx,
                    uint8_t txid[static 32], const struct ledger_verdict **verdict,
                    struct sbx_err *err)
{
    const struct ledger_block_entry *e;
    struct sbx_err de;
    size_t ulen = 0;
    int rc;

    if (i >= k->b.ntx)
        return sbx_err_set(err, SBX_ECORRUPT, "block %llu has no entry %zu",
                           (unsigned long long)k->height, i);
    e = &k->b.entries[i];
    sbx_err_clear(&de);
    rc = ledger_tx_decode(tx, e->tx, e->tx_len, &ulen, &de);
    if (rc)
        return sbx_err_set(err, SBX_ECORRUPT, "block %llu entry %zu does not decode: %s",
                           (unsigned long long)k->height, i, de.msg);
    ledger_tx_id_raw(txid, e->tx, ulen);
    if (verdict != NULL)
        *verdict = &e->verdict;
    return SBX_OK;
}
