/* What every libFuzzer target here does first, and the checks they share. */
#ifndef SBX_FUZZ_COMMON_H
#define SBX_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Initialise sha256 and the key library; abort if that fails. Any number of calls. */
void fuzz_init(void);

/* Initialise as fuzz_init and return an exactly-sized heap
 * copy of the input, so that AddressSanitizer sees any read past its end; NULL when out of
 * memory (the caller skips the input). The caller frees it. */
uint8_t *fuzz_copy_input(const uint8_t *data, size_t size);

/* A decoder's verdict on input: abort (a finding) when it refused (rc != SBX_OK) without
 * saying why in `err`, which the caller cleared before the call. Returns rc. */
int fuzz_check_refusal(int rc, const struct sbx_err *err);

/* Abort (a finding) unless `len` bytes at `a` and `b` are equal: a round trip that changed the
 * bytes. */
void fuzz_check_same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* A scratch directory of this process (made at the first call under $TMPDIR, else /tmp, and
 * removed at exit). Aborts if it cannot be made. */
const char *fuzz_scratch_dir(void);

/* Write `len` bytes at `p` to the file `name` of the scratch directory (replacing it), its path
 * into `path` (`cap` bytes). Aborts on failure. */
void fuzz_write_scratch(char *path, size_t cap, const char *name, const uint8_t *p, size_t len);

#endif
