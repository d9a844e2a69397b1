/* A peer link's life and its frames (see p2p_internal.h for the files of node/p2p).
 *
 * A link goes through three states: TLS (TCP connect and the TLS handshake), AUTH (TLS is up,
 * our AUTH frame is sent, we wait for the peer's) and OPEN (the caller knows the peer). Closing
 * is split in two so that no callback ever runs inside a p2p_* call and no object is freed
 * under a callback that is still using it: p2p_peer_close() logs, stops the bufferevent and
 * marks the peer CLOSED at once; the `reap` event, on the next turn of the loop, calls
 * on_disconnect and frees it. Closed peers stay on the list until then, so walking the list
 * stays safe while callbacks close peers.
 *
 * Reading: a frame is consumed only when all of it is in the input buffer. The length is
 * checked as soon as its four bytes are there, before anything waits for the rest, so a peer
 * can make us hold at most one frame it declared within the limits: 129 bytes before it has
 * authenticated, max_frame after. The read low watermark is set to the size of the frame being
 * waited for (one callback per frame, not one per TLS record) and the high watermark caps the
 * input buffer.
 *
 * Threads: all on the event loop's thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "node/p2p_internal.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/time.h"

/* Input may pass a full frame by what libevent reads in one go (a TLS record or two) before the
 * frame's callback drains it; the high watermark leaves that much room above the largest
 * frame so that it is never reached by a well-behaved peer. */
#define READ_SLACK (256u * 1024u)
#define SMALL_FRAME (64u * 1024u) /* header and payload queued contiguously up to this size */

static void peer_read_cb(struct bufferevent *bev, void *arg);
static void peer_event_cb(struct bufferevent *bev, short what, void *arg);
static void handshake_timeout_cb(evutil_socket_t fd, short what, void *arg);

const char *
p2p_peer_dir(const struct p2p_peer *peer)
{
    return peer->target == NULL ? "inbound" : "outbound";
}

struct p2p_peer *
p2p_peer_new(struct p2p *p, struct p2p_target *t, const char *addr, struct bufferevent *bev)
{
    struct p2p_peer *peer = calloc(1, sizeof(*peer));
    struct timeval tv;

    if (peer == NULL) {
        bufferevent_free(bev);
        return NULL;
    }
    peer->p = p;
    peer->target = t;
    peer->bev = bev;
    peer->state = PEER_TLS;
    peer->id = ++p->next_id;
    snprintf(peer->addr, sizeof(peer->addr), "%s", addr);
    peer->timer = evtimer_new(p->base, handshake_timeout_cb, peer);
    if (peer->timer == NULL) {
        bufferevent_free(bev);
        free(peer);
        return NULL;
    }
    /* The handshake deadline: armed once here, deleted at OPEN, never re-armed, so bytes that
     * trickle in cannot extend it. */
    tv.tv_sec = p->lim.handshake_timeout_ms / 1000;
    tv.tv_usec = (p->lim.handshake_timeout_ms % 1000) * 1000;
    evtimer_add(peer->timer, &tv);
    LIST_INSERT_HEAD(&p->peers, peer, link);
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    bufferevent_setcb(bev, peer_read_cb, NULL, peer_event_cb, peer);
    peer->low_wm = FRAME_HDR;
    bufferevent_setwatermark(bev, EV_READ, peer->low_wm, FRAME_HDR + p->max_frame + READ_SLACK);
    return peer;
}

static void
peer_free(struct p2p_peer *peer)
{
    if (peer->bev != NULL)
        bufferevent_free(peer->bev);
    if (peer->timer != NULL)
        event_free(peer->timer);
    memset(peer, 0, sizeof(*peer));
    free(peer);
}

/* Close now (log, stop I/O, schedule the reconnect); on_disconnect and the free come from the
 * reap event. */
void
p2p_peer_close(struct p2p_peer *peer, const char *reason)
{
    struct p2p *p;

    if (peer == NULL || peer->state == PEER_CLOSED)
        return;
    p = peer->p;
    if (reason == NULL)
        reason = "closed";
    peer->state = PEER_CLOSED;
    snprintf(peer->reason, sizeof(peer->reason), "%s", reason);
    if (p->freeing)
        LOG_INFO(LOG_P2P, "peer %s (%s): closed: %s", peer->addr, p2p_peer_dir(peer), reason);
    else if (peer->target == NULL && !peer->announced) /* a stranger can repeat this at will */
        p2p_conn_quiet(&p->door_quiet, P2P_DOOR_LOG_BURST, P2P_DOOR_LOG_WINDOW_MS,
                       "peer %s (inbound): closed: %s", peer->addr, reason);
    else
        LOG_WARN(LOG_P2P, "peer %s (%s): closed: %s", peer->addr, p2p_peer_dir(peer), reason);
    bufferevent_setcb(peer->bev, NULL, NULL, NULL, NULL);
    bufferevent_disable(peer->bev, EV_READ | EV_WRITE);
    event_del(peer->timer);
    memset(peer->exporter, 0, sizeof(peer->exporter));
    if (peer->target != NULL)
        p2p_conn_schedule(peer->target, peer);
    event_active(p->reap_ev, EV_TIMEOUT, 0);
}

/* The first closed peer on the list, NULL if none. */
static struct p2p_peer *
first_closed(struct p2p *p)
{
    struct p2p_peer *peer;

    for (peer = LIST_FIRST(&p->peers); peer != NULL; peer = LIST_NEXT(peer, link)) {
        if (peer->state == PEER_CLOSED)
            return peer;
    }
    return NULL;
}

/* One at a time from the head: on_disconnect may close (never free) other peers. */
void
p2p_peer_reap(evutil_socket_t fd, short what, void *arg)
{
    struct p2p *p = arg;
    struct p2p_peer *peer;

    while ((peer = first_closed(p)) != NULL) {
        LIST_REMOVE(peer, link);
        if (peer->announced && p->cb.on_disconnect != NULL)
            p->cb.on_disconnect(p->ctx, peer, peer->reason);
        peer_free(peer);
    }
}

static void
handshake_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    p2p_peer_close(arg, "handshake timeout");
}

int
p2p_peer_queue(struct p2p_peer *peer, uint8_t type, const uint8_t *payload, size_t len)
{
    struct evbuffer *out = bufferevent_get_output(peer->bev);
    uint8_t hdr[FRAME_HDR + 1];
    int r = 0;

    buf_store_u32(hdr, (uint32_t)(len + 1));
    hdr[FRAME_HDR] = type;
    /* A small frame goes into one buffer chunk, hence one TLS record. */
    if (len <= SMALL_FRAME)
        r = evbuffer_expand(out, sizeof(hdr) + len);
    if (r == 0)
        r = evbuffer_add(out, hdr, sizeof(hdr));
    if (r == 0 && len > 0)
        r = evbuffer_add(out, payload, len);
    if (r != 0) {
        p2p_peer_close(peer, "out of memory");
        return SBX_ENOMEM;
    }
    return SBX_OK;
}

static void
set_low_watermark(struct p2p_peer *peer, size_t low)
{
    if (peer->low_wm == low)
        return;
    peer->low_wm = low;
    bufferevent_setwatermark(peer->bev, EV_READ, low, FRAME_HDR + peer->p->max_frame + READ_SLACK);
}

static void
peer_read_cb(struct bufferevent *bev, void *arg)
{
    struct p2p_peer *peer = arg;
    struct p2p *p = peer->p;
    struct evbuffer *in = bufferevent_get_input(bev);

    if (peer->state == PEER_TLS)
        p2p_tls_up(peer); /* data can come before the CONNECTED event is delivered */
    while (peer->state == PEER_AUTH || peer->state == PEER_OPEN) {
        int open = peer->state == PEER_OPEN;
        size_t have = evbuffer_get_length(in), n = have < FRAME_HDR ? have : FRAME_HDR;
        uint8_t hdr[FRAME_HDR];
        struct p2p_frame f;
        int rc;

        if (evbuffer_copyout(in, hdr, n) != (ev_ssize_t)n) {
            p2p_peer_close(peer, "cannot read the input buffer");
            return;
        }
        /* the length field first: a frame is pulled up only when all of it is in */
        rc = p2p_frame_decode(&f, hdr, n, p->max_frame, open, NULL);
        if (rc == SBX_ETRUNCATED && have >= f.size) {
            const uint8_t *frame = evbuffer_pullup(in, (ev_ssize_t)f.size);

            if (frame == NULL) {
                p2p_peer_close(peer, "out of memory");
                return;
            }
            rc = p2p_frame_decode(&f, frame, f.size, p->max_frame, open, NULL);
        }
        if (rc == SBX_ETRUNCATED) {
            set_low_watermark(peer, f.size);
            return;
        }
        if (rc) {
            p2p_peer_close(peer, "malformed frame");
            return;
        }
        if (!open)
            p2p_tls_auth_check(peer, f.payload);
        else if (p->cb.on_message != NULL)
            p->cb.on_message(p->ctx, peer, f.type, f.payload, f.len);
        /* The bufferevent outlives a close made above (it is freed by the reap event). */
        evbuffer_drain(in, f.size);
    }
}

/* 1 if the bufferevent's socket has a connected peer. */
static int
tcp_connected(struct bufferevent *bev)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    evutil_socket_t fd = bufferevent_getfd(bev);

    return fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &len) == 0;
}

static void
peer_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct p2p_peer *peer = arg;
    char reason[REASON_MAX], detail[REASON_MAX - 40];
    unsigned long sslerr;
    int sockerr = EVUTIL_SOCKET_ERROR();

    if (peer->state == PEER_CLOSED)
        return;
    if (what & BEV_EVENT_CONNECTED) {
        p2p_tls_up(peer);
        return;
    }
    sslerr = bufferevent_get_openssl_error(bev);
    while (bufferevent_get_openssl_error(bev) != 0)
        ;
    if (what & BEV_EVENT_TIMEOUT) {
        snprintf(detail, sizeof(detail), "write timeout (the peer does not read)");
    } else if (peer->state == PEER_TLS && peer->target != NULL && !tcp_connected(bev)) {
        /* OpenSSL reports a refused connect as an EOF; errno still says what happened. */
        snprintf(detail, sizeof(detail), "cannot connect: %s",
                 sockerr != 0 ? evutil_socket_error_to_string(sockerr) : "not connected");
    } else if (what & BEV_EVENT_EOF) {
        snprintf(detail, sizeof(detail), "connection closed by peer");
    } else if (sslerr != 0) {
        char e[200];
        ERR_error_string_n(sslerr, e, sizeof(e));
        snprintf(detail, sizeof(detail), "TLS error: %.100s", e);
    } else if (sockerr != 0) {
        snprintf(detail, sizeof(detail), "%s", evutil_socket_error_to_string(sockerr));
    } else {
        snprintf(detail, sizeof(detail), "I/O error");
    }
    ERR_clear_error();
    if (peer->state == PEER_TLS)
        snprintf(reason, sizeof(reason), "TLS setup failed: %s", detail);
    else
        snprintf(reason, sizeof(reason), "%s", detail);
    p2p_peer_close(peer, reason);
}
