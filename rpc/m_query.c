/* The query methods: blocks and transactions (getblock, gettx, gettrade, gettxproof) and the lists
 * (listtrades, listrejections, listalerts); accounts and usage are rpc/m_account.c's. Any RPC
 * loop's thread; the store is read without a lock.
 *
 * Nothing here blocks on the pipeline. List methods bound the keys they scan per call
 * (SCAN_BUDGET) so that a query cannot hold the event loop for long, and hand back a cursor to
 * go on; everything shown is charged to the request's render budget (RPC_RENDER_BUDGET).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "rpc/m_query.h"

#include <stdlib.h>
#include <string.h>

#include "compliance/engine.h"
#include "compliance/params.h"
#include "compliance/rules.h"
#include "ledger/amount.h"
#include "ledger/index.h"
#include "ledger/state.h"
#include "ledger/store.h"
#include "ledger/locate.h"
#include "ledger/proof.h"
#include "rpc/params.h"
#include "rpc/render.h"
#include "util/buf.h"
#include "util/hex.h"

/* Most index keys one list call may look at before it hands back a cursor. */
#define SCAN_BUDGET 20000

/* Take `units` from the request's render budget; 0 if they are not left. */
static int
take_budget(const struct rpc_env *env, size_t units)
{
    if (env->budget == NULL)
        return 1;
    if (*env->budget < units)
        return 0;
    *env->budget -= units;
    return 1;
}

/* The transaction an index entry names (its place on the ledger) with its verdict
 * (rpc_render_entry), loading its block into `k`. NULL with `err` set on failure. */
static json_t *
pos_json(const struct rpc_env *env, const struct ledger_index_pos *pos, struct ledger_locate *k,
         int *type, struct sbx_err *err)
{
    if (ledger_locate_block(node_store(env->node), pos->height, k, err) != SBX_OK)
        return NULL;
    return rpc_render_entry(env, k, pos->index, type, err);
}

/* Transaction `txid` with its verdict and place, loading its block into `k`. NULL with `err`
 * set on failure. */
static json_t *
txid_json(const struct rpc_env *env, const uint8_t txid[static 32], struct ledger_locate *k,
          int *type, struct sbx_err *err)
{
    uint32_t index;

    if (ledger_locate_txid(node_store(env->node), txid, k, &index, err) != SBX_OK)
        return NULL;
    return rpc_render_entry(env, k, index, type, err);
}

/* ------------------------------------------------------------------ handlers: blocks, txs */

/* Read getblock's params and load the block they name (height or hash) into `k`. */
static int
block_select(const struct rpc_env *env, json_t *params, struct ledger_locate *k, int *verbose,
             int *want_hex, struct sbx_err *err)
{
    json_t *jh = json_object_get(params, "height"), *jhash = json_object_get(params, "hash");
    struct ledger_store *st = node_store(env->node);
    uint8_t hash[32];
    int64_t h = 0;
    int rc;

    if (rpc_params_present(jh) == rpc_params_present(jhash))
        return sbx_err_set(err, SBX_EINVAL, "height: give either height or hash");
    rc = rpc_params_bool(json_object_get(params, "verbose"), verbose, "verbose", err);
    rc = rc ? rc : rpc_params_bool(json_object_get(params, "hex"), want_hex, "hex", err);
    if (rc)
        return rc;
    if (rpc_params_present(jh)) {
        rc = rpc_params_int(jh, 0, INT64_MAX, &h, "height", err);
    } else {
        uint64_t hu = 0;

        rc = rpc_params_hex32(jhash, hash, "hash", err);
        rc = rc ? rc : ledger_store_height_of(st, hash, &hu, err);
        if (rc == SBX_ENOTFOUND)
            sbx_err_set(err, rc, "hash: no block with this hash");
        h = (int64_t)hu;
    }
    rc = rc ? rc : ledger_locate_block(st, (uint64_t)h, k, err);
    if (rc == SBX_ENOTFOUND && rpc_params_present(jh))
        sbx_err_set(err, rc, "height: no block at height %lld", (long long)h);
    return rc;
}

/* The transactions of the block in `k`: their txids, or (verbose) each in full. */
static int
block_list(const struct rpc_env *env, const struct ledger_locate *k, int verbose, json_t **out,
           struct sbx_err *err)
{
    json_t *list = json_array();

    *out = NULL;
    if (list == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    if (!take_budget(env, k->b.ntx * (verbose ? RPC_UNITS_TX : RPC_UNITS_TXID))) {
        json_decref(list);
        return sbx_err_set(err, SBX_EINVAL,
                           "%s: a block of %zu transactions is more than is left to show in this "
                           "request; ask for it alone%s",
                           verbose ? "verbose" : "height", k->b.ntx,
                           verbose ? ", or without verbose and use gettx" : "");
    }
    for (size_t i = 0; i < k->b.ntx; i++) {
        json_t *item = NULL;

        if (verbose) {
            item = rpc_render_entry(env, k, i, NULL, err);
        } else {
            struct ledger_tx tx;
            uint8_t txid[32];

            if (ledger_locate_entry(k, i, &tx, txid, NULL, err) == SBX_OK) {
                item = hex_json(txid, 32);
                ledger_tx_release(&tx);
            }
        }
        if (item == NULL) {
            json_decref(list);
            return err->code ? err->code : SBX_ENOMEM;
        }
        json_array_append_new(list, item);
    }
    *out = list;
    return SBX_OK;
}

int
rpc_m_query_getblock(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                     struct rpc_outcome *out, struct sbx_err *err)
{
    struct ledger_locate k;
    json_t *r = NULL, *list = NULL, *hx;
    int verbose = 0, want_hex = 0, rc;

    (void)m;
    ledger_locate_init(&k);
    rc = block_select(env, params, &k, &verbose, &want_hex, err);
    if (rc)
        goto out;
    r = rpc_render_block_header(&k);
    if (r == NULL) {
        rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
        goto out;
    }
    rc = block_list(env, &k, verbose, &list, err);
    if (rc)
        goto out;
    json_object_set_new(r, verbose ? "transactions" : "txids", list);
    if (want_hex) {
        /* the whole encoded block: what peers exchange, and how a follower gets its genesis */
        if (!take_budget(env, k.b.ntx * RPC_UNITS_TX)) {
            rc = sbx_err_set(err, SBX_EINVAL,
                             "hex: a block of %zu transactions is more than is left to show in "
                             "this request",
                             k.b.ntx);
            goto out;
        }
        hx = hex_json(k.raw.data, k.raw.len);
        if (hx == NULL) {
            rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
            goto out;
        }
        json_object_set_new(r, "hex", hx);
    }
    rc = rpc_outcome_result(out, r, err);
    r = NULL;
out:
    json_decref(r);
    ledger_locate_release(&k);
    return rc;
}

/* Answer with transaction `txid` located in the chain. */
static int
located_result(const struct rpc_env *env, const uint8_t txid[static 32], struct rpc_outcome *out,
               struct sbx_err *err)
{
    struct ledger_locate k;
    json_t *r;

    ledger_locate_init(&k);
    r = txid_json(env, txid, &k, NULL, err);
    ledger_locate_release(&k);
    if (r == NULL && err->code == SBX_ENOTFOUND) {
        char hex[65];

        hex_encode(hex, txid, 32);
        return sbx_err_set(err, SBX_ENOTFOUND, "txid: no transaction %s", hex);
    }
    if (r == NULL)
        return err->code ? err->code : SBX_ENOMEM;
    return rpc_outcome_result(out, r, err);
}

int
rpc_m_query_gettx(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                  struct rpc_outcome *out, struct sbx_err *err)
{
    uint8_t txid[32];
    int rc;

    (void)m;
    rc = rpc_params_hex32(json_object_get(params, "txid"), txid, "txid", err);
    return rc ? rc : located_result(env, txid, out, err);
}

int
rpc_m_query_gettrade(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                     struct rpc_outcome *out, struct sbx_err *err)
{
    char id[SBX_ID_MAX + 1];
    uint8_t key[LEDGER_STORE_KEY_IDEM_MAX], txid[32];
    size_t n;
    int rc;

    (void)m;
    rc = rpc_params_id(json_object_get(params, "trade_id"), SBX_ID_MAX, id, "trade_id", err);
    if (rc)
        return rc;
    n = ledger_store_key_idem(key, CMP_ID_TRADE, id);
    /* the id may be only in memory until the next state checkpoint (chain.h) */
    rc = node_find_id(env->node, key, n, txid);
    if (rc == SBX_ENOTFOUND)
        return sbx_err_set(err, rc, "trade_id: no trade %s", id);
    if (rc)
        return sbx_err_set(err, rc, "reading the trade id record of %s failed", id);
    return located_result(env, txid, out, err);
}

/* A merkle path as a JSON array of hex siblings, from the leaf up. */
static json_t *
path_json(const uint8_t (*path)[32], size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < n; i++) {
        if (json_array_append_new(a, hex_json(path[i], 32)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *
rpc_m_query_txproof_json(const struct rpc_env *env, const struct ledger_locate *k, uint32_t index,
                         struct sbx_err *err)
{
    uint8_t hdr[LEDGER_HEADER_UNSIGNED_SIZE], verdict[LEDGER_VERDICT_SIZE], txid[32], bh[32];
    struct ledger_proof *p = malloc(sizeof(*p)); /* 4 KiB of paths: not on the loop's stack */
    json_t *r = NULL, *tx = NULL;

    if (p == NULL) {
        sbx_err_set(err, SBX_ENOMEM, "out of memory");
        return NULL;
    }
    if (ledger_proof_make(p, &k->b, index, err) != SBX_OK)
        goto out;
    /* what is handed out must check: a stored block that fails is corrupt, not a proof */
    if (ledger_proof_check(p, txid, bh, err) != SBX_OK) {
        sbx_err_set(err, SBX_ECORRUPT, "block %llu: stored block fails its own proof",
                    (unsigned long long)k->height);
        goto out;
    }
    tx = rpc_render_entry(env, k, index, NULL, err);
    r = tx != NULL ? json_object() : NULL;
    if (r == NULL)
        goto out;
    ledger_block_header_encode_unsigned(&p->hdr, hdr);
    ledger_verdict_encode(&p->verdict, verdict);
    json_object_set_new(r, "format", json_string(RPC_TXPROOF_FORMAT));
    json_object_set_new(r, "txid", hex_json(txid, 32));
    json_object_set_new(r, "index", json_integer((json_int_t)index));
    json_object_set_new(r, "tx", tx);
    tx = NULL;
    json_object_set_new(r, "tx_hex", hex_json(p->tx, p->tx_len));
    json_object_set_new(r, "verdict_hex", hex_json(verdict, sizeof(verdict)));
    json_object_set_new(r, "header", rpc_render_block_header(k));
    json_object_set_new(r, "header_hex", hex_json(hdr, sizeof(hdr)));
    json_object_set_new(r, "signature", hex_json(p->hdr.sig, 64));
    json_object_set_new(r, "tx_path", path_json(p->tx_path, p->tx_npath));
    json_object_set_new(r, "verdict_path", path_json(p->verdict_path, p->verdict_npath));
out:
    json_decref(tx);
    free(p);
    if (r == NULL && err->code == SBX_OK)
        sbx_err_set(err, SBX_ENOMEM, "out of memory");
    return r;
}

int
rpc_m_query_gettxproof(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                       struct rpc_outcome *out, struct sbx_err *err)
{
    struct ledger_locate k;
    uint8_t txid[32];
    uint32_t index;
    json_t *r = NULL;
    int rc;

    (void)m;
    ledger_locate_init(&k);
    rc = rpc_params_hex32(json_object_get(params, "txid"), txid, "txid", err);
    rc = rc ? rc : ledger_locate_txid(node_store(env->node), txid, &k, &index, err);
    if (rc == SBX_ENOTFOUND) {
        char hex[65];

        hex_encode(hex, txid, 32);
        sbx_err_set(err, rc, "txid: no transaction %s", hex);
    }
    if (rc)
        goto out;
    if (!take_budget(env, k.b.ntx * RPC_UNITS_TXID + RPC_UNITS_TX)) {
        rc = sbx_err_set(err, SBX_EINVAL,
                         "txid: its block is more than is left to show in this "
                         "request; ask for it alone");
        goto out;
    }
    r = rpc_m_query_txproof_json(env, &k, index, err);
    if (r == NULL) {
        rc = err->code ? err->code : SBX_ENOMEM;
        goto out;
    }
    rc = rpc_outcome_result(out, r, err);
out:
    ledger_locate_release(&k);
    return rc;
}

/* ------------------------------------------------------------------ handlers: lists */

/* A reverse scan of one index (prefix, then u64 time, then 32 txid), newest first. */
struct listq {
    const struct rpc_env *env;
    struct ledger_store *st;
    const uint8_t *prefix;
    size_t plen;
    int64_t from;
    size_t limit;
    int want_type;     /* -1: any */
    const char *asset; /* trades of this asset only, or NULL */
    json_t *items;
    size_t nitems;
    uint8_t last[RPC_CURSOR_MAX]; /* the last key looked at */
    size_t lastlen;
    int more;
    size_t scanned;
    struct ledger_locate blk;
    int rc;
    struct sbx_err *err;
};

static int
list_cb(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct listq *q = ctx;
    struct ledger_index_pos pos;
    int type = -1;
    json_t *item;

    (void)val;
    (void)vlen;
    if (klen != q->plen + LEDGER_INDEX_TAIL)
        return 0; /* not an entry of this index (cannot happen with the prefixes used) */
    ledger_index_pos_load(&pos, key + q->plen);
    if ((int64_t)pos.time < q->from)
        return 1;
    if (q->scanned >= SCAN_BUDGET || !take_budget(q->env, RPC_UNITS_TX)) {
        q->more = 1;
        return 1;
    }
    q->scanned++;
    item = pos_json(q->env, &pos, &q->blk, &type, q->err);
    if (item == NULL) {
        q->rc = q->err->code ? q->err->code : SBX_ENOMEM;
        return 1;
    }
    if (q->asset != NULL) {
        const char *as = json_string_value(json_object_get(item, "asset"));

        if (as == NULL || strcmp(as, q->asset) != 0)
            type = -2; /* another asset: skip */
    }
    if ((q->want_type >= 0 && type != q->want_type) || q->nitems == q->limit) {
        /* not shown: give its share of the budget back */
        json_decref(item);
        if (q->env->budget != NULL)
            *q->env->budget += RPC_UNITS_TX;
        if (q->nitems == q->limit) {
            q->more = 1;
            return 1;
        }
        memcpy(q->last, key, klen);
        q->lastlen = klen;
        return 0;
    }
    json_array_append_new(q->items, item);
    q->nitems++;
    memcpy(q->last, key, klen);
    q->lastlen = klen;
    return 0;
}

/* The cursor of a list that stopped before looking at any key: just above the range asked for
 * (`sp`, `slen`: where the scan started, or NULL). */
static void
first_cursor(struct listq *q, const uint8_t *sp, size_t slen)
{
    memcpy(q->last, q->prefix, q->plen);
    if (sp != NULL && slen == q->plen + LEDGER_INDEX_TAIL) {
        memcpy(q->last, sp, slen);
    } else {
        buf_store_u64(q->last + q->plen, sp != NULL ? buf_load_u64(sp + q->plen) : UINT64_MAX);
        memset(q->last + q->plen + 8, sp != NULL ? 0x00 : 0xff, LEDGER_INDEX_TAIL - 8);
    }
    q->lastlen = q->plen + LEDGER_INDEX_TAIL;
}

/* {items, next_cursor}: the cursor as hex, or null when the list is complete. */
static int
list_result(json_t *items, const uint8_t *cursor, size_t cursor_len, struct rpc_outcome *out,
            struct sbx_err *err)
{
    json_t *r = json_object();

    if (r == NULL) {
        json_decref(items);
        return rpc_outcome_result(out, NULL, err);
    }
    json_object_set_new(r, "items", items);
    json_object_set_new(r, "next_cursor",
                        cursor != NULL ? hex_json(cursor, cursor_len) : json_null());
    return rpc_outcome_result(out, r, err);
}

/* Run a list query over index `prefix` and answer {items, next_cursor}. */
static int
list_index(const struct rpc_env *env, const uint8_t *prefix, size_t plen,
           const struct rpc_params_list *a, int want_type, const char *asset,
           struct rpc_outcome *out, struct sbx_err *err)
{
    uint8_t start[RPC_CURSOR_MAX];
    size_t slen = 0;
    const uint8_t *sp = NULL;
    struct listq q;
    int rc;

    memset(&q, 0, sizeof(q));
    if (a->cursor_len > 0) {
        if (a->cursor_len != plen + LEDGER_INDEX_TAIL || memcmp(a->cursor, prefix, plen) != 0)
            return sbx_err_set(err, SBX_EINVAL, "cursor: not a cursor returned by this query");
        sp = a->cursor;
        slen = a->cursor_len;
    } else if (a->has_to && a->to < INT64_MAX) {
        slen = ledger_store_key_seek(start, prefix, plen, (uint64_t)a->to + 1);
        sp = start;
    }
    q.env = env;
    q.st = node_store(env->node);
    q.prefix = prefix;
    q.plen = plen;
    q.from = a->from;
    q.limit = a->limit;
    q.want_type = want_type;
    q.asset = asset;
    q.err = err;
    q.items = json_array();
    if (q.items == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    ledger_locate_init(&q.blk);
    rc = ledger_store_scan(q.st, prefix, plen, sp, slen, 1, list_cb, &q, err);
    ledger_locate_release(&q.blk);
    if (rc == SBX_OK)
        rc = q.rc;
    if (rc) {
        json_decref(q.items);
        return rc;
    }
    if (q.more && q.lastlen == 0)
        first_cursor(&q, sp, slen);
    return list_result(q.items, q.more ? q.last : NULL, q.lastlen, out, err);
}

/* The cursor of the list of all trades at position `p`: 'Y' then POS (the by-asset prefix
 * without an asset, so that no per-asset cursor is taken for one, nor this one for theirs). */
static size_t
all_trades_cursor(uint8_t out[static LEDGER_STORE_KEY_INDEX_MAX], const struct ledger_index_pos *p)
{
    return ledger_store_key_index(out, LEDGER_K_BY_ASSET, NULL, -1, (int64_t)p->time, p->height,
                                  p->index);
}

/* The first `take` positions of `pos` as transactions, charged to the render budget. */
static int
pos_items(const struct rpc_env *env, const struct ledger_index_pos *pos, size_t take, json_t **out,
          struct sbx_err *err)
{
    struct ledger_locate blk;
    json_t *items = json_array();
    int rc = SBX_OK;

    *out = NULL;
    if (items == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    ledger_locate_init(&blk);
    for (size_t i = 0; i < take && rc == SBX_OK; i++) {
        json_t *item = pos_json(env, &pos[i], &blk, NULL, err);

        if (item == NULL)
            rc = err->code ? err->code : SBX_ENOMEM;
        else
            json_array_append_new(items, item);
    }
    ledger_locate_release(&blk);
    if (rc) {
        json_decref(items);
        return rc;
    }
    *out = items;
    return SBX_OK;
}

/* listtrades without an account or an asset: every asset's trades, merged newest first. */
static int
list_all_trades(const struct rpc_env *env, const struct rpc_params_list *a, struct rpc_outcome *out,
                struct sbx_err *err)
{
    struct ledger_index_pos before = {UINT64_MAX, UINT64_MAX, UINT32_MAX}, *pos;
    uint8_t cursor[LEDGER_STORE_KEY_INDEX_MAX];
    size_t got = 0, take, clen = 0;
    json_t *items = NULL;
    int rc, more;

    clen = all_trades_cursor(cursor, &before);
    if (a->cursor_len > 0) {
        if (a->cursor_len != clen || memcmp(a->cursor, cursor, clen - LEDGER_INDEX_TAIL) != 0)
            return sbx_err_set(err, SBX_EINVAL, "cursor: not a cursor returned by this query");
        ledger_index_pos_load(&before, a->cursor + clen - LEDGER_INDEX_TAIL);
    } else if (a->has_to && a->to < INT64_MAX) {
        before = (struct ledger_index_pos){(uint64_t)a->to + 1, 0, 0};
    }
    pos = calloc(a->limit + 1, sizeof(*pos));
    if (pos == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    rc = ledger_index_merge(node_store(env->node), LEDGER_K_BY_ASSET, &before, a->from,
                            a->limit + 1, pos, &got, SCAN_BUDGET, err);
    if (rc)
        goto out;
    take = got < a->limit ? got : a->limit;
    more = got > a->limit;
    if (env->budget != NULL && take > *env->budget / RPC_UNITS_TX) {
        take = *env->budget / RPC_UNITS_TX;
        more = 1;
    }
    if (env->budget != NULL)
        *env->budget -= take * RPC_UNITS_TX;
    rc = pos_items(env, pos, take, &items, err);
    if (rc)
        goto out;
    clen = all_trades_cursor(cursor, take > 0 ? &pos[take - 1] : &before);
    rc = list_result(items, more ? cursor : NULL, clen, out, err);
out:
    free(pos);
    return rc;
}

int
rpc_m_query_listtrades(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                       struct rpc_outcome *out, struct sbx_err *err)
{
    json_t *jacc = json_object_get(params, "account"), *jasset = json_object_get(params, "asset");
    char account[SBX_ID_MAX + 1], asset[SBX_ASSET_MAX + 1];
    uint8_t prefix[LEDGER_STORE_PREFIX_INDEX_MAX];
    struct rpc_params_list a;
    int rc;

    (void)m;
    rc = rpc_params_list(params, &a, err);
    if (rc == SBX_OK && rpc_params_present(jacc))
        rc = rpc_params_id(jacc, SBX_ID_MAX, account, "account", err);
    if (rc == SBX_OK && rpc_params_present(jasset))
        rc = rpc_params_symbol(jasset, asset, "asset", err);
    if (rc)
        return rc;
    if (rpc_params_present(jacc)) {
        /* every transaction of the account: keep its trades (of the asset, if given) */
        return list_index(env, prefix,
                          ledger_store_prefix_index(prefix, LEDGER_K_BY_ACCOUNT, account, -1), &a,
                          LEDGER_TX_TRADE, rpc_params_present(jasset) ? asset : NULL, out, err);
    }
    if (rpc_params_present(jasset))
        return list_index(env, prefix,
                          ledger_store_prefix_index(prefix, LEDGER_K_BY_ASSET, asset, -1), &a,
                          LEDGER_TX_TRADE, NULL, out, err);
    return list_all_trades(env, &a, out, err);
}

int
rpc_m_query_listrejections(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                           struct rpc_outcome *out, struct sbx_err *err)
{
    json_t *jrule = json_object_get(params, "rule");
    uint8_t prefix[LEDGER_STORE_PREFIX_INDEX_MAX];
    struct rpc_params_list a;
    int rc, rule = -1;

    (void)m;
    rc = rpc_params_list(params, &a, err);
    if (rc == SBX_OK && rpc_params_present(jrule))
        rc = rpc_params_enum(jrule, cmp_rule_parse, "the rule ids of doc/compliance.md", &rule,
                             "rule", err);
    if (rc)
        return rc;
    if (rule >= 0)
        return list_index(env, prefix,
                          ledger_store_prefix_index(prefix, LEDGER_K_REJECTION, NULL, rule), &a, -1,
                          NULL, out, err);
    return list_index(env, prefix,
                      ledger_store_prefix_index(prefix, LEDGER_K_REJECTION_ALL, NULL, -1), &a, -1,
                      NULL, out, err);
}

/* An alert index entry: 'K' kind u64 time 32 id (ledger/store.h). */
#define ALERT_KEY_SIZE LEDGER_STORE_KEY_ALERT_INDEX_LEN

struct alert_ref {
    uint64_t time;
    uint8_t kind;
    uint8_t id[32];
};

struct alertq {
    struct alert_ref *refs;
    size_t n, cap, per_kind, this_kind;
    int64_t from;
};

static int
alert_cb(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct alertq *q = ctx;
    struct alert_ref *r;

    (void)val;
    (void)vlen;
    if (klen != ALERT_KEY_SIZE)
        return 0;
    if ((int64_t)buf_load_u64(key + 2) < q->from)
        return 1;
    if (q->this_kind >= q->per_kind || q->n >= q->cap)
        return 1;
    r = &q->refs[q->n++];
    r->kind = key[1];
    r->time = buf_load_u64(key + 2);
    memcpy(r->id, key + 10, 32);
    q->this_kind++;
    return 0;
}

/* Newest first: time, then kind, then id, all descending (the order of the cursor). */
static int
alert_ref_cmp(const void *x, const void *y)
{
    const struct alert_ref *a = x, *b = y;
    int c;

    if (a->time != b->time)
        return a->time < b->time ? 1 : -1;
    if (a->kind != b->kind)
        return a->kind < b->kind ? 1 : -1;
    c = memcmp(a->id, b->id, 32);
    return -c;
}

/* Read listalerts' own params: the list ones, the kind, and a cursor of this query. */
static int
alert_params(json_t *params, struct rpc_params_list *a, int *kind, struct sbx_err *err)
{
    json_t *jkind = json_object_get(params, "kind");
    int rc;

    *kind = -1;
    rc = rpc_params_list(params, a, err);
    if (rc == SBX_OK && rpc_params_present(jkind))
        rc = rpc_params_enum(jkind, cmp_alert_parse,
                             "aml.large_value, aml.structuring, aml.rapid_in_out, aml.velocity",
                             kind, "kind", err);
    if (rc == SBX_OK && a->cursor_len > 0 &&
        (a->cursor_len != ALERT_KEY_SIZE || a->cursor[0] != LEDGER_K_ALERT_IDX ||
         a->cursor[1] < 1 || a->cursor[1] > CMP_ALERT_MAX || (*kind > 0 && a->cursor[1] != *kind)))
        rc = sbx_err_set(err, SBX_EINVAL, "cursor: not a cursor returned by this query");
    return rc;
}

/* The alert index entries of a listalerts call, merged newest first into `q->refs`: one reverse
 * scan per kind, each starting just after the cursor in the merged order. */
static int
alert_scan(struct ledger_store *st, const struct rpc_params_list *a, int kind, struct alertq *q,
           struct sbx_err *err)
{
    int rc = SBX_OK;

    for (int k = 1; rc == SBX_OK && k <= CMP_ALERT_MAX; k++) {
        uint8_t prefix[LEDGER_STORE_KEY_PAIR_LEN], start[ALERT_KEY_SIZE];
        size_t plen = ledger_store_prefix_alert_index(prefix, (uint8_t)k), slen = 0;

        if (kind > 0 && k != kind)
            continue;
        if (a->cursor_len > 0) {
            uint64_t ct = buf_load_u64(a->cursor + 2);

            if (k == a->cursor[1]) {
                memcpy(start, a->cursor, ALERT_KEY_SIZE);
                slen = ALERT_KEY_SIZE;
            } else {
                /* a lower kind sorts after the cursor at the same time; a higher one before */
                slen = ledger_store_key_seek(start, prefix, plen, k < a->cursor[1] ? ct + 1 : ct);
            }
        } else if (a->has_to && a->to < INT64_MAX) {
            slen = ledger_store_key_seek(start, prefix, plen, (uint64_t)a->to + 1);
        }
        q->this_kind = 0;
        rc = ledger_store_scan(st, prefix, plen, slen ? start : NULL, slen, 1, alert_cb, q, err);
    }
    if (rc == SBX_OK)
        qsort(q->refs, q->n, sizeof(q->refs[0]), alert_ref_cmp);
    return rc;
}

/* The first `take` alerts of `refs` as JSON (an index entry without its record is skipped). */
static int
alert_items(struct ledger_store *st, const struct alert_ref *refs, size_t take, json_t **out,
            struct sbx_err *err)
{
    json_t *items = json_array();
    struct buf val;
    int rc = SBX_OK;

    *out = NULL;
    if (items == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    buf_init(&val, 1024);
    for (size_t i = 0; i < take; i++) {
        uint8_t key[LEDGER_STORE_KEY_HASH_LEN];
        size_t klen = ledger_store_key_alert(key, refs[i].id);
        struct cmp_alert al;

        rc = ledger_store_get(st, key, klen, &val, err);
        if (rc == SBX_ENOTFOUND) {
            rc = SBX_OK;
            continue;
        }
        rc = rc ? rc : cmp_alert_decode(&al, val.data, val.len, err);
        if (rc)
            break;
        json_array_append_new(items, rpc_render_alert(&al));
    }
    buf_release(&val);
    if (rc) {
        json_decref(items);
        return rc;
    }
    *out = items;
    return SBX_OK;
}

int
rpc_m_query_listalerts(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                       struct rpc_outcome *out, struct sbx_err *err)
{
    struct ledger_store *st = node_store(env->node);
    struct rpc_params_list a;
    struct alertq q;
    json_t *items = NULL;
    uint8_t key[ALERT_KEY_SIZE];
    size_t take;
    int rc, kind, more;

    (void)m;
    memset(&q, 0, sizeof(q));
    rc = alert_params(params, &a, &kind, err);
    if (rc)
        return rc;
    q.per_kind = a.limit + 1;
    q.cap = q.per_kind * (kind > 0 ? 1 : CMP_ALERT_MAX);
    q.from = a.from;
    q.refs = calloc(q.cap, sizeof(q.refs[0]));
    if (q.refs == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    rc = alert_scan(st, &a, kind, &q, err);
    if (rc)
        goto out;
    take = q.n < a.limit ? q.n : a.limit;
    more = q.n > a.limit;
    if (env->budget != NULL && take > *env->budget / RPC_UNITS_ALERT) {
        take = *env->budget / RPC_UNITS_ALERT;
        more = 1;
        if (take == 0) {
            rc = sbx_err_set(err, SBX_EINVAL,
                             "limit: this request has already shown all it may; ask in "
                             "smaller batches");
            goto out;
        }
    }
    if (env->budget != NULL)
        *env->budget -= take * RPC_UNITS_ALERT;
    rc = alert_items(st, q.refs, take, &items, err);
    if (rc)
        goto out;
    if (more && take > 0) {
        const struct alert_ref *last = &q.refs[take - 1];

        ledger_store_key_alert_index(key, last->kind, (int64_t)last->time, last->id);
    }
    rc = list_result(items, more && take > 0 ? key : NULL, sizeof(key), out, err);
out:
    free(q.refs);
    return rc;
}
