/* Account and balance state, held in memory and persisted as 'A' records.
 *
 * The chain's accounts with their balances (one int64 per genesis asset, index 0 = VND), looked
 * up by id in a hash map. Writers go through ledger_state_account_mut(), which marks the
 * account dirty; at the end of a block ledger_state_collect() turns every dirty account into a
 * change record (sorted later with the rest, so the hash map's order never reaches a digest).
 * Balances never go negative: ledger_state_credit/debit refuse it.
 *
 * Each account has an `ext` pointer for the layer above (compliance keeps its usage counters
 * there so one lookup finds both); the state frees it with the callback given at creation.
 */
#ifndef SBX_LEDGER_STATE_H
#define SBX_LEDGER_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/changes.h"
#include "ledger/tx.h"
#include "util/err.h"

struct ledger_store;

struct ledger_account {
    char id[SBX_ID_MAX + 1];
    uint8_t kyc_tier;       /* 1..3 */
    uint8_t investor_class; /* enum ledger_investor_class */
    uint8_t status;         /* enum ledger_account_status */
    uint8_t frozen;         /* set by regulator directives */
    char country[3];
    uint8_t kyc_ref[32];
    uint8_t bank_ref[32];
    int64_t opened_ms;
    int64_t updated_ms;       /* last account_update (re-verification) */
    int64_t last_activity_ms; /* last accepted deposit, withdrawal or trade */
    int64_t balance[SBX_MAX_ASSETS];
    /* not persisted here: */
    void *ext;
    uint8_t dirty;
};

struct ledger_state;

/* Create an empty state for `nassets` assets; `ext_free` (may be NULL) frees account->ext. */
struct ledger_state *ledger_state_new(const struct ledger_asset_def *assets, size_t nassets,
                                      void (*ext_free)(void *));
void ledger_state_free(struct ledger_state *st);

size_t ledger_state_nassets(const struct ledger_state *st);
const struct ledger_asset_def *ledger_state_asset(const struct ledger_state *st, size_t i);
/* Index of asset `symbol`, or -1. */
int ledger_state_asset_index(const struct ledger_state *st, const char *symbol);

/* Number of accounts and of accounts whose status is active. */
size_t ledger_state_count(const struct ledger_state *st);
size_t ledger_state_count_active(const struct ledger_state *st);

/* Read-only lookup; NULL if there is no such account. */
const struct ledger_account *ledger_state_get(const struct ledger_state *st, const char *id);
/* Lookup for writing: marks the account dirty. NULL if absent. */
struct ledger_account *ledger_state_get_mut(struct ledger_state *st, const char *id);
/* Add a new account (copied; marked dirty). SBX_ECONFLICT if the id exists. */
int ledger_state_add(struct ledger_state *st, const struct ledger_account *a) SBX_WARN_UNUSED;

/* Change an account's status (keeps the count of active accounts exact at once). */
void ledger_state_set_status(struct ledger_state *st, struct ledger_account *a, uint8_t status);

/* Balance changes on an account got with get_mut: SBX_EOVERFLOW, or SBX_EINVAL when a debit
 * would make the balance negative. Nothing changes on failure. */
int ledger_state_credit(struct ledger_account *a, int asset, int64_t amount) SBX_WARN_UNUSED;
int ledger_state_debit(struct ledger_account *a, int asset, int64_t amount) SBX_WARN_UNUSED;

/* Append a put of every dirty account to `out` and clear the dirty marks. */
int ledger_state_collect(struct ledger_state *st, struct ledger_changes *out) SBX_WARN_UNUSED;

/* Record encoding of an account (the 'A' value; its key: ledger_store_key_account). */
int ledger_account_encode(const struct ledger_account *a, size_t nassets, uint8_t *out, size_t cap,
                          size_t *len) SBX_WARN_UNUSED;
int ledger_account_decode(struct ledger_account *a, size_t nassets, const uint8_t *in, size_t len,
                          struct sbx_err *err) SBX_WARN_UNUSED;

/* Load every 'A' record from the store (at start-up). */
int ledger_state_load(struct ledger_state *st, struct ledger_store *store,
                      struct sbx_err *err) SBX_WARN_UNUSED;
/* Load one 'A' record (key and value as stored), not dirty: the state as of a past height is
 * rebuilt from the history record by record. SBX_ECORRUPT if it does not decode or its key does
 * not name its id. */
int ledger_state_load_record(struct ledger_state *st, const uint8_t *key, size_t klen,
                             const uint8_t *val, size_t vlen, struct sbx_err *err) SBX_WARN_UNUSED;

/* Call fn for every account in ascending id order (allocates a sorted index; SBX_ENOMEM). */
int ledger_state_foreach_sorted(const struct ledger_state *st,
                                int (*fn)(void *ctx, const struct ledger_account *a),
                                void *ctx) SBX_WARN_UNUSED;

#endif
