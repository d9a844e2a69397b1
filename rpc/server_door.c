/* The RPC server's front door: what happens to a connection before its first request reaches
 * the HTTP callback (rpc/server.c). Every function runs on the thread of the connection's loop.
 *
 *   - Admission: each accepted connection is counted in the shared book of client addresses
 *     (rpc/gate.h) as unauthenticated. When an unauthenticated cap is reached (per address, or
 *     the slots that are not reserved for authenticated clients), the oldest unauthenticated
 *     connection of this loop (of the same address for the per-address caps; for its cap of
 *     unauthenticated ones, one older than GRACE_MS, or none) is closed to make room; with none to
 * close, the new connection is refused: 503 to its request if that comes within a second, closed
 * unanswered if too many refused ones wait already.
 *   - Deadlines: from accept, the whole header of the first request must arrive within
 *     -rpcheadertimeout, then its whole body within -rpcbodytimeout; bytes that trickle in do
 *     not extend them (evhttp's own timeout is an idle timeout, reset by each byte).
 *   - Credentials before the body: until the header of the first request is complete, the
 *     door, not evhttp, gets the connection's read callback. It finds the end of the header in
 *     the input (rpc/http_head.c reads the raw header), checks the Authorization header there
 *     (or refuses to check it while the address is locked after failed logins: 429), and then
 *     hands the connection to evhttp. A request without valid credentials has its
 *     Content-Length and Transfer-Encoding headers renamed in place before evhttp parses them,
 *     so that evhttp sees a request without a body: it is answered (401, 429, /health, 404...)
 *     without reading a byte of its body, and the connection is closed after that answer. A
 *     connection whose first request had valid credentials is authenticated for its life
 *     (keep-alive): later requests are served as before, with evhttp's idle timeout.
 *   - Accepting in small batches: libevent accepts every pending connection in one go; during
 *     a flood that would admit hundreds before the header of any is read, and an honest client
 *     among them, the oldest of the new ones, would be closed to make room before it could
 *     show its credentials. The listener stops after ACCEPT_BATCH connections and resumes in
 *     the same loop pass, so the headers that have arrived are read between batches.
 *   - Accept errors (the file limit): the listener pauses, for a time that doubles up to a
 *     second, instead of spinning on a socket it cannot accept from; one warning per pause.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "rpc/auth.h"
#include "rpc/gate.h"
#include "rpc/http_head.h"
#include "rpc/server_int.h"
#include "util/log.h"
#include "util/time.h"

#define ACCEPT_BATCH 8
/* Over its cap of unauthenticated connections, an address loses those older than this first;
 * younger ones are kept (over the cap, within the global caps): a client that opens many
 * connections at once gets them all, and an honest one is not closed before its header. */
#define GRACE_MS 1000
/* A refused connection gets this long to send its request (answered 503); beyond this many
 * waiting on a loop, the next ones are closed unanswered. */
#define REFUSED_MS 1000
#define REFUSED_PENDING_MAX 32
#define ACCEPT_WAIT_MIN_MS 50
#define ACCEPT_WAIT_MAX_MS 1000

/* ------------------------------------------------------------------ deadlines */

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rpc_conn *c = arg;

    (void)fd;
    (void)what;
    LOG_DEBUG(LOG_RPC, "closing a connection from %s: its request did not arrive in time",
              c->door.peer);
    rpc_gate_count(c->l->s->gate, RPC_GATE_STAT_DEADLINE);
    evhttp_connection_free(c->evcon); /* conn_close_cb frees c */
}

static void
deadline_arm(struct rpc_conn *c, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    if (c->door.deadline != NULL)
        evtimer_add(c->door.deadline, &tv);
}

/* ------------------------------------------------------------------ the header check */

/* The role for the Authorization value of `h` (0: none or wrong). */
static int
head_role(const struct rpc_server *s, const struct rpc_http_head *h)
{
    char value[RPC_AUTH_HEADER_MAX + 1];

    if (h->auth == NULL || h->authlen > RPC_AUTH_HEADER_MAX)
        return 0;
    memcpy(value, h->auth, h->authlen);
    value[h->authlen] = '\0';
    return rpc_auth_check_header(s->auth, value, NULL);
}

/* Decide what the first request of `c` gets, from its header p[0..n) (writable: see
 * rpc_http_head_parse). Sets c->door.authed, code and delay_ms. */
static void
door_check(struct rpc_conn *c, char *p, size_t n)
{
    struct rpc_server *s = c->l->s;
    struct rpc_http_head h;
    int64_t now = time_mono_us() / 1000, locked;
    unsigned failures = 0;

    rpc_http_head_parse(&h, p, n, 0);
    c->door.checked = 1;
    c->door.delay_ms = s->auth_delay_ms;
    if (h.auth != NULL && !c->refused) {
        locked = rpc_gate_locked_ms(s->gate, &c->door.addr, now);
        if (locked > 0) {
            c->door.code = 429;
            c->door.retry_s = (int)((locked + 999) / 1000);
            LOG_DEBUG(LOG_RPC, "429 for %s: no password is checked for %lld ms", c->door.peer,
                      (long long)locked);
        } else if (head_role(s, &h) != 0) {
            c->door.authed = 1;
            rpc_gate_authenticated(s->gate, &c->door.addr);
        } else {
            c->door.code = 401;
            c->door.delay_ms = (int)rpc_gate_failed(s->gate, &c->door.addr, now, &failures);
            /* the gate counts whole milliseconds: one more is past its lock for sure */
            c->door.lock_end_us = (now + c->door.delay_ms + 1) * 1000;
            LOG_WARN(LOG_RPC,
                     "failed login from %s (%u in a row): no password from it is checked for "
                     "%d ms",
                     c->door.peer, failures, c->door.delay_ms);
        }
    } else if (!(h.path != NULL && h.pathlen == 7 && memcmp(h.path, "/health", 7) == 0)) {
        c->door.code = 401; /* no credentials: no failure counted */
    }
    if (!c->door.authed) {
        rpc_http_head_parse(&h, p, n, 1); /* no body is read */
        evtimer_del(c->door.deadline);
    } else if (h.body) {
        deadline_arm(c, s->body_timeout_ms);
    } else {
        evtimer_del(c->door.deadline);
    }
}

/* ------------------------------------------------------------------ the callbacks */

/* Give the connection's callbacks back to evhttp. */
static void
door_release(struct rpc_conn *c, struct bufferevent *bev)
{
    bufferevent_setcb(bev, c->door.rcb, c->door.wcb, c->door.ecb, c->evcon);
    c->door.rcb = NULL;
}

/* Reads until the first header is complete, then checks it and hands the connection on. */
static void
door_read_cb(struct bufferevent *bev, void *arg)
{
    struct rpc_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t len = evbuffer_get_length(in), take = len < MAX_HEADERS_SIZE ? len : MAX_HEADERS_SIZE;
    char *p = (char *)evbuffer_pullup(in, (ev_ssize_t)take);
    size_t end = p != NULL ? rpc_http_head_end(p, take, c->door.scanned) : 0;
    bufferevent_data_cb rcb = c->door.rcb;

    if (end == 0) {
        c->door.scanned = take > 2 ? take - 2 : 0;
        if (len >= MAX_HEADERS_SIZE || p == NULL) {
            LOG_DEBUG(LOG_RPC, "closing a connection from %s: header over %d bytes", c->door.peer,
                      MAX_HEADERS_SIZE);
            evhttp_connection_free(c->evcon);
        }
        return;
    }
    door_check(c, p, end);
    door_release(c, bev);
    rcb(bev, c->evcon); /* may free c */
}

static void
door_write_cb(struct bufferevent *bev, void *arg)
{
    struct rpc_conn *c = arg;

    if (c->door.wcb != NULL)
        c->door.wcb(bev, c->evcon);
}

static void
door_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct rpc_conn *c = arg;

    if (c->door.ecb != NULL)
        c->door.ecb(bev, what, c->evcon); /* may free c */
}

/* ------------------------------------------------------------------ admission */

/* Close the oldest unauthenticated connection of `l` (of address `a` if not NULL) but `keep`,
 * accepted at `before_ms` or earlier. 1 if one was closed. */
static int
evict(struct srv_loop *l, const struct rpc_gate_addr *a, const struct rpc_conn *keep,
      int64_t before_ms)
{
    struct rpc_conn *c;

    TAILQ_FOREACH_REVERSE(c, &l->conns, rpc_conn_list, link)
    {
        if (c == keep || !c->door.counted || c->door.authed)
            continue;
        if (c->door.since_ms > before_ms)
            return 0; /* the rest are younger still */
        if (a != NULL && memcmp(a, &c->door.addr, sizeof(*a)) != 0)
            continue;
        LOG_DEBUG(LOG_RPC, "closing the oldest unauthenticated connection, from %s", c->door.peer);
        rpc_gate_count(l->s->gate, RPC_GATE_STAT_EVICTED);
        evhttp_connection_free(c->evcon); /* conn_close_cb frees c */
        return 1;
    }
    return 0;
}

/* Count `c` in the book, closing older unauthenticated connections as it requires; 0 if there
 * is no room for it. */
static int
admit(struct rpc_conn *c)
{
    struct srv_loop *l = c->l;

    int64_t now = time_mono_us() / 1000;
    unsigned v = rpc_gate_open(l->s->gate, &c->door.addr, now);
    int ok = 1;

    if (v & RPC_GATE_FULL)
        ok = 0;
    else if (v & RPC_GATE_EVICT_SAME) /* also a slot of the other caps */
        ok = evict(l, &c->door.addr, c, INT64_MAX);
    else if (v & RPC_GATE_EVICT_ANY)
        ok = ((v & RPC_GATE_EVICT_STALE) && evict(l, &c->door.addr, c, now - GRACE_MS)) ||
             evict(l, NULL, c, INT64_MAX);
    else if (v & RPC_GATE_EVICT_STALE)
        evict(l, &c->door.addr, c, now - GRACE_MS); /* soft: none that old, none goes */
    if (ok)
        return 1;
    if (!(v & RPC_GATE_FULL)) {
        rpc_gate_close(l->s->gate, &c->door.addr, 0);
        rpc_gate_count(l->s->gate, RPC_GATE_STAT_REFUSED);
    }
    LOG_WARN(LOG_RPC, "connection from %s refused: no free slot (rpcmaxconns %zu)", c->door.peer,
             l->s->max_conns);
    return 0;
}

void
rpc_server_door_open(struct rpc_conn *c, struct bufferevent *bev)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    evutil_socket_t fd = bufferevent_getfd(bev);
    void *arg = NULL;

    memset(&ss, 0, sizeof(ss));
    snprintf(c->door.peer, sizeof(c->door.peer), "?");
    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        const void *ip = ss.ss_family == AF_INET6
                             ? (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
                             : (const void *)&((struct sockaddr_in *)&ss)->sin_addr;

        if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
            evutil_inet_ntop(ss.ss_family, ip, c->door.peer, sizeof(c->door.peer));
    }
    rpc_gate_addr_of(&c->door.addr, (struct sockaddr *)&ss);
    c->door.since_ms = time_mono_us() / 1000;
    c->door.deadline = evtimer_new(c->l->base, deadline_cb, c);
    c->refused = !admit(c);
    c->door.counted = !c->refused;
    if (!c->refused) {
        deadline_arm(c, c->l->s->header_timeout_ms);
    } else if (c->l->nrefused < REFUSED_PENDING_MAX) {
        c->l->nrefused++; /* a short while to read its request and answer it 503 */
        deadline_arm(c, c->l->s->header_timeout_ms < REFUSED_MS ? c->l->s->header_timeout_ms
                                                                : REFUSED_MS);
    } else {
        c->l->nrefused++;
        deadline_arm(c, 0); /* closed at once, unanswered */
    }
    bufferevent_getcb(bev, &c->door.rcb, &c->door.wcb, &c->door.ecb, &arg);
    bufferevent_setcb(bev, door_read_cb, door_write_cb, door_event_cb, c);
}

void
rpc_server_door_request(struct rpc_conn *c)
{
    if (c->door.deadline != NULL)
        evtimer_del(c->door.deadline);
}

void
rpc_server_door_close(struct rpc_conn *c)
{
    if (c->door.counted)
        rpc_gate_close(c->l->s->gate, &c->door.addr, c->door.authed);
    else if (c->refused && c->l->nrefused > 0)
        c->l->nrefused--;
    c->door.counted = 0;
    c->refused = 0;
    if (c->door.deadline != NULL)
        event_free(c->door.deadline);
    c->door.deadline = NULL;
}

/* ------------------------------------------------------------------ metrics */

void
rpc_server_door_metrics(struct rpc_server *s, struct evbuffer *out)
{
    struct rpc_gate_stats st;

    rpc_gate_stats(s->gate, &st);
    const struct {
        const char *event;
        uint64_t n;
    } rows[] = {
        {"refused", st.refused}, {"evicted", st.evicted},   {"failed_login", st.failed},
        {"locked", st.locked},   {"deadline", st.deadline}, {"accept_error", st.accept_error},
    };

    evbuffer_add_printf(out,
                        "# HELP sbx_rpc_frontdoor_total RPC connections and logins turned away "
                        "at the front door, by event.\n# TYPE sbx_rpc_frontdoor_total counter\n");
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        evbuffer_add_printf(out, "sbx_rpc_frontdoor_total{event=\"%s\"} %llu\n", rows[i].event,
                            (unsigned long long)rows[i].n);
}

/* ------------------------------------------------------------------ accept errors */

/* evhttp owns the listeners and gives their error callback its own argument (the evhttp), not
 * ours: the loop of a listener is found here. One small lock; touched at start, at stop and
 * on accept errors only. */
#define MAX_LISTENERS 256
static pthread_mutex_t g_lis_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    const struct evconnlistener *lis;
    struct srv_loop *l;
} g_lis[MAX_LISTENERS];

static struct srv_loop *
loop_of(const struct evconnlistener *lis)
{
    struct srv_loop *l = NULL;

    pthread_mutex_lock(&g_lis_lock);
    for (size_t i = 0; i < MAX_LISTENERS && l == NULL; i++)
        if (g_lis[i].lis == lis)
            l = g_lis[i].l;
    pthread_mutex_unlock(&g_lis_lock);
    return l;
}

/* The listener may take connections again (unless balance or an accept error paused it). */
static void
listener_resume(struct srv_loop *l)
{
    if (!l->paused && !l->accept_waiting && l->listener != NULL)
        evconnlistener_enable(l->listener);
}

static void
accept_more_cb(evutil_socket_t fd, short what, void *arg)
{
    struct srv_loop *l = arg;

    (void)fd;
    (void)what;
    l->accept_batch = 0;
    listener_resume(l);
}

void
rpc_server_door_accepted(struct srv_loop *l)
{
    l->accept_wait_ms = 0; /* accept works again: the next error pauses briefly */
    if (++l->accept_batch >= ACCEPT_BATCH && l->listener != NULL) {
        evconnlistener_disable(l->listener); /* ends libevent's accept loop */
        event_active(l->accept_more_ev, EV_TIMEOUT, 0);
    }
}

static void
accept_wait_cb(evutil_socket_t fd, short what, void *arg)
{
    struct srv_loop *l = arg;

    (void)fd;
    (void)what;
    l->accept_waiting = 0;
    listener_resume(l);
}

static void
accept_error_cb(struct evconnlistener *lis, void *arg)
{
    struct srv_loop *l = loop_of(lis);
    int e = EVUTIL_SOCKET_ERROR();
    struct timeval tv;

    (void)arg;
    if (l == NULL) {
        evconnlistener_disable(lis); /* cannot happen: never spin */
        return;
    }

    l->accept_wait_ms = l->accept_wait_ms == 0 ? ACCEPT_WAIT_MIN_MS : l->accept_wait_ms * 2;
    if (l->accept_wait_ms > ACCEPT_WAIT_MAX_MS)
        l->accept_wait_ms = ACCEPT_WAIT_MAX_MS;
    tv.tv_sec = l->accept_wait_ms / 1000;
    tv.tv_usec = (l->accept_wait_ms % 1000) * 1000;
    evconnlistener_disable(lis);
    l->accept_waiting = 1;
    evtimer_add(l->accept_ev, &tv);
    rpc_gate_count(l->s->gate, RPC_GATE_STAT_ACCEPT_ERROR);
    LOG_WARN(LOG_RPC, "cannot accept an RPC connection (%s): not accepting for %d ms",
             evutil_socket_error_to_string(e), l->accept_wait_ms);
}

int
rpc_server_door_listen(struct srv_loop *l)
{
    int rc = SBX_ENOMEM;

    l->accept_ev = evtimer_new(l->base, accept_wait_cb, l);
    l->accept_more_ev = event_new(l->base, -1, 0, accept_more_cb, l);
    if (l->accept_ev == NULL || l->accept_more_ev == NULL)
        return SBX_ENOMEM;
    pthread_mutex_lock(&g_lis_lock);
    for (size_t i = 0; i < MAX_LISTENERS && rc != SBX_OK; i++) {
        if (g_lis[i].lis == NULL) {
            g_lis[i].lis = l->listener;
            g_lis[i].l = l;
            rc = SBX_OK;
        }
    }
    pthread_mutex_unlock(&g_lis_lock);
    if (rc == SBX_OK)
        evconnlistener_set_error_cb(l->listener, accept_error_cb);
    return rc;
}

void
rpc_server_door_unlisten(struct srv_loop *l)
{
    pthread_mutex_lock(&g_lis_lock);
    for (size_t i = 0; i < MAX_LISTENERS; i++) {
        if (g_lis[i].l == l) {
            g_lis[i].lis = NULL;
            g_lis[i].l = NULL;
        }
    }
    pthread_mutex_unlock(&g_lis_lock);
    if (l->accept_ev != NULL)
        event_free(l->accept_ev);
    if (l->accept_more_ev != NULL)
        event_free(l->accept_more_ev);
    l->accept_ev = NULL;
    l->accept_more_ev = NULL;
}
