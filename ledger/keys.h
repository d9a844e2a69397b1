/* Keys and BIP340 Schnorr signatures (libsecp256k1), and key files.
 *
 * One randomised secp256k1 context per process, created by ledger_keys_global_init() (the
 * entry points call it; the other functions call it too). Verification with a context is
 * thread-safe. Secret keys are wiped when a `struct ledger_key` is released and never logged.
 * This file knows nothing of transactions: their signing (ledger_tx_sign & co., tx.h) builds on
 * it, never the other way round.
 */
#ifndef SBX_LEDGER_KEYS_H
#define SBX_LEDGER_KEYS_H

#include <stdint.h>

#include "util/err.h"

struct ledger_key {
    uint8_t secret[32];
    uint8_t pubkey[32];  /* x-only */
    uint8_t keypair[96]; /* secp256k1_keypair, opaque */
};

/* Create the process-wide context, seeded from OpenSSL's RNG. SBX_EINTERNAL on failure. */
int ledger_keys_global_init(void) SBX_WARN_UNUSED;

/* A fresh key from OpenSSL's RNG. */
int ledger_keys_generate(struct ledger_key *k) SBX_WARN_UNUSED;
/* The key with this secret; SBX_EINVAL if it is not a valid secret key. */
int ledger_keys_from_secret(struct ledger_key *k, const uint8_t secret[static 32]) SBX_WARN_UNUSED;
/* Overwrite the secret material. */
void ledger_keys_wipe(struct ledger_key *k);

/* 1 if `pub` is a valid x-only public key, else 0. */
int ledger_keys_pubkey_valid(const uint8_t pub[static 32]);

/* Sign a 32-byte message (a txid or block hash) with fresh auxiliary randomness. */
int ledger_keys_sign(const struct ledger_key *k, const uint8_t msg[static 32],
                     uint8_t sig[static 64]) SBX_WARN_UNUSED;
/* SBX_OK if `sig` is `pub`'s signature of `msg`; SBX_EPUBKEY for an invalid key; SBX_EBADSIG. */
int ledger_keys_verify(const uint8_t pub[static 32], const uint8_t msg[static 32],
                       const uint8_t sig[static 64]) SBX_WARN_UNUSED;

/* Write the secret as 64 hex characters and a newline to `path`, created with mode 0600
 * (refuses to overwrite). Read it back; a file readable by group or others is refused. */
int ledger_keys_save(const struct ledger_key *k, const char *path,
                     struct sbx_err *err) SBX_WARN_UNUSED;
int ledger_keys_load(struct ledger_key *k, const char *path, struct sbx_err *err) SBX_WARN_UNUSED;
/* Load the key in `path` if the file exists (SBX_ENOTFOUND with no message if it does not, and
 * `make` is 0); with `make`, an absent file is made: `dir` created (mode 0700) if missing, a new
 * key generated and saved. */
int ledger_keys_load_or_make(struct ledger_key *k, const char *dir, const char *path, int make,
                             struct sbx_err *err) SBX_WARN_UNUSED;

#endif
