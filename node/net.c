/* The node's network layer; see net.h and doc/protocol.md.
 *
 * Serving: a peer that sends getblocks(from) is "subscribed" from that height. The pump sends
 * it every durable block from there on, in order, as long as its send queue stays under
 * PUMP_SENDQ_MAX; a timer resumes peers whose queue was full, and every new durable block
 * pumps again. There is one stream per peer, so blocks reach a peer in height order.
 *
 * Following: one peer at a time is the sync source (the operator when linked, else any peer
 * whose hello shows a higher tip). A block at the next height goes to the node's applier; one
 * above it means blocks were missed (the applier's queue was full): ask again from the next
 * height, once. One below it is compared with the block we hold at that height: the same is a
 * duplicate, a different one validly signed by the operator is an equivocation (both headers
 * are kept as the proof, a critical alert is raised, and the node stops following).
 *
 * Clock (followers): a live block dated further from our clock than time.max_skew_ms raises a
 * clock.skew warning (check_clock).
 *
 * Attesting (regulators): when the applier is idle and a block holding more than attestations
 * was applied since the last attestation, attest the tip to every linked operator; also every
 * max_lag_s / 3 while supervision.max_lag_s > 0, so that an idle exchange stays supervised,
 * at once on (re)connecting to the operator, and again when the last one sent is still not on
 * the chain a second later (the operator refused it), backing off.
 */
#include "node/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "compliance/engine.h"
#include "compliance/params.h"
#include "node/p2p.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/time.h"

#define PROPOSAL_VERSION 1
/* Queued bytes to one peer past which the pump waits for the link to drain. */
#define PUMP_SENDQ_MAX ((size_t)8 * 1024 * 1024)
#define PUMP_RETRY_MS 5
#define TICK_MS 1000
/* A regulator attests at most this often (each attestation is a transaction the operator
 * records); blocks in between are covered by the next one, which attests the tip. */
#define ATTEST_MIN_INTERVAL_MS 20
/* An attestation sent but not on the chain after this long (the operator refused it: its queue
 * was full, it was stopping; or the link dropped it) is sent again, then after twice as long,
 * and so on up to 64 times as long, until one is recorded. */
#define ATTEST_RESEND_MS 1000
#define ATTEST_RESEND_MAX_SHIFT 6
/* Attestation latency samples kept (operator), and blocks whose durable time is remembered. */
#define LAT_SAMPLES 8192
#define DURABLE_RING 8192
/* A follower raises the clock.skew node alert at most this often. */
#define CLOCK_ALERT_INTERVAL_US ((int64_t)600 * 1000000)

struct peer_state {
    uint64_t next; /* next block to send it; UINT64_MAX = it has not asked */
    uint64_t tip;  /* its tip, from its last hello */
    int hello;
};

struct node_net {
    struct node *node;
    struct event_base *base;
    struct p2p *p2p;
    struct event *pump_ev, *tick_ev, *attest_ev;
    struct node_events events;
    struct node_watch watch; /* watching once ctx is set */
    uint8_t (*observers)[32];
    size_t nobservers;
    struct buf blk; /* scratch for blocks read from the store */
    int follower;
    /* following */
    struct p2p_peer *source;
    int64_t sync_us; /* when we last asked a source for blocks (0: caught up since) */
    uint64_t sync_from;
    uint64_t gap_asked;     /* the height last asked for after a gap (0 = none) */
    int64_t max_skew_ms;    /* time.max_skew_ms, refreshed every tick */
    int64_t clock_alert_us; /* when clock.skew was last raised (0 = never) */
    /* attesting */
    uint64_t attested_height;
    int64_t attested_ms, attested_us;
    int resends; /* attestations sent again since one was last seen on the chain */
    /* operator: when each recent block became durable, and attestation latencies */
    struct {
        uint64_t height;
        int64_t us;
    } durable[DURABLE_RING];
    uint64_t noted_height;
    int64_t lat_us[LAT_SAMPLES];
    size_t nlat, lat_next;
#ifdef SBX_TEST_HOOKS
    int equivocate;
#endif
};

/* ------------------------------------------------------------------ payloads (pure: any thread) */

int
node_net_hello_decode(struct node_net_hello *h, const uint8_t *in, size_t len, struct sbx_err *err)
{
    memset(h, 0, sizeof(*h));
    if (len != NODE_NET_HELLO_SIZE)
        return sbx_err_set(err, len < NODE_NET_HELLO_SIZE ? SBX_ETRUNCATED : SBX_ETRAILING,
                           "hello: %zu bytes, not %d", len, NODE_NET_HELLO_SIZE);
    if (in[0] != NODE_NET_HELLO_VERSION)
        return sbx_err_set(err, SBX_EVERSION, "hello: version %u", in[0]);
    h->role = in[1];
    h->height = buf_load_u64(in + 2);
    memcpy(h->hash, in + 10, 32);
    return SBX_OK;
}

void
node_net_hello_encode(uint8_t out[static NODE_NET_HELLO_SIZE], const struct node_net_hello *h)
{
    out[0] = NODE_NET_HELLO_VERSION;
    out[1] = h->role;
    buf_store_u64(out + 2, h->height);
    memcpy(out + 10, h->hash, 32);
}

int
node_net_getblocks_decode(uint64_t *from, const uint8_t *in, size_t len, struct sbx_err *err)
{
    *from = 0;
    if (len != 8)
        return sbx_err_set(err, len < 8 ? SBX_ETRUNCATED : SBX_ETRAILING,
                           "getblocks: %zu bytes, not 8", len);
    *from = buf_load_u64(in);
    return SBX_OK;
}

/* ------------------------------------------------------------------ messages out */

static void
send_hello(struct node_net *net, struct p2p_peer *peer)
{
    uint8_t m[NODE_NET_HELLO_SIZE];
    struct node_net_hello h;
    struct ledger_tip tip;

    node_tip(net->node, &tip);
    h.role = (uint8_t)node_role(net->node);
    h.height = tip.height;
    memcpy(h.hash, tip.hash, 32);
    node_net_hello_encode(m, &h);
    if (p2p_send(peer, P2P_MSG_HELLO, m, sizeof(m)) != SBX_OK)
        LOG_DEBUG(LOG_P2P, "%s: hello not sent (link closing or full)", p2p_peer_addr(peer));
}

static void
hello_each(void *ctx, struct p2p_peer *peer)
{
    send_hello(ctx, peer);
}

static void
send_getblocks(struct node_net *net, struct p2p_peer *peer, uint64_t from)
{
    uint8_t m[8];

    buf_store_u64(m, from);
    if (p2p_send(peer, P2P_MSG_GETBLOCKS, m, sizeof(m)) == SBX_OK)
        LOG_DEBUG(LOG_P2P, "asked %s for blocks from %llu", p2p_peer_addr(peer),
                  (unsigned long long)from);
}

/* ------------------------------------------------------------------ serving blocks */

static void
pump(struct node_net *net, struct p2p_peer *peer, const struct ledger_tip *tip)
{
    struct peer_state *ps = p2p_peer_data(peer);
    struct sbx_err err;

    if (ps == NULL || ps->next == UINT64_MAX)
        return;
    while (ps->next <= tip->height && p2p_peer_sendq(peer) < PUMP_SENDQ_MAX) {
        int rc = ledger_store_get_block(node_store(net->node), ps->next, &net->blk, &err);

        if (rc) {
            LOG_ERROR(LOG_P2P, "cannot read block %llu to send: %s", (unsigned long long)ps->next,
                      err.msg);
            return;
        }
        rc = p2p_send(peer, P2P_MSG_BLOCK, net->blk.data, net->blk.len);
        if (rc == SBX_EOVERLOAD)
            break;
        if (rc)
            return; /* closing */
        ps->next++;
    }
    if (ps->next <= tip->height && !evtimer_pending(net->pump_ev, NULL)) {
        struct timeval tv = {0, PUMP_RETRY_MS * 1000};

        evtimer_add(net->pump_ev, &tv);
    }
}

struct pump_ctx {
    struct node_net *net;
    struct ledger_tip tip;
};

static void
pump_each(void *ctx, struct p2p_peer *peer)
{
    struct pump_ctx *pc = ctx;

    pump(pc->net, peer, &pc->tip);
}

static void
pump_all(struct node_net *net)
{
    struct pump_ctx pc = {net, {0}};

    node_tip(net->node, &pc.tip);
    p2p_foreach_peer(net->p2p, pump_each, &pc);
}

static void
pump_cb(evutil_socket_t fd, short what, void *arg)
{
    pump_all(arg);
}

/* ------------------------------------------------------------------ following */

static int
is_operator_peer(struct p2p_peer *peer)
{
    return p2p_peer_role(peer) == NODE_ROLE_OPERATOR;
}

struct pick {
    struct node_net *net;
    uint64_t next;
    struct p2p_peer *best;
};

static void
pick_each(void *ctx, struct p2p_peer *peer)
{
    struct pick *pk = ctx;
    struct peer_state *ps = p2p_peer_data(peer);

    if (is_operator_peer(peer))
        pk->best = peer; /* the source of truth, when linked */
    else if (pk->best == NULL && ps && ps->hello && ps->tip >= pk->next)
        pk->best = peer;
}

/* Choose a sync source if there is none, and ask it for the blocks after our tip. */
static void
ensure_source(struct node_net *net)
{
    struct pick pk = {net, 0, NULL};

    if (!net->follower || net->source != NULL || !node_following(net->node))
        return;
    pk.next = node_follow_next(net->node);
    p2p_foreach_peer(net->p2p, pick_each, &pk);
    if (pk.best == NULL)
        return;
    net->source = pk.best;
    net->gap_asked = 0;
    net->sync_us = time_mono_us();
    net->sync_from = pk.next;
    LOG_INFO(LOG_P2P, "following %s (%s) from height %llu", p2p_peer_addr(pk.best),
             node_role_name((enum node_role)p2p_peer_role(pk.best)), (unsigned long long)pk.next);
    send_getblocks(net, pk.best, pk.next);
}

/* The header of the block we hold (queued or applied) at `height`; 1 if found. */
static int
our_header(struct node_net *net, uint64_t height, struct ledger_block_header *h, uint8_t *raw)
{
    struct buf hdr;
    int found;

    buf_init(&hdr, LEDGER_HEADER_SIZE);
    found = node_follow_queued_hash(net->node, height, (uint8_t[32]){0}, &hdr);
    if (!found &&
        ledger_store_get_block(node_store(net->node), height, &net->blk, NULL) == SBX_OK &&
        net->blk.len >= LEDGER_HEADER_SIZE) {
        buf_reset(&hdr);
        found = buf_put(&hdr, net->blk.data, LEDGER_HEADER_SIZE) == SBX_OK;
    }
    if (found)
        found = ledger_block_header_decode(h, hdr.data, LEDGER_HEADER_SIZE, NULL) == SBX_OK;
    if (found)
        memcpy(raw, hdr.data, LEDGER_HEADER_SIZE);
    buf_release(&hdr);
    return found;
}

/* A block at a height we already hold. */
static void
check_equivocation(struct node_net *net, struct p2p_peer *peer, const struct ledger_block_header *h,
                   const uint8_t *raw_hdr)
{
    struct ledger_block_header ours;
    uint8_t ours_raw[LEDGER_HEADER_SIZE], ha[32], hb[32];
    json_t *proof;

    if (!our_header(net, h->height, &ours, ours_raw))
        return;
    ledger_block_hash(&ours, ha);
    ledger_block_hash(h, hb);
    if (memcmp(ha, hb, 32) == 0)
        return; /* a block we have: a duplicate */
    if (memcmp(h->producer, node_operator_key(net->node), 32) != 0 ||
        ledger_block_verify_sig(h, NULL) != SBX_OK) {
        p2p_peer_close(peer, "sent a block that the operator did not sign");
        return;
    }
    proof =
        json_pack("{s:I, s:o, s:o, s:o, s:o}", "height", (json_int_t)h->height, "hash_a",
                  hex_json(ha, 32), "header_a", hex_json(ours_raw, LEDGER_HEADER_SIZE), "hash_b",
                  hex_json(hb, 32), "header_b", hex_json(raw_hdr, LEDGER_HEADER_SIZE));
    node_alert(net->node, NODE_ALERT_CRITICAL, "equivocation", h->height, p2p_peer_key(peer), proof,
               "the operator signed two different blocks at height %llu (received from %s); "
               "following stopped",
               (unsigned long long)h->height, p2p_peer_addr(peer));
    node_stop_following(net->node, "equivocation");
    net->source = NULL;
}

/* clock.skew: a live block whose time differs from this node's clock by more than
 * time.max_skew_ms means that one of the two clocks is wrong (the operator's, which dates
 * every block and transaction, or ours). Live: the sender made it after its last hello (a block
 * above the tip it announced), so not a block we catch up on. A warning, at most once per
 * CLOCK_ALERT_INTERVAL_US so that a clock that stays wrong cannot flood the alerts. */
static void
check_clock(struct node_net *net, const struct peer_state *ps, const struct ledger_block_header *h)
{
    int64_t now = time_now_ms(), diff = h->time_ms - now, mono = time_mono_us();

    if (!ps->hello || h->height <= ps->tip)
        return;
    if (diff <= net->max_skew_ms && -diff <= net->max_skew_ms)
        return;
    if (net->clock_alert_us != 0 && mono - net->clock_alert_us < CLOCK_ALERT_INTERVAL_US)
        return;
    net->clock_alert_us = mono;
    node_alert(net->node, NODE_ALERT_WARNING, "clock.skew", h->height, NULL, NULL,
               "block %llu is dated %lld ms %s this node's clock (time.max_skew_ms %lld): check "
               "the operator's clock and this node's",
               (unsigned long long)h->height, (long long)(diff < 0 ? -diff : diff),
               diff < 0 ? "behind" : "ahead of", (long long)net->max_skew_ms);
}

static void
on_block(struct node_net *net, struct p2p_peer *peer, const uint8_t *payload, size_t len)
{
    struct ledger_block_header h;
    uint64_t next;
    int rc;

    if (!net->follower) {
        p2p_peer_close(peer, "sent a block to the operator");
        return;
    }
    if (len < LEDGER_HEADER_SIZE ||
        ledger_block_header_decode(&h, payload, LEDGER_HEADER_SIZE, NULL) != SBX_OK) {
        p2p_peer_close(peer, "sent a malformed block");
        return;
    }
    if (!node_following(net->node))
        return;
    next = node_follow_next(net->node);
    if (h.height < next) {
        check_equivocation(net, peer, &h, payload);
        return;
    }
    if (h.height > next) {
        /* we missed some (our queue was full): ask again, once per gap */
        if (net->gap_asked != next) {
            net->gap_asked = next;
            send_getblocks(net, peer, next);
        }
        return;
    }
    rc = node_follow_block(net->node, payload, len);
    if (rc == SBX_OK)
        check_clock(net, p2p_peer_data(peer), &h);
    if (rc == SBX_EOVERLOAD)
        LOG_DEBUG(LOG_P2P, "applier queue full at block %llu: will ask again",
                  (unsigned long long)h.height);
    else if (rc && rc != SBX_EUNAVAIL)
        p2p_peer_close(peer, "sent a block that cannot be queued");
}

/* ------------------------------------------------------------------ attesting */

struct send_op {
    const uint8_t *data;
    size_t len;
    uint8_t type;
    int role; /* the peers it goes to */
    int sent;
};

static void
send_op_each(void *ctx, struct p2p_peer *peer)
{
    struct send_op *so = ctx;

    if (p2p_peer_role(peer) == so->role && p2p_send(peer, so->type, so->data, so->len) == SBX_OK)
        so->sent++;
}

/* Send a message to every linked peer of `role`; how many it went to. */
static int
send_to_role(struct node_net *net, int role, uint8_t type, const uint8_t *data, size_t len)
{
    struct send_op so = {data, len, type, role, 0};

    p2p_foreach_peer(net->p2p, send_op_each, &so);
    return so.sent;
}

static int
send_to_operator(struct node_net *net, uint8_t type, const uint8_t *data, size_t len)
{
    return send_to_role(net, NODE_ROLE_OPERATOR, type, data, len);
}

static void
attest(struct node_net *net, int force)
{
    struct ledger_tip tip;
    struct sbx_err err;
    struct buf msg;

    if (node_role(net->node) != NODE_ROLE_REGULATOR || !node_following(net->node))
        return;
    node_tip(net->node, &tip);
    if (tip.height == 0)
        return;
    if (!force && (tip.height <= net->attested_height ||
                   node_last_substantive(net->node) <= net->attested_height))
        return;
    if (!force && net->attested_us != 0) {
        int64_t wait_us = net->attested_us + ATTEST_MIN_INTERVAL_MS * 1000 - time_mono_us();

        if (wait_us > 0) {
            struct timeval tv = {0, (suseconds_t)wait_us};

            if (!evtimer_pending(net->attest_ev, NULL))
                evtimer_add(net->attest_ev, &tv);
            return;
        }
    }
    buf_init(&msg, SBX_TX_MAX_SIZE);
    if (node_make_attestation(net->node, &tip, &msg, &err) != SBX_OK)
        LOG_ERROR(LOG_P2P, "cannot make an attestation: %s", err.msg);
    else if (send_to_operator(net, P2P_MSG_ATTEST, msg.data, msg.len) > 0) {
        net->attested_height = tip.height;
        net->attested_ms = time_now_ms();
        net->attested_us = time_mono_us();
        LOG_DEBUG(LOG_P2P, "attested block %llu", (unsigned long long)tip.height);
    }
    buf_release(&msg);
}

/* Regulator: 1 if the attestation last sent is not on the chain and it is time to send one
 * again (ATTEST_RESEND_MS, doubling with each resend). `st` is the state now. */
static int
attest_unrecorded(struct node_net *net, const struct node_status *st)
{
    const uint8_t *me = node_identity(net->node)->pubkey;
    int shift = net->resends < ATTEST_RESEND_MAX_SHIFT ? net->resends : ATTEST_RESEND_MAX_SHIFT;

    for (size_t i = 0; i < st->nregulators; i++) {
        if (memcmp(st->regulators[i].key, me, 32) != 0)
            continue;
        if (st->regulators[i].attested_height >= net->attested_height) {
            net->resends = 0; /* recorded */
            return 0;
        }
        return net->attested_us != 0 &&
               time_mono_us() - net->attested_us >= ((int64_t)ATTEST_RESEND_MS * 1000) << shift;
    }
    return 0;
}

/* ------------------------------------------------------------------ operator side */

static void
submitted_cb(void *arg, const struct node_result *r)
{
    const char *what = arg;

    if (r->rc != SBX_OK)
        LOG_INFO(LOG_P2P, "%s from a regulator %s: %s", what,
                 r->rc == SBX_EREJECTED ? "rejected by the rules" : "refused", r->message);
}

static void
note_latency(struct node_net *net, const uint8_t *payload, size_t len)
{
    struct ledger_tx tx;
    uint64_t h;

    if (ledger_tx_decode(&tx, payload, len, NULL, NULL) != SBX_OK)
        return;
    h = tx.type == LEDGER_TX_ATTESTATION ? tx.u.attestation.height : 0;
    ledger_tx_release(&tx);
    if (h == 0 || net->durable[h % DURABLE_RING].height != h)
        return;
    net->lat_us[net->lat_next] = time_mono_us() - net->durable[h % DURABLE_RING].us;
    node_metrics_observe_attestation(net->node, (double)net->lat_us[net->lat_next] / 1e6);
    net->lat_next = (net->lat_next + 1) % LAT_SAMPLES;
    if (net->nlat < LAT_SAMPLES)
        net->nlat++;
}

static void
on_from_regulator(struct node_net *net, struct p2p_peer *peer, uint8_t type, const uint8_t *payload,
                  size_t len)
{
    if (node_role(net->node) != NODE_ROLE_OPERATOR) {
        LOG_DEBUG(LOG_P2P, "%s: ignored a transaction (only the operator takes them)",
                  p2p_peer_addr(peer));
        return;
    }
    if (p2p_peer_role(peer) != NODE_ROLE_REGULATOR) {
        p2p_peer_close(peer, "only regulator nodes may send transactions");
        return;
    }
    if (type == P2P_MSG_ATTEST)
        note_latency(net, payload, len);
    /* the pipeline decodes it, checks its signatures and the rules; a reply is not sent: the
     * regulator sees the outcome in the next blocks */
    node_submit_raw(net->node, payload, len, submitted_cb,
                    type == P2P_MSG_ATTEST ? "an attestation" : "a directive");
}

/* A PROPOSAL (k-of-n directives): to the operator only from a regulator, to a follower only
 * from the operator. A malformed one (decoding, signatures) closes the link; one the pool
 * refuses (an unknown key, expired, too many pending) is logged and dropped. */
static void
on_proposal(struct node_net *net, struct p2p_peer *peer, const uint8_t *payload, size_t len)
{
    int want = net->follower ? NODE_ROLE_OPERATOR : NODE_ROLE_REGULATOR;
    struct sbx_err err;
    int rc;

    if (p2p_peer_role(peer) != want) {
        p2p_peer_close(peer, net->follower ? "only the operator relays proposals"
                                           : "only regulator nodes may send proposals");
        return;
    }
    if (len < 1 || payload[0] != PROPOSAL_VERSION) {
        p2p_peer_close(peer, "malformed proposal");
        return;
    }
    sbx_err_clear(&err);
    rc = node_proposals_receive(net->node, payload + 1, len - 1, &err);
    if (rc == SBX_EDENIED || rc == SBX_ENOTFOUND || rc == SBX_EOVERLOAD || rc == SBX_ENOMEM) {
        LOG_WARN(LOG_P2P, "%s: proposal refused: %s", p2p_peer_addr(peer), err.msg);
    } else if (rc) {
        LOG_WARN(LOG_P2P, "%s: malformed proposal: %s", p2p_peer_addr(peer), err.msg);
        p2p_peer_close(peer, "malformed proposal");
    }
}

/* ------------------------------------------------------------------ p2p callbacks */

static int
key_allowed(void *ctx, const uint8_t key[32], int *role)
{
    struct node_net *net = ctx;

    if (memcmp(key, node_operator_key(net->node), 32) == 0) {
        *role = NODE_ROLE_OPERATOR;
        return 1;
    }
    if (node_is_regulator(net->node, key)) {
        *role = NODE_ROLE_REGULATOR;
        return 1;
    }
    for (size_t i = 0; i < net->nobservers; i++) {
        if (memcmp(key, net->observers[i], 32) == 0) {
            *role = NODE_ROLE_OBSERVER;
            return 1;
        }
    }
    return 0;
}

static void
on_connect(void *ctx, struct p2p_peer *peer)
{
    struct node_net *net = ctx;
    struct peer_state *ps = calloc(1, sizeof(*ps));

    if (ps == NULL) {
        p2p_peer_close(peer, "out of memory");
        return;
    }
    ps->next = UINT64_MAX;
    p2p_peer_set_data(peer, ps);
    send_hello(net, peer);
    if (net->follower) {
        if (is_operator_peer(peer) && net->source != NULL && !is_operator_peer(net->source))
            net->source = NULL; /* prefer the operator */
        ensure_source(net);
        if (is_operator_peer(peer))
            attest(net, 1); /* at once: the operator may be waiting for supervision */
    }
    /* pending k-of-n proposals: the operator may have restarted, the regulator been away */
    if (net->follower ? is_operator_peer(peer) : p2p_peer_role(peer) == NODE_ROLE_REGULATOR)
        node_proposals_resend(net->node);
}

static void
on_message(void *ctx, struct p2p_peer *peer, uint8_t type, const uint8_t *payload, size_t len)
{
    struct node_net *net = ctx;
    struct peer_state *ps = p2p_peer_data(peer);

    if (ps == NULL)
        return;
    switch (type) {
    case P2P_MSG_HELLO: {
        struct node_net_hello h;

        if (node_net_hello_decode(&h, payload, len, NULL) != SBX_OK) {
            p2p_peer_close(peer, "malformed hello");
            return;
        }
        ps->hello = 1;
        ps->tip = h.height;
        ensure_source(net);
        return;
    }
    case P2P_MSG_GETBLOCKS: {
        struct ledger_tip tip;
        uint64_t from;

        if (node_net_getblocks_decode(&from, payload, len, NULL) != SBX_OK) {
            p2p_peer_close(peer, "malformed getblocks");
            return;
        }
        ps->next = from;
        node_tip(net->node, &tip);
        pump(net, peer, &tip);
        return;
    }
    case P2P_MSG_BLOCK:
        on_block(net, peer, payload, len);
        return;
    case P2P_MSG_TX:
    case P2P_MSG_ATTEST:
        on_from_regulator(net, peer, type, payload, len);
        return;
    case P2P_MSG_PROPOSAL:
        on_proposal(net, peer, payload, len);
        return;
    default:
        p2p_peer_close(peer, "unknown message type");
        return;
    }
}

static void
on_disconnect(void *ctx, struct p2p_peer *peer, const char *reason)
{
    struct node_net *net = ctx;

    free(p2p_peer_data(peer));
    p2p_peer_set_data(peer, NULL);
    if (net->source == peer) {
        net->source = NULL;
        ensure_source(net); /* another peer, if one can serve */
    }
}

/* ------------------------------------------------------------------ node events */

static void
ev_on_tip(void *ctx, const struct ledger_tip *tip, int idle)
{
    struct node_net *net = ctx;

    if (!net->follower) {
        int64_t now = time_mono_us();

        /* when each block became durable, for the attestation latency */
        for (uint64_t h = net->noted_height + 1; h <= tip->height; h++) {
            net->durable[h % DURABLE_RING].height = h;
            net->durable[h % DURABLE_RING].us = now;
        }
        net->noted_height = tip->height;
    }
    pump_all(net);
#ifdef SBX_TEST_HOOKS
    if (net->equivocate && !net->follower) {
        struct buf fake;
        struct sbx_err err;

        net->equivocate = 0;
        buf_init(&fake, LEDGER_BLOCK_MAX_SIZE);
        if (node_test_equivocate(net->node, tip->height, &fake, &err) == SBX_OK) {
            LOG_WARN(LOG_P2P, "test hook: sending a second block at height %llu",
                     (unsigned long long)tip->height);
            (void)p2p_broadcast(net->p2p, P2P_MSG_BLOCK, fake.data, fake.len);
        } else {
            LOG_ERROR(LOG_P2P, "test hook: %s", err.msg);
        }
        buf_release(&fake);
    }
#endif
    if (net->follower && idle) {
        uint64_t next = node_follow_next(net->node);

        if (net->sync_us != 0 && tip->height >= net->sync_from) {
            double s = (double)(time_mono_us() - net->sync_us) / 1e6;

            LOG_INFO(LOG_P2P, "caught up: blocks %llu..%llu applied in %.3f s",
                     (unsigned long long)net->sync_from, (unsigned long long)tip->height, s);
            net->sync_us = 0;
        }
        attest(net, 0);
        /* blocks were dropped while the applier was full: ask for them again */
        if (net->source != NULL && net->gap_asked != 0 && net->gap_asked == next) {
            net->gap_asked = 0;
            send_getblocks(net, net->source, next);
        }
        p2p_foreach_peer(net->p2p, hello_each, net); /* peers see our new tip */
    }
}

static void
ev_on_refused(void *ctx, uint64_t height, const char *reason)
{
    struct node_net *net = ctx;

    net->source = NULL;
}

static int
ev_relay(void *ctx, const uint8_t *raw, size_t len)
{
    return send_to_operator(ctx, P2P_MSG_TX, raw, len) > 0 ? SBX_OK : SBX_EUNAVAIL;
}

/* A proposal: a follower sends it to the operator, the operator to every regulator. */
static int
ev_proposal(void *ctx, const uint8_t *raw, size_t len)
{
    struct node_net *net = ctx;
    uint8_t *msg = malloc(len + 1);
    int sent;

    if (msg == NULL)
        return SBX_ENOMEM;
    msg[0] = PROPOSAL_VERSION;
    memcpy(msg + 1, raw, len);
    sent = send_to_role(net, net->follower ? NODE_ROLE_OPERATOR : NODE_ROLE_REGULATOR,
                        P2P_MSG_PROPOSAL, msg, len + 1);
    free(msg);
    return sent > 0 ? SBX_OK : SBX_EUNAVAIL;
}

static void
peer_json_each(void *ctx, struct p2p_peer *peer)
{
    json_t *a = ctx;
    struct peer_state *ps = p2p_peer_data(peer);
    char key[65];

    hex_encode(key, p2p_peer_key(peer), 32);
    json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:b, s:I}", "key", key, "role",
                                       node_role_name((enum node_role)p2p_peer_role(peer)), "addr",
                                       p2p_peer_addr(peer), "inbound", p2p_peer_inbound(peer),
                                       "height", (json_int_t)(ps && ps->hello ? ps->tip : 0)));
}

static json_t *
ev_peers(void *ctx)
{
    struct node_net *net = ctx;
    json_t *a = json_array();

    if (a != NULL)
        p2p_foreach_peer(net->p2p, peer_json_each, a);
    return a;
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

static void
ev_supervision(void *ctx, json_t *obj)
{
    struct node_net *net = ctx;
    int64_t *v;
    size_t n = net->nlat;

    if (net->follower || n == 0)
        return;
    v = malloc(n * sizeof(*v));
    if (v == NULL)
        return;
    memcpy(v, net->lat_us, n * sizeof(*v));
    qsort(v, n, sizeof(*v), cmp_i64);
    json_object_set_new(obj, "attestation_latency_us",
                        json_pack("{s:I, s:I, s:I, s:I}", "samples", (json_int_t)n, "p50",
                                  (json_int_t)v[n / 2], "p99", (json_int_t)v[(n * 99) / 100], "max",
                                  (json_int_t)v[n - 1]));
    free(v);
}

static void
attest_cb(evutil_socket_t fd, short what, void *arg)
{
    attest(arg, 0);
}

/* Every second: hellos; on a follower, time.max_skew_ms for check_clock; on a regulator,
 * heartbeat attestations while supervision.max_lag_s is set. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct node_net *net = arg;
    struct node_status st;
    int64_t max_lag_ms;

    p2p_foreach_peer(net->p2p, hello_each, net); /* peers' view of our tip (getpeerinfo) */
    if (!net->follower)
        return;
    node_status_get(net->node, time_now_ms(), &st);
    net->max_skew_ms = st.params.v[CMP_P_MAX_SKEW_MS];
    if (node_role(net->node) != NODE_ROLE_REGULATOR)
        return;
    max_lag_ms = st.params.v[CMP_P_MAX_LAG_S] * 1000;
    if (max_lag_ms > 0 && time_now_ms() - net->attested_ms >= max_lag_ms / 3) {
        attest(net, 1);
    } else if (attest_unrecorded(net, &st)) {
        LOG_INFO(LOG_P2P, "attestation of block %llu not on the chain: sending one again",
                 (unsigned long long)net->attested_height);
        net->resends++;
        attest(net, 1);
    }
    ensure_source(net);
}

/* ------------------------------------------------------------------ open / free */

int
node_net_open(struct node_net **out, struct node *n, struct event_base *base,
              const struct node_net_config *cfg, struct sbx_err *err)
{
    static const struct p2p_callbacks cb = {key_allowed, on_connect, on_message, on_disconnect};
    struct node_net *net = calloc(1, sizeof(*net));
    struct p2p_config pc;
    int rc;

    *out = NULL;
    if (net == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    net->node = n;
    net->max_skew_ms = cmp_params_default(CMP_P_MAX_SKEW_MS); /* until the first tick */
    net->base = base;
    net->follower = node_role(n) != NODE_ROLE_OPERATOR;
    buf_init(&net->blk, LEDGER_BLOCK_MAX_SIZE);
    net->noted_height = UINT64_MAX; /* set at the first tip below */
    if (cfg->nobservers > 0) {
        net->observers = malloc(cfg->nobservers * 32);
        if (net->observers == NULL) {
            free(net);
            return sbx_err_set(err, SBX_ENOMEM, "out of memory");
        }
        memcpy(net->observers, cfg->observers, cfg->nobservers * 32);
        net->nobservers = cfg->nobservers;
    }
    {
        struct ledger_tip tip;

        node_tip(n, &tip);
        net->noted_height = tip.height;
    }
    net->pump_ev = evtimer_new(base, pump_cb, net);
    net->attest_ev = evtimer_new(base, attest_cb, net);
    net->tick_ev = event_new(base, -1, EV_PERSIST, tick_cb, net);
    if (net->pump_ev == NULL || net->tick_ev == NULL || net->attest_ev == NULL ||
        event_add(net->tick_ev, &(struct timeval){TICK_MS / 1000, (TICK_MS % 1000) * 1000})) {
        node_net_free(net);
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    }
    memset(&pc, 0, sizeof(pc));
    pc.bind = cfg->bind;
    pc.port = cfg->port;
    pc.listen = cfg->listen;
    pc.connect = cfg->connect;
    pc.nconnect = cfg->nconnect;
    pc.certdir = cfg->certdir;
    pc.limits = cfg->limits;
    pc.node_key = node_identity(n);
    memcpy(pc.network_id, node_genesis_hash(n), 32);
    rc = p2p_new(&net->p2p, base, &pc, &cb, net, err);
    if (rc) {
        node_net_free(net);
        return rc;
    }
    net->events.relay = ev_relay;
    net->events.proposal = ev_proposal;
    net->events.peers = ev_peers;
    net->events.supervision = ev_supervision;
    node_set_events(n, &net->events, net);
    net->watch.on_tip = ev_on_tip;
    net->watch.on_refused = ev_on_refused;
    net->watch.ctx = net;
    node_watch_add(n, &net->watch);
    *out = net;
    return SBX_OK;
}

void
node_net_free(struct node_net *net)
{
    if (net == NULL)
        return;
    node_set_events(net->node, NULL, NULL);
    if (net->watch.ctx != NULL)
        node_watch_remove(net->node, &net->watch);
    p2p_free(net->p2p);
    if (net->pump_ev)
        event_free(net->pump_ev);
    if (net->tick_ev)
        event_free(net->tick_ev);
    if (net->attest_ev)
        event_free(net->attest_ev);
    buf_release(&net->blk);
    free(net->observers);
    free(net);
}

int
node_net_port(const struct node_net *net)
{
    return p2p_port(net->p2p);
}

#ifdef SBX_TEST_HOOKS
void
node_net_test_equivocate(struct node_net *net)
{
    net->equivocate = 1;
}
#endif
