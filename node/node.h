/* The running node as rpc/ and the entry point see it.
 *
 * A node owns the chain (store + compliance engine), the operator key, and the pipeline of the
 * main job: worker threads sign or verify submissions, one sequencer thread gives verdicts in
 * order and builds the pending block, one committer thread writes each block as one synced
 * LevelDB batch (group commit: the next block fills while the previous one syncs). Results are
 * delivered on the libevent thread that created the node, or on the loop of the sink they name
 * (node_sink_submit: the RPC server's other loops), only after the block is durable.
 *
 * Threads: node_* functions are called from the event-loop thread unless their comment says
 * otherwise. The engine's state (accounts, balances, usage, licence) is read through the
 * snapshot functions below (node_status_get, node_account_get, ...), each of which copies what it
 * returns under the node's state lock; the lock itself never leaves node/. The store is
 * thread-safe.
 */
#ifndef SBX_NODE_NODE_H
#define SBX_NODE_NODE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "compliance/engine.h"
#include "node/chain.h"
#include "compliance/params.h"
#include "ledger/block.h"
#include "ledger/keys.h"
#include "ledger/state.h"
#include "ledger/store.h"
#include "ledger/tx.h"
#include "util/err.h"

struct event_base;
struct node;

enum node_role {
    NODE_ROLE_OPERATOR = 1,
    NODE_ROLE_REGULATOR = 2,
    NODE_ROLE_OBSERVER = 3,
};

/* "operator", "regulator", "observer" ("unknown" for anything else). */
const char *node_role_name(enum node_role r);

struct node_config {
    const char *datadir;   /* holds ledger/, keys/, debug.log */
    int devnet;            /* create the devnet genesis on first start */
    int blockmaxtxs;       /* close a block at this many transactions (default 10000) */
    int blockmaxms;        /* ... or this long after its first one (default 50) */
    int queue_max;         /* submissions waiting at most (default 100000); then EOVERLOAD */
    int workers;           /* signature threads (default: one per core) */
    int checkblocks;       /* blocks re-verified at start-up (default 6) */
    int reindex;           /* rebuild all state from the stored blocks */
    int64_t devnet_now_ms; /* devnet genesis time (0 = now) */
    /* -devnet's genesis lists these regulator keys instead of the embedded one (first start) */
    const uint8_t (*devnet_regulators)[32];
    size_t ndevnet_regulators;
    int devnet_quorum;        /* -devnetquorum: their directive quorum (0: the default, 1) */
    const char *genesis_path; /* a follower's first start: the genesis block, as hex */
    /* -alertnotify: run through /bin/sh for every compliance alert of a block written and every
     * node alert, %s replaced by a one-line summary in single quotes (NULL: none) */
    const char *alertnotify;
    int alertnotify_rate; /* commands started a second at most (0: the default, 10) */
};

void node_config_defaults(struct node_config *c);

/* `sbxd -genkey`: make <datadir>/keys/regulator.key if it is missing and give its public key. */
int node_genkey(const char *datadir, uint8_t pub[static 32], struct sbx_err *err) SBX_WARN_UNUSED;

/* Open the datadir's chain and start the pipeline on `base`'s thread. On a datadir without a
 * chain, -devnet creates one (keys, genesis, the default licence); without -devnet it is an
 * error naming what is missing. */
int node_open(struct node **out, const struct node_config *cfg, struct event_base *base,
              struct sbx_err *err) SBX_WARN_UNUSED;
/* Stop taking submissions (they get SBX_EUNAVAIL), finish the blocks in flight, stop the
 * threads, deliver every outstanding callback (synchronously, on the calling event-loop
 * thread) and close the store. Call it BEFORE freeing whatever the callbacks' `arg`s point to
 * (the RPC server): sbxd stops the node first, then the RPC server. */
void node_close(struct node *n);

/* The outcome of one submission. */
struct node_result {
    int rc; /* SBX_OK accepted; SBX_EREJECTED recorded rejection (verdict.rule says which);
               SBX_ECONFLICT same id, different content; SBX_EOVERLOAD queue full;
               SBX_EUNAVAIL licence/supervision/shutting down; SBX_EBADSIG; SBX_EINVAL... */
    char message[SBX_ERR_MSG_MAX];
    uint8_t txid[32];
    uint64_t height;
    uint8_t block_hash[32];
    struct ledger_verdict verdict;
    /* a k-of-n directive proposed (rc SBX_OK, nothing recorded yet; txid is the proposal's id):
     * its distinct regulator signatures, the quorum it needs and when it expires */
    int proposal;
    unsigned signers, quorum;
    int64_t expires_ms;
};

typedef void (*node_done_fn)(void *arg, const struct node_result *r);

/* Submit a transaction built from JSON: the node sets signer and timestamp, signs it with the
 * operator key and records it. `fn(arg, result)` is called exactly once on the event-loop
 * thread: after the block holding the transaction is durable, or at once on refusal (then
 * possibly before node_submit returns). */
void node_submit(struct node *n, const struct ledger_tx *tx, node_done_fn fn, void *arg);
/* Submit an already signed, encoded transaction (submitrawtx): decoded and its signatures
 * verified on a worker; refused with SBX_EBADSIG or a decoding code if they fail. */
void node_submit_raw(struct node *n, const uint8_t *raw, size_t len, node_done_fn fn, void *arg);

/* Where results go when the caller runs an event loop of its own (the RPC server runs one per
 * core): a sink on `base`, made on any thread before `base` runs or on its thread. NULL when
 * out of memory. Finished jobs reach a sink in batches (one wake-up per batch). */
struct node_sink;
struct node_sink *node_sink_new(struct node *n, struct event_base *base);
/* Deliver what `s` still holds (the callbacks run on the calling thread; a submission its loop
 * never got to admit is refused with SBX_EUNAVAIL) and free it. Call it after node_close (which
 * hands every outstanding result to its sink), on the sink's thread or once that thread no
 * longer runs `base`. NULL is a no-op. */
void node_sink_free(struct node_sink *s);
/* node_submit / node_submit_raw from the thread that runs the sink's loop: `fn` is called on
 * that thread. An operator takes them from any number of loops at once: a business
 * transaction is encoded here and admitted with the others of the loop's pass once the pass's
 * callbacks have run, or once 64 wait (one lock and at most one wake-up for all of them; a
 * refusal then comes
 * from that later callback); anything else takes one lock per submission. On a regulator or
 * observer the submission is relayed by the node's loop: call them only there (with a sink on
 * the node's base). */
void node_sink_submit(struct node_sink *s, const struct ledger_tx *tx, node_done_fn fn, void *arg);
void node_sink_submit_raw(struct node_sink *s, const uint8_t *raw, size_t len, node_done_fn fn,
                          void *arg);

/* ---- the network layer's side (node/net.c); all on the event-loop thread ---- */

struct json_t;

/* What the network layer does for the node (one provider; what happens to the node is told to
 * its watches, below). */
struct node_events {
    /* Send a signed transaction to the operator (a regulator's directive). SBX_OK if sent. */
    int (*relay)(void *ctx, const uint8_t *raw, size_t len);
    /* Send a k-of-n directive's proposal (its encoding, every signature held): a regulator to
     * the operator, the operator to every regulator link. SBX_OK if sent to at least one. */
    int (*proposal)(void *ctx, const uint8_t *raw, size_t len);
    /* For getpeerinfo: a new JSON array describing the open peers. */
    struct json_t *(*peers)(void *ctx);
    /* For getsupervision: add what the network layer measures to `obj`. */
    void (*supervision)(void *ctx, struct json_t *obj);
};
void node_set_events(struct node *n, const struct node_events *ev, void *ctx);
/* A watcher of the node: any number of them (the peer links of node/net.c, the event streams of
 * rpc/events.c, ...), each embedded in its owner and called on the event-loop thread, in the
 * order they were added. Any callback may be NULL. */
struct node_watch {
    /* The durable tip has advanced (operator: a block was written; follower: blocks were
     * applied and synced). `idle`: no block waits to be applied (always 1 on the operator). */
    void (*on_tip)(void *ctx, const struct ledger_tip *tip, int idle);
    /* A follower refused a block (it stops following): `height` and the reason. */
    void (*on_refused)(void *ctx, uint64_t height, const char *reason);
    /* Node alerts were raised: the node now holds `count` (numbered 1..count, see
     * node_alerts_json). */
    void (*on_node_alerts)(void *ctx, uint64_t count);
    /* node_close has begun: the watch is dropped (do not call node_watch_remove after). */
    void (*on_close)(void *ctx);
    void *ctx;
    TAILQ_ENTRY(node_watch) link; /* the node's; event-loop thread only */
};
/* Add `w` (not yet added) to the node's watchers; it stays the caller's memory. */
void node_watch_add(struct node *n, struct node_watch *w);
/* Remove `w` (added before, the node still open). Not from inside a watch's callback: the node
 * is walking the list then. */
void node_watch_remove(struct node *n, struct node_watch *w);
/* A new JSON array of open peers (empty without a network layer); NULL when out of memory. */
struct json_t *node_peers_json(struct node *n);
/* Add the network layer's supervision figures (attestation latency) to `obj`. */
void node_supervision_json(struct node *n, struct json_t *obj);

/* This node's identity on peer links: the operator key, a regulator key, or an observer's
 * node key. */
const struct ledger_key *node_identity(struct node *n);
/* Follower: queue a block received from a peer for validation and application, in height
 * order. SBX_EUNAVAIL once the node stopped following (a block was refused), SBX_EOVERLOAD if
 * too much waits already (ask again later). */
int node_follow_block(struct node *n, const uint8_t *raw, size_t len) SBX_WARN_UNUSED;
/* Follower: the height the next queued block must have (tip + queued + 1). */
uint64_t node_follow_next(struct node *n);
/* Follower: the hash (and encoded header) of a block queued lately at `height`, whether still
 * queued, being applied or written (the last 1024 heights); 0 if none. */
int node_follow_queued_hash(struct node *n, uint64_t height, uint8_t hash[static 32],
                            struct buf *header);
/* 1 while a follower follows (no block was refused); 1 on the operator. */
int node_following(struct node *n);
/* Stop following (equivocation): queued blocks are dropped. */
void node_stop_following(struct node *n, const char *why);
/* Regulator: an attestation of `tip`, signed with the regulator key, encoded into `out`. */
int node_make_attestation(struct node *n, const struct ledger_tip *tip, struct buf *out,
                          struct sbx_err *err) SBX_WARN_UNUSED;
/* The height of the last block holding more than attestations (regulators attest those). */
uint64_t node_last_substantive(struct node *n);

/* Node alerts (not on the ledger: what this node saw): kept in the store, listed by RPC.
 * `proof` (may be NULL) is a JSON object that the alert keeps (its reference is stolen). */
#define NODE_ALERT_SEVERITIES(X)                                                                   \
    X(NODE_ALERT_WARNING, 1, "warning")                                                            \
    X(NODE_ALERT_CRITICAL, 2, "critical")
#define NODE_ALERT_SEVERITY_CONSTANT(e, n, s) e = n,
enum node_alert_severity { NODE_ALERT_SEVERITIES(NODE_ALERT_SEVERITY_CONSTANT) };
void node_alert(struct node *n, enum node_alert_severity sev, const char *kind, uint64_t height,
                const uint8_t *peer, struct json_t *proof, const char *fmt, ...) SBX_PRINTF(7, 8);
/* A new JSON array of the alerts (newest last; the i-th has "seq" i + 1), or NULL when out of
 * memory. */
struct json_t *node_alerts_json(struct node *n);
/* How many node alerts the node holds (the "seq" of the newest). */
uint64_t node_alerts_total(struct node *n);
size_t node_alert_count(struct node *n, enum node_alert_severity sev);

#ifdef SBX_TEST_HOOKS
/* Test hook: node_job_stopping sleeps `ms` ms each time (a slow background job: a pause per
 * block of getreport's replay, and per block of verifychain's range before it checks). */
void node_test_job_delay(struct node *n, int ms);
/* Test hooks (--enable-test-hooks): the next block the operator seals is corrupted (a flipped
 * verdict, a wrong digest, or a transaction it signs stamped time.max_skew_ms + 1 ms before the
 * block's time), or its next liabilities record is one base unit of VND short. */
enum node_test_fault {
    NODE_FAULT_NONE,
    NODE_FAULT_VERDICT,
    NODE_FAULT_DIGEST,
    NODE_FAULT_BACKDATE,
    NODE_FAULT_LIABILITIES_SHORT
};
void node_test_fault(struct node *n, enum node_test_fault f);
/* Sign a copy of block `height` with a different time (equivocation), encoded into `out`. */
int node_test_equivocate(struct node *n, uint64_t height, struct buf *out,
                         struct sbx_err *err) SBX_WARN_UNUSED;
#endif

/* ---- metrics (node/metrics.c) ---- */

/* A latency or size histogram: counts per bucket (not cumulative), the last one above every
 * bound. Floating point: these are measurements, never amounts. */
#define NODE_HIST_BUCKETS 12
struct node_histogram {
    size_t nbounds;
    double bounds[NODE_HIST_BUCKETS]; /* upper bounds, ascending */
    uint64_t counts[NODE_HIST_BUCKETS + 1];
    uint64_t count;
    double sum;
};
/* Start `h` empty with the first NODE_HIST_BUCKETS of `bounds`. */
void node_metrics_hist_init(struct node_histogram *h, const double *bounds, size_t n);
void node_metrics_hist_observe(struct node_histogram *h, double v);

/* What GET /metrics shows of the node, copied at one instant (any thread). */
struct node_metrics_snapshot {
    struct node_tally tally;         /* what the blocks hold, as applied in memory */
    struct node_histogram commit;    /* seconds per synced write of the committer */
    struct node_histogram block_txs; /* transactions per block written */
    struct node_histogram attest;    /* operator: seconds from durable to attested */
    int failed;                      /* the store could not write: submissions are refused */
};
void node_metrics_get(struct node *n, struct node_metrics_snapshot *out);
/* Event loop (node/net.c): a regulator attested a block `seconds` after it became durable. */
void node_metrics_observe_attestation(struct node *n, double seconds);
/* Not 0 once the node stopped taking submissions after an internal error or a failed write
 * (any thread). */
int node_failed(struct node *n);
/* After a failed write: why the store could not write, a stable word ("disk_full", "io_error",
 * "write_error"); NULL while the store writes (any thread). */
const char *node_storage_failure(struct node *n);

/* Dry run of a transaction against the current state (checktrade): no record, no signature.
 * Takes the state lock itself. */
int node_check(struct node *n, const struct ledger_tx *tx, struct cmp_result *res,
               struct sbx_err *err) SBX_WARN_UNUSED;

/* ---- snapshots of the engine's state: each takes the state lock once; any thread ---- */

struct node_regulator_status {
    uint8_t key[32];
    uint64_t attested_height; /* the latest height it attested; 0 if none */
    int64_t attested_ms;      /* the timestamp of that attestation; 0 if none */
};

/* The licence and supervision at one instant. */
struct node_status {
    int licence_status;               /* enum cmp_licence_status */
    int market_halted;                /* the whole market */
    int asset_halted[SBX_MAX_ASSETS]; /* by asset index ([0], VND, is never halted) */
    struct cmp_params params;         /* the licence's parameters */
    uint64_t final_height; /* the highest height attested by attestation_quorum regulators */
    int supervision_ok;    /* regulators attested within supervision.max_lag_s at now_ms */
    int64_t supervision_lag_ms;
    size_t nregulators;
    struct node_regulator_status regulators[SBX_MAX_REGULATORS];
    unsigned attestation_quorum, directive_quorum;
};
/* Fill `st` (cleared first) with the state at `now_ms`. */
void node_status_get(struct node *n, int64_t now_ms, struct node_status *st);

/* One account, its standing and its usage of the limits at one instant. */
struct node_account {
    struct ledger_account account; /* a copy; account.ext is NULL */
    int sanctioned;
    struct cmp_usage_view usage;
    int64_t holding_used; /* VND value of its largest crypto holding (what limit.holding caps) */
};
/* Fill `out` (cleared first) for account `id` at `now_ms`. SBX_OK; SBX_ENOTFOUND if there is no
 * such account; another code if its usage could not be computed (the account is filled). */
int node_account_get(struct node *n, const char *id, int64_t now_ms,
                     struct node_account *out) SBX_WARN_UNUSED;

/* Exchange-wide usage and the licence's limits on it, at one instant. */
struct node_exchange_usage {
    int64_t daily_used, total_used; /* VND */
    int64_t active_accounts;
    int64_t daily_limit, total_limit, participants_max; /* limit.exchange_*, participants_max */
};
void node_exchange_usage_get(struct node *n, int64_t now_ms, struct node_exchange_usage *out);

/* k-of-n directives (node/proposals.c). A proposal as rpc/ sees it: a copy. */
struct node_proposal_view {
    uint8_t id[32];      /* the directive's txid */
    struct ledger_tx tx; /* the directive, its signer and cosignatures */
    int64_t expires_ms;
    unsigned signers; /* distinct regulator signatures */
    unsigned quorum;  /* the genesis's directive_quorum */
};
/* Event loop: the pending proposals (not expired, not yet in a block) into a malloc'd array
 * (`*out`, free() it; NULL when there are none). SBX_ENOMEM. */
int node_proposals_list(struct node *n, struct node_proposal_view **out, size_t *count,
                        struct sbx_err *err) SBX_WARN_UNUSED;
/* Event loop: add a cosignature to proposal `id` and send it on (to the operator, or from the
 * operator to every regulator; the operator records the directive once it carries the quorum).
 * `pubkey` NULL: this node's regulator key signs (SBX_EDENIED without one); else `sig` is a
 * BIP340 signature of `id` by `pubkey`, made elsewhere (SBX_EBADSIG if it does not verify).
 * SBX_ENOTFOUND: no such pending proposal (unknown, expired or included); SBX_EDENIED: the key
 * is not a regulator key of the genesis; SBX_ECONFLICT: that key signed it already (a key counts
 * once); SBX_EUNAVAIL: no link to the operator (the signature is kept). `out` gets the proposal
 * as it now is. */
int node_proposals_cosign(struct node *n, const uint8_t id[static 32], const uint8_t *pubkey,
                          const uint8_t *sig, struct node_proposal_view *out,
                          struct sbx_err *err) SBX_WARN_UNUSED;
/* Event loop: a PROPOSAL message's payload from a peer (node/net.c checks who sent it): decoded,
 * its signatures verified and merged into the pool; the operator then records the directive if
 * it carries the quorum and relays the proposal to every regulator. A code when it is malformed
 * (a decoding code or SBX_EBADSIG), comes from an unknown key (SBX_EDENIED) or expired. */
int node_proposals_receive(struct node *n, const uint8_t *raw, size_t len,
                           struct sbx_err *err) SBX_WARN_UNUSED;

/* Event loop, when a link to the operator (on a follower) or to a regulator (on the operator)
 * opens: send every pending proposal again, so that a node that restarted or was cut off learns
 * them (receivers merge: nothing counts twice). */
void node_proposals_resend(struct node *n);

/* 1 if `key` is a regulator key of the chain. */
int node_is_regulator(struct node *n, const uint8_t key[static 32]);

/* ------------------------------------------------------------------ the ledger as of a block
 * (node/asof.c: from the history versions each state checkpoint writes and the blocks after it;
 * any thread, no node lock;
 * `*time_ms` gets the block's time, the instant the answer is for). */

/* What node_asof_engine loads: the licence records, those and one account's, or everything. */
enum node_asof_scope { NODE_ASOF_LICENCE, NODE_ASOF_ACCOUNT, NODE_ASOF_ALL };

/* A new engine (cmp_engine_free it) holding the state that block `height` left, as far as
 * `scope` says (`account` for NODE_ASOF_ACCOUNT). SBX_ENOTFOUND naming "height" above the durable
 * tip; SBX_EUNAVAIL if the store keeps no history (written by an older sbxd: -reindex);
 * SBX_ECORRUPT (also when replaying the blocks after the checkpoint gives another verdict than a
 * block's), SBX_EIO, SBX_ENOMEM. Costs a few seeks and the replay of at most one checkpoint
 * interval; NODE_ASOF_ALL also one pass over every state key, which only the background job
 * may pay (node_job_async: it stops with SBX_EUNAVAIL
 * when node_job_stopping says so). */
int node_asof_engine(struct node *n, uint64_t height, enum node_asof_scope scope,
                     const char *account, struct cmp_engine **out, int64_t *time_ms,
                     struct sbx_err *err) SBX_WARN_UNUSED;
/* The last block at or before `time_ms` (block times never go back): a binary search over the
 * stored headers. SBX_ENOTFOUND naming "time" if the genesis block is later. */
int node_asof_height_at(struct node *n, int64_t time_ms, uint64_t *height,
                        struct sbx_err *err) SBX_WARN_UNUSED;
/* node_status_get, node_account_get and node_exchange_usage_get as of block `height`, at its
 * time; the errors of node_asof_engine, and SBX_ENOTFOUND naming "account" for an account that
 * did not exist then. */
int node_asof_status_get(struct node *n, uint64_t height, struct node_status *st, int64_t *time_ms,
                         struct sbx_err *err) SBX_WARN_UNUSED;
int node_asof_account_get(struct node *n, uint64_t height, const char *id, struct node_account *out,
                          int64_t *time_ms, struct sbx_err *err) SBX_WARN_UNUSED;
/* (The last: NODE_ASOF_ALL, the background job only.) */
int node_asof_exchange_usage_get(struct node *n, uint64_t height, struct node_exchange_usage *out,
                                 int64_t *time_ms, struct sbx_err *err) SBX_WARN_UNUSED;

/* The genesis block's contents (assets, regulators, quorums, network): immutable after
 * node_open, valid until node_close; any thread. */
const struct ledger_genesis *node_genesis(struct node *n);

/* The store (thread-safe; valid until node_close). */
struct ledger_store *node_store(struct node *n);
/* The durable tip (what has been acknowledged). */
void node_tip(struct node *n, struct ledger_tip *out);
enum node_role node_role(struct node *n);
const char *node_network(struct node *n);
const uint8_t *node_operator_key(struct node *n);
/* The genesis block's hash: the network id on peer links. */
const uint8_t *node_genesis_hash(struct node *n);
/* The txid that used idempotency key `key` ('I' kind id, see store.h), whether its state is
 * checkpointed yet or not. SBX_ENOTFOUND if unused. Any thread. */
int node_find_id(struct node *n, const uint8_t *key, size_t klen,
                 uint8_t txid[static 32]) SBX_WARN_UNUSED;
/* Number of submissions waiting in the pipeline. */
size_t node_queue_depth(struct node *n);

/* Re-verify stored blocks from..to: signatures, roots and links (ledger_store_verify), then
 * every verdict and state digest by replaying the rules from genesis into a scratch engine. */
int node_verify(struct node *n, uint64_t from, uint64_t to, uint64_t *checked, uint64_t *failed_at,
                struct sbx_err *err) SBX_WARN_UNUSED;

/* The node's background read job (node/job.c): run(arg, err) on a thread of its own, so that
 * the event loop (RPC, peer links) keeps serving; then done(arg, rc, err) once on the
 * event-loop thread with what run returned. One job at a time: while one runs, or once the
 * node is stopping, done is called at once with SBX_EUNAVAIL. run must only read the store
 * (node_store) and memory of its own -- nothing of the event loop, no node accessor that is not
 * documented as any-thread -- and call node_job_stopping between blocks, returning
 * SBX_EUNAVAIL when it says so. node_close cancels a running job, waits for it and delivers its
 * result. Event-loop thread. */
typedef int (*node_job_run_fn)(void *arg, struct sbx_err *err);
typedef void (*node_job_done_fn)(void *arg, int rc, const struct sbx_err *err);
void node_job_async(struct node *n, node_job_run_fn run, node_job_done_fn done, void *arg);
/* On the job thread, between blocks: nonzero once node_close wants the job to stop. */
int node_job_stopping(struct node *n);

#endif
