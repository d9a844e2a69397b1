/* Connections of the peer links: listening and the front door (the limits on links that peers
 * open, struct p2p_limits in p2p.h), and the -connect targets, each linked and re-linked after
 * an exponential back-off (see p2p.h).
 *
 * Optimised for few, long-lived links between known nodes moving blocks of up to 64 MiB, not
 * for many anonymous clients. Anyone can open a TCP connection to the peer port, and nobody is
 * known until AUTH, so the door counts what each connection may hold: links from one IP
 * address (all of them, and those still in the handshake) are capped and the excess is refused
 * at once (an IPv6 address counts by its /64, which one host gets whole); overall, when the
 * handshake slots are full, the oldest connection still in the handshake is dropped to make room
 * for the new one. Strangers that hold connections open then push each other out, and a regulator
 * or the operator that connects gets a slot and keeps it for the few milliseconds its handshake
 * takes. The handshake deadline (p2p_peer.c) bounds how long any of them holds a slot. Lines about
 * connections that never authenticated are quieted (struct p2p_quiet), and so are those about
 * accept() failing (out of file descriptors), after which the listener pauses with a growing
 * back-off instead of spinning.
 *
 * Threads: p2p_conn_targets and p2p_conn_listen from the thread that calls p2p_new; the rest on
 * the event loop's thread.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>

#include "node/p2p_internal.h"
#include "util/log.h"
#include "util/time.h"

#define LISTEN_BACKLOG 64
/* After accept() fails (out of file descriptors): the listener pauses ACCEPT_PAUSE_MIN_MS, then
 * twice as long after each failure in a row, up to ACCEPT_PAUSE_MAX_MS. */
#define ACCEPT_PAUSE_MIN_MS 100
#define ACCEPT_PAUSE_MAX_MS 5000
#define ACCEPT_LOG_BURST 1
#define ACCEPT_LOG_WINDOW_MS 60000

static void target_timer_cb(evutil_socket_t fd, short what, void *arg);

/* Parse "HOST:PORT" or "[IPV6]:PORT". */
static int
parse_target(const char *s, char host[static P2P_ADDR_MAX], int *port)
{
    const char *h, *hend, *ps;
    size_t hlen, plen;
    long v = 0;

    if (strlen(s) >= P2P_ADDR_MAX)
        return SBX_ETOOLONG;
    if (s[0] == '[') {
        h = s + 1;
        hend = strchr(h, ']');
        if (hend == NULL || hend[1] != ':')
            return SBX_EINVAL;
        ps = hend + 2;
    } else {
        h = s;
        hend = strrchr(s, ':');
        if (hend == NULL || memchr(s, ':', (size_t)(hend - s)) != NULL)
            return SBX_EINVAL; /* no port, or a bare IPv6 address (needs brackets) */
        ps = hend + 1;
    }
    hlen = (size_t)(hend - h);
    plen = strlen(ps);
    if (hlen == 0 || plen == 0 || plen > 5)
        return SBX_EINVAL;
    for (size_t i = 0; i < plen; i++) {
        if (ps[i] < '0' || ps[i] > '9')
            return SBX_EINVAL;
        v = v * 10 + (ps[i] - '0');
    }
    if (v < 1 || v > 65535)
        return SBX_EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)v;
    return SBX_OK;
}

/* An IPv6 address in the IPv4-mapped range (::ffff:a.b.c.d): a dual-stack listener's IPv4
 * peer. */
static int
v4_mapped(const struct in6_addr *a)
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    return memcmp(a->s6_addr, prefix, sizeof(prefix)) == 0;
}

void
p2p_conn_addr(const struct sockaddr *sa, char group[static P2P_GROUP_MAX],
              char addr[static P2P_ADDR_MAX])
{
    char ip[INET6_ADDRSTRLEN];

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        if (evutil_inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip)) != NULL) {
            snprintf(addr, P2P_ADDR_MAX, "%s:%u", ip, (unsigned)ntohs(in->sin_port));
            snprintf(group, P2P_GROUP_MAX, "%s", ip);
            return;
        }
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        struct in6_addr net = in6->sin6_addr;

        if (evutil_inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip)) != NULL) {
            snprintf(addr, P2P_ADDR_MAX, "[%s]:%u", ip, (unsigned)ntohs(in6->sin6_port));
            if (v4_mapped(&net)) {
                snprintf(group, P2P_GROUP_MAX, "%u.%u.%u.%u", net.s6_addr[12], net.s6_addr[13],
                         net.s6_addr[14], net.s6_addr[15]);
                return;
            }
            memset(net.s6_addr + 8, 0, 8); /* one host holds a whole /64 */
            if (evutil_inet_ntop(AF_INET6, &net, ip, sizeof(ip)) != NULL) {
                snprintf(group, P2P_GROUP_MAX, "%s/64", ip);
                return;
            }
        }
    }
    snprintf(group, P2P_GROUP_MAX, "unknown");
    snprintf(addr, P2P_ADDR_MAX, "unknown");
}

void
p2p_conn_quiet(struct p2p_quiet *q, int burst, int window_ms, const char *fmt, ...)
{
    int64_t now = time_mono_us();
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (q->window_us == 0 || now - q->window_us >= (int64_t)window_ms * 1000) {
        q->window_us = now;
        q->lines = 0;
    }
    if (q->lines >= (unsigned)burst) {
        q->quieted++;
        LOG_DEBUG(LOG_P2P, "%s", line);
        return;
    }
    q->lines++;
    if (q->quieted > 0)
        LOG_WARN(LOG_P2P, "%s (and %u similar lines at debug level since the last one here)", line,
                 q->quieted);
    else
        LOG_WARN(LOG_P2P, "%s", line);
    q->quieted = 0;
}

/* Wait `t->delay_ms`, then try again; the delay doubles up to reconnect_max_ms and starts
 * again from reconnect_min_ms after a link that stayed open for reconnect_max_ms. `closed` is
 * the link that ended, NULL if the attempt never got a link. */
void
p2p_conn_schedule(struct p2p_target *t, const struct p2p_peer *closed)
{
    struct p2p *p = t->p;
    struct timeval tv;
    int delay;

    t->peer = NULL;
    if (p->freeing)
        return;
    if (closed != NULL && closed->announced &&
        (time_mono_us() - closed->open_us) / 1000 >= (int64_t)p->reconnect_max_ms)
        t->delay_ms = p->reconnect_min_ms;
    delay = t->delay_ms;
    t->delay_ms = delay > p->reconnect_max_ms / 2 ? p->reconnect_max_ms : delay * 2;
    tv.tv_sec = delay / 1000;
    tv.tv_usec = (delay % 1000) * 1000;
    evtimer_add(t->timer, &tv);
    LOG_DEBUG(LOG_P2P, "peer %s (outbound): next attempt in %d ms", t->addr, delay);
}

/* ------------------------------------------------------------------ inbound */

/* What the inbound links hold now: all of them, those still in the handshake, the same from
 * the address group `group`, and the oldest still in the handshake (the list is newest
 * first). */
struct door {
    size_t links, handshakes, addr_links, addr_handshakes;
    struct p2p_peer *oldest;
};

static void
door_count(const struct p2p *p, const char *group, struct door *d)
{
    struct p2p_peer *peer;

    memset(d, 0, sizeof(*d));
    for (peer = LIST_FIRST(&p->peers); peer != NULL; peer = LIST_NEXT(peer, link)) {
        int same = strcmp(peer->group, group) == 0;

        if (peer->target != NULL || peer->state == PEER_CLOSED)
            continue;
        d->links++;
        d->addr_links += same;
        if (peer->state == PEER_OPEN)
            continue;
        d->handshakes++;
        d->addr_handshakes += same;
        d->oldest = peer;
    }
}

/* The front door: NULL if a connection from the address group `group` may come in (after
 * dropping the oldest handshake if the slots are full), else why it is refused. */
static const char *
door_admit(struct p2p *p, const char *group)
{
    struct door d;

    door_count(p, group, &d);
    if (d.addr_handshakes >= (size_t)p->lim.addr_handshakes)
        return "too many handshakes from this address";
    if (d.addr_links >= (size_t)p->lim.addr_links)
        return "too many links from this address";
    if (d.handshakes < (size_t)p->lim.max_handshaking && d.links < (size_t)p->lim.max_inbound)
        return NULL;
    if (d.oldest == NULL)
        return "too many inbound connections"; /* every one is authenticated */
    p2p_peer_close(d.oldest, "dropped for a newer connection (handshake slots full)");
    return NULL;
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    struct p2p *p = arg;
    struct p2p_peer *peer;
    struct bufferevent *bev;
    char group[P2P_GROUP_MAX], addr[P2P_ADDR_MAX];
    const char *refused;
    SSL *ssl;

    p->accept_pause_ms = 0;
    p2p_conn_addr(sa, group, addr);
    refused = door_admit(p, group);
    if (refused != NULL) {
        p2p_conn_quiet(&p->door_quiet, P2P_DOOR_LOG_BURST, P2P_DOOR_LOG_WINDOW_MS,
                       "peer %s (inbound): refused: %s", addr, refused);
        evutil_closesocket(fd);
        return;
    }
    ssl = SSL_new(p->ssl);
    if (ssl == NULL) {
        ERR_clear_error();
        LOG_WARN(LOG_P2P, "peer %s (inbound): closed: out of memory", addr);
        evutil_closesocket(fd);
        return;
    }
    /* On failure libevent frees `ssl` (BEV_OPT_CLOSE_ON_FREE) but leaves the socket to us. */
    bev = bufferevent_openssl_socket_new(p->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bev == NULL) {
        LOG_WARN(LOG_P2P, "peer %s (inbound): closed: out of memory", addr);
        evutil_closesocket(fd);
        return;
    }
    peer = p2p_peer_new(p, NULL, addr, bev);
    if (peer == NULL) {
        LOG_WARN(LOG_P2P, "peer %s (inbound): closed: out of memory", addr);
        return;
    }
    snprintf(peer->group, sizeof(peer->group), "%s", group);
    LOG_DEBUG(LOG_P2P, "peer %s (inbound): accepted", addr);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

void
p2p_conn_accept_retry(evutil_socket_t fd, short what, void *arg)
{
    struct p2p *p = arg;

    evconnlistener_enable(p->listener);
}

/* accept() failed (EMFILE, ENFILE, ENOBUFS): pause instead of spinning on the ready socket,
 * longer after each failure in a row, and log it quietly (once a minute at warning level). */
static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
    struct p2p *p = arg;
    struct timeval tv;
    int e = EVUTIL_SOCKET_ERROR(), pause;

    pause = p->accept_pause_ms == 0 ? ACCEPT_PAUSE_MIN_MS : p->accept_pause_ms;
    p->accept_pause_ms = pause > ACCEPT_PAUSE_MAX_MS / 2 ? ACCEPT_PAUSE_MAX_MS : pause * 2;
    p2p_conn_quiet(&p->accept_quiet, ACCEPT_LOG_BURST, ACCEPT_LOG_WINDOW_MS,
                   "accepting peers failed: %s; pausing for %d ms",
                   evutil_socket_error_to_string(e), pause);
    evconnlistener_disable(l);
    tv.tv_sec = pause / 1000;
    tv.tv_usec = (pause % 1000) * 1000;
    evtimer_add(p->accept_retry, &tv);
}

int
p2p_conn_listen(struct p2p *p, const char *bind, int port, struct sbx_err *err)
{
    struct evutil_addrinfo hints, *ai = NULL;
    char host[P2P_ADDR_MAX], portstr[8];
    const char *h = NULL;
    struct sockaddr_storage ss;
    ev_socklen_t sslen = sizeof(ss);
    int r, rc = SBX_EIO;

    if (bind != NULL && bind[0] != '\0') {
        size_t n = strlen(bind);
        if (n >= sizeof(host))
            return sbx_err_set(err, SBX_EINVAL, "bind: too long");
        if (bind[0] == '[' && n >= 2 && bind[n - 1] == ']') {
            memcpy(host, bind + 1, n - 2);
            host[n - 2] = '\0';
        } else {
            memcpy(host, bind, n + 1);
        }
        h = host;
    }
    snprintf(portstr, sizeof(portstr), "%d", port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = EVUTIL_AI_PASSIVE;
    r = evutil_getaddrinfo(h, portstr, &hints, &ai);
    if (r != 0 || ai == NULL)
        return sbx_err_set(err, SBX_EINVAL, "bind: cannot resolve '%s': %s", h ? h : "",
                           evutil_gai_strerror(r));
    p->listener = evconnlistener_new_bind(
        p->base, accept_cb, p, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
        LISTEN_BACKLOG, ai->ai_addr, (int)ai->ai_addrlen);
    if (p->listener == NULL) {
        sbx_err_set(err, SBX_EIO, "cannot listen on %s port %d: %s", h ? h : "all addresses", port,
                    strerror(errno));
        goto out;
    }
    evconnlistener_set_error_cb(p->listener, accept_error_cb);
    if (getsockname(evconnlistener_get_fd(p->listener), (struct sockaddr *)&ss, &sslen) != 0) {
        sbx_err_set(err, SBX_EIO, "getsockname: %s", strerror(errno));
        goto out;
    }
    if (ss.ss_family == AF_INET)
        p->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
        p->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    LOG_INFO(LOG_P2P, "listening for peers on %s port %d", h ? h : "all addresses", p->port);
    rc = SBX_OK;
out:
    evutil_freeaddrinfo(ai);
    return rc;
}

/* ------------------------------------------------------------------ outbound */

/* One attempt to link to `t`. The name is resolved here, blocking (libevent without a DNS
 * base would do the same): use addresses, or names that resolve locally. Successive attempts
 * walk through the addresses the name resolves to, so one unreachable address (an IPv6 one
 * without a route, say) does not keep the link down. */
static void
target_connect(struct p2p_target *t)
{
    struct p2p *p = t->p;
    struct evutil_addrinfo hints, *ai = NULL, *pick;
    struct bufferevent *bev;
    struct p2p_peer *peer;
    char portstr[8], reason[REASON_MAX];
    size_t n = 0;
    SSL *ssl;
    int r;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    snprintf(portstr, sizeof(portstr), "%d", t->port);
    r = evutil_getaddrinfo(t->host, portstr, &hints, &ai);
    if (r != 0 || ai == NULL) {
        LOG_WARN(LOG_P2P, "peer %s (outbound): closed: cannot resolve: %s", t->addr,
                 evutil_gai_strerror(r));
        p2p_conn_schedule(t, NULL);
        goto out;
    }
    for (pick = ai; pick != NULL; pick = pick->ai_next)
        n++;
    pick = ai;
    for (size_t i = 0; i < t->attempts % n; i++)
        pick = pick->ai_next;
    t->attempts++;

    ssl = SSL_new(p->ssl);
    if (ssl == NULL) {
        ERR_clear_error();
        goto nomem;
    }
    /* On failure libevent frees `ssl` (BEV_OPT_CLOSE_ON_FREE). */
    bev = bufferevent_openssl_socket_new(p->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                         BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bev == NULL)
        goto nomem;
    peer = p2p_peer_new(p, t, t->addr, bev);
    if (peer == NULL)
        goto nomem;
    t->peer = peer;
    LOG_DEBUG(LOG_P2P, "peer %s (outbound): connecting", t->addr);
    if (bufferevent_socket_connect(bev, pick->ai_addr, (int)pick->ai_addrlen) != 0) {
        snprintf(reason, sizeof(reason), "TLS setup failed: cannot connect: %s",
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        p2p_peer_close(peer, reason);
        goto out;
    }
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    goto out;
nomem:
    LOG_WARN(LOG_P2P, "peer %s (outbound): closed: out of memory", t->addr);
    p2p_conn_schedule(t, NULL); /* a failed attempt: the back-off applies */
out:
    if (ai != NULL)
        evutil_freeaddrinfo(ai);
}

static void
target_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    target_connect(arg);
}

void
p2p_conn_start(evutil_socket_t fd, short what, void *arg)
{
    struct p2p *p = arg;

    for (size_t i = 0; i < p->ntargets; i++)
        if (p->targets[i].peer == NULL && !evtimer_pending(p->targets[i].timer, NULL))
            target_connect(&p->targets[i]);
}

/* ------------------------------------------------------------------ targets */

int
p2p_conn_targets(struct p2p *p, const struct p2p_config *cfg, struct sbx_err *err)
{
    if (cfg->nconnect == 0)
        return SBX_OK;
    p->targets = calloc(cfg->nconnect, sizeof(*p->targets));
    if (p->targets == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    for (size_t i = 0; i < cfg->nconnect; i++) {
        struct p2p_target *t = &p->targets[i];

        if (cfg->connect[i] == NULL || parse_target(cfg->connect[i], t->host, &t->port) != SBX_OK)
            return sbx_err_set(err, SBX_EINVAL, "connect: '%s' is not HOST:PORT or [IPV6]:PORT",
                               cfg->connect[i] ? cfg->connect[i] : "(null)");
        snprintf(t->addr, sizeof(t->addr), "%s", cfg->connect[i]);
        t->p = p;
        t->delay_ms = p->reconnect_min_ms;
        p->ntargets++;
        t->timer = evtimer_new(p->base, target_timer_cb, t);
        if (t->timer == NULL)
            return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    }
    return SBX_OK;
}
