/* One event loop of the RPC server and its mailbox (see rpc/loop.h).
 *
 * Threads: rpc_loop_post on any thread; mail_cb on the loop's thread; loop_main is the thread
 * of a loop with its own base; rpc_loop_new, rpc_loop_start, rpc_loop_stop, rpc_loop_drain and
 * rpc_loop_free on the thread that made the server (the node's event-loop thread).
 */
#include "rpc/loop.h"

#include <pthread.h>
#include <stdlib.h>

#include <event2/event.h>

#include "util/log.h"
#include "util/par.h"

STAILQ_HEAD(hop_list, rpc_hop);

struct rpc_loop {
    struct event_base *base;
    int own;     /* the base is ours: made, run on `thr`, freed here */
    int started; /* `thr` runs */
    pthread_t thr;
    pthread_mutex_t mu;    /* guards mail and armed; a leaf */
    struct hop_list mail;  /* mu */
    int armed;             /* mu: mail_ev is active */
    struct event *mail_ev; /* immutable */
    struct event *quit_ev; /* immutable: ends the loop from its own thread */
};

/* Take the mailbox whole, then run it. */
static void
mail_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rpc_loop *l = arg;
    struct hop_list list;
    struct rpc_hop *h;

    (void)fd;
    (void)what;
    STAILQ_INIT(&list);
    pthread_mutex_lock(&l->mu);
    STAILQ_CONCAT(&list, &l->mail);
    l->armed = 0;
    pthread_mutex_unlock(&l->mu);
    while ((h = STAILQ_FIRST(&list)) != NULL) {
        STAILQ_REMOVE_HEAD(&list, link);
        h->fn(h, 0);
    }
}

/* On the loop's thread: an event activated before the loop ran still ends it (a loopbreak
 * from another thread then would be forgotten when the loop starts). */
static void
quit_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

int
rpc_loop_new(struct rpc_loop **out, struct event_base *base)
{
    struct rpc_loop *l = calloc(1, sizeof(*l));

    *out = NULL;
    if (l == NULL)
        return SBX_ENOMEM;
    STAILQ_INIT(&l->mail);
    pthread_mutex_init(&l->mu, NULL);
    l->own = base == NULL;
    l->base = base != NULL ? base : event_base_new();
    l->mail_ev = l->base != NULL ? event_new(l->base, -1, 0, mail_cb, l) : NULL;
    l->quit_ev = l->base != NULL ? event_new(l->base, -1, 0, quit_cb, l->base) : NULL;
    if (l->mail_ev == NULL || l->quit_ev == NULL) {
        rpc_loop_free(l);
        return SBX_ENOMEM;
    }
    *out = l;
    return SBX_OK;
}

struct event_base *
rpc_loop_base(const struct rpc_loop *l)
{
    return l->base;
}

static void *
loop_main(void *arg)
{
    struct rpc_loop *l = arg;

    par_thread_name("sbx-rpc"); /* loop 0 is the node's own thread, sbxd */
    par_thread_batch();
    if (event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY) != 0)
        LOG_ERROR(LOG_RPC, "an RPC event loop failed");
    return NULL;
}

int
rpc_loop_start(struct rpc_loop *l)
{
    if (!l->own || l->started)
        return SBX_OK;
    if (pthread_create(&l->thr, NULL, loop_main, l) != 0)
        return SBX_EINTERNAL;
    l->started = 1;
    return SBX_OK;
}

void
rpc_loop_post(struct rpc_loop *l, struct rpc_hop *hop)
{
    int wake;

    pthread_mutex_lock(&l->mu);
    STAILQ_INSERT_TAIL(&l->mail, hop, link);
    wake = !l->armed;
    l->armed = 1;
    pthread_mutex_unlock(&l->mu);
    if (wake)
        event_active(l->mail_ev, EV_TIMEOUT, 0);
}

void
rpc_loop_stop(struct rpc_loop *l)
{
    if (l == NULL || !l->started)
        return;
    event_active(l->quit_ev, EV_TIMEOUT, 0);
    pthread_join(l->thr, NULL);
    l->started = 0;
}

size_t
rpc_loop_drain(struct rpc_loop *l)
{
    struct rpc_hop *h;
    size_t n = 0;

    for (;;) {
        pthread_mutex_lock(&l->mu);
        h = STAILQ_FIRST(&l->mail);
        if (h != NULL)
            STAILQ_REMOVE_HEAD(&l->mail, link);
        pthread_mutex_unlock(&l->mu);
        if (h == NULL)
            return n;
        h->fn(h, 1);
        n++;
    }
}

void
rpc_loop_free(struct rpc_loop *l)
{
    if (l == NULL)
        return;
    rpc_loop_stop(l);
    if (l->mail_ev != NULL)
        event_free(l->mail_ev);
    if (l->quit_ev != NULL)
        event_free(l->quit_ev);
    if (l->own && l->base != NULL)
        event_base_free(l->base);
    pthread_mutex_destroy(&l->mu);
    free(l);
}
