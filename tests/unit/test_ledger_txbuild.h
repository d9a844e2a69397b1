/* Builders and checkers shared by the ledger/tx.c and ledger/keys.c unit tests
 * (test_ledger_tx.c, test_ledger_txreject.c, test_ledger_keys.c).
 *
 * Builders make a valid transaction of every type, at its shortest or at every field's maximum.
 * check_encoding() round-trips a valid, signed transaction, decodes every strict prefix from an
 * exactly-sized heap copy (so AddressSanitizer sees any read past the end) and appends a
 * trailing byte; expect_refused() and expect_decode_rc() check one refusal each.
 */
#ifndef SBX_TEST_LEDGER_TXBUILD_H
#define SBX_TEST_LEDGER_TXBUILD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ledger/keys.h"
#include "ledger/tx.h"
#include "util/buf.h"

#define NKEYS 20
#define HDR 43 /* version, type, auth, signer, timestamp */
#define TS 1700000000000LL
/* Copy a string into a char array (the house style has no strcpy). */
#define SET(dst, s) snprintf((dst), sizeof(dst), "%s", (s))

extern struct ledger_key g_keys[NKEYS]; /* [0] operator, [1..3] regulators, all distinct */
#define OP (&g_keys[0])
#define REG(i) (&g_keys[1 + (i)])

/* cmocka group set-up and tear-down: generate and wipe g_keys. */
int txbuild_group_setup(void **state);
int txbuild_group_teardown(void **state);

/* Decode `hex` into exactly n bytes (asserts). */
void unhex(uint8_t *out, size_t n, const char *hex);

/* Valid transactions; `max` fills every variable field to its maximum. */
void make_genesis(struct ledger_tx *tx, int max);
void make_account_open(struct ledger_tx *tx, int max);
void make_account_update(struct ledger_tx *tx, uint8_t tier, uint8_t status);
/* which: bit 0 travel rule, bit 1 screening, bit 2 max-length strings */
void make_transfer(struct ledger_tx *tx, enum ledger_tx_type type, int which);
void make_trade(struct ledger_tx *tx, int max);
void make_directive(struct ledger_tx *tx, int kind, int max);
void make_attestation(struct ledger_tx *tx);

/* Sign `tx` with `k` (asserts success). */
void sign(struct ledger_tx *tx, const struct ledger_key *k);
/* Sign with the operator (the regulator REG(0) for a directive), then encode into `b`. */
void signed_encoding(struct ledger_tx *tx, struct buf *b);
/* Encode into `b` (initialised here with the transaction size cap; asserts success). */
void encode(const struct ledger_tx *tx, struct buf *b);

/* Decode `len` bytes from an exactly-sized heap copy; returns the code and checks that a
 * failure names something and leaves `tx` empty. */
int decode_copy(struct ledger_tx *tx, const uint8_t *p, size_t len, size_t *ulen,
                struct sbx_err *err);
/* The decoder refuses p[0..len) with `code` and a message naming `field` (if not NULL). */
void expect_decode_rc(const uint8_t *p, size_t len, int code, const char *field);
/* The stateless check refuses `tx` with `code` naming `field`, and so does the encoder (which
 * leaves the output buffer as it was). */
void expect_refused(const struct ledger_tx *tx, int code, const char *field);
/* Round trip, prefixes and a trailing byte for a valid, signed transaction. */
void check_encoding(struct ledger_tx *tx);
/* sign() with k, then check_encoding(). */
void sign_and_check(struct ledger_tx *tx, const struct ledger_key *k);

#endif
