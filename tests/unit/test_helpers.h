/* Helpers shared by the unit tests and the benchmarks (test_common.c, test_genesis.c); nothing here
 * needs cmocka, so that the benchmarks can link them without it. */
#ifndef SBX_TEST_HELPERS_H
#define SBX_TEST_HELPERS_H

#include <stdint.h>

/* A fresh temporary directory (mkdtemp) under $TMPDIR or /tmp; the caller removes it with
 * test_rmtree. Returns a malloc'd path. */
char *test_tmpdir(void);
/* Remove `path` and everything below it (symbolic links are not followed); NULL is a no-op. */
void test_rmtree(const char *path);

/* A made-up transaction id: 32 bytes of `fill` with n in the first four, big-endian (distinct
 * for distinct n). */
void test_txid_for(uint8_t out[32], uint8_t fill, uint32_t n);

/* test_genesis.c: the assets of the compliance tests' genesis (VND; BTC and ETH with 8
 * decimals) and its licence document `licence` (kept, not copied). */
struct ledger_genesis;
void test_genesis_assets(struct ledger_genesis *gen, char *licence);

#endif
