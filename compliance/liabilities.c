/* Proof of liabilities and reserves as rules: the `liabilities` transaction checked against the
 * engine's own state, the `liabilities_snapshot` and `reserves_attest` directives, and the
 * liabilities record ('S' 'l') that keeps, per asset, the last recorded total and the last
 * attested reserve.
 *
 * A liabilities transaction is valid only when it is the operator's, the first transaction of
 * its block, reflects the block before it, and carries for every asset (in genesis order) the
 * root and total that ledger/liabilities.c gives for the state at that point under its seed:
 * every node recomputes them (about 2n hashes per asset for n clients, once a day), so a wrong
 * root or total is the rule liabilities.mismatch, and an operator whose block says otherwise is
 * refused like any other verdict. The house account is not a client: it is left out of the
 * tree, as getreport leaves it out of client figures.
 */
#include "compliance/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIAB_VERSION 1

void
cmp_liabilities_init(struct cmp_engine *e)
{
    for (size_t i = 0; i < SBX_MAX_ASSETS; i++) {
        e->liab.total[i] = -1;
        e->liab.reserve[i] = -1;
    }
}

int
cmp_liabilities_snapshot(const struct cmp_engine *e, struct ledger_liab_snapshot *snap)
{
    return ledger_liabilities_snapshot_take(snap, e->st, e->params.house_account);
}

int
cmp_liabilities_make(const struct cmp_engine *e, const uint8_t seed[static 32],
                     uint64_t reflects_height, int64_t short_by, struct ledger_liabilities *out)
{
    struct ledger_liab_snapshot snap;
    struct ledger_liab_proof *p = malloc(sizeof(*p));
    int rc = p != NULL ? cmp_liabilities_snapshot(e, &snap) : SBX_ENOMEM;

    memset(out, 0, sizeof(*out));
    if (rc) {
        free(p);
        return rc;
    }
    out->reflects_height = reflects_height;
    memcpy(out->seed, seed, 32);
    ledger_liabilities_seed_commit(out->seed_commit, seed);
    out->nassets = e->genesis.nassets;
    for (size_t i = 0; rc == SBX_OK && i < e->genesis.nassets; i++) {
        struct ledger_liability *l = &out->assets[i];

        snprintf(l->asset, sizeof(l->asset), "%s", e->genesis.assets[i].symbol);
        rc = ledger_liabilities_tree(&snap, i, l->asset, seed, NULL, i == 0 ? short_by : 0, p);
        l->total = p->root.sum;
        memcpy(l->root, p->root.hash, 32);
    }
    ledger_liabilities_snapshot_release(&snap);
    free(p);
    return rc;
}

int
cmp_liabilities_eval(const struct cmp_engine *e, const struct ledger_tx *tx,
                     const struct cmp_block_ctx *ctx, struct cmp_result *res)
{
    const struct ledger_liabilities *l = &tx->u.liabilities;
    struct ledger_liabilities want;
    char why[96];
    int rc;

    if (memcmp(tx->signer, e->genesis.operator_key, 32) != 0)
        return cmp_engine_reject(res, CMP_RULE_AUTH_SIGNER, 0, 0, 0, "not the operator key");
    if (e->seen_height == ctx->height || l->reflects_height + 1 != ctx->height)
        return cmp_engine_reject(res, CMP_RULE_LIABILITIES_MISMATCH, (int64_t)ctx->height - 1, 0,
                                 (int64_t)l->reflects_height,
                                 "must be the first transaction of its block and reflect the "
                                 "block before");
    ledger_liabilities_seed_commit(want.seed_commit, l->seed);
    if (memcmp(want.seed_commit, l->seed_commit, 32) != 0)
        return cmp_engine_reject(res, CMP_RULE_LIABILITIES_MISMATCH, 0, 0, 0,
                                 "the seed is not the one its commitment names");
    rc = cmp_liabilities_make(e, l->seed, l->reflects_height, 0, &want);
    if (rc)
        return rc;
    if (l->nassets != want.nassets)
        return cmp_engine_reject(res, CMP_RULE_LIABILITIES_MISMATCH, want.nassets, 0, l->nassets,
                                 "one line per asset of the genesis");
    for (size_t i = 0; i < want.nassets; i++) {
        const struct ledger_liability *got = &l->assets[i], *w = &want.assets[i];

        if (strcmp(got->asset, w->asset) != 0 || got->total != w->total ||
            memcmp(got->root, w->root, 32) != 0) {
            snprintf(why, sizeof(why), "%s: root or total differs from the state", w->asset);
            return cmp_engine_reject(res, CMP_RULE_LIABILITIES_MISMATCH, w->total, 0, got->total,
                                     why);
        }
    }
    return SBX_OK;
}

int
cmp_liabilities_apply(struct cmp_engine *e, const struct ledger_tx *tx,
                      const struct cmp_result *res)
{
    const struct ledger_liabilities *l = &tx->u.liabilities;

    (void)res;
    for (size_t i = 0; i < l->nassets; i++)
        e->liab.total[i] = l->assets[i].total;
    e->liab.height = l->reflects_height + 1;
    e->liab.requested = 0;
    e->liab.dirty = 1;
    return SBX_OK;
}

int
cmp_liabilities_eval_directive(const struct cmp_engine *e, const struct ledger_directive *d,
                               struct cmp_result *res)
{
    if (d->kind == LEDGER_DIR_RESERVES_ATTEST && ledger_state_asset_index(e->st, d->asset) < 0)
        return cmp_engine_reject(res, CMP_RULE_DIRECTIVE_INVALID, 0, 0, 0, "unknown asset");
    return SBX_OK;
}

int
cmp_liabilities_apply_directive(struct cmp_engine *e, const struct ledger_directive *d)
{
    int asset;

    if (d->kind == LEDGER_DIR_LIABILITIES_SNAPSHOT) {
        e->liab.requested = 1;
    } else {
        asset = ledger_state_asset_index(e->st, d->asset);
        if (asset < 0)
            return SBX_EINTERNAL;
        e->liab.reserve[asset] = d->value;
    }
    e->liab.dirty = 1;
    return SBX_OK;
}

void
cmp_engine_liabilities(const struct cmp_engine *e, struct cmp_liabilities_view *out)
{
    memset(out, 0, sizeof(*out));
    out->record_height = e->liab.height;
    out->requested = e->liab.requested;
    out->nassets = e->genesis.nassets;
    for (size_t i = 0; i < e->genesis.nassets; i++) {
        struct cmp_liabilities_line *a = &out->assets[i];

        snprintf(a->asset, sizeof(a->asset), "%s", e->genesis.assets[i].symbol);
        a->liabilities = e->liab.total[i];
        a->reserve = e->liab.reserve[i];
        a->shortfall = a->liabilities >= 0 && a->reserve >= 0 && a->liabilities > a->reserve;
        out->shortfall |= a->shortfall;
    }
}

int
cmp_liabilities_encode(const struct cmp_engine *e, struct buf *b)
{
    int rc = buf_put_u8(b, LIAB_VERSION);

    rc = rc ? rc : buf_put_u64(b, e->liab.height);
    rc = rc ? rc : buf_put_u8(b, e->liab.requested);
    for (size_t i = 0; rc == SBX_OK && i < e->genesis.nassets; i++) {
        rc = buf_put_i64(b, e->liab.total[i]);
        rc = rc ? rc : buf_put_i64(b, e->liab.reserve[i]);
    }
    return rc;
}

int
cmp_liabilities_decode(struct cmp_engine *e, const uint8_t *in, size_t len)
{
    struct buf_reader r;
    int rc = cmp_persist_open_record(&r, in, len, LIAB_VERSION);

    rc = rc ? rc : buf_read_u64(&r, &e->liab.height);
    rc = rc ? rc : buf_read_u8(&r, &e->liab.requested);
    for (size_t i = 0; rc == SBX_OK && i < e->genesis.nassets; i++) {
        rc = buf_read_i64(&r, &e->liab.total[i]);
        rc = rc ? rc : buf_read_i64(&r, &e->liab.reserve[i]);
    }
    if (rc || buf_reader_left(&r) || e->liab.requested > 1)
        return SBX_ECORRUPT;
    return SBX_OK;
}
