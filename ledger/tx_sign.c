/* Transaction signatures: the signer's and, on directives, the cosigners'; see tx.h. A
 * block-authenticated transaction has none: it is checked against its block's producer.
 *
 * Built on the plain message signatures of keys.c: a transaction signs its txid (the tagged
 * hash of its unsigned encoding), so signing encodes it and verifying needs only the txid the
 * decoder computed. Verification runs on the worker threads; it reads nothing shared but the
 * process-wide secp256k1 context, which keys.c sets up once.
 */
#include <string.h>

#include "ledger/keys.h"
#include "ledger/tx.h"

int
ledger_tx_sign(struct ledger_tx *tx, const struct ledger_key *k, uint8_t *txid, struct sbx_err *err)
{
    uint8_t id[32];
    int rc;

    tx->auth = LEDGER_TX_AUTH_SIG;
    memcpy(tx->signer, k->pubkey, 32);
    rc = ledger_tx_id(tx, id, err);
    if (rc)
        goto out;
    rc = ledger_keys_sign(k, id, tx->sig);
    if (rc) {
        sbx_err_set(err, rc, "sig: signing failed");
        goto out;
    }
    if (txid != NULL)
        memcpy(txid, id, 32);
out:
    return rc;
}

int
ledger_tx_seal_for_block(struct ledger_tx *tx, const uint8_t signer[static 32], struct buf *out,
                         uint8_t txid[static 32], struct sbx_err *err)
{
    size_t start = out->len;
    int rc;

    tx->auth = LEDGER_TX_AUTH_BLOCK;
    memcpy(tx->signer, signer, 32);
    memset(tx->sig, 0, sizeof(tx->sig));
    rc = ledger_tx_encode(tx, out, err);
    if (rc == SBX_OK)
        ledger_tx_id_raw(txid, out->data + start, out->len - start);
    return rc;
}

int
ledger_tx_cosign(struct ledger_tx *tx, const struct ledger_key *k, struct sbx_err *err)
{
    struct ledger_directive *d = &tx->u.directive;
    struct ledger_cosig *cs;
    uint8_t id[32];
    int rc;

    if (tx->type != LEDGER_TX_DIRECTIVE)
        return sbx_err_set(err, SBX_EINVAL, "cosig: only directives take cosignatures");
    if (d->ncosig >= SBX_MAX_COSIGS)
        return sbx_err_set(err, SBX_ETOOLONG, "directive.cosig: already %d cosignatures",
                           SBX_MAX_COSIGS);
    if (memcmp(k->pubkey, tx->signer, 32) == 0)
        return sbx_err_set(err, SBX_ENONCANON, "directive.cosig: key is the signer's");
    for (unsigned i = 0; i < d->ncosig; i++) {
        if (memcmp(k->pubkey, d->cosig[i].pubkey, 32) == 0)
            return sbx_err_set(err, SBX_ENONCANON,
                               "directive.cosig: key already cosigned (cosig[%u])", i);
    }
    rc = ledger_tx_id(tx, id, err);
    if (rc)
        return rc;
    cs = &d->cosig[d->ncosig];
    rc = ledger_keys_sign(k, id, cs->sig);
    if (rc)
        return sbx_err_set(err, rc, "directive.cosig: signing failed");
    memcpy(cs->pubkey, k->pubkey, 32);
    d->ncosig++;
    return SBX_OK;
}

int
ledger_tx_verify(const struct ledger_tx *tx, const uint8_t txid[static 32], struct sbx_err *err)
{
    const struct ledger_directive *d = &tx->u.directive;
    int rc;

    if (tx->auth != LEDGER_TX_AUTH_SIG)
        return sbx_err_set(err, SBX_EBADSIG,
                           "tx.auth: not signed: a block-authenticated transaction is valid only "
                           "inside a block of its signer");
    rc = ledger_keys_verify(tx->signer, txid, tx->sig);
    if (rc == SBX_EPUBKEY)
        return sbx_err_set(err, rc, "tx.signer: not a valid x-only public key");
    if (rc == SBX_EBADSIG)
        return sbx_err_set(err, rc, "tx.sig: the signer's signature does not verify");
    if (rc)
        return sbx_err_set(err, rc, "tx.sig: verification failed");
    if (tx->type != LEDGER_TX_DIRECTIVE)
        return SBX_OK;
    if (d->ncosig > SBX_MAX_COSIGS)
        return sbx_err_set(err, SBX_ETOOLONG, "directive.cosig: more than %d cosignatures",
                           SBX_MAX_COSIGS);
    for (unsigned i = 0; i < d->ncosig; i++) {
        if (memcmp(d->cosig[i].pubkey, tx->signer, 32) == 0)
            return sbx_err_set(err, SBX_ENONCANON, "directive.cosig[%u]: key is the signer's", i);
        for (unsigned j = 0; j < i; j++) {
            if (memcmp(d->cosig[i].pubkey, d->cosig[j].pubkey, 32) == 0)
                return sbx_err_set(err, SBX_ENONCANON, "directive.cosig[%u]: same key as cosig[%u]",
                                   i, j);
        }
        rc = ledger_keys_verify(d->cosig[i].pubkey, txid, d->cosig[i].sig);
        if (rc == SBX_EPUBKEY)
            return sbx_err_set(err, rc, "directive.cosig[%u].pubkey: not a valid x-only key", i);
        if (rc == SBX_EBADSIG)
            return sbx_err_set(err, rc, "directive.cosig[%u].sig: does not verify", i);
        if (rc)
            return sbx_err_set(err, rc, "directive.cosig[%u]: verification failed", i);
    }
    return SBX_OK;
}

int
ledger_tx_verify_in_block(const struct ledger_tx *tx, const uint8_t txid[static 32],
                          const uint8_t producer[static 32], struct sbx_err *err)
{
    if (tx->auth != LEDGER_TX_AUTH_BLOCK)
        return ledger_tx_verify(tx, txid, err);
    if (memcmp(tx->signer, producer, 32) != 0)
        return sbx_err_set(err, SBX_EBADSIG,
                           "tx.signer: a block-authenticated transaction must be signed by the "
                           "block's producer");
    return SBX_OK;
}

int
ledger_tx_check_in_block(const uint8_t *raw, size_t len, const uint8_t producer[static 32],
                         uint8_t txid[static 32], int *type, struct sbx_err *err)
{
    struct ledger_tx tx;
    size_t ulen;
    int rc;

    memset(&tx, 0, sizeof(tx));
    rc = ledger_tx_decode(&tx, raw, len, &ulen, err);
    if (rc == SBX_OK) {
        ledger_tx_id_raw(txid, raw, ulen);
        rc = ledger_tx_verify_in_block(&tx, txid, producer, err);
        if (type != NULL)
            *type = tx.type;
    }
    ledger_tx_release(&tx);
    return rc;
}
