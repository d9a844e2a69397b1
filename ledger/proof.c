/* Offline transaction proofs: making one from a stored block and checking one with nothing but
 * its own bytes (and, for the producer's identity, the genesis block). See proof.h.
 *
 * Making a proof hashes every txid and verdict of the block once more (the paths need the
 * siblings, which only the whole block gives); a proof is asked for one transaction at a time,
 * so this is not on any hot path. Checking costs a few dozen hashes and one or two signature
 * checks.
 */
#include "ledger/proof.h"

#include <stdlib.h>
#include <string.h>

#include "util/sha256.h"

int
ledger_proof_make(struct ledger_proof *p, const struct ledger_block *b, uint32_t index,
                  struct sbx_err *err)
{
    uint8_t(*txids)[32] = NULL, (*vhashes)[32] = NULL;
    uint8_t tx_root[32], verdict_root[32];
    int rc;

    memset(p, 0, sizeof(*p));
    if (index >= b->ntx)
        return sbx_err_set(err, SBX_EINVAL, "proof: block %llu has no entry %lu",
                           (unsigned long long)b->hdr.height, (unsigned long)index);
    txids = calloc(b->ntx, 32);
    vhashes = calloc(b->ntx, 32);
    if (txids == NULL || vhashes == NULL) {
        rc = sbx_err_set(err, SBX_ENOMEM, "proof: out of memory");
        goto out;
    }
    rc = ledger_block_roots(b, tx_root, verdict_root, txids, err);
    if (rc)
        goto out;
    for (size_t i = 0; i < b->ntx; i++)
        ledger_verdict_hash(&b->entries[i].verdict, vhashes[i]);
    rc = ledger_merkle_path(txids, b->ntx, index, p->tx_path, &p->tx_npath);
    rc = rc ? rc : ledger_merkle_path(vhashes, b->ntx, index, p->verdict_path, &p->verdict_npath);
    if (rc) {
        sbx_err_set(err, rc, "proof: no path to entry %lu", (unsigned long)index);
        goto out;
    }
    p->hdr = b->hdr;
    p->tx = b->entries[index].tx;
    p->tx_len = b->entries[index].tx_len;
    p->index = index;
    p->verdict = b->entries[index].verdict;
    rc = SBX_OK;
out:
    free(txids);
    free(vhashes);
    return rc;
}

int
ledger_proof_check(const struct ledger_proof *p, uint8_t txid[static 32],
                   uint8_t block_hash[static 32], struct sbx_err *err)
{
    struct sbx_err txerr;
    uint8_t vh[32];
    int rc;

    memset(txid, 0, 32);
    ledger_block_hash(&p->hdr, block_hash);
    sbx_err_clear(&txerr);
    /* it decodes, and is authenticated: its own signature, or (block-authenticated) its signer
     * is the producer whose signature the header carries */
    rc = ledger_tx_check_in_block(p->tx, p->tx_len, p->hdr.producer, txid, NULL, &txerr);
    if (rc)
        return sbx_err_set(err, rc, "tx: %s", txerr.msg);
    if (p->index >= p->hdr.ntx)
        return sbx_err_set(err, SBX_EINVAL, "index: %lu, but the block has %lu transactions",
                           (unsigned long)p->index, (unsigned long)p->hdr.ntx);
    if (!ledger_merkle_path_verify(txid, p->index, p->hdr.ntx, p->tx_path, p->tx_npath,
                                   p->hdr.tx_root))
        return sbx_err_set(err, SBX_EINVAL, "tx_path: the txid does not lead to tx_root");
    ledger_verdict_hash(&p->verdict, vh);
    if (!ledger_merkle_path_verify(vh, p->index, p->hdr.ntx, p->verdict_path, p->verdict_npath,
                                   p->hdr.verdict_root))
        return sbx_err_set(err, SBX_EINVAL,
                           "verdict_path: the verdict does not lead to verdict_root");
    rc = ledger_block_verify_sig(&p->hdr, err);
    if (rc)
        return sbx_err_set(err, rc,
                           "signature: the producer's signature does not verify over "
                           "the block hash");
    return SBX_OK;
}

int
ledger_proof_genesis(const struct ledger_block *b, struct ledger_tx *genesis, struct sbx_err *err)
{
    const struct ledger_genesis *g = &genesis->u.genesis;
    uint8_t txid[32];
    size_t ulen;
    int rc;

    memset(genesis, 0, sizeof(*genesis));
    if (b->hdr.height != 0 || b->ntx != 1)
        return sbx_err_set(err, SBX_ECORRUPT,
                           "genesis block: must be height 0 with one transaction");
    rc = ledger_block_check(b, err);
    if (rc)
        return rc;
    rc = ledger_tx_decode(genesis, b->entries[0].tx, b->entries[0].tx_len, &ulen, err);
    if (rc)
        return rc;
    if (genesis->type != LEDGER_TX_GENESIS || memcmp(genesis->signer, g->operator_key, 32) != 0 ||
        memcmp(b->hdr.producer, g->operator_key, 32) != 0) {
        rc = sbx_err_set(err, SBX_ECORRUPT,
                         "genesis block: its transaction must be a genesis signed and produced "
                         "by the operator key");
        goto out;
    }
    ledger_tx_id_raw(txid, b->entries[0].tx, ulen);
    rc = ledger_tx_verify(genesis, txid, err);
out:
    if (rc)
        ledger_tx_release(genesis);
    return rc;
}
