/* Offline proofs that a transaction is in a block: what `gettxproof` hands out and
 * `sbx-cli verifytxproof` checks without a node (doc/protocol.md, "Transaction proofs").
 *
 * A proof is the block's header with the producer's signature, the transaction's encoding, its
 * index, its verdict's encoding, and the merkle paths (block.h) of its txid to tx_root and of
 * its verdict's hash to verdict_root. Checking it shows that whoever holds the producer key
 * signed a block that holds this transaction with this verdict at this place; with the
 * genesis block, that the producer is the network's operator. It does not show that the block
 * is on the chain a regulator follows: compare the block hash with that regulator's getblock.
 */
#ifndef SBX_LEDGER_PROOF_H
#define SBX_LEDGER_PROOF_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/block.h"
#include "ledger/tx.h"
#include "util/err.h"

struct ledger_proof {
    struct ledger_block_header hdr; /* with the producer's signature */
    const uint8_t *tx;              /* the transaction's encoding (not owned) */
    size_t tx_len;
    uint32_t index; /* its place in the block */
    struct ledger_verdict verdict;
    uint8_t tx_path[LEDGER_MERKLE_PATH_MAX][32];
    size_t tx_npath;
    uint8_t verdict_path[LEDGER_MERKLE_PATH_MAX][32];
    size_t verdict_npath;
};

/* Fill `p` for entry `index` of the decoded block `b` (p->tx then points into b's entry).
 * SBX_EINVAL if there is no such entry; decoding codes if an entry does not decode; SBX_ENOMEM.
 * Costs about 3n hashes for a block of n transactions. */
int ledger_proof_make(struct ledger_proof *p, const struct ledger_block *b, uint32_t index,
                      struct sbx_err *err) SBX_WARN_UNUSED;

/* Check `p` on its own: the transaction decodes (its txid into `txid`) and is authenticated
 * (its own signature, or, block-authenticated, its signer is the producer), the txid's path leads
 * to the header's tx_root, the verdict's path to its verdict_root, and the producer's signature
 * verifies over the block hash (into `block_hash`). SBX_OK, or the code of the first check
 * that failed with `err` naming it ("tx: ...", "tx_path: ...", "verdict_path: ...",
 * "signature: ..."). */
int ledger_proof_check(const struct ledger_proof *p, uint8_t txid[static 32],
                       uint8_t block_hash[static 32], struct sbx_err *err) SBX_WARN_UNUSED;

/* Check a decoded genesis block: height 0, one transaction, a genesis, signed by the operator
 * key it names and produced by it, roots and signatures that verify. On success `genesis`
 * holds the decoded genesis transaction (release it with ledger_tx_release; it points into
 * nothing of `b`). SBX_ECORRUPT or the failing check's code otherwise. */
int ledger_proof_genesis(const struct ledger_block *b, struct ledger_tx *genesis,
                         struct sbx_err *err) SBX_WARN_UNUSED;

#endif
