/* Proof of liabilities: a Merkle sum tree of every client's balance of one asset, the snapshot
 * of balances a liabilities record was made from, and the offline check of one client's leaf.
 *
 * A node of the tree is (hash, sum). A leaf commits to one account's balance:
 *
 *   salt = tagged("sbx/liab/salt", seed | str asset | str account)
 *   leaf = (tagged("sbx/liab/leaf", salt | str account | i64 balance), balance)
 *   node = (tagged("sbx/liab/node", l.hash | i64 l.sum | r.hash | i64 r.sum), l.sum + r.sum)
 *
 * (str: u8 length then the bytes; integers big-endian.) Leaves are ordered by salt, so a leaf's
 * place says nothing about its account; a level with an odd count carries its last node up
 * unchanged (never duplicated, which would count a balance twice). The root of no leaves is
 * (32 zero bytes, 0). Every sum is >= 0 and the sums never overflow: a path whose sibling is
 * negative or whose sums overflow does not verify, so no branch can hide a negative balance.
 * The leaf names its account, so a client can tell its own leaf from another client's with the
 * same balance; the salt, which only the seed gives, keeps a guessed account id from being
 * tested against a leaf hash by anyone who does not hold the seed.
 *
 * Optimised for a once-a-day record over every client: two hashes per leaf, one sort.
 */
#ifndef SBX_LEDGER_LIABILITIES_H
#define SBX_LEDGER_LIABILITIES_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/state.h"
#include "ledger/tx.h"
#include "util/buf.h"
#include "util/err.h"

/* A path has at most one step per level: 2^48 leaves are more than any ledger holds. */
#define LEDGER_LIAB_PATH_MAX 48

struct ledger_liab_node {
    uint8_t hash[32];
    int64_t sum;
};

/* One step of a path: the sibling and on which side it sits. */
struct ledger_liab_step {
    uint8_t left; /* 1: the sibling is the left child; 0: the right */
    struct ledger_liab_node sib;
};

/* Every client account's balances at one moment, in ascending id order: what a liabilities
 * record was made from, kept so that a proof can be given later. */
struct ledger_liab_snapshot {
    size_t n, nassets;
    char (*ids)[SBX_ID_MAX + 1];
    int64_t *bal; /* n x nassets, row by row */
};

/* The commitment to a record's seed that its txid covers: tagged("sbx/liab/seed", seed). */
void ledger_liabilities_seed_commit(uint8_t out[static 32], const uint8_t seed[static 32]);
/* The leaf's salt (see above). */
void ledger_liabilities_salt(uint8_t out[static 32], const uint8_t seed[static 32],
                             const char *asset, const char *account);
/* The leaf of `account` holding `balance` (SBX_EINVAL if negative). */
int ledger_liabilities_leaf(struct ledger_liab_node *out, const uint8_t salt[static 32],
                            const char *account, int64_t balance) SBX_WARN_UNUSED;
/* The parent of two nodes: SBX_EINVAL if a sum is negative, SBX_EOVERFLOW if they overflow. */
int ledger_liabilities_parent(struct ledger_liab_node *out, const struct ledger_liab_node *l,
                              const struct ledger_liab_node *r) SBX_WARN_UNUSED;
/* The root of `n` leaves (in order; `leaves` is used as scratch and overwritten). When `index`
 * < n, the path of that leaf goes into `path` (LEDGER_LIAB_PATH_MAX steps) and `*npath`. */
int ledger_liabilities_root(struct ledger_liab_node *leaves, size_t n, size_t index,
                            struct ledger_liab_node *root, struct ledger_liab_step *path,
                            size_t *npath) SBX_WARN_UNUSED;
/* Fold `path` from `leaf`; SBX_OK when it gives `root` exactly, else SBX_EINVAL (or the
 * parent's code) with `err` saying which. */
int ledger_liabilities_verify(const struct ledger_liab_node *leaf,
                              const struct ledger_liab_step *path, size_t npath,
                              const struct ledger_liab_node *root,
                              struct sbx_err *err) SBX_WARN_UNUSED;

/* Snapshot every account of `st` but `exclude` (the house account; may be NULL or ""). */
int ledger_liabilities_snapshot_take(struct ledger_liab_snapshot *s, const struct ledger_state *st,
                                     const char *exclude) SBX_WARN_UNUSED;
void ledger_liabilities_snapshot_release(struct ledger_liab_snapshot *s);
/* The stored form: u32 n, u8 nassets, n x (str id, nassets x i64 balance). */
int ledger_liabilities_snapshot_encode(const struct ledger_liab_snapshot *s,
                                       struct buf *out) SBX_WARN_UNUSED;
/* SBX_ECORRUPT if `in` is not a snapshot (ascending ids, balances >= 0). */
int ledger_liabilities_snapshot_decode(struct ledger_liab_snapshot *s, const uint8_t *in,
                                       size_t len) SBX_WARN_UNUSED;

/* The tree of asset column `asset` (symbol `symbol`) of `s` under `seed`: its root, and, when
 * `account` is not NULL, that account's leaf, salt and path (SBX_ENOTFOUND if it is not in the
 * snapshot). With `short_by` > 0 the first leaf holding at least that much is made that much
 * short (test builds' liabilities_short: a root and total a client was cheated of). */
struct ledger_liab_proof {
    struct ledger_liab_node root, leaf;
    uint8_t salt[32];
    int64_t balance;
    struct ledger_liab_step path[LEDGER_LIAB_PATH_MAX];
    size_t npath;
};
int ledger_liabilities_tree(const struct ledger_liab_snapshot *s, size_t asset, const char *symbol,
                            const uint8_t seed[static 32], const char *account, int64_t short_by,
                            struct ledger_liab_proof *out) SBX_WARN_UNUSED;

#endif
