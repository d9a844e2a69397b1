/* The running node: opening and closing it, its keys and role, and what the rest of the
 * program reads of it (accessors and snapshots of the engine's state); see node.h. The threads
 * live in pipeline.c (workers, sequencer), commit.c (committer), follower.c (verifiers,
 * applier), relay.c (relayed directives), prices.c (the operator's reference-price warning),
 * alerts.c, job.c (the background job: verifychain, getreport) and verify.c (verifychain);
 * node_int.h holds the shared state and its lock order.
 *
 * Threads: every function here runs on the event-loop thread, except node_genkey (the entry
 * point, before any node exists), node_result_refuse (any thread, on a result it owns) and the
 * snapshot functions (node_status_get, node_account_get, node_exchange_usage_get,
 * node_is_regulator), which take the state lock and may run on any thread.
 */
#include "node/node.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <event2/event.h>
#include <jansson.h>

#include "ledger/amount.h"
#include "node/chain.h"
#include "node/devnet.h"
#include "node/node_int.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/par.h"
#include "util/sha256.h"
#include "util/time.h"

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

const char *
node_role_name(enum node_role r)
{
    switch (r) {
    case NODE_ROLE_OPERATOR:
        return "operator";
    case NODE_ROLE_REGULATOR:
        return "regulator";
    case NODE_ROLE_OBSERVER:
        return "observer";
    }
    return "unknown";
}

void
node_result_refuse(struct node_result *r, int rc, const char *msg)
{
    r->rc = rc;
    snprintf(r->message, sizeof(r->message), "%s", msg);
}

void
node_refuse_now(node_done_fn fn, void *arg, int rc, const char *msg)
{
    struct node_result r;

    memset(&r, 0, sizeof(r));
    r.rc = rc;
    snprintf(r.message, sizeof(r.message), "%s", msg);
    fn(arg, &r);
}

/* ------------------------------------------------------------------ keys and the chain */

static int
join_path(char *out, size_t cap, const char *a, const char *b)
{
    int k = snprintf(out, cap, "%s/%s", a, b);

    return k < 0 || (size_t)k >= cap ? SBX_ETOOLONG : SBX_OK;
}

/* The licence's house account (the devnet's, or the one a licence file names), opened in its
 * own block at the operator's first start (block-authenticated, as every business transaction
 * the operator builds). */
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
    rc = ledger_tx_seal_for_block(&tx, n->op_key.pubkey, &enc, txid, err);
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
    rc = ledger_keys_load_or_make(&k, keys, rkey, 1, err);
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

/* ------------------------------------------------------------------ open / close */

/* The datadir's paths. */
struct node_paths {
    char ledger[4096], keys[4096], okey[4096], rkey[4096], nkey[4096];
};

/* A node with its locks, not yet opened; NULL when out of memory. */
static struct node *
node_new(const struct node_config *cfg, struct event_base *base)
{
    struct node *n = calloc(1, sizeof(*n));

    if (n == NULL)
        return NULL;
    n->cfg = *cfg;
    n->base = base;
    pthread_mutex_init(&n->state_mu, NULL);
    pthread_mutex_init(&n->mu, NULL);
    atomic_init(&n->failed, 0);
    node_alerts_init(n);
    node_metrics_init(n);
    pthread_cond_init(&n->pipe.work_cv, NULL);
    pthread_cond_init(&n->pipe.seq_cv, NULL);
    pthread_cond_init(&n->commit.cv, NULL);
    pthread_cond_init(&n->follow.follow_cv, NULL);
    pthread_cond_init(&n->follow.verify_cv, NULL);
    node_pipeline_jobq_init(&n->pipe.workq);
    node_pipeline_jobq_init(&n->pipe.seqq);
    node_pipeline_jobq_init(&n->commit.doneq);
    STAILQ_INIT(&n->commit.queue);
    STAILQ_INIT(&n->follow.queue);
    LIST_INIT(&n->relay.pending);
    node_proposals_init(&n->proposals);
    TAILQ_INIT(&n->watches);
    n->datadir = strdup(cfg->datadir ? cfg->datadir : ".");
    if (n->datadir == NULL) {
        free(n);
        return NULL;
    }
    return n;
}

static void
node_free(struct node *n)
{
    if (n == NULL)
        return;
    if (n->commit.done_ev)
        event_free(n->commit.done_ev);
    node_relay_free(n);
    node_proposals_free(n);
    node_prices_free(n);
    node_notify_free(n);
    node_chain_close(n->chain);
    par_pool_free(n->pool);
    node_follower_drop(n);
    ledger_keys_wipe(&n->op_key);
    ledger_keys_wipe(&n->reg_key);
    ledger_keys_wipe(&n->obs_key);
    node_alerts_release(n);
    node_metrics_release(n);
    free(n->pipe.workers);
    free(n->follow.verifiers);
    free(n->datadir);
    pthread_mutex_destroy(&n->state_mu);
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->pipe.work_cv);
    pthread_cond_destroy(&n->pipe.seq_cv);
    pthread_cond_destroy(&n->commit.cv);
    pthread_cond_destroy(&n->follow.follow_cv);
    pthread_cond_destroy(&n->follow.verify_cv);
    free(n);
}

static int
paths_init(struct node_paths *p, const char *datadir, struct sbx_err *err)
{
    if (join_path(p->ledger, sizeof(p->ledger), datadir, "ledger") ||
        join_path(p->keys, sizeof(p->keys), datadir, "keys") ||
        join_path(p->okey, sizeof(p->okey), p->keys, "operator.key") ||
        join_path(p->rkey, sizeof(p->rkey), p->keys, "regulator.key") ||
        join_path(p->nkey, sizeof(p->nkey), p->keys, "node.key"))
        return sbx_err_set(err, SBX_ETOOLONG, "datadir: path too long");
    return SBX_OK;
}

/* Make sure the datadir holds a chain: -devnet creates one, a follower's first start takes
 * the network's genesis block from -genesis. */
static int
ensure_chain(struct node *n, const struct node_paths *p, struct sbx_err *err)
{
    const struct node_config *cfg = &n->cfg;
    struct stat st;
    int rc;

    if (cfg->devnet) {
        rc = node_devnet_init(n->datadir, cfg->devnet_now_ms ? cfg->devnet_now_ms : time_now_ms(),
                              cfg->devnet_regulators, cfg->ndevnet_regulators, cfg->devnet_quorum,
                              err);
        if (rc)
            return rc;
    } else if (stat(p->ledger, &st) != 0 && cfg->genesis_path != NULL) {
        rc = create_from_genesis_file(p->ledger, cfg->genesis_path, err);
        if (rc)
            return rc;
    }
    if (stat(p->ledger, &st) != 0)
        return sbx_err_set(err, SBX_ENOTFOUND,
                           "%s holds no chain: start with -devnet for a development network, or "
                           "give a regulator or observer node its network's genesis block with "
                           "-genesis=FILE",
                           p->ledger);
    return SBX_OK;
}

/* Load the keys, open the chain and decide the role: the operator key of the genesis block
 * makes an operator, a regulator key of the genesis a regulator, neither an observer (which
 * gets a node key of its own). */
static int
open_keys_and_chain(struct node *n, const struct node_paths *p, struct sbx_err *err)
{
    int rc, has_op = 0;

    rc = ledger_keys_load_or_make(&n->op_key, NULL, p->okey, 0, err);
    if (rc == SBX_OK)
        has_op = 1;
    else if (rc != SBX_ENOTFOUND)
        return rc;
    rc = ledger_keys_load_or_make(&n->reg_key, NULL, p->rkey, 0, err);
    if (rc == SBX_OK)
        n->has_reg_key = 1;
    else if (rc != SBX_ENOTFOUND)
        return rc;
    rc = node_chain_open(&n->chain, p->ledger, n->cfg.reindex, n->cfg.checkblocks, err);
    if (rc)
        return rc;
    if (n->has_reg_key && !cmp_engine_is_regulator(node_chain_engine(n->chain), n->reg_key.pubkey))
        n->has_reg_key = 0;
    if (has_op) {
        if (memcmp(node_chain_genesis(n->chain)->operator_key, n->op_key.pubkey, 32) != 0)
            return sbx_err_set(err, SBX_EDENIED,
                               "%s is not the operator key of this chain's genesis block", p->okey);
        n->role = NODE_ROLE_OPERATOR;
    } else if (n->has_reg_key) {
        n->role = NODE_ROLE_REGULATOR;
    } else if (ledger_keys_load_or_make(&n->reg_key, NULL, p->rkey, 0, NULL) == SBX_OK) {
        return sbx_err_set(err, SBX_EDENIED,
                           "%s is not a regulator key of this chain's genesis block (and there "
                           "is no operator key)",
                           p->rkey);
    } else {
        rc = ledger_keys_load_or_make(&n->obs_key, p->keys, p->nkey, 1, err);
        if (rc)
            return rc;
        n->role = NODE_ROLE_OBSERVER;
    }
    return SBX_OK;
}

/* Start the threads of the node's role: workers, sequencer, committer and the reference-price
 * timer on the operator; verifiers, applier, committer and the relay timer on a follower. */
static int
start_threads(struct node *n, struct sbx_err *err)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);

    if (node_commit_init(n) != SBX_OK)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    n->nworkers = n->cfg.workers > 0 ? n->cfg.workers : (cores > 0 ? (int)cores : 2);
    /* verifychain (and -reindex) check a block's signatures on nworkers threads */
    if (par_pool_new(&n->pool, n->nworkers - 1) != SBX_OK)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    node_chain_set_pool(n->chain, n->pool);
    if (node_notify_start(n, n->cfg.alertnotify, n->cfg.alertnotify_rate) != SBX_OK ||
        node_proposals_start(n) != SBX_OK)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    if (n->role == NODE_ROLE_OPERATOR) {
        n->pipe.workers = calloc((size_t)n->nworkers, sizeof(*n->pipe.workers));
        if (n->pipe.workers == NULL || node_prices_start(n) != SBX_OK)
            return sbx_err_set(err, SBX_ENOMEM, "out of memory");
        node_pipeline_start(n);
    } else if (node_relay_start(n) != SBX_OK || node_follower_start(n) != SBX_OK) {
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    }
    node_commit_start(n);
    n->threads_started = 1;
    return SBX_OK;
}

int
node_open(struct node **out, const struct node_config *cfg, struct event_base *base,
          struct sbx_err *err)
{
    struct node_paths p;
    struct node *n;
    int rc;

    *out = NULL;
    rc = ledger_keys_global_init();
    if (rc == SBX_OK)
        rc = sha256_global_init();
    if (rc)
        return sbx_err_set(err, rc, "crypto libraries failed to initialise");
    n = node_new(cfg, base);
    if (n == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    rc = paths_init(&p, n->datadir, err);
    rc = rc ? rc : ensure_chain(n, &p, err);
    rc = rc ? rc : open_keys_and_chain(n, &p, err);
    if (rc == SBX_OK && n->role == NODE_ROLE_OPERATOR)
        rc = open_house_account(n, err);
    if (rc)
        goto fail;
    node_alerts_load(n);
    n->alerts_notified = node_alerts_total(n);
    n->commit.durable = *node_chain_tip(n->chain);
    n->follow.next = n->commit.durable.height + 1;
    n->follow.idle = 1;
    rc = start_threads(n, err);
    if (rc)
        goto fail;
    LOG_INFO(LOG_NODE, "network %s, height %llu, role %s, %d signature threads",
             node_chain_genesis(n->chain)->network, (unsigned long long)n->commit.durable.height,
             node_role_name(n->role), n->nworkers);
    *out = n;
    return SBX_OK;
fail:
    node_free(n);
    return rc;
}

void
node_close(struct node *n)
{
    struct ledger_tip tip;

    if (n == NULL)
        return;
    node_job_cancel(n);
    if (!n->threads_started) {
        node_free(n);
        return;
    }
    /* stage by stage, so that each stage's input is complete before it stops */
    pthread_mutex_lock(&n->mu);
    n->stopping = 1;
    n->pipe.stop_workers = 1;
    n->follow.stop = 1;
    pthread_cond_broadcast(&n->pipe.work_cv);
    pthread_cond_broadcast(&n->follow.follow_cv);
    pthread_cond_broadcast(&n->follow.verify_cv);
    pthread_mutex_unlock(&n->mu);
    if (n->role == NODE_ROLE_OPERATOR)
        node_pipeline_stop(n);
    else
        node_follower_stop(n);
    node_commit_stop(n);
    /* every block is written: the state too, so that the next start replays nothing */
    pthread_mutex_lock(&n->state_mu);
    if (!atomic_load(&n->failed)) {
        struct sbx_err err;

        if (node_chain_checkpoint(n->chain, &err) != SBX_OK)
            LOG_ERROR(LOG_NODE,
                      "writing the state checkpoint at stop failed: %s (the next start replays "
                      "the blocks after the last one)",
                      err.msg);
    }
    pthread_mutex_unlock(&n->state_mu);
    node_commit_deliver(n);
    node_watch_close(n);
    node_relay_close(n);
    node_tip(n, &tip);
    LOG_INFO(LOG_NODE, "stopped at height %llu", (unsigned long long)tip.height);
    node_free(n);
}

/* ------------------------------------------------------------------ test hooks */

#ifdef SBX_TEST_HOOKS
void
node_test_fault(struct node *n, enum node_test_fault f)
{
    pthread_mutex_lock(&n->state_mu);
    if (f == NODE_FAULT_LIABILITIES_SHORT)
        node_chain_test_liabilities_short(n->chain);
    else
        node_chain_test_fault(n->chain, f == NODE_FAULT_VERDICT    ? 1
                                        : f == NODE_FAULT_DIGEST   ? 2
                                        : f == NODE_FAULT_BACKDATE ? 3
                                                                   : 0);
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

void
node_watch_add(struct node *n, struct node_watch *w)
{
    TAILQ_INSERT_TAIL(&n->watches, w, link);
}

void
node_watch_remove(struct node *n, struct node_watch *w)
{
    TAILQ_REMOVE(&n->watches, w, link);
}

void
node_watch_close(struct node *n)
{
    struct node_watch *w;

    while ((w = TAILQ_FIRST(&n->watches)) != NULL) {
        TAILQ_REMOVE(&n->watches, w, link);
        if (w->on_close != NULL)
            w->on_close(w->ctx);
    }
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

const struct ledger_genesis *
node_genesis(struct node *n)
{
    return node_chain_genesis(n->chain);
}

const struct ledger_key *
node_identity(struct node *n)
{
    return n->role == NODE_ROLE_OPERATOR    ? &n->op_key
           : n->role == NODE_ROLE_REGULATOR ? &n->reg_key
                                            : &n->obs_key;
}

struct ledger_store *
node_store(struct node *n)
{
    return node_chain_store(n->chain);
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

/* ------------------------------------------------------------------ snapshots (state lock) */

static int
cmp_u64_desc(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

    return (a < b) - (a > b);
}

/* The highest height attested by attestation_quorum regulators (0 if none). State lock held. */
static uint64_t
final_height(const struct cmp_engine *e)
{
    const struct ledger_genesis *g = cmp_engine_genesis(e);
    uint64_t h[SBX_MAX_REGULATORS];
    size_t n = g->nregulators < SBX_MAX_REGULATORS ? g->nregulators : SBX_MAX_REGULATORS;
    int64_t t;

    if (g->attestation_quorum == 0 || g->attestation_quorum > n)
        return 0;
    for (size_t i = 0; i < n; i++)
        cmp_engine_attested(e, i, &h[i], &t);
    qsort(h, n, sizeof(h[0]), cmp_u64_desc);
    return h[g->attestation_quorum - 1];
}

void
node_status_fill(const struct cmp_engine *e, int64_t now_ms, struct node_status *st)
{
    const struct ledger_genesis *g = cmp_engine_genesis(e);
    size_t na = g->nassets < SBX_MAX_ASSETS ? g->nassets : SBX_MAX_ASSETS;

    memset(st, 0, sizeof(*st));
    st->licence_status = cmp_engine_licence_status_at(e, now_ms);
    st->market_halted = cmp_engine_market_halted(e);
    for (size_t i = 1; i < na; i++)
        st->asset_halted[i] = cmp_engine_asset_halted(e, (int)i);
    st->params = *cmp_engine_params(e);
    st->final_height = final_height(e);
    st->supervision_ok = cmp_engine_supervision_ok(e, now_ms, &st->supervision_lag_ms) == SBX_OK;
    st->nregulators = g->nregulators < SBX_MAX_REGULATORS ? g->nregulators : SBX_MAX_REGULATORS;
    for (size_t i = 0; i < st->nregulators; i++) {
        memcpy(st->regulators[i].key, g->regulator_keys[i], 32);
        cmp_engine_attested(e, i, &st->regulators[i].attested_height,
                            &st->regulators[i].attested_ms);
    }
    st->attestation_quorum = g->attestation_quorum;
    st->directive_quorum = g->directive_quorum;
}

void
node_status_get(struct node *n, int64_t now_ms, struct node_status *st)
{
    pthread_mutex_lock(&n->state_mu);
    node_status_fill(node_chain_engine(n->chain), now_ms, st);
    pthread_mutex_unlock(&n->state_mu);
}

int
node_account_fill(const struct cmp_engine *e, const char *id, int64_t now_ms,
                  struct node_account *out)
{
    const struct ledger_genesis *g = cmp_engine_genesis(e);
    const struct ledger_account *a = ledger_state_get(cmp_engine_state(e), id);
    int rc;

    memset(out, 0, sizeof(*out));
    if (a == NULL)
        return SBX_ENOTFOUND;
    out->account = *a;
    out->account.ext = NULL;
    out->sanctioned = cmp_engine_is_sanctioned(e, id, NULL);
    rc = cmp_engine_usage(e, id, now_ms, &out->usage);
    for (size_t i = 1; rc == SBX_OK && i < g->nassets && i < SBX_MAX_ASSETS; i++) {
        int64_t v;

        if (ledger_notional(a->balance[i], cmp_engine_price(e, (int)i), g->assets[i].decimals,
                            &v) != SBX_OK)
            v = INT64_MAX;
        if (v > out->holding_used)
            out->holding_used = v;
    }
    return rc;
}

int
node_account_get(struct node *n, const char *id, int64_t now_ms, struct node_account *out)
{
    int rc;

    pthread_mutex_lock(&n->state_mu);
    rc = node_account_fill(node_chain_engine(n->chain), id, now_ms, out);
    pthread_mutex_unlock(&n->state_mu);
    return rc;
}

void
node_exchange_usage_fill(const struct cmp_engine *e, int64_t now_ms,
                         struct node_exchange_usage *out)
{
    const struct cmp_params *p = cmp_engine_params(e);

    memset(out, 0, sizeof(*out));
    cmp_engine_exchange_usage(e, now_ms, &out->daily_used, &out->total_used);
    out->active_accounts = (int64_t)ledger_state_count_active(cmp_engine_state(e));
    out->daily_limit = p->v[CMP_P_EXCHANGE_DAILY];
    out->total_limit = p->v[CMP_P_EXCHANGE_TOTAL];
    out->participants_max = p->v[CMP_P_PARTICIPANTS_MAX];
}

void
node_exchange_usage_get(struct node *n, int64_t now_ms, struct node_exchange_usage *out)
{
    pthread_mutex_lock(&n->state_mu);
    node_exchange_usage_fill(node_chain_engine(n->chain), now_ms, out);
    pthread_mutex_unlock(&n->state_mu);
}

int
node_is_regulator(struct node *n, const uint8_t key[static 32])
{
    int reg;

    pthread_mutex_lock(&n->state_mu);
    reg = cmp_engine_is_regulator(node_chain_engine(n->chain), key);
    pthread_mutex_unlock(&n->state_mu);
    return reg;
}

int
node_failed(struct node *n)
{
    return atomic_load(&n->failed);
}
