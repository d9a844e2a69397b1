/* The ledger as of a past block: getaccount, getusage and getlicence with a height or a time,
 * and the engine getreport starts its period from.
 *
 * Every block's batch carries, beside the block, the version of each state record the block
 * changed (the 'V' history keys: state key, then the height; written by record_history in
 * chain_build.c). The state after block h is therefore, key by key, the newest version at or
 * below h: one reverse seek per record. An engine of our own (cmp_engine_new from the genesis
 * transaction of the stored block 0, then cmp_engine_load_record) is filled with the records a
 * question needs and answers it with the same code as the node's own snapshots (node_*_fill in
 * node.c):
 *
 *   licence (getlicence)                 'P' 'p', 'S' 'g'                     2 seeks
 *   one account (getaccount, getusage)   the above, 'A', 'U', 'S' 'a' of it  5 seeks
 *   everything (getusage exchange-wide,  every state key ever written        2 seeks per key
 *   getreport's start; on the background
 *   job thread, node/job.c)
 *
 * so a question about one account costs the same at any height of any chain, and a question
 * about everything costs what loading the state at start-up costs (one pass over the keys). A
 * time is turned into a height by a binary search over the block headers (about log2(height)
 * block reads). Optimised for bounded, predictable reads rather than for space: the history
 * keeps about one more copy of every state record a block changes.
 *
 * Threads: any (RPC loops, the background job; NODE_ASOF_ALL only the background job, whose stop
 * flag it reads): reads only the store (thread-safe) and memory of its own; takes no node lock.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/locate.h"
#include "node/node_int.h"

/* The newest version at or below a height of one state key: ledger_store_scan's callback. */
struct version {
    struct cmp_engine *e;
    struct sbx_err *err;
    int found, rc;
};

static int
load_version(void *ctx, const uint8_t *hkey, size_t hlen, const uint8_t *val, size_t vlen)
{
    struct version *v = ctx;
    const uint8_t *key;
    size_t klen;
    uint64_t h;

    if (!ledger_store_key_history_parse(hkey, hlen, &key, &klen, &h)) {
        v->rc = sbx_err_set(v->err, SBX_ECORRUPT, "a history key is malformed");
        return 1;
    }
    v->found = 1;
    if (vlen > 0 && v->e != NULL) /* empty: the block deleted the record */
        v->rc = cmp_engine_load_record(v->e, key, klen, val, vlen, v->err);
    return 1;
}

/* Load into `e` (if not NULL) the version of `key` at or below `height`; `*found` says whether
 * there is one. */
static int
load_key(struct ledger_store *st, const uint8_t *key, size_t klen, uint64_t height,
         struct cmp_engine *e, int *found, struct sbx_err *err)
{
    uint8_t prefix[LEDGER_STORE_KEY_HISTORY_MAX], start[LEDGER_STORE_KEY_HISTORY_MAX];
    size_t plen = ledger_store_prefix_history(prefix, key, klen);
    struct version v = {e, err, 0, SBX_OK};
    int rc;

    /* reverse from the first key after height's: the newest version not above it */
    rc = ledger_store_scan(st, prefix, plen, start,
                           ledger_store_key_history(start, key, klen, height + 1), 1, load_version,
                           &v, err);
    if (found != NULL)
        *found = v.found;
    return rc ? rc : v.rc;
}

/* The first history key at or after `start` (`*len` 0 if none): ledger_store_scan's callback. */
struct next_key {
    uint8_t key[LEDGER_STORE_STATE_KEY_MAX];
    size_t len;
};

static int
take_key(void *ctx, const uint8_t *hkey, size_t hlen, const uint8_t *val, size_t vlen)
{
    struct next_key *nk = ctx;
    const uint8_t *key;
    uint64_t h;

    (void)val;
    (void)vlen;
    if (ledger_store_key_history_parse(hkey, hlen, &key, &nk->len, &h))
        memcpy(nk->key, key, nk->len);
    return 1;
}

/* Keys loaded between two looks at node_job_stopping. */
#define STOP_CHECK_KEYS 1024

/* Every state key the history holds, in key order of the history (length, then bytes: an
 * account's 'A' before its 'U'), each at its version at or below `height`; SBX_EUNAVAIL once
 * node_job_stopping says so (the background job's caller). */
static int
load_all(struct node *n, uint64_t height, struct cmp_engine *e, struct sbx_err *err)
{
    struct ledger_store *st = node_store(n);
    uint8_t kind = LEDGER_K_HISTORY, start[LEDGER_STORE_KEY_HISTORY_MAX + 1];
    size_t slen = 1;
    int rc;

    start[0] = LEDGER_K_HISTORY;
    for (uint64_t i = 1;; i++) {
        struct next_key nk;

        if (i % STOP_CHECK_KEYS == 0 && node_job_stopping(n))
            return sbx_err_set(err, SBX_EUNAVAIL, "stopped: the node is stopping");
        nk.len = 0;
        rc = ledger_store_scan(st, &kind, 1, start, slen, 0, take_key, &nk, err);
        if (rc || nk.len == 0)
            return rc;
        rc = load_key(st, nk.key, nk.len, height, e, NULL, err);
        if (rc)
            return rc;
        /* past every version of this key */
        slen = ledger_store_key_history(start, nk.key, nk.len, UINT64_MAX);
        start[slen++] = 0;
    }
}

/* SBX_OK if `height` is at or below the durable tip and the history reaches back to genesis (a
 * store written before the history was kept has none: -reindex writes it). */
static int
check_height(struct node *n, uint64_t height, struct sbx_err *err)
{
    uint8_t key[LEDGER_STORE_KEY_PAIR_LEN];
    struct ledger_tip tip;
    int found = 0, rc;

    node_tip(n, &tip);
    if (height > tip.height)
        return sbx_err_set(err, SBX_ENOTFOUND, "height: no block at height %llu (the tip is %llu)",
                           (unsigned long long)height, (unsigned long long)tip.height);
    rc = load_key(node_store(n), key, ledger_store_key_params(key), 0, NULL, &found, err);
    if (rc == SBX_OK && !found)
        rc = sbx_err_set(err, SBX_EUNAVAIL,
                         "this store keeps no history of past states (written by an "
                         "older sbxd; -reindex writes it)");
    return rc;
}

/* A new engine from the genesis transaction of the stored block 0 (read each time: the chain's
 * own copy is rebuilt when the node reloads its state after a refused block). */
static int
engine_from_genesis(struct ledger_store *st, struct cmp_engine **e, struct sbx_err *err)
{
    struct ledger_locate k;
    struct ledger_tx tx;
    uint8_t txid[32];
    int rc;

    ledger_locate_init(&k);
    rc = ledger_locate_block(st, 0, &k, err);
    if (rc == SBX_OK && k.b.ntx < 1)
        rc = sbx_err_set(err, SBX_ECORRUPT, "block 0 holds no genesis");
    if (rc == SBX_OK)
        rc = ledger_locate_entry(&k, 0, &tx, txid, NULL, err);
    if (rc == SBX_OK) {
        rc = cmp_engine_new(e, &tx, err);
        ledger_tx_release(&tx);
    }
    ledger_locate_release(&k);
    return rc;
}

int
node_asof_engine(struct node *n, uint64_t height, enum node_asof_scope scope, const char *account,
                 struct cmp_engine **out, int64_t *time_ms, struct sbx_err *err)
{
    struct ledger_store *st = node_store(n);
    struct cmp_engine *e = NULL;
    struct ledger_block_header h;
    uint8_t key[LEDGER_STORE_KEY_LIST_MAX];
    int rc;

    *out = NULL;
    rc = check_height(n, height, err);
    if (rc == SBX_OK)
        rc = ledger_locate_header(st, height, &h, err);
    if (rc == SBX_OK)
        rc = engine_from_genesis(st, &e, err);
    if (rc == SBX_OK && scope == NODE_ASOF_ALL)
        rc = load_all(n, height, e, err);
    if (rc == SBX_OK && scope != NODE_ASOF_ALL) {
        rc = load_key(st, key, ledger_store_key_params(key), height, e, NULL, err);
        if (rc == SBX_OK)
            rc = load_key(st, key, ledger_store_key_list_global(key), height, e, NULL, err);
    }
    if (rc == SBX_OK && scope == NODE_ASOF_ACCOUNT) {
        /* key order: the account before its usage */
        rc = load_key(st, key, ledger_store_key_account(key, account), height, e, NULL, err);
        if (rc == SBX_OK)
            rc = load_key(st, key, ledger_store_key_usage(key, account), height, e, NULL, err);
        if (rc == SBX_OK)
            rc = load_key(st, key, ledger_store_key_list(key, LEDGER_LIST_ACCOUNT, account), height,
                          e, NULL, err);
    }
    if (rc) {
        cmp_engine_free(e);
        return rc;
    }
    if (time_ms != NULL)
        *time_ms = h.time_ms;
    *out = e;
    return SBX_OK;
}

int
node_asof_height_at(struct node *n, int64_t time_ms, uint64_t *height, struct sbx_err *err)
{
    struct ledger_store *st = node_store(n);
    struct ledger_block_header h;
    struct ledger_tip tip;
    uint64_t lo = 0, hi;
    int rc;

    node_tip(n, &tip);
    rc = ledger_locate_header(st, 0, &h, err);
    if (rc)
        return rc;
    if (h.time_ms > time_ms)
        return sbx_err_set(err, SBX_ENOTFOUND, "time: before the genesis block (%lld)",
                           (long long)h.time_ms);
    /* block times never go back: the last block at or before time_ms is in [lo, hi] */
    hi = tip.height;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo + 1) / 2;

        rc = ledger_locate_header(st, mid, &h, err);
        if (rc)
            return rc;
        if (h.time_ms <= time_ms)
            lo = mid;
        else
            hi = mid - 1;
    }
    *height = lo;
    return SBX_OK;
}

int
node_asof_status_get(struct node *n, uint64_t height, struct node_status *st, int64_t *time_ms,
                     struct sbx_err *err)
{
    struct cmp_engine *e;
    int rc = node_asof_engine(n, height, NODE_ASOF_LICENCE, NULL, &e, time_ms, err);

    if (rc)
        return rc;
    node_status_fill(e, *time_ms, st);
    cmp_engine_free(e);
    return SBX_OK;
}

int
node_asof_account_get(struct node *n, uint64_t height, const char *id, struct node_account *out,
                      int64_t *time_ms, struct sbx_err *err)
{
    struct cmp_engine *e;
    int rc = node_asof_engine(n, height, NODE_ASOF_ACCOUNT, id, &e, time_ms, err);

    if (rc)
        return rc;
    rc = node_account_fill(e, id, *time_ms, out);
    cmp_engine_free(e);
    if (rc == SBX_ENOTFOUND)
        return sbx_err_set(err, rc, "account: no account %s at height %llu", id,
                           (unsigned long long)height);
    return rc ? sbx_err_set(err, rc, "usage of an existing account") : SBX_OK;
}

int
node_asof_exchange_usage_get(struct node *n, uint64_t height, struct node_exchange_usage *out,
                             int64_t *time_ms, struct sbx_err *err)
{
    struct cmp_engine *e;
    int rc = node_asof_engine(n, height, NODE_ASOF_ALL, NULL, &e, time_ms, err);

    if (rc)
        return rc;
    node_exchange_usage_fill(e, *time_ms, out);
    cmp_engine_free(e);
    return SBX_OK;
}
