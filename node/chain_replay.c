/* Replaying stored blocks into a chain: -reindex, the replay after the last state checkpoint at
 * start-up (and after a refused block), and verifychain's replay into a scratch chain. It is the
 * follower's split, for blocks read from a store: the stateless checks of a block (its header
 * signature, each transaction decoded, its txid and signatures) do not depend on the state, so
 * they run on the chain's pool, a window of blocks ahead of the one being applied; the stateful
 * checks (every verdict, the state digest) run in height order on the calling thread.
 *
 * When the blocks are written (-reindex, verifychain's scratch store), a writer thread of the
 * replay's own writes them in order, every block waiting as one write, as the committer does
 * for a follower: applying the next blocks does not wait for the store.
 *
 * A window is up to REPLAY_WINDOW_BLOCKS blocks, REPLAY_WINDOW_TXS transactions or
 * REPLAY_WINDOW_BYTES bytes (at least one block); two are in memory at a time, the one being
 * applied and the one being checked. With a pool of N helper threads, N cores check while one
 * applies; with no pool the caller does both in turn.
 *
 * Threads: node_chain_replay on the thread that owns the chain (open, the applier, the
 * background job); check_item on the pool's threads and that thread; writer_main on the
 * replay's writer thread (the store and the chain's in-flight ids, which take their own lock).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "node/chain_internal.h"
#include "util/array.h"
#include "util/log.h"
#include "util/par.h"

#define REPLAY_WINDOW_BLOCKS 64
#define REPLAY_WINDOW_TXS 16384
#define REPLAY_WINDOW_BYTES ((size_t)16 * 1024 * 1024)
/* Transactions per item of the pool: enough to amortise the hand-out, few enough to balance. */
#define REPLAY_SLICE 32
/* Sealed blocks waiting for the writer before the replay waits. */
#define REPLAY_WRITE_MAX 64

/* One block of a window. */
struct rblock {
    uint64_t height;
    struct buf raw;
    struct ledger_block b; /* decoded from raw (entries point into it) */
    int decoded;
    uint8_t (*txids)[32];
    size_t txids_alloc;
    size_t nslices;
};

/* One item of the pool: a slice of a block's transactions (slice 0 also checks the header),
 * and what its check found. */
struct ritem {
    uint32_t blk, slice;
    int rc;
    size_t bad; /* the transaction that failed; SIZE_MAX: the header */
    char msg[SBX_ERR_MSG_MAX];
};

struct window {
    const struct node_chain_replay_opts *o;
    struct rblock blk[REPLAY_WINDOW_BLOCKS];
    size_t nblk;
    int load_rc; /* reading or decoding block nblk failed (it is not in the window) */
    struct sbx_err load_err;
    struct ritem *items;
    size_t nitems, items_alloc;
};

/* The writer: sealed blocks in height order, written by a thread of their own. */
struct writer {
    struct node_chain *c;
    pthread_t thr;
    pthread_mutex_t mu;
    pthread_cond_t cv;                       /* work for the writer, or room for the replay */
    struct node_sealed *q[REPLAY_WRITE_MAX]; /* mu */
    size_t nq;                               /* mu */
    int stop;                                /* mu: no more blocks come */
    int rc;                                  /* mu: the first write that failed */
    struct sbx_err err;                      /* mu */
};

static void
sealed_free(struct node_sealed *s)
{
    if (s != NULL)
        node_sealed_release(s);
    free(s);
}

static void *
writer_main(void *arg)
{
    struct writer *w = arg;
    struct node_sealed *batch[REPLAY_WRITE_MAX];

    par_thread_name("sbx-writer");
    pthread_mutex_lock(&w->mu);
    for (;;) {
        size_t n;
        struct sbx_err err;
        int rc = SBX_OK;

        while (w->nq == 0 && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->nq == 0)
            break; /* stopped, and everything written */
        n = w->nq;
        memcpy(batch, w->q, n * sizeof(batch[0]));
        w->nq = 0;
        pthread_cond_broadcast(&w->cv); /* room */
        pthread_mutex_unlock(&w->mu);
        sbx_err_clear(&err);
        if (w->rc == SBX_OK) /* only this thread writes rc */
            rc = node_chain_write_all(w->c, batch, n, &err);
        for (size_t i = 0; i < n; i++)
            sealed_free(batch[i]);
        pthread_mutex_lock(&w->mu);
        if (rc && w->rc == SBX_OK) {
            w->rc = rc;
            w->err = err;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Start the writer; SBX_ENOMEM (or SBX_EINTERNAL) if it cannot be. */
static int
writer_start(struct writer *w, struct node_chain *c)
{
    memset(w, 0, sizeof(*w));
    w->c = c;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thr, NULL, writer_main, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        return SBX_EINTERNAL;
    }
    return SBX_OK;
}

/* Queue `s` (owned by the writer from here on) for writing, waiting for room; the writer's
 * failure, if it had one. */
static int
writer_push(struct writer *w, struct node_sealed *s, struct sbx_err *err)
{
    int rc;

    pthread_mutex_lock(&w->mu);
    while (w->nq == REPLAY_WRITE_MAX && w->rc == SBX_OK)
        pthread_cond_wait(&w->cv, &w->mu);
    rc = w->rc;
    if (rc == SBX_OK) {
        w->q[w->nq++] = s;
        pthread_cond_broadcast(&w->cv);
    } else {
        sbx_err_set(err, rc, "%s", w->err.msg);
    }
    pthread_mutex_unlock(&w->mu);
    if (rc)
        sealed_free(s);
    return rc;
}

/* Let the writer write what it holds and stop; its failure, if it had one. */
static int
writer_finish(struct writer *w, struct sbx_err *err)
{
    int rc;

    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thr, NULL);
    rc = w->rc;
    if (rc)
        sbx_err_set(err, rc, "%s", w->err.msg);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    return rc;
}

/* Decode the transactions [from, to) of `b` and compute their txids, with no signature check
 * (blocks from our own store, checked when they were first taken). */
static int
txids_only(const struct ledger_block *b, size_t from, size_t to, uint8_t (*txids)[32], size_t *bad,
           struct sbx_err *err)
{
    for (size_t i = from; i < to; i++) {
        const struct ledger_block_entry *e = &b->entries[i];
        struct ledger_tx tx;
        size_t ulen;
        int rc = ledger_tx_decode(&tx, e->tx, e->tx_len, &ulen, err);

        if (rc) {
            *bad = i;
            return rc;
        }
        ledger_tx_release(&tx);
        ledger_tx_id_raw(txids[i], e->tx, ulen);
    }
    return SBX_OK;
}

/* The pool's job: the stateless checks of one slice. */
static void
check_item(void *ctx, size_t i)
{
    struct window *w = ctx;
    struct ritem *it = &w->items[i];
    struct rblock *rb = &w->blk[it->blk];
    size_t n = rb->b.ntx, from = n * it->slice / rb->nslices,
           to = n * (it->slice + 1) / rb->nslices;
    struct sbx_err err;

    sbx_err_clear(&err);
    it->bad = SIZE_MAX;
    it->rc = SBX_OK;
    if (w->o->verify && it->slice == 0)
        it->rc = ledger_block_verify_sig(&rb->b.hdr, &err);
    if (it->rc == SBX_OK)
        it->rc = w->o->verify ? node_chain_check_txs(&rb->b, from, to, rb->txids, &it->bad, &err)
                              : txids_only(&rb->b, from, to, rb->txids, &it->bad, &err);
    if (it->rc)
        memcpy(it->msg, err.msg, sizeof(it->msg));
}

/* Read and decode block `h` into the window's next slot and list its items. */
static int
load_one(struct window *w, struct ledger_store *src, uint64_t h, struct sbx_err *err)
{
    struct rblock *rb = &w->blk[w->nblk];
    int rc;

    rb->height = h;
    rc = ledger_store_get_block(src, h, &rb->raw, err);
    rc = rc ? rc : ledger_block_decode(&rb->b, rb->raw.data, rb->raw.len, err);
    if (rc)
        return rc;
    rb->decoded = 1;
    /* block 0 is checked by the genesis load when applied */
    rb->nslices = h == 0 ? 0 : rb->b.ntx < 2 * REPLAY_SLICE ? 1 : rb->b.ntx / REPLAY_SLICE;
    rc = array_reserve(&rb->txids, rb->b.ntx ? rb->b.ntx : 1, &rb->txids_alloc, 32, 64);
    rc = rc ? rc
            : array_reserve(&w->items, w->nitems + rb->nslices, &w->items_alloc, sizeof(*w->items),
                            64);
    if (rc)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    for (size_t k = 0; k < rb->nslices; k++) {
        w->items[w->nitems].blk = (uint32_t)w->nblk;
        w->items[w->nitems++].slice = (uint32_t)k;
    }
    w->nblk++;
    return SBX_OK;
}

/* Empty the window (keeping its buffers) and fill it from height `h` up to `to`. */
static void
load(struct window *w, struct ledger_store *src, uint64_t h, uint64_t to)
{
    size_t txs = 0, bytes = 0;

    for (size_t i = 0; i < w->nblk; i++) {
        if (w->blk[i].decoded)
            ledger_block_release(&w->blk[i].b);
        w->blk[i].decoded = 0;
    }
    w->nblk = w->nitems = 0;
    w->load_rc = SBX_OK;
    sbx_err_clear(&w->load_err);
    while (h <= to && w->nblk < REPLAY_WINDOW_BLOCKS && txs < REPLAY_WINDOW_TXS &&
           bytes < REPLAY_WINDOW_BYTES) {
        w->load_rc = load_one(w, src, h, &w->load_err);
        if (w->load_rc)
            break;
        txs += w->blk[w->nblk - 1].b.ntx;
        bytes += w->blk[w->nblk - 1].raw.len;
        if (h++ == UINT64_MAX)
            break;
    }
}

static void
window_release(struct window *w)
{
    for (size_t i = 0; i < REPLAY_WINDOW_BLOCKS; i++) {
        if (w->blk[i].decoded)
            ledger_block_release(&w->blk[i].b);
        buf_release(&w->blk[i].raw);
        free(w->blk[i].txids);
    }
    free(w->items);
}

/* The first failure the checks found in block `j` of the window, the header first. */
static int
checked_rc(const struct window *w, size_t j, struct sbx_err *err)
{
    const struct ritem *first = NULL;

    for (size_t i = 0; i < w->nitems; i++) {
        const struct ritem *it = &w->items[i];

        /* SIZE_MAX + 1 == 0: the header sorts first */
        if (it->blk == j && it->rc != SBX_OK && (first == NULL || it->bad + 1 < first->bad + 1))
            first = it;
    }
    if (first == NULL)
        return SBX_OK;
    if (first->bad == SIZE_MAX)
        return sbx_err_set(err, SBX_ECORRUPT, "block %llu: %s",
                           (unsigned long long)w->blk[j].height, first->msg);
    return sbx_err_set(err, SBX_ECORRUPT, "block %llu tx %zu: %s",
                       (unsigned long long)w->blk[j].height, first->bad, first->msg);
}

/* Apply the window's blocks in order (their checks done), handing each to the writer if there
 * is one; *failed_at on a failure. */
static int
apply_window(struct node_chain *c, struct window *w, struct writer *wr, uint64_t *failed_at,
             struct sbx_err *err)
{
    const struct node_chain_replay_opts *o = w->o;

    for (size_t j = 0; j < w->nblk; j++) {
        struct rblock *rb = &w->blk[j];
        struct node_sealed *sealed = calloc(1, sizeof(*sealed));
        struct node_chain_apply_opts ao = {.seal_into = sealed};
        int rc;

        if (sealed == NULL)
            return sbx_err_set(err, SBX_ENOMEM, "out of memory");

        *failed_at = rb->height;
        if (o->cancel != NULL && atomic_load_explicit(o->cancel, memory_order_relaxed)) {
            free(sealed);
            return sbx_err_set(err, SBX_EUNAVAIL, "verification stopped: the node is stopping");
        }
        if (rb->height > 0) {
            ao.decoded = &rb->b;
            ao.txids = (const uint8_t(*)[32])rb->txids;
        }
        rc = checked_rc(w, j, err);
        rc = rc ? rc : node_chain_apply(c, rb->raw.data, rb->raw.len, &ao, err);
        if (rc == SBX_OK && wr != NULL)
            rc = writer_push(wr, sealed, err); /* the writer's now */
        else
            sealed_free(sealed);
        if (rc)
            return rc;
        if (o->progress != NULL && rb->height % 1000 == 0 && rb->height > 0)
            LOG_INFO(LOG_NODE, "%s: %llu blocks", o->progress, (unsigned long long)rb->height);
    }
    if (w->load_rc) {
        *failed_at = w->nblk > 0 ? w->blk[w->nblk - 1].height + 1 : *failed_at;
        return sbx_err_set(err, w->load_rc, "%s", w->load_err.msg);
    }
    return SBX_OK;
}

int
node_chain_replay(struct node_chain *c, const struct node_chain_replay_opts *o, uint64_t from,
                  uint64_t to, uint64_t *failed_at, struct sbx_err *err)
{
    struct window *w = calloc(2, sizeof(*w)), *cur, *next;
    struct writer wr;
    uint64_t h = from;
    int rc = SBX_OK, wrc;

    *failed_at = from;
    if (w == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    if (o->write && writer_start(&wr, c) != SBX_OK) {
        free(w);
        return sbx_err_set(err, SBX_EINTERNAL, "cannot start a writer thread");
    }
    for (int i = 0; i < 2; i++) {
        w[i].o = o;
        for (size_t j = 0; j < REPLAY_WINDOW_BLOCKS; j++)
            buf_init(&w[i].blk[j].raw, LEDGER_BLOCK_MAX_SIZE);
    }
    cur = &w[0];
    next = &w[1];
    load(cur, o->src, h, to);
    par_run(c->pool, cur->nitems, check_item, cur);
    while (from <= to) {
        int last = cur->load_rc != SBX_OK || cur->nblk == 0 || cur->blk[cur->nblk - 1].height >= to;
        struct window *t;

        if (!last) {
            /* check the next window on the pool while this one is applied */
            load(next, o->src, cur->blk[cur->nblk - 1].height + 1, to);
            par_start(c->pool, next->nitems, check_item, next);
        }
        rc = apply_window(c, cur, o->write ? &wr : NULL, failed_at, err);
        if (!last)
            par_wait(c->pool, next->nitems, check_item, next);
        if (rc || last)
            break;
        t = cur;
        cur = next;
        next = t;
    }
    window_release(&w[0]);
    window_release(&w[1]);
    free(w);
    if (o->write) { /* every block applied is written before this returns */
        wrc = writer_finish(&wr, rc ? NULL : err);
        rc = rc ? rc : wrc;
    }
    return rc;
}
