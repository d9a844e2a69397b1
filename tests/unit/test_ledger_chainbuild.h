/* Blocks and stores shared by the ledger/ block, store and verification unit tests
 * (test_ledger_block.c, test_ledger_store.c, test_ledger_verify.c).
 *
 * Transactions are real trades (ledger/tx.c, ledger/keys.c), so the roots and signatures these
 * tests check are the ones a node would check: even entries signed by g_op (a signer that is
 * not the producer, as a submitrawtx), odd ones block-authenticated by g_prod (the producer).
 */
#ifndef SBX_TEST_LEDGER_CHAINBUILD_H
#define SBX_TEST_LEDGER_CHAINBUILD_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/block.h"
#include "ledger/changes.h"
#include "ledger/keys.h"
#include "ledger/store.h"
#include "util/buf.h"

/* Offsets in an encoded block (see block.h). */
#define OFF_VERSION 0
#define OFF_TIME 44
#define OFF_PRODUCER 148
#define OFF_NTX 180
#define OFF_SIG 184
#define OFF_ENTRY0 LEDGER_HEADER_SIZE

extern struct ledger_key g_op;   /* signs the even transactions */
extern struct ledger_key g_prod; /* signs the blocks */

/* cmocka group set-up and tear-down: generate and wipe g_op and g_prod, silence the log (the
 * store logs expected LevelDB errors). */
int chainbuild_group_setup(void **state);
int chainbuild_group_teardown(void **state);

/* A block of n trades with real roots, signed by g_prod. */
struct tblock {
    struct buf txs; /* the encoded transactions back to back */
    size_t *off;
    uint8_t (*txids)[32];
    struct ledger_block b;
    struct buf enc;
    uint8_t hash[32];
};

/* Build t; returns SBX_OK or the first failure (no cmocka: the crash test's child uses it). */
int tblock_make(struct tblock *t, size_t n, uint64_t height, const uint8_t prev[32],
                const uint8_t state_digest[32], unsigned seed);
/* tblock_make, asserting success. */
void tblock_build(struct tblock *t, size_t n, uint64_t height, const uint8_t prev[32],
                  const uint8_t state_digest[32], unsigned seed);
void tblock_free(struct tblock *t);

/* Put the string value v under the string key k (asserts success). */
void put_s(struct ledger_changes *c, const char *k, const char *v);

/* Open (or create) the store in `dir`, asserting success. */
struct ledger_store *open_ok(const char *dir, int create);
/* A fresh temporary directory (in *tmp) and the path of a store in it, "<tmp>/ledger" (not
 * created yet), both malloc'd; store_dir_free frees both and removes the directory. */
char *store_dir_new(char **tmp);
void store_dir_free(char *tmp, char *dir);
/* Commit t with changes c (may be NULL) as the new tip, synced. */
void commit_block(struct ledger_store *s, const struct tblock *t, const struct ledger_changes *c);

#endif
