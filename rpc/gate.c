/* The RPC front door's book of client addresses; see gate.h. Runs on every RPC loop's thread,
 * under the book's one mutex. */
#include "rpc/gate.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util/map.h"

/* One address: its connections and its failed logins. */
struct entry {
    size_t n;          /* connections */
    size_t nunauth;    /* of which unauthenticated */
    unsigned failures; /* recent failed logins */
    int64_t last_fail_ms;
    int64_t locked_until_ms;
};

struct rpc_gate {
    pthread_mutex_t lock;
    struct rpc_gate_limits lim;  /* read-only */
    struct map addrs;            /* rpc_gate_addr -> struct entry (lock) */
    struct entry overflow;       /* every address once addrs is full (lock) */
    size_t n, nunauth;           /* every address (lock) */
    struct rpc_gate_stats stats; /* (lock) */
};

void
rpc_gate_addr_of(struct rpc_gate_addr *out, const struct sockaddr *sa)
{
    memset(out, 0, sizeof(*out));
    if (sa->sa_family == AF_INET) {
        out->b[0] = 4;
        memcpy(out->b + 1, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            out->b[0] = 4;
            memcpy(out->b + 1, a6->s6_addr + 12, 4);
        } else {
            out->b[0] = 6;
            memcpy(out->b + 1, a6->s6_addr, 16);
        }
    }
}

int
rpc_gate_new(struct rpc_gate **out, const struct rpc_gate_limits *lim)
{
    struct rpc_gate *g = calloc(1, sizeof(*g));

    *out = NULL;
    if (g == NULL)
        return SBX_ENOMEM;
    if (pthread_mutex_init(&g->lock, NULL) != 0) {
        free(g);
        return SBX_ENOMEM;
    }
    g->lim = *lim;
    map_init(&g->addrs);
    *out = g;
    return SBX_OK;
}

static void
free_entry(void *ctx, const void *key, size_t klen, void *val)
{
    (void)ctx;
    (void)key;
    (void)klen;
    free(val);
}

void
rpc_gate_free(struct rpc_gate *g)
{
    if (g == NULL)
        return;
    map_foreach(&g->addrs, free_entry, NULL);
    map_release(&g->addrs);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

/* An entry that holds nothing worth keeping: no connection, no lock, failures forgotten. */
static int
idle(const struct entry *e, int64_t now_ms)
{
    return e->n == 0 && (e->failures == 0 || now_ms - e->last_fail_ms > RPC_GATE_FORGET_MS);
}

struct prune {
    int64_t now_ms;
    struct rpc_gate_addr *keys;
    size_t nkeys;
};

static void
collect_idle(void *ctx, const void *key, size_t klen, void *val)
{
    struct prune *p = ctx;

    if (klen == sizeof(struct rpc_gate_addr) && idle(val, p->now_ms))
        memcpy(&p->keys[p->nkeys++], key, klen);
}

/* Drop the entries that hold nothing (the book is full). Under the lock. */
static void
prune(struct rpc_gate *g, int64_t now_ms)
{
    struct prune p = {now_ms, calloc(g->addrs.n, sizeof(*p.keys)), 0};

    if (p.keys == NULL)
        return;
    map_foreach(&g->addrs, collect_idle, &p);
    for (size_t i = 0; i < p.nkeys; i++) {
        free(map_get(&g->addrs, &p.keys[i], sizeof(p.keys[i])));
        map_del(&g->addrs, &p.keys[i], sizeof(p.keys[i]));
    }
    free(p.keys);
}

/* The entry of `a`, made if missing (the overflow entry when the book is full or out of
 * memory). Under the lock. */
static struct entry *
entry_of(struct rpc_gate *g, const struct rpc_gate_addr *a, int64_t now_ms)
{
    struct entry *e = map_get(&g->addrs, a, sizeof(*a));

    if (e != NULL)
        return e;
    if (g->addrs.n >= RPC_GATE_MAX_ADDRS)
        prune(g, now_ms);
    if (g->addrs.n >= RPC_GATE_MAX_ADDRS || (e = calloc(1, sizeof(*e))) == NULL)
        return &g->overflow;
    if (map_put(&g->addrs, a, sizeof(*a), e) != SBX_OK) {
        free(e);
        return &g->overflow;
    }
    return e;
}

/* The entry `a` was counted in: its own, or the overflow entry when it has none (an address
 * counted in while the book was full). Under the lock. */
static struct entry *
entry_find(struct rpc_gate *g, const struct rpc_gate_addr *a)
{
    struct entry *e = map_get(&g->addrs, a, sizeof(*a));

    return e != NULL ? e : &g->overflow;
}

/* Forget `a`'s entry if it holds nothing. Under the lock. */
static void
entry_done(struct rpc_gate *g, const struct rpc_gate_addr *a, struct entry *e, int64_t now_ms)
{
    if (e != &g->overflow && idle(e, now_ms)) {
        map_del(&g->addrs, a, sizeof(*a));
        free(e);
    }
}

unsigned
rpc_gate_open(struct rpc_gate *g, const struct rpc_gate_addr *a, int64_t now_ms)
{
    unsigned v = RPC_GATE_IN;
    struct entry *e;

    pthread_mutex_lock(&g->lock);
    e = entry_of(g, a, now_ms);
    if ((g->n >= g->lim.max_conns && g->nunauth == 0) ||
        (e->n >= g->lim.max_per_addr && e->nunauth == 0)) {
        g->stats.refused++;
        entry_done(g, a, e, now_ms);
        pthread_mutex_unlock(&g->lock);
        return RPC_GATE_FULL;
    }
    if (e->n >= g->lim.max_per_addr)
        v |= RPC_GATE_EVICT_SAME;
    if (g->n >= g->lim.max_conns || g->nunauth >= g->lim.max_conns - g->lim.reserve)
        v |= RPC_GATE_EVICT_ANY;
    if (e->nunauth >= g->lim.max_unauth)
        v |= RPC_GATE_EVICT_STALE;
    e->n++;
    e->nunauth++;
    g->n++;
    g->nunauth++;
    pthread_mutex_unlock(&g->lock);
    return v;
}

void
rpc_gate_authenticated(struct rpc_gate *g, const struct rpc_gate_addr *a)
{
    struct entry *e;

    pthread_mutex_lock(&g->lock);
    e = entry_find(g, a);
    if (e->nunauth > 0 && g->nunauth > 0) {
        e->nunauth--;
        g->nunauth--;
    }
    pthread_mutex_unlock(&g->lock);
}

void
rpc_gate_close(struct rpc_gate *g, const struct rpc_gate_addr *a, int authenticated)
{
    struct entry *e;

    pthread_mutex_lock(&g->lock);
    e = entry_find(g, a);
    if (e->n > 0 && g->n > 0) {
        e->n--;
        g->n--;
    }
    if (!authenticated && e->nunauth > 0 && g->nunauth > 0) {
        e->nunauth--;
        g->nunauth--;
    }
    entry_done(g, a, e, e->last_fail_ms);
    pthread_mutex_unlock(&g->lock);
}

int64_t
rpc_gate_locked_ms(struct rpc_gate *g, const struct rpc_gate_addr *a, int64_t now_ms)
{
    struct entry *e;
    int64_t left = 0;

    pthread_mutex_lock(&g->lock);
    e = entry_find(g, a);
    if (e->locked_until_ms > now_ms)
        left = e->locked_until_ms - now_ms;
    if (left > 0)
        g->stats.locked++;
    pthread_mutex_unlock(&g->lock);
    return left;
}

int64_t
rpc_gate_failed(struct rpc_gate *g, const struct rpc_gate_addr *a, int64_t now_ms,
                unsigned *failures)
{
    struct entry *e;
    int64_t step = g->lim.fail_delay_ms > 0 ? g->lim.fail_delay_ms : 0;

    pthread_mutex_lock(&g->lock);
    e = entry_of(g, a, now_ms);
    if (now_ms - e->last_fail_ms > RPC_GATE_FORGET_MS)
        e->failures = 0;
    if (e->failures < 1000000)
        e->failures++;
    for (unsigned i = 1; i < e->failures && step < g->lim.fail_delay_max_ms; i++)
        step *= 2;
    if (step > g->lim.fail_delay_max_ms)
        step = g->lim.fail_delay_max_ms;
    e->last_fail_ms = now_ms;
    e->locked_until_ms = now_ms + step;
    g->stats.failed++;
    if (failures != NULL)
        *failures = e->failures;
    entry_done(g, a, e, now_ms);
    pthread_mutex_unlock(&g->lock);
    return step;
}

void
rpc_gate_count(struct rpc_gate *g, enum rpc_gate_stat what)
{
    pthread_mutex_lock(&g->lock);
    if (what == RPC_GATE_STAT_REFUSED)
        g->stats.refused++;
    else if (what == RPC_GATE_STAT_EVICTED)
        g->stats.evicted++;
    else if (what == RPC_GATE_STAT_DEADLINE)
        g->stats.deadline++;
    else
        g->stats.accept_error++;
    pthread_mutex_unlock(&g->lock);
}

void
rpc_gate_stats(struct rpc_gate *g, struct rpc_gate_stats *out)
{
    pthread_mutex_lock(&g->lock);
    *out = g->stats;
    pthread_mutex_unlock(&g->lock);
}
