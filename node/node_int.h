/* The node's shared state, for the files of node/ that run its threads (not a public API: rpc/
 * and the rest see node.h only).
 *
 * LOCK ORDER (take them in this order, never the other way round):
 *
 *     state_mu  ->  mu
 *     alert_mu      a leaf: nothing else is locked while it is held
 *     metrics_mu    a leaf (node/metrics.c)
 *     notify_mu     a leaf (node/notify.c)
 *     sink_mu       a leaf, one per sink (node/sink.c); taken with mu held
 *
 * state_mu guards the chain's engine and open block (what node_chain_* changes or reads besides
 * the store, which is thread-safe); the committer's node_chain_write_all is the one chain call
 * made without it (chain.c keeps what the writer shares with the builder safe for that). mu
 * guards the queues between the threads and the durable tip. The follower's applier holds state_mu
 * while it waits on mu for the committer; the sequencer never takes state_mu while it holds mu.
 *
 * Threads and their files: the event loop (node.c, the node_* API, relay.c, commit.c's
 * delivery), the workers and the sequencer (pipeline.c), the committer (commit.c), the
 * follower's verifiers and applier (follower.c), the background job thread (job.c: verifychain,
 * getreport).
 *
 * Beside each field: the lock that guards it, "_Atomic", "immutable after node_open" or
 * "event-loop thread only".
 */
#ifndef SBX_NODE_NODE_INT_H
#define SBX_NODE_NODE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <jansson.h>

#include "node/chain.h"
#include "node/node.h"

struct event;
struct par_pool;

/* ------------------------------------------------------------------ jobs (operator) */

/* One submission on its way through workers, sequencer and committer. A job belongs to the one
 * queue it is on (and to whichever thread took it off a queue). */
struct job {
    STAILQ_ENTRY(job) link;
    int raw; /* submitrawtx: decode and verify instead of sign */
    struct ledger_tx tx;
    struct buf enc;
    size_t ulen;
    uint8_t txid[32];
    node_done_fn fn;
    void *arg;
    struct node_sink *sink; /* where fn is called: NULL for the node's own loop (doneq) */
    struct node_result res;
    int decided; /* the result is final (refused, or a duplicate answered from the store) */
};

/* A queue of jobs with its length. Initialise with node_pipeline_jobq_init (an empty STAILQ points
 * into its own head: a queue is moved with node_pipeline_jobq_concat, never copied). */
struct jobq {
    STAILQ_HEAD(, job) head;
    size_t n;
};

/* A sealed block and the jobs it answers, waiting for the committer. */
struct sealed_item {
    STAILQ_ENTRY(sealed_item) link;
    struct node_sealed s;
    struct jobq jobs;
};
STAILQ_HEAD(sealed_list, sealed_item);

/* ------------------------------------------------------------------ following */

/* A block received by a follower, waiting to be applied. Its signatures are checked ahead of
 * the applier by the verifier threads, in slices of about NODE_VERIFY_SLICE transactions (slice
 * 0 also checks the header's signature); the applier takes it once every slice is done. Its
 * block and data are immutable once queued; each verifier writes only its slice's txids. */
struct qblock {
    STAILQ_ENTRY(qblock) link;
    uint64_t height;
    uint8_t hash[32];
    struct ledger_block b;
    uint8_t (*txids)[32];
    size_t nslices, next_slice, slices_done; /* mu */
    size_t checked; /* mu: slices whose transactions are checked (the last one checks the roots) */
    int dropped;    /* mu: taken off the queue while a verifier still checks a slice of it: the
                       verifier that finishes the last such slice frees it */
    size_t bad;     /* mu: first failing transaction; SIZE_MAX none */
    char bad_msg[SBX_ERR_MSG_MAX]; /* mu */
    size_t len;
    uint8_t data[];
};
STAILQ_HEAD(qblock_list, qblock);

/* Headers of recently queued blocks a follower keeps (equivocation checks). */
#define NODE_FOLLOW_RECENT 1024

/* ------------------------------------------------------------------ the node */

/* The operator's pipeline: workers sign or verify, the sequencer decides (pipeline.c). */
struct node_pipeline {
    pthread_cond_t work_cv, seq_cv; /* with mu */
    struct jobq workq, seqq;        /* mu */
    size_t inflight;                /* mu: submissions admitted and not yet delivered */
    int idle_workers;               /* mu: workers waiting for work_cv */
    int seq_waiting;                /* mu: the sequencer waits for seq_cv */
    int stop_workers, stop_seq;     /* mu */
    pthread_t *workers;             /* immutable after node_open */
    pthread_t seq_thr;              /* immutable after node_open */
};

/* The committer (both roles) and the hand-over of results to the event loop (commit.c). */
struct node_commit {
    pthread_cond_t cv;         /* with mu */
    struct sealed_list queue;  /* mu: sealed blocks waiting to be written */
    int nqueued;               /* mu: sealed blocks queued or being written */
    int committing;            /* mu: the committer is writing */
    int64_t started_us;        /* mu: when that write began (time_mono_us) */
    int64_t ewma_us;           /* mu: how long a write takes, smoothed (0: none yet) */
    int stop;                  /* mu */
    struct jobq doneq;         /* mu: finished jobs the event loop delivers */
    uint64_t durable_gen;      /* mu: counts the committer's rounds */
    struct ledger_tip durable; /* mu: the durable tip */
    uint64_t notified_gen;     /* event-loop thread only */
    struct event *done_ev;     /* immutable after node_open (event_active from any thread) */
    pthread_t thr;             /* immutable after node_open */
};

/* A follower's queue, verifiers and applier (follower.c). */
struct node_follower {
    pthread_cond_t follow_cv, verify_cv; /* with mu */
    struct qblock_list queue;            /* mu */
    size_t nqueued, bytes;               /* mu */
    uint64_t next;                       /* mu: height the next queued block must have */
    int stop;                            /* mu */
    int stopped;                         /* mu: a block was refused or following was stopped */
    uint64_t refused_height;             /* mu */
    char refused_msg[SBX_ERR_MSG_MAX];   /* mu */
    int refused_reported;                /* mu */
    /* mu: headers of the blocks queued lately (queued, being applied, sealed or written): what a
     * block at a held height is compared with */
    struct {
        uint64_t height1; /* height + 1; 0 = empty */
        uint8_t hdr[LEDGER_HEADER_SIZE];
    } recent[NODE_FOLLOW_RECENT];
    int idle;             /* mu: nothing queued or being applied */
    int applying;         /* mu: the applier holds a block */
    pthread_t thr;        /* immutable after node_open */
    pthread_t *verifiers; /* immutable after node_open */
    int nverifiers;       /* immutable after node_open */
};

/* A directive this regulator node relayed, waiting to appear in a block (relay.c). */
struct pending_dir {
    LIST_ENTRY(pending_dir) link;
    uint8_t txid[32];
    int64_t deadline_ms;
    node_done_fn fn;
    void *arg;
};

struct node_relay {
    LIST_HEAD(, pending_dir) pending; /* event-loop thread only */
    struct event *timer;              /* immutable after node_open */
};

/* A directive gathering its cosignatures (proposals.c); `id` is its txid. */
struct node_proposal {
    TAILQ_ENTRY(node_proposal) link;
    uint8_t id[32];
    struct ledger_tx tx; /* the directive with every signature gathered (distinct keys) */
    int64_t expires_ms;  /* tx.timestamp + supervision.proposal_ttl_s */
    int submitted;       /* operator: handed to the pipeline (at most once) */
};

/* Proposals pending at once, at most (a board proposes a handful). */
#define NODE_PROPOSALS_MAX 64

struct node_proposals {
    TAILQ_HEAD(, node_proposal) list; /* event-loop thread only */
    size_t n;                         /* event-loop thread only */
    struct event *timer;              /* immutable after node_open */
};

/* Every node's watch on reserves (reserves.c): the assets short when it last looked. */
struct node_reserves {
    uint32_t short_assets; /* event-loop thread only: bit i = asset i was short */
};

/* The operator's watch on reference prices (prices.c). */
struct node_prices {
    int64_t warned_ms[SBX_MAX_ASSETS]; /* event-loop thread only: set time of the last warned */
    struct event *timer;               /* immutable after node_open */
};

struct alert_item {
    int64_t time_ms;
    enum node_alert_severity sev;
    json_t *obj;
};

/* Node alerts (alerts.c). */
struct node_alerts {
    pthread_mutex_t mu;       /* alert_mu: a leaf lock */
    struct alert_item *items; /* alert_mu */
    size_t n, alloc;          /* alert_mu */
};

/* The histograms of metrics.c. */
struct node_metrics {
    pthread_mutex_t mu;              /* metrics_mu: a leaf lock */
    struct node_histogram commit;    /* metrics_mu */
    struct node_histogram block_txs; /* metrics_mu */
    struct node_histogram attest;    /* metrics_mu */
};

struct node_notify;

struct node_job;

/* The background read job (job.c). */
struct node_jobs {
    struct node_job *job; /* the running one: event-loop thread only */
    atomic_int cancel;    /* _Atomic: set by node_close, read by the job thread */
#ifdef SBX_TEST_HOOKS
    atomic_int test_delay_ms; /* node_test_job_delay */
#endif
};

struct node {
    /* immutable after node_open */
    struct node_config cfg;
    char *datadir;
    struct event_base *base;
    /* its engine and open block: state_mu (but see node_chain_write_all above); its store and
     * genesis: any thread */
    struct node_chain *chain;
    struct ledger_key op_key;
    struct ledger_key reg_key;
    struct ledger_key obs_key; /* an observer's node key */
    int has_reg_key;
    enum node_role role;
    int nworkers; /* signature threads (workers or verifiers) */
    struct par_pool *pool;
    int threads_started;

    pthread_mutex_t state_mu; /* the engine's state */
    pthread_mutex_t mu;       /* the queues between the threads and the durable tip */

    /* enum node_failure: the node stopped taking submissions after an internal error or a
     * failed write; set once (node_pipeline_fail) by the sequencer or the committer, read by
     * any thread */
    _Atomic int failed;
    int stopping; /* mu: node_close has begun (written on the event-loop thread) */

    struct node_pipeline pipe;
    struct node_commit commit;
    struct node_follower follow;
    struct node_relay relay;
    struct node_proposals proposals;
    struct node_prices prices;
    struct node_reserves reserves;
    struct node_alerts alerts;
    struct node_jobs job;
    struct node_metrics metrics;
    struct node_notify *notify; /* NULL without -alertnotify; set before any thread starts */

    /* the network layer: event-loop thread only */
    const struct node_events *ev;
    void *ev_ctx;
    TAILQ_HEAD(, node_watch) watches; /* event-loop thread only */
    uint64_t alerts_notified;         /* event-loop thread only: node alerts told to watches */
};

/* ------------------------------------------------------------------ node.c */

/* Set `r` to a refusal: `rc` and `msg`. */
void node_result_refuse(struct node_result *r, int rc, const char *msg);
/* Refuse on the spot (event loop: the callback runs now). */
void node_refuse_now(node_done_fn fn, void *arg, int rc, const char *msg);

/* ------------------------------------------------------------------ pipeline.c */

/* Why the node takes no more submissions (struct node's `failed`). */
enum node_failure {
    NODE_FAILURE_NONE = 0,
    NODE_FAILURE_INTERNAL, /* the sequencer could not build or seal a block */
    NODE_FAILURE_STORE,    /* a block could not be written (ledger_store_write_failure says why) */
};
/* Record the first failure (a later one keeps the first cause); any thread. */
void node_pipeline_fail(struct node *n, enum node_failure why);

void node_pipeline_jobq_init(struct jobq *q);
void node_pipeline_jobq_push(struct jobq *q, struct job *j);
struct job *node_pipeline_jobq_pop(struct jobq *q);
/* Move every job of `src` to the end of `dst`; `src` is left empty. */
void node_pipeline_jobq_concat(struct jobq *dst, struct jobq *src);
void node_pipeline_job_free(struct job *j);
/* node_submit / node_submit_raw with the sink of their results (NULL: the node's loop). */
void node_pipeline_submit(struct node *n, struct node_sink *sink, const struct ledger_tx *tx,
                          node_done_fn fn, void *arg);
void node_pipeline_submit_raw(struct node *n, struct node_sink *sink, const uint8_t *raw,
                              size_t len, node_done_fn fn, void *arg);
/* Admit the sealed business submissions of `q` (emptied) under one lock of mu and hand them to
 * the sequencer with at most one wake-up; those refused (stopping, failed, queue full) are
 * answered and freed on the calling thread, the thread of their sink's loop. */
void node_pipeline_admit_sealed(struct node *n, struct jobq *q);
/* Operator: start the workers and the sequencer (event loop, from node_open). */
void node_pipeline_start(struct node *n);
/* Operator: stop and join the workers, then the sequencer, which first seals what it holds. */
void node_pipeline_stop(struct node *n);

/* Tell every watch that node_close has begun and forget them (node.c). */
void node_watch_close(struct node *n);

/* ------------------------------------------------------------------ commit.c */

/* Make the event that delivers results on the event loop; SBX_ENOMEM. */
int node_commit_init(struct node *n) SBX_WARN_UNUSED;
/* Start the committer thread. */
void node_commit_start(struct node *n);
/* Stop and join the committer once everything queued is written. */
void node_commit_stop(struct node *n);
/* Queue a sealed block for the committer (mu held). */
void node_commit_push_locked(struct node *n, struct sealed_item *it);
/* 1 if no sealed block waits and none is being written (mu held). */
int node_commit_idle_locked(const struct node *n);
/* Operator (mu held): the time (time_mono_us) from which the sequencer seals its open block so
 * that the block is ready when the write in progress ends and the committer goes straight on
 * to it: 0 while nothing is written or queued, three quarters of a usual write into the one in
 * progress, INT64_MAX while a sealed block waits already. */
int64_t node_commit_seal_at_locked(const struct node *n);
/* Hand finished jobs to the event loop (mu held). */
void node_commit_complete_locked(struct node *n, struct jobq *jobs);
/* Hand one finished job to the event loop (takes mu). */
void node_commit_complete_one(struct node *n, struct job *j);
/* Event loop: run the callbacks of finished jobs and tell the network layer what changed. */
void node_commit_deliver(struct node *n);

/* ------------------------------------------------------------------ sink.c */

/* Hand finished jobs of `jobs` whose sink is set to their sinks, one event_active per sink
 * (mu held); the others stay in `jobs`. */
void node_sink_dispatch_locked(struct jobq *jobs);
/* A job `s` delivered before (its results' callback ran), for a new submission on the sink's
 * loop thread; NULL when it keeps none (or `s` is NULL). Its fields are as they were: the
 * caller clears them (node_pipeline.c's job_new). */
struct job *node_sink_job_take(struct node_sink *s);
/* On the sink loop's thread: queue the sealed business submission `j` (which names `s`) for
 * admission at the end of the loop's pass, with the others of the pass
 * (node_pipeline_admit_sealed): one lock and one wake-up of the sequencer for all of them. */
void node_sink_defer(struct node_sink *s, struct job *j);

/* ------------------------------------------------------------------ follower.c */

/* Follower: start the verifiers and the applier; SBX_ENOMEM. */
int node_follower_start(struct node *n) SBX_WARN_UNUSED;
/* Follower: stop and join the verifiers and the applier (mu not held). */
void node_follower_stop(struct node *n);
/* Drop every queued block (mu held, or no other thread running). */
void node_follower_drop(struct node *n);
/* Recompute follow.idle (mu held). */
void node_follower_update_idle_locked(struct node *n);

/* ------------------------------------------------------------------ reserves.c */

/* Every node, on the event loop when the durable tip moved: raise the critical node alert
 * reserves.shortfall for each asset whose last recorded liabilities exceed its last attested
 * reserve, once each time it becomes short. */
void node_reserves_check(struct node *n);

/* ------------------------------------------------------------------ prices.c */

/* Operator: start the timer that warns of reference prices near price.max_age_s; SBX_ENOMEM. */
int node_prices_start(struct node *n) SBX_WARN_UNUSED;
/* Event loop, when the node is freed: the timer. */
void node_prices_free(struct node *n);

/* ------------------------------------------------------------------ relay.c */

/* Follower: start the timer that times relayed directives out; SBX_ENOMEM. */
int node_relay_start(struct node *n) SBX_WARN_UNUSED;
/* Submissions to a regulator or observer node: directives are relayed, the rest refused. */
void node_relay_submit(struct node *n, struct ledger_tx *tx, const uint8_t *raw_in, size_t raw_len,
                       size_t ulen, node_done_fn fn, void *arg);
/* Event loop: answer the relayed directives that have reached a block. */
void node_relay_check(struct node *n);
/* Event loop, at close: answer every relayed directive still waiting with SBX_EUNAVAIL. */
void node_relay_close(struct node *n);
void node_relay_free(struct node *n);

/* ------------------------------------------------------------------ proposals.c */

/* The pool (any pool given; the unit test makes its own). */
void node_proposals_init(struct node_proposals *pp);
void node_proposals_release(struct node_proposals *pp);
struct node_proposal *node_proposals_find(struct node_proposals *pp, const uint8_t id[static 32]);
/* Distinct regulator signatures `p` carries (the signer's and every cosignature). */
unsigned node_proposals_signers(const struct node_proposal *p);
/* 1 if `key` signed `p` (as its signer or a cosigner). */
int node_proposals_signed_by(const struct node_proposal *p, const uint8_t key[static 32]);
/* Merge the signed directive `tx` (txid `id`, every signature verified by the caller) into the
 * pool: a new proposal, expiring at tx.timestamp + `ttl_ms`, or the cosignatures of an existing
 * one that it lacks (a key counts once). `*out` gets the proposal, `*added` the signatures new
 * to the pool. SBX_EDENIED when a key is not one of `g`'s regulator keys, SBX_ENOTFOUND when
 * `now_ms` is past its expiry, SBX_EOVERLOAD when NODE_PROPOSALS_MAX are pending; the pool is
 * then unchanged. */
int node_proposals_merge(struct node_proposals *pp, const struct ledger_genesis *g,
                         const struct ledger_tx *tx, const uint8_t id[static 32], int64_t ttl_ms,
                         int64_t now_ms, struct node_proposal **out, unsigned *added,
                         struct sbx_err *err) SBX_WARN_UNUSED;
/* Drop the proposals expired at `now_ms`; how many. */
size_t node_proposals_expire(struct node_proposals *pp, int64_t now_ms);
void node_proposals_drop(struct node_proposals *pp, struct node_proposal *p);
/* The node's pool. Event loop: start its timer (forgets expired and included ones); SBX_ENOMEM. */
int node_proposals_start(struct node *n) SBX_WARN_UNUSED;
void node_proposals_free(struct node *n);
/* Event loop (node_relay_submit, directive_quorum > 1): `tx`, signed, with txid `id` and fewer
 * signatures than the quorum, becomes a proposal sent to the operator; `fn` gets a result with
 * `proposal` set (or a refusal) before this returns. */
void node_proposals_submit(struct node *n, const struct ledger_tx *tx, const uint8_t id[static 32],
                           node_done_fn fn, void *arg);

/* ------------------------------------------------------------------ alerts.c */

/* Read the alerts kept in the store (node_open, before any thread starts). */
void node_alerts_load(struct node *n);
void node_alerts_init(struct node *n);
void node_alerts_release(struct node *n);

/* ------------------------------------------------------------------ metrics.c */

void node_metrics_init(struct node *n);
void node_metrics_release(struct node *n);
/* Committer: one synced write took `seconds` and held blocks of ntx[0..nblocks) transactions. */
void node_metrics_observe_commit(struct node *n, double seconds, const size_t *ntx, size_t nblocks);

/* ------------------------------------------------------------------ notify.c */

/* Event loop, before the threads start: run `cmd` (NULL or "": nothing) for every alert, at most
 * `rate` a second (0: 10). SBX_ENOMEM. */
int node_notify_start(struct node *n, const char *cmd, int rate) SBX_WARN_UNUSED;
/* Committer: the compliance alerts of a block just written (any thread; never blocks). */
void node_notify_alerts(struct node *n, uint64_t height, const struct cmp_alert *a, size_t na);
/* A node alert was raised (any thread; never blocks). */
void node_notify_node_alert(struct node *n, const char *severity, const char *kind, uint64_t height,
                            const char *msg);
/* Event loop, node_close: stop the timer, reap what has finished, forget the rest. */
void node_notify_free(struct node *n);

/* ------------------------------------------------------------------ node.c */

/* What the snapshot functions of node.h copy, read from engine `e` (the node's, under
 * state_mu, or one of node/asof.c's own): the caller owns `e` for the call. */
void node_status_fill(const struct cmp_engine *e, int64_t now_ms, struct node_status *st);
int node_account_fill(const struct cmp_engine *e, const char *id, int64_t now_ms,
                      struct node_account *out) SBX_WARN_UNUSED;
void node_exchange_usage_fill(const struct cmp_engine *e, int64_t now_ms,
                              struct node_exchange_usage *out);

/* ------------------------------------------------------------------ job.c */

/* Event loop, node_close: cancel a running background job and deliver its result. */
void node_job_cancel(struct node *n);

#endif
