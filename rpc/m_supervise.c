/* The supervision methods: the licence as it stands (getlicence), the regulators' attestations
 * and the supervision lag (getsupervision), verifying the stored chain (verifychain), and the
 * daily and monthly reports (getreport, built by rpc/report.c), the k-of-n directives' proposals
 * (listproposals, cosigndirective: node/proposals.c). verifychain and getreport take
 * a while: each makes a background job (struct rpc_job) that the server hands to the node's job
 * thread (node_job_async). verify_run and report_run run on that thread and read only the
 * store and their job; everything else runs on the event-loop thread, where the engine's state
 * is read through node_status_get().
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
#include "rpc/report.h"
#include "util/hex.h"

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

/* The genesis assets, VND first: [{"symbol", "decimals"}]. */
static json_t *
assets_json(const struct ledger_asset_def *assets, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < n; i++)
        json_array_append_new(a, json_pack("{s:s,s:i}", "symbol", assets[i].symbol, "decimals",
                                           (int)assets[i].decimals));
    return a;
}

int
rpc_m_supervise_getlicence(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                           struct rpc_outcome *out, struct sbx_err *err)
{
    struct node_status st;
    const struct cmp_params *p = &st.params;
    json_t *r, *ps, *ha, *set;
    size_t na = env->nassets < SBX_MAX_ASSETS ? env->nassets : SBX_MAX_ASSETS;

    (void)m;
    (void)params;
    node_status_get(env->node, env->now_ms, &st);

    r = json_object();
    ps = json_object();
    ha = json_array();
    set = json_object();
    if (r == NULL || ps == NULL || ha == NULL || set == NULL) {
        json_decref(set);
        json_decref(r);
        json_decref(ps);
        json_decref(ha);
        return rpc_outcome_result(out, NULL, err);
    }
    json_object_set_new(r, "licence_id", json_string(p->licence_id));
    json_object_set_new(r, "house_account", json_string(p->house_account));
    json_object_set_new(r, "status", json_string(rpc_render_licence_status(st.licence_status)));
    json_object_set_new(r, "version", json_integer(p->version));
    json_object_set_new(r, "valid_from", rpc_render_int(p->v[CMP_P_VALID_FROM]));
    json_object_set_new(r, "valid_to", rpc_render_int(p->v[CMP_P_VALID_TO]));
    json_object_set_new(r, "halted", json_boolean(st.market_halted));
    for (size_t i = 1; i < na; i++) {
        if (st.asset_halted[i])
            json_array_append_new(ha, json_string(env->assets[i].symbol));
    }
    json_object_set_new(r, "halted_assets", ha);
    json_object_set_new(r, "assets", assets_json(env->assets, na));
    for (int i = 0; i < CMP_P_COUNT; i++)
        put_param(ps, cmp_params_name((enum cmp_param)i), p->v[i]);
    for (size_t i = 1; i < na; i++) {
        char name[SBX_PARAM_NAME_MAX + 1];

        snprintf(name, sizeof(name), "asset.%s.ref_price_vnd", env->assets[i].symbol);
        put_param(ps, name, p->ref_price[i]);
        json_object_set_new(set, env->assets[i].symbol, rpc_render_int(p->ref_set_ms[i]));
    }
    json_object_set_new(r, "params", ps);
    json_object_set_new(r, "ref_price_set_ms", set);
    return rpc_outcome_result(out, r, err);
}

int
rpc_m_supervise_listproposals(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                              struct rpc_outcome *out, struct sbx_err *err)
{
    struct node_proposal_view *v;
    json_t *items;
    size_t n;
    int rc;

    (void)m;
    (void)params;
    rc = node_proposals_list(env->node, &v, &n, err);
    if (rc)
        return rc;
    items = json_array();
    for (size_t i = 0; items != NULL && i < n; i++)
        json_array_append_new(items, rpc_render_proposal(env, &v[i]));
    free(v);
    return rpc_outcome_result(out, items ? json_pack("{s:o}", "proposals", items) : NULL, err);
}

int
rpc_m_supervise_cosigndirective(const struct rpc_env *env, const struct rpc_method *m,
                                json_t *params, struct rpc_outcome *out, struct sbx_err *err)
{
    json_t *jpub = json_object_get(params, "pubkey"), *jsig = json_object_get(params, "signature");
    struct node_proposal_view v;
    uint8_t id[32], pub[32], sig[64];
    int rc;

    (void)m;
    rc = rpc_params_hex32(json_object_get(params, "proposal_id"), id, "proposal_id", err);
    if (rc)
        return rc;
    if (rpc_params_present(jpub) != rpc_params_present(jsig))
        return sbx_err_set(err, SBX_EINVAL, "pubkey and signature: give both or neither");
    if (rpc_params_present(jpub)) {
        rc = rpc_params_hex32(jpub, pub, "pubkey", err);
        if (rc)
            return rc;
        if (!json_is_string(jsig) || hex_decode(sig, sizeof(sig), json_string_value(jsig),
                                                json_string_length(jsig)) != SBX_OK)
            return sbx_err_set(err, SBX_EINVAL, "signature: must be 128 lowercase hex characters");
    }
    rc = node_proposals_cosign(env->node, id, rpc_params_present(jpub) ? pub : NULL,
                               rpc_params_present(jpub) ? sig : NULL, &v, err);
    if (rc)
        return rc;
    return rpc_outcome_result(out, rpc_render_proposal(env, &v), err);
}

int
rpc_m_supervise_getsupervision(const struct rpc_env *env, const struct rpc_method *m,
                               json_t *params, struct rpc_outcome *out, struct sbx_err *err)
{
    struct node_status st;
    json_t *r, *arr;

    (void)m;
    (void)params;
    node_status_get(env->node, env->now_ms, &st);

    r = json_object();
    arr = json_array();
    if (r == NULL || arr == NULL) {
        json_decref(r);
        json_decref(arr);
        return rpc_outcome_result(out, NULL, err);
    }
    for (size_t i = 0; i < st.nregulators; i++) {
        const struct node_regulator_status *reg = &st.regulators[i];
        json_t *o = json_object();

        if (o == NULL)
            continue;
        json_object_set_new(o, "key", hex_json(reg->key, 32));
        json_object_set_new(o, "attested_height", rpc_render_u64(reg->attested_height));
        if (reg->attested_ms > 0) {
            json_object_set_new(o, "attested_at", rpc_render_int(reg->attested_ms));
            json_object_set_new(o, "lag_ms",
                                rpc_render_int(env->now_ms > reg->attested_ms
                                                   ? env->now_ms - reg->attested_ms
                                                   : 0));
        } else {
            json_object_set_new(o, "attested_at", json_null());
            json_object_set_new(o, "lag_ms", json_null());
        }
        json_array_append_new(arr, o);
    }
    json_object_set_new(r, "regulators", arr);
    json_object_set_new(r, "attestation_quorum", json_integer(st.attestation_quorum));
    json_object_set_new(r, "directive_quorum", json_integer(st.directive_quorum));
    json_object_set_new(r, "final_height", rpc_render_u64(st.final_height));
    json_object_set_new(r, "supervision_ok", json_boolean(st.supervision_ok));
    json_object_set_new(r, "lag_ms", rpc_render_int(st.supervision_lag_ms));
    json_object_set_new(r, "max_lag_s", rpc_render_int(st.params.v[CMP_P_MAX_LAG_S]));
    node_supervision_json(env->node, r);
    return rpc_outcome_result(out, r, err);
}

/* verifychain's job: node_verify of from..to on the job thread. */
struct verify_job {
    struct rpc_job base;
    struct node *node;
    uint64_t from, to;
    uint64_t checked, failed_at; /* written by run */
};

static int
verify_run(struct rpc_job *j, struct sbx_err *err)
{
    struct verify_job *v = (struct verify_job *)j;

    return node_verify(v->node, v->from, v->to, &v->checked, &v->failed_at, err);
}

/* {ok, checked, failed_at?, error?}: a chain that does not verify is a result, not an error. */
static int
verify_finish(struct rpc_job *j, struct rpc_outcome *o, int rc, struct sbx_err *err)
{
    struct verify_job *v = (struct verify_job *)j;
    json_t *r;

    if (rc == SBX_EIO || rc == SBX_ENOMEM || rc == SBX_EINTERNAL || rc == SBX_EUNAVAIL)
        return rc;
    r = json_object();
    if (r != NULL) {
        json_object_set_new(r, "ok", json_boolean(rc == SBX_OK));
        json_object_set_new(r, "checked", rpc_render_u64(v->checked));
        if (rc != SBX_OK) {
            json_object_set_new(r, "failed_at", rpc_render_u64(v->failed_at));
            json_object_set_new(r, "error",
                                rpc_render_text(err->msg[0] ? err->msg : sbx_rc_name(rc)));
        }
    }
    return rpc_outcome_result(o, r, err);
}

static void
job_free(struct rpc_job *j)
{
    free(j);
}

int
rpc_m_supervise_verifychain(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                            struct rpc_outcome *out, struct sbx_err *err)
{
    json_t *jfrom = json_object_get(params, "from"), *jto = json_object_get(params, "to");
    struct verify_job *v;
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
    /* a long chain takes a while: the node checks it on its job thread and the reply follows */
    v = calloc(1, sizeof(*v));
    if (v == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    v->base = (struct rpc_job){verify_run, verify_finish, job_free};
    v->node = env->node;
    v->from = (uint64_t)from;
    v->to = (uint64_t)to;
    rpc_outcome_job(out, &v->base);
    return SBX_OK;
}

/* A CSV report is at most this long (the JSON one is bounded by its lists). */
#define REPORT_CSV_MAX (16u << 20)

/* One of `a` / `b` (`*out` = 1 or 2), else SBX_EINVAL naming `field`. */
static int
pick(const json_t *v, const char *a, const char *b, int *out, const char *field,
     struct sbx_err *err)
{
    const char *s = json_string_value(v);

    if (s != NULL && strcmp(s, a) == 0)
        *out = 1;
    else if (s != NULL && strcmp(s, b) == 0)
        *out = 2;
    else
        return sbx_err_set(err, SBX_EINVAL, "%s: \"%s\" or \"%s\"", field, a, b);
    return SBX_OK;
}

/* getreport's job: the report built on the job thread, from a copy of what it needs of the
 * call's environment (the node, for its store; the genesis assets) and the tip read before. */
struct report_job {
    struct rpc_job base;
    struct rpc_env env; /* no budget, no peer links */
    uint64_t tip;
    enum rpc_report_kind kind;
    int format; /* 1 JSON, 2 CSV */
    char *label;
    json_t *result; /* written by run */
};

static int
report_run(struct rpc_job *j, struct sbx_err *err)
{
    struct report_job *rj = (struct report_job *)j;
    json_t *report = NULL, *r = NULL;
    struct buf csv;
    int rc;

    buf_init(&csv, REPORT_CSV_MAX);
    rc = rpc_report_build(&rj->env, rj->tip, rj->kind, rj->label, &report, err);
    if (rc)
        goto out;
    if (rj->format == 1) {
        rj->result = report;
        report = NULL;
        goto out;
    }
    rc = rpc_report_csv(report, &csv);
    if (rc == SBX_OK)
        rc = buf_put_u8(&csv, '\0');
    if (rc) {
        rc = sbx_err_set(err, rc, "format: the CSV text does not fit");
        goto out;
    }
    r = json_object();
    if (r != NULL) {
        json_object_set_new(r, "csv", json_string((const char *)csv.data));
        json_object_set(r, "report_hash", json_object_get(report, "report_hash"));
    }
    rj->result = r;
    if (r == NULL)
        rc = sbx_err_set(err, SBX_ENOMEM, "out of memory building a result");
out:
    json_decref(report);
    buf_release(&csv);
    return rc;
}

static int
report_finish(struct rpc_job *j, struct rpc_outcome *o, int rc, struct sbx_err *err)
{
    struct report_job *rj = (struct report_job *)j;

    if (rc)
        return rc;
    rc = rpc_outcome_result(o, rj->result, err);
    rj->result = NULL;
    return rc;
}

static void
report_free(struct rpc_job *j)
{
    struct report_job *rj = (struct report_job *)j;

    json_decref(rj->result);
    free(rj->label);
    free(rj);
}

int
rpc_m_supervise_getreport(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                          struct rpc_outcome *out, struct sbx_err *err)
{
    json_t *jdate = json_object_get(params, "date"), *jmonth = json_object_get(params, "month");
    json_t *jformat = json_object_get(params, "format");
    const json_t *label;
    int kind, format = 1, rc;
    struct report_job *rj;
    struct ledger_tip tip;
    int64_t from, to;

    (void)m;
    rc = pick(json_object_get(params, "kind"), "daily", "monthly", &kind, "kind", err);
    if (rc == SBX_OK && rpc_params_present(jformat))
        rc = pick(jformat, "json", "csv", &format, "format", err);
    if (rc)
        return rc;
    label = kind == RPC_REPORT_DAILY ? jdate : jmonth;
    if (rpc_params_present(kind == RPC_REPORT_DAILY ? jmonth : jdate))
        return sbx_err_set(err, SBX_EINVAL, "%s: not for a %s report",
                           kind == RPC_REPORT_DAILY ? "month" : "date",
                           kind == RPC_REPORT_DAILY ? "daily" : "monthly");
    if (!json_is_string(label))
        return sbx_err_set(err, SBX_EINVAL, "%s: missing (a string)",
                           kind == RPC_REPORT_DAILY ? "date" : "month");
    /* the label's form does not depend on the offset, which only the replay knows */
    rc = rpc_report_period((enum rpc_report_kind)kind, json_string_value(label), 0, &from, &to,
                           kind == RPC_REPORT_DAILY ? "date" : "month", err);
    if (rc)
        return rc;
    /* a replay from genesis takes a while: the node runs it on its job thread */
    rj = calloc(1, sizeof(*rj));
    if (rj == NULL || (rj->label = strdup(json_string_value(label))) == NULL) {
        free(rj);
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    }
    rj->base = (struct rpc_job){report_run, report_finish, report_free};
    node_tip(env->node, &tip);
    rj->env = *env;
    rj->env.budget = NULL;
    rj->env.net = NULL;
    rj->tip = tip.height;
    rj->kind = (enum rpc_report_kind)kind;
    rj->format = format;
    rpc_outcome_job(out, &rj->base);
    return SBX_OK;
}
