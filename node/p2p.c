/* Peer links: TLS 1.3 transport, node-key handshake, framing, reconnects; see p2p.h and
 * doc/protocol.md. This file creates and frees a struct p2p, sends frames and answers for
 * peers; p2p_internal.h lists the files that do the rest.
 *
 * Threads: all on the event loop's thread (p2p_new and p2p_free from the thread that owns the
 * loop, while it is not running a callback of this p2p).
 */
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "node/p2p_internal.h"
#include "util/buf.h"
#include "util/sha256.h"

/* The arguments of p2p_new that need no allocation to check. */
static int
check_config(const struct p2p_config *cfg, struct sbx_err *err)
{
    if (cfg->node_key == NULL)
        return sbx_err_set(err, SBX_EINVAL, "node_key: missing");
    if (cfg->certdir == NULL || cfg->certdir[0] == '\0')
        return sbx_err_set(err, SBX_EINVAL, "certdir: missing");
    if (cfg->listen && (cfg->port < 0 || cfg->port > 65535))
        return sbx_err_set(err, SBX_EINVAL, "port: %d is not 0..65535", cfg->port);
    if (cfg->nconnect > 0 && cfg->connect == NULL)
        return sbx_err_set(err, SBX_EINVAL, "connect: missing");
    if (sha256_global_init() != SBX_OK)
        return sbx_err_set(err, SBX_EINTERNAL, "SHA-256 is not available");
    return SBX_OK;
}

/* The front door's limits: each field's default (taken for 0) and largest value. */
static const struct door_field {
    size_t off; /* in struct p2p_limits */
    int def, max;
    const char *name;
} door_fields[] = {
    {offsetof(struct p2p_limits, handshake_timeout_ms), P2P_DEFAULT_HANDSHAKE_TIMEOUT_MS,
     3600 * 1000, "handshake_timeout_ms"},
    {offsetof(struct p2p_limits, max_inbound), P2P_DEFAULT_MAX_INBOUND, 65536, "max_inbound"},
    {offsetof(struct p2p_limits, max_handshaking), P2P_DEFAULT_MAX_HANDSHAKING, 65536,
     "max_handshaking"},
    {offsetof(struct p2p_limits, addr_links), P2P_DEFAULT_ADDR_LINKS, 65536, "addr_links"},
    {offsetof(struct p2p_limits, addr_handshakes), P2P_DEFAULT_ADDR_HANDSHAKES, 65536,
     "addr_handshakes"},
};

/* The front door's limits `in`, defaults filled in, into `out`; SBX_EINVAL (naming the field)
 * for one that is not 1..max once filled in. */
static int
set_door(struct p2p_limits *out, const struct p2p_limits *in, struct sbx_err *err)
{
    for (size_t i = 0; i < sizeof(door_fields) / sizeof(door_fields[0]); i++) {
        const struct door_field *f = &door_fields[i];
        int v = *(const int *)(const void *)((const char *)in + f->off);
        int *o = (int *)(void *)((char *)out + f->off);

        *o = v != 0 ? v : f->def;
        if (*o < 1 || *o > f->max)
            return sbx_err_set(err, SBX_EINVAL, "limits.%s: %d is not 1..%d", f->name, v, f->max);
    }
    return SBX_OK;
}

/* The limits of `cfg`, defaults filled in, into `p`. */
static int
set_limits(struct p2p *p, const struct p2p_config *cfg, struct sbx_err *err)
{
    int rc;

    p->max_frame = cfg->max_frame ? cfg->max_frame : P2P_DEFAULT_MAX_FRAME;
    p->reconnect_min_ms =
        cfg->reconnect_min_ms ? cfg->reconnect_min_ms : P2P_DEFAULT_RECONNECT_MIN_MS;
    p->reconnect_max_ms =
        cfg->reconnect_max_ms ? cfg->reconnect_max_ms : P2P_DEFAULT_RECONNECT_MAX_MS;
    p->write_timeout_ms = P2P_WRITE_TIMEOUT_MS;
    rc = set_door(&p->lim, &cfg->limits, err);
    if (rc != SBX_OK)
        return rc;
    if (p->max_frame < AUTH_FRAME_LEN || p->max_frame > UINT32_MAX)
        return sbx_err_set(err, SBX_EINVAL, "max_frame: %zu is not %d..%lu", p->max_frame,
                           AUTH_FRAME_LEN, (unsigned long)UINT32_MAX);
    p->max_sendq = cfg->max_sendq ? cfg->max_sendq : 2 * (p->max_frame + FRAME_HDR + 1);
    if (p->max_sendq < p->max_frame + FRAME_HDR)
        return sbx_err_set(err, SBX_EINVAL, "max_sendq: %zu is less than one frame (%zu)",
                           p->max_sendq, p->max_frame + FRAME_HDR);
    if (p->reconnect_min_ms < 1 || p->reconnect_max_ms < p->reconnect_min_ms ||
        p->reconnect_max_ms > 3600 * 1000)
        return sbx_err_set(err, SBX_EINVAL,
                           "reconnect_min_ms/reconnect_max_ms: %d/%d is not 1 <= min <= max "
                           "<= 3600000",
                           p->reconnect_min_ms, p->reconnect_max_ms);
    return SBX_OK;
}

void
p2p_free(struct p2p *p)
{
    struct p2p_peer *peer;

    if (p == NULL)
        return;
    p->freeing = 1;
    if (p->listener != NULL)
        evconnlistener_free(p->listener);
    for (peer = LIST_FIRST(&p->peers); peer != NULL; peer = LIST_NEXT(peer, link)) {
        p2p_peer_close(peer, "shutting down");
    }
    if (p->reap_ev != NULL)
        p2p_peer_reap(-1, 0, p);
    for (size_t i = 0; i < p->ntargets; i++)
        if (p->targets[i].timer != NULL)
            event_free(p->targets[i].timer);
    if (p->reap_ev != NULL)
        event_free(p->reap_ev);
    if (p->start_ev != NULL)
        event_free(p->start_ev);
    if (p->accept_retry != NULL)
        event_free(p->accept_retry);
    SSL_CTX_free(p->ssl);
    free(p->targets);
    memset(p, 0, sizeof(*p));
    free(p);
}

int
p2p_new(struct p2p **out, struct event_base *base, const struct p2p_config *cfg,
        const struct p2p_callbacks *cb, void *ctx, struct sbx_err *err)
{
    struct p2p *p;
    int rc;

    if (out == NULL || base == NULL || cfg == NULL || cb == NULL)
        return sbx_err_set(err, SBX_EINVAL, "p2p_new: missing argument");
    *out = NULL;
    rc = check_config(cfg, err);
    if (rc)
        return rc;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    p->base = base;
    p->cb = *cb;
    p->ctx = ctx;
    p->key = cfg->node_key;
    memcpy(p->network_id, cfg->network_id, 32);
    LIST_INIT(&p->peers);
    rc = set_limits(p, cfg, err);
    rc = rc ? rc : p2p_conn_targets(p, cfg, err);
    if (rc)
        goto fail;
    p->reap_ev = event_new(base, -1, 0, p2p_peer_reap, p);
    p->start_ev = evtimer_new(base, p2p_conn_start, p);
    p->accept_retry = evtimer_new(base, p2p_conn_accept_retry, p);
    if (p->reap_ev == NULL || p->start_ev == NULL || p->accept_retry == NULL) {
        rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
        goto fail;
    }
    rc = p2p_tls_init(p, cfg->certdir, err);
    if (rc == SBX_OK && cfg->listen)
        rc = p2p_conn_listen(p, cfg->bind, cfg->port, err);
    if (rc)
        goto fail;
    if (p->ntargets > 0)
        event_active(p->start_ev, EV_TIMEOUT, 0);
    *out = p;
    return SBX_OK;
fail:
    p2p_free(p);
    return rc;
}

int
p2p_port(const struct p2p *p)
{
    return p->listener != NULL ? p->port : 0;
}

int
p2p_frame_decode(struct p2p_frame *f, const uint8_t *in, size_t have, size_t max_frame, int open,
                 struct sbx_err *err)
{
    uint32_t len;

    memset(f, 0, sizeof(*f));
    f->size = FRAME_HDR;
    if (have < FRAME_HDR)
        return sbx_err_set(err, SBX_ETRUNCATED, "frame: %zu bytes of its length", have);
    len = buf_load_u32(in);
    if (len == 0 || len > max_frame || (!open && len != AUTH_FRAME_LEN))
        return sbx_err_set(err, SBX_ETOOLONG, "frame: length %lu", (unsigned long)len);
    f->size = FRAME_HDR + (size_t)len;
    if (have < f->size)
        return sbx_err_set(err, SBX_ETRUNCATED, "frame: %zu of %zu bytes", have, f->size);
    f->type = in[FRAME_HDR];
    if ((f->type == P2P_MSG_AUTH) != !open)
        return sbx_err_set(err, SBX_ETYPE, "frame: type %u %s AUTH", f->type,
                           open ? "after" : "before");
    f->payload = in + FRAME_HDR + 1;
    f->len = (size_t)len - 1;
    return SBX_OK;
}

/* The checks shared by p2p_send and p2p_broadcast. */
static int
check_frame(const struct p2p *p, uint8_t type, const uint8_t *payload, size_t len)
{
    if (payload == NULL && len > 0)
        return SBX_EINVAL;
    if (type == P2P_MSG_AUTH)
        return SBX_EINVAL;
    if (len >= p->max_frame)
        return SBX_ETOOLONG;
    return SBX_OK;
}

static int
sendq_room(const struct p2p_peer *peer, size_t len)
{
    size_t queued = evbuffer_get_length(bufferevent_get_output(peer->bev));

    return queued + FRAME_HDR + 1 + len <= peer->p->max_sendq;
}

int
p2p_send(struct p2p_peer *peer, uint8_t type, const uint8_t *payload, size_t len)
{
    int rc;

    if (peer == NULL)
        return SBX_EINVAL;
    rc = check_frame(peer->p, type, payload, len);
    if (rc != SBX_OK)
        return rc;
    if (peer->state != PEER_OPEN || peer->p->freeing)
        return SBX_EUNAVAIL;
    if (!sendq_room(peer, len))
        return SBX_EOVERLOAD;
    return p2p_peer_queue(peer, type, payload, len);
}

int
p2p_broadcast(struct p2p *p, uint8_t type, const uint8_t *payload, size_t len)
{
    struct p2p_peer *peer;
    int rc, n = 0;

    if (p == NULL)
        return SBX_EINVAL;
    rc = check_frame(p, type, payload, len);
    if (rc != SBX_OK)
        return rc;
    if (p->freeing)
        return 0;
    for (peer = LIST_FIRST(&p->peers); peer != NULL; peer = LIST_NEXT(peer, link)) {
        if (peer->state != PEER_OPEN)
            continue;
        if (!sendq_room(peer, len)) {
            p2p_peer_close(peer, "send queue full");
            continue;
        }
        if (p2p_peer_queue(peer, type, payload, len) == SBX_OK && n < INT_MAX)
            n++;
    }
    return n;
}

void
p2p_foreach_peer(struct p2p *p, void (*fn)(void *ctx, struct p2p_peer *peer), void *ctx)
{
    struct p2p_peer *peer;

    for (peer = LIST_FIRST(&p->peers); peer != NULL; peer = LIST_NEXT(peer, link)) {
        if (peer->state == PEER_OPEN)
            fn(ctx, peer);
    }
}

size_t
p2p_peer_count(const struct p2p *p)
{
    const struct p2p_peer *peer;
    size_t n = 0;

    for (peer = LIST_FIRST(&p->peers); peer != NULL; peer = LIST_NEXT(peer, link)) {
        if (peer->state == PEER_OPEN)
            n++;
    }
    return n;
}

const uint8_t *
p2p_peer_key(const struct p2p_peer *peer)
{
    return peer->key;
}

int
p2p_peer_role(const struct p2p_peer *peer)
{
    return peer->role;
}

const char *
p2p_peer_addr(const struct p2p_peer *peer)
{
    return peer->addr;
}

int
p2p_peer_inbound(const struct p2p_peer *peer)
{
    return peer->target == NULL;
}

uint64_t
p2p_peer_id(const struct p2p_peer *peer)
{
    return peer->id;
}

size_t
p2p_peer_sendq(const struct p2p_peer *peer)
{
    return evbuffer_get_length(bufferevent_get_output(peer->bev));
}

void
p2p_peer_set_data(struct p2p_peer *peer, void *data)
{
    peer->data = data;
}

void *
p2p_peer_data(const struct p2p_peer *peer)
{
    return peer->data;
}

/* ------------------------------------------------------------------ test hooks */

#ifdef SBX_TEST_HOOKS
void
p2p_test_corrupt_auth(struct p2p *p, int on)
{
    p->corrupt_auth = on;
}

void
p2p_test_write_timeout(struct p2p *p, int ms)
{
    p->write_timeout_ms = ms;
}
#endif
