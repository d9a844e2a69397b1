/* libFuzzer target: the block decoder and the stateless block checks. Any input must decode
 * or be refused, never crash or read out of bounds; what decodes re-encodes to the same bytes
 * and can be checked (roots, signatures) without crashing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/block.h"
#include "ledger/keys.h"
#include "tests/fuzz/fuzz_common.h"
#include "util/buf.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ledger_block b;
    struct sbx_err err;
    struct buf out;
    uint8_t *copy;

    copy = fuzz_copy_input(data, size);
    if (copy == NULL)
        return 0;
    sbx_err_clear(&err); /* a refusal must fill it: see the check below */
    if (ledger_block_decode(&b, copy, size, &err) == SBX_OK) {
        buf_init(&out, LEDGER_BLOCK_MAX_SIZE);
        if (ledger_block_encode(&b, &out, &err) != SBX_OK || out.len != size ||
            memcmp(out.data, copy, size) != 0)
            abort();
        (void)ledger_block_check(&b, &err);
        buf_release(&out);
        ledger_block_release(&b);
    } else if (err.msg[0] == '\0') {
        abort();
    }
    /* the header decoder on its own */
    {
        struct ledger_block_header h;

        sbx_err_clear(&err);
        if (ledger_block_header_decode(&h, copy, size, &err) != SBX_OK && err.msg[0] == '\0')
            abort();
    }
    free(copy);
    return 0;
}
