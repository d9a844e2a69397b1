/* The node's own methods: what the node is (getinfo), its peer links and its own alerts, and
 * stopping it. Event-loop thread; the engine's state is read through node_status_get().
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "rpc/m_admin.h"

#include <string.h>

#include "compliance/engine.h"
#include "node/net.h"
#include "rpc/m_supervise.h"
#include "rpc/render.h"
#include "util/hex.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

int
rpc_m_admin_getinfo(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                    struct rpc_outcome *out, struct sbx_err *err)
{
    struct ledger_tip tip;
    struct node_status st;
    json_t *r;

    (void)m;
    (void)params;
    node_tip(env->node, &tip);
    node_status_get(env->node, env->now_ms, &st);
    r = json_object();
    if (r != NULL) {
        json_object_set_new(r, "network", json_string(node_network(env->node)));
        json_object_set_new(r, "role", json_string(node_role_name(node_role(env->node))));
        json_object_set_new(r, "height", rpc_render_u64(tip.height));
        json_object_set_new(r, "tip_hash", hex_json(tip.hash, 32));
        json_object_set_new(r, "final_height", rpc_render_u64(st.final_height));
        json_object_set_new(r, "licence_status",
                            json_string(rpc_render_licence_status(st.licence_status)));
        json_object_set_new(r, "halted", json_boolean(st.market_halted));
        json_object_set_new(r, "node_key", hex_json(node_identity(env->node)->pubkey, 32));
        json_object_set_new(r, "following", json_boolean(node_following(env->node)));
        json_object_set_new(
            r, "critical_alerts",
            json_integer((json_int_t)node_alert_count(env->node, NODE_ALERT_CRITICAL)));
        json_object_set_new(r, "version", json_string(PACKAGE_VERSION));
    }
    return rpc_outcome_result(out, r, err);
}

int
rpc_m_admin_getpeerinfo(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                        struct rpc_outcome *out, struct sbx_err *err)
{
    json_t *peers;

    (void)m;
    (void)params;
    peers = node_peers_json(env->node);
    return rpc_outcome_result(out, peers ? json_pack("{s:o}", "peers", peers) : NULL, err);
}

int
rpc_m_admin_listnodealerts(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                           struct rpc_outcome *out, struct sbx_err *err)
{
    json_t *items;

    (void)m;
    (void)params;
    items = node_alerts_json(env->node);
    return rpc_outcome_result(out, items ? json_pack("{s:o}", "items", items) : NULL, err);
}

int
rpc_m_admin_stop(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                 struct rpc_outcome *out, struct sbx_err *err)
{
    int rc;

    (void)env;
    (void)m;
    (void)params;
    rc = rpc_outcome_result(out, json_pack("{s:b}", "stopping", 1), err);
    out->stop = 1;
    return rc;
}

#ifdef SBX_TEST_HOOKS
int
rpc_m_admin_testhook(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                     struct rpc_outcome *out, struct sbx_err *err)
{
    json_t *jaction = json_object_get(params, "action");
    const char *action = json_string_value(jaction);

    (void)m;
    if (action == NULL)
        return sbx_err_set(err, SBX_EINVAL, "action: must be a string");
    if (node_role(env->node) != NODE_ROLE_OPERATOR)
        return sbx_err_set(err, SBX_EDENIED, "testhook: only on the operator");
    if (strcmp(action, "wrong_verdict") == 0)
        node_test_fault(env->node, NODE_FAULT_VERDICT);
    else if (strcmp(action, "wrong_digest") == 0)
        node_test_fault(env->node, NODE_FAULT_DIGEST);
    else if (strcmp(action, "backdate") == 0)
        node_test_fault(env->node, NODE_FAULT_BACKDATE);
    else if (strcmp(action, "equivocate") == 0 && env->net != NULL)
        node_net_test_equivocate(env->net);
    else if (strcmp(action, "slow_jobs") == 0)
        node_test_job_delay(env->node, 50); /* per block of a getreport or a verifychain */
    else if (strcmp(action, "liabilities_short") == 0)
        node_test_fault(env->node, NODE_FAULT_LIABILITIES_SHORT);
    else
        return sbx_err_set(err, SBX_EINVAL,
                           "action: one of wrong_verdict, wrong_digest, "
                           "backdate, equivocate, slow_jobs, liabilities_short");
    return rpc_outcome_result(out, json_pack("{s:s}", "armed", action), err);
}
#endif
