/* The `help` method: the method table of rpc/methods.c read back for people.
 *
 * A method's parameters, their order and which are required are read from its spec in the
 * method table, the same string the dispatcher checks every call against (rpc_params_check),
 * so help cannot list a parameter the method does not take or miss one it requires. What a
 * spec cannot say (a method's summary; a parameter's type and meaning) is in the two tables
 * below, keyed by name; tests/unit/test_rpc.c fails when a method of the table or a parameter
 * of a spec has no row here. Runs on whichever RPC loop read the request (no node state).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "rpc/help.h"

#include <string.h>

#include "rpc/auth.h"
#include "rpc/params.h"

struct summary {
    const char *method;
    const char *text;
};

static const struct summary summaries[] = {
    {"help", "list the methods this caller may call, or describe one"},
    {"getinfo", "what this node is: network, role, tip, final height, licence status"},
    {"openaccount", "open a client account"},
    {"updateaccount", "change an account's KYC tier or status"},
    {"deposit", "credit an account (fiat or crypto)"},
    {"withdraw", "debit an account (fiat or crypto)"},
    {"submittrade", "record a trade between two accounts"},
    {"submitrawtx", "submit a complete signed transaction in its canonical encoding"},
    {"checktrade", "dry run of submittrade against the current state (nothing recorded)"},
    {"getblock", "a block by height or hash"},
    {"gettx", "a transaction with its verdict and place"},
    {"gettxproof", "a proof that a transaction is in a signed block (sbx-cli verifytxproof)"},
    {"getliabilityproof",
     "a client's balance in a liabilities record, with its path to the signed root "
     "(sbx-cli verifyliabilityproof)"},
    {"gettrade", "the transaction that first used a trade id"},
    {"listtrades", "trades, newest first, by account and/or asset"},
    {"getaccount", "an account: status, balances, usage of its limits"},
    {"getusage", "usage of the limits, of one account or exchange-wide"},
    {"getlicence", "the licence in force: window, assets, parameters"},
    {"listalerts", "AML alerts, newest first"},
    {"listrejections", "rejected transactions, newest first"},
    {"submitdirective", "a regulator directive (halt, freeze, set_param, licence_*, ...)"},
    {"listproposals", "k-of-n directives gathering their regulator signatures"},
    {"cosigndirective", "add a regulator signature to a pending directive proposal"},
    {"getsupervision", "regulators' attestations, lag and final height"},
    {"verifychain", "re-verify the stored chain (background job)"},
    {"getreport", "daily or monthly report of a period (background job)"},
    {"getpeerinfo", "the open peer links"},
    {"listnodealerts", "what this node itself saw go wrong"},
    {"testhook", "test builds only: make the operator misbehave"},
    {"stop", "stop the node"},
};

#define LIST_ROWS                                                                                  \
    {NULL, "from", "integer", "first time to include (ms since the epoch)"},                       \
        {NULL, "to", "integer", "last time to include (ms since the epoch)"},                      \
        {NULL, "limit", "integer", "entries per page, 1..1000 (default 100)"},                     \
    {                                                                                              \
        NULL, "cursor", "string", "the next_cursor of the previous page"                           \
    }

/* Rows with a method come first: they override the generic row of the same name. */
static const struct rpc_help_param params[] = {
    {"help", "method", "string", "the method to describe"},
    {"verifychain", "from", "integer", "first height (default 0)"},
    {"verifychain", "to", "integer", "last height (default the tip)"},
    {"getblock", "height", "integer", "the block's height (or hash)"},
    {"getblock", "hex", "boolean", "also the whole block's encoding (default false)"},
    {"submitrawtx", "hex", "hex", "the signed transaction's canonical encoding"},
    {"getusage", "account", "id", "the account (absent: exchange-wide)"},
    {"listalerts", "kind", "string", "only alerts of this kind"},
    {"getreport", "kind", "string", "daily or monthly"},
    {"submitdirective", "kind", "string",
     "halt, resume, freeze, unfreeze, set_param, licence_*, sanction_add, ..., "
     "liabilities_snapshot, reserves_attest"},
    {"submitdirective", "name", "string", "the parameter set_param sets"},
    {"submitdirective", "value", "amount or integer",
     "set_param's new value: a decimal string, or an integer for counts and seconds"},
    {"submitdirective", "valid_to", "integer", "licence_extend: the new end (ms)"},
    {"submitdirective", "reason", "string", "why, for the record"},
    {"submitdirective", "legal_basis", "string", "the legal basis, for the record"},
    {"submitdirective", "address", "string", "sanction_*: the external address"},
    {"submitdirective", "amount", "amount", "reserves_attest: the reserve, in the asset's units"},
    {"submitdirective", "reference", "string",
     "reserves_attest: the bank statement or wallet proof checked"},
    {"getliabilityproof", "height", "integer",
     "the latest record at or below this height (default the latest)"},
    {"testhook", "action", "string", "what to make the operator do wrong"},
    {"cosigndirective", "proposal_id", "hex", "the proposal's id (listproposals)"},
    {"cosigndirective", "pubkey", "hex",
     "a regulator key that signed elsewhere (absent: this node's regulator key signs)"},
    {"cosigndirective", "signature", "hex", "with pubkey: its BIP340 signature of proposal_id"},
    {NULL, "account", "id", "the account"},
    {NULL, "height", "integer", "answer as of this block (default: now)"},
    {NULL, "time", "integer", "answer as of the last block at or before this time (ms)"},
    {NULL, "kyc_tier", "integer", "KYC tier, 1..3"},
    {NULL, "investor_class", "string",
     "domestic_individual, domestic_org, foreign_individual or foreign_org"},
    {NULL, "country", "string", "ISO 3166-1 alpha-2 country code"},
    {NULL, "kyc_ref", "hex", "hash of the KYC file"},
    {NULL, "bank_ref", "hex", "hash of the bank account"},
    {NULL, "status", "string", "active or closed"},
    {NULL, "transfer_id", "id", "unique per operator (idempotency)"},
    {NULL, "asset", "symbol", "asset symbol (VND for fiat)"},
    {NULL, "amount", "amount", "decimal string, at most the asset's decimals"},
    {NULL, "reference", "string", "bank or chain reference, at most 128 bytes"},
    {NULL, "travel_rule", "object", "Travel Rule record (vasp, originator_hash, ...)"},
    {NULL, "screening", "object", "screening result of the external address"},
    {NULL, "trade_id", "id", "unique per operator (idempotency)"},
    {NULL, "buyer", "id", "the buying account"},
    {NULL, "seller", "id", "the selling account"},
    {NULL, "quantity", "amount", "decimal string, at most the asset's decimals"},
    {NULL, "price", "amount", "VND per unit, decimal string without decimals"},
    {NULL, "fee_buyer", "amount", "VND fee charged to the buyer"},
    {NULL, "fee_seller", "amount", "VND fee charged to the seller"},
    {NULL, "executed_at", "integer", "execution time (ms since the epoch)"},
    {NULL, "buyer_order", "id", "the buyer's order id"},
    {NULL, "seller_order", "id", "the seller's order id"},
    {NULL, "hash", "hex", "the block's hash (or height)"},
    {NULL, "verbose", "boolean", "whole transactions instead of txids (default false)"},
    {NULL, "txid", "hex", "the transaction's id"},
    {NULL, "rule", "string", "only rejections by this rule id"},
    {NULL, "date", "string", "YYYY-MM-DD (daily)"},
    {NULL, "month", "string", "YYYY-MM (monthly)"},
    {NULL, "format", "string", "json (default) or csv"},
    LIST_ROWS,
};

const char *
rpc_help_summary(const char *method)
{
    for (size_t i = 0; i < SBX_ARRAY_LEN(summaries); i++)
        if (strcmp(summaries[i].method, method) == 0)
            return summaries[i].text;
    return NULL;
}

const struct rpc_help_param *
rpc_help_param(const char *method, const char *name)
{
    for (size_t i = 0; i < SBX_ARRAY_LEN(params); i++) {
        const struct rpc_help_param *p = &params[i];

        if (strcmp(p->name, name) == 0 && (p->method == NULL || strcmp(p->method, method) == 0))
            return p;
    }
    return NULL;
}

/* "name [opt] ...": the spec as a usage line after the method's name. */
static json_t *
usage_line(const struct rpc_method *m)
{
    char line[512];
    const char *s = m->params, *name;
    size_t n, len = (size_t)snprintf(line, sizeof(line), "%s", m->name);
    int optional, k;

    while (len < sizeof(line) && rpc_params_spec_next(&s, &name, &n, &optional)) {
        k = snprintf(line + len, sizeof(line) - len, optional ? " [%.*s]" : " %.*s", (int)n, name);
        if (k < 0)
            break;
        len += (size_t)k;
    }
    return json_string(line);
}

/* The role names of `roles`: ["any"] for all; admin, which is in every set, only alone. */
static json_t *
role_names(unsigned roles)
{
    static const int all[] = {RPC_ROLE_OPERATOR, RPC_ROLE_SUPERVISOR, RPC_ROLE_ADMIN};
    json_t *a = json_array();

    if (a != NULL && roles == RPC_ROLES_ANY) {
        json_array_append_new(a, json_string("any"));
        return a;
    }

    for (size_t i = 0; a != NULL && i < SBX_ARRAY_LEN(all); i++) {
        if ((roles & (unsigned)all[i]) == 0)
            continue;
        if (all[i] == RPC_ROLE_ADMIN && roles != RPC_ROLE_ADMIN)
            continue;
        json_array_append_new(a, json_string(rpc_auth_role_name(all[i])));
    }
    return a;
}

/* The parameters of `m` from its spec: name, type, required, meaning. */
static json_t *
param_list(const struct rpc_method *m)
{
    const char *s = m->params, *start;
    json_t *a = json_array();
    char name[64];
    size_t n;
    int optional;

    while (a != NULL && rpc_params_spec_next(&s, &start, &n, &optional)) {
        const struct rpc_help_param *p;

        snprintf(name, sizeof(name), "%.*s", (int)n, start);
        p = rpc_help_param(m->name, name);
        json_array_append_new(a, json_pack("{s:s, s:s, s:b, s:s}", "name", name, "type",
                                           p != NULL ? p->type : "string", "required", !optional,
                                           "meaning", p != NULL ? p->meaning : ""));
    }
    return a;
}

static json_t *
describe(const struct rpc_method *m)
{
    const char *summary = rpc_help_summary(m->name);

    return json_pack("{s:s, s:s, s:o, s:o, s:o}", "method", m->name, "summary",
                     summary != NULL ? summary : "", "usage", usage_line(m), "roles",
                     role_names(m->roles), "params", param_list(m));
}

int
rpc_help_answer(const struct rpc_env *env, const struct rpc_method *table, size_t n,
                json_t *params_in, struct rpc_outcome *out, struct sbx_err *err)
{
    const json_t *jm = json_object_get(params_in, "method");
    char name[64];
    json_t *r;
    int rc;

    if (rpc_params_present(jm)) {
        rc = rpc_params_str(jm, sizeof(name) - 1, 0, 1, name, "method", err);
        if (rc)
            return rc;
        for (size_t i = 0; i < n; i++)
            if (strcmp(table[i].name, name) == 0)
                return rpc_outcome_result(out, describe(&table[i]), err);
        return sbx_err_set(err, SBX_EINVAL, "method: no method %s", name);
    }
    r = json_array();
    for (size_t i = 0; r != NULL && i < n; i++) {
        const char *summary = rpc_help_summary(table[i].name);

        if ((table[i].roles & (unsigned)env->role) == 0)
            continue;
        json_array_append_new(r, json_pack("{s:s, s:o, s:s}", "method", table[i].name, "usage",
                                           usage_line(&table[i]), "summary",
                                           summary != NULL ? summary : ""));
    }
    return rpc_outcome_result(out, r, err);
}
