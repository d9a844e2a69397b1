/* Regulator directives: who may sign them (regulator keys, the quorum), when each kind is valid
 * (halt/resume, freeze/unfreeze, set_param, the licence's extension and status changes, the
 * sanctions list; liabilities.c has the liabilities snapshot and reserves attestation), and
 * their effects.
 */
#include "compliance/internal.h"

#include <stdio.h>
#include <string.h>

/* The licence status each licence directive leaves. */
static const uint8_t licence_status_after[] = {
    [LEDGER_DIR_LICENCE_SUSPEND] = CMP_LICENCE_SUSPENDED,
    [LEDGER_DIR_LICENCE_WIND_DOWN] = CMP_LICENCE_WIND_DOWN,
    [LEDGER_DIR_LICENCE_REVOKE] = CMP_LICENCE_REVOKED,
    [LEDGER_DIR_LICENCE_REINSTATE] = CMP_LICENCE_ACTIVE,
};

static int
count_directive_signers(const struct cmp_engine *e, const struct ledger_tx *tx, int *count)
{
    const struct ledger_directive *d = &tx->u.directive;

    *count = 0;
    if (!cmp_engine_is_regulator(e, tx->signer))
        return 0;
    *count = 1;
    for (int i = 0; i < d->ncosig; i++) {
        if (!cmp_engine_is_regulator(e, d->cosig[i].pubkey))
            return 0;
        (*count)++; /* distinctness is checked with the signatures (ledger_tx_verify) */
    }
    return 1;
}

int
cmp_directives_eval(const struct cmp_engine *e, const struct ledger_tx *tx,
                    const struct cmp_block_ctx *ctx, struct cmp_result *res)
{
    const struct ledger_directive *d = &tx->u.directive;
    struct cmp_params tmp;
    struct sbx_err err;
    int signers, asset;

    (void)ctx;
    if (!count_directive_signers(e, tx, &signers))
        return cmp_engine_reject(res, CMP_RULE_AUTH_SIGNER, 0, 0, 0, "a signer is not a regulator");
    if (signers < e->genesis.directive_quorum)
        return cmp_engine_reject(res, CMP_RULE_DIRECTIVE_QUORUM, e->genesis.directive_quorum,
                                 signers, 0, "not enough regulator signatures");
    switch (d->kind) {
    case LEDGER_DIR_HALT:
    case LEDGER_DIR_RESUME:
        if (d->asset[0]) {
            asset = ledger_state_asset_index(e->st, d->asset);
            if (asset <= 0)
                return cmp_engine_reject(res, CMP_RULE_DIRECTIVE_INVALID, 0, 0, 0, "unknown asset");
        }
        break;
    case LEDGER_DIR_FREEZE:
    case LEDGER_DIR_UNFREEZE:
        if (ledger_state_get(e->st, d->account) == NULL)
            return cmp_engine_reject(res, CMP_RULE_DIRECTIVE_INVALID, 0, 0, 0, "unknown account");
        break;
    case LEDGER_DIR_SET_PARAM:
        /* the licence dates belong to the licence directives (licence_extend) */
        if (strcmp(d->name, cmp_params_name(CMP_P_VALID_FROM)) == 0 ||
            strcmp(d->name, cmp_params_name(CMP_P_VALID_TO)) == 0) {
            snprintf(err.msg, sizeof(err.msg), "%s: not by set_param (licence directives only)",
                     d->name);
            return cmp_engine_reject(res, CMP_RULE_DIRECTIVE_INVALID, 0, 0, d->value, err.msg);
        }
        tmp = e->params;
        if (cmp_params_set(&tmp, d->name, d->value, e->genesis.assets, e->genesis.nassets, &err) !=
            SBX_OK)
            return cmp_engine_reject(res, CMP_RULE_DIRECTIVE_INVALID, 0, 0, d->value, err.msg);
        break;
    case LEDGER_DIR_LICENCE_EXTEND:
        if (d->value <= e->params.v[CMP_P_VALID_FROM])
            return cmp_engine_reject(res, CMP_RULE_DIRECTIVE_INVALID, e->params.v[CMP_P_VALID_FROM],
                                     0, d->value, "new end before the licence start");
        break;
    case LEDGER_DIR_LICENCE_SUSPEND:
        if (e->licence_status != CMP_LICENCE_ACTIVE)
            return cmp_engine_reject(res, CMP_RULE_DIRECTIVE_INVALID, 0, 0, 0,
                                     "licence is not active");
        break;
    case LEDGER_DIR_LICENCE_WIND_DOWN:
        if (e->licence_status != CMP_LICENCE_ACTIVE && e->licence_status != CMP_LICENCE_SUSPENDED)
            return cmp_engine_reject(res, CMP_RULE_DIRECTIVE_INVALID, 0, 0, 0,
                                     "licence is neither active nor suspended");
        break;
    case LEDGER_DIR_LICENCE_REVOKE:
        if (e->licence_status == CMP_LICENCE_REVOKED)
            return cmp_engine_reject(res, CMP_RULE_DIRECTIVE_INVALID, 0, 0, 0,
                                     "licence already revoked");
        break;
    case LEDGER_DIR_LICENCE_REINSTATE:
        if (e->licence_status != CMP_LICENCE_SUSPENDED)
            return cmp_engine_reject(res, CMP_RULE_DIRECTIVE_INVALID, 0, 0, 0,
                                     "licence is not suspended");
        break;
    case LEDGER_DIR_SANCTION_ADD:
    case LEDGER_DIR_SANCTION_REMOVE: {
        int listed = cmp_engine_is_sanctioned(e, d->account, d->address);

        if (listed == (d->kind == LEDGER_DIR_SANCTION_ADD))
            return cmp_engine_reject(res, CMP_RULE_DIRECTIVE_INVALID, 0, 0, 0,
                                     listed ? "already listed" : "not listed");
        break;
    }
    case LEDGER_DIR_LIABILITIES_SNAPSHOT:
    case LEDGER_DIR_RESERVES_ATTEST:
        return cmp_liabilities_eval_directive(e, d, res);
    default:
        return cmp_engine_reject(res, CMP_RULE_DIRECTIVE_INVALID, 0, 0, 0, "unknown kind");
    }
    return SBX_OK;
}

int
cmp_directives_apply(struct cmp_engine *e, const struct ledger_tx *tx, const struct cmp_result *res)
{
    const struct ledger_directive *d = &tx->u.directive;
    struct ledger_account *a;
    int asset, param;

    (void)res;
    e->global_dirty = 1;
    switch (d->kind) {
    case LEDGER_DIR_HALT:
    case LEDGER_DIR_RESUME: {
        int on = d->kind == LEDGER_DIR_HALT;

        if (!d->asset[0]) {
            e->market_halted = (uint8_t)on;
            break;
        }
        asset = ledger_state_asset_index(e->st, d->asset);
        if (on)
            e->halted_assets |= 1u << asset;
        else
            e->halted_assets &= ~(1u << asset);
        break;
    }
    case LEDGER_DIR_FREEZE:
    case LEDGER_DIR_UNFREEZE:
        a = ledger_state_get_mut(e->st, d->account);
        if (a == NULL)
            return SBX_EINTERNAL;
        a->frozen = d->kind == LEDGER_DIR_FREEZE;
        break;
    case LEDGER_DIR_SET_PARAM:
        if (cmp_params_set(&e->params, d->name, d->value, e->genesis.assets, e->genesis.nassets,
                           NULL) != SBX_OK ||
            cmp_params_lookup(d->name, e->genesis.assets, e->genesis.nassets, &param, &asset) !=
                SBX_OK)
            return SBX_EINTERNAL;
        if (asset > 0) /* price.stale counts from the directive's timestamp */
            e->params.ref_set_ms[asset] = tx->timestamp;
        e->params.version++;
        e->params_dirty = 1;
        break;
    case LEDGER_DIR_LICENCE_EXTEND:
        e->params.v[CMP_P_VALID_TO] = d->value;
        e->params.version++;
        e->params_dirty = 1;
        break;
    case LEDGER_DIR_LICENCE_SUSPEND:
    case LEDGER_DIR_LICENCE_WIND_DOWN:
    case LEDGER_DIR_LICENCE_REVOKE:
    case LEDGER_DIR_LICENCE_REINSTATE:
        e->licence_status = licence_status_after[d->kind];
        break;
    case LEDGER_DIR_SANCTION_ADD:
    case LEDGER_DIR_SANCTION_REMOVE: {
        int on = d->kind == LEDGER_DIR_SANCTION_ADD;

        if (d->account[0])
            return cmp_persist_set_sanction(e, LEDGER_LIST_ACCOUNT, d->account, on);
        return cmp_persist_set_sanction(e, LEDGER_LIST_ADDRESS, d->address, on);
    }
    case LEDGER_DIR_LIABILITIES_SNAPSHOT:
    case LEDGER_DIR_RESERVES_ATTEST:
        return cmp_liabilities_apply_directive(e, d);
    default:
        return SBX_EINTERNAL;
    }
    return SBX_OK;
}
