/* What every libFuzzer target here does first, and the checks they share: see fuzz_common.h. */
#include "tests/fuzz/fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/keys.h"
#include "util/sha256.h"

static char scratch[512];

void
fuzz_init(void)
{
    if (sha256_global_init() != SBX_OK || ledger_keys_global_init() != SBX_OK)
        abort();
}

uint8_t *
fuzz_copy_input(const uint8_t *data, size_t size)
{
    uint8_t *copy;

    fuzz_init();
    copy = malloc(size ? size : 1);
    if (copy != NULL)
        memcpy(copy, data, size);
    return copy;
}

int
fuzz_check_refusal(int rc, const struct sbx_err *err)
{
    if (rc != SBX_OK && (err->code == SBX_OK || err->msg[0] == '\0'))
        abort(); /* refused without saying why */
    return rc;
}

void
fuzz_check_same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    if (alen != blen || (alen > 0 && memcmp(a, b, alen) != 0))
        abort(); /* a round trip changed the bytes */
}

static void
remove_scratch(void)
{
    char cmd[600];

    if (scratch[0] != '\0' && snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch) < (int)sizeof(cmd))
        (void)system(cmd);
}

const char *
fuzz_scratch_dir(void)
{
    const char *tmp = getenv("TMPDIR");

    if (scratch[0] != '\0')
        return scratch;
    if (snprintf(scratch, sizeof(scratch), "%s/sbx-fuzz-XXXXXX",
                 tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp") >= (int)sizeof(scratch) ||
        mkdtemp(scratch) == NULL)
        abort();
    atexit(remove_scratch);
    return scratch;
}

void
fuzz_write_scratch(char *path, size_t cap, const char *name, const uint8_t *p, size_t len)
{
    FILE *f;

    if (snprintf(path, cap, "%s/%s", fuzz_scratch_dir(), name) >= (int)cap)
        abort();
    f = fopen(path, "wb");
    if (f == NULL || (len > 0 && fwrite(p, 1, len, f) != len) || fclose(f) != 0)
        abort();
}
