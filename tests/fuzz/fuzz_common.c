/* What every libFuzzer target here does first: see fuzz_common.h. */
#include "tests/fuzz/fuzz_common.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/keys.h"
#include "util/sha256.h"

uint8_t *
fuzz_copy_input(const uint8_t *data, size_t size)
{
    uint8_t *copy;

    if (sha256_global_init() != SBX_OK || ledger_keys_global_init() != SBX_OK)
        abort();
    copy = malloc(size ? size : 1);
    if (copy != NULL)
        memcpy(copy, data, size);
    return copy;
}
