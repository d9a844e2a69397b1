/* The operator's watch on reference prices: a warning node alert `price.stale_soon` when an
 * asset's reference price has passed half of price.max_age_s, so that the regulators can be asked
 * for a fresh one before rule price.stale starts rejecting the asset's trades.
 *
 * Once per asset and reference price: a price is known by the time it was set (the genesis, or
 * the set_param directive that changed it), so a new directive re-arms the warning. The check
 * copies a few numbers under state_mu once a second and compares them with the clock: cheap.
 *
 * Threads: every function runs on the event-loop thread (node_prices_start from node_open,
 * prices_timer_cb every second, node_prices_free from node_free). The warned times are the event
 * loop's alone.
 */
#include <pthread.h>

#include <event2/event.h>

#include "node/node_int.h"
#include "util/time.h"

/* Warn about each asset whose reference price is past half of price.max_age_s at `now`. */
static void
prices_check(struct node *n, int64_t now)
{
    const struct cmp_engine *e;
    const struct ledger_genesis *g;
    struct cmp_params p;
    size_t na;

    pthread_mutex_lock(&n->state_mu);
    e = node_chain_engine(n->chain);
    g = cmp_engine_genesis(e);
    p = *cmp_engine_params(e);
    na = g->nassets < SBX_MAX_ASSETS ? g->nassets : SBX_MAX_ASSETS;
    pthread_mutex_unlock(&n->state_mu);
    if (p.v[CMP_P_PRICE_MAX_AGE_S] <= 0)
        return;
    for (size_t i = 1; i < na; i++) {
        int64_t half_ms = p.v[CMP_P_PRICE_MAX_AGE_S] * 500;

        if (now - p.ref_set_ms[i] <= half_ms || n->prices.warned_ms[i] == p.ref_set_ms[i])
            continue;
        n->prices.warned_ms[i] = p.ref_set_ms[i];
        node_alert(n, NODE_ALERT_WARNING, "price.stale_soon", 0, NULL, NULL,
                   "the reference price of %s was set %lld s ago, more than half of "
                   "price.max_age_s (%lld s): trades in it are rejected once it is older",
                   g->assets[i].symbol, (long long)((now - p.ref_set_ms[i]) / 1000),
                   (long long)p.v[CMP_P_PRICE_MAX_AGE_S]);
    }
}

static void
prices_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    prices_check(arg, time_now_ms());
}

int
node_prices_start(struct node *n)
{
    n->prices.timer = event_new(n->base, -1, EV_PERSIST, prices_timer_cb, n);
    if (n->prices.timer == NULL || event_add(n->prices.timer, &(struct timeval){1, 0}) != 0)
        return SBX_ENOMEM;
    return SBX_OK;
}

void
node_prices_free(struct node *n)
{
    if (n->prices.timer)
        event_free(n->prices.timer);
}
