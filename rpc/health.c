/* GET /health: failed when the node cannot do its job (a follower that stopped following after
 * a refused block or an equivocation, a critical node alert on record but storage_failed, a
 * store that could not write since the start, an operator whose regulators no longer supervise
 * it), degraded when it soon may not (a follower without any peer link, supervision lag past
 * half of supervision.max_lag_s), ok otherwise. Each reason is a stable machine-readable word
 * first, then detail.
 *
 * Threads: event loop only (the node's figures come through the snapshot functions).
 */
#include "rpc/health.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "util/time.h"

enum level { OK, DEGRADED, FAILED };

static void reason(json_t *reasons, enum level *lvl, enum level l, const char *fmt, ...)
    SBX_PRINTF(4, 5);

static void
reason(json_t *reasons, enum level *lvl, enum level l, const char *fmt, ...)
{
    char text[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    json_array_append_new(reasons, json_string(text));
    if (l > *lvl)
        *lvl = l;
}

/* Operator: supervision; every role: the node alerts and the store. */
static void
check_supervision(struct node *node, int64_t now_ms, json_t *reasons, enum level *lvl)
{
    struct node_status *st = malloc(sizeof(*st));
    int64_t max_lag_ms;

    if (st == NULL)
        return;
    node_status_get(node, now_ms, st);
    max_lag_ms = st->params.v[CMP_P_MAX_LAG_S] * 1000;
    if (node_role(node) == NODE_ROLE_OPERATOR && !st->supervision_ok)
        reason(reasons, lvl, FAILED, "supervision: regulators have not attested within %lld s",
               (long long)st->params.v[CMP_P_MAX_LAG_S]);
    else if (max_lag_ms > 0 && st->supervision_lag_ms > max_lag_ms / 2)
        reason(reasons, lvl, DEGRADED, "supervision_lag: %lld ms, over half of %lld s",
               (long long)st->supervision_lag_ms, (long long)st->params.v[CMP_P_MAX_LAG_S]);
    free(st);
}

/* The critical node alerts on record but storage_failed: the `store` reason reports a failed
 * write while it lasts, and a restart ends it (the alert, kept if the store could still write
 * it, is history then, not a reason to stay out of service). */
static size_t
critical_alerts(struct node *node)
{
    json_t *a = node_alerts_json(node), *item;
    size_t i, k = 0;

    json_array_foreach(a, i, item)
    {
        const char *sev = json_string_value(json_object_get(item, "severity"));
        const char *kind = json_string_value(json_object_get(item, "kind"));

        if (sev != NULL && strcmp(sev, "critical") == 0 &&
            (kind == NULL || strcmp(kind, "storage_failed") != 0))
            k++;
    }
    json_decref(a);
    return k;
}

json_t *
rpc_health_json(struct node *node, int64_t now_ms)
{
    static const char *const names[] = {"ok", "degraded", "failed"};
    json_t *reasons = json_array();
    enum level lvl = OK;
    size_t critical = critical_alerts(node);

    if (reasons == NULL)
        return NULL;
    if (node_storage_failure(node) != NULL)
        reason(reasons, &lvl, FAILED,
               "store: a block could not be written (%s): submissions are refused until the node "
               "is restarted",
               node_storage_failure(node));
    else if (node_failed(node))
        reason(reasons, &lvl, FAILED, "store: the node stopped taking submissions after an error");
    if (!node_following(node))
        reason(reasons, &lvl, FAILED,
               "not_following: a block was refused or the producer equivocated");
    if (critical > 0)
        reason(reasons, &lvl, FAILED, "critical_alert: %zu critical node alerts", critical);
    if (node_role(node) != NODE_ROLE_OPERATOR) {
        json_t *peers = node_peers_json(node);

        if (peers != NULL && json_array_size(peers) == 0)
            reason(reasons, &lvl, DEGRADED, "no_peers: no link to the operator or a peer");
        json_decref(peers);
    }
    check_supervision(node, now_ms, reasons, &lvl);
    return json_pack("{s:s, s:o}", "status", names[lvl], "reasons", reasons);
}

int
rpc_health_render(struct node *node, int64_t now_ms, struct evbuffer *out)
{
    json_t *j = rpc_health_json(node, now_ms);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    int code = 500;

    if (text != NULL && evbuffer_add_printf(out, "%s\n", text) >= 0)
        code = strcmp(json_string_value(json_object_get(j, "status")), "ok") == 0 ? 200 : 503;
    free(text);
    json_decref(j);
    return code;
}
