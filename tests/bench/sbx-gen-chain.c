/* sbx-gen-chain: write a long devnet chain fast, for start-up, memory and size measurements.
 *
 *   sbx-gen-chain -datadir=DIR -trades=N [-accounts=N] [-blocktxs=N] [-crash]
 *
 * It creates DIR as `sbxd -devnet` does on its first start (operator key, the embedded regulator
 * key, the devnet genesis), then appends blocks through the chain API that the operator's
 * sequencer uses (node_chain_begin, _add, _seal, _write): one block of the regulator's
 * set_param directives that lift the devnet's trading limits (else a chain stops near 860,000
 * trades on its first day), the accounts and their deposits, then N trades between pairs of
 * accounts, each pair trading back and forth so that no balance runs out. Every transaction is
 * built from the params an RPC client sends (rpc/build.c), authenticated as the node does it, and
 * applied with every rule; there is no HTTP and no pipeline, so it runs at the speed of the rules,
 * hashing and the store. `sbxd -devnet -datadir=DIR` then serves the chain. One thread; the
 * directory must be new.
 *
 * With -crash it stops as a kill -9 would leave the node: without the state checkpoint of a
 * clean stop, so that the next start replays every block after the last one (it says how many).
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "ledger/keys.h"
#include "node/chain.h"
#include "node/devnet.h"
#include "rpc/build.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/time.h"

#define BTC_QTY "0.00001000" /* 25,000 VND at the devnet's reference price */
#define BTC_PRICE "2500000000"
#define NO_LIMIT "1000000000000000"

struct gen {
    struct node_chain *c;
    const struct ledger_genesis *g;
    struct ledger_key op, reg;
    struct buf enc;
    int open; /* a block is begun */
    size_t inblock, blocktxs;
    uint64_t ntx, nrej, nblocks;
    uint64_t since_tx, since_blocks; /* written after the last state checkpoint */
};

static void die(const char *fmt, ...) SBX_PRINTF(1, 2);
static void add(struct gen *g, rpc_build_fn build, const struct ledger_key *k, const char *fmt, ...)
    SBX_PRINTF(4, 5);

static void
die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("sbx-gen-chain: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* Seal the open block with the operator key and write it (synced). */
static void
seal(struct gen *g)
{
    struct node_sealed s;
    struct sbx_err err;

    if (g->inblock == 0) {
        if (g->open)
            node_chain_abort_empty(g->c);
        g->open = 0;
        return;
    }
    if (node_chain_seal(g->c, &g->op, &s, &err) != SBX_OK ||
        node_chain_write(g->c, &s, &err) != SBX_OK)
        die("block %" PRIu64 ": %s", g->nblocks + 1, err.msg);
    g->since_tx = s.checkpoint ? 0 : g->since_tx + g->inblock;
    g->since_blocks = s.checkpoint ? 0 : g->since_blocks + 1;
    node_sealed_release(&s);
    g->inblock = 0;
    g->open = 0;
    g->nblocks++;
}

/* Begin a block at the clock's time unless one is open. */
static void
open_block(struct gen *g)
{
    if (g->open)
        return;
    if (node_chain_begin(g->c, time_now_ms()) != SBX_OK)
        die("cannot begin block %" PRIu64, g->nblocks + 1);
    g->open = 1;
}

/* Build a transaction with `build` from the params object `fmt` (printf-style), authenticate it
 * with `k` at the open block's time (block-authenticated for the operator's business
 * transactions, as the node makes them; signed otherwise), and add it to the block (opening one
 * first if none is open). */
static void
add(struct gen *g, rpc_build_fn build, const struct ledger_key *k, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    json_t *params;
    json_error_t jerr;
    struct ledger_tx tx;
    struct cmp_result res;
    struct sbx_err err;
    uint8_t txid[32];

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    params = json_loads(text, 0, &jerr);
    if (params == NULL)
        die("internal: bad params %s: %s", text, jerr.text);
    open_block(g);
    memset(&tx, 0, sizeof(tx));
    if (build(params, g->g->assets, g->g->nassets, &tx, &err) != SBX_OK)
        die("%s: %s", text, err.msg);
    tx.timestamp = node_chain_block_time(g->c);
    buf_reset(&g->enc);
    /* as the operator node does: its business transactions are authenticated by the block */
    if (ledger_tx_is_business(tx.type) && k == &g->op) {
        if (ledger_tx_seal_for_block(&tx, k->pubkey, &g->enc, txid, &err) != SBX_OK)
            die("%s: %s", text, err.msg);
    } else if (ledger_tx_sign(&tx, k, txid, &err) != SBX_OK ||
               ledger_tx_encode(&tx, &g->enc, &err) != SBX_OK) {
        die("%s: %s", text, err.msg);
    }
    if (node_chain_add(g->c, g->enc.data, g->enc.len, &tx, txid, &res) != SBX_OK)
        die("adding %s failed", text);
    if (res.verdict.status != LEDGER_VERDICT_ACCEPTED && g->nrej++ < 5)
        fprintf(stderr, "sbx-gen-chain: rejected: %s (%s)\n", res.message, text);
    ledger_tx_release(&tx);
    json_decref(params);
    g->ntx++;
    if (++g->inblock == g->blocktxs)
        seal(g);
}

/* The regulator's directives that make a long chain possible: no exchange-wide or per-account
 * daily, monthly or holding limit that bench trades could reach. */
static void
lift_limits(struct gen *g)
{
    static const char *const names[] = {
        "limit.exchange_daily", "limit.exchange_total", "limit.daily.tier1",
        "limit.daily.tier2",    "limit.daily.tier3",    "limit.monthly.tier1",
        "limit.monthly.tier2",  "limit.monthly.tier3",  "limit.holding.tier1",
        "limit.holding.tier2",  "limit.holding.tier3"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        add(g, rpc_build_directive, &g->reg,
            "{\"kind\":\"set_param\",\"name\":\"%s\",\"value\":\"" NO_LIMIT "\","
            "\"reason\":\"sbx-gen-chain\",\"legal_basis\":\"devnet\"}",
            names[i]);
    seal(g);
}

/* Accounts g0..g(n-1), each with 200,000,000 VND and 0.05 BTC. */
static void
open_accounts(struct gen *g, long n)
{
    for (long i = 0; i < n; i++)
        add(g, rpc_build_openaccount, &g->op,
            "{\"account\":\"g%ld\",\"kyc_tier\":1,\"investor_class\":\"domestic_individual\","
            "\"country\":\"VN\",\"kyc_ref\":\"%064lx\",\"bank_ref\":\"%064lx\"}",
            i, 2 * i + 1, 2 * i + 2);
    for (long i = 0; i < n; i++) {
        add(g, rpc_build_deposit, &g->op,
            "{\"transfer_id\":\"gd-v%ld\",\"account\":\"g%ld\",\"asset\":\"VND\","
            "\"amount\":\"200000000\",\"reference\":\"BANK-g%ld\"}",
            i, i, i);
        add(g, rpc_build_deposit, &g->op,
            "{\"transfer_id\":\"gd-b%ld\",\"account\":\"g%ld\",\"asset\":\"BTC\","
            "\"amount\":\"0.05000000\",\"reference\":\"chain-g%ld\",\"travel_rule\":{"
            "\"protocol\":\"trisa\",\"vasp\":\"vasp-gen\",\"originator_hash\":\"%064x\","
            "\"beneficiary_hash\":\"%064x\",\"status\":\"accepted\"},"
            "\"screening\":{\"provider\":\"chainscan-gen\",\"score\":0}}",
            i, i, i, (unsigned)i + 1, (unsigned)i + 2);
    }
    seal(g);
}

/* Trade t: pair t % (n/2) (accounts 2p and 2p+1), the buyer alternating, so that each pair's
 * balances go back and forth. */
static void
trades(struct gen *g, long n, uint64_t ntrades)
{
    long pairs = n / 2;

    for (uint64_t t = 0; t < ntrades; t++) {
        long p = (long)(t % (uint64_t)pairs);
        long flip = (long)((t / (uint64_t)pairs) % 2);
        long buyer = 2 * p + flip, seller = 2 * p + 1 - flip;

        open_block(g);
        add(g, rpc_build_trade, &g->op,
            "{\"trade_id\":\"gt%" PRIu64 "\",\"buyer\":\"g%ld\",\"seller\":\"g%ld\","
            "\"asset\":\"BTC\",\"quantity\":\"" BTC_QTY "\",\"price\":\"" BTC_PRICE "\","
            "\"fee_buyer\":\"10\",\"fee_seller\":\"10\",\"executed_at\":%" PRId64 "}",
            t, buyer, seller, node_chain_block_time(g->c));
        if (t % 1000000 == 999999)
            fprintf(stderr, "sbx-gen-chain: %" PRIu64 " trades\n", t + 1);
    }
}

static long
opt_long(const char *arg, const char *name, long min, long max)
{
    char *end;
    long v = strtol(arg, &end, 10);

    if (*arg == '\0' || *end != '\0' || v < min || v > max)
        die("-%s: not in %ld..%ld: '%s'", name, min, max, arg);
    return v;
}

int
main(int argc, char **argv)
{
    const char *datadir = NULL;
    long ntrades = -1, naccounts = 1000, blocktxs = 1000;
    int crash = 0;
    char dir[4096], key[4096];
    struct sbx_err err;
    struct gen g;
    int64_t t0 = time_now_ms();

    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "-datadir=", 9) == 0)
            datadir = argv[i] + 9;
        else if (strncmp(argv[i], "-trades=", 8) == 0)
            ntrades = opt_long(argv[i] + 8, "trades", 0, 1000000000L);
        else if (strncmp(argv[i], "-accounts=", 10) == 0)
            naccounts = opt_long(argv[i] + 10, "accounts", 2, 9000);
        else if (strcmp(argv[i], "-crash") == 0)
            crash = 1;
        else if (strncmp(argv[i], "-blocktxs=", 10) == 0)
            blocktxs = opt_long(argv[i] + 10, "blocktxs", 1, LEDGER_BLOCK_MAX_TXS);
        else
            die("usage: sbx-gen-chain -datadir=DIR -trades=N [-accounts=N (1000)] "
                "[-blocktxs=N (1000)] [-crash]");
    }
    if (datadir == NULL || ntrades < 0)
        die("-datadir and -trades are required");
    memset(&g, 0, sizeof(g));
    g.blocktxs = (size_t)blocktxs;
    buf_init(&g.enc, 4096);
    snprintf(dir, sizeof(dir), "%s/ledger", datadir);
    snprintf(key, sizeof(key), "%s/keys/operator.key", datadir);
    if (mkdir(datadir, 0700) != 0 && errno != EEXIST)
        die("cannot create %s: %s", datadir, strerror(errno));
    if (ledger_keys_global_init() != SBX_OK)
        die("cannot initialise the signature context");
    if (node_devnet_init(datadir, time_now_ms(), NULL, 0, 0, &err) != SBX_OK ||
        node_chain_open(&g.c, dir, 0, 0, &err) != SBX_OK ||
        ledger_keys_load(&g.op, key, &err) != SBX_OK)
        die("%s: %s", datadir, err.msg);
    if (node_devnet_regulator_key(&g.reg) != SBX_OK)
        die("internal: the devnet regulator key");
    if (node_chain_tip(g.c)->height != 0)
        die("%s already holds blocks: give a new directory", datadir);
    g.g = node_chain_genesis(g.c);
    lift_limits(&g);
    open_accounts(&g, naccounts);
    trades(&g, naccounts, (uint64_t)ntrades);
    seal(&g);
    if (!crash && node_chain_checkpoint(g.c, &err) != SBX_OK)
        die("checkpoint: %s", err.msg);
    if (crash)
        printf("%s: no checkpoint at the end: the next start replays %" PRIu64
               " transactions in %" PRIu64 " blocks\n",
               datadir, g.since_tx, g.since_blocks);
    node_chain_close(g.c);
    printf("%s: %" PRIu64 " transactions (%ld trades) in %" PRIu64 " blocks, %" PRIu64
           " rejected, %.1f s\n",
           datadir, g.ntx, ntrades, g.nblocks, g.nrej, (double)(time_now_ms() - t0) / 1000);
    ledger_keys_wipe(&g.op);
    ledger_keys_wipe(&g.reg);
    buf_release(&g.enc);
    return g.nrej == 0 ? 0 : 1;
}
