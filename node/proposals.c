/* k-of-n directives: the pool of proposals, directives that carry fewer distinct regulator
 * signatures than the genesis's directive_quorum, while their cosignatures are gathered.
 *
 * A proposal is the directive itself (its txid is the proposal's id): the proposer signs it as
 * any directive, each cosigner adds a cosignature over the same txid (ledger_tx_cosign), so the
 * directive the operator finally records is the proposal with every signature gathered; no
 * signature has to be made again, and followers re-check the quorum and every signature as for
 * any directive. A proposal lives in memory only, on every node that has seen it (sent again
 * whenever a link between a regulator and the operator opens): the regulator
 * node that proposes or cosigns sends the whole proposal (every signature it holds) to the
 * operator in a PROPOSAL message (doc/protocol.md); the operator merges the signatures it did
 * not have, relays the merged proposal to every regulator link and hands the directive to its
 * pipeline as soon as it carries the quorum, once, and never after it expired. It expires at its
 * timestamp + supervision.proposal_ttl_s (the same instant on every node); the block rule
 * time.skew lets a directive be that much (and time.max_skew_ms) older than its block, no more
 * (cmp_params_time_before_ms), so an expired proposal is refused by every follower too. Optimised
 * for a handful of proposals at a time: a list, searched linearly, capped at NODE_PROPOSALS_MAX.
 *
 * Threads: every function runs on the event-loop thread (node_proposals_submit from
 * node_relay_submit, node_proposals_receive from node/net.c, node_proposals_cosign and
 * node_proposals_list from rpc/'s calls run on the node's loop, node_proposals_resend from
 * node/net.c when a link opens, proposals_timer_cb every second); the pool is the event loop's
 * alone and takes no lock. The pool functions (node_proposals_init .. node_proposals_expire) touch
 * only the pool they are given.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "node/node_int.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/time.h"

/* ------------------------------------------------------------------ the pool */

void
node_proposals_init(struct node_proposals *pp)
{
    TAILQ_INIT(&pp->list);
    pp->n = 0;
    pp->timer = NULL;
}

void
node_proposals_drop(struct node_proposals *pp, struct node_proposal *p)
{
    TAILQ_REMOVE(&pp->list, p, link);
    pp->n--;
    free(p);
}

void
node_proposals_release(struct node_proposals *pp)
{
    struct node_proposal *p;

    while ((p = TAILQ_FIRST(&pp->list)) != NULL)
        node_proposals_drop(pp, p);
}

struct node_proposal *
node_proposals_find(struct node_proposals *pp, const uint8_t id[static 32])
{
    struct node_proposal *p;

    TAILQ_FOREACH(p, &pp->list, link)
    {
        if (memcmp(p->id, id, 32) == 0)
            return p;
    }
    return NULL;
}

unsigned
node_proposals_signers(const struct node_proposal *p)
{
    return 1u + p->tx.u.directive.ncosig;
}

int
node_proposals_signed_by(const struct node_proposal *p, const uint8_t key[static 32])
{
    const struct ledger_directive *d = &p->tx.u.directive;

    if (memcmp(p->tx.signer, key, 32) == 0)
        return 1;
    for (unsigned i = 0; i < d->ncosig; i++) {
        if (memcmp(d->cosig[i].pubkey, key, 32) == 0)
            return 1;
    }
    return 0;
}

static int
is_regulator(const struct ledger_genesis *g, const uint8_t key[static 32])
{
    for (unsigned i = 0; i < g->nregulators; i++) {
        if (memcmp(g->regulator_keys[i], key, 32) == 0)
            return 1;
    }
    return 0;
}

/* Every key that signed `tx` must be one of the genesis's regulator keys. */
static int
check_signers(const struct ledger_genesis *g, const struct ledger_tx *tx, struct sbx_err *err)
{
    const struct ledger_directive *d = &tx->u.directive;

    if (!is_regulator(g, tx->signer))
        return sbx_err_set(err, SBX_EDENIED, "signer: not a regulator key of this network");
    for (unsigned i = 0; i < d->ncosig; i++) {
        if (!is_regulator(g, d->cosig[i].pubkey))
            return sbx_err_set(err, SBX_EDENIED,
                               "cosig[%u].pubkey: not a regulator key of this network", i);
    }
    return SBX_OK;
}

int
node_proposals_merge(struct node_proposals *pp, const struct ledger_genesis *g,
                     const struct ledger_tx *tx, const uint8_t id[static 32], int64_t ttl_ms,
                     int64_t now_ms, struct node_proposal **out, unsigned *added,
                     struct sbx_err *err)
{
    const struct ledger_directive *d = &tx->u.directive;
    struct ledger_directive *pd;
    struct node_proposal *p;
    int rc;

    *out = NULL;
    *added = 0;
    if (tx->type != LEDGER_TX_DIRECTIVE || tx->auth != LEDGER_TX_AUTH_SIG)
        return sbx_err_set(err, SBX_EINVAL, "proposal: not a signed directive");
    rc = check_signers(g, tx, err);
    if (rc)
        return rc;
    if (now_ms > tx->timestamp + ttl_ms)
        return sbx_err_set(err, SBX_ENOTFOUND,
                           "proposal_id: expired (supervision.proposal_ttl_s after its timestamp)");
    p = node_proposals_find(pp, id);
    if (p == NULL) {
        if (pp->n >= NODE_PROPOSALS_MAX)
            return sbx_err_set(err, SBX_EOVERLOAD, "proposal: %d proposals pending already",
                               NODE_PROPOSALS_MAX);
        p = calloc(1, sizeof(*p));
        if (p == NULL)
            return sbx_err_set(err, SBX_ENOMEM, "out of memory");
        memcpy(p->id, id, 32);
        p->tx = *tx; /* a directive owns no memory of its own */
        p->expires_ms = tx->timestamp + ttl_ms;
        TAILQ_INSERT_TAIL(&pp->list, p, link);
        pp->n++;
        *added = node_proposals_signers(p);
        *out = p;
        return SBX_OK;
    }
    /* the same txid: the same unsigned directive and signer; take the cosignatures it lacks */
    pd = &p->tx.u.directive;
    for (unsigned i = 0; i < d->ncosig; i++) {
        if (node_proposals_signed_by(p, d->cosig[i].pubkey))
            continue;
        if (pd->ncosig >= SBX_MAX_COSIGS)
            break;
        pd->cosig[pd->ncosig++] = d->cosig[i];
        (*added)++;
    }
    *out = p;
    return SBX_OK;
}

size_t
node_proposals_expire(struct node_proposals *pp, int64_t now_ms)
{
    struct node_proposal *p, *next;
    size_t dropped = 0;

    for (p = TAILQ_FIRST(&pp->list); p != NULL; p = next) {
        next = TAILQ_NEXT(p, link);
        if (now_ms > p->expires_ms) {
            node_proposals_drop(pp, p);
            dropped++;
        }
    }
    return dropped;
}

/* ------------------------------------------------------------------ the node's pool */

static int64_t
ttl_ms(struct node *n)
{
    int64_t s;

    pthread_mutex_lock(&n->state_mu);
    s = cmp_engine_params(node_chain_engine(n->chain))->v[CMP_P_PROPOSAL_TTL_S];
    pthread_mutex_unlock(&n->state_mu);
    return s * 1000;
}

static void
view_of(const struct node *n, const struct node_proposal *p, struct node_proposal_view *v)
{
    memcpy(v->id, p->id, 32);
    v->tx = p->tx;
    v->expires_ms = p->expires_ms;
    v->signers = node_proposals_signers(p);
    v->quorum = node_chain_genesis(n->chain)->directive_quorum;
}

/* Send `p` (every signature it holds): from a regulator to the operator, from the operator to
 * every regulator link. SBX_EUNAVAIL when it went nowhere. */
static int
send_proposal(struct node *n, const struct node_proposal *p)
{
    struct buf enc;
    int rc;

    if (n->ev == NULL || n->ev->proposal == NULL)
        return SBX_EUNAVAIL;
    buf_init(&enc, SBX_TX_MAX_SIZE);
    rc = ledger_tx_encode(&p->tx, &enc, NULL);
    rc = rc ? rc : n->ev->proposal(n->ev_ctx, enc.data, enc.len);
    buf_release(&enc);
    return rc;
}

/* What the operator's pipeline said of a complete proposal (node_submit_raw's callback). */
struct submitted {
    struct node *n;
    uint8_t id[32];
};

static void
submitted_cb(void *arg, const struct node_result *r)
{
    struct submitted *s = arg;
    struct node_proposal *p;
    char hex[65];

    hex_encode(hex, s->id, 32);
    if (r->rc != SBX_OK && r->rc != SBX_EREJECTED) {
        /* refused before the rules (a full queue, a stop): the next signature or link may
         * hand it over again */
        LOG_WARN(LOG_NODE, "k-of-n directive %s refused: %s", hex, r->message);
        p = node_proposals_find(&s->n->proposals, s->id);
        if (p != NULL)
            p->submitted = 0;
    } else if (r->rc == SBX_EREJECTED) {
        LOG_WARN(LOG_NODE, "k-of-n directive %s rejected by the rules: %s", hex, r->message);
    }
    free(s);
}

/* Operator: hand `p` to the pipeline once it carries the quorum, at most once, and never after
 * it expired or once it is on the chain. */
static void
include_if_complete(struct node *n, struct node_proposal *p)
{
    struct ledger_store *store = node_chain_store(n->chain);
    struct submitted *s;
    uint64_t height;
    uint32_t index;
    struct buf enc;

    if (n->role != NODE_ROLE_OPERATOR || p->submitted ||
        node_proposals_signers(p) < node_chain_genesis(n->chain)->directive_quorum ||
        time_now_ms() > p->expires_ms ||
        ledger_store_tx_location(store, p->id, &height, &index, NULL) == SBX_OK)
        return;
    s = malloc(sizeof(*s));
    if (s == NULL)
        return;
    s->n = n;
    memcpy(s->id, p->id, 32);
    buf_init(&enc, SBX_TX_MAX_SIZE);
    if (ledger_tx_encode(&p->tx, &enc, NULL) == SBX_OK) {
        p->submitted = 1;
        node_submit_raw(n, enc.data, enc.len, submitted_cb, s);
    } else {
        free(s);
    }
    buf_release(&enc);
}

/* A merge that added signatures: the operator includes or relays, a regulator tells the
 * operator. */
static int
spread(struct node *n, struct node_proposal *p)
{
    if (n->role == NODE_ROLE_OPERATOR) {
        include_if_complete(n, p);
        (void)send_proposal(n, p); /* to every regulator linked now */
        return SBX_OK;
    }
    return send_proposal(n, p);
}

void
node_proposals_submit(struct node *n, const struct ledger_tx *tx, const uint8_t id[static 32],
                      node_done_fn fn, void *arg)
{
    struct node_proposal *p;
    struct node_result r;
    struct sbx_err err;
    unsigned added;
    int rc;

    sbx_err_clear(&err);
    rc = node_proposals_merge(&n->proposals, node_chain_genesis(n->chain), tx, id, ttl_ms(n),
                              time_now_ms(), &p, &added, &err);
    if (rc == SBX_OK && spread(n, p) != SBX_OK) {
        rc = sbx_err_set(&err, SBX_EUNAVAIL, "no link to the operator: the proposal was not sent");
        if (added == node_proposals_signers(p))
            node_proposals_drop(&n->proposals, p); /* nobody else has seen it */
    }
    if (rc) {
        node_refuse_now(fn, arg, rc, err.msg);
        return;
    }
    memset(&r, 0, sizeof(r));
    memcpy(r.txid, id, 32);
    r.proposal = 1;
    r.signers = node_proposals_signers(p);
    r.quorum = node_chain_genesis(n->chain)->directive_quorum;
    r.expires_ms = p->expires_ms;
    fn(arg, &r);
}

int
node_proposals_receive(struct node *n, const uint8_t *raw, size_t len, struct sbx_err *err)
{
    struct node_proposal *p;
    struct ledger_tx tx;
    uint8_t id[32];
    unsigned added;
    size_t ulen;
    int rc;

    rc = ledger_tx_decode(&tx, raw, len, &ulen, err);
    if (rc)
        return rc;
    ledger_tx_id_raw(id, raw, ulen);
    rc = ledger_tx_verify(&tx, id, err);
    rc = rc ? rc
            : node_proposals_merge(&n->proposals, node_chain_genesis(n->chain), &tx, id, ttl_ms(n),
                                   time_now_ms(), &p, &added, err);
    /* the operator relays what is new; a proposal sent again may still need handing over */
    if (rc == SBX_OK && n->role == NODE_ROLE_OPERATOR && added > 0)
        (void)spread(n, p);
    else if (rc == SBX_OK && n->role == NODE_ROLE_OPERATOR)
        include_if_complete(n, p);
    ledger_tx_release(&tx);
    return rc;
}

/* cosigndirective's signature: this node's regulator key (pubkey NULL), or one made elsewhere
 * over the proposal's id. Adds it to `tx`, a copy of the proposal. */
static int
add_cosig(struct node *n, const struct node_proposal *p, struct ledger_tx *tx,
          const uint8_t *pubkey, const uint8_t *sig, struct sbx_err *err)
{
    const struct ledger_genesis *g = node_chain_genesis(n->chain);
    struct ledger_directive *d = &tx->u.directive;
    int rc;

    if (pubkey == NULL)
        pubkey = n->reg_key.pubkey; /* node_proposals_cosign checked that it holds one */
    if (!is_regulator(g, pubkey))
        return sbx_err_set(err, SBX_EDENIED, "pubkey: not a regulator key of this network");
    if (node_proposals_signed_by(p, pubkey))
        return sbx_err_set(err, SBX_ECONFLICT,
                           "pubkey: this regulator has signed the proposal already");
    if (sig == NULL)
        return ledger_tx_cosign(tx, &n->reg_key, err);
    rc = ledger_keys_verify(pubkey, p->id, sig);
    if (rc)
        return sbx_err_set(err, SBX_EBADSIG, "signature: does not verify over proposal_id");
    if (d->ncosig >= SBX_MAX_COSIGS)
        return sbx_err_set(err, SBX_ETOOLONG, "proposal: already %d cosignatures", SBX_MAX_COSIGS);
    memcpy(d->cosig[d->ncosig].pubkey, pubkey, 32);
    memcpy(d->cosig[d->ncosig].sig, sig, 64);
    d->ncosig++;
    return SBX_OK;
}

int
node_proposals_cosign(struct node *n, const uint8_t id[static 32], const uint8_t *pubkey,
                      const uint8_t *sig, struct node_proposal_view *out, struct sbx_err *err)
{
    struct node_proposal *p = node_proposals_find(&n->proposals, id);
    struct ledger_tx tx;
    unsigned added;
    int rc;

    memset(out, 0, sizeof(*out));
    if (pubkey == NULL && !n->has_reg_key) /* the operator, an observer: whatever the id */
        return sbx_err_set(err, SBX_EDENIED,
                           "this node holds no regulator key: cosign on a regulator node, or "
                           "give pubkey and signature");
    if (p == NULL || time_now_ms() > p->expires_ms)
        return sbx_err_set(err, SBX_ENOTFOUND,
                           "proposal_id: no such pending proposal (unknown, expired or "
                           "already included)");
    tx = p->tx;
    rc = add_cosig(n, p, &tx, pubkey, sig, err);
    rc = rc ? rc
            : node_proposals_merge(&n->proposals, node_chain_genesis(n->chain), &tx, id, ttl_ms(n),
                                   time_now_ms(), &p, &added, err);
    if (rc == SBX_OK && spread(n, p) != SBX_OK)
        rc = sbx_err_set(err, SBX_EUNAVAIL,
                         "no link to the operator: the signature is kept here and sent with "
                         "the next one");
    if (rc == SBX_OK)
        view_of(n, p, out);
    return rc;
}

int
node_proposals_list(struct node *n, struct node_proposal_view **out, size_t *count,
                    struct sbx_err *err)
{
    struct node_proposal *p;
    int64_t now = time_now_ms();
    size_t i = 0;

    *out = NULL;
    *count = 0;
    if (n->proposals.n == 0)
        return SBX_OK;
    *out = calloc(n->proposals.n, sizeof(**out));
    if (*out == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    TAILQ_FOREACH(p, &n->proposals.list, link)
    {
        if (now <= p->expires_ms)
            view_of(n, p, &(*out)[i++]);
    }
    *count = i;
    return SBX_OK;
}

void
node_proposals_resend(struct node *n)
{
    struct node_proposal *p;
    int64_t now = time_now_ms();

    TAILQ_FOREACH(p, &n->proposals.list, link)
    {
        if (now <= p->expires_ms)
            (void)send_proposal(n, p);
    }
}

/* Every second: forget proposals that reached a block or expired. */
static void
proposals_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct node *n = arg;
    struct ledger_store *store = node_chain_store(n->chain);
    struct node_proposal *p, *next;
    uint64_t height;
    uint32_t index;
    size_t expired;

    (void)fd;
    (void)what;
    for (p = TAILQ_FIRST(&n->proposals.list); p != NULL; p = next) {
        next = TAILQ_NEXT(p, link);
        if (ledger_store_tx_location(store, p->id, &height, &index, NULL) == SBX_OK)
            node_proposals_drop(&n->proposals, p);
    }
    expired = node_proposals_expire(&n->proposals, time_now_ms());
    if (expired > 0)
        LOG_INFO(LOG_NODE, "%zu proposal(s) expired before they carried the directive quorum",
                 expired);
}

int
node_proposals_start(struct node *n)
{
    n->proposals.timer = event_new(n->base, -1, EV_PERSIST, proposals_timer_cb, n);
    if (n->proposals.timer == NULL || event_add(n->proposals.timer, &(struct timeval){1, 0}) != 0)
        return SBX_ENOMEM;
    return SBX_OK;
}

void
node_proposals_free(struct node *n)
{
    if (n->proposals.timer)
        event_free(n->proposals.timer);
    n->proposals.timer = NULL;
    node_proposals_release(&n->proposals);
}
