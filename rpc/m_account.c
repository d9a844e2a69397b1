/* The account methods: an account's standing and balances (getaccount) and the usage of the
 * limits, of one account or exchange-wide (getusage), as the node holds them now or as of a past
 * block. Now: a copy of the engine's state taken under the node's lock (node_account_get). As of
 * a block: node/asof.c rebuilds what the question needs from the history records in the store,
 * a few seeks for one account whatever the height, so the answer is the same on the operator
 * and every regulator node. The exchange-wide figures as of a block take one pass over every
 * state key: the node's background job computes them (usage_run, on the job thread).
 * Everything else runs on the RPC loop of the call, with a few store reads at most.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "rpc/m_account.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/state.h"
#include "rpc/params.h"
#include "rpc/render.h"
#include "util/hex.h"

int
rpc_m_account_asof(const struct rpc_env *env, const json_t *params, int *set, uint64_t *height,
                   struct sbx_err *err)
{
    const json_t *jh = json_object_get(params, "height"), *jt = json_object_get(params, "time");
    int64_t v;
    int rc;

    *set = 0;
    if (rpc_params_present(jh) && rpc_params_present(jt))
        return sbx_err_set(err, SBX_EINVAL, "height: give either height or time, not both");
    if (rpc_params_present(jh)) {
        rc = rpc_params_int(jh, 0, INT64_MAX, &v, "height", err);
        if (rc)
            return rc;
        *height = (uint64_t)v;
        *set = 1;
        return SBX_OK;
    }
    if (!rpc_params_present(jt))
        return SBX_OK;
    rc = rpc_params_int(jt, 0, INT64_MAX, &v, "time", err);
    if (rc == SBX_OK)
        rc = node_asof_height_at(env->node, v, height, err);
    *set = rc == SBX_OK;
    return rc;
}

static json_t *
limit_json(int64_t used, int64_t limit, const char *period)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "used", rpc_render_amount(used, 0));
    json_object_set_new(o, "limit", rpc_render_amount(limit, 0));
    json_object_set_new(o, "remaining", rpc_render_amount(limit > used ? limit - used : 0, 0));
    json_object_set_new(o, "period", json_string(period));
    return o;
}

static json_t *
account_limits_json(const struct node_account *au)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    /* a single trade uses nothing beforehand: the whole limit is left for the next one */
    json_object_set_new(o, "limit.per_trade", limit_json(0, au->usage.per_trade_limit, "trade"));
    json_object_set_new(o, "limit.daily",
                        limit_json(au->usage.daily_used, au->usage.daily_limit, "day"));
    json_object_set_new(o, "limit.monthly",
                        limit_json(au->usage.monthly_used, au->usage.monthly_limit, "month"));
    json_object_set_new(o, "limit.holding",
                        limit_json(au->holding_used, au->usage.holding_limit, "holding"));
    return o;
}

/* Account `id` now (`*now` = the call's time) or as of the block the params name (`*now` = its
 * time; `*asof` 1 and `*height` the block). */
static int
account_at(const struct rpc_env *env, const json_t *params, const char *id, struct node_account *u,
           int *asof, uint64_t *height, int64_t *now, struct sbx_err *err)
{
    int rc = rpc_m_account_asof(env, params, asof, height, err);

    if (rc)
        return rc;
    if (*asof)
        return node_asof_account_get(env->node, *height, id, u, now, err);
    *now = env->now_ms;
    rc = node_account_get(env->node, id, env->now_ms, u);
    if (rc == SBX_ENOTFOUND)
        return sbx_err_set(err, SBX_ENOTFOUND, "account: no account %s", id);
    if (rc)
        return sbx_err_set(err, rc, "usage of an existing account");
    return SBX_OK;
}

static void
put_asof(json_t *r, int asof, uint64_t height)
{
    if (asof)
        json_object_set_new(r, "as_of_height", rpc_render_u64(height));
}

int
rpc_m_account_getaccount(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                         struct rpc_outcome *out, struct sbx_err *err)
{
    char id[SBX_ID_MAX + 1];
    json_t *r, *bal;
    struct node_account u;
    const struct ledger_account *acc = &u.account;
    size_t na = env->nassets < SBX_MAX_ASSETS ? env->nassets : SBX_MAX_ASSETS;
    uint64_t height = 0;
    int64_t now;
    int asof, rc;

    (void)m;
    rc = rpc_params_id(json_object_get(params, "account"), SBX_ID_MAX, id, "account", err);
    if (rc == SBX_OK)
        rc = account_at(env, params, id, &u, &asof, &height, &now, err);
    if (rc)
        return rc;
    r = json_object();
    bal = json_object();
    if (r == NULL || bal == NULL) {
        json_decref(r);
        json_decref(bal);
        return rpc_outcome_result(out, NULL, err);
    }
    json_object_set_new(r, "account", json_string(acc->id));
    json_object_set_new(r, "kyc_tier", json_integer(acc->kyc_tier));
    json_object_set_new(r, "investor_class",
                        json_string(ledger_investor_class_name(acc->investor_class)));
    json_object_set_new(r, "country", json_string(acc->country));
    json_object_set_new(r, "status", json_string(ledger_account_status_name(acc->status)));
    json_object_set_new(r, "frozen", json_boolean(acc->frozen));
    json_object_set_new(r, "sanctioned", json_boolean(u.sanctioned));
    json_object_set_new(r, "kyc_ref", hex_json(acc->kyc_ref, 32));
    json_object_set_new(r, "bank_ref", hex_json(acc->bank_ref, 32));
    json_object_set_new(r, "opened_at", rpc_render_int(acc->opened_ms));
    json_object_set_new(r, "updated_at", rpc_render_int(acc->updated_ms));
    json_object_set_new(r, "last_activity_at", rpc_render_int(acc->last_activity_ms));
    for (size_t i = 0; i < na; i++)
        json_object_set_new(bal, env->assets[i].symbol,
                            rpc_render_amount(acc->balance[i], env->assets[i].decimals));
    json_object_set_new(r, "balances", bal);
    json_object_set_new(r, "usage", account_limits_json(&u));
    put_asof(r, asof, height);
    return rpc_outcome_result(out, r, err);
}

static json_t *
exchange_limits_json(const struct node_exchange_usage *x)
{
    json_t *limits = json_object();

    if (limits == NULL)
        return NULL;
    json_object_set_new(limits, "limit.exchange_daily",
                        limit_json(x->daily_used, x->daily_limit, "day"));
    json_object_set_new(limits, "limit.exchange_total",
                        limit_json(x->total_used, x->total_limit, "licence"));
    json_object_set_new(limits, "limit.participants",
                        json_pack("{s:I, s:I, s:I, s:s}", "used", (json_int_t)x->active_accounts,
                                  "limit", (json_int_t)x->participants_max, "remaining",
                                  (json_int_t)(x->participants_max > x->active_accounts
                                                   ? x->participants_max - x->active_accounts
                                                   : 0),
                                  "period", "licence"));
    return limits;
}

/* getusage's result: one account's limits (`account` not NULL) or the exchange's, at `now`. */
static json_t *
usage_json(const char *account, const struct node_account *u, const struct node_exchange_usage *x,
           int64_t now, int asof, uint64_t height)
{
    json_t *r = json_object();

    if (r == NULL)
        return NULL;
    if (account != NULL) {
        json_object_set_new(r, "account", json_string(account));
        json_object_set_new(r, "time", rpc_render_int(now));
        json_object_set_new(r, "limits", account_limits_json(u));
    } else {
        json_object_set_new(r, "time", rpc_render_int(now));
        json_object_set_new(r, "limits", exchange_limits_json(x));
    }
    put_asof(r, asof, height);
    return r;
}

/* The exchange-wide figures as of a block count the accounts open then, which reads every
 * account's version at that block: a cost that grows with the accounts, so the node's background
 * job computes it (one job at a time, as getreport), not the RPC loop. */
struct usage_job {
    struct rpc_job base;
    struct node *node;
    uint64_t height;
    int64_t time_ms;              /* written by run */
    struct node_exchange_usage x; /* likewise */
};

static int
usage_run(struct rpc_job *j, struct sbx_err *err)
{
    struct usage_job *u = (struct usage_job *)j;

    return node_asof_exchange_usage_get(u->node, u->height, &u->x, &u->time_ms, err);
}

static int
usage_finish(struct rpc_job *j, struct rpc_outcome *o, int rc, struct sbx_err *err)
{
    struct usage_job *u = (struct usage_job *)j;

    if (rc)
        return rc;
    return rpc_outcome_result(o, usage_json(NULL, NULL, &u->x, u->time_ms, 1, u->height), err);
}

static void
usage_free(struct rpc_job *j)
{
    free(j);
}

int
rpc_m_account_getusage(const struct rpc_env *env, const struct rpc_method *m, json_t *params,
                       struct rpc_outcome *out, struct sbx_err *err)
{
    char id[SBX_ID_MAX + 1];
    const json_t *jacc = json_object_get(params, "account");
    struct node_account u;
    struct node_exchange_usage x;
    struct usage_job *job;
    uint64_t height = 0;
    int64_t now = env->now_ms;
    int asof = 0, rc;

    (void)m;
    if (rpc_params_present(jacc)) {
        rc = rpc_params_id(jacc, SBX_ID_MAX, id, "account", err);
        if (rc == SBX_OK)
            rc = account_at(env, params, id, &u, &asof, &height, &now, err);
        if (rc)
            return rc;
        return rpc_outcome_result(out, usage_json(id, &u, NULL, now, asof, height), err);
    }
    rc = rpc_m_account_asof(env, params, &asof, &height, err);
    if (rc)
        return rc;
    if (!asof) {
        node_exchange_usage_get(env->node, env->now_ms, &x);
        return rpc_outcome_result(out, usage_json(NULL, NULL, &x, now, 0, 0), err);
    }
    job = calloc(1, sizeof(*job));
    if (job == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    job->base = (struct rpc_job){usage_run, usage_finish, usage_free};
    job->node = env->node;
    job->height = height;
    rpc_outcome_job(out, &job->base);
    return SBX_OK;
}
