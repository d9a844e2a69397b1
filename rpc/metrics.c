/* GET /metrics in the Prometheus text exposition format 0.0.4: every family has its # HELP and
 * # TYPE lines, then its samples. What the ledger holds (transactions, rejections, alerts) comes
 * from the chain's tally, kept with the state checkpoints, so the counters are right after a
 * restart; latency histograms live in memory and start empty. Label values come from the
 * X-macro name tables and the method table, so no escaping beyond hex keys is needed.
 *
 * Threads: event loop only.
 */
#include <config.h>

#include "rpc/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>

#include "compliance/rules.h"
#include "ledger/store.h"
#include "rpc/methods.h"
#include "util/array.h"
#include "util/hex.h"
#include "util/time.h"

/* Upper bounds of the RPC latency buckets, in seconds. */
static const double rpc_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                    0.05,   0.1,   0.25,   0.5,   1,    5};

struct rpc_count {
    const char *method; /* static: the method table's name, or "unknown" */
    int code;
    uint64_t n;
};

struct rpc_metrics {
    pthread_mutex_t mu; /* every RPC loop observes; a leaf */
    struct rpc_count *counts;
    size_t ncounts, alloc;
    struct node_histogram duration;
};

struct rpc_metrics *
rpc_metrics_new(void)
{
    struct rpc_metrics *m = calloc(1, sizeof(*m));

    if (m != NULL) {
        pthread_mutex_init(&m->mu, NULL);
        node_metrics_hist_init(&m->duration, rpc_bounds, SBX_ARRAY_LEN(rpc_bounds));
    }
    return m;
}

void
rpc_metrics_free(struct rpc_metrics *m)
{
    if (m == NULL)
        return;
    free(m->counts);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void
rpc_metrics_observe(struct rpc_metrics *m, const char *method, int code, double seconds)
{
    const struct rpc_method *rm = method != NULL ? rpc_methods_find(method) : NULL;
    const char *name = rm != NULL ? rm->name : "unknown";
    size_t i;

    pthread_mutex_lock(&m->mu);
    node_metrics_hist_observe(&m->duration, seconds);
    for (i = 0; i < m->ncounts; i++) {
        if (m->counts[i].method == name && m->counts[i].code == code)
            break;
    }
    if (i == m->ncounts) {
        if (array_reserve(&m->counts, i + 1, &m->alloc, sizeof(*m->counts), 32) != SBX_OK) {
            pthread_mutex_unlock(&m->mu);
            return;
        }
        m->counts[i].method = name;
        m->counts[i].code = code;
        m->counts[i].n = 0;
        m->ncounts++;
    }
    m->counts[i].n++;
    pthread_mutex_unlock(&m->mu);
}

/* ------------------------------------------------------------------ the exposition */

static void
family(struct evbuffer *o, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
histogram(struct evbuffer *o, const char *name, const char *help, const struct node_histogram *h)
{
    uint64_t cum = 0;

    family(o, name, "histogram", help);
    for (size_t i = 0; i < h->nbounds; i++) {
        cum += h->counts[i];
        evbuffer_add_printf(o, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i],
                            (unsigned long long)cum);
    }
    evbuffer_add_printf(o, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", name,
                        (unsigned long long)h->count, name, h->sum, name,
                        (unsigned long long)h->count);
}

/* What the blocks hold: transactions, rejections, compliance alerts. */
static void
ledger_counters(struct evbuffer *o, const struct node_tally *t)
{
    family(o, "sbx_transactions_total", "counter",
           "Transactions in the blocks, by type and verdict.");
    for (int ty = 1; ty < NODE_TALLY_TYPES; ty++) {
        for (int v = 0; v < 2; v++)
            evbuffer_add_printf(o, "sbx_transactions_total{type=\"%s\",verdict=\"%s\"} %llu\n",
                                ledger_tx_type_name(ty), v ? "rejected" : "accepted",
                                (unsigned long long)t->tx[ty][v]);
    }
    family(o, "sbx_rejections_total", "counter", "Rejected transactions in the blocks, by rule.");
    for (int r = 1; r < NODE_TALLY_RULES; r++) {
        const char *name = cmp_rule_name(r);

        if (name != NULL && strcmp(name, "unknown") != 0)
            evbuffer_add_printf(o, "sbx_rejections_total{rule=\"%s\"} %llu\n", name,
                                (unsigned long long)t->rejections[r]);
    }
    family(o, "sbx_alerts_total", "counter", "Compliance alerts in the blocks, by kind.");
    for (int k = 1; k < NODE_TALLY_ALERTS; k++) {
        const char *name = cmp_alert_name(k);

        if (name != NULL && strcmp(name, "unknown") != 0)
            evbuffer_add_printf(o, "sbx_alerts_total{kind=\"%s\"} %llu\n", name,
                                (unsigned long long)t->alerts[k]);
    }
}

/* Node alerts by kind and severity, counted from the node's list (small, kept in the store). */
static void
node_alert_counters(struct evbuffer *o, struct node *node)
{
    json_t *a = node_alerts_json(node), *item, *seen = json_object();
    const char *key;
    json_t *v;
    size_t i;

    family(o, "sbx_node_alerts_total", "counter", "Node alerts raised, by kind and severity.");
    json_array_foreach(a, i, item)
    {
        char k[256];
        const char *kind = json_string_value(json_object_get(item, "kind"));
        const char *sev = json_string_value(json_object_get(item, "severity"));

        if (seen == NULL || kind == NULL || sev == NULL)
            continue;
        snprintf(k, sizeof(k), "kind=\"%s\",severity=\"%s\"", kind, sev);
        json_object_set_new(seen, k,
                            json_integer(json_integer_value(json_object_get(seen, k)) + 1));
    }
    json_object_foreach(seen, key, v)
    {
        evbuffer_add_printf(o, "sbx_node_alerts_total{%s} %lld\n", key,
                            (long long)json_integer_value(v));
    }
    json_decref(seen);
    json_decref(a);
}

/* Peers by role, from the network layer's list. */
static void
peer_gauges(struct evbuffer *o, struct node *node)
{
    static const char *const roles[] = {"operator", "regulator", "observer"};
    json_t *a = node_peers_json(node), *item;
    size_t n[SBX_ARRAY_LEN(roles)] = {0}, i;

    json_array_foreach(a, i, item)
    {
        const char *r = json_string_value(json_object_get(item, "role"));

        for (size_t j = 0; r != NULL && j < SBX_ARRAY_LEN(roles); j++)
            n[j] += strcmp(r, roles[j]) == 0;
    }
    json_decref(a);
    family(o, "sbx_peers", "gauge", "Open peer links, by the peer's role.");
    for (size_t j = 0; j < SBX_ARRAY_LEN(roles); j++)
        evbuffer_add_printf(o, "sbx_peers{role=\"%s\"} %zu\n", roles[j], n[j]);
}

/* The bytes committed to the store since start, by key kind (ledger/store.h's letters). */
static void
store_counters(struct evbuffer *o, struct node *node)
{
    uint64_t w[LEDGER_STORE_KINDS];

    ledger_store_written(node_store(node), w);
    family(o, "sbx_store_written_bytes_total", "counter",
           "Key and value bytes committed to the store since start, by key kind.");
    for (int k = 0; k < LEDGER_STORE_KINDS; k++)
        if (w[k] != 0 && k >= 'A' && k <= 'Z')
            evbuffer_add_printf(o, "sbx_store_written_bytes_total{kind=\"%c\"} %llu\n", k,
                                (unsigned long long)w[k]);
}

static double
ratio(int64_t used, int64_t limit)
{
    return limit > 0 ? (double)used / (double)limit : 0;
}

/* The chain, supervision, the licence and the exchange-wide limits at `now_ms`. */
static void
status_gauges(struct evbuffer *o, struct node *node, int64_t now_ms)
{
    struct node_status *st = malloc(sizeof(*st));
    struct node_exchange_usage u;
    struct ledger_tip tip;

    node_tip(node, &tip);
    family(o, "sbx_height", "gauge", "Height of the durable tip.");
    evbuffer_add_printf(o, "sbx_height %llu\n", (unsigned long long)tip.height);
    if (st == NULL)
        return;
    node_status_get(node, now_ms, st);
    family(o, "sbx_final_height", "gauge", "Highest height attested by a quorum of regulators.");
    evbuffer_add_printf(o, "sbx_final_height %llu\n", (unsigned long long)st->final_height);
    family(o, "sbx_supervision_lag_seconds", "gauge",
           "Time since the regulators' attestations last kept up.");
    evbuffer_add_printf(o, "sbx_supervision_lag_seconds %.3f\n",
                        (double)st->supervision_lag_ms / 1000.0);
    family(o, "sbx_regulator_attested_height", "gauge",
           "The latest height each regulator attested, by its key.");
    for (size_t i = 0; i < st->nregulators; i++) {
        char hex[65];

        hex_encode(hex, st->regulators[i].key, 32);
        evbuffer_add_printf(o, "sbx_regulator_attested_height{regulator=\"%s\"} %llu\n", hex,
                            (unsigned long long)st->regulators[i].attested_height);
    }
    family(o, "sbx_licence_expiry_seconds", "gauge",
           "Seconds until licence.valid_to (negative once it has passed).");
    evbuffer_add_printf(o, "sbx_licence_expiry_seconds %.3f\n",
                        (double)(st->params.v[CMP_P_VALID_TO] - now_ms) / 1000.0);
    free(st);
    node_exchange_usage_get(node, now_ms, &u);
    family(o, "sbx_limit_usage_ratio", "gauge",
           "Exchange-wide usage of a licence limit, as a fraction of it (0 when unlimited).");
    evbuffer_add_printf(o, "sbx_limit_usage_ratio{limit=\"limit.exchange_daily\"} %.6f\n",
                        ratio(u.daily_used, u.daily_limit));
    evbuffer_add_printf(o, "sbx_limit_usage_ratio{limit=\"limit.exchange_total\"} %.6f\n",
                        ratio(u.total_used, u.total_limit));
    evbuffer_add_printf(o, "sbx_limit_usage_ratio{limit=\"participants_max\"} %.6f\n",
                        ratio(u.active_accounts, u.participants_max));
}

int
rpc_metrics_render(struct rpc_metrics *m, struct node *node, int64_t now_ms, struct evbuffer *out)
{
    struct node_metrics_snapshot *s = malloc(sizeof(*s));

    if (s == NULL)
        return SBX_ENOMEM;
    node_metrics_get(node, s);
    family(out, "sbx_build_info", "gauge", "The running version (always 1).");
    evbuffer_add_printf(out, "sbx_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
    status_gauges(out, node, now_ms);
    ledger_counters(out, &s->tally);
    node_alert_counters(out, node);
    peer_gauges(out, node);
    store_counters(out, node);
    histogram(out, "sbx_commit_duration_seconds", "Duration of one synced write of blocks.",
              &s->commit);
    histogram(out, "sbx_block_transactions", "Transactions per block written.", &s->block_txs);
    histogram(out, "sbx_attestation_latency_seconds",
              "Operator: from a block's durability to a regulator's attestation of it.",
              &s->attest);
    free(s);
    family(out, "sbx_rpc_requests_total", "counter",
           "JSON-RPC calls answered, by method and code (0 for a result).");
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->ncounts; i++)
        evbuffer_add_printf(out, "sbx_rpc_requests_total{method=\"%s\",code=\"%d\"} %llu\n",
                            m->counts[i].method, m->counts[i].code,
                            (unsigned long long)m->counts[i].n);
    histogram(out, "sbx_rpc_request_duration_seconds",
              "Duration of a JSON-RPC HTTP request, once per call.", &m->duration);
    pthread_mutex_unlock(&m->mu);
    return SBX_OK;
}
