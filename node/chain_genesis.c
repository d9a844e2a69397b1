/* The genesis block of the chain: making one for a new network (node_chain_make_genesis) and
 * loading block 0 of an existing chain (its genesis transaction and a fresh engine from it).
 *
 * Threads: node_chain_make_genesis from any thread (it touches no chain); loading from the
 * thread that opens the chain or rebuilds its state (the sequencer).
 */
#include <string.h>

#include "compliance/params.h"
#include "node/chain_internal.h"

int
node_chain_genesis_load(struct node_chain *c, const uint8_t *raw, size_t len, struct sbx_err *err)
{
    struct ledger_block b;
    uint8_t txid[32];
    size_t ulen;
    int rc;

    rc = ledger_block_decode(&b, raw, len, err);
    if (rc)
        return rc;
    if (b.hdr.height != 0 || b.ntx != 1) {
        rc = sbx_err_set(err, SBX_ECORRUPT, "genesis block: must be height 0 with one transaction");
        goto out;
    }
    rc = ledger_block_check(&b, err);
    if (rc)
        goto out;
    ledger_tx_release(&c->genesis);
    rc = ledger_tx_decode(&c->genesis, b.entries[0].tx, b.entries[0].tx_len, &ulen, err);
    if (rc)
        goto out;
    if (c->genesis.type != LEDGER_TX_GENESIS ||
        memcmp(c->genesis.signer, c->genesis.u.genesis.operator_key, 32) != 0 ||
        memcmp(b.hdr.producer, c->genesis.u.genesis.operator_key, 32) != 0) {
        rc = sbx_err_set(err, SBX_ECORRUPT,
                         "genesis block: its transaction must be a genesis signed and produced "
                         "by the operator key");
        goto out;
    }
    /* a genesis is always signed (the decoder refuses one that is block-authenticated) */
    ledger_tx_id_raw(txid, b.entries[0].tx, ulen);
    rc = ledger_tx_verify(&c->genesis, txid, err);
    if (rc)
        goto out;
    ledger_block_hash(&b.hdr, c->genesis_hash);
    cmp_engine_free(c->eng);
    c->eng = NULL;
    rc = cmp_engine_new(&c->eng, &c->genesis, err);
    if (rc)
        goto out;
    cmp_engine_set_id_lookup(c->eng, node_chain_ids_lookup, c);
    cmp_engine_set_hash_lookup(c->eng, node_chain_hash_lookup, c);
out:
    ledger_block_release(&b);
    return rc;
}

int
node_chain_make_genesis(const char *network, const struct ledger_key *operator_key,
                        const uint8_t (*regulators)[32], size_t nregulators, int directive_quorum,
                        int attestation_quorum, const struct ledger_asset_def *assets,
                        size_t nassets, const char *licence_json, int64_t time_ms, struct buf *out,
                        struct sbx_err *err)
{
    struct ledger_tx tx;
    struct ledger_genesis *g = &tx.u.genesis;
    struct cmp_engine *eng = NULL;
    struct ledger_changes ch;
    struct ledger_block b;
    struct ledger_block_entry entry;
    struct buf raw;
    uint8_t txid[32], zero[32] = {0}, h[32];
    int rc;

    ledger_tx_init(&tx, LEDGER_TX_GENESIS);
    ledger_changes_init(&ch);
    buf_init(&raw, SBX_TX_MAX_SIZE);
    memset(&b, 0, sizeof(b));
    if (strlen(network) > SBX_NETWORK_MAX || nregulators > SBX_MAX_REGULATORS ||
        nassets > SBX_MAX_ASSETS) {
        rc = sbx_err_set(err, SBX_EINVAL, "genesis: too many regulators or assets");
        goto out;
    }
    memcpy(g->network, network, strlen(network) + 1);
    memcpy(g->operator_key, operator_key->pubkey, 32);
    g->nregulators = (uint8_t)nregulators;
    memcpy(g->regulator_keys, regulators, nregulators * 32);
    g->directive_quorum = (uint8_t)directive_quorum;
    g->attestation_quorum = (uint8_t)attestation_quorum;
    g->nassets = (uint8_t)nassets;
    memcpy(g->assets, assets, nassets * sizeof(*assets));
    g->licence_json = cmp_params_canonicalize(licence_json, strlen(licence_json), err);
    if (g->licence_json == NULL) {
        rc = err ? err->code : SBX_EINVAL;
        goto out;
    }
    g->licence_len = (uint32_t)strlen(g->licence_json);
    tx.timestamp = time_ms;
    rc = ledger_tx_sign(&tx, operator_key, txid, err);
    rc = rc ? rc : ledger_tx_encode(&tx, &raw, err);
    rc = rc ? rc : cmp_engine_new(&eng, &tx, err);
    rc = rc ? rc : cmp_collect(eng, &ch);
    if (rc)
        goto out;
    ledger_changes_hash(&ch, h);
    b.hdr.version = LEDGER_BLOCK_VERSION;
    b.hdr.height = 0;
    b.hdr.time_ms = time_ms;
    ledger_state_digest_next(zero, h, b.hdr.state_digest);
    memcpy(b.hdr.producer, operator_key->pubkey, 32);
    b.hdr.ntx = 1;
    b.ntx = 1;
    entry.tx = raw.data;
    entry.tx_len = (uint32_t)raw.len;
    memset(&entry.verdict, 0, sizeof(entry.verdict));
    entry.verdict.status = LEDGER_VERDICT_ACCEPTED;
    entry.verdict.param_version = 1;
    b.entries = &entry;
    rc = ledger_block_roots(&b, b.hdr.tx_root, b.hdr.verdict_root, NULL, err);
    rc = rc ? rc : ledger_block_sign(&b.hdr, operator_key);
    rc = rc ? rc : ledger_block_encode(&b, out, err);
out:
    cmp_engine_free(eng);
    ledger_changes_release(&ch);
    buf_release(&raw);
    ledger_tx_release(&tx);
    return rc;
}
