/* verifychain: re-verify stored blocks. rpc/ runs node_verify as the node's background job
 * (node/job.c), so that the event loop (RPC, peer links) keeps serving; node_close cancels it
 * between blocks.
 *
 * Threads: node_verify runs on the job thread, or on any thread that calls it directly (the
 * store is thread-safe).
 */
#include "node/node_int.h"

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

        if (node_job_stopping(n))
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
    return node_chain_replay_check(n->chain, from, to, checked, failed_at, &n->job.cancel, err);
}
