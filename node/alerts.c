/* Node alerts: what this node saw (a refused block, an equivocation, a directive that timed
 * out), kept in the store beside the chain and listed by RPC. They are never in a block's batch
 * and never in the state digest: they are not ledger state.
 *
 * Threads: node_alerts_init, node_alerts_load and node_alerts_release run on the event-loop
 * thread while no other thread runs (node_open, node_close); node_alert, node_alerts_json and
 * node_alerts_total and node_alert_count on any thread (they take alert_mu, a leaf lock);
 * node_alert then wakes the event loop (the committer's done_ev), where notify tells the node's
 * watches of the new alert.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "node/node_int.h"
#include "util/array.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/time.h"

static void
alerts_append(struct node_alerts *a, json_t *obj, int64_t time_ms, enum node_alert_severity sev)
{
    a->items[a->n].obj = obj;
    a->items[a->n].time_ms = time_ms;
    a->items[a->n].sev = sev;
    a->n++;
}

#define SEVERITY_ENTRY(e, n, s) {e, s},
static const struct {
    enum node_alert_severity sev;
    const char *name;
} severity_names[] = {NODE_ALERT_SEVERITIES(SEVERITY_ENTRY)};

static const char *
severity_name(enum node_alert_severity sev)
{
    for (size_t i = 0; i < SBX_ARRAY_LEN(severity_names); i++) {
        if (severity_names[i].sev == sev)
            return severity_names[i].name;
    }
    return "warning";
}

/* The severity called `name`; a stored alert with none we know is kept as a warning. */
static enum node_alert_severity
severity_parse(const char *name)
{
    for (size_t i = 0; name != NULL && i < SBX_ARRAY_LEN(severity_names); i++) {
        if (strcmp(severity_names[i].name, name) == 0)
            return severity_names[i].sev;
    }
    return NODE_ALERT_WARNING;
}

static int
alert_load_cb(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct node_alerts *a = ctx;
    json_t *o = json_loadb((const char *)val, vlen, 0, NULL);
    json_t *jt = o ? json_object_get(o, "time") : NULL;
    json_t *js = o ? json_object_get(o, "severity") : NULL;
    const char *sev = js ? json_string_value(js) : NULL;

    if (o == NULL || !json_is_object(o))
        return 0;
    if (array_reserve(&a->items, a->n + 1, &a->alloc, sizeof(*a->items), 16) != SBX_OK) {
        json_decref(o);
        return 1;
    }
    alerts_append(a, o, json_integer_value(jt), severity_parse(sev));
    return 0;
}

void
node_alerts_init(struct node *n)
{
    pthread_mutex_init(&n->alerts.mu, NULL);
}

void
node_alerts_load(struct node *n)
{
    uint8_t prefix[LEDGER_STORE_KEY_PAIR_LEN];
    size_t plen = ledger_store_prefix_meta_alert(prefix);

    if (ledger_store_scan(node_chain_store(n->chain), prefix, plen, NULL, 0, 0, alert_load_cb,
                          &n->alerts, NULL) != SBX_OK)
        LOG_WARN(LOG_NODE, "cannot read the node alerts kept in the store");
}

void
node_alerts_release(struct node *n)
{
    for (size_t i = 0; i < n->alerts.n; i++)
        json_decref(n->alerts.items[i].obj);
    free(n->alerts.items);
    pthread_mutex_destroy(&n->alerts.mu);
}

/* The alert as a JSON object; NULL when out of memory (then `proof` is released). */
static json_t *
alert_json(uint64_t seq, int64_t now, enum node_alert_severity sev, const char *kind,
           const char *msg, uint64_t height, const uint8_t *peer, json_t *proof)
{
    json_t *o = json_object();
    char hex[65];

    if (o == NULL) {
        json_decref(proof);
        return NULL;
    }
    json_object_set_new(o, "seq", json_integer((json_int_t)seq));
    json_object_set_new(o, "time", json_integer(now));
    json_object_set_new(o, "severity", json_string(severity_name(sev)));
    json_object_set_new(o, "kind", json_string(kind));
    json_object_set_new(o, "message", json_string(msg));
    json_object_set_new(o, "height", json_integer((json_int_t)height));
    if (peer != NULL) {
        hex_encode(hex, peer, 32);
        json_object_set_new(o, "peer", json_string(hex));
    }
    if (proof != NULL)
        json_object_set_new(o, "proof", proof);
    return o;
}

/* Keep alert number `seq` in the store (synced). */
static void
alert_store(struct node *n, uint64_t seq, const char *text)
{
    struct ledger_store_batch *b = ledger_store_batch_new();
    uint8_t key[LEDGER_STORE_KEY_META_ALERT_LEN];
    size_t klen = ledger_store_key_meta_alert(key, seq);
    struct sbx_err err;

    if (b == NULL)
        return;
    ledger_store_batch_put(b, key, klen, text, strlen(text));
    if (ledger_store_commit(node_chain_store(n->chain), b, 1, &err) != SBX_OK)
        LOG_ERROR(LOG_NODE, "cannot keep the alert in the store: %s", err.msg);
    ledger_store_batch_free(b);
}

void
node_alert(struct node *n, enum node_alert_severity sev, const char *kind, uint64_t height,
           const uint8_t *peer, json_t *proof, const char *fmt, ...)
{
    struct node_alerts *a = &n->alerts;
    int64_t now = time_now_ms();
    char msg[512], *text = NULL;
    uint64_t seq;
    json_t *o;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (sev == NODE_ALERT_CRITICAL)
        LOG_ERROR(LOG_NODE, "CRITICAL ALERT (%s): %s", kind, msg);
    else
        LOG_WARN(LOG_NODE, "alert (%s): %s", kind, msg);
    pthread_mutex_lock(&a->mu);
    o = NULL;
    if (array_reserve(&a->items, a->n + 1, &a->alloc, sizeof(*a->items), 16) == SBX_OK)
        o = alert_json((uint64_t)a->n + 1, now, sev, kind, msg, height, peer, proof);
    else
        json_decref(proof);
    if (o == NULL) {
        pthread_mutex_unlock(&a->mu);
        LOG_ERROR(LOG_NODE, "out of memory: the alert above is only in the log");
        return;
    }
    alerts_append(a, o, now, sev);
    seq = (uint64_t)a->n;
    text = json_dumps(o, JSON_COMPACT);
    pthread_mutex_unlock(&a->mu);
    if (text != NULL) {
        alert_store(n, seq, text);
        free(text);
    }
    if (n->commit.done_ev != NULL)
        event_active(n->commit.done_ev, EV_READ, 0); /* the watches hear of it on the loop */
}

json_t *
node_alerts_json(struct node *n)
{
    json_t *a = json_array();

    if (a == NULL)
        return NULL;
    pthread_mutex_lock(&n->alerts.mu);
    for (size_t i = 0; i < n->alerts.n; i++)
        json_array_append(a, n->alerts.items[i].obj);
    pthread_mutex_unlock(&n->alerts.mu);
    return a;
}

uint64_t
node_alerts_total(struct node *n)
{
    uint64_t k;

    pthread_mutex_lock(&n->alerts.mu);
    k = n->alerts.n;
    pthread_mutex_unlock(&n->alerts.mu);
    return k;
}

size_t
node_alert_count(struct node *n, enum node_alert_severity sev)
{
    size_t k = 0;

    pthread_mutex_lock(&n->alerts.mu);
    for (size_t i = 0; i < n->alerts.n; i++)
        k += n->alerts.items[i].sev == sev;
    pthread_mutex_unlock(&n->alerts.mu);
    return k;
}
