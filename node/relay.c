/* A regulator node's directives: relayed to the operator, answered once they reach a block, or
 * refused when supervision.directive_timeout_s passes first; one with fewer signatures than the
 * directive quorum becomes a proposal instead (proposals.c). Other submissions to a follower
 * are refused here.
 *
 * Threads: every function runs on the event-loop thread (node_relay_submit from node_submit,
 * node_relay_check after each commit, relay_timer_cb every second, node_relay_close from
 * node_close). The list of waiting directives is the event loop's alone.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "node/node_int.h"
#include "util/hex.h"
#include "util/time.h"

static void
pending_finish(struct pending_dir *p, struct node_result *r)
{
    LIST_REMOVE(p, link);
    memcpy(r->txid, p->txid, 32);
    p->fn(p->arg, r);
    free(p);
}

/* The result of a directive stored at `height`, `index`. */
static void
pending_result(struct ledger_store *store, uint64_t height, uint32_t index, struct node_result *r)
{
    struct ledger_block b;
    struct buf raw;

    memset(r, 0, sizeof(*r));
    buf_init(&raw, LEDGER_BLOCK_MAX_SIZE);
    if (ledger_store_get_block(store, height, &raw, NULL) != SBX_OK ||
        ledger_block_decode(&b, raw.data, raw.len, NULL) != SBX_OK) {
        node_result_refuse(r, SBX_EINTERNAL, "reading the block that holds the directive failed");
    } else {
        if (index < b.ntx)
            r->verdict = b.entries[index].verdict;
        r->height = height;
        ledger_block_hash(&b.hdr, r->block_hash);
        r->rc = r->verdict.status == LEDGER_VERDICT_ACCEPTED ? SBX_OK : SBX_EREJECTED;
        if (r->rc)
            snprintf(r->message, sizeof(r->message), "the rules rejected the directive");
        ledger_block_release(&b);
    }
    buf_release(&raw);
}

void
node_relay_check(struct node *n)
{
    struct ledger_store *store = node_chain_store(n->chain);
    struct pending_dir *p, *next;

    for (p = LIST_FIRST(&n->relay.pending); p != NULL; p = next) {
        struct node_result r;
        uint64_t height;
        uint32_t index;

        next = LIST_NEXT(p, link);
        if (ledger_store_tx_location(store, p->txid, &height, &index, NULL) != SBX_OK)
            continue;
        pending_result(store, height, index, &r);
        pending_finish(p, &r);
    }
}

/* Relayed directives that did not reach a block in time (every second). */
static void
relay_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct node *n = arg;
    struct pending_dir *p, *next;
    int64_t now = time_now_ms();

    for (p = LIST_FIRST(&n->relay.pending); p != NULL; p = next) {
        struct node_result r;
        char hex[65];

        next = LIST_NEXT(p, link);
        if (p->deadline_ms > now)
            continue;
        hex_encode(hex, p->txid, 32);
        node_alert(n, NODE_ALERT_WARNING, "directive_timeout", 0, NULL, NULL,
                   "directive %s was not included by the operator in time", hex);
        memset(&r, 0, sizeof(r));
        node_result_refuse(&r, SBX_EUNAVAIL,
                           "the operator did not include the directive within "
                           "supervision.directive_timeout_s");
        pending_finish(p, &r);
    }
}

/* A regulator node's directive: relay it to the operator and answer once it is in a block. */
static void
relay_directive(struct node *n, const uint8_t *raw, size_t len, const uint8_t txid[static 32],
                node_done_fn fn, void *arg)
{
    struct pending_dir *p;
    int64_t timeout_s;

    if (n->ev == NULL || n->ev->relay == NULL || n->ev->relay(n->ev_ctx, raw, len) != SBX_OK) {
        node_refuse_now(fn, arg, SBX_EUNAVAIL,
                        "no link to the operator: the directive was not sent");
        return;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        node_refuse_now(fn, arg, SBX_ENOMEM, "out of memory");
        return;
    }
    pthread_mutex_lock(&n->state_mu);
    timeout_s = cmp_engine_params(node_chain_engine(n->chain))->v[CMP_P_DIRECTIVE_TIMEOUT_S];
    pthread_mutex_unlock(&n->state_mu);
    memcpy(p->txid, txid, 32);
    p->deadline_ms = time_now_ms() + timeout_s * 1000;
    p->fn = fn;
    p->arg = arg;
    LIST_INSERT_HEAD(&n->relay.pending, p, link);
}

void
node_relay_submit(struct node *n, struct ledger_tx *tx, const uint8_t *raw_in, size_t raw_len,
                  size_t ulen, node_done_fn fn, void *arg)
{
    struct sbx_err err;
    struct buf enc;
    uint8_t txid[32];
    int rc;

    if (tx->type != LEDGER_TX_DIRECTIVE) {
        node_refuse_now(fn, arg, SBX_EDENIED,
                        "this is a follower node: business transactions go to the operator");
        return;
    }
    if (n->role != NODE_ROLE_REGULATOR) {
        node_refuse_now(
            fn, arg, SBX_EDENIED,
            "this is an observer node: directives go to a regulator node or the operator");
        return;
    }
    buf_init(&enc, SBX_TX_MAX_SIZE);
    sbx_err_clear(&err);
    if (raw_in != NULL) {
        ledger_tx_id_raw(txid, raw_in, ulen);
        rc = buf_put(&enc, raw_in, raw_len);
        rc = rc ? rc : ledger_tx_verify(tx, txid, &err);
    } else if (!n->has_reg_key) {
        rc = sbx_err_set(&err, SBX_EDENIED, "this node holds no regulator key");
    } else {
        tx->version = LEDGER_TX_VERSION;
        tx->timestamp = time_now_ms();
        rc = ledger_tx_sign(tx, &n->reg_key, txid, &err);
        rc = rc ? rc : ledger_tx_encode(tx, &enc, &err);
    }
    if (rc)
        node_refuse_now(fn, arg, rc, err.msg);
    else if (1u + tx->u.directive.ncosig < node_chain_genesis(n->chain)->directive_quorum)
        node_proposals_submit(n, tx, txid, fn, arg); /* k-of-n: gather the cosignatures */
    else
        relay_directive(n, enc.data, enc.len, txid, fn, arg);
    buf_release(&enc);
}

int
node_relay_start(struct node *n)
{
    n->relay.timer = event_new(n->base, -1, EV_PERSIST, relay_timer_cb, n);
    if (n->relay.timer == NULL || event_add(n->relay.timer, &(struct timeval){1, 0}) != 0)
        return SBX_ENOMEM;
    return SBX_OK;
}

void
node_relay_close(struct node *n)
{
    struct pending_dir *p;

    while ((p = LIST_FIRST(&n->relay.pending)) != NULL) {
        struct node_result r;

        memset(&r, 0, sizeof(r));
        node_result_refuse(&r, SBX_EUNAVAIL, "the node is shutting down");
        pending_finish(p, &r);
    }
}

void
node_relay_free(struct node *n)
{
    if (n->relay.timer)
        event_free(n->relay.timer);
}
