/* The running node: chain, keys, and the pipeline of the main job; see node.h.
 *
 *   event loop --node_submit--> workq --workers: sign or verify--> seqq
 *   seqq --sequencer: idempotency, verdict, pending block--> sealed blocks --committer: one
 *   synced LevelDB batch per block--> doneq --event loop: callbacks (the RPC replies)
 *
 * Optimised for throughput with durable acknowledgements: signatures (the largest CPU cost) on
 * one worker per core; a single sequencer so verdicts stay simple and deterministic; group
 * commit, so one fsync covers every transaction that arrived while the previous block was being
 * written. A block is sealed when the committer is idle, when it reaches -blockmaxtxs, or
 * -blockmaxms after it was opened. Nothing is acknowledged before its block is synced.
 */
#include "node/node.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdarg.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <jansson.h>

#include "node/chain.h"
#include "node/devnet.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/par.h"
#include "util/sha256.h"
#include "util/time.h"

#define MAX_SEALED_QUEUE                                                                           \
    4 /* sealed blocks waiting for the committer before the sequencer waits                        \
       */

struct job {
    struct job *next;
    int raw; /* submitrawtx: decode and verify instead of sign */
    struct ledger_tx tx;
    struct buf enc;
    size_t ulen;
    uint8_t txid[32];
    node_done_fn fn;
    void *arg;
    struct node_result res;
    int decided; /* the result is final (refused, or a duplicate answered from the store) */
};

struct jobq {
    struct job *head, *tail;
    size_t n;
};

struct sealed_item {
    struct sealed_item *next;
    struct node_sealed s;
    struct jobq jobs;
};

/* A block received by a follower, waiting to be applied. Its signatures are checked ahead of
 * the applier by the verifier threads, in slices of about VERIFY_SLICE transactions (slice 0
 * also checks the header's signature); the applier takes it once every slice is done. */
struct qblock {
    struct qblock *next;
    uint64_t height;
    uint8_t hash[32];
    struct ledger_block b;
    uint8_t (*txids)[32];
    size_t nslices, next_slice, slices_done; /* under n->mu */
    size_t bad;                              /* first failing transaction; SIZE_MAX none */
    char bad_msg[SBX_ERR_MSG_MAX];
    size_t len;
    uint8_t data[];
};

#define VERIFY_SLICE 32
/* Blocks ahead of the applier that the verifiers work on. */
#define VERIFY_AHEAD 256

/* A directive this regulator node relayed, waiting to appear in a block. */
struct pending_dir {
    struct pending_dir *next;
    uint8_t txid[32];
    int64_t deadline_ms;
    node_done_fn fn;
    void *arg;
};

/* Blocks a follower holds in memory before it asks peers to wait (bytes). */
#define FOLLOW_QUEUE_MAX_BYTES ((size_t)256 * 1024 * 1024)
/* Headers of recently queued blocks a follower keeps (equivocation checks). */
#define FOLLOW_RECENT 1024
/* Sealed blocks waiting for the follower's committer before the applier waits. */
#define FOLLOW_SEALED_MAX 64

struct alert_item {
    int64_t time_ms;
    enum node_alert_severity sev;
    json_t *obj;
};

struct node {
    struct node_config cfg;
    char *datadir;
    struct event_base *base;
    struct event *done_ev;
    struct node_chain *chain;
    struct ledger_key op_key;
    struct ledger_key reg_key;
    int has_reg_key;
    pthread_mutex_t state_mu; /* the engine's state (node_lock) */

    pthread_mutex_t mu; /* everything below */
    pthread_cond_t work_cv, seq_cv, commit_cv;
    struct jobq workq, seqq, doneq;
    struct sealed_item *commit_head, *commit_tail;
    int ncommit, committing;
    int idle_workers; /* workers waiting for work_cv */
    int seq_waiting;  /* the sequencer waits for seq_cv */
    int stop_workers, stop_seq, stop_commit;
    int stopping, failed;
    size_t inflight;
    uint64_t durable_gen;
    struct ledger_tip durable;

    pthread_t *workers;
    int nworkers;
    pthread_t seq_thr, commit_thr;
    int threads_started;

    enum node_role role;
    struct ledger_key obs_key; /* an observer's node key */
    /* following (under mu) */
    struct par_pool *pool;
    pthread_t follow_thr;
    pthread_t *verifiers;
    int nverifiers;
    pthread_cond_t follow_cv, verify_cv;
    struct qblock *fq_head, *fq_tail;
    size_t fq_n, fq_bytes;
    uint64_t fq_next; /* height the next queued block must have */
    int stop_follow;
    int follow_stopped; /* a block was refused or following was stopped */
    uint64_t refused_height;
    char refused_msg[SBX_ERR_MSG_MAX];
    int refused_reported;
    /* headers of the blocks queued lately (queued, being applied, sealed or written): what a
     * block at a held height is compared with */
    struct {
        uint64_t height1; /* height + 1; 0 = empty */
        uint8_t hdr[LEDGER_HEADER_SIZE];
    } recent[FOLLOW_RECENT];
    int follow_idle; /* nothing queued or being applied */
    int applying;    /* the applier holds a block */
    /* the network layer (event loop) */
    const struct node_events *ev;
    void *ev_ctx;
    uint64_t notified_gen;
    struct pending_dir *pending;
    struct event *pending_ev;
    /* a verifychain running on its own thread (event loop only), and its stop flag */
    struct verify_job *verify;
    int verify_cancel;
    /* alerts (under alert_mu) */
    pthread_mutex_t alert_mu;
    struct alert_item *alerts;
    size_t nalerts, alerts_alloc;
};

static void
q_push(struct jobq *q, struct job *j)
{
    j->next = NULL;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->n++;
}

static struct job *
q_pop(struct jobq *q)
{
    struct job *j = q->head;

    if (j) {
        q->head = j->next;
        if (q->head == NULL)
            q->tail = NULL;
        q->n--;
        j->next = NULL;
    }
    return j;
}

static void
q_append(struct jobq *dst, struct jobq *src)
{
    if (src->head == NULL)
        return;
    if (dst->tail)
        dst->tail->next = src->head;
    else
        dst->head = src->head;
    dst->tail = src->tail;
    dst->n += src->n;
    memset(src, 0, sizeof(*src));
}

static void
job_free(struct job *j)
{
    buf_release(&j->enc);
    free(j);
}

void
node_config_defaults(struct node_config *c)
{
    memset(c, 0, sizeof(*c));
    c->blockmaxtxs = 10000;
    c->blockmaxms = 50;
    c->queue_max = 100000;
    c->workers = 0;
    c->checkblocks = 6;
}

/* ------------------------------------------------------------------ completion */

/* Hand finished jobs to the event loop (with n->mu held). */
static void
complete_locked(struct node *n, struct jobq *jobs)
{
    if (jobs->head == NULL)
        return;
    n->inflight -= jobs->n;
    q_append(&n->doneq, jobs);
    event_active(n->done_ev, EV_READ, 0);
}

static void
complete_one(struct node *n, struct job *j)
{
    struct jobq q = {0};

    j->decided = 1;
    q_push(&q, j);
    pthread_mutex_lock(&n->mu);
    complete_locked(n, &q);
    pthread_mutex_unlock(&n->mu);
}

static void pending_check(struct node *n);
static void refuse_now(node_done_fn fn, void *arg, int rc, const char *msg);

/* Tell the network layer what changed since it last heard (event loop). */
static void
notify(struct node *n)
{
    struct ledger_tip tip;
    uint64_t gen, rheight = 0;
    char rmsg[SBX_ERR_MSG_MAX];
    int idle, refused = 0;

    pthread_mutex_lock(&n->mu);
    gen = n->durable_gen;
    tip = n->durable;
    idle = n->role == NODE_ROLE_OPERATOR ? 1 : n->follow_idle;
    if (n->follow_stopped && !n->refused_reported) {
        n->refused_reported = 1;
        refused = 1;
        rheight = n->refused_height;
        snprintf(rmsg, sizeof(rmsg), "%s", n->refused_msg);
    }
    pthread_mutex_unlock(&n->mu);
    if (gen != n->notified_gen) {
        n->notified_gen = gen;
        if (n->pending != NULL)
            pending_check(n);
        if (n->ev && n->ev->on_tip)
            n->ev->on_tip(n->ev_ctx, &tip, idle);
    }
    if (refused) {
        node_alert(n, NODE_ALERT_CRITICAL, "block_invalid", rheight, NULL, NULL,
                   "block %llu refused, following stopped: %s", (unsigned long long)rheight, rmsg);
        if (n->ev && n->ev->on_refused)
            n->ev->on_refused(n->ev_ctx, rheight, rmsg);
    }
}

static void
deliver(struct node *n)
{
    struct jobq q;
    struct job *j;

    pthread_mutex_lock(&n->mu);
    q = n->doneq;
    memset(&n->doneq, 0, sizeof(n->doneq));
    pthread_mutex_unlock(&n->mu);
    while ((j = q_pop(&q)) != NULL) {
        j->fn(j->arg, &j->res);
        job_free(j);
    }
    notify(n);
}

static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
    deliver(arg);
}

static void
refuse(struct node_result *r, int rc, const char *msg)
{
    r->rc = rc;
    snprintf(r->message, sizeof(r->message), "%s", msg);
}

/* ------------------------------------------------------------------ workers */

/* Sign or verify one job. Returns 1 if it goes on to the sequencer, 0 if it was refused. */
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
            rc = ledger_keys_verify_tx(&j->tx, j->txid, &err);
        }
    } else {
        const struct ledger_key *k = &n->op_key;

        if (j->tx.type == LEDGER_TX_DIRECTIVE || j->tx.type == LEDGER_TX_ATTESTATION) {
            if (!n->has_reg_key) {
                j->res.rc = SBX_EDENIED;
                snprintf(j->res.message, sizeof(j->res.message),
                         "this node holds no regulator key: submit a directive signed by "
                         "regulators with submitrawtx");
                complete_one(n, j);
                return 0;
            }
            k = &n->reg_key;
        }
        rc = ledger_keys_sign_tx(&j->tx, k, j->txid, &err);
        rc = rc ? rc : ledger_tx_encode(&j->tx, &j->enc, &err);
    }
    if (rc) {
        j->res.rc = rc;
        snprintf(j->res.message, sizeof(j->res.message), "%.190s", err.msg);
        complete_one(n, j);
        return 0;
    }
    memcpy(j->res.txid, j->txid, 32);
    return 1;
}

/* Workers take jobs in small batches (a share of what waits, at most WORKER_BATCH) and hand
 * them on with one lock and at most one wake-up: under load, thread switches and futex calls
 * otherwise cost as much as the signatures. */
#define WORKER_BATCH 32

static void *
worker_main(void *arg)
{
    struct node *n = arg;

    for (;;) {
        struct jobq take = {0}, done = {0};
        struct job *j;
        size_t share;

        pthread_mutex_lock(&n->mu);
        while (n->workq.head == NULL && !n->stop_workers) {
            /* the waker takes us off the idle count when it signals, so that a burst of
             * submissions wakes each idle worker once, not once per submission */
            n->idle_workers++;
            pthread_cond_wait(&n->work_cv, &n->mu);
        }
        share = n->workq.n / (size_t)n->nworkers;
        share = share < 1 ? 1 : share > WORKER_BATCH ? WORKER_BATCH : share;
        while (share-- > 0 && n->workq.head)
            q_push(&take, q_pop(&n->workq));
        if (n->workq.head && n->idle_workers) {
            n->idle_workers--;
            pthread_cond_signal(&n->work_cv); /* more than our share: wake a peer */
        }
        pthread_mutex_unlock(&n->mu);
        if (take.head == NULL)
            return NULL; /* stopping and nothing left */
        while ((j = q_pop(&take)) != NULL)
            if (work(n, j))
                q_push(&done, j);
        if (done.head) {
            pthread_mutex_lock(&n->mu);
            q_append(&n->seqq, &done);
            if (n->seq_waiting) {
                n->seq_waiting = 0; /* one wake-up is enough */
                pthread_cond_signal(&n->seq_cv);
            }
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
    uint8_t key[2 + SBX_ID_MAX], orig[32], again[32];
    struct ledger_tx otx, cand;
    struct ledger_block b;
    struct buf raw;
    uint64_t height;
    uint32_t index;
    const char *id;
    uint8_t kind;
    size_t len;
    enum dup out = DUP_ANSWERED;

    id = job_id(&j->tx, &kind);
    if (id == NULL)
        return DUP_NONE;
    len = strnlen(id, SBX_ID_MAX);
    key[0] = LEDGER_K_IDEM;
    key[1] = kind;
    memcpy(key + 2, id, len);
    if (node_chain_find_id(n->chain, key, 2 + len, orig) != SBX_OK)
        return DUP_NONE;
    if (ledger_store_tx_location(store, orig, &height, &index, NULL) != SBX_OK)
        return DUP_WAIT;
    buf_init(&raw, LEDGER_BLOCK_MAX_SIZE);
    if (ledger_store_get_block(store, height, &raw, NULL) != SBX_OK ||
        ledger_block_decode(&b, raw.data, raw.len, NULL) != SBX_OK) {
        buf_release(&raw);
        refuse(&j->res, SBX_EINTERNAL, "reading the first submission failed");
        return DUP_ANSWERED;
    }
    if (index >= b.ntx ||
        ledger_tx_decode(&otx, b.entries[index].tx, b.entries[index].tx_len, NULL, NULL)) {
        refuse(&j->res, SBX_EINTERNAL, "reading the first submission failed");
        goto out;
    }
    /* same content = the same txid once signer and time are the first submission's */
    cand = j->tx;
    cand.timestamp = otx.timestamp;
    memcpy(cand.signer, otx.signer, 32);
    if (ledger_tx_id(&cand, again, NULL) != SBX_OK || memcmp(again, orig, 32) != 0) {
        j->res.rc = SBX_ECONFLICT;
        snprintf(j->res.message, sizeof(j->res.message),
                 "%s: %.64s was already used with different content",
                 kind == CMP_ID_TRADE      ? "trade_id"
                 : kind == CMP_ID_TRANSFER ? "transfer_id"
                                           : "account",
                 id);
        memcpy(j->res.txid, orig, 32);
        j->res.height = height;
    } else {
        j->res.verdict = b.entries[index].verdict;
        j->res.rc = j->res.verdict.status == LEDGER_VERDICT_ACCEPTED ? SBX_OK : SBX_EREJECTED;
        snprintf(j->res.message, sizeof(j->res.message), "%s",
                 j->res.rc ? "rejected when first submitted" : "");
        memcpy(j->res.txid, orig, 32);
        j->res.height = height;
        ledger_block_hash(&b.hdr, j->res.block_hash);
    }
    ledger_tx_release(&otx);
out:
    ledger_block_release(&b);
    buf_release(&raw);
    return out;
}

/* Give `j` its verdict in the open block, or decide it at once. Returns 1 if it joined the
 * block, 0 if it was decided (or deferred onto `deferred`). With n->state_mu held. */
static int
sequence(struct node *n, struct job *j, int64_t now, struct jobq *deferred, struct jobq *decided)
{
    struct cmp_engine *eng = node_chain_engine(n->chain);
    const struct cmp_params *p = cmp_engine_params(eng);
    int business = j->tx.type >= LEDGER_TX_ACCOUNT_OPEN && j->tx.type <= LEDGER_TX_TRADE;
    struct cmp_result cres;
    int64_t lag, skew = p->v[CMP_P_MAX_SKEW_MS];
    int rc;

    if (j->raw && (j->tx.timestamp > now + skew || j->tx.timestamp < now - skew)) {
        refuse(&j->res, SBX_EINVAL,
               "timestamp: more than time.max_skew_ms away from the node's clock");
        q_push(decided, j);
        return 0;
    }
    if (business && cmp_engine_supervision_ok(eng, now, &lag) != SBX_OK) {
        j->res.rc = SBX_EUNAVAIL;
        snprintf(j->res.message, sizeof(j->res.message),
                 "supervision.lag: regulators have not attested for %lld ms", (long long)lag);
        q_push(decided, j);
        return 0;
    }
    switch (check_duplicate(n, j)) {
    case DUP_ANSWERED:
        q_push(decided, j);
        return 0;
    case DUP_WAIT:
        q_push(deferred, j);
        return 0;
    case DUP_NONE:
        break;
    }
    rc = node_chain_add(n->chain, j->enc.data, j->enc.len, &j->tx, j->txid, &cres);
    if (rc == SBX_ETOOLONG) {
        q_push(deferred, j); /* the block is full: next block */
        return 0;
    }
    if (rc) {
        LOG_ERROR(LOG_NODE, "sequencer: %s; the node stops taking submissions", sbx_rc_name(rc));
        n->failed = 1;
        refuse(&j->res, SBX_EINTERNAL, "internal error");
        q_push(decided, j);
        return 0;
    }
    j->res.verdict = cres.verdict;
    j->res.height = node_chain_tip(n->chain)->height + 1;
    j->res.rc = cres.verdict.status == LEDGER_VERDICT_ACCEPTED ? SBX_OK : SBX_EREJECTED;
    snprintf(j->res.message, sizeof(j->res.message), "%s", cres.message);
    return 1;
}

static int
committer_idle(const struct node *n)
{
    return n->commit_head == NULL && !n->committing;
}

static void *
sequencer_main(void *arg)
{
    struct node *n = arg;
    struct jobq block = {0}, deferred = {0};
    int open = 0;
    int64_t opened_us = 0;
    uint64_t gen_seen = 0;

    for (;;) {
        struct jobq take = {0}, decided = {0};
        int seal = 0, room;

        pthread_mutex_lock(&n->mu);
        if (n->durable_gen != gen_seen && deferred.head) {
            /* a block was written: retry what waited for it, in front of newer arrivals */
            q_append(&deferred, &n->seqq);
            n->seqq = deferred;
            memset(&deferred, 0, sizeof(deferred));
        }
        gen_seen = n->durable_gen;
        for (;;) {
            int64_t age = open ? time_mono_us() - opened_us : 0;

            if (n->seqq.head && (!open || (int)block.n < n->cfg.blockmaxtxs))
                break;
            if (open && (committer_idle(n) || (int)block.n >= n->cfg.blockmaxtxs ||
                         age >= (int64_t)n->cfg.blockmaxms * 1000 || n->stop_seq))
                break;
            if (!open && n->stop_seq && deferred.head == NULL)
                break;
            if (!open && n->stop_seq && n->durable_gen != gen_seen)
                break;
            if (open) {
                struct timespec ts;
                int64_t wait_us = (int64_t)n->cfg.blockmaxms * 1000 - age;

                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += wait_us / 1000000;
                ts.tv_nsec += (wait_us % 1000000) * 1000;
                if (ts.tv_nsec >= 1000000000) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000;
                }
                n->seq_waiting = 1;
                pthread_cond_timedwait(&n->seq_cv, &n->mu, &ts);
                n->seq_waiting = 0;
            } else {
                n->seq_waiting = 1;
                pthread_cond_wait(&n->seq_cv, &n->mu);
                n->seq_waiting = 0;
            }
            if (n->durable_gen != gen_seen)
                break;
        }
        room = n->cfg.blockmaxtxs - (int)block.n;
        while (room-- > 0 && n->seqq.head)
            q_push(&take, q_pop(&n->seqq));
        if (!open && take.head == NULL && n->stop_seq && deferred.head == NULL &&
            n->seqq.head == NULL) {
            pthread_mutex_unlock(&n->mu);
            break;
        }
        pthread_mutex_unlock(&n->mu);

        if (take.head) {
            int64_t now = time_now_ms();
            struct job *j;

            pthread_mutex_lock(&n->state_mu);
            if (!open && !n->failed) {
                if (node_chain_begin(n->chain, now) != SBX_OK) {
                    n->failed = 1;
                } else {
                    open = 1;
                    opened_us = time_mono_us();
                }
            }
            while ((j = q_pop(&take)) != NULL) {
                if (n->failed) {
                    refuse(&j->res, SBX_EUNAVAIL, "the node has stopped after an error");
                    q_push(&decided, j);
                } else if (sequence(n, j, now, &deferred, &decided)) {
                    q_push(&block, j);
                }
            }
            if (open && block.n == 0) {
                node_chain_abort_empty(n->chain); /* everything was answered at the door */
                open = 0;
            }
            pthread_mutex_unlock(&n->state_mu);
        }
        pthread_mutex_lock(&n->mu);
        complete_locked(n, &decided);
        if (open) {
            int64_t age = time_mono_us() - opened_us;

            seal = committer_idle(n) || (int)block.n >= n->cfg.blockmaxtxs ||
                   age >= (int64_t)n->cfg.blockmaxms * 1000 || n->stop_seq ||
                   (deferred.head && block.n > 0);
            while (seal && n->ncommit >= MAX_SEALED_QUEUE) {
                n->seq_waiting = 1;
                pthread_cond_wait(&n->seq_cv, &n->mu); /* backpressure: the disk is behind */
                n->seq_waiting = 0;
            }
        }
        pthread_mutex_unlock(&n->mu);
        if (seal) {
            struct sealed_item *it = calloc(1, sizeof(*it));
            struct sbx_err err;
            int rc = it ? SBX_OK : SBX_ENOMEM;

            pthread_mutex_lock(&n->state_mu);
            if (rc == SBX_OK)
                rc = node_chain_seal(n->chain, &n->op_key, &it->s, &err);
            pthread_mutex_unlock(&n->state_mu);
            open = 0;
            if (rc) {
                struct job *j;

                LOG_ERROR(LOG_NODE,
                          "sealing a block failed: %s; the node stops taking "
                          "submissions",
                          rc == SBX_ENOMEM ? "out of memory" : err.msg);
                n->failed = 1;
                free(it);
                for (j = block.head; j; j = j->next)
                    refuse(&j->res, SBX_EINTERNAL, "internal error");
                pthread_mutex_lock(&n->mu);
                complete_locked(n, &block);
                pthread_mutex_unlock(&n->mu);
                continue;
            }
            for (struct job *j = block.head; j; j = j->next)
                memcpy(j->res.block_hash, it->s.tip.hash, 32);
            it->jobs = block;
            memset(&block, 0, sizeof(block));
            pthread_mutex_lock(&n->mu);
            if (n->commit_tail)
                n->commit_tail->next = it;
            else
                n->commit_head = it;
            n->commit_tail = it;
            n->ncommit++;
            pthread_cond_signal(&n->commit_cv);
            pthread_mutex_unlock(&n->mu);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ committer */

/* Writes sealed blocks in order. Every block queued when it looks is written in one commit (a
 * follower catching up queues many; the operator rarely more than one). */
static void *
committer_main(void *arg)
{
    struct node *n = arg;
    struct node_sealed **arr = NULL;
    size_t cap = 0;

    for (;;) {
        struct sealed_item *list, *it;
        struct sbx_err err;
        size_t k = 0;
        int rc;

        pthread_mutex_lock(&n->mu);
        while (n->commit_head == NULL && !n->stop_commit)
            pthread_cond_wait(&n->commit_cv, &n->mu);
        list = n->commit_head;
        if (list == NULL) {
            pthread_mutex_unlock(&n->mu);
            break;
        }
        n->commit_head = n->commit_tail = NULL;
        n->committing = 1;
        pthread_mutex_unlock(&n->mu);

        for (it = list; it; it = it->next)
            k++;
        if (k > cap) {
            void *p = realloc(arr, k * sizeof(*arr));

            if (p == NULL)
                SBX_BUG("out of memory in the committer");
            arr = p;
            cap = k;
        }
        k = 0;
        for (it = list; it; it = it->next)
            arr[k++] = &it->s;
        rc = n->failed ? SBX_EIO : node_chain_write_all(n->chain, arr, k, &err);
        if (rc) {
            if (!n->failed)
                LOG_ERROR(LOG_NODE,
                          "writing block %llu failed: %s; the node stops taking "
                          "submissions",
                          (unsigned long long)list->s.tip.height, err.msg);
            n->failed = 1;
            for (it = list; it; it = it->next)
                for (struct job *j = it->jobs.head; j; j = j->next)
                    refuse(&j->res, SBX_EIO, "the block could not be written");
        } else {
            LOG_DEBUG(LOG_STORE, "blocks %llu..%llu written (%zu)",
                      (unsigned long long)list->s.tip.height,
                      (unsigned long long)arr[k - 1]->tip.height, k);
        }
        pthread_mutex_lock(&n->mu);
        if (rc == SBX_OK)
            n->durable = arr[k - 1]->tip;
        n->durable_gen++;
        n->ncommit -= (int)k;
        n->committing = 0;
        for (it = list; it; it = it->next)
            complete_locked(n, &it->jobs);
        if (n->role != NODE_ROLE_OPERATOR)
            n->follow_idle = n->fq_head == NULL && n->commit_head == NULL && !n->applying;
        event_active(n->done_ev, EV_READ, 0); /* the loop hears of the new tip */
        pthread_cond_signal(&n->seq_cv);
        pthread_cond_broadcast(&n->follow_cv);
        pthread_mutex_unlock(&n->mu);
        while ((it = list) != NULL) {
            list = it->next;
            node_sealed_release(&it->s);
            free(it);
        }
    }
    free(arr);
    return NULL;
}

/* ------------------------------------------------------------------ following */

static void
qblock_free(struct qblock *b)
{
    ledger_block_release(&b->b);
    free(b->txids);
    free(b);
}

static void
fq_drop(struct node *n)
{
    struct qblock *b;

    while ((b = n->fq_head) != NULL) {
        n->fq_head = b->next;
        qblock_free(b);
    }
    n->fq_tail = NULL;
    n->fq_n = n->fq_bytes = 0;
}

/* The follower's applier: takes received blocks in order, validates and applies each (its
 * signature checks on the pool), and hands the sealed block to the committer. */
static void *
follow_main(void *arg)
{
    struct node *n = arg;

    for (;;) {
        struct sealed_item *it;
        struct qblock *b;
        struct sbx_err err;
        int rc;

        pthread_mutex_lock(&n->mu);
        while ((n->fq_head == NULL || n->fq_head->slices_done < n->fq_head->nslices ||
                n->ncommit >= FOLLOW_SEALED_MAX) &&
               !n->stop_follow)
            pthread_cond_wait(&n->follow_cv, &n->mu);
        if (n->stop_follow) {
            pthread_mutex_unlock(&n->mu);
            break;
        }
        b = n->fq_head;
        n->fq_head = b->next;
        if (n->fq_head == NULL)
            n->fq_tail = NULL;
        n->fq_n--;
        n->fq_bytes -= b->len;
        n->applying = 1;
        if (b->height % 500 == 0)
            LOG_DEBUG(LOG_NODE, "applying block %llu: %zu more queued, %d sealed unwritten",
                      (unsigned long long)b->height, n->fq_n, n->ncommit);
        pthread_mutex_unlock(&n->mu);

        sbx_err_clear(&err);
        it = calloc(1, sizeof(*it));
        pthread_mutex_lock(&n->state_mu);
        if (b->bad != SIZE_MAX)
            rc = sbx_err_set(&err, SBX_ECORRUPT, "block %llu%s", (unsigned long long)b->height,
                             b->bad_msg);
        else if (it == NULL)
            rc = sbx_err_set(&err, SBX_ENOMEM, "out of memory");
        else
            rc = node_chain_apply(
                n->chain, b->data, b->len,
                &(struct node_chain_apply_opts){
                    .decoded = &b->b, .txids = (const uint8_t(*)[32])b->txids, .seal_into = &it->s},
                &err);
        if (rc) {
            struct sbx_err e2;

            /* the engine may hold part of the refused block: rebuild it from the store once
             * every block before it is written */
            pthread_mutex_lock(&n->mu);
            while (n->commit_head != NULL || n->committing)
                pthread_cond_wait(&n->follow_cv, &n->mu);
            pthread_mutex_unlock(&n->mu);
            if (node_chain_reload(n->chain, &e2) != SBX_OK)
                LOG_ERROR(LOG_NODE, "cannot reload the state after a refused block: %s", e2.msg);
        }
        pthread_mutex_unlock(&n->state_mu);

        pthread_mutex_lock(&n->mu);
        n->applying = 0;
        if (rc) {
            LOG_ERROR(LOG_NODE, "block %llu refused: %s; this node stops following",
                      (unsigned long long)b->height, err.msg);
            n->follow_stopped = 1;
            n->refused_height = b->height;
            snprintf(n->refused_msg, sizeof(n->refused_msg), "%s", err.msg);
            fq_drop(n);
            n->follow_idle = n->commit_head == NULL && !n->committing;
            event_active(n->done_ev, EV_READ, 0);
            free(it);
        } else {
            if (n->commit_tail)
                n->commit_tail->next = it;
            else
                n->commit_head = it;
            n->commit_tail = it;
            n->ncommit++;
            pthread_cond_signal(&n->commit_cv);
        }
        pthread_cond_broadcast(&n->verify_cv); /* room ahead for the verifiers */
        pthread_mutex_unlock(&n->mu);
        qblock_free(b);
    }
    return NULL;
}

/* The verifiers: the signature checks of queued blocks, ahead of the applier. */
static void *
verifier_main(void *arg)
{
    struct node *n = arg;

    pthread_mutex_lock(&n->mu);
    for (;;) {
        struct qblock *b = NULL;
        struct sbx_err err;
        size_t k, from, to, bad = SIZE_MAX, ahead = 0;
        int rc;

        while (!n->stop_follow) {
            for (b = n->fq_head; b && ahead < VERIFY_AHEAD; b = b->next, ahead++)
                if (b->next_slice < b->nslices)
                    break;
            if (b && ahead < VERIFY_AHEAD)
                break;
            b = NULL;
            ahead = 0;
            pthread_cond_wait(&n->verify_cv, &n->mu);
        }
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
        if (rc) {
            size_t at = bad == SIZE_MAX ? 0 : bad;

            /* keep the first failure by position (the header counts as first) */
            if (b->bad == SIZE_MAX || at < b->bad) {
                b->bad = at;
                if (bad == SIZE_MAX)
                    snprintf(b->bad_msg, sizeof(b->bad_msg), ": %.200s", err.msg);
                else
                    snprintf(b->bad_msg, sizeof(b->bad_msg), " tx %zu: %.200s", bad, err.msg);
            }
        }
        if (++b->slices_done == b->nslices && b == n->fq_head)
            pthread_cond_broadcast(&n->follow_cv);
    }
    pthread_mutex_unlock(&n->mu);
    return NULL;
}

int
node_follow_block(struct node *n, const uint8_t *raw, size_t len)
{
    struct ledger_block_header h;
    struct qblock *b;
    int rc = SBX_OK;

    if (n->role == NODE_ROLE_OPERATOR)
        return SBX_EDENIED;
    if (len < LEDGER_HEADER_SIZE || ledger_block_header_decode(&h, raw, LEDGER_HEADER_SIZE, NULL))
        return SBX_EINVAL;
    b = calloc(1, sizeof(*b) + len);
    if (b == NULL)
        return SBX_ENOMEM;
    b->height = h.height;
    ledger_block_hash(&h, b->hash);
    b->len = len;
    memcpy(b->data, raw, len);
    if (ledger_block_decode(&b->b, b->data, len, NULL) != SBX_OK) {
        free(b);
        return SBX_ECORRUPT;
    }
    b->txids = malloc((b->b.ntx ? b->b.ntx : 1) * 32);
    if (b->txids == NULL) {
        qblock_free(b);
        return SBX_ENOMEM;
    }
    b->nslices = b->b.ntx < 2 * VERIFY_SLICE ? 1 : b->b.ntx / VERIFY_SLICE;
    b->bad = SIZE_MAX;
    pthread_mutex_lock(&n->mu);
    if (n->follow_stopped)
        rc = SBX_EUNAVAIL;
    else if (h.height != n->fq_next)
        rc = SBX_EINVAL;
    else if (n->fq_bytes > 0 && n->fq_bytes + len > FOLLOW_QUEUE_MAX_BYTES)
        rc = SBX_EOVERLOAD;
    if (rc == SBX_OK) {
        if (n->fq_tail)
            n->fq_tail->next = b;
        else
            n->fq_head = b;
        n->fq_tail = b;
        n->fq_n++;
        n->fq_bytes += len;
        n->fq_next++;
        n->recent[h.height % FOLLOW_RECENT].height1 = h.height + 1;
        memcpy(n->recent[h.height % FOLLOW_RECENT].hdr, raw, LEDGER_HEADER_SIZE);
        n->follow_idle = 0;
        pthread_cond_broadcast(&n->verify_cv);
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
    h = n->fq_next;
    pthread_mutex_unlock(&n->mu);
    return h;
}

int
node_follow_queued_hash(struct node *n, uint64_t height, uint8_t hash[static 32],
                        struct buf *header)
{
    struct ledger_block_header h;
    int found = 0;

    pthread_mutex_lock(&n->mu);
    if (n->recent[height % FOLLOW_RECENT].height1 == height + 1 &&
        ledger_block_header_decode(&h, n->recent[height % FOLLOW_RECENT].hdr, LEDGER_HEADER_SIZE,
                                   NULL) == SBX_OK) {
        ledger_block_hash(&h, hash);
        found = 1;
        if (header) {
            buf_reset(header);
            found = buf_put(header, n->recent[height % FOLLOW_RECENT].hdr, LEDGER_HEADER_SIZE) ==
                    SBX_OK;
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
    f = !n->follow_stopped;
    pthread_mutex_unlock(&n->mu);
    return f;
}

void
node_stop_following(struct node *n, const char *why)
{
    pthread_mutex_lock(&n->mu);
    if (!n->follow_stopped) {
        LOG_ERROR(LOG_NODE, "this node stops following: %s", why);
        n->follow_stopped = 1;
        n->refused_reported = 1; /* the caller raises its own alert */
        fq_drop(n);
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
    rc = ledger_keys_sign_tx(&tx, &n->reg_key, txid, err);
    return rc ? rc : ledger_tx_encode(&tx, out, err);
}

/* ------------------------------------------------------------------ directives relayed */

static void
pending_finish(struct node *n, struct pending_dir *p, struct node_result *r)
{
    memcpy(r->txid, p->txid, 32);
    p->fn(p->arg, r);
    free(p);
}

/* Relayed directives that have reached a block: answer them (event loop). */
static void
pending_check(struct node *n)
{
    struct ledger_store *store = node_chain_store(n->chain);
    struct pending_dir **pp = &n->pending;

    while (*pp != NULL) {
        struct pending_dir *p = *pp;
        struct node_result r;
        struct ledger_block b;
        struct buf raw;
        uint64_t height;
        uint32_t index;

        if (ledger_store_tx_location(store, p->txid, &height, &index, NULL) != SBX_OK) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        memset(&r, 0, sizeof(r));
        buf_init(&raw, LEDGER_BLOCK_MAX_SIZE);
        if (ledger_store_get_block(store, height, &raw, NULL) != SBX_OK ||
            ledger_block_decode(&b, raw.data, raw.len, NULL) != SBX_OK) {
            refuse(&r, SBX_EINTERNAL, "reading the block that holds the directive failed");
        } else {
            if (index < b.ntx)
                r.verdict = b.entries[index].verdict;
            r.height = height;
            ledger_block_hash(&b.hdr, r.block_hash);
            r.rc = r.verdict.status == LEDGER_VERDICT_ACCEPTED ? SBX_OK : SBX_EREJECTED;
            if (r.rc)
                snprintf(r.message, sizeof(r.message), "the rules rejected the directive");
            ledger_block_release(&b);
        }
        buf_release(&raw);
        pending_finish(n, p, &r);
    }
}

/* Relayed directives that did not reach a block in time (event loop, every second). */
static void
pending_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct node *n = arg;
    struct pending_dir **pp = &n->pending;
    int64_t now = time_now_ms();

    while (*pp != NULL) {
        struct pending_dir *p = *pp;
        struct node_result r;
        char hex[65];

        if (p->deadline_ms > now) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        hex_encode(hex, p->txid, 32);
        node_alert(n, NODE_ALERT_WARNING, "directive_timeout", 0, NULL, NULL,
                   "directive %s was not included by the operator in time", hex);
        memset(&r, 0, sizeof(r));
        refuse(&r, SBX_EUNAVAIL,
               "the operator did not include the directive within "
               "supervision.directive_timeout_s");
        pending_finish(n, p, &r);
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
        refuse_now(fn, arg, SBX_EUNAVAIL, "no link to the operator: the directive was not sent");
        return;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        refuse_now(fn, arg, SBX_ENOMEM, "out of memory");
        return;
    }
    pthread_mutex_lock(&n->state_mu);
    timeout_s = cmp_engine_params(node_chain_engine(n->chain))->v[CMP_P_DIRECTIVE_TIMEOUT_S];
    pthread_mutex_unlock(&n->state_mu);
    memcpy(p->txid, txid, 32);
    p->deadline_ms = time_now_ms() + timeout_s * 1000;
    p->fn = fn;
    p->arg = arg;
    p->next = n->pending;
    n->pending = p;
}

/* Submissions to a regulator or observer node: directives are relayed, the rest refused. */
static void
follower_submit(struct node *n, struct ledger_tx *tx, const uint8_t *raw_in, size_t raw_len,
                size_t ulen, node_done_fn fn, void *arg)
{
    struct sbx_err err;
    struct buf enc;
    uint8_t txid[32];
    int rc;

    if (tx->type != LEDGER_TX_DIRECTIVE) {
        refuse_now(fn, arg, SBX_EDENIED,
                   "this is a follower node: business transactions go to the operator");
        return;
    }
    if (n->role != NODE_ROLE_REGULATOR) {
        refuse_now(fn, arg, SBX_EDENIED,
                   "this is an observer node: directives go to a regulator node or the operator");
        return;
    }
    buf_init(&enc, SBX_TX_MAX_SIZE);
    sbx_err_clear(&err);
    if (raw_in != NULL) {
        ledger_tx_id_raw(txid, raw_in, ulen);
        rc = buf_put(&enc, raw_in, raw_len);
        rc = rc ? rc : ledger_keys_verify_tx(tx, txid, &err);
    } else if (!n->has_reg_key) {
        rc = sbx_err_set(&err, SBX_EDENIED, "this node holds no regulator key");
    } else {
        tx->version = LEDGER_TX_VERSION;
        tx->timestamp = time_now_ms();
        rc = ledger_keys_sign_tx(tx, &n->reg_key, txid, &err);
        rc = rc ? rc : ledger_tx_encode(tx, &enc, &err);
    }
    if (rc)
        refuse_now(fn, arg, rc, err.msg);
    else
        relay_directive(n, enc.data, enc.len, txid, fn, arg);
    buf_release(&enc);
}

/* ------------------------------------------------------------------ submit */

static struct job *
job_new(struct node *n, node_done_fn fn, void *arg)
{
    struct job *j = calloc(1, sizeof(*j));

    if (j == NULL)
        return NULL;
    buf_init(&j->enc, SBX_TX_MAX_SIZE);
    j->fn = fn;
    j->arg = arg;
    return j;
}

/* Refuse on the spot (called on the event loop: the callback runs now). */
static void
refuse_now(node_done_fn fn, void *arg, int rc, const char *msg)
{
    struct node_result r;

    memset(&r, 0, sizeof(r));
    r.rc = rc;
    snprintf(r.message, sizeof(r.message), "%.190s", msg);
    fn(arg, &r);
}

static int
admit(struct node *n, node_done_fn fn, void *arg)
{
    int rc = SBX_OK;

    pthread_mutex_lock(&n->mu);
    if (n->stopping || n->failed)
        rc = SBX_EUNAVAIL;
    else if (n->inflight >= (size_t)n->cfg.queue_max)
        rc = SBX_EOVERLOAD;
    else
        n->inflight++;
    pthread_mutex_unlock(&n->mu);
    if (rc == SBX_EUNAVAIL)
        refuse_now(fn, arg, rc,
                   n->failed ? "the node has stopped after an error" : "the node is shutting down");
    else if (rc == SBX_EOVERLOAD)
        refuse_now(fn, arg, rc, "the submission queue is full; retry later");
    return rc;
}

static void
enqueue(struct node *n, struct job *j)
{
    pthread_mutex_lock(&n->mu);
    q_push(&n->workq, j);
    if (n->idle_workers) {
        n->idle_workers--;
        pthread_cond_signal(&n->work_cv);
    }
    pthread_mutex_unlock(&n->mu);
}

void
node_submit(struct node *n, const struct ledger_tx *tx, node_done_fn fn, void *arg)
{
    struct job *j;

    if (tx->type == LEDGER_TX_GENESIS) {
        refuse_now(fn, arg, SBX_EINVAL, "type: a genesis transaction cannot be submitted");
        return;
    }
    if (n->role != NODE_ROLE_OPERATOR) {
        struct ledger_tx t = *tx;

        follower_submit(n, &t, NULL, 0, 0, fn, arg);
        return;
    }
    if (admit(n, fn, arg) != SBX_OK)
        return;
    j = job_new(n, fn, arg);
    if (j == NULL) {
        pthread_mutex_lock(&n->mu);
        n->inflight--;
        pthread_mutex_unlock(&n->mu);
        refuse_now(fn, arg, SBX_ENOMEM, "out of memory");
        return;
    }
    j->tx = *tx;
    j->tx.version = LEDGER_TX_VERSION;
    j->tx.timestamp = time_now_ms();
    enqueue(n, j);
}

void
node_submit_raw(struct node *n, const uint8_t *raw, size_t len, node_done_fn fn, void *arg)
{
    struct job *j;

    if (len > SBX_TX_MAX_SIZE) {
        refuse_now(fn, arg, SBX_ETOOLONG, "hex: transaction larger than its maximum size");
        return;
    }
    if (n->role != NODE_ROLE_OPERATOR) {
        struct ledger_tx tx;
        struct sbx_err err;
        size_t ulen;
        int rc = ledger_tx_decode(&tx, raw, len, &ulen, &err);

        if (rc) {
            refuse_now(fn, arg, rc, err.msg);
            return;
        }
        follower_submit(n, &tx, raw, len, ulen, fn, arg);
        ledger_tx_release(&tx);
        return;
    }
    if (admit(n, fn, arg) != SBX_OK)
        return;
    j = job_new(n, fn, arg);
    if (j == NULL || buf_put(&j->enc, raw, len) != SBX_OK) {
        if (j)
            job_free(j);
        pthread_mutex_lock(&n->mu);
        n->inflight--;
        pthread_mutex_unlock(&n->mu);
        refuse_now(fn, arg, SBX_ENOMEM, "out of memory");
        return;
    }
    j->raw = 1;
    enqueue(n, j);
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

/* ------------------------------------------------------------------ open / close */

static int
join_path(char *out, size_t cap, const char *a, const char *b)
{
    int k = snprintf(out, cap, "%s/%s", a, b);

    return k < 0 || (size_t)k >= cap ? SBX_ETOOLONG : SBX_OK;
}

/* The devnet's house account, opened in its own block at first start. */
static int
open_house_account(struct node *n, struct sbx_err *err)
{
    struct cmp_engine *eng = node_chain_engine(n->chain);
    const char *house = cmp_engine_params(eng)->house_account;
    struct ledger_tx tx;
    struct node_sealed s;
    struct cmp_result res;
    struct buf enc;
    uint8_t txid[32];
    int rc;

    if (house[0] == '\0' || ledger_state_get(cmp_engine_state(eng), house) != NULL)
        return SBX_OK;
    ledger_tx_init(&tx, LEDGER_TX_ACCOUNT_OPEN);
    snprintf(tx.u.account_open.account, sizeof(tx.u.account_open.account), "%s", house);
    tx.u.account_open.kyc_tier = 3;
    tx.u.account_open.investor_class = LEDGER_CLASS_DOMESTIC_ORG;
    memcpy(tx.u.account_open.country, "VN", 3);
    sha256(tx.u.account_open.kyc_ref, house, strlen(house));
    sha256(tx.u.account_open.bank_ref, house, strlen(house));
    tx.timestamp = time_now_ms();
    buf_init(&enc, SBX_TX_MAX_SIZE);
    memset(&s, 0, sizeof(s));
    rc = ledger_keys_sign_tx(&tx, &n->op_key, txid, err);
    rc = rc ? rc : ledger_tx_encode(&tx, &enc, err);
    rc = rc ? rc : node_chain_begin(n->chain, tx.timestamp);
    rc = rc ? rc : node_chain_add(n->chain, enc.data, enc.len, &tx, txid, &res);
    rc = rc ? rc : node_chain_seal(n->chain, &n->op_key, &s, err);
    rc = rc ? rc : node_chain_write(n->chain, &s, err);
    if (rc == SBX_OK && res.verdict.status != LEDGER_VERDICT_ACCEPTED)
        rc = sbx_err_set(err, SBX_EINTERNAL, "devnet: the house account was refused (%s)",
                         cmp_rule_name(res.verdict.rule));
    node_sealed_release(&s);
    buf_release(&enc);
    return rc;
}

/* ------------------------------------------------------------------ verifychain */

struct verify_job {
    struct node *n;
    uint64_t from, to;
    node_verify_fn fn;
    void *arg;
    pthread_t thr;
    struct event *done;
    struct node_verify_result res;
};

static void *
verify_main(void *arg)
{
    struct verify_job *v = arg;
    struct sbx_err err;

    sbx_err_clear(&err);
    v->res.rc = node_verify(v->n, v->from, v->to, &v->res.checked, &v->res.failed_at, &err);
    snprintf(v->res.message, sizeof(v->res.message), "%s", err.msg);
    event_active(v->done, EV_TIMEOUT, 0);
    return NULL;
}

/* On the event loop once the thread is done (or from node_close). */
static void
verify_finish(struct node *n)
{
    struct verify_job *v = n->verify;

    if (v == NULL)
        return;
    pthread_join(v->thr, NULL);
    n->verify = NULL;
    event_free(v->done);
    v->fn(v->arg, &v->res);
    free(v);
}

static void
verify_done_cb(evutil_socket_t fd, short what, void *arg)
{
    verify_finish(arg);
}

void
node_verify_async(struct node *n, uint64_t from, uint64_t to, node_verify_fn fn, void *arg)
{
    struct node_verify_result r;
    struct verify_job *v;

    memset(&r, 0, sizeof(r));
    if (n->verify != NULL || n->stopping) {
        r.rc = SBX_EUNAVAIL;
        snprintf(r.message, sizeof(r.message), "%s",
                 n->stopping ? "the node is shutting down"
                             : "a verifychain is already running; retry when it has finished");
        fn(arg, &r);
        return;
    }
    v = calloc(1, sizeof(*v));
    if (v != NULL)
        v->done = event_new(n->base, -1, 0, verify_done_cb, n);
    if (v == NULL || v->done == NULL) {
        free(v);
        r.rc = SBX_ENOMEM;
        snprintf(r.message, sizeof(r.message), "out of memory");
        fn(arg, &r);
        return;
    }
    v->n = n;
    v->from = from;
    v->to = to;
    v->fn = fn;
    v->arg = arg;
    n->verify = v;
    if (pthread_create(&v->thr, NULL, verify_main, v) != 0) {
        n->verify = NULL;
        event_free(v->done);
        free(v);
        r.rc = SBX_EINTERNAL;
        snprintf(r.message, sizeof(r.message), "cannot start a thread");
        fn(arg, &r);
    }
}

static void node_free(struct node *n);

/* A key file: SBX_OK loaded, SBX_ENOTFOUND absent, else the error (bad mode, bad content). */
static int
load_key(struct ledger_key *k, const char *path, struct sbx_err *err)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return SBX_ENOTFOUND;
    return ledger_keys_load(k, path, err);
}

/* Load or make a key file. */
static int
load_or_make_key(struct ledger_key *k, const char *dir, const char *path, struct sbx_err *err)
{
    int rc = load_key(k, path, err);

    if (rc != SBX_ENOTFOUND)
        return rc;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return sbx_err_set(err, SBX_EIO, "cannot create %s: %s", dir, strerror(errno));
    rc = ledger_keys_generate(k);
    return rc ? sbx_err_set(err, rc, "cannot generate a key") : ledger_keys_save(k, path, err);
}

int
node_genkey(const char *datadir, uint8_t pub[static 32], struct sbx_err *err)
{
    char keys[4096], rkey[4096];
    struct ledger_key k;
    int rc;

    if (ledger_keys_global_init() != SBX_OK)
        return sbx_err_set(err, SBX_EINTERNAL, "cannot create the signature context");
    if (join_path(keys, sizeof(keys), datadir, "keys") ||
        join_path(rkey, sizeof(rkey), keys, "regulator.key"))
        return sbx_err_set(err, SBX_ETOOLONG, "datadir: path too long");
    rc = load_or_make_key(&k, keys, rkey, err);
    if (rc == SBX_OK)
        memcpy(pub, k.pubkey, 32);
    ledger_keys_wipe(&k);
    return rc;
}

/* A follower's first start: the chain from the network's genesis block (a hex file). */
static int
create_from_genesis_file(const char *ledger, const char *path, struct sbx_err *err)
{
    FILE *f = fopen(path, "r");
    struct buf hex, bin;
    int c, rc = SBX_OK;

    if (f == NULL)
        return sbx_err_set(err, SBX_EIO, "-genesis: cannot open %s: %s", path, strerror(errno));
    buf_init(&hex, 2 * (size_t)LEDGER_BLOCK_MAX_SIZE);
    buf_init(&bin, LEDGER_BLOCK_MAX_SIZE);
    while (rc == SBX_OK && (c = fgetc(f)) != EOF) {
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        rc = buf_put(&hex, &(uint8_t){(uint8_t)c}, 1);
    }
    if (ferror(f))
        rc = sbx_err_set(err, SBX_EIO, "-genesis: cannot read %s", path);
    else if (rc)
        rc = sbx_err_set(err, SBX_ETOOLONG, "-genesis: %s is larger than a block", path);
    fclose(f);
    if (rc == SBX_OK &&
        (hex.len == 0 || hex.len % 2 != 0 || buf_reserve(&bin, hex.len / 2) != SBX_OK ||
         hex_decode(bin.data, hex.len / 2, (const char *)hex.data, hex.len) != SBX_OK))
        rc = sbx_err_set(err, SBX_EINVAL, "-genesis: %s does not hold a block in hex", path);
    if (rc == SBX_OK) {
        bin.len = hex.len / 2;
        rc = node_chain_create(ledger, bin.data, bin.len, err);
        if (rc == SBX_OK)
            LOG_INFO(LOG_NODE, "created the chain from the genesis block in %s", path);
    }
    buf_release(&hex);
    buf_release(&bin);
    return rc;
}

static void alerts_load(struct node *n);

int
node_open(struct node **out, const struct node_config *cfg, struct event_base *base,
          struct sbx_err *err)
{
    char ledger[4096], keys[4096], okey[4096], rkey[4096], nkey[4096];
    struct stat st;
    struct node *n;
    long cores;
    int rc, has_op = 0;

    *out = NULL;
    rc = ledger_keys_global_init();
    if (rc == SBX_OK)
        rc = sha256_global_init();
    if (rc)
        return sbx_err_set(err, rc, "crypto libraries failed to initialise");
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    n->cfg = *cfg;
    n->base = base;
    pthread_mutex_init(&n->state_mu, NULL);
    pthread_mutex_init(&n->mu, NULL);
    pthread_mutex_init(&n->alert_mu, NULL);
    pthread_cond_init(&n->work_cv, NULL);
    pthread_cond_init(&n->seq_cv, NULL);
    pthread_cond_init(&n->commit_cv, NULL);
    pthread_cond_init(&n->follow_cv, NULL);
    pthread_cond_init(&n->verify_cv, NULL);
    n->datadir = strdup(cfg->datadir ? cfg->datadir : ".");
    if (n->datadir == NULL) {
        rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
        goto fail;
    }
    if (join_path(ledger, sizeof(ledger), n->datadir, "ledger") ||
        join_path(keys, sizeof(keys), n->datadir, "keys") ||
        join_path(okey, sizeof(okey), keys, "operator.key") ||
        join_path(rkey, sizeof(rkey), keys, "regulator.key") ||
        join_path(nkey, sizeof(nkey), keys, "node.key")) {
        rc = sbx_err_set(err, SBX_ETOOLONG, "datadir: path too long");
        goto fail;
    }
    if (cfg->devnet) {
        rc = node_devnet_init(n->datadir, cfg->devnet_now_ms ? cfg->devnet_now_ms : time_now_ms(),
                              cfg->devnet_regulators, cfg->ndevnet_regulators, err);
        if (rc)
            goto fail;
    } else if (stat(ledger, &st) != 0 && cfg->genesis_path != NULL) {
        rc = create_from_genesis_file(ledger, cfg->genesis_path, err);
        if (rc)
            goto fail;
    }
    if (stat(ledger, &st) != 0) {
        rc = sbx_err_set(err, SBX_ENOTFOUND,
                         "%s holds no chain: start with -devnet for a development network, or "
                         "give a regulator or observer node its network's genesis block with "
                         "-genesis=FILE",
                         ledger);
        goto fail;
    }
    rc = load_key(&n->op_key, okey, err);
    if (rc == SBX_OK)
        has_op = 1;
    else if (rc != SBX_ENOTFOUND)
        goto fail;
    rc = load_key(&n->reg_key, rkey, err);
    if (rc == SBX_OK)
        n->has_reg_key = 1;
    else if (rc != SBX_ENOTFOUND)
        goto fail;
    rc = node_chain_open(&n->chain, ledger, cfg->reindex, cfg->checkblocks, err);
    if (rc)
        goto fail;
    if (n->has_reg_key && !cmp_engine_is_regulator(node_chain_engine(n->chain), n->reg_key.pubkey))
        n->has_reg_key = 0;
    if (has_op) {
        if (memcmp(node_chain_genesis(n->chain)->operator_key, n->op_key.pubkey, 32) != 0) {
            rc = sbx_err_set(err, SBX_EDENIED,
                             "%s is not the operator key of this chain's genesis block", okey);
            goto fail;
        }
        n->role = NODE_ROLE_OPERATOR;
    } else if (n->has_reg_key) {
        n->role = NODE_ROLE_REGULATOR;
    } else if (load_key(&n->reg_key, rkey, NULL) == SBX_OK) {
        rc = sbx_err_set(err, SBX_EDENIED,
                         "%s is not a regulator key of this chain's genesis block (and there is "
                         "no operator key)",
                         rkey);
        goto fail;
    } else {
        rc = load_or_make_key(&n->obs_key, keys, nkey, err);
        if (rc)
            goto fail;
        n->role = NODE_ROLE_OBSERVER;
    }
    if (n->role == NODE_ROLE_OPERATOR) {
        rc = open_house_account(n, err);
        if (rc)
            goto fail;
    }
    alerts_load(n);
    n->durable = *node_chain_tip(n->chain);
    n->fq_next = n->durable.height + 1;
    n->follow_idle = 1;
    /* persistent, with a long timeout so that it counts as pending: it keeps the loop alive
     * while results may still arrive (a timeout just delivers nothing) */
    n->done_ev = event_new(base, -1, EV_PERSIST, done_cb, n);
    if (n->done_ev == NULL || event_add(n->done_ev, &(struct timeval){3600, 0}) != 0) {
        rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
        goto fail;
    }
    cores = sysconf(_SC_NPROCESSORS_ONLN);
    n->nworkers = cfg->workers > 0 ? cfg->workers : (cores > 0 ? (int)cores : 2);
    /* verifychain (and -reindex) check a block's signatures on nworkers threads */
    if (par_pool_new(&n->pool, n->nworkers - 1) != SBX_OK) {
        rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
        goto fail;
    }
    node_chain_set_pool(n->chain, n->pool);
    if (n->role == NODE_ROLE_OPERATOR) {
        n->workers = calloc((size_t)n->nworkers, sizeof(*n->workers));
        if (n->workers == NULL) {
            rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
            goto fail;
        }
        for (int i = 0; i < n->nworkers; i++)
            if (pthread_create(&n->workers[i], NULL, worker_main, n) != 0)
                SBX_BUG("cannot start a worker thread");
        if (pthread_create(&n->seq_thr, NULL, sequencer_main, n) != 0 ||
            pthread_create(&n->commit_thr, NULL, committer_main, n) != 0)
            SBX_BUG("cannot start the sequencer or committer thread");
    } else {
        /* one verifier per core checks signatures ahead of the applier */
        n->pending_ev = event_new(base, -1, EV_PERSIST, pending_timer_cb, n);
        n->verifiers = calloc((size_t)n->nworkers, sizeof(*n->verifiers));
        if (n->pending_ev == NULL || event_add(n->pending_ev, &(struct timeval){1, 0}) != 0 ||
            n->verifiers == NULL) {
            rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
            goto fail;
        }
        for (int i = 0; i < n->nworkers; i++, n->nverifiers++)
            if (pthread_create(&n->verifiers[i], NULL, verifier_main, n) != 0)
                SBX_BUG("cannot start a verifier thread");
        if (pthread_create(&n->follow_thr, NULL, follow_main, n) != 0 ||
            pthread_create(&n->commit_thr, NULL, committer_main, n) != 0)
            SBX_BUG("cannot start the applier or committer thread");
    }
    n->threads_started = 1;
    LOG_INFO(LOG_NODE, "network %s, height %llu, role %s, %d signature threads",
             node_chain_genesis(n->chain)->network, (unsigned long long)n->durable.height,
             n->role == NODE_ROLE_OPERATOR    ? "operator"
             : n->role == NODE_ROLE_REGULATOR ? "regulator"
                                              : "observer",
             n->nworkers);
    *out = n;
    return SBX_OK;
fail:
    node_free(n);
    return rc;
}

static void
node_free(struct node *n)
{
    if (n == NULL)
        return;
    if (n->done_ev)
        event_free(n->done_ev);
    if (n->pending_ev)
        event_free(n->pending_ev);
    node_chain_close(n->chain);
    par_pool_free(n->pool);
    fq_drop(n);
    ledger_keys_wipe(&n->op_key);
    ledger_keys_wipe(&n->reg_key);
    ledger_keys_wipe(&n->obs_key);
    for (size_t i = 0; i < n->nalerts; i++)
        json_decref(n->alerts[i].obj);
    free(n->alerts);
    free(n->workers);
    free(n->verifiers);
    free(n->datadir);
    pthread_mutex_destroy(&n->state_mu);
    pthread_mutex_destroy(&n->mu);
    pthread_mutex_destroy(&n->alert_mu);
    pthread_cond_destroy(&n->work_cv);
    pthread_cond_destroy(&n->seq_cv);
    pthread_cond_destroy(&n->commit_cv);
    pthread_cond_destroy(&n->follow_cv);
    pthread_cond_destroy(&n->verify_cv);
    free(n);
}

void
node_close(struct node *n)
{
    if (n == NULL)
        return;
    /* a running verifychain stops at its next block; its caller gets an answer */
    __atomic_store_n(&n->verify_cancel, 1, __ATOMIC_RELAXED);
    verify_finish(n);
    if (n->threads_started) {
        /* stage by stage, so that each stage's input is complete before it stops */
        pthread_mutex_lock(&n->mu);
        n->stopping = 1;
        n->stop_workers = 1;
        n->stop_follow = 1;
        pthread_cond_broadcast(&n->work_cv);
        pthread_cond_broadcast(&n->follow_cv);
        pthread_cond_broadcast(&n->verify_cv);
        pthread_mutex_unlock(&n->mu);
        if (n->role == NODE_ROLE_OPERATOR) {
            for (int i = 0; i < n->nworkers; i++)
                pthread_join(n->workers[i], NULL);
            pthread_mutex_lock(&n->mu);
            n->stop_seq = 1;
            pthread_cond_broadcast(&n->seq_cv);
            pthread_mutex_unlock(&n->mu);
            pthread_join(n->seq_thr, NULL);
        } else {
            for (int i = 0; i < n->nverifiers; i++)
                pthread_join(n->verifiers[i], NULL);
            pthread_join(n->follow_thr, NULL);
        }
        pthread_mutex_lock(&n->mu);
        n->stop_commit = 1;
        pthread_cond_broadcast(&n->commit_cv);
        pthread_mutex_unlock(&n->mu);
        pthread_join(n->commit_thr, NULL);
        {
            struct sbx_err err;

            /* every block is written: the state too, so that the next start replays nothing */
            pthread_mutex_lock(&n->state_mu);
            if (!n->failed && node_chain_checkpoint(n->chain, &err) != SBX_OK)
                LOG_ERROR(LOG_NODE,
                          "writing the state checkpoint at stop failed: %s (the next "
                          "start replays the blocks after the last one)",
                          err.msg);
            pthread_mutex_unlock(&n->state_mu);
        }
        deliver(n);
        while (n->pending != NULL) {
            struct pending_dir *p = n->pending;
            struct node_result r;

            n->pending = p->next;
            memset(&r, 0, sizeof(r));
            refuse(&r, SBX_EUNAVAIL, "the node is shutting down");
            pending_finish(n, p, &r);
        }
        LOG_INFO(LOG_NODE, "stopped at height %llu", (unsigned long long)n->durable.height);
    }
    node_free(n);
}

/* ------------------------------------------------------------------ alerts */

/* Node alerts live in the store beside the chain, under 'M' 'A' u64 seq (never in a block's
 * batch and never in the state digest: they are what this node saw, not ledger state). */
#define ALERT_KEY_LEN 10

static int
alert_load_cb(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct node *n = ctx;
    json_t *o = json_loadb((const char *)val, vlen, 0, NULL);
    json_t *jt = o ? json_object_get(o, "time") : NULL;
    json_t *js = o ? json_object_get(o, "severity") : NULL;

    if (o == NULL || !json_is_object(o))
        return 0;
    if (n->nalerts == n->alerts_alloc) {
        size_t alloc = n->alerts_alloc ? 2 * n->alerts_alloc : 16;
        void *p = realloc(n->alerts, alloc * sizeof(*n->alerts));

        if (p == NULL) {
            json_decref(o);
            return 1;
        }
        n->alerts = p;
        n->alerts_alloc = alloc;
    }
    n->alerts[n->nalerts].obj = o;
    n->alerts[n->nalerts].time_ms = json_integer_value(jt);
    n->alerts[n->nalerts].sev =
        js && strcmp(json_string_value(js) ? json_string_value(js) : "", "critical") == 0
            ? NODE_ALERT_CRITICAL
            : NODE_ALERT_WARNING;
    n->nalerts++;
    return 0;
}

static void
alerts_load(struct node *n)
{
    static const uint8_t prefix[2] = {LEDGER_K_META, 'A'};

    if (ledger_store_scan(node_chain_store(n->chain), prefix, 2, NULL, 0, 0, alert_load_cb, n,
                          NULL) != SBX_OK)
        LOG_WARN(LOG_NODE, "cannot read the node alerts kept in the store");
}

void
node_alert(struct node *n, enum node_alert_severity sev, const char *kind, uint64_t height,
           const uint8_t *peer, json_t *proof, const char *fmt, ...)
{
    char msg[512], hex[65];
    uint8_t key[ALERT_KEY_LEN];
    int64_t now = time_now_ms();
    json_t *o = json_object();
    char *text = NULL;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (sev == NODE_ALERT_CRITICAL)
        LOG_ERROR(LOG_NODE, "CRITICAL ALERT (%s): %s", kind, msg);
    else
        LOG_WARN(LOG_NODE, "alert (%s): %s", kind, msg);
    pthread_mutex_lock(&n->alert_mu);
    if (o != NULL && n->nalerts == n->alerts_alloc) {
        size_t alloc = n->alerts_alloc ? 2 * n->alerts_alloc : 16;
        void *p = realloc(n->alerts, alloc * sizeof(*n->alerts));

        if (p != NULL) {
            n->alerts = p;
            n->alerts_alloc = alloc;
        }
    }
    if (o == NULL || n->nalerts == n->alerts_alloc) {
        pthread_mutex_unlock(&n->alert_mu);
        LOG_ERROR(LOG_NODE, "out of memory: the alert above is only in the log");
        json_decref(o);
        json_decref(proof);
        return;
    }
    json_object_set_new(o, "seq", json_integer((json_int_t)n->nalerts + 1));
    json_object_set_new(o, "time", json_integer(now));
    json_object_set_new(o, "severity",
                        json_string(sev == NODE_ALERT_CRITICAL ? "critical" : "warning"));
    json_object_set_new(o, "kind", json_string(kind));
    json_object_set_new(o, "message", json_string(msg));
    json_object_set_new(o, "height", json_integer((json_int_t)height));
    if (peer != NULL) {
        hex_encode(hex, peer, 32);
        json_object_set_new(o, "peer", json_string(hex));
    }
    if (proof != NULL)
        json_object_set_new(o, "proof", proof);
    n->alerts[n->nalerts].obj = o;
    n->alerts[n->nalerts].time_ms = now;
    n->alerts[n->nalerts].sev = sev;
    n->nalerts++;
    key[0] = LEDGER_K_META;
    key[1] = 'A';
    buf_store_u64(key + 2, (uint64_t)n->nalerts);
    text = json_dumps(o, JSON_COMPACT);
    pthread_mutex_unlock(&n->alert_mu);
    if (text != NULL) {
        struct ledger_store_batch *b = ledger_store_batch_new();
        struct sbx_err err;

        if (b != NULL) {
            ledger_store_batch_put(b, key, sizeof(key), text, strlen(text));
            if (ledger_store_commit(node_chain_store(n->chain), b, 1, &err) != SBX_OK)
                LOG_ERROR(LOG_NODE, "cannot keep the alert in the store: %s", err.msg);
            ledger_store_batch_free(b);
        }
        free(text);
    }
}

json_t *
node_alerts_json(struct node *n)
{
    json_t *a = json_array();

    if (a == NULL)
        return NULL;
    pthread_mutex_lock(&n->alert_mu);
    for (size_t i = 0; i < n->nalerts; i++)
        json_array_append(a, n->alerts[i].obj);
    pthread_mutex_unlock(&n->alert_mu);
    return a;
}

size_t
node_alert_count(struct node *n, enum node_alert_severity sev)
{
    size_t k = 0;

    pthread_mutex_lock(&n->alert_mu);
    for (size_t i = 0; i < n->nalerts; i++)
        k += n->alerts[i].sev == sev;
    pthread_mutex_unlock(&n->alert_mu);
    return k;
}

/* ------------------------------------------------------------------ test hooks */

#ifdef SBX_TEST_HOOKS
void
node_test_fault(struct node *n, enum node_test_fault f)
{
    pthread_mutex_lock(&n->state_mu);
    node_chain_test_fault(n->chain, f == NODE_FAULT_VERDICT ? 1 : f == NODE_FAULT_DIGEST ? 2 : 0);
    pthread_mutex_unlock(&n->state_mu);
}

int
node_test_equivocate(struct node *n, uint64_t height, struct buf *out, struct sbx_err *err)
{
    struct ledger_block b;
    struct buf raw;
    int rc;

    if (n->role != NODE_ROLE_OPERATOR)
        return sbx_err_set(err, SBX_EDENIED, "only the operator produces blocks");
    buf_init(&raw, LEDGER_BLOCK_MAX_SIZE);
    rc = ledger_store_get_block(node_chain_store(n->chain), height, &raw, err);
    rc = rc ? rc : ledger_block_decode(&b, raw.data, raw.len, err);
    if (rc == SBX_OK) {
        b.hdr.time_ms += 1; /* the same content at another time: another, validly signed block */
        rc = ledger_block_sign(&b.hdr, &n->op_key);
        buf_reset(out);
        rc = rc ? sbx_err_set(err, rc, "signing failed") : ledger_block_encode(&b, out, err);
        ledger_block_release(&b);
    }
    buf_release(&raw);
    return rc;
}
#endif

/* ------------------------------------------------------------------ accessors */

void
node_set_events(struct node *n, const struct node_events *ev, void *ctx)
{
    n->ev = ev;
    n->ev_ctx = ctx;
}

int
node_find_id(struct node *n, const uint8_t *key, size_t klen, uint8_t txid[static 32])
{
    return node_chain_lookup_id(n->chain, key, klen, txid);
}

json_t *
node_peers_json(struct node *n)
{
    if (n->ev && n->ev->peers)
        return n->ev->peers(n->ev_ctx);
    return json_array();
}

void
node_supervision_json(struct node *n, json_t *obj)
{
    if (n->ev && n->ev->supervision)
        n->ev->supervision(n->ev_ctx, obj);
}

const uint8_t *
node_genesis_hash(struct node *n)
{
    return node_chain_genesis_hash(n->chain);
}

const struct ledger_key *
node_identity(struct node *n)
{
    return n->role == NODE_ROLE_OPERATOR    ? &n->op_key
           : n->role == NODE_ROLE_REGULATOR ? &n->reg_key
                                            : &n->obs_key;
}
/* ------------------------------------------------------------------ accessors */

void
node_lock(struct node *n)
{
    pthread_mutex_lock(&n->state_mu);
}

void
node_unlock(struct node *n)
{
    pthread_mutex_unlock(&n->state_mu);
}

struct cmp_engine *
node_engine(struct node *n)
{
    return node_chain_engine(n->chain);
}

struct ledger_store *
node_store(struct node *n)
{
    return node_chain_store(n->chain);
}

void
node_tip(struct node *n, struct ledger_tip *out)
{
    pthread_mutex_lock(&n->mu);
    *out = n->durable;
    pthread_mutex_unlock(&n->mu);
}

enum node_role
node_role(struct node *n)
{
    return n->role;
}

const char *
node_network(struct node *n)
{
    return node_chain_genesis(n->chain)->network;
}

const uint8_t *
node_operator_key(struct node *n)
{
    return node_chain_genesis(n->chain)->operator_key;
}

size_t
node_queue_depth(struct node *n)
{
    size_t d;

    pthread_mutex_lock(&n->mu);
    d = n->inflight;
    pthread_mutex_unlock(&n->mu);
    return d;
}

/* Block ranges the store check takes at a time, so that a stop need not wait for all of it. */
#define VERIFY_STEP 1000

int
node_verify(struct node *n, uint64_t from, uint64_t to, uint64_t *checked, uint64_t *failed_at,
            struct sbx_err *err)
{
    uint64_t done = 0;
    int rc = SBX_OK;

    *checked = 0;
    *failed_at = 0;
    for (uint64_t a = from; a <= to && rc == SBX_OK;) {
        uint64_t b = to - a >= VERIFY_STEP ? a + VERIFY_STEP - 1 : to, k = 0;

        if (__atomic_load_n(&n->verify_cancel, __ATOMIC_RELAXED))
            return sbx_err_set(err, SBX_EUNAVAIL, "verification stopped: the node is stopping");
        rc = ledger_store_verify(node_chain_store(n->chain), a, b, &k, failed_at, err);
        done += k;
        if (rc || b == UINT64_MAX)
            break;
        a = b + 1;
        if (a > to || k == 0)
            break; /* the tip is below `to`: nothing more is stored */
    }
    *checked = done;
    if (rc)
        return rc;
    return node_chain_replay_check(n->chain, from, to, checked, failed_at, &n->verify_cancel, err);
}
