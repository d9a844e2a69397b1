/* libFuzzer target: the transaction decoder. Any input must decode or be refused with a code
 * and a message, never crash or read out of bounds; what decodes must re-encode to exactly the
 * same bytes (the encoding is canonical); a block-authenticated one verifies only in a block of
 * its signer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/keys.h"
#include "ledger/tx.h"
#include "tests/fuzz/fuzz_common.h"
#include "util/buf.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ledger_tx tx;
    struct sbx_err err;
    struct buf out;
    size_t ulen;
    uint8_t *copy;

    copy = fuzz_copy_input(data, size);
    if (copy == NULL)
        return 0;
    sbx_err_clear(&err); /* a refusal must fill it: see the check below */
    if (ledger_tx_decode(&tx, copy, size, &ulen, &err) == SBX_OK) {
        uint8_t txid[32];

        buf_init(&out, SBX_TX_MAX_SIZE);
        if (ledger_tx_encode(&tx, &out, &err) != SBX_OK || out.len != size ||
            memcmp(out.data, copy, size) != 0)
            abort(); /* decoded but does not re-encode to the same bytes */
        if (ulen > size)
            abort();
        ledger_tx_id_raw(txid, copy, ulen);
        (void)ledger_tx_verify(&tx, txid, &err);
        /* an unsigned transaction has nothing after its body, never verifies outside a block,
         * and is valid in a block of its signer */
        if (tx.auth == LEDGER_TX_AUTH_BLOCK &&
            (ulen != size || ledger_tx_verify(&tx, txid, &err) != SBX_EBADSIG ||
             ledger_tx_verify_in_block(&tx, txid, tx.signer, &err) != SBX_OK))
            abort();
        buf_release(&out);
        ledger_tx_release(&tx);
    } else if (err.msg[0] == '\0') {
        abort(); /* a refusal must say why */
    }
    free(copy);
    return 0;
}
