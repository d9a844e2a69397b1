/* Account rules: opening an account (a fresh id, the participants limit, the sanctions list) and
 * updating one (KYC tier, status); and what applying them records.
 */
#include "compliance/internal.h"

#include <string.h>

int
cmp_accounts_eval_open(const struct cmp_engine *e, const struct ledger_tx *tx,
                       const struct cmp_block_ctx *ctx, struct cmp_result *res)
{
    const struct ledger_account_open *o = &tx->u.account_open;
    int seen;

    (void)ctx;
    if (ledger_state_get(e->st, o->account) != NULL)
        return cmp_engine_reject(res, CMP_RULE_ACCOUNT_DUPLICATE, 0, 0, 0, o->account);
    seen = cmp_persist_id_seen(e, CMP_ID_ACCOUNT, o->account);
    if (seen < 0)
        return SBX_EIO;
    if (seen)
        return cmp_engine_reject(res, CMP_RULE_ACCOUNT_DUPLICATE, 0, 0, 0, o->account);
    if (cmp_limits_check_participants(e, o->account, res))
        return SBX_OK;
    if (cmp_engine_is_sanctioned(e, o->account, NULL))
        return cmp_engine_reject(res, CMP_RULE_AML_SANCTIONED, 0, 0, 0, o->account);
    return SBX_OK;
}

int
cmp_accounts_eval_update(const struct cmp_engine *e, const struct ledger_tx *tx,
                         const struct cmp_block_ctx *ctx, struct cmp_result *res)
{
    const struct ledger_account_update *up = &tx->u.account_update;
    const struct ledger_account *a = ledger_state_get(e->st, up->account);

    (void)ctx;
    if (a == NULL)
        return cmp_engine_reject(res, CMP_RULE_ACCOUNT_UNKNOWN, 0, 0, 0, up->account);
    /* reopening counts as one more open account */
    if (up->status == LEDGER_ACCOUNT_ACTIVE && a->status != LEDGER_ACCOUNT_ACTIVE &&
        cmp_limits_check_participants(e, a->id, res))
        return SBX_OK;
    return SBX_OK;
}

int
cmp_accounts_apply_open(struct cmp_engine *e, const struct ledger_tx *tx,
                        const struct cmp_result *res)
{
    const struct ledger_account_open *o = &tx->u.account_open;
    struct ledger_account a;

    (void)res;
    memset(&a, 0, sizeof(a));
    memcpy(a.id, o->account, sizeof(a.id));
    a.kyc_tier = o->kyc_tier;
    a.investor_class = o->investor_class;
    a.status = LEDGER_ACCOUNT_ACTIVE;
    memcpy(a.country, o->country, sizeof(a.country));
    memcpy(a.kyc_ref, o->kyc_ref, 32);
    memcpy(a.bank_ref, o->bank_ref, 32);
    a.opened_ms = tx->timestamp;
    return ledger_state_add(e->st, &a);
}

int
cmp_accounts_apply_update(struct cmp_engine *e, const struct ledger_tx *tx,
                          const struct cmp_result *res)
{
    const struct ledger_account_update *up = &tx->u.account_update;
    struct ledger_account *a = ledger_state_get_mut(e->st, up->account);

    (void)res;
    if (a == NULL)
        return SBX_EINTERNAL;
    if (up->kyc_tier)
        a->kyc_tier = up->kyc_tier;
    if (up->status)
        ledger_state_set_status(e->st, a, up->status);
    a->updated_ms = tx->timestamp;
    return SBX_OK;
}
