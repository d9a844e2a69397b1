/* The supervision methods: the licence as it stands (getlicence), the regulators' attestations
 * and the supervision lag (getsupervision), and verifying the stored chain (verifychain, run by
 * the node on a thread of its own). Event-loop thread; the engine is read under node_lock().
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "rpc/m_supervise.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance/engine.h"
#include "compliance/params.h"
#include "rpc/params.h"
#include "rpc/render.h"
#include "util/hex.h"

static int
cmp_u64_desc(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

    return (a < b) - (a > b);
}

uint64_t
rpc_m_supervise_final_height(const struct cmp_engine *e)
{
    const struct ledger_genesis *g = cmp_engine_genesis(e);
    uint64_t h[SBX_MAX_REGULATORS];
    size_t n = g->nregulators < SBX_MAX_REGULATORS ? g->nregulators : SBX_MAX_REGULATORS;
    int64_t t;

    if (g->attestation_quorum == 0 || g->attestation_quorum > n)
        return 0;
    for (size_t i = 0; i < n; i++)
        cmp_engine_attested(e, i, &h[i], &t);
    qsort(h, n, sizeof(h[0]), cmp_u64_desc);
    return h[g->attestation_quorum - 1];
}

/* VND amounts travel as decimal strings; counts, times and percentages as integers. */
static int
is_amount_param(const char *name)
{
    size_t n = strlen(name);

    if (n > 4 && strcmp(name + n - 4, "_vnd") == 0)
        return 1;
    return strncmp(name, "limit.", 6) == 0 && strcmp(name, "limit.participants_max") != 0 &&
           strcmp(name, "limit.foreign_factor_pct") != 0;
}

static void
put_param(json_t *o, const char *name, int64_t v)
{
    json_object_set_new(o, name,
                        is_amount_param(name) ? rpc_render_amount(v, 0) : rpc_render_int(v));
}

int
rpc_m_supervise_getlicence(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                           struct rpc_outcome *out, struct sbx_err *err)
{
    struct cmp_params p;
    struct cmp_engine *e;
    int status, halted, asset_halted[SBX_MAX_ASSETS] = {0};
    json_t *r, *ps, *ha;
    size_t na = env->nassets < SBX_MAX_ASSETS ? env->nassets : SBX_MAX_ASSETS;

    (void)m;
    (void)params;
    node_lock(env->node);
    e = node_engine(env->node);
    p = *cmp_engine_params(e);
    status = cmp_engine_licence_status(e);
    halted = cmp_engine_market_halted(e);
    for (size_t i = 1; i < na; i++)
        asset_halted[i] = cmp_engine_asset_halted(e, (int)i);
    node_unlock(env->node);

    r = json_object();
    ps = json_object();
    ha = json_array();
    if (r == NULL || ps == NULL || ha == NULL) {
        json_decref(r);
        json_decref(ps);
        json_decref(ha);
        return rpc_outcome_result(out, NULL, err);
    }
    json_object_set_new(r, "licence_id", json_string(p.licence_id));
    json_object_set_new(r, "house_account", json_string(p.house_account));
    json_object_set_new(r, "status", json_string(rpc_render_licence_status(status)));
    json_object_set_new(r, "version", json_integer(p.version));
    json_object_set_new(r, "valid_from", rpc_render_int(p.v[CMP_P_VALID_FROM]));
    json_object_set_new(r, "valid_to", rpc_render_int(p.v[CMP_P_VALID_TO]));
    json_object_set_new(r, "halted", json_boolean(halted));
    for (size_t i = 1; i < na; i++) {
        if (asset_halted[i])
            json_array_append_new(ha, json_string(env->assets[i].symbol));
    }
    json_object_set_new(r, "halted_assets", ha);
    for (int i = 0; i < CMP_P_COUNT; i++)
        put_param(ps, cmp_params_name((enum cmp_param)i), p.v[i]);
    for (size_t i = 1; i < na; i++) {
        char name[SBX_PARAM_NAME_MAX + 1];

        snprintf(name, sizeof(name), "asset.%s.ref_price_vnd", env->assets[i].symbol);
        put_param(ps, name, p.ref_price[i]);
    }
    json_object_set_new(r, "params", ps);
    return rpc_outcome_result(out, r, err);
}

int
rpc_m_supervise_getsupervision(const struct rpc_env *env, const struct rpc_method *m,
                               json_t *params, struct rpc_outcome *out, struct sbx_err *err)
{
    struct {
        uint8_t key[32];
        uint64_t height;
        int64_t time;
    } regs[SBX_MAX_REGULATORS];
    const struct ledger_genesis *g;
    struct cmp_engine *e;
    size_t n;
    uint64_t fin;
    int64_t lag = 0, max_lag_s;
    int ok, aq, dq;
    json_t *r, *arr;

    (void)m;
    (void)params;
    node_lock(env->node);
    e = node_engine(env->node);
    g = cmp_engine_genesis(e);
    n = g->nregulators < SBX_MAX_REGULATORS ? g->nregulators : SBX_MAX_REGULATORS;
    for (size_t i = 0; i < n; i++) {
        memcpy(regs[i].key, g->regulator_keys[i], 32);
        cmp_engine_attested(e, i, &regs[i].height, &regs[i].time);
    }
    aq = g->attestation_quorum;
    dq = g->directive_quorum;
    fin = rpc_m_supervise_final_height(e);
    ok = cmp_engine_supervision_ok(e, env->now_ms, &lag) == SBX_OK;
    max_lag_s = cmp_engine_params(e)->v[CMP_P_MAX_LAG_S];
    node_unlock(env->node);

    r = json_object();
    arr = json_array();
    if (r == NULL || arr == NULL) {
        json_decref(r);
        json_decref(arr);
        return rpc_outcome_result(out, NULL, err);
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();

        if (o == NULL)
            continue;
        json_object_set_new(o, "key", hex_json(regs[i].key, 32));
        json_object_set_new(o, "attested_height", rpc_render_u64(regs[i].height));
        if (regs[i].time > 0) {
            json_object_set_new(o, "attested_at", rpc_render_int(regs[i].time));
            json_object_set_new(
                o, "lag_ms",
                rpc_render_int(env->now_ms > regs[i].time ? env->now_ms - regs[i].time : 0));
        } else {
            json_object_set_new(o, "attested_at", json_null());
            json_object_set_new(o, "lag_ms", json_null());
        }
        json_array_append_new(arr, o);
    }
    json_object_set_new(r, "regulators", arr);
    json_object_set_new(r, "attestation_quorum", json_integer(aq));
    json_object_set_new(r, "directive_quorum", json_integer(dq));
    json_object_set_new(r, "final_height", rpc_render_u64(fin));
    json_object_set_new(r, "supervision_ok", json_boolean(ok));
    json_object_set_new(r, "lag_ms", rpc_render_int(lag));
    json_object_set_new(r, "max_lag_s", rpc_render_int(max_lag_s));
    node_supervision_json(env->node, r);
    return rpc_outcome_result(out, r, err);
}

int
rpc_m_supervise_verifychain(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                            struct rpc_outcome *out, struct sbx_err *err)
{
    json_t *jfrom = json_object_get(params, "from"), *jto = json_object_get(params, "to");
    struct ledger_tip tip;
    int64_t from = 0, to;
    int rc;

    (void)m;
    node_tip(env->node, &tip);
    to = (int64_t)tip.height;
    rc = rpc_params_present(jfrom) ? rpc_params_int(jfrom, 0, INT64_MAX, &from, "from", err) : 0;
    if (rc == SBX_OK && rpc_params_present(jto))
        rc = rpc_params_int(jto, 0, INT64_MAX, &to, "to", err);
    if (rc == SBX_OK && from > to)
        rc = sbx_err_set(err, SBX_EINVAL, "from: after to (%lld > %lld)", (long long)from,
                         (long long)to);
    if (rc)
        return rc;
    /* a long chain takes a while: the node checks it on a thread of its own and the reply
     * follows (rpc/server.c hands this to node_verify_async) */
    out->kind = RPC_OUT_VERIFY;
    out->vfrom = (uint64_t)from;
    out->vto = (uint64_t)to;
    return SBX_OK;
}
