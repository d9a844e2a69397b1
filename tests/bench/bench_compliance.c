/* bench_compliance: what the compliance engine costs per trade on the sequencer's hot path.
 *
 * Sets up an engine with ACCOUNTS funded tier-3 accounts (limits raised so that every trade is
 * accepted, but every check still runs), warms the state up, then times on a pre-built array of
 * N trades between random account pairs at realistic prices:
 *
 *   process   cmp_process (evaluate + apply) of each trade, with a cmp_collect after every
 *             1,000 trades (a block), timed separately;
 *   evaluate  cmp_evaluate alone (the checktrade dry run and a regulator's re-check) on fresh
 *             trade ids over the warm state;
 *
 * and reports ns per trade as the median of RUNS runs (min and max too), and the cost of one
 * cmp_collect per 1,000 trades. Ids of earlier blocks are kept in memory (no lookup hook, as in
 * the unit tests: the map grows by one entry per trade), or with `hook` they are "in the store"
 * as on a node, through a hook that finds nothing (the store's cost is not counted): the engine
 * then keeps only two blocks of ids.
 *
 * Usage: bench_compliance [N [ACCOUNTS [hook]]]. Target: < 2 us per trade.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compliance/engine.h"
#include "compliance/params.h"
#include "ledger/changes.h"
#include "tests/unit/test_helpers.h"

#define RUNS 5
#define BLOCK 1000
#define PRICE INT64_C(2500000000)      /* VND per BTC */
#define T_START INT64_C(1759287600000) /* 2025-10-01 10:00 UTC+7 */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t
rng(void)
{
    /* xorshift64*: deterministic, so every run of the benchmark does the same work */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717u;
}

static int64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
die(const char *what, int rc, const char *detail)
{
    fprintf(stderr, "bench_compliance: %s: %s%s%s\n", what, sbx_rc_name(rc), detail ? ": " : "",
            detail ? detail : "");
    exit(1);
}

static int
no_old_ids(void *ctx, const uint8_t *key, size_t klen)
{
    (void)ctx;
    (void)key;
    (void)klen;
    return 0;
}

static int
cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

    return (a > b) - (a < b);
}

static int64_t
median(int64_t *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_i64);
    return v[n / 2];
}

struct bench {
    struct cmp_engine *e;
    uint8_t op[32];
    uint64_t height;
    uint32_t ntx;
    size_t naccounts;
    struct ledger_changes ch;
};

static void
txid_for(uint8_t out[32], uint32_t n)
{
    test_txid_for(out, 0x5c, n);
}

static void
must_accept(struct bench *b, const struct ledger_tx *tx)
{
    struct cmp_block_ctx ctx = {b->height, tx->timestamp};
    struct cmp_result res;
    uint8_t txid[32];
    int rc;

    txid_for(txid, ++b->ntx);
    rc = cmp_process(b->e, tx, txid, &ctx, &res);
    if (rc)
        die("setup", rc, NULL);
    if (res.verdict.status != LEDGER_VERDICT_ACCEPTED)
        die("setup rejected", SBX_EREJECTED, res.message);
}

static void
collect(struct bench *b)
{
    int rc = cmp_collect(b->e, &b->ch);

    if (rc)
        die("cmp_collect", rc, NULL);
    ledger_changes_reset(&b->ch);
    b->height++;
}

static void
setup(struct bench *b, size_t naccounts)
{
    static const char params[] =
        "{\"house_account\":\"HOUSE\",\"licence_id\":\"BENCH\",\"params\":{"
        "\"asset.BTC.ref_price_vnd\":2500000000,\"asset.ETH.ref_price_vnd\":90000000,"
        "\"licence.valid_from\":1756659600000,\"licence.valid_to\":1851267600000,"
        "\"limit.participants_max\":100000000,"
        "\"limit.per_trade.tier3\":1000000000000000000,\"limit.daily.tier3\":1000000000000000000,"
        "\"limit.monthly.tier3\":1000000000000000000,\"limit.holding.tier3\":1000000000000000000,"
        "\"limit.exchange_daily\":9000000000000000000,"
        "\"limit.exchange_total\":9000000000000000000,\"price.max_age_s\":0}}";
    struct ledger_tx g, tx;
    struct ledger_genesis *gen = &g.u.genesis;
    struct sbx_err err;
    char *licence = cmp_params_canonicalize(params, strlen(params), &err);
    int rc;

    if (licence == NULL)
        die("licence", err.code, err.msg);
    memset(b, 0, sizeof(*b));
    memset(b->op, 0x01, 32);
    b->height = 1;
    b->naccounts = naccounts;
    ledger_changes_init(&b->ch);
    ledger_tx_init(&g, LEDGER_TX_GENESIS);
    memcpy(g.signer, b->op, 32);
    g.timestamp = T_START - 86400000;
    snprintf(gen->network, sizeof(gen->network), "%s", "sbx-bench");
    memcpy(gen->operator_key, b->op, 32);
    gen->nregulators = 1;
    memset(gen->regulator_keys[0], 0x10, 32);
    gen->directive_quorum = 1;
    gen->attestation_quorum = 1;
    test_genesis_assets(gen, licence);
    rc = cmp_engine_new(&b->e, &g, &err);
    free(licence);
    if (rc)
        die("cmp_engine_new", rc, err.msg);

    for (size_t i = 0; i < naccounts; i++) {
        struct ledger_account_open *o = &tx.u.account_open;
        struct ledger_transfer *t = &tx.u.transfer;

        ledger_tx_init(&tx, LEDGER_TX_ACCOUNT_OPEN);
        memcpy(tx.signer, b->op, 32);
        tx.timestamp = T_START;
        snprintf(o->account, sizeof(o->account), "acct-%06zu", i);
        o->kyc_tier = 3;
        o->investor_class =
            i % 7 == 6 ? LEDGER_CLASS_FOREIGN_INDIVIDUAL : LEDGER_CLASS_DOMESTIC_INDIVIDUAL;
        memcpy(o->country, i % 7 == 6 ? "SG" : "VN", 3);
        memset(o->kyc_ref, 0x11, 32);
        memset(o->bank_ref, 0x22, 32);
        must_accept(b, &tx);
        for (int a = 0; a < 2; a++) {
            ledger_tx_init(&tx, LEDGER_TX_DEPOSIT);
            memcpy(tx.signer, b->op, 32);
            tx.timestamp = T_START;
            snprintf(t->transfer_id, sizeof(t->transfer_id), "fund-%zu-%d", i, a);
            snprintf(t->account, sizeof(t->account), "acct-%06zu", i);
            snprintf(t->asset, sizeof(t->asset), "%s", a ? "BTC" : "VND");
            t->amount = a ? INT64_C(10000000000000) : INT64_C(1000000000000000);
            snprintf(t->reference, sizeof(t->reference), "bank-%zu-%d", i, a);
            t->has_travel_rule = (uint8_t)a;
            t->travel_rule.protocol = LEDGER_TRAVEL_TRISA;
            snprintf(t->travel_rule.vasp, sizeof(t->travel_rule.vasp), "%s", "vasp-1");
            memset(t->travel_rule.originator_hash, 0x33, 32);
            memset(t->travel_rule.beneficiary_hash, 0x44, 32);
            t->travel_rule.status = a ? LEDGER_TRAVEL_ACCEPTED : 0;
            must_accept(b, &tx);
        }
        if (i % BLOCK == BLOCK - 1)
            collect(b);
    }
    collect(b);
}

/* Fill `v` with n trades between random distinct accounts, ids "<tag>-<i>", 10 ms apart. */
static void
make_trades(struct bench *b, struct ledger_tx *v, size_t n, const char *tag, int64_t t0)
{
    for (size_t i = 0; i < n; i++) {
        struct ledger_tx *tx = &v[i];
        struct ledger_trade *t = &tx->u.trade;
        size_t buyer = rng() % b->naccounts, seller = rng() % (b->naccounts - 1);

        if (seller >= buyer)
            seller++;
        ledger_tx_init(tx, LEDGER_TX_TRADE);
        memcpy(tx->signer, b->op, 32);
        tx->timestamp = t0 + (int64_t)i * 10;
        snprintf(t->trade_id, sizeof(t->trade_id), "%s-%zu", tag, i);
        snprintf(t->buyer, sizeof(t->buyer), "acct-%06zu", buyer);
        snprintf(t->seller, sizeof(t->seller), "acct-%06zu", seller);
        memcpy(t->asset, "BTC", 4);
        t->quantity = 10000 + (int64_t)(rng() % 1000000); /* 0.0001 .. 0.0101 BTC */
        t->price = PRICE - 5000000 + (int64_t)(rng() % 10000000);
        t->fee_buyer = 1000 + (int64_t)(rng() % 5000);
        t->fee_seller = 1000 + (int64_t)(rng() % 5000);
        t->executed_at = tx->timestamp;
        snprintf(t->buyer_order, sizeof(t->buyer_order), "bo-%zu", i);
        snprintf(t->seller_order, sizeof(t->seller_order), "so-%zu", i);
    }
}

/* Process v[0..n) in blocks of BLOCK; returns the processing time, adds the collect times. */
static int64_t
process_all(struct bench *b, const struct ledger_tx *v, size_t n, int64_t *collect_ns,
            size_t *ncollect)
{
    struct cmp_result res;
    uint8_t txid[32];
    int64_t total = 0;
    size_t rejected = 0;

    for (size_t i = 0; i < n; i += BLOCK) {
        size_t end = i + BLOCK < n ? i + BLOCK : n;
        int64_t t0 = now_ns(), t1;

        for (size_t k = i; k < end; k++) {
            struct cmp_block_ctx ctx = {b->height, v[k].timestamp};
            int rc;

            txid_for(txid, ++b->ntx);
            rc = cmp_process(b->e, &v[k], txid, &ctx, &res);
            if (rc)
                die("cmp_process", rc, NULL);
            rejected += res.verdict.status != LEDGER_VERDICT_ACCEPTED;
        }
        t1 = now_ns();
        total += t1 - t0;
        collect(b);
        if (collect_ns)
            collect_ns[(*ncollect)++] = now_ns() - t1;
    }
    if (rejected)
        die("process: trades rejected (the benchmark wants valid trades)", SBX_EREJECTED, NULL);
    return total;
}

static int64_t
evaluate_all(struct bench *b, const struct ledger_tx *v, size_t n)
{
    struct cmp_result res;
    uint8_t txid[32];
    size_t rejected = 0;
    int64_t t0 = now_ns();

    txid_for(txid, 0xffffffffu);
    for (size_t k = 0; k < n; k++) {
        struct cmp_block_ctx ctx = {b->height, v[k].timestamp};
        int rc = cmp_evaluate(b->e, &v[k], txid, &ctx, &res);

        if (rc)
            die("cmp_evaluate", rc, NULL);
        rejected += res.verdict.status != LEDGER_VERDICT_ACCEPTED;
    }
    t0 = now_ns() - t0;
    if (rejected)
        die("evaluate: trades rejected", SBX_EREJECTED, res.message);
    return t0;
}

int
main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
    size_t naccounts = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
    int hook = argc > 3 && strcmp(argv[3], "hook") == 0;
    struct ledger_tx *v;
    struct bench b;
    int64_t proc[RUNS], eval[RUNS], *coll, t = T_START + 60000;
    size_t ncoll = 0, warm = n / 4 ? n / 4 : 1;
    char tag[16];

    if (n == 0 || naccounts < 2 || (argc > 3 && !hook)) {
        fprintf(stderr, "usage: bench_compliance [N >= 1 [ACCOUNTS >= 2 [hook]]]\n");
        return 2;
    }
    v = calloc(n, sizeof(*v));
    coll = calloc((n / BLOCK + 1) * RUNS, sizeof(*coll));
    if (v == NULL || coll == NULL) {
        fprintf(stderr, "bench_compliance: out of memory\n");
        return 1;
    }
    setup(&b, naccounts);
    if (hook)
        cmp_engine_set_id_lookup(b.e, no_old_ids, NULL);
    /* warm-up: every account's usage counters and rolling windows filled */
    make_trades(&b, v, warm, "warm", t);
    process_all(&b, v, warm, NULL, NULL);
    t += (int64_t)warm * 10;

    for (int r = 0; r < RUNS; r++) {
        snprintf(tag, sizeof(tag), "r%d", r);
        make_trades(&b, v, n, tag, t);
        t += (int64_t)n * 10;
        proc[r] = process_all(&b, v, n, coll, &ncoll);
    }
    make_trades(&b, v, n, "eval", t);
    for (int r = 0; r < RUNS; r++)
        eval[r] = evaluate_all(&b, v, n);

    printf("compliance engine, %zu accounts, %zu trades per run, ids %s, median of %d runs "
           "(min .. max), ns per trade:\n",
           naccounts, n, hook ? "of earlier blocks through a hook" : "all in memory", RUNS);
    {
        int64_t pm, em;

        for (int r = 0; r < RUNS; r++) {
            proc[r] /= (int64_t)n;
            eval[r] /= (int64_t)n;
        }
        pm = median(proc, RUNS);
        em = median(eval, RUNS);
        printf("  cmp_process (evaluate + apply): %6lld ns  (%lld .. %lld)\n", (long long)pm,
               (long long)proc[0], (long long)proc[RUNS - 1]);
        printf("  cmp_evaluate alone:             %6lld ns  (%lld .. %lld)\n", (long long)em,
               (long long)eval[0], (long long)eval[RUNS - 1]);
        printf("  cmp_collect per %d trades:    %6lld ns  (median of %zu blocks; %lld ns per "
               "trade)\n",
               BLOCK, (long long)median(coll, ncoll), ncoll,
               (long long)(median(coll, ncoll) / BLOCK));
        printf("  cmp_process + its share of cmp_collect: %lld ns per trade\n",
               (long long)(pm + median(coll, ncoll) / BLOCK));
        printf("  target < 2000 ns per trade (cmp_process): %s\n", pm < 2000 ? "met" : "NOT met");
    }
    cmp_engine_free(b.e);
    ledger_changes_release(&b.ch);
    free(coll);
    free(v);
    return 0;
}
