/* sbx-bench: building the phases of a run (see bench_load.h): getinfo, accounts, deposits,
 * the set-up trades and the trades, every call with the kind of outcome it is built for. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>
#include <jansson.h>

#include "util/err.h"
#include "util/time.h"

#include "tests/bench/bench_load.h"

static struct phase *
phase_new(const char *name)
{
    struct phase *p = xcalloc(1, sizeof(*p));

    p->name = name;
    return p;
}

void
phase_free(struct phase *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->nreqs; i++)
        free(p->reqs[i].buf);
    if (p->texts != NULL)
        for (size_t i = 0; i < p->ncalls; i++)
            free(p->texts[i]);
    free(p->texts);
    free(p->reqs);
    free(p->calls);
    free(p->lat_us);
    free(p);
}

/* Add one call `{"jsonrpc":"2.0","id":N,"method":M,"params":{...}}`; `fmt` gives the params'
 * members (without braces). Every value we put in is plain ASCII without quotes. */
static void SBX_PRINTF(4, 5)
    add_call(struct phase *p, enum kind k, const char *method, const char *fmt, ...)
{
    char params[CALL_MAX], text[CALL_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(params, sizeof(params), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(params))
        die("internal: call parameters too long");
    n = snprintf(text, sizeof(text),
                 "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"%s\",\"params\":{%s}}", p->ncalls,
                 method, params);
    if (n < 0 || (size_t)n >= sizeof(text))
        die("internal: call too long");
    if (p->ncalls == p->calls_alloc) {
        size_t alloc = p->calls_alloc ? p->calls_alloc * 2 : 1024;
        struct call *c = realloc(p->calls, alloc * sizeof(*c));
        char **t = realloc(p->texts, alloc * sizeof(*t));

        if (c == NULL || t == NULL)
            die("out of memory");
        p->calls = c;
        p->texts = t;
        p->calls_alloc = alloc;
    }
    p->calls[p->ncalls].kind = (uint8_t)k;
    p->calls[p->ncalls].answered = 0;
    p->texts[p->ncalls] = strdup(text);
    if (p->texts[p->ncalls] == NULL)
        die("out of memory");
    p->ncalls++;
}

/* Turn the calls into HTTP requests of `batch` calls each (a single call is sent as an object,
 * more as a JSON array), headers included, and drop the call texts. */
void
phase_pack(struct bench *b, struct phase *p, int batch)
{
    size_t per = batch > 1 ? (size_t)batch : 1;

    p->nreqs = (p->ncalls + per - 1) / per;
    p->reqs = xcalloc(p->nreqs, sizeof(*p->reqs));
    p->lat_us = xcalloc(p->nreqs, sizeof(*p->lat_us));
    for (size_t r = 0; r < p->nreqs; r++) {
        struct hreq *h = &p->reqs[r];
        size_t first = r * per;
        size_t n = p->ncalls - first < per ? p->ncalls - first : per;
        size_t body = n > 1 ? 2 + (n - 1) : 0; /* brackets and commas */
        char head[HEAD_MAX];
        size_t off;
        int hl;

        for (size_t i = 0; i < n; i++)
            body += strlen(p->texts[first + i]);
        hl = snprintf(head, sizeof(head),
                      "POST / HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      b->host, b->auth, body);
        if (hl < 0 || (size_t)hl >= sizeof(head))
            die("internal: request header too long");
        h->first = first;
        h->ncalls = n;
        h->len = (size_t)hl + body;
        h->buf = xcalloc(1, h->len + 1);
        memcpy(h->buf, head, (size_t)hl);
        off = (size_t)hl;
        if (n > 1)
            h->buf[off++] = '[';
        for (size_t i = 0; i < n; i++) {
            size_t l = strlen(p->texts[first + i]);

            if (i > 0)
                h->buf[off++] = ',';
            memcpy(h->buf + off, p->texts[first + i], l);
            off += l;
            free(p->texts[first + i]);
            p->texts[first + i] = NULL;
        }
        if (n > 1)
            h->buf[off++] = ']';
    }
    free(p->texts);
    p->texts = NULL;
}

static void
open_call(struct bench *b, struct phase *p, enum kind k, const struct account *a, const char *class,
          const char *country)
{
    char kyc[65], bank[65];

    rng_hex64(b, kyc);
    rng_hex64(b, bank);
    add_call(p, k, "openaccount",
             "\"account\":\"%s\",\"kyc_tier\":%d,\"investor_class\":\"%s\",\"country\":\"%s\","
             "\"kyc_ref\":\"%s\",\"bank_ref\":\"%s\"",
             a->id, a->tier, class, country, kyc, bank);
}

static void
deposit_call(struct bench *b, struct phase *p, const struct account *a, const char *asset,
             int64_t amount)
{
    unsigned long n = b->ndeposits++;
    char amt[32], orig[65], bene[65];

    if (strcmp(asset, "VND") == 0) {
        add_call(p, K_DEPOSIT, "deposit",
                 "\"transfer_id\":\"%s-d%lu\",\"account\":\"%s\",\"asset\":\"VND\","
                 "\"amount\":\"%" PRId64 "\",\"reference\":\"BANK-%s-%lu\"",
                 b->prefix, n, a->id, amount, b->prefix, n);
    } else {
        fmt_coin(amt, amount);
        rng_hex64(b, orig);
        rng_hex64(b, bene);
        add_call(p, K_DEPOSIT, "deposit",
                 "\"transfer_id\":\"%s-d%lu\",\"account\":\"%s\",\"asset\":\"%s\","
                 "\"amount\":\"%s\",\"reference\":\"chain-%s-%lu\","
                 "\"travel_rule\":{\"protocol\":\"trisa\",\"vasp\":\"vasp-bench\","
                 "\"originator_hash\":\"%s\",\"beneficiary_hash\":\"%s\",\"status\":\"accepted\"},"
                 "\"screening\":{\"provider\":\"chainscan-bench\",\"score\":0}",
                 b->prefix, n, a->id, asset, amt, b->prefix, n, orig, bene);
    }
}

static void
trade_call(struct bench *b, struct phase *p, enum kind k, const char *trade_id, const char *buyer,
           const char *seller, const char *asset, const char *qty, int64_t price)
{
    add_call(p, k, "submittrade",
             "\"trade_id\":\"%s\",\"buyer\":\"%s\",\"seller\":\"%s\",\"asset\":\"%s\","
             "\"quantity\":\"%s\",\"price\":\"%" PRId64 "\",\"fee_buyer\":\"10\","
             "\"fee_seller\":\"10\",\"executed_at\":%" PRId64 ",\"buyer_order\":\"%s-b\","
             "\"seller_order\":\"%s-s\"",
             trade_id, buyer, seller, asset, qty, price, time_now_ms(), trade_id, trade_id);
}

static int
tier_factor(int tier)
{
    return tier == 1 ? 1 : tier == 2 ? 5 : 25;
}

struct phase *
build_info(void)
{
    struct phase *p = phase_new("node");

    add_call(p, K_INFO, "getinfo", "%s", "");
    return p;
}

struct phase *
build_accounts(struct bench *b)
{
    struct phase *p = phase_new("accounts");

    b->nacc = b->o.accounts;
    b->acc = xcalloc((size_t)b->nacc, sizeof(*b->acc));
    for (long i = 0; i < b->nacc; i++) {
        struct account *a = &b->acc[i];
        int foreign = i % 10 == 9;

        snprintf(a->id, sizeof(a->id), "%s-a%ld", b->prefix, i);
        a->tier = 1 + (int)(i % 3);
        open_call(b, p, K_OPEN, a,
                  foreign        ? (i % 20 == 19 ? "foreign_org" : "foreign_individual")
                  : i % 25 == 24 ? "domestic_org"
                                 : "domestic_individual",
                  foreign ? (i % 30 == 29 ? "SG" : "JP") : "VN");
    }
    snprintf(b->mm.id, sizeof(b->mm.id), "%s-mm", b->prefix);
    b->mm.tier = 3;
    open_call(b, p, K_OPEN, &b->mm, "domestic_org", "VN");
    for (int i = 0; i < N_EXHAUST; i++) {
        snprintf(b->exhaust[i].id, sizeof(b->exhaust[i].id), "%s-e%d", b->prefix, i);
        b->exhaust[i].tier = 1;
        open_call(b, p, K_OPEN, &b->exhaust[i], "domestic_individual", "VN");
    }
    for (int i = 0; i < N_POOR; i++) {
        snprintf(b->poor[i].id, sizeof(b->poor[i].id), "%s-p%d", b->prefix, i);
        b->poor[i].tier = 1;
        open_call(b, p, K_OPEN, &b->poor[i], "domestic_individual", "VN");
    }
    return p;
}

/* Funds inside every limit.holding at the reference prices (tier 1: 500,000,000 VND per asset):
 * 0.05 BTC (125,000,000 VND) and 2 ETH (180,000,000 VND) per tier-1 unit. */
struct phase *
build_deposits(struct bench *b)
{
    struct phase *p = phase_new("deposits");

    for (long i = 0; i < b->nacc; i++) {
        int64_t f = tier_factor(b->acc[i].tier);

        deposit_call(b, p, &b->acc[i], "VND", 200000000 * f);
        deposit_call(b, p, &b->acc[i], "BTC", COIN / 20 * f);
        deposit_call(b, p, &b->acc[i], "ETH", 2 * COIN * f);
    }
    deposit_call(b, p, &b->mm, "VND", INT64_C(5000000000));
    deposit_call(b, p, &b->mm, "BTC", COIN);
    deposit_call(b, p, &b->mm, "ETH", 10 * COIN);
    /* E: 0.08 BTC (200,000,000 VND) and 300,000,000 VND, so that the four set-up trades pass in
     * any order. P: nothing. */
    for (int i = 0; i < N_EXHAUST; i++) {
        deposit_call(b, p, &b->exhaust[i], "VND", 300000000);
        deposit_call(b, p, &b->exhaust[i], "BTC", COIN * 8 / 100);
    }
    return p;
}

/* Each E buys and sells 0.04 BTC at 2,500,000,000 twice with M: four trades of exactly the
 * tier-1 per-trade limit (100,000,000 VND), using up exactly its daily limit (400,000,000). */
struct phase *
build_setup(struct bench *b)
{
    struct phase *p = phase_new("set-up trades");
    char qty[32];

    fmt_coin(qty, COIN * 4 / 100);
    b->nsetup = 0;
    for (int i = 0; i < N_EXHAUST; i++) {
        for (int j = 0; j < 4; j++) {
            char *id = b->setup_ids[b->nsetup++];

            snprintf(id, sizeof(b->setup_ids[0]), "%s-s%d-%d", b->prefix, i, j);
            if (j % 2 == 0)
                trade_call(b, p, K_SETUP, id, b->exhaust[i].id, b->mm.id, "BTC", qty, BTC_REF);
            else
                trade_call(b, p, K_SETUP, id, b->mm.id, b->exhaust[i].id, "BTC", qty, BTC_REF);
        }
    }
    return p;
}

/* The ordinary trades' size: at most 125,000 VND, and small enough that an account's expected
 * volume over the run stays under 150,000,000 VND (well inside the tier-1 daily limit of
 * 400,000,000, the 200,000,000 VND it holds, and the assets it holds). */
static void
size_trades(struct bench *b)
{
    int64_t per_account = 2 * (int64_t)b->o.trades / b->nacc + 1;
    int64_t notional = INT64_C(150000000) / per_account;

    if (notional > 125000)
        notional = 125000;
    b->qmax_btc = notional * COIN / BTC_REF;
    b->qmax_eth = notional * COIN / ETH_REF;
    if (b->qmax_btc < 1)
        b->qmax_btc = 1;
    if (b->qmax_eth < 1)
        b->qmax_eth = 1;
}

static void
valid_trade(struct bench *b, struct phase *p, long n)
{
    char id[80], qty[32];
    long buyer = (long)rng_below(b, (uint64_t)b->nacc);
    long seller = (long)rng_below(b, (uint64_t)b->nacc - 1);
    int btc = rng_below(b, 2) == 0;
    int64_t qmax = btc ? b->qmax_btc : b->qmax_eth;
    int64_t ref = btc ? BTC_REF : ETH_REF;
    int64_t q = qmax / 2 + (int64_t)rng_below(b, (uint64_t)(qmax - qmax / 2)) + 1;
    /* within 0.2% of the reference price, so that valuations hardly move */
    int64_t price = ref - ref / 500 + (int64_t)rng_below(b, (uint64_t)(ref / 250));

    if (seller >= buyer)
        seller++;
    if (q > qmax)
        q = qmax;
    fmt_coin(qty, q);
    snprintf(id, sizeof(id), "%s-t%ld", b->prefix, n);
    trade_call(b, p, K_TRADE, id, b->acc[buyer].id, b->acc[seller].id, btc ? "BTC" : "ETH", qty,
               price);
}

static void
bad_trade(struct bench *b, struct phase *p, long n, enum kind k)
{
    char id[80], other[80], qty[32], small[32];
    long tier1 = 3 * (long)rng_below(b, (uint64_t)(b->nacc + 2) / 3);
    long any = (long)rng_below(b, (uint64_t)b->nacc);
    const struct account *a;

    if (tier1 >= b->nacc)
        tier1 = 0;
    snprintf(id, sizeof(id), "%s-t%ld", b->prefix, n);
    fmt_coin(small, 1000);
    switch (k) {
    case K_BAD_PER_TRADE: /* 0.05 BTC = 125,000,000 VND > 100,000,000 (tier 1) */
        fmt_coin(qty, COIN / 20);
        trade_call(b, p, k, id, b->acc[tier1].id, b->mm.id, "BTC", qty, BTC_REF);
        break;
    case K_BAD_DAILY:
        a = &b->exhaust[rng_below(b, N_EXHAUST)];
        trade_call(b, p, k, id, a->id, b->mm.id, "BTC", small, BTC_REF);
        break;
    case K_BAD_BALANCE:
        a = &b->poor[rng_below(b, N_POOR)];
        trade_call(b, p, k, id, a->id, b->mm.id, "BTC", small, BTC_REF);
        break;
    case K_BAD_UNKNOWN:
        snprintf(other, sizeof(other), "%s-nosuch%ld", b->prefix, n);
        trade_call(b, p, k, id, other, b->mm.id, "BTC", small, BTC_REF);
        break;
    case K_BAD_UNLISTED: /* a whole number: valid whatever decimals a parser assumes */
        trade_call(b, p, k, id, b->acc[any].id, b->mm.id, "DOGE", "1", 1000);
        break;
    case K_BAD_SETTLEMENT:
        trade_call(b, p, k, id, b->acc[any].id, b->mm.id, "VND", "1000", 1);
        break;
    case K_BAD_REOPEN:
        open_call(b, p, k, &b->acc[any], "domestic_individual", "VN");
        break;
    case K_BAD_CONFLICT:
        trade_call(b, p, k, b->setup_ids[rng_below(b, b->nsetup)], b->exhaust[0].id, b->mm.id,
                   "BTC", small, BTC_REF);
        break;
    default:
        SBX_BUG("bad_trade: not a bad kind");
    }
}

struct phase *
build_trades(struct bench *b)
{
    struct phase *p = phase_new("trades");
    long nbad = 0;

    size_trades(b);
    for (long n = 0; n < b->o.trades; n++) {
        if ((long)rng_below(b, 100) < b->o.badpct)
            bad_trade(b, p, n, (enum kind)(K_FIRST_BAD + nbad++ % N_BAD_KINDS));
        else
            valid_trade(b, p, n);
    }
    return p;
}
