/* What every libFuzzer target here does first. */
#ifndef SBX_FUZZ_COMMON_H
#define SBX_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Initialise sha256 and the key library (abort if that fails) and return an exactly-sized heap
 * copy of the input, so that AddressSanitizer sees any read past its end; NULL when out of
 * memory (the caller skips the input). The caller frees it. */
uint8_t *fuzz_copy_input(const uint8_t *data, size_t size);

#endif
