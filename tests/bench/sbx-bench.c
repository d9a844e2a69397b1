/* sbx-bench: a load generator for sbxd's JSON-RPC interface (doc/rpc.md).
 *
 * It opens accounts, funds them, then submits trades over many concurrent keep-alive HTTP/1.1
 * connections, one request (or one JSON-RPC batch) in flight on each, and reports what came
 * back: accepted, rejected by which rule, other errors by JSON-RPC code, with throughput and
 * latency. A share of the trades (-badpct) is built to break one rule each, so that the
 * rejection path is measured too and every rejection is checked against the rule it was built
 * to break.
 *
 * It is optimised so that the client is not what is measured: every request (headers and body)
 * is built before its phase starts and handed to the socket without a copy (written at once
 * when the connection's output is empty); responses are read by a minimal HTTP/1.1 parser on
 * libevent bufferevents; a receipt in sbxd's fixed form is read by a scan of its own, any other
 * reply body is parsed with Jansson (the same checks either way). One core drives well over
 * 10,000 requests/s.
 *
 * Set-up (all ids carry a prefix made of the start time and the pid, so runs never collide):
 *   - `accounts` ordinary accounts with KYC tiers 1..3 (a tenth foreign), each funded with VND,
 *     BTC and ETH inside the tier's limit.holding (crypto deposits carry a Travel Rule record
 *     and a screening result);
 *   - one tier-3 market maker M, funded for the special trades below;
 *   - four tier-1 accounts E whose daily limit is used up exactly by four set-up trades of
 *     100,000,000 VND with M (so that a later trade breaks limit.daily, not limit.per_trade);
 *   - two tier-1 accounts P with no funds (balance.insufficient).
 * Ordinary trades are small enough (scaled to -trades and -accounts) that no ordinary account
 * comes near its daily limit or runs out of funds, whatever order the node sees them in.
 *
 * The program is in three files: this one (options, running the phases, the report),
 * bench_load_phases.c (building the phases) and bench_load_conn.c (the connections and the
 * classification of replies); bench_load.h declares what they share.
 *
 * Exit status: 0 if every request got a JSON-RPC reply and every error code was one the run
 * expects (-32000 rejections, -32003 conflicts); 1 if a request failed for a transport or
 * authentication reason or an unexpected code came back; 2 on a usage error.
 */
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

static const char usage_text[] =
    "Usage: sbx-bench [options]\n"
    "\n"
    "Opens accounts, funds them and submits trades to an sbxd node over JSON-RPC, then prints\n"
    "counts by outcome (accepted, rejected by rule, errors by code), throughput and latency.\n"
    "\n"
    "  -help               print this text\n"
    "  -version            print the version and exit\n"
    "  -accounts=N         ordinary accounts to open and fund (default 200)\n"
    "  -trades=N           trades to submit (default 20000)\n"
    "  -conns=N            concurrent keep-alive connections (default 64)\n"
    "  -batch=N            trades per JSON-RPC batch request (default 1)\n"
    "  -badpct=N           percent of trades built to break a rule (default 10)\n"
    "  -seed=N             random seed (default 1)\n"
    "  -rate=N             start trade requests at N per second (open loop: latency counts\n"
    "                      from each request's scheduled start); default 0 = each connection\n"
    "                      sends its next request when the previous reply arrives\n"
    "  -receipts=FILE      write `txid height outcome kind` for every receipt and recorded\n"
    "                      rejection\n"
    "\n"
    "Finding the node (as sbx-cli does; -rpcconnect takes a numeric address here):\n";

static const char usage_tail[] =
    "\n"
    "Exit status: 0 if every request was answered and every error was expected; 1 if a request\n"
    "failed (connection, HTTP, authentication) or an unexpected error code came back; 2 on a\n"
    "usage error.\n";

/* ------------------------------------------------------------------ small helpers */

/* "sbx-bench: <message>" on stderr, then `tail`. */
static void SBX_PRINTF(1, 0) complain(const char *fmt, va_list ap, const char *tail)
{
    fputs("sbx-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(tail, stderr);
}

void SBX_NORETURN SBX_PRINTF(1, 2) die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    complain(fmt, ap, "\n");
    va_end(ap);
    exit(1);
}

void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL)
        die("out of memory");
    return p;
}

/* xorshift64*: fast, seeded, good enough to pick accounts. */
static uint64_t
rng_next(struct bench *b)
{
    b->rng ^= b->rng >> 12;
    b->rng ^= b->rng << 25;
    b->rng ^= b->rng >> 27;
    return b->rng * UINT64_C(2685821657736338717);
}

uint64_t
rng_below(struct bench *b, uint64_t n)
{
    return n == 0 ? 0 : rng_next(b) % n;
}

/* 64 lowercase hex characters, never all zero (KYC and Travel Rule hashes). */
void
rng_hex64(struct bench *b, char out[static 65])
{
    static const char digits[] = "0123456789abcdef";

    for (int i = 0; i < 64; i += 16) {
        uint64_t v = rng_next(b) | 1;

        for (int j = 0; j < 16; j++)
            out[i + j] = digits[(v >> (4 * j)) & 15];
    }
    out[64] = '\0';
}

/* An amount of an 8-decimal asset as a decimal string. */
void
fmt_coin(char out[static 32], int64_t units)
{
    snprintf(out, 32, "%" PRId64 ".%08" PRId64, units / COIN, units % COIN);
}

void
tally_add(struct tally *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->v[i].key, key) == 0) {
            t->v[i].n++;
            return;
        }
    }
    if (t->n == COUNTS_MAX)
        key = "(other)";
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->v[i].key, key) == 0) {
            t->v[i].n++;
            return;
        }
    }
    if (t->n == COUNTS_MAX) { /* "(other)" itself did not fit: count on the last entry */
        t->v[COUNTS_MAX - 1].n++;
        return;
    }
    snprintf(t->v[t->n].key, sizeof(t->v[t->n].key), "%s", key);
    t->v[t->n].n = 1;
    t->n++;
}

static void
tally_print(const struct tally *t)
{
    for (size_t i = 0; i < t->n; i++)
        printf("%s %s %" PRIu64, i ? "," : "", t->v[i].key, t->v[i].n);
}

/* ------------------------------------------------------------------ options */

static int
parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    long v;

    if (s == NULL || *s < '0' || *s > '9')
        return 0;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return 0;
    *out = v;
    return 1;
}

static void SBX_NORETURN SBX_PRINTF(1, 2) usage_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    complain(fmt, ap, "\n(sbx-bench -help for usage)\n");
    va_end(ap);
    exit(2);
}

static void
set_str(char *dst, size_t cap, const char *name, const char *value)
{
    if (value == NULL || strlen(value) >= cap)
        usage_error("-%s: needs a value of reasonable length", name);
    memcpy(dst, value, strlen(value) + 1);
}

static void
parse_opts(struct opts *o, int argc, char **argv)
{
    struct sbx_err err;
    long v;
    int rc;

    memset(o, 0, sizeof(*o));
    rpc_client_init(&o->conn);
    o->accounts = 200;
    o->trades = 20000;
    o->conns = 64;
    o->batch = 1;
    o->badpct = 10;
    o->seed = 1;
    for (int i = 1; i < argc; i++) {
        char name[64];
        const char *arg = argv[i];
        const char *eq, *val;
        size_t len;

        if (arg[0] != '-')
            usage_error("unexpected argument '%s'", arg);
        arg += arg[1] == '-' ? 2 : 1;
        eq = strchr(arg, '=');
        len = eq ? (size_t)(eq - arg) : strlen(arg);
        if (len == 0 || len >= sizeof(name))
            usage_error("unknown option '%s'", argv[i]);
        memcpy(name, arg, len);
        name[len] = '\0';
        val = eq ? eq + 1 : NULL;
        rc = rpc_client_option(&o->conn, name, val, &err);
        if (rc == SBX_OK)
            continue;
        if (rc != SBX_ENOTFOUND)
            usage_error("%s", err.msg);
        if (!strcmp(name, "help") || !strcmp(name, "h") || !strcmp(name, "?")) {
            fputs(usage_text, stdout);
            fputs(rpc_client_usage, stdout);
            fputs(usage_tail, stdout);
            exit(0);
        } else if (!strcmp(name, "version")) {
            printf("sbx-bench version %s\n", PACKAGE_VERSION);
            exit(0);
        } else if (!strcmp(name, "accounts")) {
            if (!parse_long(val, 2, ACCOUNTS_MAX, &o->accounts))
                usage_error("-accounts: not in 2..1000000: '%s'", val ? val : "");
        } else if (!strcmp(name, "trades")) {
            if (!parse_long(val, 0, TRADES_MAX, &o->trades))
                usage_error("-trades: not in 0..100000000: '%s'", val ? val : "");
        } else if (!strcmp(name, "conns")) {
            if (!parse_long(val, 1, CONNS_MAX, &v))
                usage_error("-conns: not in 1..4096: '%s'", val ? val : "");
            o->conns = (int)v;
        } else if (!strcmp(name, "batch")) {
            if (!parse_long(val, 1, BATCH_MAX, &v))
                usage_error("-batch: not in 1..100000: '%s'", val ? val : "");
            o->batch = (int)v;
        } else if (!strcmp(name, "badpct")) {
            if (!parse_long(val, 0, 100, &v))
                usage_error("-badpct: not in 0..100: '%s'", val ? val : "");
            o->badpct = (int)v;
        } else if (!strcmp(name, "seed")) {
            if (!parse_long(val, 0, LONG_MAX, &v))
                usage_error("-seed: not a number: '%s'", val ? val : "");
            o->seed = (uint64_t)v;
        } else if (!strcmp(name, "rate")) {
            if (!parse_long(val, 0, 10000000, &o->rate))
                usage_error("-rate: not in 0..10000000: '%s'", val ? val : "");
        } else if (!strcmp(name, "receipts")) {
            set_str(o->receipts, sizeof(o->receipts), name, val);
        } else {
            usage_error("unknown option '%s'", argv[i]);
        }
    }
    if (rpc_client_resolve(&o->conn, &err) != SBX_OK)
        usage_error("%s", err.msg);
    o->rpcport = rpc_client_port(&o->conn);
}

/* "Basic base64(user:password)": -rpcuser and its password, or the cookie (rpc/client.c). */
static void
load_auth(struct bench *b)
{
    struct sbx_err err;

    if (rpc_client_auth(&b->o.conn, b->auth, sizeof(b->auth), &err) != SBX_OK)
        die("%s", err.msg);
    rpc_client_release(&b->o.conn);
}

/* ------------------------------------------------------------------ running and reporting */

/* -rate: every millisecond, start what is due on idle connections. */
static void
on_pace(evutil_socket_t fd, short what, void *arg)
{
    struct bench *b = arg;

    for (int i = 0; i < b->o.conns && b->ph->next < b->ph->nreqs; i++)
        conn_next(&b->conns[i]);
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array, in ms. */
static double
pct_ms(const uint32_t *v, size_t n, unsigned pct)
{
    size_t rank;

    if (n == 0)
        return 0;
    rank = (n * pct + 99) / 100;
    if (rank == 0)
        rank = 1;
    return v[rank - 1] / 1000.0;
}

static void
run_phase(struct bench *b, struct phase *p, long rate)
{
    struct timeval ms = {0, 1000};

    b->ph = p;
    b->rate = rate;
    p->t0 = time_mono_us();
    if (p->nreqs == 0 || b->alive == 0 || b->fatal) {
        for (size_t r = 0; r < p->nreqs; r++)
            p->unsent += p->reqs[r].ncalls;
        p->aborted = p->nreqs > 0;
        p->t1 = p->t0;
        return;
    }
    if (rate > 0) {
        b->pacer = event_new(b->base, -1, EV_PERSIST, on_pace, b);
        if (b->pacer == NULL || event_add(b->pacer, &ms) != 0)
            die("cannot start the pacing timer");
    }
    for (int i = 0; i < b->o.conns; i++)
        conn_next(&b->conns[i]);
    event_base_dispatch(b->base);
    if (b->pacer != NULL)
        event_free(b->pacer);
    b->pacer = NULL;
    b->rate = 0;
    if (p->t1 == 0)
        p->t1 = time_mono_us();
}

static void
report_phase(struct phase *p, int number, int trades)
{
    double secs = (double)(p->t1 - p->t0) / 1e6;

    qsort(p->lat_us, p->nlat, sizeof(*p->lat_us), cmp_u32);
    printf("phase %d, %s: %zu calls in %zu requests, %.2f s: accepted %" PRIu64
           ", rejected %" PRIu64,
           number, p->name, p->ncalls, p->nreqs, secs, p->accepted, p->rejected);
    if (p->rules.n > 0) {
        printf(" (");
        tally_print(&p->rules);
        printf(" )");
    }
    printf(", conflicts %" PRIu64 ", other errors %" PRIu64, p->conflicts, p->errors);
    if (p->codes.n > 0) {
        printf(" (codes:");
        tally_print(&p->codes);
        printf(" )");
    }
    printf(", failed %" PRIu64, p->transport);
    if (p->http.n > 0) {
        printf(" (");
        tally_print(&p->http);
        printf(" )");
    }
    if (p->unsent > 0)
        printf(", not sent %" PRIu64, p->unsent);
    printf("\n");
    if (p->surprises > 0)
        printf("  outcomes other than the call was built for: %" PRIu64 " (first ones on stderr)\n",
               p->surprises);
    if (trades && secs > 0)
        printf("  throughput: %.0f accepted trades/s, %.0f trades/s (all outcomes)\n",
               (double)p->accepted / secs,
               (double)(p->accepted + p->rejected + p->conflicts + p->errors) / secs);
    if (p->nlat > 0)
        printf("  latency per request (ms): p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
               pct_ms(p->lat_us, p->nlat, 50), pct_ms(p->lat_us, p->nlat, 90),
               pct_ms(p->lat_us, p->nlat, 99), p->lat_us[p->nlat - 1] / 1000.0);
    fflush(stdout);
}

static void
resolve(struct bench *b)
{
    char spec[300];
    int len = (int)sizeof(b->addr);

    snprintf(spec, sizeof(spec), "%s:%d", b->o.conn.host, b->o.rpcport);
    if (strchr(b->o.conn.host, ':') != NULL) /* an IPv6 literal */
        snprintf(spec, sizeof(spec), "[%s]:%d", b->o.conn.host, b->o.rpcport);
    if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&b->addr, &len) != 0)
        die("-rpcconnect: not a numeric address: %s", b->o.conn.host);
    b->addrlen = len;
    snprintf(b->host, sizeof(b->host), "%s", spec);
}

int
main(int argc, char **argv)
{
    static struct bench bench;
    struct bench *b = &bench;
    struct phase *phases[5] = {NULL};
    struct phase *tp;
    int failed = 0, status;
    uint64_t acc = 0, rej = 0, conf = 0, err = 0, fail = 0;
    double secs;

    parse_opts(&b->o, argc, argv);
    signal(SIGPIPE, SIG_IGN);
    load_auth(b);
    resolve(b);
    if (b->o.receipts[0] != '\0') {
        b->receipts = fopen(b->o.receipts, "w");
        if (b->receipts == NULL)
            die("-receipts: cannot create %s: %s", b->o.receipts, strerror(errno));
    }
    b->rng = b->o.seed * UINT64_C(0x9e3779b97f4a7c15) + UINT64_C(0x2545f4914f6cdd1d);
    b->now_ms = time_now_ms();
    snprintf(b->prefix, sizeof(b->prefix), "b%" PRIx64 "-%lx", (uint64_t)b->now_ms,
             (unsigned long)getpid());
    b->base = event_base_new();
    if (b->base == NULL)
        die("cannot create the event loop");

    phases[0] = build_info();
    phases[1] = build_accounts(b);
    phases[2] = build_deposits(b);
    phases[3] = build_setup(b);
    phases[4] = build_trades(b);
    for (int i = 0; i < 5; i++)
        phase_pack(b, phases[i], i == 4 ? b->o.batch : 1);

    b->conns = xcalloc((size_t)b->o.conns, sizeof(*b->conns));
    b->alive = b->o.conns;
    for (int i = 0; i < b->o.conns; i++) {
        b->conns[i].b = b;
        b->conns[i].cur = -1;
        conn_open(&b->conns[i]);
    }
    printf("sbx-bench: %s:%d, %d connections, batch %d, %ld accounts, %ld trades (%d%% bad), "
           "ids %s-*\n",
           b->o.conn.host, b->o.rpcport, b->o.conns, b->o.batch, b->o.accounts, b->o.trades,
           b->o.badpct, b->prefix);
    run_phase(b, phases[0], 0);
    if (phases[0]->accepted == 1)
        printf("node: network %s, height %lld\n", b->network, b->height);
    fflush(stdout);
    for (int i = 1; i < 5; i++) {
        if (i == 4) {
            printf("phase 4, trades: starting (%zu calls in %zu requests", phases[4]->ncalls,
                   phases[4]->nreqs);
            if (b->o.rate > 0)
                printf(", %ld requests/s offered", b->o.rate);
            printf(")\n");
            fflush(stdout);
        }
        run_phase(b, phases[i], i == 4 ? b->o.rate : 0);
        report_phase(phases[i], i, i == 4);
    }
    for (int i = 0; i < 5; i++) {
        struct phase *p = phases[i];

        failed |= p->transport > 0 || p->unsent > 0 || p->errors > 0;
        acc += p->accepted;
        rej += p->rejected;
        conf += p->conflicts;
        err += p->errors;
        fail += p->transport + p->unsent;
    }
    failed |= b->fatal || b->unexpected;
    tp = phases[4];
    secs = (double)(tp->t1 - tp->t0) / 1e6;
    status = failed ? 1 : 0;
    printf("summary: %s accepted=%" PRIu64 " rejected=%" PRIu64 " conflicts=%" PRIu64
           " errors=%" PRIu64 " failed=%" PRIu64 " trades=%zu trade_s=%.2f accepted_tps=%.0f "
           "all_tps=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f surprises=%" PRIu64
           " conns=%d batch=%d rate=%ld\n",
           failed ? "FAIL" : "ok", acc, rej, conf, err, fail, tp->ncalls, secs,
           secs > 0 ? (double)tp->accepted / secs : 0,
           secs > 0 ? (double)(tp->accepted + tp->rejected + tp->conflicts + tp->errors) / secs : 0,
           pct_ms(tp->lat_us, tp->nlat, 50), pct_ms(tp->lat_us, tp->nlat, 90),
           pct_ms(tp->lat_us, tp->nlat, 99), tp->nlat ? tp->lat_us[tp->nlat - 1] / 1000.0 : 0.0,
           phases[1]->surprises + phases[2]->surprises + phases[3]->surprises + tp->surprises,
           b->o.conns, b->o.batch, b->o.rate);
    fflush(stdout);

    if (b->receipts != NULL && fclose(b->receipts) != 0) {
        fprintf(stderr, "sbx-bench: -receipts: write failed\n");
        status = 1;
    }
    for (int i = 0; i < b->o.conns; i++)
        if (b->conns[i].bev != NULL)
            bufferevent_free(b->conns[i].bev);
    free(b->conns);
    for (int i = 0; i < 5; i++)
        phase_free(phases[i]);
    free(b->acc);
    event_base_free(b->base);
    return status;
}
