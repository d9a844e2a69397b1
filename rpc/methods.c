/* JSON-RPC methods: the method table, the dispatcher, and the answers of the node turned into
 * outcomes (outcome.c holds the outcomes themselves and the error-code table).
 *
 * The table below is the one place that says what a method is: its name, who may call it, its
 * handler, for a submitting method its transaction builder, and its parameter spec. The
 * dispatcher checks the role and the params against the spec, then runs the handler; a handler
 * that fails returns an sbx code and the dispatcher maps it through the code table. The
 * handlers themselves live by family in m_submit.c, m_query.c, m_supervise.c and m_admin.c.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "rpc/methods.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance/rules.h"
#include "rpc/help.h"
#include "rpc/m_admin.h"
#include "rpc/m_account.h"
#include "rpc/m_liabilities.h"
#include "rpc/m_query.h"
#include "rpc/m_submit.h"
#include "rpc/m_supervise.h"
#include "rpc/params.h"
#include "rpc/render.h"
#include "util/log.h"

/* Make `o` the result `r`, or the error of being out of memory. */
static void
set_result(struct rpc_outcome *o, json_t *r)
{
    struct sbx_err err;
    int rc;

    sbx_err_clear(&err);
    rc = rpc_outcome_result(o, r, &err);
    if (rc)
        rpc_outcome_fail(o, rc, err.msg);
}

json_t *
rpc_methods_error_object(const struct rpc_outcome *o)
{
    json_t *e = json_object();

    if (e == NULL)
        return NULL;
    json_object_set_new(e, "code", json_integer(o->code));
    json_object_set_new(e, "message", rpc_render_text(o->message));
    if (o->data != NULL)
        json_object_set_new(e, "data", json_incref(o->data));
    return e;
}

/* ------------------------------------------------------------------ answers of the node */

void
rpc_methods_submit_done(struct rpc_outcome *o, const struct node_result *r)
{
    const char *rule;

    if (r->rc == SBX_OK && r->proposal) {
        set_result(o, rpc_render_proposed(r));
        return;
    }
    if (r->rc == SBX_OK) {
        struct rpc_receipt rc;

        memcpy(rc.txid, r->txid, 32);
        memcpy(rc.block_hash, r->block_hash, 32);
        rc.height = r->height;
        rpc_outcome_receipt(o, &rc);
        return;
    }
    if (r->rc != SBX_EREJECTED) {
        rpc_outcome_fail(o, r->rc, r->message);
        return;
    }
    rule = cmp_rule_name(r->verdict.rule);
    if (r->message[0] != '\0') {
        rpc_outcome_fail(o, SBX_EREJECTED, r->message);
    } else {
        char m[SBX_ERR_MSG_MAX];

        snprintf(m, sizeof(m), "rejected by rule %s", rule ? rule : "unknown");
        rpc_outcome_fail(o, SBX_EREJECTED, m);
    }
    o->data = rpc_render_rejection(r, o->message);
}

/* ------------------------------------------------------------------ the table */

#define OPERATOR (RPC_ROLE_OPERATOR | RPC_ROLE_ADMIN)
#define SUPERVISOR (RPC_ROLE_SUPERVISOR | RPC_ROLE_ADMIN)
#define ADMIN RPC_ROLE_ADMIN
#define ANY RPC_ROLES_ANY

/* The parameters of the list methods beside their filters. */
#define LIST " from? to? limit? cursor?"

static int help_handler(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                        struct rpc_outcome *out, struct sbx_err *err);

static const struct rpc_method method_table[] = {
    {"help", ANY, help_handler, NULL, "method?", 0},
    {"getinfo", ANY, rpc_m_admin_getinfo, NULL, "", 0},
    {"openaccount", OPERATOR, rpc_m_submit_built, rpc_build_openaccount,
     "account kyc_tier investor_class country kyc_ref bank_ref", 0},
    {"updateaccount", OPERATOR, rpc_m_submit_built, rpc_build_updateaccount,
     "account kyc_tier? status?", 0},
    {"deposit", OPERATOR, rpc_m_submit_built, rpc_build_deposit,
     "transfer_id account asset amount reference travel_rule? screening?", 0},
    {"withdraw", OPERATOR, rpc_m_submit_built, rpc_build_withdraw,
     "transfer_id account asset amount reference travel_rule? screening?", 0},
    {"submittrade", OPERATOR, rpc_m_submit_built, rpc_build_trade,
     "trade_id buyer seller asset quantity price fee_buyer? fee_seller? executed_at buyer_order? "
     "seller_order?",
     0},
    {"submitrawtx", OPERATOR | SUPERVISOR, rpc_m_submit_raw, NULL, "hex", 0},
    {"checktrade", OPERATOR | SUPERVISOR, rpc_m_submit_check, rpc_build_trade,
     "trade_id buyer seller asset quantity price fee_buyer? fee_seller? executed_at buyer_order? "
     "seller_order?",
     0},
    {"getblock", ANY, rpc_m_query_getblock, NULL, "height? hash? verbose? hex?", 0},
    {"gettx", ANY, rpc_m_query_gettx, NULL, "txid", 0},
    {"gettxproof", ANY, rpc_m_query_gettxproof, NULL, "txid", 0},
    {"getliabilityproof", ANY, rpc_m_liabilities_getliabilityproof, NULL, "account asset height?",
     0},
    {"gettrade", ANY, rpc_m_query_gettrade, NULL, "trade_id", 0},
    {"listtrades", ANY, rpc_m_query_listtrades, NULL, "account? asset?" LIST, 0},
    {"getaccount", ANY, rpc_m_account_getaccount, NULL, "account height? time?", 0},
    {"getusage", ANY, rpc_m_account_getusage, NULL, "account? height? time?", 0},
    {"getlicence", ANY, rpc_m_supervise_getlicence, NULL, "height? time?", 0},
    {"listalerts", ANY, rpc_m_query_listalerts, NULL, "kind?" LIST, 0},
    {"listrejections", ANY, rpc_m_query_listrejections, NULL, "rule?" LIST, 0},
    {"submitdirective", SUPERVISOR, rpc_m_submit_built, rpc_build_directive,
     "kind asset? account? address? name? value? valid_to? amount? reference? reason legal_basis",
     0},
    {"listproposals", SUPERVISOR | OPERATOR, rpc_m_supervise_listproposals, NULL, "",
     RPC_METHOD_MAIN},
    {"cosigndirective", SUPERVISOR, rpc_m_supervise_cosigndirective, NULL,
     "proposal_id pubkey? signature?", RPC_METHOD_MAIN},
    {"getsupervision", ANY, rpc_m_supervise_getsupervision, NULL, "", RPC_METHOD_MAIN},
    {"verifychain", SUPERVISOR, rpc_m_supervise_verifychain, NULL, "from? to?", RPC_METHOD_MAIN},
    {"getreport", SUPERVISOR | OPERATOR, rpc_m_supervise_getreport, NULL,
     "kind date? month? format?", RPC_METHOD_MAIN},
    {"getpeerinfo", ANY, rpc_m_admin_getpeerinfo, NULL, "", RPC_METHOD_MAIN},
    {"listnodealerts", ANY, rpc_m_admin_listnodealerts, NULL, "", 0},
#ifdef SBX_TEST_HOOKS
    {"testhook", ADMIN, rpc_m_admin_testhook, NULL, "action", RPC_METHOD_MAIN},
#endif
    {"stop", ADMIN, rpc_m_admin_stop, NULL, "", 0},
};

const struct rpc_method *
rpc_methods_find(const char *name)
{
    for (size_t i = 0; i < SBX_ARRAY_LEN(method_table); i++) {
        if (strcmp(method_table[i].name, name) == 0)
            return &method_table[i];
    }
    return NULL;
}

const struct rpc_method *
rpc_methods_table(size_t *n)
{
    *n = SBX_ARRAY_LEN(method_table);
    return method_table;
}

/* help answers from this table (rpc/help.c holds the texts). */
static int
help_handler(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
             struct rpc_outcome *out, struct sbx_err *err)
{
    (void)m;
    return rpc_help_answer(env, method_table, SBX_ARRAY_LEN(method_table), params, out, err);
}

/* The params of a call as an object: absent, null and [] stand for none (`*empty` then holds
 * the object made for them); named parameters only. */
static int
params_object(json_t **params, json_t **empty, struct sbx_err *err)
{
    json_t *p = *params;

    *empty = NULL;
    if (p == NULL || json_is_null(p) || (json_is_array(p) && json_array_size(p) == 0)) {
        *empty = json_object();
        if (*empty == NULL)
            return sbx_err_set(err, SBX_ENOMEM, "out of memory");
        *params = *empty;
        return SBX_OK;
    }
    if (json_is_array(p))
        return sbx_err_set(err, SBX_EINVAL, "params: must be an object of named parameters");
    if (!json_is_object(p))
        return sbx_err_set(err, SBX_EINVAL, "params: must be an object");
    return SBX_OK;
}

void
rpc_methods_call(const struct rpc_env *env, const char *method, json_t *params,
                 struct rpc_outcome *out)
{
    const struct rpc_method *m = rpc_methods_find(method);
    json_t *empty = NULL;
    struct sbx_err err;
    int rc;

    if (m == NULL) {
        rpc_outcome_error(out, RPC_METHOD_NOT_FOUND, "method not found: %.64s", method);
        return;
    }
    sbx_err_clear(&err);
    if ((m->roles & (unsigned)env->role) == 0) {
        const char *rn = rpc_auth_role_name(env->role);

        rc = sbx_err_set(&err, SBX_EDENIED, "%s: not allowed for role %s", m->name,
                         rn ? rn : "none");
    } else {
        rc = params_object(&params, &empty, &err);
    }
    rc = rc ? rc : rpc_params_check(params, m->params, "", &err);
    rc = rc ? rc : m->fn(env, m, params, out, &err);
    if (rc)
        rpc_outcome_fail(out, rc, err.msg);
    json_decref(empty);
}

int
rpc_methods_build_tx(const char *method, json_t *params, const struct ledger_asset_def *assets,
                     size_t nassets, struct ledger_tx *tx, struct sbx_err *err)
{
    const struct rpc_method *m = rpc_methods_find(method);
    int rc;

    ledger_tx_init(tx, LEDGER_TX_ACCOUNT_OPEN);
    if (m == NULL || m->build == NULL)
        return sbx_err_set(err, SBX_ENOTFOUND, "%s: not a submitting method", method);
    rc = rpc_params_check(params, m->params, "", err);
    return rc ? rc : m->build(params, assets, nassets, tx, err);
}
