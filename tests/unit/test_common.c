/* Helpers shared by the unit test binaries and the benchmarks: see test_helpers.h. */
#define _GNU_SOURCE 1
#include "tests/unit/test_helpers.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *
test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *path;
    size_t n;

    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    n = strlen(base) + 32;
    path = malloc(n);
    if (path == NULL)
        return NULL;
    snprintf(path, n, "%s/sbx-test.XXXXXX", base);
    if (mkdtemp(path) == NULL) {
        free(path);
        return NULL;
    }
    return path;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void
test_rmtree(const char *path)
{
    if (path != NULL)
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void
test_txid_for(uint8_t out[32], uint8_t fill, uint32_t n)
{
    memset(out, fill, 32);
    out[0] = (uint8_t)(n >> 24);
    out[1] = (uint8_t)(n >> 16);
    out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
}
