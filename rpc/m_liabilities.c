/* getliabilityproof: one client's proof of inclusion in a liabilities record (doc/rpc.md,
 * doc/protocol.md "Liabilities"), checked offline by `sbx-cli verifyliabilityproof`.
 *
 * The record is found by its snapshot ('W' height: the latest at or below `height`, or the
 * latest of all); the sum tree of the asset is built again from the snapshot under the record's
 * seed (about 2n hashes and a sort of n salts for n clients: a few hundred milliseconds for
 * 100,000 clients, on the RPC loop that took the call), its root checked against the record,
 * and the gettxproof of the record (its index 0) embedded, so that the root is tied to a block
 * header the operator signed; the record's seed is withheld from it (zeroed: it is outside the
 * txid), so that a client cannot test guessed account ids against the leaves it sees. Reads only
 * the store: any node that applied the record answers.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "rpc/m_liabilities.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/amount.h"
#include "ledger/liabilities.h"
#include "ledger/locate.h"
#include "node/node.h"
#include "rpc/m_query.h"
#include "rpc/params.h"
#include "rpc/render.h"
#include "util/hex.h"

/* The newest snapshot below a key: its height and bytes. */
struct found {
    uint64_t height;
    struct buf *val;
    int rc;
};

static int
found_cb(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct found *f = ctx;
    struct buf_reader r;

    buf_reader_init(&r, key + 1, klen - 1);
    if (klen != LEDGER_STORE_KEY_BLOCK_LEN || buf_read_u64(&r, &f->height) != SBX_OK)
        f->rc = SBX_ECORRUPT;
    else
        f->rc = buf_put(f->val, val, vlen);
    return 1;
}

/* The snapshot of the latest record at or below `height` into `snap`, the record into `l`,
 * its block into `k`. */
static int
find_record(const struct rpc_env *env, uint64_t height, struct ledger_locate *k,
            struct ledger_liab_snapshot *snap, struct ledger_liabilities *l, struct sbx_err *err)
{
    struct ledger_store *st = node_store(env->node);
    uint8_t prefix = LEDGER_K_LIABILITIES, start[LEDGER_STORE_KEY_BLOCK_LEN], txid[32];
    const struct ledger_verdict *v;
    struct ledger_tx tx;
    struct buf val;
    struct found f = {UINT64_MAX, &val, SBX_ENOTFOUND};
    int rc;

    buf_init(&val, (size_t)1 << 30);
    ledger_store_key_liabilities(start, height == UINT64_MAX ? height : height + 1);
    rc = ledger_store_scan(st, &prefix, 1, start, sizeof(start), 1, found_cb, &f, err);
    rc = rc ? rc : f.rc;
    if (rc == SBX_ENOTFOUND)
        rc = sbx_err_set(err, rc, "height: no liabilities record at or below it");
    else if (rc == SBX_OK && ledger_liabilities_snapshot_decode(snap, val.data, val.len) != SBX_OK)
        rc = sbx_err_set(err, SBX_ECORRUPT, "the snapshot of block %llu is malformed",
                         (unsigned long long)f.height);
    buf_release(&val);
    if (rc)
        return rc;
    rc = ledger_locate_block(st, f.height, k, err);
    rc = rc ? rc : ledger_locate_entry(k, 0, &tx, txid, &v, err);
    if (rc)
        return rc;
    if (tx.type == LEDGER_TX_LIABILITIES)
        *l = tx.u.liabilities;
    else
        rc = sbx_err_set(err, SBX_ECORRUPT, "block %llu: no liabilities record first",
                         (unsigned long long)f.height);
    ledger_tx_release(&tx);
    return rc;
}

/* The path as [{side, hash, sum}] from the leaf up, sums in the asset's units. */
static json_t *
path_json(const struct ledger_liab_proof *p, unsigned dec)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < p->npath; i++) {
        const struct ledger_liab_step *s = &p->path[i];

        json_array_append_new(a, json_pack("{s:s,s:o,s:o}", "side", s->left ? "left" : "right",
                                           "hash", hex_json(s->sib.hash, 32), "sum",
                                           rpc_render_amount(s->sib.sum, dec)));
    }
    return a;
}

/* The record's seed withheld from the client: zeros in place of its last 32 bytes (the seed
 * follows the signature, outside the txid, so the proof still checks), and no `seed` member. */
static int
withhold_seed(json_t *txproof)
{
    json_t *tx = json_object_get(txproof, "tx");
    const char *hex = json_string_value(json_object_get(txproof, "tx_hex"));
    size_t n = hex != NULL ? strlen(hex) : 0;
    char *copy;

    if (n < 64 || !json_is_object(tx))
        return SBX_ECORRUPT;
    copy = strdup(hex);
    if (copy == NULL)
        return SBX_ENOMEM;
    memset(copy + n - 64, '0', 64);
    json_object_set_new(txproof, "tx_hex", json_string(copy));
    free(copy);
    json_object_del(tx, "seed");
    return SBX_OK;
}

static json_t *
proof_json(const struct rpc_env *env, const struct ledger_locate *k, const char *account,
           const struct ledger_liability *line, uint64_t reflects, unsigned dec,
           const struct ledger_liab_proof *p, struct sbx_err *err)
{
    json_t *txproof = rpc_m_query_txproof_json(env, k, 0, err);
    json_t *r = txproof != NULL ? json_object() : NULL;
    int rc = r != NULL ? withhold_seed(txproof) : SBX_ENOMEM;

    if (rc) {
        sbx_err_set(err, rc,
                    rc == SBX_ENOMEM ? "out of memory" : "the record's proof is malformed");
        json_decref(txproof);
        json_decref(r);
        return NULL;
    }
    json_object_set_new(r, "format", json_string(RPC_LIABPROOF_FORMAT));
    json_object_set_new(r, "account", json_string(account));
    json_object_set_new(r, "asset", json_string(line->asset));
    json_object_set_new(r, "decimals", json_integer(dec));
    json_object_set_new(r, "balance", rpc_render_amount(p->balance, dec));
    json_object_set_new(r, "salt", hex_json(p->salt, 32));
    json_object_set_new(r, "leaf", hex_json(p->leaf.hash, 32));
    json_object_set_new(r, "path", path_json(p, dec));
    json_object_set_new(r, "height", rpc_render_u64(k->height));
    json_object_set_new(r, "reflects_height", rpc_render_u64(reflects));
    json_object_set_new(r, "total", rpc_render_amount(line->total, dec));
    json_object_set_new(r, "root", hex_json(line->root, 32));
    json_object_set_new(r, "txproof", txproof);
    return r;
}

int
rpc_m_liabilities_getliabilityproof(const struct rpc_env *env, const struct rpc_method *m,
                                    json_t *params, struct rpc_outcome *out, struct sbx_err *err)
{
    struct ledger_liab_snapshot snap;
    struct ledger_liabilities l;
    struct ledger_liab_proof *p = malloc(sizeof(*p));
    struct ledger_locate k;
    char account[SBX_ID_MAX + 1], asset[SBX_ASSET_MAX + 1];
    json_t *jh = json_object_get(params, "height"), *r = NULL;
    int64_t height = INT64_MAX;
    size_t col = SIZE_MAX;
    int rc;

    (void)m;
    memset(&snap, 0, sizeof(snap));
    ledger_locate_init(&k);
    rc = p != NULL ? SBX_OK : sbx_err_set(err, SBX_ENOMEM, "out of memory");
    rc =
        rc ? rc
           : rpc_params_id(json_object_get(params, "account"), SBX_ID_MAX, account, "account", err);
    rc = rc ? rc : rpc_params_symbol(json_object_get(params, "asset"), asset, "asset", err);
    if (rc == SBX_OK && rpc_params_present(jh))
        rc = rpc_params_int(jh, 0, INT64_MAX - 1, &height, "height", err);
    for (size_t i = 0; rc == SBX_OK && i < env->nassets; i++)
        if (strcmp(env->assets[i].symbol, asset) == 0)
            col = i;
    if (rc == SBX_OK && col == SIZE_MAX)
        rc = sbx_err_set(err, SBX_EINVAL, "asset: %s is not an asset of this network", asset);
    rc = rc ? rc
            : find_record(env, height == INT64_MAX ? UINT64_MAX : (uint64_t)height, &k, &snap, &l,
                          err);
    if (rc == SBX_OK && env->budget != NULL) {
        size_t units = k.b.ntx * RPC_UNITS_TXID + RPC_UNITS_TX;

        if (*env->budget < units)
            rc = sbx_err_set(err, SBX_EINVAL,
                             "height: the record's block is more than is left "
                             "to show in this request; ask for it alone");
        else
            *env->budget -= units;
    }
    if (rc == SBX_OK && (col >= l.nassets || col >= snap.nassets))
        rc = sbx_err_set(err, SBX_ECORRUPT, "the record has no line for %s", asset);
    if (rc == SBX_OK) {
        rc = ledger_liabilities_tree(&snap, col, asset, l.seed, account, 0, p);
        if (rc == SBX_ENOTFOUND)
            sbx_err_set(err, rc, "account: not a client in the liabilities record of block %llu",
                        (unsigned long long)k.height);
        else if (rc)
            sbx_err_set(err, rc, "building the tree failed");
    }
    if (rc == SBX_OK &&
        (p->root.sum != l.assets[col].total || memcmp(p->root.hash, l.assets[col].root, 32) != 0))
        rc = sbx_err_set(err, SBX_ECORRUPT, "block %llu: the snapshot does not give the record",
                         (unsigned long long)k.height);
    if (rc == SBX_OK) {
        r = proof_json(env, &k, account, &l.assets[col], l.reflects_height,
                       env->assets[col].decimals, p, err);
        rc = r != NULL ? rpc_outcome_result(out, r, err) : err->code ? err->code : SBX_ENOMEM;
    }
    ledger_liabilities_snapshot_release(&snap);
    ledger_locate_release(&k);
    free(p);
    return rc;
}
