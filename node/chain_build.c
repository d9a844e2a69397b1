/* Building a block (see chain.h): begin, add each transaction, seal, write.
 *
 * node_chain_add() is the only place where a transaction meets the rules, and sealing (the
 * operator) and checking (a follower, chain_apply.c) share node_chain_build_finish(): it turns
 * the applied transactions into a change set, a state digest and a store batch (block, state
 * records or a checkpoint, indexes, tip), in named steps.
 *
 * Threads: begin/add/abort_empty/seal on the sequencer; node_chain_write and
 * node_chain_write_all on the committer (for sealed blocks, while the next one is built);
 * node_sealed_release on whichever thread owns the sealed block.
 */
#include <stdlib.h>
#include <string.h>

#include "node/chain_internal.h"
#include "util/array.h"
#include "util/log.h"

int
node_chain_begin(struct node_chain *c, int64_t time_ms)
{
    if (c->building)
        SBX_BUG("node_chain_begin while a block is open");
    c->building = 1;
    c->time_ms = time_ms < c->tip_time ? c->tip_time : time_ms;
    c->n = 0;
    c->nblock_ids = 0;
    c->nbalerts = 0;
    c->block_substantive = 0;
    buf_reset(&c->txs);
    c->batch = ledger_store_batch_new();
    return c->batch ? SBX_OK : SBX_ENOMEM;
}

void
node_chain_build_drop(struct node_chain *c)
{
    if (!c->building)
        return;
    ledger_store_batch_free(c->batch);
    c->batch = NULL;
    c->building = 0;
}

void
node_chain_abort_empty(struct node_chain *c)
{
    if (!c->building || c->n != 0)
        SBX_BUG("node_chain_abort_empty on a block with transactions");
    node_chain_build_drop(c);
}

size_t
node_chain_pending(const struct node_chain *c)
{
    return c->n;
}

int
node_chain_time_fit(const struct node_chain *c, int64_t ts, int tx_type)
{
    const struct cmp_params *p = cmp_engine_params(c->eng);
    int64_t skew = p->v[CMP_P_MAX_SKEW_MS];

    /* both times are below the year 2200 (decoding refuses later ones): no overflow */
    if (ts < c->time_ms - cmp_params_time_before_ms(p, tx_type))
        return -1;
    return ts > c->time_ms + skew ? 1 : 0;
}

int64_t
node_chain_block_time(const struct node_chain *c)
{
    return c->time_ms;
}

int
node_chain_build_room(struct node_chain *c)
{
    size_t alloc = c->alloc;
    int rc;

    if (c->n >= LEDGER_BLOCK_MAX_TXS)
        return SBX_ETOOLONG;
    /* two arrays of the same length: c->alloc follows the second */
    rc = array_reserve(&c->e, c->n + 1, &alloc, sizeof(*c->e), 1024);
    return rc ? rc : array_reserve(&c->txids, c->n + 1, &c->alloc, sizeof(*c->txids), 1024);
}

/* Count transaction `tx` with its verdict in the tally and keep its alerts for the sealed block.
 */
static int
count_tx(struct node_chain *c, const struct ledger_tx *tx, const struct cmp_result *res)
{
    int rejected = res->verdict.status == LEDGER_VERDICT_REJECTED;
    int rc = array_reserve(&c->balerts, c->nbalerts + res->nalerts, &c->balerts_alloc,
                           sizeof(*c->balerts), 16);

    if (rc)
        return rc; /* before counting: a failure leaves the tally as it was */
    if ((unsigned)tx->type < NODE_TALLY_TYPES)
        c->tally.tx[tx->type][rejected]++;
    if (rejected && res->verdict.rule < NODE_TALLY_RULES)
        c->tally.rejections[res->verdict.rule]++;
    for (size_t i = 0; i < res->nalerts; i++) {
        if (res->alerts[i].kind < NODE_TALLY_ALERTS)
            c->tally.alerts[res->alerts[i].kind]++;
        c->balerts[c->nbalerts++] = res->alerts[i];
    }
    return SBX_OK;
}

void
node_chain_tally(const struct node_chain *c, struct node_tally *out)
{
    *out = c->tally;
}

int
node_chain_add(struct node_chain *c, const uint8_t *raw, size_t len, const struct ledger_tx *tx,
               const uint8_t txid[static 32], struct cmp_result *res)
{
    struct cmp_block_ctx ctx = {c->tip.height + 1, c->time_ms};
    const char *id;
    char idbuf[65];
    uint8_t kind;
    int rc;

    if (!c->building)
        SBX_BUG("node_chain_add without node_chain_begin");
    rc = node_chain_build_room(c);
    if (rc)
        return rc;
    rc = cmp_evaluate(c->eng, tx, txid, &ctx, res);
    if (rc)
        return rc;
#ifdef SBX_TEST_HOOKS
    node_chain_test_liabilities_take(c, tx, res);
#endif
    rc = buf_put(&c->txs, raw, len);
    if (rc)
        return rc;
    rc = cmp_apply(c->eng, tx, txid, &ctx, res);
    if (rc) {
        /* the engine may be half-way through a change: nothing of it may be written */
        LOG_ERROR(LOG_NODE, "applying a verdict failed: %s", sbx_rc_name(rc));
        return SBX_EINTERNAL;
    }
    id = cmp_records_id(tx, txid, res, &kind, idbuf);
    if (id != NULL) {
        rc = node_chain_ids_add(c, kind, id, txid, ctx.height);
        if (rc)
            return rc;
    }
    c->e[c->n].off = c->txs.len - len;
    c->e[c->n].len = (uint32_t)len;
    c->e[c->n].verdict = res->verdict;
    memcpy(c->txids[c->n], txid, 32);
    node_chain_index_tx(c, tx, &res->verdict); /* at index c->n */
    node_chain_liabilities_keep(c, tx, &res->verdict);
    rc = count_tx(c, tx, res);
    if (rc)
        return rc;
    if (tx->type != LEDGER_TX_ATTESTATION)
        c->block_substantive = 1;
    c->n++;
    return SBX_OK;
}

int
node_chain_verdict_root(const struct ledger_block *b, uint8_t root[static 32])
{
    uint8_t(*leaves)[32] = malloc((b->ntx ? b->ntx : 1) * 32);

    if (leaves == NULL)
        return SBX_ENOMEM;
    for (size_t i = 0; i < b->ntx; i++)
        ledger_verdict_hash(&b->entries[i].verdict, leaves[i]);
    ledger_merkle_root((const uint8_t(*)[32])leaves, b->ntx, root);
    free(leaves);
    return SBX_OK;
}

/* ------------------------------------------------------------------ finish, step by step */

/* Step 1: the header that follows the tip, with the state digest of change set hash `h`. */
static void
next_header(const struct node_chain *c, const uint8_t h[static 32], struct ledger_block_header *hdr)
{
    hdr->version = LEDGER_BLOCK_VERSION;
    hdr->height = c->tip.height + 1;
    memcpy(hdr->prev_hash, c->tip.hash, 32);
    if (hdr->height == 0)
        memset(hdr->prev_hash, 0, 32);
    hdr->time_ms = c->time_ms;
    ledger_state_digest_next(hdr->height ? c->tip.state_digest : (const uint8_t[32]){0}, h,
                             hdr->state_digest);
    hdr->ntx = (uint32_t)c->n;
}

#ifdef SBX_TEST_HOOKS
/* Test builds: the fault asked for by node_chain_test_fault, once, in a block being sealed. */
static void
test_fault_apply(struct node_chain *c, struct ledger_block_header *hdr)
{
    if (c->test_fault == 1 && c->n > 0) {
        struct ledger_verdict *v = &c->e[0].verdict;

        if (v->status == LEDGER_VERDICT_ACCEPTED) {
            v->status = LEDGER_VERDICT_REJECTED;
            v->rule = 1;
        } else {
            memset(v, 0, sizeof(*v));
            v->status = LEDGER_VERDICT_ACCEPTED;
        }
        LOG_WARN(LOG_NODE, "test hook: block %llu carries a flipped verdict",
                 (unsigned long long)hdr->height);
        c->test_fault = 0;
    }
    if (c->test_fault == 2) {
        hdr->state_digest[0] ^= 1;
        LOG_WARN(LOG_NODE, "test hook: block %llu carries a wrong state digest",
                 (unsigned long long)hdr->height);
        c->test_fault = 0;
    }
}

void
node_chain_test_fault(struct node_chain *c, int fault)
{
    c->test_fault = fault;
}

int
node_chain_test_backdate_take(struct node_chain *c)
{
    if (c->test_fault != 3)
        return 0;
    c->test_fault = 0;
    return 1;
}
#endif

/* Step 2: the entries of the block being built (pointing into c->txs), into b->entries. */
static int
fill_entries(const struct node_chain *c, struct ledger_block *b, struct sbx_err *err)
{
    b->ntx = c->n;
    b->entries = calloc(c->n ? c->n : 1, sizeof(*b->entries));
    if (b->entries == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->n; i++) {
        b->entries[i].tx = c->txs.data + c->e[i].off;
        b->entries[i].tx_len = c->e[i].len;
        b->entries[i].verdict = c->e[i].verdict;
    }
    return SBX_OK;
}

/* Step 3 when sealing: roots, producer, signature, encoding into `out`. */
static int
sign_block(const struct node_chain *c, const struct ledger_key *producer, struct ledger_block *b,
           struct buf *out, struct sbx_err *err)
{
    int rc;

    ledger_merkle_root((const uint8_t(*)[32])c->txids, c->n, b->hdr.tx_root);
    rc = node_chain_verdict_root(b, b->hdr.verdict_root);
    if (rc)
        return sbx_err_set(err, rc, "out of memory");
    memcpy(b->hdr.producer, producer->pubkey, 32);
    rc = ledger_block_sign(&b->hdr, producer);
    return rc ? rc : ledger_block_encode(b, out, err);
}

/* Step 3 when following: the received header must carry the state digest the rules give; the
 * block is then recorded as received. */
static int
take_received(struct ledger_block *b, const struct ledger_block_header *hdr_in,
              const uint8_t *raw_in, size_t raw_len, struct buf *out, struct sbx_err *err)
{
    if (memcmp(hdr_in->state_digest, b->hdr.state_digest, 32) != 0)
        return sbx_err_set(err, SBX_ECORRUPT,
                           "block %llu: state digest differs from the state the rules give",
                           (unsigned long long)b->hdr.height);
    b->hdr = *hdr_in;
    return buf_put(out, raw_in, raw_len);
}

/* Step 4: the state changes wait for the checkpoint (which this block may carry; it writes
 * their versions into the history, node/asof.c). */
static int
record_changes(struct node_chain *c, const struct ledger_changes *ch, struct node_sealed *out,
               struct sbx_err *err)
{
    for (size_t i = 0; i < ch->n; i++) {
        int rc = node_chain_checkpoint_defer(c, c->batch, &ch->v[i]);

        if (rc)
            return sbx_err_set(err, rc, "out of memory");
    }
    c->since_blocks++;
    c->since_txs += c->n;
    if (node_chain_checkpoint_due(c, out->tip.height)) {
        node_chain_checkpoint_into(c, c->batch, out->tip.height);
        out->checkpoint = 1;
    }
    return SBX_OK;
}

/* Step 5: the block, its txids and the tip go into the batch, which the sealed block takes
 * with the list of ids; the block becomes the in-memory tip. */
static void
hand_over(struct node_chain *c, const struct ledger_block_header *hdr, struct node_sealed *out)
{
    struct ledger_tip *tip = &out->tip;

    ledger_store_batch_block(c->batch, tip, out->block.data, out->block.len,
                             (const uint8_t(*)[32])c->txids, c->n);
    out->batch = c->batch;
    c->batch = NULL;
    out->ids = c->block_ids; /* the sealed block takes the list; the next block starts anew */
    out->nids = c->nblock_ids;
    c->block_ids = NULL;
    c->nblock_ids = c->block_ids_alloc = 0;
    out->alerts = c->balerts; /* the same for the alerts */
    out->nalerts = c->nbalerts;
    c->balerts = NULL;
    c->nbalerts = c->balerts_alloc = 0;
    c->tip = *tip;
    c->tip_time = hdr->time_ms;
    c->recent[tip->height % RECENT_HASHES].height1 = tip->height + 1;
    memcpy(c->recent[tip->height % RECENT_HASHES].hash, tip->hash, 32);
    if (c->block_substantive)
        atomic_store_explicit(&c->last_substantive, tip->height, memory_order_relaxed);
    c->building = 0;
}

int
node_chain_build_finish(struct node_chain *c, const struct ledger_key *producer,
                        const struct ledger_block_header *hdr_in, const uint8_t *raw_in,
                        size_t raw_len, struct node_sealed *out, struct sbx_err *err)
{
    struct ledger_changes ch;
    struct ledger_block b;
    uint8_t h[32];
    int rc;

    memset(out, 0, sizeof(*out));
    buf_init(&out->block, LEDGER_BLOCK_MAX_SIZE + 1);
    ledger_changes_init(&ch);
    memset(&b, 0, sizeof(b));
    rc = cmp_collect(c->eng, &ch);
    if (rc) {
        rc = sbx_err_set(err, SBX_EINTERNAL, "collecting state changes failed");
        goto out;
    }
    ledger_changes_hash(&ch, h);
    next_header(c, h, &b.hdr);
#ifdef SBX_TEST_HOOKS
    if (hdr_in == NULL)
        test_fault_apply(c, &b.hdr);
#endif
    rc = fill_entries(c, &b, err);
    if (rc == SBX_OK)
        rc = hdr_in != NULL ? take_received(&b, hdr_in, raw_in, raw_len, &out->block, err)
                            : sign_block(c, producer, &b, &out->block, err);
    if (rc)
        goto out;
    out->hdr = b.hdr;
    out->tip.height = b.hdr.height;
    ledger_block_hash(&b.hdr, out->tip.hash);
    memcpy(out->tip.state_digest, b.hdr.state_digest, 32);
    out->ntx = c->n;
    rc = record_changes(c, &ch, out, err);
    if (rc == SBX_OK)
        hand_over(c, &b.hdr, out);
out:
    free(b.entries);
    ledger_changes_release(&ch);
    if (rc)
        buf_release(&out->block);
    return rc;
}

int
node_chain_seal(struct node_chain *c, const struct ledger_key *producer, struct node_sealed *out,
                struct sbx_err *err)
{
    if (!c->building)
        SBX_BUG("node_chain_seal without node_chain_begin");
    return node_chain_build_finish(c, producer, NULL, NULL, 0, out, err);
}

/* ------------------------------------------------------------------ writing */

int
node_chain_write(struct node_chain *c, struct node_sealed *s, struct sbx_err *err)
{
    return node_chain_write_all(c, &s, 1, err);
}

int
node_chain_write_all(struct node_chain *c, struct node_sealed **s, size_t n, struct sbx_err *err)
{
    int rc;

    if (n == 0)
        return SBX_OK;
    for (size_t i = 1; i < n; i++)
        ledger_store_batch_append(s[0]->batch, s[i]->batch);
    rc = ledger_store_commit(c->store, s[0]->batch, c->sync_writes, err);
    if (rc)
        return rc;
    /* the ids up to the last checkpoint are in the store now: forget the in-flight copies */
    for (size_t i = n; i-- > 0;) {
        if (s[i]->checkpoint) {
            node_chain_ids_checkpointed(c, s[i]->tip.height);
            break;
        }
    }
    return SBX_OK;
}

void
node_sealed_release(struct node_sealed *s)
{
    free(s->ids);
    free(s->alerts);
    buf_release(&s->block);
    ledger_store_batch_free(s->batch);
    memset(s, 0, sizeof(*s));
}
