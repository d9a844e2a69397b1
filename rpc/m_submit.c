/* The submitting methods: build or decode a transaction and hand it to the server, which
 * submits it to the node and answers with the receipt (rpc_methods_submit_done); checktrade
 * asks the node for a verdict without submitting. Event-loop thread.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "rpc/m_submit.h"

#include <stdlib.h>
#include <string.h>

#include "compliance/engine.h"
#include "rpc/render.h"
#include "util/hex.h"

int
rpc_m_submit_built(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                   struct rpc_outcome *out, struct sbx_err *err)
{
    struct ledger_tx *tx = env->tx_spare != NULL ? *env->tx_spare : NULL;
    int rc;

    if (tx != NULL)
        *env->tx_spare = NULL;
    else
        tx = malloc(sizeof(*tx));
    if (tx == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    ledger_tx_init(tx, LEDGER_TX_ACCOUNT_OPEN);
    rc = m->build(params, env->assets, env->nassets, tx, err);
    if (rc) {
        free(tx);
        return rc;
    }
    rpc_outcome_submit(out, tx);
    return SBX_OK;
}

int
rpc_m_submit_raw(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                 struct rpc_outcome *out, struct sbx_err *err)
{
    json_t *hex = json_object_get(params, "hex");
    uint8_t *raw;
    size_t len = 0, n;

    (void)env;
    (void)m;
    if (!json_is_string(hex))
        return sbx_err_set(err, SBX_EINVAL, "hex: must be a string");
    n = json_string_length(hex);
    if (n == 0 || n % 2 != 0 || n / 2 > SBX_TX_MAX_SIZE)
        return sbx_err_set(err, SBX_EINVAL,
                           "hex: must be an even number of lowercase hex digits, at most %d bytes",
                           SBX_TX_MAX_SIZE);
    raw = malloc(n / 2);
    if (raw == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    if (hex_decode_var(raw, n / 2, &len, json_string_value(hex), n) != SBX_OK) {
        free(raw);
        return sbx_err_set(err, SBX_EINVAL, "hex: must be lowercase hex digits");
    }
    rpc_outcome_submit_raw(out, raw, len);
    return SBX_OK;
}

/* The answer of checktrade: {ok, rule?, message?, figures?, alerts}. */
static json_t *
check_json(const struct cmp_result *res)
{
    int ok = res->verdict.status == LEDGER_VERDICT_ACCEPTED;
    json_t *r = json_object(), *alerts;

    if (r == NULL)
        return NULL;
    json_object_set_new(r, "ok", json_boolean(ok));
    if (!ok) {
        json_object_set_new(r, "rule", rpc_render_rule(res->verdict.rule));
        json_object_set_new(r, "message", rpc_render_text(res->message));
        rpc_render_figures(r, &res->verdict);
    }
    alerts = json_array();
    for (size_t i = 0; alerts != NULL && i < res->nalerts && i < CMP_MAX_ALERTS; i++) {
        const char *name = cmp_alert_name(res->alerts[i].kind);

        json_array_append_new(alerts, json_string(name ? name : "unknown"));
    }
    json_object_set_new(r, "alerts", alerts);
    return r;
}

int
rpc_m_submit_check(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                   struct rpc_outcome *out, struct sbx_err *err)
{
    struct ledger_tx tx;
    struct cmp_result res;
    int rc;

    ledger_tx_init(&tx, LEDGER_TX_TRADE);
    rc = m->build(params, env->assets, env->nassets, &tx, err);
    if (rc)
        return rc;
    memset(&res, 0, sizeof(res));
    rc = node_check(env->node, &tx, &res, err);
    if (rc)
        return rc;
    return rpc_outcome_result(out, check_json(&res), err);
}
