/* The operator's pipeline of the main job: submission, workers and the sequencer.
 *
 *   any RPC loop --node_submit--> workq --workers: sign or verify--> seqq
 *   any RPC loop --node_submit (business: encode + txid)---------> seqq
 *   seqq --sequencer: idempotency, verdict, pending block--> sealed blocks (to commit.c)
 *
 * The business transactions the node builds itself are block-authenticated (tx.h): not signed,
 * they need no worker and go from the submitting thread straight to the sequencer.
 * Optimised for throughput: signatures (the largest CPU cost) on one worker per core; a single
 * sequencer so verdicts stay simple and deterministic. A block is sealed when the committer is
 * idle or about to be (node_commit_seal_at_locked: the last quarter of a usual write, so that
 * the next block is ready when the write ends and the committer need not wait for the
 * sequencer), when it reaches -blockmaxtxs, or -blockmaxms after it was opened, so that one
 * fsync covers nearly every transaction that arrived while the previous block was being
 * written.
 *
 * Threads: node_submit, node_submit_raw, node_pipeline_submit and node_pipeline_submit_raw run
 * on any event-loop thread that owns the sink they name (node.h; a business transaction is
 * encoded and hashed on that thread, then, with a sink, admitted with the other submissions of
 * the loop's pass by node_pipeline_admit_sealed, one lock of mu and at most one wake-up of the
 * sequencer for all of them; anything else takes one lock of mu per submission); node_check and
 * node_queue_depth on any thread; node_pipeline_start and node_pipeline_stop on the node's
 * event-loop thread; worker_main and work on the worker threads; sequencer_main and the seq_*
 * and sequence functions on the sequencer thread; node_pipeline_fail on the sequencer or the
 * committer. The
 * node_pipeline_jobq_* helpers run on whichever thread owns the queue (mu held for the shared
 * ones).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ledger/locate.h"
#include "node/node_int.h"
#include "util/log.h"
#include "util/time.h"
#include "util/par.h"

/* Sealed blocks waiting for the committer before the sequencer waits. */
#define MAX_SEALED_QUEUE 4

/* Workers take jobs in small batches (a share of what waits, at most WORKER_BATCH) and hand
 * them on with one lock and at most one wake-up: under load, thread switches and futex calls
 * otherwise cost as much as the signatures. */
#define WORKER_BATCH 32

/* ------------------------------------------------------------------ job queues */

void
node_pipeline_jobq_init(struct jobq *q)
{
    STAILQ_INIT(&q->head);
    q->n = 0;
}

void
node_pipeline_jobq_push(struct jobq *q, struct job *j)
{
    STAILQ_INSERT_TAIL(&q->head, j, link);
    q->n++;
}

struct job *
node_pipeline_jobq_pop(struct jobq *q)
{
    struct job *j = STAILQ_FIRST(&q->head);

    if (j) {
        STAILQ_REMOVE_HEAD(&q->head, link);
        q->n--;
    }
    return j;
}

void
node_pipeline_jobq_concat(struct jobq *dst, struct jobq *src)
{
    STAILQ_CONCAT(&dst->head, &src->head);
    dst->n += src->n;
    src->n = 0;
}

/* A cleared job for a submission whose results go to `sink`: one the sink kept (its encoding
 * buffer's memory kept too), else a new one. */
static struct job *
job_new(struct node_sink *sink, node_done_fn fn, void *arg)
{
    struct job *j = node_sink_job_take(sink);

    if (j != NULL) {
        struct buf enc = j->enc;

        buf_reset(&enc);
        memset(j, 0, sizeof(*j));
        j->enc = enc;
    } else {
        j = calloc(1, sizeof(*j));
        if (j == NULL)
            return NULL;
        buf_init(&j->enc, SBX_TX_MAX_SIZE);
    }
    j->sink = sink;
    j->fn = fn;
    j->arg = arg;
    return j;
}

void
node_pipeline_job_free(struct job *j)
{
    buf_release(&j->enc);
    free(j);
}

/* ------------------------------------------------------------------ workers */

/* The key the operator node signs a submission of `tx`'s type with: the operator key, or the
 * regulator key for a directive or an attestation (NULL when the node holds none). */
static const struct ledger_key *
job_key(const struct node *n, const struct ledger_tx *tx)
{
    if (tx->type == LEDGER_TX_DIRECTIVE || tx->type == LEDGER_TX_ATTESTATION)
        return n->has_reg_key ? &n->reg_key : NULL;
    return &n->op_key;
}

/* Authenticate j->tx into j->txid and encode it into j->enc (emptied first): a business
 * transaction is block-authenticated by `k` (the operator key: encoded and hashed, not signed;
 * the block's signature covers it); a directive or an attestation is signed with `k`. */
static int
sign_job(struct job *j, const struct ledger_key *k, struct sbx_err *err)
{
    int rc;

    buf_reset(&j->enc);
    if (ledger_tx_is_business(j->tx.type)) {
        rc = ledger_tx_seal_for_block(&j->tx, k->pubkey, &j->enc, j->txid, err);
    } else {
        rc = ledger_tx_sign(&j->tx, k, j->txid, err);
        rc = rc ? rc : ledger_tx_encode(&j->tx, &j->enc, err);
    }
    if (rc == SBX_OK)
        memcpy(j->res.txid, j->txid, 32);
    return rc;
}

/* Whether `j` needs a worker: a raw submission (signatures to verify) or a directive or an
 * attestation this node signs. A business transaction the node builds is only encoded and
 * hashed (a few microseconds), so the submitting thread does it and hands it straight to the
 * sequencer, saving two thread hand-offs. */
static int
job_needs_worker(const struct job *j)
{
    return j->raw || !ledger_tx_is_business(j->tx.type);
}

/* Hand the jobs of `q` to the sequencer (mu held), with at most one wake-up. */
static void
seq_hand_locked(struct node *n, struct jobq *q)
{
    node_pipeline_jobq_concat(&n->pipe.seqq, q);
    if (n->pipe.seq_waiting) {
        n->pipe.seq_waiting = 0; /* one wake-up is enough */
        pthread_cond_signal(&n->pipe.seq_cv);
    }
}

/* Sign and encode, or verify, one job on a worker (a business transaction the node builds is
 * sealed by submit_job instead). Returns 1 if it goes on to the sequencer, 0 if it was
 * refused. */
static int
work(struct node *n, struct job *j)
{
    struct sbx_err err;
    int rc;

    sbx_err_clear(&err);
    if (j->raw) {
        rc = ledger_tx_decode(&j->tx, j->enc.data, j->enc.len, &j->ulen, &err);
        if (rc == SBX_OK && j->tx.type == LEDGER_TX_GENESIS)
            rc = sbx_err_set(&err, SBX_EINVAL, "hex: a genesis transaction cannot be submitted");
        if (rc == SBX_OK) {
            ledger_tx_id_raw(j->txid, j->enc.data, j->ulen);
            rc = ledger_tx_verify(&j->tx, j->txid, &err);
        }
    } else {
        const struct ledger_key *k = job_key(n, &j->tx);

        if (k == NULL) {
            j->res.rc = SBX_EDENIED;
            snprintf(j->res.message, sizeof(j->res.message),
                     "this node holds no regulator key: submit a directive signed by "
                     "regulators with submitrawtx");
            node_commit_complete_one(n, j);
            return 0;
        }
        rc = sign_job(j, k, &err);
    }
    if (rc) {
        j->res.rc = rc;
        snprintf(j->res.message, sizeof(j->res.message), "%s", err.msg);
        node_commit_complete_one(n, j);
        return 0;
    }
    memcpy(j->res.txid, j->txid, 32);
    return 1;
}

/* Take a share of the waiting jobs into `take` (mu held); none once stopping and empty. */
static void
worker_take_locked(struct node *n, struct jobq *take)
{
    struct node_pipeline *p = &n->pipe;
    size_t share;

    while (STAILQ_EMPTY(&p->workq.head) && !p->stop_workers) {
        /* the waker takes us off the idle count when it signals, so that a burst of
         * submissions wakes each idle worker once, not once per submission */
        p->idle_workers++;
        pthread_cond_wait(&p->work_cv, &n->mu);
    }
    share = p->workq.n / (size_t)n->nworkers;
    share = share < 1 ? 1 : share > WORKER_BATCH ? WORKER_BATCH : share;
    while (share-- > 0 && !STAILQ_EMPTY(&p->workq.head))
        node_pipeline_jobq_push(take, node_pipeline_jobq_pop(&p->workq));
    if (!STAILQ_EMPTY(&p->workq.head) && p->idle_workers) {
        p->idle_workers--;
        pthread_cond_signal(&p->work_cv); /* more than our share: wake a peer */
    }
}

static void *
worker_main(void *arg)
{
    struct node *n = arg;

    par_thread_name("sbx-worker");
    for (;;) {
        struct jobq take, done;
        struct job *j;

        node_pipeline_jobq_init(&take);
        node_pipeline_jobq_init(&done);
        pthread_mutex_lock(&n->mu);
        worker_take_locked(n, &take);
        pthread_mutex_unlock(&n->mu);
        if (STAILQ_EMPTY(&take.head))
            return NULL; /* stopping and nothing left */
        while ((j = node_pipeline_jobq_pop(&take)) != NULL)
            if (work(n, j))
                node_pipeline_jobq_push(&done, j);
        if (!STAILQ_EMPTY(&done.head)) {
            pthread_mutex_lock(&n->mu);
            seq_hand_locked(n, &done);
            pthread_mutex_unlock(&n->mu);
        }
    }
}

/* ------------------------------------------------------------------ sequencer */

static const char *
job_id(const struct ledger_tx *tx, uint8_t *kind)
{
    switch (tx->type) {
    case LEDGER_TX_ACCOUNT_OPEN:
        *kind = CMP_ID_ACCOUNT;
        return tx->u.account_open.account;
    case LEDGER_TX_DEPOSIT:
    case LEDGER_TX_WITHDRAWAL:
        *kind = CMP_ID_TRANSFER;
        return tx->u.transfer.transfer_id;
    case LEDGER_TX_TRADE:
        *kind = CMP_ID_TRADE;
        return tx->u.trade.trade_id;
    default:
        return NULL;
    }
}

enum dup { DUP_NONE, DUP_ANSWERED, DUP_WAIT };

/* Idempotency: an id used before answers with the first result (same content) or a conflict.
 * DUP_WAIT when the first use is in a block not yet written: retry after the next commit. */
static enum dup
check_duplicate(struct node *n, struct job *j)
{
    struct ledger_store *store = node_chain_store(n->chain);
    uint8_t key[LEDGER_STORE_KEY_IDEM_MAX], orig[32], again[32], first_id[32];
    const struct ledger_verdict *verdict;
    struct ledger_locate loc;
    struct ledger_tx otx, cand;
    uint64_t height;
    uint32_t index;
    const char *id;
    uint8_t kind;
    size_t len;

    id = job_id(&j->tx, &kind);
    if (id == NULL)
        return DUP_NONE;
    len = ledger_store_key_idem(key, kind, id);
    if (node_chain_find_id(n->chain, key, len, orig) != SBX_OK)
        return DUP_NONE;
    if (ledger_store_tx_location(store, orig, &height, &index, NULL) != SBX_OK)
        return DUP_WAIT;
    ledger_locate_init(&loc);
    if (ledger_locate_block(store, height, &loc, NULL) != SBX_OK ||
        ledger_locate_entry(&loc, index, &otx, first_id, &verdict, NULL) != SBX_OK) {
        ledger_locate_release(&loc);
        node_result_refuse(&j->res, SBX_EINTERNAL, "reading the first submission failed");
        return DUP_ANSWERED;
    }
    /* same content = the same txid once signer and time are the first submission's */
    cand = j->tx;
    cand.auth = otx.auth;
    cand.timestamp = otx.timestamp;
    memcpy(cand.signer, otx.signer, 32);
    memcpy(j->res.txid, orig, 32);
    j->res.height = height;
    if (ledger_tx_id(&cand, again, NULL) != SBX_OK || memcmp(again, orig, 32) != 0) {
        j->res.rc = SBX_ECONFLICT;
        snprintf(j->res.message, sizeof(j->res.message),
                 "%s: %.64s was already used with different content",
                 kind == CMP_ID_TRADE      ? "trade_id"
                 : kind == CMP_ID_TRANSFER ? "transfer_id"
                                           : "account",
                 id);
    } else {
        j->res.verdict = *verdict;
        j->res.rc = j->res.verdict.status == LEDGER_VERDICT_ACCEPTED ? SBX_OK : SBX_EREJECTED;
        snprintf(j->res.message, sizeof(j->res.message), "%s",
                 j->res.rc ? "rejected when first submitted" : "");
        memcpy(j->res.block_hash, loc.hash, 32);
    }
    ledger_tx_release(&otx);
    ledger_locate_release(&loc);
    return DUP_ANSWERED;
}

/* Re-stamp a job the node built with time `ts` and authenticate it again. 1 on success; 0 if it was
 * refused onto `decided`. */
static int
restamp(struct node *n, struct job *j, int64_t ts, struct jobq *decided)
{
    struct sbx_err err;

    j->tx.timestamp = ts;
    if (sign_job(j, job_key(n, &j->tx), &err) == SBX_OK)
        return 1;
    node_result_refuse(&j->res, SBX_EINTERNAL, "signing failed");
    node_pipeline_jobq_push(decided, j);
    return 0;
}

/* The block rule time.skew at the operator (state_mu held): a job's timestamp must lie within
 * time.max_skew_ms of the open block's time. A job this node stamped and signed (stamped at
 * admission, it may have waited in a long queue, or the block may have stayed open longer than
 * the skew) is stamped with the block's time and signed again; a raw job keeps its signer's
 * timestamp: one later than the block waits for the next block (onto `deferred`; the open block
 * then holds something and is sealed at once), one earlier is refused (its clock check passed,
 * so only a clock that went back behind the tip's time gets here). Returns 1 if `j` fits. */
static int
fit_block_time(struct node *n, struct job *j, struct jobq *deferred, struct jobq *decided)
{
    int fit = node_chain_time_fit(n->chain, j->tx.timestamp, j->tx.type);

    if (fit == 0)
        return 1;
    if (!j->raw)
        return restamp(n, j, node_chain_block_time(n->chain), decided);
    if (fit > 0 && node_chain_pending(n->chain) > 0) {
        node_pipeline_jobq_push(deferred, j);
        return 0;
    }
    node_result_refuse(&j->res, SBX_EINVAL,
                       "timestamp: more than time.max_skew_ms away from the block's time");
    node_pipeline_jobq_push(decided, j);
    return 0;
}

#ifdef SBX_TEST_HOOKS
/* Test builds: after testhook backdate, the next job this node signs is stamped
 * time.max_skew_ms + 1 ms before the block's time (and signed again), breaking time.skew. */
static int
test_backdate(struct node *n, struct job *j, int64_t skew, struct jobq *decided, int *done)
{
    *done = 0;
    if (j->raw || !node_chain_test_backdate_take(n->chain))
        return 1;
    *done = 1;
    LOG_WARN(LOG_NODE, "test hook: a transaction stamped time.max_skew_ms + 1 ms before its block");
    return restamp(n, j, node_chain_block_time(n->chain) - skew - 1, decided);
}
#endif

/* Give `j` its verdict in the open block, or decide it at once. Returns 1 if it joined the
 * block, 0 if it was decided (or deferred onto `deferred`). With n->state_mu held. */
static int
sequence(struct node *n, struct job *j, int64_t now, struct jobq *deferred, struct jobq *decided)
{
    struct cmp_engine *eng = node_chain_engine(n->chain);
    const struct cmp_params *p = cmp_engine_params(eng);
    int business = ledger_tx_is_business(j->tx.type);
    struct cmp_result cres;
    int64_t lag, skew = p->v[CMP_P_MAX_SKEW_MS];
    int rc, backdated = 0;

    if (j->raw && (j->tx.timestamp > now + skew ||
                   j->tx.timestamp < now - cmp_params_time_before_ms(p, j->tx.type))) {
        node_result_refuse(&j->res, SBX_EINVAL,
                           "timestamp: more than time.max_skew_ms away from the node's clock (a "
                           "directive: or older than supervision.proposal_ttl_s more)");
        node_pipeline_jobq_push(decided, j);
        return 0;
    }
#ifdef SBX_TEST_HOOKS
    if (!test_backdate(n, j, skew, decided, &backdated))
        return 0;
#endif
    if (!backdated && !fit_block_time(n, j, deferred, decided))
        return 0;
    if (business && cmp_engine_supervision_ok(eng, now, &lag) != SBX_OK) {
        j->res.rc = SBX_EUNAVAIL;
        snprintf(j->res.message, sizeof(j->res.message),
                 "supervision.lag: regulators have not attested for %lld ms", (long long)lag);
        node_pipeline_jobq_push(decided, j);
        return 0;
    }
    switch (check_duplicate(n, j)) {
    case DUP_ANSWERED:
        node_pipeline_jobq_push(decided, j);
        return 0;
    case DUP_WAIT:
        node_pipeline_jobq_push(deferred, j);
        return 0;
    case DUP_NONE:
        break;
    }
    rc = node_chain_add(n->chain, j->enc.data, j->enc.len, &j->tx, j->txid, &cres);
    if (rc == SBX_ETOOLONG) {
        node_pipeline_jobq_push(deferred, j); /* the block is full: next block */
        return 0;
    }
    if (rc) {
        LOG_ERROR(LOG_NODE, "sequencer: %s; the node stops taking submissions", sbx_rc_name(rc));
        node_pipeline_fail(n, NODE_FAILURE_INTERNAL);
        node_result_refuse(&j->res, SBX_EINTERNAL, "internal error");
        node_pipeline_jobq_push(decided, j);
        return 0;
    }
    j->res.verdict = cres.verdict;
    j->res.height = node_chain_tip(n->chain)->height + 1;
    j->res.rc = cres.verdict.status == LEDGER_VERDICT_ACCEPTED ? SBX_OK : SBX_EREJECTED;
    snprintf(j->res.message, sizeof(j->res.message), "%s", cres.message);
    return 1;
}

/* ------------------------------------------------------------------ failure (any thread) */

void
node_pipeline_fail(struct node *n, enum node_failure why)
{
    int none = NODE_FAILURE_NONE;

    atomic_compare_exchange_strong(&n->failed, &none, (int)why);
}

/* Why a submission is refused once the node has failed (its `failed` set): the text of the
 * -32004 answer, in `text` when it names the store's cause. */
static const char *
failure_text(struct node *n, char *text, size_t len)
{
    const char *cause = node_storage_failure(n);

    if (cause == NULL)
        return "the node has stopped after an error";
    snprintf(text, len,
             "storage_failed: the node's store cannot write (%s); reads are served, submissions "
             "are refused until the node is restarted",
             cause);
    return text;
}

/* What the sequencer holds between its rounds (sequencer thread only). */
struct seq_state {
    struct jobq block;    /* the jobs in the open block */
    struct jobq deferred; /* jobs that wait for the next commit */
    int open;             /* a block is open */
    int64_t opened_us;    /* when it was opened (monotonic) */
    uint64_t gen_seen;    /* the committer's round last seen */
};

static int64_t
seq_age_us(const struct seq_state *st)
{
    return st->open ? time_mono_us() - st->opened_us : 0;
}

/* Wait on seq_cv (mu held) for at most `wait_us` microseconds, or without limit if negative. */
static void
seq_sleep_locked(struct node *n, int64_t wait_us)
{
    n->pipe.seq_waiting = 1;
    if (wait_us >= 0) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += wait_us / 1000000;
        ts.tv_nsec += (wait_us % 1000000) * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&n->pipe.seq_cv, &n->mu, &ts);
    } else {
        pthread_cond_wait(&n->pipe.seq_cv, &n->mu);
    }
    n->pipe.seq_waiting = 0;
}

/* Wait (mu held) until there is work: arrivals with room in the block, an open block that is
 * due, a commit (deferred jobs may go on) or a stop. */
static void
seq_wait_locked(struct node *n, struct seq_state *st)
{
    struct node_pipeline *p = &n->pipe;
    int64_t maxtxs = n->cfg.blockmaxtxs, max_us = (int64_t)n->cfg.blockmaxms * 1000;

    if (n->commit.durable_gen != st->gen_seen && !STAILQ_EMPTY(&st->deferred.head)) {
        /* a block was written: retry what waited for it, in front of newer arrivals */
        node_pipeline_jobq_concat(&st->deferred, &p->seqq);
        node_pipeline_jobq_concat(&p->seqq, &st->deferred);
    }
    st->gen_seen = n->commit.durable_gen;
    for (;;) {
        int64_t age = seq_age_us(st), now = time_mono_us();
        int64_t seal_at = node_commit_seal_at_locked(n);

        if (!STAILQ_EMPTY(&p->seqq.head) && (!st->open || (int)st->block.n < maxtxs))
            break;
        if (st->open &&
            (now >= seal_at || (int)st->block.n >= maxtxs || age >= max_us || p->stop_seq))
            break;
        if (!st->open && p->stop_seq && STAILQ_EMPTY(&st->deferred.head))
            break;
        if (!st->open && p->stop_seq && n->commit.durable_gen != st->gen_seen)
            break;
        seq_sleep_locked(n, !st->open                      ? -1
                            : seal_at - now < max_us - age ? seal_at - now
                                                           : max_us - age);
        if (n->commit.durable_gen != st->gen_seen)
            break;
    }
}

/* Give the jobs of `take` their verdicts (state_mu taken here): into the open block (opened if
 * needed), onto `st->deferred`, or decided at once onto `decided`. */
static void
seq_decide(struct node *n, struct seq_state *st, struct jobq *take, struct jobq *decided)
{
    int64_t now = time_now_ms();
    struct job *j;

    pthread_mutex_lock(&n->state_mu);
    if (!st->open && !atomic_load(&n->failed)) {
        struct sbx_err err;

        if (node_chain_begin(n->chain, now) != SBX_OK) {
            node_pipeline_fail(n, NODE_FAILURE_INTERNAL);
        } else {
            st->open = 1;
            st->opened_us = time_mono_us();
            if (node_chain_liabilities_add(n->chain, &n->op_key, &err) != SBX_OK) {
                LOG_ERROR(LOG_NODE, "%s; the node stops taking submissions", err.msg);
                atomic_store(&n->failed, 1);
            }
        }
    }
    while ((j = node_pipeline_jobq_pop(take)) != NULL) {
        if (atomic_load(&n->failed)) {
            char text[SBX_ERR_MSG_MAX];

            node_result_refuse(&j->res, SBX_EUNAVAIL, failure_text(n, text, sizeof(text)));
            node_pipeline_jobq_push(decided, j);
        } else if (sequence(n, j, now, &st->deferred, decided)) {
            node_pipeline_jobq_push(&st->block, j);
        }
    }
    if (st->open && st->block.n == 0 && node_chain_pending(n->chain) == 0) {
        node_chain_abort_empty(n->chain); /* everything was answered at the door */
        st->open = 0;
    }
    pthread_mutex_unlock(&n->state_mu);
}

/* Whether the open block is sealed now (mu held); waits while the disk is behind. */
static int
seq_due_locked(struct node *n, struct seq_state *st)
{
    int seal;

    if (!st->open)
        return 0;
    seal = time_mono_us() >= node_commit_seal_at_locked(n) ||
           (int)st->block.n >= n->cfg.blockmaxtxs ||
           seq_age_us(st) >= (int64_t)n->cfg.blockmaxms * 1000 || n->pipe.stop_seq ||
           (!STAILQ_EMPTY(&st->deferred.head) && st->block.n > 0);
    while (seal && n->commit.nqueued >= MAX_SEALED_QUEUE)
        seq_sleep_locked(n, -1); /* backpressure: the disk is behind */
    return seal;
}

/* Seal the open block and queue it for the committer; on failure refuse its jobs and stop
 * taking submissions. */
static void
seq_seal(struct node *n, struct seq_state *st)
{
    struct sealed_item *it = calloc(1, sizeof(*it));
    struct sbx_err err;
    struct job *j;
    int rc = it ? SBX_OK : SBX_ENOMEM;

    pthread_mutex_lock(&n->state_mu);
    if (rc == SBX_OK)
        rc = node_chain_seal(n->chain, &n->op_key, &it->s, &err);
    pthread_mutex_unlock(&n->state_mu);
    st->open = 0;
    if (rc) {
        LOG_ERROR(LOG_NODE, "sealing a block failed: %s; the node stops taking submissions",
                  rc == SBX_ENOMEM ? "out of memory" : err.msg);
        node_pipeline_fail(n, NODE_FAILURE_INTERNAL);
        free(it);
        for (j = STAILQ_FIRST(&st->block.head); j != NULL; j = STAILQ_NEXT(j, link))
            node_result_refuse(&j->res, SBX_EINTERNAL, "internal error");
        pthread_mutex_lock(&n->mu);
        node_commit_complete_locked(n, &st->block);
        pthread_mutex_unlock(&n->mu);
        return;
    }
    for (j = STAILQ_FIRST(&st->block.head); j != NULL; j = STAILQ_NEXT(j, link))
        memcpy(j->res.block_hash, it->s.tip.hash, 32);
    node_pipeline_jobq_init(&it->jobs);
    node_pipeline_jobq_concat(&it->jobs, &st->block);
    pthread_mutex_lock(&n->mu);
    node_commit_push_locked(n, it);
    pthread_mutex_unlock(&n->mu);
}

/* The sequencer: takes signed jobs in arrival order, gives verdicts into the open block and
 * seals it when it is due. Exits once stopping and nothing is left. */
static void *
sequencer_main(void *arg)
{
    struct node *n = arg;
    struct seq_state st;

    par_thread_name("sbx-seq");
    memset(&st, 0, sizeof(st));
    node_pipeline_jobq_init(&st.block);
    node_pipeline_jobq_init(&st.deferred);
    for (;;) {
        struct jobq take, decided;
        int seal, room;

        node_pipeline_jobq_init(&take);
        node_pipeline_jobq_init(&decided);
        pthread_mutex_lock(&n->mu);
        seq_wait_locked(n, &st);
        room = n->cfg.blockmaxtxs - (int)st.block.n;
        while (room-- > 0 && !STAILQ_EMPTY(&n->pipe.seqq.head))
            node_pipeline_jobq_push(&take, node_pipeline_jobq_pop(&n->pipe.seqq));
        if (!st.open && STAILQ_EMPTY(&take.head) && n->pipe.stop_seq &&
            STAILQ_EMPTY(&st.deferred.head) && STAILQ_EMPTY(&n->pipe.seqq.head)) {
            pthread_mutex_unlock(&n->mu);
            break;
        }
        pthread_mutex_unlock(&n->mu);
        if (!STAILQ_EMPTY(&take.head))
            seq_decide(n, &st, &take, &decided);
        pthread_mutex_lock(&n->mu);
        node_commit_complete_locked(n, &decided);
        seal = seq_due_locked(n, &st);
        pthread_mutex_unlock(&n->mu);
        if (seal)
            seq_seal(n, &st);
    }
    return NULL;
}

/* ------------------------------------------------------------------ start / stop */

void
node_pipeline_start(struct node *n)
{
    for (int i = 0; i < n->nworkers; i++)
        if (pthread_create(&n->pipe.workers[i], NULL, worker_main, n) != 0)
            SBX_BUG("cannot start a worker thread");
    if (pthread_create(&n->pipe.seq_thr, NULL, sequencer_main, n) != 0)
        SBX_BUG("cannot start the sequencer thread");
}

void
node_pipeline_stop(struct node *n)
{
    for (int i = 0; i < n->nworkers; i++)
        pthread_join(n->pipe.workers[i], NULL);
    pthread_mutex_lock(&n->mu);
    n->pipe.stop_seq = 1;
    pthread_cond_broadcast(&n->pipe.seq_cv);
    pthread_mutex_unlock(&n->mu);
    pthread_join(n->pipe.seq_thr, NULL);
}

/* ------------------------------------------------------------------ submit (any RPC loop) */

/* Whether one more submission may enter the pipeline (mu held): SBX_OK, counted in flight, or
 * the refusal's code and `*why` (`text` may hold it). */
static int
admit_locked(struct node *n, const char **why, char text[static SBX_ERR_MSG_MAX])
{
    if (n->stopping || atomic_load(&n->failed)) {
        *why = n->stopping ? "the node is shutting down" : failure_text(n, text, SBX_ERR_MSG_MAX);
        return SBX_EUNAVAIL;
    }
    if (n->pipe.inflight >= (size_t)n->cfg.queue_max) {
        *why = "the submission queue is full; retry later";
        return SBX_EOVERLOAD;
    }
    n->pipe.inflight++;
    return SBX_OK;
}

/* Admit `j` and queue it, under one lock: for the workers, or (a business transaction, sealed
 * by the caller) for the sequencer. SBX_OK, or the refusal's code and `*why` (the job is then
 * still the caller's). */
static int
admit_enqueue(struct node *n, struct job *j, const char **why, char text[static SBX_ERR_MSG_MAX])
{
    int rc;

    pthread_mutex_lock(&n->mu);
    rc = admit_locked(n, why, text);
    if (rc == SBX_OK && job_needs_worker(j)) {
        node_pipeline_jobq_push(&n->pipe.workq, j);
        if (n->pipe.idle_workers) {
            n->pipe.idle_workers--;
            pthread_cond_signal(&n->pipe.work_cv);
        }
    } else if (rc == SBX_OK) { /* sealed already (submit_job) */
        struct jobq one;

        node_pipeline_jobq_init(&one);
        node_pipeline_jobq_push(&one, j);
        seq_hand_locked(n, &one);
    }
    pthread_mutex_unlock(&n->mu);
    return rc;
}

void
node_pipeline_admit_sealed(struct node *n, struct jobq *q)
{
    struct jobq ok, refused;
    char text[SBX_ERR_MSG_MAX];
    const char *why = NULL;
    struct job *j;

    node_pipeline_jobq_init(&ok);
    node_pipeline_jobq_init(&refused);
    pthread_mutex_lock(&n->mu);
    while ((j = node_pipeline_jobq_pop(q)) != NULL) {
        int rc = admit_locked(n, &why, text);

        if (rc != SBX_OK)
            node_result_refuse(&j->res, rc, why);
        node_pipeline_jobq_push(rc == SBX_OK ? &ok : &refused, j);
    }
    seq_hand_locked(n, &ok);
    pthread_mutex_unlock(&n->mu);
    while ((j = node_pipeline_jobq_pop(&refused)) != NULL) {
        j->fn(j->arg, &j->res);
        node_pipeline_job_free(j);
    }
}

/* Queue `j` (NULL: out of memory), or refuse it on the spot and free it. */
static void
submit_job(struct node *n, struct job *j, node_done_fn fn, void *arg)
{
    const char *why = "out of memory";
    char text[SBX_ERR_MSG_MAX];
    struct sbx_err err;
    int rc = j != NULL ? SBX_OK : SBX_ENOMEM;

    /* a business transaction needs no worker: encode it and take its txid here, off the lock */
    if (rc == SBX_OK && !job_needs_worker(j)) {
        sbx_err_clear(&err);
        rc = sign_job(j, &n->op_key, &err);
        if (rc == SBX_OK)
            memcpy(j->res.txid, j->txid, 32);
        why = err.msg;
        if (rc == SBX_OK && j->sink != NULL) {
            node_sink_defer(j->sink, j); /* admitted with the rest of the loop's pass */
            return;
        }
    }
    rc = rc ? rc : admit_enqueue(n, j, &why, text);
    if (rc == SBX_OK)
        return;
    if (j != NULL)
        node_pipeline_job_free(j);
    node_refuse_now(fn, arg, rc, why);
}

/* A regulator or observer whose store failed refuses what it would relay at once: it could not
 * write the block that answers it. 1 when refused. */
static int
relay_refused(struct node *n, node_done_fn fn, void *arg)
{
    char text[SBX_ERR_MSG_MAX];

    if (!atomic_load(&n->failed))
        return 0;
    node_refuse_now(fn, arg, SBX_EUNAVAIL, failure_text(n, text, sizeof(text)));
    return 1;
}

void
node_pipeline_submit(struct node *n, struct node_sink *sink, const struct ledger_tx *tx,
                     node_done_fn fn, void *arg)
{
    struct job *j;

    if (tx->type == LEDGER_TX_GENESIS) {
        node_refuse_now(fn, arg, SBX_EINVAL, "type: a genesis transaction cannot be submitted");
        return;
    }
    if (n->role != NODE_ROLE_OPERATOR) {
        struct ledger_tx t = *tx;

        if (!relay_refused(n, fn, arg))
            node_relay_submit(n, &t, NULL, 0, 0, fn, arg);
        return;
    }
    j = job_new(sink, fn, arg);
    if (j != NULL) {
        j->tx = *tx;
        j->tx.version = LEDGER_TX_VERSION;
        j->tx.timestamp = time_now_ms();
    }
    submit_job(n, j, fn, arg);
}

void
node_submit(struct node *n, const struct ledger_tx *tx, node_done_fn fn, void *arg)
{
    node_pipeline_submit(n, NULL, tx, fn, arg);
}

void
node_pipeline_submit_raw(struct node *n, struct node_sink *sink, const uint8_t *raw, size_t len,
                         node_done_fn fn, void *arg)
{
    struct job *j;

    if (len > SBX_TX_MAX_SIZE) {
        node_refuse_now(fn, arg, SBX_ETOOLONG, "hex: transaction larger than its maximum size");
        return;
    }
    if (n->role != NODE_ROLE_OPERATOR) {
        struct ledger_tx tx;
        struct sbx_err err;
        size_t ulen;
        int rc;

        if (relay_refused(n, fn, arg))
            return;
        rc = ledger_tx_decode(&tx, raw, len, &ulen, &err);
        if (rc) {
            node_refuse_now(fn, arg, rc, err.msg);
            return;
        }
        node_relay_submit(n, &tx, raw, len, ulen, fn, arg);
        ledger_tx_release(&tx);
        return;
    }
    j = job_new(sink, fn, arg);
    if (j != NULL && buf_put(&j->enc, raw, len) != SBX_OK) {
        node_pipeline_job_free(j);
        j = NULL;
    }
    if (j != NULL) {
        j->raw = 1;
    }
    submit_job(n, j, fn, arg);
}

void
node_submit_raw(struct node *n, const uint8_t *raw, size_t len, node_done_fn fn, void *arg)
{
    node_pipeline_submit_raw(n, NULL, raw, len, fn, arg);
}

int
node_check(struct node *n, const struct ledger_tx *tx, struct cmp_result *res, struct sbx_err *err)
{
    struct ledger_tx t = *tx;
    struct cmp_block_ctx ctx;
    uint8_t txid[32] = {0};
    int rc;

    if (t.type == LEDGER_TX_GENESIS)
        return sbx_err_set(err, SBX_EINVAL, "type: not a business transaction");
    memcpy(t.signer, node_chain_genesis(n->chain)->operator_key, 32);
    if (t.timestamp == 0)
        t.timestamp = time_now_ms();
    pthread_mutex_lock(&n->state_mu);
    ctx.height = node_chain_tip(n->chain)->height + 1;
    ctx.time_ms = t.timestamp;
    rc = cmp_evaluate(node_chain_engine(n->chain), &t, txid, &ctx, res);
    pthread_mutex_unlock(&n->state_mu);
    if (rc)
        return sbx_err_set(err, rc, "evaluation failed");
    return SBX_OK;
}

size_t
node_queue_depth(struct node *n)
{
    size_t d;

    pthread_mutex_lock(&n->mu);
    d = n->pipe.inflight;
    pthread_mutex_unlock(&n->mu);
    return d;
}
