/* bench_ledger: throughput of the ledger's building blocks on this machine.
 *
 * Not a test: it measures, it does not judge. Each figure is the median of RUNS runs (with the
 * spread), so that one noisy run on a shared machine does not decide it:
 *   - tagged SHA-256 of a 200-byte message, one thread
 *   - BIP340 Schnorr verification on one thread and on N threads; signing on one thread
 *   - trade encode + decode, one thread
 *   - the store's synced commit rate for blocks of 1,000 signed trades (the encoded block, its
 *     hash index, 1,000 'T' entries, ~2,000 state records and the tip in one synced batch)
 * Usage: bench_ledger [threads] [dir]; the store goes in a fresh directory under `dir` (default
 * $TMPDIR or /tmp) that is removed at the end. Rates are printed with floating point; nothing
 * here feeds a hash or an amount.
 */
#define _GNU_SOURCE 1 /* statfs */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "ledger/block.h"
#include "ledger/changes.h"
#include "ledger/keys.h"
#include "ledger/store.h"
#include "ledger/tx.h"
#include "util/buf.h"
#include "util/err.h"
#include "tests/unit/test_helpers.h"
#include "util/sha256.h"

#define RUNS 5
#define RUN_SECONDS 0.3    /* target length of one timed run */
#define BLOCK_TXS 1000     /* transactions per block in the store benchmark */
#define BLOCK_RECORDS 2000 /* state change records per block */
#define BLOCKS_PER_RUN 20  /* blocks committed per timed run */
#define SIG_ITEMS 1024     /* distinct signatures cycled through by the verify benchmark */
#define ACCOUNTS 100000    /* accounts the state records are spread over */
#define RECORD_SIZE 120    /* bytes of one state record (about an account record) */
#define TMPFS_MAGIC 0x01021994

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Sorts v; prints "median /s  (min..max)". Returns the median. */
static double
report(const char *what, double *v, size_t n, const char *unit)
{
    qsort(v, n, sizeof(*v), cmp_double);
    printf("%-44s %12.0f %s  (%.0f..%.0f)\n", what, v[n / 2], unit, v[0], v[n - 1]);
    fflush(stdout);
    return v[n / 2];
}

static void
die(const char *what, int rc, const struct sbx_err *err)
{
    fprintf(stderr, "bench_ledger: %s: %s%s%s\n", what, sbx_rc_name(rc), err ? ": " : "",
            err ? err->msg : "");
    exit(1);
}

/* ---- the one-thread loops: run `op` in batches of 64 until RUN_SECONDS have passed ---- */

typedef void (*op_fn)(void *ctx, size_t i);

static double
rate_of(op_fn op, void *ctx)
{
    double t0 = now_s(), t;
    size_t n = 0;

    do {
        for (size_t k = 0; k < 64; k++, n++)
            op(ctx, n);
        t = now_s() - t0;
    } while (t < RUN_SECONDS);
    return (double)n / t;
}

static double
bench_op(const char *what, op_fn op, void *ctx)
{
    double v[RUNS];

    op(ctx, 0); /* warm up */
    for (size_t r = 0; r < RUNS; r++)
        v[r] = rate_of(op, ctx);
    return report(what, v, RUNS, "/s");
}

struct hash_ctx {
    uint8_t msg[200];
    uint8_t out[32];
};

static void
op_hash(void *ctx, size_t i)
{
    struct hash_ctx *h = ctx;

    h->msg[0] = (uint8_t)i;
    sha256_tagged(&SHA256_TAG_TX, h->out, h->msg, sizeof(h->msg));
}

struct sig_item {
    uint8_t pub[32];
    uint8_t msg[32];
    uint8_t sig[64];
};

struct sign_ctx {
    struct ledger_key key;
    uint8_t msg[32];
    uint8_t sig[64];
};

static void
op_sign(void *ctx, size_t i)
{
    struct sign_ctx *s = ctx;
    int rc;

    s->msg[0] = (uint8_t)i;
    rc = ledger_keys_sign(&s->key, s->msg, s->sig);
    if (rc)
        die("sign", rc, NULL);
}

static void
op_verify1(void *ctx, size_t i)
{
    const struct sig_item *it = (const struct sig_item *)ctx + i % SIG_ITEMS;
    int rc = ledger_keys_verify(it->pub, it->msg, it->sig);

    if (rc)
        die("verify", rc, NULL);
}

struct codec_ctx {
    struct ledger_tx tx;
    struct buf enc;
};

static void
op_codec(void *ctx, size_t i)
{
    struct codec_ctx *c = ctx;
    struct ledger_tx out;
    struct sbx_err err;
    int rc;

    (void)i;
    buf_reset(&c->enc);
    rc = ledger_tx_encode(&c->tx, &c->enc, &err);
    if (rc)
        die("tx encode", rc, &err);
    rc = ledger_tx_decode(&out, c->enc.data, c->enc.len, NULL, &err);
    if (rc)
        die("tx decode", rc, &err);
    ledger_tx_release(&out);
}

/* ---- verification on N threads ---- */

struct vjob {
    pthread_t th;
    const struct sig_item *items;
    size_t offset, count;
    pthread_barrier_t *start;
    atomic_size_t *fails;
};

static void *
vworker(void *arg)
{
    struct vjob *j = arg;
    size_t fails = 0;

    pthread_barrier_wait(j->start);
    for (size_t i = 0; i < j->count; i++) {
        const struct sig_item *it = &j->items[(j->offset + i) % SIG_ITEMS];

        fails += ledger_keys_verify(it->pub, it->msg, it->sig) != SBX_OK;
    }
    atomic_fetch_add(j->fails, fails);
    return NULL;
}

/* Each of `nthreads` threads verifies `per_thread` signatures; the wall time counts from the
 * moment all are ready to the last one's end. */
static double
verify_threads_once(const struct sig_item *items, size_t nthreads, size_t per_thread)
{
    struct vjob *jobs = calloc(nthreads, sizeof(*jobs));
    pthread_barrier_t start;
    atomic_size_t fails = 0;
    double t0, t;

    if (jobs == NULL || pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1) != 0)
        die("threads", SBX_ENOMEM, NULL);
    for (size_t i = 0; i < nthreads; i++) {
        jobs[i] = (struct vjob){.items = items,
                                .offset = i * 97,
                                .count = per_thread,
                                .start = &start,
                                .fails = &fails};
        if (pthread_create(&jobs[i].th, NULL, vworker, &jobs[i]) != 0)
            die("pthread_create", SBX_EINTERNAL, NULL);
    }
    pthread_barrier_wait(&start);
    t0 = now_s();
    for (size_t i = 0; i < nthreads; i++)
        pthread_join(jobs[i].th, NULL);
    t = now_s() - t0;
    pthread_barrier_destroy(&start);
    free(jobs);
    if (atomic_load(&fails) != 0)
        die("verify (threads)", SBX_EBADSIG, NULL);
    return (double)(nthreads * per_thread) / t;
}

/* ---- the store ---- */

struct bblock {
    struct buf txs;
    size_t off[BLOCK_TXS + 1];
    uint8_t txids[BLOCK_TXS][32];
    struct ledger_block b;
    struct buf enc;
    uint8_t hash[32];
    struct ledger_changes changes;
};

static void
make_trade(struct ledger_tx *tx, size_t blk, size_t i)
{
    struct ledger_trade *t = &tx->u.trade;
    size_t buyer = (blk * BLOCK_RECORDS + 2 * i) % ACCOUNTS, seller = (buyer + 1) % ACCOUNTS;

    ledger_tx_init(tx, LEDGER_TX_TRADE);
    tx->timestamp = 1764300000000 + (int64_t)(blk * BLOCK_TXS + i);
    snprintf(t->trade_id, sizeof(t->trade_id), "bench-%zu-%zu", blk, i);
    snprintf(t->buyer, sizeof(t->buyer), "acct-%06zu", buyer);
    snprintf(t->seller, sizeof(t->seller), "acct-%06zu", seller);
    snprintf(t->asset, sizeof(t->asset), "BTC");
    t->quantity = 1000 + (int64_t)i;
    t->price = 2500000000;
    t->fee_buyer = 2500;
    t->fee_seller = 2500;
    t->executed_at = tx->timestamp;
    snprintf(t->buyer_order, sizeof(t->buyer_order), "ob-%zu-%zu", blk, i);
    snprintf(t->seller_order, sizeof(t->seller_order), "os-%zu-%zu", blk, i);
}

/* The parallel part of building block `blk`: sign and encode its trades, set entries, roots
 * and change set. Header fields that chain (height, prev_hash, state digest) come later. */
static void
bblock_fill(struct bblock *bb, size_t blk, const struct ledger_key *op)
{
    uint8_t val[RECORD_SIZE];
    char key[32];
    struct ledger_tx tx;
    struct sbx_err err;
    int rc;

    buf_init(&bb->txs, (size_t)BLOCK_TXS * SBX_TX_MAX_SIZE);
    buf_init(&bb->enc, LEDGER_BLOCK_MAX_SIZE);
    for (size_t i = 0; i < BLOCK_TXS; i++) {
        make_trade(&tx, blk, i);
        rc = ledger_tx_sign(&tx, op, bb->txids[i], &err);
        if (rc)
            die("sign trade", rc, &err);
        bb->off[i] = bb->txs.len;
        rc = ledger_tx_encode(&tx, &bb->txs, &err);
        if (rc)
            die("encode trade", rc, &err);
    }
    bb->off[BLOCK_TXS] = bb->txs.len;
    bb->b.entries = calloc(BLOCK_TXS, sizeof(*bb->b.entries));
    if (bb->b.entries == NULL)
        die("block", SBX_ENOMEM, NULL);
    bb->b.ntx = BLOCK_TXS;
    for (size_t i = 0; i < BLOCK_TXS; i++) {
        struct ledger_block_entry *e = &bb->b.entries[i];

        e->tx = bb->txs.data + bb->off[i];
        e->tx_len = (uint32_t)(bb->off[i + 1] - bb->off[i]);
        e->verdict.status = LEDGER_VERDICT_ACCEPTED;
        e->verdict.param_version = 1;
    }
    bb->b.hdr.version = LEDGER_BLOCK_VERSION;
    bb->b.hdr.ntx = BLOCK_TXS;
    rc = ledger_block_roots(&bb->b, bb->b.hdr.tx_root, bb->b.hdr.verdict_root, NULL, &err);
    if (rc)
        die("roots", rc, &err);

    /* the buyer and seller records of each trade */
    ledger_changes_init(&bb->changes);
    memset(val, 0x5a, sizeof(val));
    for (size_t i = 0; i < BLOCK_RECORDS; i++) {
        int n = snprintf(key, sizeof(key), "Aacct-%06zu", (blk * BLOCK_RECORDS + i) % ACCOUNTS);

        buf_store_u64(val, blk);
        rc = ledger_changes_put(&bb->changes, key, (size_t)n, val, sizeof(val));
        if (rc)
            die("changes", rc, NULL);
    }
}

struct build_job {
    pthread_t th;
    struct bblock *blocks;
    size_t first, n, step;
    const struct ledger_key *op;
};

static void *
build_worker(void *arg)
{
    struct build_job *j = arg;

    for (size_t i = j->first; i < j->n; i += j->step)
        bblock_fill(&j->blocks[i], i, j->op);
    return NULL;
}

/* Build n blocks (signing spread over `nthreads`), then chain, sign and encode them. */
static struct bblock *
build_chain(size_t n, size_t nthreads, const struct ledger_key *op, const struct ledger_key *prod)
{
    struct bblock *blocks = calloc(n, sizeof(*blocks));
    struct build_job *jobs = calloc(nthreads, sizeof(*jobs));
    uint8_t prev[32] = {0}, digest[32] = {0}, ch[32];
    struct sbx_err err;
    int rc;

    if (blocks == NULL || jobs == NULL)
        die("blocks", SBX_ENOMEM, NULL);
    for (size_t i = 0; i < nthreads; i++) {
        jobs[i] =
            (struct build_job){.blocks = blocks, .first = i, .n = n, .step = nthreads, .op = op};
        if (pthread_create(&jobs[i].th, NULL, build_worker, &jobs[i]) != 0)
            die("pthread_create", SBX_EINTERNAL, NULL);
    }
    for (size_t i = 0; i < nthreads; i++)
        pthread_join(jobs[i].th, NULL);
    free(jobs);
    for (size_t h = 0; h < n; h++) {
        struct bblock *bb = &blocks[h];

        ledger_changes_hash(&bb->changes, ch);
        ledger_state_digest_next(digest, ch, digest);
        bb->b.hdr.height = h;
        memcpy(bb->b.hdr.prev_hash, prev, 32);
        bb->b.hdr.time_ms = 1764300000000 + (int64_t)h * 100;
        memcpy(bb->b.hdr.state_digest, digest, 32);
        rc = ledger_block_sign(&bb->b.hdr, prod);
        if (rc)
            die("sign block", rc, NULL);
        rc = ledger_block_encode(&bb->b, &bb->enc, &err);
        if (rc)
            die("encode block", rc, &err);
        ledger_block_hash(&bb->b.hdr, bb->hash);
        memcpy(prev, bb->hash, 32);
    }
    return blocks;
}

static void
free_chain(struct bblock *blocks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        buf_release(&blocks[i].txs);
        buf_release(&blocks[i].enc);
        free(blocks[i].b.entries);
        ledger_changes_release(&blocks[i].changes);
    }
    free(blocks);
}

/* Commit blocks [from, from + n) synced, each in one batch built here (as a producer would). */
static double
commit_run(struct ledger_store *s, struct bblock *blocks, size_t from, size_t n)
{
    struct sbx_err err;
    double t0 = now_s();
    int rc;

    for (size_t h = from; h < from + n; h++) {
        struct bblock *bb = &blocks[h];
        struct ledger_store_batch *b = ledger_store_batch_new();
        struct ledger_tip tip;

        if (b == NULL)
            die("batch", SBX_ENOMEM, NULL);
        tip.height = h;
        memcpy(tip.hash, bb->hash, 32);
        memcpy(tip.state_digest, bb->b.hdr.state_digest, 32);
        ledger_store_batch_changes(b, &bb->changes);
        ledger_store_batch_block(b, &tip, bb->enc.data, bb->enc.len, bb->txids, BLOCK_TXS);
        rc = ledger_store_commit(s, b, 1, &err);
        if (rc)
            die("commit", rc, &err);
        ledger_store_batch_free(b);
    }
    return (double)n / (now_s() - t0);
}

static void
bench_store(const char *parent, size_t nthreads, const struct ledger_key *op,
            const struct ledger_key *prod)
{
    size_t nblocks = RUNS * BLOCKS_PER_RUN + 1, n;
    struct bblock *blocks;
    struct ledger_store *s = NULL;
    struct sbx_err err;
    struct statfs fs;
    double v[RUNS], t0;
    uint64_t checked, failed_at;
    char *dir, *store;
    int rc;

    n = strlen(parent) + 32;
    dir = malloc(n);
    store = malloc(n + 8);
    if (dir == NULL || store == NULL)
        die("dir", SBX_ENOMEM, NULL);
    snprintf(dir, n, "%s/bench-ledger.XXXXXX", parent);
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "bench_ledger: mkdtemp %s: %s\n", dir, strerror(errno));
        exit(1);
    }
    snprintf(store, n + 8, "%s/ledger", dir);
    if (statfs(dir, &fs) == 0 && fs.f_type == TMPFS_MAGIC)
        fprintf(stderr,
                "bench_ledger: warning: %s is on tmpfs, where fsync costs nothing; "
                "pass a directory on disk\n",
                dir);

    t0 = now_s();
    blocks = build_chain(nblocks, nthreads, op, prod);
    printf("(built %zu blocks of %d signed trades in %.1f s; block %zu bytes, batch %d records)\n",
           nblocks, BLOCK_TXS, now_s() - t0, blocks[0].enc.len,
           1 + 1 + BLOCK_TXS + 1 + BLOCK_RECORDS);
    rc = ledger_store_open(&s, store, 1, &err);
    if (rc)
        die("open store", rc, &err);
    /* block 0 outside the timing: the first commit also creates the log files */
    commit_run(s, blocks, 0, 1);
    for (size_t r = 0; r < RUNS; r++)
        v[r] = commit_run(s, blocks, 1 + r * BLOCKS_PER_RUN, BLOCKS_PER_RUN);
    {
        double tx[RUNS];

        for (size_t r = 0; r < RUNS; r++)
            tx[r] = v[r] * BLOCK_TXS;
        report("store commit, sync=1, 1000-tx blocks", v, RUNS, "blocks/s");
        report("  = transactions durably committed", tx, RUNS, "tx/s");
    }

    /* the chain just written must verify; its rate is the regulator's catch-up on one thread */
    t0 = now_s();
    rc = ledger_store_verify(s, 0, UINT64_MAX, &checked, &failed_at, &err);
    if (rc)
        die("verify store", rc, &err);
    printf("%-44s %12.0f tx/s  (one run, %llu blocks)\n", "store verify (all checks), 1 thread",
           (double)checked * BLOCK_TXS / (now_s() - t0), (unsigned long long)checked);

    ledger_store_close(s);
    free_chain(blocks, nblocks);
    test_rmtree(dir);
    free(store);
    free(dir);
}

/* ---- main ---- */

static void
usage(FILE *f)
{
    fprintf(f, "usage: bench_ledger [threads] [dir]   (threads: default the number of cores; "
               "dir: parent of the temporary store, default $TMPDIR or /tmp)\n");
}

int
main(int argc, char **argv)
{
    long nthreads = sysconf(_SC_NPROCESSORS_ONLN);
    const char *parent = getenv("TMPDIR");
    struct sign_ctx sc;
    struct hash_ctx hc;
    struct codec_ctx cc;
    struct sig_item *items;
    struct sbx_err err;
    double rate1, v[RUNS];
    size_t per_thread;
    int rc;

    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc > 3) {
        usage(stderr);
        return 2;
    }
    if (argc > 1) {
        char *end;

        errno = 0;
        nthreads = strtol(argv[1], &end, 10);
        if (errno || end == argv[1] || *end != '\0' || nthreads < 1 || nthreads > 1024) {
            usage(stderr);
            return 2;
        }
    }
    if (nthreads < 1)
        nthreads = 1;
    if (argc > 2)
        parent = argv[2];
    if (parent == NULL || parent[0] == '\0')
        parent = "/tmp";

    rc = sha256_global_init();
    rc = rc ? rc : ledger_keys_global_init();
    if (rc)
        die("init", rc, NULL);
    rc = ledger_keys_generate(&sc.key);
    if (rc)
        die("key", rc, NULL);
    printf("bench_ledger: median of %d runs (min..max), %ld threads where threaded\n", RUNS,
           nthreads);

    memset(&hc, 0x61, sizeof(hc));
    bench_op("sha256_tagged, 200-byte message, 1 thread", op_hash, &hc);

    items = calloc(SIG_ITEMS, sizeof(*items));
    if (items == NULL)
        die("items", SBX_ENOMEM, NULL);
    for (size_t i = 0; i < SIG_ITEMS; i++) {
        buf_store_u64(items[i].msg, i);
        sha256(items[i].msg, items[i].msg, 8);
        memcpy(items[i].pub, sc.key.pubkey, 32);
        rc = ledger_keys_sign(&sc.key, items[i].msg, items[i].sig);
        if (rc)
            die("sign", rc, NULL);
    }
    rate1 = bench_op("schnorr verify, 1 thread", op_verify1, items);
    per_thread = (size_t)(rate1 * RUN_SECONDS);
    if (per_thread < 1000)
        per_thread = 1000;
    for (size_t r = 0; r < RUNS; r++)
        v[r] = verify_threads_once(items, (size_t)nthreads, per_thread);
    {
        char what[64];

        snprintf(what, sizeof(what), "schnorr verify, %ld threads", nthreads);
        report(what, v, RUNS, "/s");
    }
    bench_op("schnorr sign, 1 thread", op_sign, &sc);
    free(items);

    make_trade(&cc.tx, 0, 0);
    buf_init(&cc.enc, SBX_TX_MAX_SIZE);
    rc = ledger_tx_sign(&cc.tx, &sc.key, NULL, &err);
    if (rc)
        die("sign trade", rc, &err);
    bench_op("trade encode + decode, 1 thread", op_codec, &cc);
    buf_release(&cc.enc);

    {
        struct ledger_key prod;

        rc = ledger_keys_generate(&prod);
        if (rc)
            die("key", rc, NULL);
        bench_store(parent, (size_t)nthreads, &sc.key, &prod);
        ledger_keys_wipe(&prod);
    }
    ledger_keys_wipe(&sc.key);
    return 0;
}
