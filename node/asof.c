/* The ledger as of a past block: getaccount, getusage and getlicence with a height or a time,
 * and the engine getreport starts its period from.
 *
 * Each state checkpoint (node/chain_checkpoint.c: every few hundred blocks or 100,000
 * transactions, at genesis and at a clean stop) writes, beside the state records it holds, the
 * version of each of them at its height (the 'V' history keys: state key, then the height) and
 * a mark of the checkpoint ('V' with an empty state key). The state after block h is therefore
 * the state at the last checkpoint cp <= h, key by key the newest version at or below cp (one
 * reverse seek per record), followed by the blocks cp+1..h replayed through the rules: every
 * verdict the replay gives is compared with the block's, so a replay that does not reproduce
 * the chain is an error, never a wrong answer. The history thus costs one copy of each record
 * per checkpoint, not one per block that changes it.
 *
 * An engine of our own (cmp_engine_new from the genesis transaction of the stored block 0) is
 * filled with the records a question needs and answers it with the same code as the node's own
 * snapshots (node_*_fill in node.c):
 *
 *   licence (getlicence), one account     the licence records, the house account and the
 *   (getaccount, getusage)                account asked about at cp; then, before each replayed
 *                                         transaction, the records of the accounts and addresses
 *                                         it names, at cp (records nothing names keep their cp
 *                                         version: nothing replayed changed them)
 *   everything (getusage exchange-wide,   every state key ever written, at cp; on the background
 *   getreport's start; on the background  job thread (node/job.c)
 *   job thread, node/job.c)
 *
 * A partial replay takes a liabilities record's verdict from its block (its check sums every
 * balance; what it records is in the transaction); one whose verdicts differ with only the
 * named records loaded (the count of open accounts, say) starts again with everything. A question
 * therefore costs a few seeks plus the replay of at most one checkpoint interval; a time is
 * turned into a height by a binary search over the block headers (about log2(height) reads).
 *
 * Threads: any (RPC loops, the background job; NODE_ASOF_ALL only the background job, whose stop
 * flag it reads): reads only the store (thread-safe) and memory of its own; takes no node lock.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/locate.h"
#include "node/node_int.h"
#include "util/map.h"

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

    /* past the marks of the checkpoints (an empty state key) */
    start[0] = LEDGER_K_HISTORY;
    start[1] = 1;
    slen = 2;
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

/* The height of the last checkpoint at or below `height`: ledger_store_scan's callback. */
struct mark {
    uint64_t height;
    int found;
};

static int
take_mark(void *ctx, const uint8_t *hkey, size_t hlen, const uint8_t *val, size_t vlen)
{
    struct mark *m = ctx;
    const uint8_t *key;
    size_t klen;

    (void)val;
    (void)vlen;
    m->found = ledger_store_key_history_parse(hkey, hlen, &key, &klen, &m->height) && klen == 0;
    return 1;
}

/* SBX_OK and the last checkpoint at or below `height` in *cp if `height` is at or below the
 * durable tip and the history reaches back to genesis (a store written before this history
 * was kept has no mark of its genesis checkpoint: -reindex writes them). */
static int
checkpoint_below(struct node *n, uint64_t height, uint64_t *cp, struct sbx_err *err)
{
    uint8_t prefix[LEDGER_STORE_KEY_HISTORY_MAX], start[LEDGER_STORE_KEY_HISTORY_MAX];
    const uint8_t *none = (const uint8_t *)"";
    size_t plen = ledger_store_prefix_history(prefix, none, 0);
    struct mark m = {0, 0};
    struct ledger_tip tip;
    int rc;

    node_tip(n, &tip);
    if (height > tip.height)
        return sbx_err_set(err, SBX_ENOTFOUND, "height: no block at height %llu (the tip is %llu)",
                           (unsigned long long)height, (unsigned long long)tip.height);
    rc = ledger_store_scan(node_store(n), prefix, plen, start,
                           ledger_store_key_history(start, none, 0, 0), 0, take_mark, &m, err);
    if (rc == SBX_OK && (!m.found || m.height != 0))
        return sbx_err_set(err, SBX_EUNAVAIL,
                           "this store keeps no history of past states (written by an "
                           "older sbxd; -reindex writes it)");
    m.found = 0;
    rc = rc ? rc
            : ledger_store_scan(node_store(n), prefix, plen, start,
                                ledger_store_key_history(start, none, 0, height + 1), 1, take_mark,
                                &m, err);
    if (rc == SBX_OK && !m.found)
        return sbx_err_set(err, SBX_ECORRUPT, "the history has no checkpoint at or below %llu",
                           (unsigned long long)height);
    *cp = m.height;
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

/* ------------------------------------------------------------------ the replay */

/* A replay that cannot go on with only the named records loaded: start again with everything. */
#define AGAIN_WITH_ALL 1000

struct asof {
    struct node *n;
    struct ledger_store *st;
    struct cmp_engine *e;
    uint64_t cp;       /* the checkpoint the records are loaded at */
    uint64_t current;  /* the block being replayed */
    int partial;       /* records are loaded as transactions name them */
    struct map loaded; /* partial: the state keys loaded (or found absent) so far */
    struct map ids;    /* the ids ('I' keys) the replayed transactions took */
};

/* The engine's id hook: an id is taken if a replayed transaction took it, or if the store
 * holds it for a transaction at or below the checkpoint (the store gets ids only with
 * checkpoints: those taken since the last one are in no store record yet). */
static int
id_taken(void *ctx, const uint8_t *key, size_t klen)
{
    struct asof *a = ctx;
    uint64_t height;
    uint32_t index;
    struct buf v;
    int rc;

    if (map_get(&a->ids, key, klen) != NULL)
        return 1;
    buf_init(&v, 32);
    rc = ledger_store_get(a->st, key, klen, &v, NULL);
    if (rc == SBX_OK && v.len == 32)
        rc = ledger_store_tx_location(a->st, v.data, &height, &index, NULL);
    else if (rc == SBX_OK)
        rc = SBX_ECORRUPT;
    buf_release(&v);
    if (rc == SBX_ENOTFOUND)
        return 0;
    return rc ? -1 : height <= a->cp;
}

/* After `tx` was replayed with the verdict `res`: the id it took, if any, into a->ids. */
static int
note_id(struct asof *a, const struct ledger_tx *tx, const uint8_t txid[static 32],
        const struct cmp_result *res, struct sbx_err *err)
{
    uint8_t key[LEDGER_STORE_KEY_IDEM_MAX], kind;
    char buf[65];
    const char *id = cmp_records_id(tx, txid, res, &kind, buf);

    if (id == NULL || map_put(&a->ids, key, ledger_store_key_idem(key, kind, id), (void *)1) == 0)
        return SBX_OK;
    return sbx_err_set(err, SBX_ENOMEM, "out of memory");
}

/* The engine's block hash hook: the hashes of the blocks below the one being replayed. */
static int
hash_below(void *ctx, uint64_t height, uint8_t hash[32])
{
    struct asof *a = ctx;
    struct ledger_block_header h;

    if (height >= a->current || ledger_locate_header(a->st, height, &h, NULL) != SBX_OK)
        return 0;
    ledger_block_hash(&h, hash);
    return 1;
}

/* Load the version at cp of one state key, once. */
static int
load_once(struct asof *a, const uint8_t *key, size_t klen, struct sbx_err *err)
{
    int rc;

    if (map_get(&a->loaded, key, klen) != NULL)
        return SBX_OK;
    rc = map_put(&a->loaded, key, klen, (void *)1);
    if (rc)
        return sbx_err_set(err, rc, "out of memory");
    return load_key(a->st, key, klen, a->cp, a->e, NULL, err);
}

/* An account's records: the account before its usage (a usage record needs its account). */
static int
load_account(struct asof *a, const char *id, struct sbx_err *err)
{
    uint8_t key[LEDGER_STORE_KEY_LIST_MAX];
    int rc;

    if (id[0] == '\0')
        return SBX_OK;
    rc = load_once(a, key, ledger_store_key_account(key, id), err);
    rc = rc ? rc : load_once(a, key, ledger_store_key_usage(key, id), err);
    return rc ? rc : load_once(a, key, ledger_store_key_list(key, LEDGER_LIST_ACCOUNT, id), err);
}

static int
load_address(struct asof *a, const char *address, struct sbx_err *err)
{
    uint8_t key[LEDGER_STORE_KEY_LIST_MAX];
    int rc;

    if (address[0] == '\0')
        return SBX_OK;
    rc = load_once(a, key, ledger_store_key_address(key, address), err);
    return rc ? rc
              : load_once(a, key, ledger_store_key_list(key, LEDGER_LIST_ADDRESS, address), err);
}

/* Partial replay: the records of every account and address `tx` names, before it is replayed. */
static int
load_named(struct asof *a, const struct ledger_tx *tx, struct sbx_err *err)
{
    int rc = SBX_OK;

    switch (tx->type) {
    case LEDGER_TX_ACCOUNT_OPEN:
        return load_account(a, tx->u.account_open.account, err);
    case LEDGER_TX_ACCOUNT_UPDATE:
        return load_account(a, tx->u.account_update.account, err);
    case LEDGER_TX_DEPOSIT:
    case LEDGER_TX_WITHDRAWAL:
        rc = load_account(a, tx->u.transfer.account, err);
        return rc ? rc : load_address(a, tx->u.transfer.reference, err);
    case LEDGER_TX_TRADE:
        rc = load_account(a, tx->u.trade.buyer, err);
        return rc ? rc : load_account(a, tx->u.trade.seller, err);
    case LEDGER_TX_DIRECTIVE:
        rc = load_account(a, tx->u.directive.account, err);
        return rc ? rc : load_address(a, tx->u.directive.address, err);
    default:
        return SBX_OK;
    }
}

/* Replay entry `i` of the loaded block `k`: the verdict the rules give must be the block's. */
static int
replay_entry(struct asof *a, const struct ledger_locate *k, size_t i, struct sbx_err *err)
{
    struct cmp_block_ctx ctx = {a->current, k->b.hdr.time_ms};
    uint8_t txid[32], got[LEDGER_VERDICT_SIZE], want[LEDGER_VERDICT_SIZE];
    const struct ledger_verdict *verdict;
    struct cmp_result res;
    struct ledger_tx tx;
    int rc = ledger_locate_entry(k, i, &tx, txid, &verdict, err);

    if (rc)
        return rc;
    if (a->partial && tx.type == LEDGER_TX_LIABILITIES) {
        /* its check sums every balance, which a partial replay does not hold; what it records
         * (its totals) is in the transaction: take the block's verdict */
        memset(&res, 0, sizeof(res));
        res.verdict = *verdict;
        rc = cmp_apply(a->e, &tx, txid, &ctx, &res);
        rc = rc ? rc : note_id(a, &tx, txid, &res, err);
        ledger_tx_release(&tx);
        return rc;
    }
    if (a->partial)
        rc = load_named(a, &tx, err);
    rc = rc ? rc : cmp_evaluate(a->e, &tx, txid, &ctx, &res);
    if (rc == SBX_OK) {
        ledger_verdict_encode(&res.verdict, got);
        ledger_verdict_encode(verdict, want);
        if (memcmp(got, want, sizeof(got)) != 0)
            rc = a->partial ? AGAIN_WITH_ALL
                            : sbx_err_set(err, SBX_ECORRUPT,
                                          "block %llu tx %zu: replaying it from the history gives "
                                          "another verdict than the block's",
                                          (unsigned long long)a->current, i);
    }
    rc = rc ? rc : cmp_apply(a->e, &tx, txid, &ctx, &res);
    rc = rc ? rc : note_id(a, &tx, txid, &res, err);
    ledger_tx_release(&tx);
    return rc;
}

/* Replay blocks cp+1..height into a->e. */
static int
replay(struct asof *a, uint64_t height, struct sbx_err *err)
{
    struct ledger_changes scratch;
    struct ledger_locate k;
    int rc = SBX_OK;

    ledger_locate_init(&k);
    ledger_changes_init(&scratch);
    for (a->current = a->cp + 1; rc == SBX_OK && a->current <= height; a->current++) {
        rc = ledger_locate_block(a->st, a->current, &k, err);
        for (size_t i = 0; rc == SBX_OK && i < k.b.ntx; i++)
            rc = replay_entry(a, &k, i, err);
        /* what the block changed is not needed: free it as the node's collect would */
        rc = rc ? rc : cmp_collect(a->e, &scratch);
        ledger_changes_reset(&scratch);
    }
    ledger_changes_release(&scratch);
    ledger_locate_release(&k);
    return rc;
}

/* The engine at `height`: the records at cp, then the replay; `partial` loads at first only the
 * licence records, the house account and `account` (if not NULL). */
static int
engine_at(struct node *n, uint64_t cp, uint64_t height, int partial, const char *account,
          struct cmp_engine **out, struct sbx_err *err)
{
    struct asof a;
    uint8_t key[LEDGER_STORE_KEY_PAIR_LEN];
    int rc;

    memset(&a, 0, sizeof(a));
    a.n = n;
    a.st = node_store(n);
    a.cp = a.current = cp;
    a.partial = partial;
    map_init(&a.loaded);
    map_init(&a.ids);
    rc = engine_from_genesis(a.st, &a.e, err);
    if (rc == SBX_OK) {
        cmp_engine_set_id_lookup(a.e, id_taken, &a);
        cmp_engine_set_hash_lookup(a.e, hash_below, &a);
    }
    if (rc == SBX_OK && !partial)
        rc = load_all(n, cp, a.e, err);
    if (rc == SBX_OK && partial) {
        rc = load_once(&a, key, ledger_store_key_params(key), err);
        rc = rc ? rc : load_once(&a, key, ledger_store_key_list_global(key), err);
        rc = rc ? rc : load_once(&a, key, ledger_store_key_list_liabilities(key), err);
        rc = rc ? rc : load_account(&a, cmp_engine_params(a.e)->house_account, err);
        rc = rc ? rc : load_account(&a, account != NULL ? account : "", err);
    }
    rc = rc ? rc : replay(&a, height, err);
    map_release(&a.loaded);
    map_release(&a.ids);
    if (rc == SBX_OK) {
        /* the hooks point at `a`, which ends here; the engine only answers questions now */
        cmp_engine_set_id_lookup(a.e, NULL, NULL);
        cmp_engine_set_hash_lookup(a.e, NULL, NULL);
        *out = a.e;
    } else {
        cmp_engine_free(a.e);
    }
    return rc;
}

int
node_asof_engine(struct node *n, uint64_t height, enum node_asof_scope scope, const char *account,
                 struct cmp_engine **out, int64_t *time_ms, struct sbx_err *err)
{
    struct ledger_block_header h;
    uint64_t cp = 0;
    int rc;

    *out = NULL;
    rc = checkpoint_below(n, height, &cp, err);
    if (rc == SBX_OK)
        rc = ledger_locate_header(node_store(n), height, &h, err);
    if (rc == SBX_OK)
        rc = engine_at(n, cp, height, scope != NODE_ASOF_ALL, account, out, err);
    if (rc == AGAIN_WITH_ALL)
        rc = engine_at(n, cp, height, 0, NULL, out, err);
    if (rc == SBX_OK && time_ms != NULL)
        *time_ms = h.time_ms;
    return rc;
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
