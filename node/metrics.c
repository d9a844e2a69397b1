/* The node's measurements for GET /metrics: latency histograms kept in memory (how long the
 * committer's synced writes take, how many transactions a block holds, how long regulators take
 * to attest a durable block) and the snapshot that rpc/metrics.c renders, which adds the chain's
 * tally (what the blocks hold, kept with every state checkpoint so that it is right after a
 * restart).
 *
 * Threads: node_metrics_observe_commit runs on the committer, node_metrics_observe_attestation
 * on the event loop, node_metrics_get on the event loop; the histograms are guarded by
 * metrics_mu (a leaf lock: nothing else is taken while it is held). node_metrics_hist_* touch
 * only the histogram they are given (the caller guards it).
 */
#include <pthread.h>
#include <string.h>

#include "node/node_int.h"

/* Upper bounds of the buckets, in seconds or transactions. */
static const double commit_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                       0.05,   0.1,   0.25,   0.5,   1,    2.5};
static const double block_bounds[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 10000};
static const double attest_bounds[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

void
node_metrics_hist_init(struct node_histogram *h, const double *bounds, size_t n)
{
    memset(h, 0, sizeof(*h));
    h->nbounds = n < NODE_HIST_BUCKETS ? n : NODE_HIST_BUCKETS;
    memcpy(h->bounds, bounds, h->nbounds * sizeof(bounds[0]));
}

void
node_metrics_hist_observe(struct node_histogram *h, double v)
{
    size_t i = 0;

    while (i < h->nbounds && v > h->bounds[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum += v;
}

void
node_metrics_init(struct node *n)
{
    pthread_mutex_init(&n->metrics.mu, NULL);
    node_metrics_hist_init(&n->metrics.commit, commit_bounds, SBX_ARRAY_LEN(commit_bounds));
    node_metrics_hist_init(&n->metrics.block_txs, block_bounds, SBX_ARRAY_LEN(block_bounds));
    node_metrics_hist_init(&n->metrics.attest, attest_bounds, SBX_ARRAY_LEN(attest_bounds));
}

void
node_metrics_release(struct node *n)
{
    pthread_mutex_destroy(&n->metrics.mu);
}

void
node_metrics_observe_commit(struct node *n, double seconds, const size_t *ntx, size_t nblocks)
{
    pthread_mutex_lock(&n->metrics.mu);
    if (seconds >= 0)
        node_metrics_hist_observe(&n->metrics.commit, seconds);
    for (size_t i = 0; i < nblocks; i++)
        node_metrics_hist_observe(&n->metrics.block_txs, (double)ntx[i]);
    pthread_mutex_unlock(&n->metrics.mu);
}

void
node_metrics_observe_attestation(struct node *n, double seconds)
{
    pthread_mutex_lock(&n->metrics.mu);
    node_metrics_hist_observe(&n->metrics.attest, seconds);
    pthread_mutex_unlock(&n->metrics.mu);
}

void
node_metrics_get(struct node *n, struct node_metrics_snapshot *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&n->state_mu);
    node_chain_tally(n->chain, &out->tally);
    pthread_mutex_unlock(&n->state_mu);
    pthread_mutex_lock(&n->metrics.mu);
    out->commit = n->metrics.commit;
    out->block_txs = n->metrics.block_txs;
    out->attest = n->metrics.attest;
    pthread_mutex_unlock(&n->metrics.mu);
    out->failed = atomic_load(&n->failed);
}
