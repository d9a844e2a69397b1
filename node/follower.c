/* A follower (regulator or observer node): the queue of blocks received from peers, the
 * verifier threads that check their signatures ahead of time, the applier that validates and
 * applies them in order and hands each sealed block to the committer, and the attestations a
 * regulator signs.
 *
 * Threads: verifier_main runs on the verifier threads (one per core); follow_main and
 * follow_take_locked on the applier thread; node_follower_update_idle_locked on the committer
 * (mu held); everything else (node_follow_*, node_following, node_stop_following,
 * node_make_attestation, node_last_substantive, start/stop/drop) on the event-loop thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "node/node_int.h"
#include "util/log.h"
#include "util/time.h"
#include "util/par.h"

#define VERIFY_SLICE 32
/* Blocks ahead of the applier that the verifiers work on. */
#define VERIFY_AHEAD 256
/* Blocks a follower holds in memory before it asks peers to wait (bytes). */
#define FOLLOW_QUEUE_MAX_BYTES ((size_t)256 * 1024 * 1024)
/* Sealed blocks waiting for the follower's committer before the applier waits. */
#define FOLLOW_SEALED_MAX 64

static void
qblock_free(struct qblock *b)
{
    ledger_block_release(&b->b);
    free(b->txids);
    free(b);
}

/* Empty the follow queue (mu held, or no verifier running). A block a verifier is still
 * checking a slice of is only marked: that verifier frees it when it is done with it. */
void
node_follower_drop(struct node *n)
{
    struct node_follower *f = &n->follow;
    struct qblock *b;

    while ((b = STAILQ_FIRST(&f->queue)) != NULL) {
        STAILQ_REMOVE_HEAD(&f->queue, link);
        if (b->slices_done < b->next_slice)
            b->dropped = 1;
        else
            qblock_free(b);
    }
    f->nqueued = f->bytes = 0;
}

void
node_follower_update_idle_locked(struct node *n)
{
    n->follow.idle =
        STAILQ_EMPTY(&n->follow.queue) && node_commit_idle_locked(n) && !n->follow.applying;
}

/* ------------------------------------------------------------------ the applier */

/* Wait for the next block whose signatures are checked (mu held) and take it; NULL to stop. */
static struct qblock *
follow_take_locked(struct node *n)
{
    struct node_follower *f = &n->follow;
    struct qblock *b;

    while ((STAILQ_EMPTY(&f->queue) ||
            STAILQ_FIRST(&f->queue)->slices_done < STAILQ_FIRST(&f->queue)->nslices ||
            n->commit.nqueued >= FOLLOW_SEALED_MAX) &&
           !f->stop)
        pthread_cond_wait(&f->follow_cv, &n->mu);
    if (f->stop)
        return NULL;
    b = STAILQ_FIRST(&f->queue);
    STAILQ_REMOVE_HEAD(&f->queue, link);
    f->nqueued--;
    f->bytes -= b->len;
    f->applying = 1;
    if (b->height % 500 == 0)
        LOG_DEBUG(LOG_NODE, "applying block %llu: %zu more queued, %d sealed unwritten",
                  (unsigned long long)b->height, f->nqueued, n->commit.nqueued);
    return b;
}

/* Validate and apply `b` into `it` (state_mu taken here). On failure the engine is rebuilt
 * from the store once every block before `b` is written. */
static int
follow_apply(struct node *n, struct qblock *b, struct sealed_item *it, struct sbx_err *err)
{
    int rc;

    pthread_mutex_lock(&n->state_mu);
    if (b->bad != SIZE_MAX)
        rc = sbx_err_set(err, SBX_ECORRUPT, "block %llu%s", (unsigned long long)b->height,
                         b->bad_msg);
    else if (it == NULL)
        rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
    else
        rc = node_chain_apply(
            n->chain, b->data, b->len,
            &(struct node_chain_apply_opts){.decoded = &b->b,
                                            .txids = (const uint8_t(*)[32])b->txids,
                                            .roots_checked = 1,
                                            .seal_into = &it->s},
            err);
    if (rc) {
        struct sbx_err e2;

        /* the engine may hold part of the refused block: rebuild it from the store once
         * every block before it is written */
        pthread_mutex_lock(&n->mu);
        while (!node_commit_idle_locked(n))
            pthread_cond_wait(&n->follow.follow_cv, &n->mu);
        pthread_mutex_unlock(&n->mu);
        if (node_chain_reload(n->chain, &e2) != SBX_OK)
            LOG_ERROR(LOG_NODE, "cannot reload the state after a refused block: %s", e2.msg);
    }
    pthread_mutex_unlock(&n->state_mu);
    return rc;
}

/* The follower's applier: takes received blocks in order, validates and applies each, and
 * hands the sealed block to the committer. */
static void *
follow_main(void *arg)
{
    struct node *n = arg;
    struct node_follower *f = &n->follow;

    par_thread_name("sbx-follow");
    for (;;) {
        struct sealed_item *it;
        struct qblock *b;
        struct sbx_err err;
        int rc;

        pthread_mutex_lock(&n->mu);
        b = follow_take_locked(n);
        pthread_mutex_unlock(&n->mu);
        if (b == NULL)
            break;
        sbx_err_clear(&err);
        it = calloc(1, sizeof(*it));
        if (it != NULL)
            node_pipeline_jobq_init(&it->jobs);
        rc = follow_apply(n, b, it, &err);

        pthread_mutex_lock(&n->mu);
        f->applying = 0;
        if (rc) {
            LOG_ERROR(LOG_NODE, "block %llu refused: %s; this node stops following",
                      (unsigned long long)b->height, err.msg);
            f->stopped = 1;
            f->refused_height = b->height;
            snprintf(f->refused_msg, sizeof(f->refused_msg), "%s", err.msg);
            node_follower_drop(n);
            f->idle = node_commit_idle_locked(n);
            event_active(n->commit.done_ev, EV_READ, 0);
            free(it);
        } else {
            node_commit_push_locked(n, it);
        }
        pthread_cond_broadcast(&f->verify_cv); /* room ahead for the verifiers */
        pthread_mutex_unlock(&n->mu);
        qblock_free(b);
    }
    return NULL;
}

/* ------------------------------------------------------------------ the verifiers */

/* The first block within VERIFY_AHEAD of the applier with a slice left to check (mu held);
 * waits for one; NULL to stop. */
static struct qblock *
verifier_take_locked(struct node *n)
{
    struct node_follower *f = &n->follow;

    while (!f->stop) {
        size_t ahead = 0;
        struct qblock *b;

        for (b = STAILQ_FIRST(&f->queue); b && ahead < VERIFY_AHEAD;
             b = STAILQ_NEXT(b, link), ahead++)
            if (b->next_slice < b->nslices)
                break;
        if (b && ahead < VERIFY_AHEAD)
            return b;
        pthread_cond_wait(&f->verify_cv, &n->mu);
    }
    return NULL;
}

/* Keep the first failure of `b` by position, the header counting as first (mu held). */
static void
verifier_note_bad_locked(struct qblock *b, size_t bad, const struct sbx_err *err)
{
    size_t at = bad == SIZE_MAX ? 0 : bad;

    if (b->bad == SIZE_MAX || at < b->bad) {
        b->bad = at;
        if (bad == SIZE_MAX)
            snprintf(b->bad_msg, sizeof(b->bad_msg), ": %.200s", err->msg);
        else
            snprintf(b->bad_msg, sizeof(b->bad_msg), " tx %zu: %.200s", bad, err->msg);
    }
}

/* The verifiers: the stateless checks of queued blocks, ahead of the applier: the header's
 * signature, each transaction decoded with its txid and signatures, by slice; and the merkle
 * roots, by whichever verifier finishes a block's last slice. */
static void *
verifier_main(void *arg)
{
    struct node *n = arg;

    par_thread_name("sbx-verify");
    pthread_mutex_lock(&n->mu);
    for (;;) {
        struct qblock *b = verifier_take_locked(n);
        struct sbx_err err;
        size_t k, from, to, bad = SIZE_MAX;
        int rc;

        if (b == NULL)
            break;
        k = b->next_slice++;
        pthread_mutex_unlock(&n->mu);

        sbx_err_clear(&err);
        from = b->b.ntx * k / b->nslices;
        to = b->b.ntx * (k + 1) / b->nslices;
        rc = k == 0 ? ledger_block_verify_sig(&b->b.hdr, &err) : SBX_OK;
        rc = rc ? rc : node_chain_check_txs(&b->b, from, to, b->txids, &bad, &err);

        pthread_mutex_lock(&n->mu);
        if (rc && !b->dropped)
            verifier_note_bad_locked(b, bad, &err);
        if (++b->checked == b->nslices && b->bad == SIZE_MAX && !b->dropped) {
            /* the last slice: every txid is known; check the roots here, not on the applier */
            pthread_mutex_unlock(&n->mu);
            sbx_err_clear(&err);
            rc = node_chain_check_roots(&b->b, (const uint8_t(*)[32])b->txids, &err);
            pthread_mutex_lock(&n->mu);
            if (rc && !b->dropped)
                verifier_note_bad_locked(b, SIZE_MAX, &err);
        }
        b->slices_done++;
        if (b->dropped) { /* the queue was emptied meanwhile (a refused block, a stop) */
            if (b->slices_done == b->next_slice)
                qblock_free(b);
            continue;
        }
        if (b->slices_done == b->nslices && b == STAILQ_FIRST(&n->follow.queue))
            pthread_cond_broadcast(&n->follow.follow_cv);
    }
    pthread_mutex_unlock(&n->mu);
    return NULL;
}

/* ------------------------------------------------------------------ start / stop */

int
node_follower_start(struct node *n)
{
    struct node_follower *f = &n->follow;

    /* one verifier per core checks signatures ahead of the applier */
    f->verifiers = calloc((size_t)n->nworkers, sizeof(*f->verifiers));
    if (f->verifiers == NULL)
        return SBX_ENOMEM;
    for (int i = 0; i < n->nworkers; i++, f->nverifiers++)
        if (pthread_create(&f->verifiers[i], NULL, verifier_main, n) != 0)
            SBX_BUG("cannot start a verifier thread");
    if (pthread_create(&f->thr, NULL, follow_main, n) != 0)
        SBX_BUG("cannot start the applier thread");
    return SBX_OK;
}

void
node_follower_stop(struct node *n)
{
    for (int i = 0; i < n->follow.nverifiers; i++)
        pthread_join(n->follow.verifiers[i], NULL);
    pthread_join(n->follow.thr, NULL);
}

/* ------------------------------------------------------------------ the network layer's side */

/* A received block, decoded and ready to queue; NULL with *rc set if it cannot be. */
static struct qblock *
qblock_new(const uint8_t *raw, size_t len, const struct ledger_block_header *h, int *rc)
{
    struct qblock *b = calloc(1, sizeof(*b) + len);

    *rc = SBX_ENOMEM;
    if (b == NULL)
        return NULL;
    b->height = h->height;
    ledger_block_hash(h, b->hash);
    b->len = len;
    memcpy(b->data, raw, len);
    if (ledger_block_decode(&b->b, b->data, len, NULL) != SBX_OK) {
        free(b);
        *rc = SBX_ECORRUPT;
        return NULL;
    }
    b->txids = malloc((b->b.ntx ? b->b.ntx : 1) * 32);
    if (b->txids == NULL) {
        qblock_free(b);
        return NULL;
    }
    b->nslices = b->b.ntx < 2 * VERIFY_SLICE ? 1 : b->b.ntx / VERIFY_SLICE;
    b->bad = SIZE_MAX;
    *rc = SBX_OK;
    return b;
}

int
node_follow_block(struct node *n, const uint8_t *raw, size_t len)
{
    struct node_follower *f = &n->follow;
    struct ledger_block_header h;
    struct qblock *b;
    int rc;

    if (n->role == NODE_ROLE_OPERATOR)
        return SBX_EDENIED;
    if (len < LEDGER_HEADER_SIZE || ledger_block_header_decode(&h, raw, LEDGER_HEADER_SIZE, NULL))
        return SBX_EINVAL;
    b = qblock_new(raw, len, &h, &rc);
    if (b == NULL)
        return rc;
    pthread_mutex_lock(&n->mu);
    if (f->stopped)
        rc = SBX_EUNAVAIL;
    else if (h.height != f->next)
        rc = SBX_EINVAL;
    else if (f->bytes > 0 && f->bytes + len > FOLLOW_QUEUE_MAX_BYTES)
        rc = SBX_EOVERLOAD;
    if (rc == SBX_OK) {
        STAILQ_INSERT_TAIL(&f->queue, b, link);
        f->nqueued++;
        f->bytes += len;
        f->next++;
        f->recent[h.height % NODE_FOLLOW_RECENT].height1 = h.height + 1;
        memcpy(f->recent[h.height % NODE_FOLLOW_RECENT].hdr, raw, LEDGER_HEADER_SIZE);
        f->idle = 0;
        pthread_cond_broadcast(&f->verify_cv);
    }
    pthread_mutex_unlock(&n->mu);
    if (rc)
        qblock_free(b);
    return rc;
}

uint64_t
node_follow_next(struct node *n)
{
    uint64_t h;

    pthread_mutex_lock(&n->mu);
    h = n->follow.next;
    pthread_mutex_unlock(&n->mu);
    return h;
}

int
node_follow_queued_hash(struct node *n, uint64_t height, uint8_t hash[static 32],
                        struct buf *header)
{
    const uint8_t *hdr = n->follow.recent[height % NODE_FOLLOW_RECENT].hdr;
    struct ledger_block_header h;
    int found = 0;

    pthread_mutex_lock(&n->mu);
    if (n->follow.recent[height % NODE_FOLLOW_RECENT].height1 == height + 1 &&
        ledger_block_header_decode(&h, hdr, LEDGER_HEADER_SIZE, NULL) == SBX_OK) {
        ledger_block_hash(&h, hash);
        found = 1;
        if (header) {
            buf_reset(header);
            found = buf_put(header, hdr, LEDGER_HEADER_SIZE) == SBX_OK;
        }
    }
    pthread_mutex_unlock(&n->mu);
    return found;
}

int
node_following(struct node *n)
{
    int f;

    pthread_mutex_lock(&n->mu);
    f = !n->follow.stopped;
    pthread_mutex_unlock(&n->mu);
    return f;
}

void
node_stop_following(struct node *n, const char *why)
{
    pthread_mutex_lock(&n->mu);
    if (!n->follow.stopped) {
        LOG_ERROR(LOG_NODE, "this node stops following: %s", why);
        n->follow.stopped = 1;
        n->follow.refused_reported = 1; /* the caller raises its own alert */
        node_follower_drop(n);
    }
    pthread_mutex_unlock(&n->mu);
}

uint64_t
node_last_substantive(struct node *n)
{
    return node_chain_last_substantive(n->chain); /* atomic: the applier may hold the lock */
}

int
node_make_attestation(struct node *n, const struct ledger_tip *tip, struct buf *out,
                      struct sbx_err *err)
{
    struct ledger_tx tx;
    uint8_t txid[32];
    int rc;

    if (n->role != NODE_ROLE_REGULATOR)
        return sbx_err_set(err, SBX_EDENIED, "only a regulator node attests");
    ledger_tx_init(&tx, LEDGER_TX_ATTESTATION);
    tx.timestamp = time_now_ms();
    tx.u.attestation.height = tip->height;
    memcpy(tx.u.attestation.block_hash, tip->hash, 32);
    buf_reset(out);
    rc = ledger_tx_sign(&tx, &n->reg_key, txid, err);
    return rc ? rc : ledger_tx_encode(&tx, out, err);
}
