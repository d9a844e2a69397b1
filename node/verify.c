/* verifychain: re-verify stored blocks. rpc/ runs node_verify as the node's background job
 * (node/job.c), so that the event loop (RPC, peer links) keeps serving; node_close cancels it
 * between blocks.
 *
 * Both halves run on every core: the store check (ledger_store_verify: links, roots,
 * signatures, the 'H' and 'T' entries) of ranges of VERIFY_CHUNK blocks at a time on the node's
 * pool, each range being independent (it checks the link to the block before it); then the
 * replay into a scratch chain (node_chain_replay_check), whose stateless checks run on the pool
 * ahead of the blocks being applied.
 *
 * Threads: node_verify runs on the job thread, or on any thread that calls it directly (the
 * store is thread-safe); verify_chunk on the pool's threads and that thread.
 */
#include <stdlib.h>

#include "node/node_int.h"
#include "util/par.h"

/* Blocks one item of the pool checks. */
#define VERIFY_CHUNK 32
/* Items per par_run, so that a stop need not wait for all of the range. */
#define VERIFY_ITEMS 64

struct vchunk {
    uint64_t from, to;
    uint64_t checked, failed_at;
    int rc;
    struct sbx_err err;
};

struct vrun {
    struct ledger_store *store;
    struct vchunk c[VERIFY_ITEMS];
};

static void
verify_chunk(void *ctx, size_t i)
{
    struct vrun *v = ctx;
    struct vchunk *c = &v->c[i];

    sbx_err_clear(&c->err);
    c->rc = ledger_store_verify(v->store, c->from, c->to, &c->checked, &c->failed_at, &c->err);
}

/* ledger_store_verify of from..to (to at most the tip) on the pool; *checked blocks checked
 * before the first failure, which is reported as ledger_store_verify reports it. */
static int
store_verify(struct node *n, uint64_t from, uint64_t to, uint64_t *checked, uint64_t *failed_at,
             struct sbx_err *err)
{
    struct vrun *v = calloc(1, sizeof(*v));
    uint64_t a = from;
    int rc = SBX_OK;

    if (v == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    v->store = node_chain_store(n->chain);
    while (a <= to && rc == SBX_OK) {
        size_t k = 0;

        if (node_job_stopping(n)) {
            rc = sbx_err_set(err, SBX_EUNAVAIL, "verification stopped: the node is stopping");
            break;
        }
        for (; k < VERIFY_ITEMS && a <= to; k++) {
            v->c[k].from = a;
            v->c[k].to = to - a >= VERIFY_CHUNK - 1 ? a + VERIFY_CHUNK - 1 : to;
            a = v->c[k].to + 1;
            if (v->c[k].to == UINT64_MAX) {
                k++;
                a = 0; /* wrapped: the last range */
                break;
            }
        }
        par_run(n->pool, k, verify_chunk, v);
        for (size_t i = 0; i < k && rc == SBX_OK; i++) {
            *checked += v->c[i].checked;
            if (v->c[i].rc) {
                *failed_at = v->c[i].failed_at;
                rc = v->c[i].rc;
                if (err != NULL)
                    *err = v->c[i].err;
            }
        }
        if (a == 0)
            break;
    }
    free(v);
    return rc;
}

#ifdef SBX_TEST_HOOKS
/* Test hook slow_jobs: one pause per block of the range (node_job_stopping sleeps), as
 * getreport's replay makes, so that a test sees a verification in progress however fast the
 * checks are. 1 if the node is stopping. */
static int
test_pace(struct node *n, uint64_t from, uint64_t to)
{
    if (atomic_load_explicit(&n->job.test_delay_ms, memory_order_relaxed) == 0)
        return 0;
    for (uint64_t h = from; h <= to; h++)
        if (node_job_stopping(n))
            return 1;
    return 0;
}
#endif

int
node_verify(struct node *n, uint64_t from, uint64_t to, uint64_t *checked, uint64_t *failed_at,
            struct sbx_err *err)
{
    struct ledger_tip tip;
    uint64_t done = 0;
    int rc;

    *checked = 0;
    *failed_at = 0;
    rc = ledger_store_tip(node_chain_store(n->chain), &tip, err);
    if (rc == SBX_ENOTFOUND)
        return SBX_OK; /* an empty store: nothing to check */
    if (rc)
        return rc;
    if (to > tip.height)
        to = tip.height;
#ifdef SBX_TEST_HOOKS
    if (test_pace(n, from, to))
        return sbx_err_set(err, SBX_EUNAVAIL, "verification stopped: the node is stopping");
#endif
    rc = store_verify(n, from, to, &done, failed_at, err);
    *checked = done;
    if (rc)
        return rc;
    return node_chain_replay_check(n->chain, from, to, checked, failed_at, &n->job.cancel, err);
}
