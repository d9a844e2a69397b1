/* sbx-bench: a load generator for sbxd's JSON-RPC interface (DESIGN.md sections 7 and 9).
 *
 * It opens accounts, funds them, then submits trades over many concurrent keep-alive HTTP/1.1
 * connections, one request (or one JSON-RPC batch) in flight on each, and reports what came
 * back: accepted, rejected by which rule, other errors by JSON-RPC code, with throughput and
 * latency. A share of the trades (-badpct) is built to break one rule each, so that the
 * rejection path is measured too and every rejection is checked against the rule it was built
 * to break.
 *
 * It is optimised so that the client is not what is measured: every request (headers and body)
 * is built before its phase starts and handed to the socket without a copy; responses are read
 * by a minimal HTTP/1.1 parser on libevent bufferevents; only the reply bodies are parsed with
 * Jansson. One core drives well over 10,000 requests/s.
 *
 * Set-up (all ids carry a prefix made of the start time and the pid, so runs never collide):
 *   - `accounts` ordinary accounts with KYC tiers 1..3 (a tenth foreign), each funded with VND,
 *     BTC and ETH inside the tier's limit.holding (crypto deposits carry a Travel Rule record);
 *   - one tier-3 market maker M, funded for the special trades below;
 *   - four tier-1 accounts E whose daily limit is used up exactly by four set-up trades of
 *     100,000,000 VND with M (so that a later trade breaks limit.daily, not limit.per_trade);
 *   - two tier-1 accounts P with no funds (balance.insufficient).
 * Ordinary trades are small enough (scaled to -trades and -accounts) that no ordinary account
 * comes near its daily limit or runs out of funds, whatever order the node sees them in.
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

#define CALL_MAX 2048              /* one JSON-RPC call's text */
#define HEAD_MAX 512               /* the HTTP request header block we write */
#define RESP_HEAD_MAX 16384        /* a response header block we accept */
#define RESP_BODY_MAX (256u << 20) /* a response body we accept */
#define CONNS_MAX 4096
#define BATCH_MAX 100000
#define ACCOUNTS_MAX 1000000
#define TRADES_MAX 100000000
#define COUNTS_MAX 64  /* distinct rules or codes tallied per phase */
#define EXAMPLES_MAX 5 /* surprises printed per phase */
#define READ_TIMEOUT_S 120
#define RECONNECTS_MAX 3

#define N_EXHAUST 4
#define N_POOR 2
#define BTC_REF INT64_C(2500000000) /* VND per BTC: the devnet reference price */
#define ETH_REF INT64_C(90000000)
#define COIN INT64_C(100000000) /* base units per whole unit (8 decimals) */

enum kind {
    K_INFO,
    K_OPEN,
    K_DEPOSIT,
    K_SETUP,
    K_TRADE,
    K_BAD_PER_TRADE,
    K_BAD_DAILY,
    K_BAD_BALANCE,
    K_BAD_UNKNOWN,
    K_BAD_UNLISTED,
    K_BAD_SETTLEMENT,
    K_BAD_REOPEN,
    K_BAD_CONFLICT,
    K_COUNT
};
#define K_FIRST_BAD K_BAD_PER_TRADE
#define N_BAD_KINDS (K_COUNT - K_FIRST_BAD)

/* What each kind of call should get: accepted (rule NULL, alt 0), a rejection by `rule`, or
 * the JSON-RPC error `alt_code` (either one is expected when both are set). */
static const struct kind_info {
    const char *name;
    const char *rule;
    int alt_code;
} kinds[K_COUNT] = {
    [K_INFO] = {"getinfo", NULL, 0},
    [K_OPEN] = {"openaccount", NULL, 0},
    [K_DEPOSIT] = {"deposit", NULL, 0},
    [K_SETUP] = {"set-up trade", NULL, 0},
    [K_TRADE] = {"trade", NULL, 0},
    [K_BAD_PER_TRADE] = {"bad: per-trade limit", "limit.per_trade", 0},
    [K_BAD_DAILY] = {"bad: daily limit", "limit.daily", 0},
    [K_BAD_BALANCE] = {"bad: no funds", "balance.insufficient", 0},
    [K_BAD_UNKNOWN] = {"bad: unknown account", "account.unknown", 0},
    [K_BAD_UNLISTED] = {"bad: unlisted asset", "asset.unlisted", 0},
    [K_BAD_SETTLEMENT] = {"bad: trade in VND", "settlement.currency", 0},
    /* The same account id with other content is an id conflict before it is a duplicate. */
    [K_BAD_REOPEN] = {"bad: re-open account", "account.duplicate", -32003},
    [K_BAD_CONFLICT] = {"bad: trade id reused", NULL, -32003},
};

struct opts {
    int devnet;
    char datadir[1024];
    char rpcconnect[256];
    int rpcport;
    char rpcuser[256];
    char rpcpassword[256];
    long accounts;
    long trades;
    int conns;
    int batch;
    int badpct;
    uint64_t seed;
    long rate; /* trade requests started per second (0: as fast as replies come) */
    char receipts[1024];
};

struct account {
    char id[72];
    int tier;
};

/* One JSON-RPC call of the current phase. */
struct call {
    uint8_t kind;
    uint8_t answered;
};

/* One HTTP request: headers and body, ready to write. */
struct hreq {
    char *buf;
    size_t len;
    size_t first; /* index of its first call */
    size_t ncalls;
};

struct count {
    char key[48];
    uint64_t n;
};

struct tally {
    struct count v[COUNTS_MAX];
    size_t n;
};

struct phase {
    const char *name;
    struct call *calls;
    char **texts; /* call texts until packed */
    size_t ncalls, calls_alloc;
    struct hreq *reqs;
    size_t nreqs;
    size_t next; /* next request to send */
    size_t done; /* requests finished (replied or failed) */
    int aborted; /* every connection is gone */
    /* results */
    uint64_t accepted, rejected, conflicts, errors, transport, unsent, surprises;
    struct tally rules, codes, http;
    uint32_t *lat_us;
    size_t nlat;
    int64_t t0, t1;
    int examples;
};

struct bench;

struct conn {
    struct bench *b;
    struct bufferevent *bev;
    int connected; /* the TCP connection is up */
    int dead;      /* given up on */
    int fails;     /* connection failures in a row */
    long cur;      /* request in flight, -1 if none */
    int64_t t_sent;
    /* response parser */
    int in_body;
    int status;
    size_t clen;
    int clen_known;
    int close_after;
};

struct bench {
    struct opts o;
    struct event_base *base;
    struct sockaddr_storage addr;
    int addrlen;
    char auth[1024]; /* "Basic ..." */
    char host[300];
    struct conn *conns;
    int alive;
    int fatal;      /* authentication failed: stop */
    int unexpected; /* an error code the run does not expect */
    struct phase *ph;
    struct event *pacer; /* -rate: starts requests on schedule */
    long rate;           /* in force for the current phase */
    FILE *receipts;
    uint64_t rng;
    char prefix[40];
    int64_t now_ms;
    unsigned long ndeposits;
    /* accounts */
    struct account *acc; /* ordinary accounts */
    long nacc;
    struct account mm;
    struct account exhaust[N_EXHAUST];
    struct account poor[N_POOR];
    char setup_ids[N_EXHAUST * 4][80];
    size_t nsetup;
    int64_t qmax_btc, qmax_eth; /* largest ordinary trade quantities, base units */
    /* getinfo */
    char network[64];
    long long height;
};

static const char usage_text[] =
    "Usage: sbx-bench [options]\n"
    "\n"
    "Opens accounts, funds them and submits trades to an sbxd node over JSON-RPC, then prints\n"
    "counts by outcome (accepted, rejected by rule, errors by code), throughput and latency.\n"
    "\n"
    "  -help               print this text\n"
    "  -devnet             use the devnet defaults (port 18645, datadir ~/.sbx/devnet)\n"
    "  -datadir=DIR        where to read the cookie (<DIR>/.cookie) (default ~/.sbx)\n"
    "  -rpcconnect=ADDR    node address (default 127.0.0.1)\n"
    "  -rpcport=PORT       node RPC port (default 8645, devnet 18645)\n"
    "  -rpcuser=NAME       with -rpcpassword: an rpcauth user instead of the cookie\n"
    "  -rpcpassword=PW\n"
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
    "Exit status: 0 if every request was answered and every error was expected; 1 if a request\n"
    "failed (connection, HTTP, authentication) or an unexpected error code came back; 2 on a\n"
    "usage error.\n";

/* ------------------------------------------------------------------ small helpers */

static void SBX_NORETURN SBX_PRINTF(1, 2) die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("sbx-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void *
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

static uint64_t
rng_below(struct bench *b, uint64_t n)
{
    return n == 0 ? 0 : rng_next(b) % n;
}

/* 64 lowercase hex characters, never all zero (KYC and Travel Rule hashes). */
static void
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
static void
fmt_coin(char out[static 32], int64_t units)
{
    snprintf(out, 32, "%" PRId64 ".%08" PRId64, units / COIN, units % COIN);
}

static void
base64(char *out, size_t cap, const unsigned char *in, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;

    for (size_t i = 0; i < len && o + 5 <= cap; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;

        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

static void
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
    fputs("sbx-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(sbx-bench -help for usage)\n", stderr);
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
    int port_set = 0, datadir_set = 0;
    long v;

    memset(o, 0, sizeof(*o));
    memcpy(o->rpcconnect, "127.0.0.1", sizeof("127.0.0.1"));
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
        if (!strcmp(name, "help") || !strcmp(name, "h") || !strcmp(name, "?")) {
            fputs(usage_text, stdout);
            exit(0);
        } else if (!strcmp(name, "devnet")) {
            o->devnet = val == NULL || strcmp(val, "0") != 0;
        } else if (!strcmp(name, "datadir")) {
            set_str(o->datadir, sizeof(o->datadir), name, val);
            datadir_set = 1;
        } else if (!strcmp(name, "rpcconnect")) {
            set_str(o->rpcconnect, sizeof(o->rpcconnect), name, val);
        } else if (!strcmp(name, "rpcport")) {
            if (!parse_long(val, 1, 65535, &v))
                usage_error("-rpcport: not a port: '%s'", val ? val : "");
            o->rpcport = (int)v;
            port_set = 1;
        } else if (!strcmp(name, "rpcuser")) {
            set_str(o->rpcuser, sizeof(o->rpcuser), name, val);
        } else if (!strcmp(name, "rpcpassword")) {
            set_str(o->rpcpassword, sizeof(o->rpcpassword), name, val);
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
    if (!port_set)
        o->rpcport = o->devnet ? 18645 : 8645;
    if (!datadir_set && o->rpcuser[0] == '\0') {
        const char *home = getenv("HOME");
        int n;

        if (home == NULL || home[0] == '\0')
            usage_error("%s", "no HOME: give -datadir=DIR or -rpcuser/-rpcpassword");
        n = snprintf(o->datadir, sizeof(o->datadir), "%s/.sbx%s", home, o->devnet ? "/devnet" : "");
        if (n < 0 || (size_t)n >= sizeof(o->datadir))
            usage_error("%s", "HOME is too long");
    }
    if ((o->rpcuser[0] == '\0') != (o->rpcpassword[0] == '\0'))
        usage_error("%s", "-rpcuser and -rpcpassword go together");
}

/* "Basic base64(user:password)" from -rpcuser/-rpcpassword or <datadir>/.cookie. */
static void
load_auth(struct bench *b)
{
    char cred[600];
    char path[1100];
    size_t len;
    FILE *f;

    if (b->o.rpcuser[0] != '\0') {
        snprintf(cred, sizeof(cred), "%s:%s", b->o.rpcuser, b->o.rpcpassword);
    } else {
        snprintf(path, sizeof(path), "%s/.cookie", b->o.datadir);
        f = fopen(path, "r");
        if (f == NULL)
            die("cannot read the cookie %s: %s (is sbxd running? or give -rpcuser and "
                "-rpcpassword)",
                path, strerror(errno));
        len = fread(cred, 1, sizeof(cred) - 1, f);
        fclose(f);
        cred[len] = '\0';
        while (len > 0 && (cred[len - 1] == '\n' || cred[len - 1] == '\r'))
            cred[--len] = '\0';
        if (strchr(cred, ':') == NULL)
            die("%s is not a cookie file (no ':')", path);
    }
    memcpy(b->auth, "Basic ", 6);
    base64(b->auth + 6, sizeof(b->auth) - 6, (const unsigned char *)cred, strlen(cred));
    memset(cred, 0, sizeof(cred));
}

/* ------------------------------------------------------------------ building a phase */

static struct phase *
phase_new(const char *name)
{
    struct phase *p = xcalloc(1, sizeof(*p));

    p->name = name;
    return p;
}

static void
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
static void
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
                 "\"originator_hash\":\"%s\",\"beneficiary_hash\":\"%s\",\"status\":\"accepted\"}",
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
             trade_id, buyer, seller, asset, qty, price, b->now_ms, trade_id, trade_id);
}

static int
tier_factor(int tier)
{
    return tier == 1 ? 1 : tier == 2 ? 5 : 25;
}

static struct phase *
build_info(void)
{
    struct phase *p = phase_new("node");

    add_call(p, K_INFO, "getinfo", "%s", "");
    return p;
}

static struct phase *
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
static struct phase *
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
static struct phase *
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

static struct phase *
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

/* ------------------------------------------------------------------ results */

static void
surprise(struct bench *b, struct phase *p, size_t call, const char *what, json_t *reply)
{
    char *text;

    p->surprises++;
    if (p->examples >= EXAMPLES_MAX)
        return;
    p->examples++;
    text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    fprintf(stderr, "sbx-bench: %s: call %zu (%s): %s: %.400s\n", p->name, call,
            kinds[p->calls[call].kind].name, what, text ? text : "");
    free(text);
}

static void
write_receipt(struct bench *b, struct phase *p, size_t call, json_t *obj, const char *outcome)
{
    json_t *txid = json_object_get(obj, "txid");
    json_t *height = json_object_get(obj, "height");

    if (b->receipts == NULL || !json_is_string(txid) || !json_is_integer(height))
        return;
    fprintf(b->receipts, "%s %" JSON_INTEGER_FORMAT " %s %s\n", json_string_value(txid),
            json_integer_value(height), outcome, kinds[p->calls[call].kind].name);
}

/* One call's reply (an object with result or error). */
static void
classify(struct bench *b, struct phase *p, size_t call, json_t *reply)
{
    const struct kind_info *ki = &kinds[p->calls[call].kind];
    const char *verdict;
    json_t *result = json_object_get(reply, "result");
    json_t *error = json_object_get(reply, "error");
    char key[48];

    p->calls[call].answered = 1;
    if (json_is_object(error)) {
        json_t *code = json_object_get(error, "code");
        json_t *data = json_object_get(error, "data");
        const char *rule = json_string_value(json_object_get(data, "rule"));
        json_int_t c = json_is_integer(code) ? json_integer_value(code) : 0;

        if (c == -32000) {
            p->rejected++;
            tally_add(&p->rules, rule ? rule : "(no rule)");
            write_receipt(b, p, call, data, rule ? rule : "rejected");
            if (ki->rule == NULL || rule == NULL || strcmp(ki->rule, rule) != 0)
                surprise(b, p, call, "unexpected rejection", reply);
            return;
        }
        snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT, c);
        tally_add(&p->codes, key);
        if (c == -32003) {
            p->conflicts++;
            if (ki->alt_code != -32003)
                surprise(b, p, call, "unexpected conflict", reply);
            return;
        }
        p->errors++;
        b->unexpected = 1;
        surprise(b, p, call, "unexpected error code", reply);
        return;
    }
    if (json_is_object(result)) {
        if (p->calls[call].kind == K_INFO) {
            const char *net = json_string_value(json_object_get(result, "network"));
            json_t *h = json_object_get(result, "height");

            snprintf(b->network, sizeof(b->network), "%s", net ? net : "?");
            b->height = json_is_integer(h) ? (long long)json_integer_value(h) : -1;
            p->accepted++;
            return;
        }
        verdict = json_string_value(json_object_get(result, "verdict"));
        if (verdict == NULL || strcmp(verdict, "accepted") != 0) {
            p->errors++;
            b->unexpected = 1;
            surprise(b, p, call, "a result without verdict accepted", reply);
            return;
        }
        p->accepted++;
        write_receipt(b, p, call, result, "accepted");
        if (ki->rule != NULL || ki->alt_code != 0)
            surprise(b, p, call, "accepted, but built to break a rule", reply);
        return;
    }
    p->errors++;
    b->unexpected = 1;
    tally_add(&p->codes, "(malformed reply)");
    surprise(b, p, call, "neither result nor error", reply);
}

/* The calls of a request that got no JSON-RPC answer (all of them, or those missing from a
 * batch reply) failed for a transport reason. */
static void
fail_request(struct bench *b, struct phase *p, const struct hreq *h, const char *why)
{
    uint64_t n = 0;

    for (size_t i = 0; i < h->ncalls; i++) {
        if (p->calls[h->first + i].answered)
            continue;
        p->calls[h->first + i].answered = 1;
        n++;
    }
    p->transport += n;
    if (n > 0)
        tally_add(&p->http, why);
}

static void
handle_response(struct bench *b, struct phase *p, const struct hreq *h, int status,
                const char *body, size_t len)
{
    json_error_t jerr;
    json_t *j;
    char why[48];

    if (status == 401 || status == 403) {
        snprintf(why, sizeof(why), "HTTP %d", status);
        fail_request(b, p, h, why);
        if (!b->fatal)
            fprintf(stderr,
                    "sbx-bench: HTTP %d: authentication failed (check the cookie or "
                    "-rpcuser/-rpcpassword)\n",
                    status);
        b->fatal = 1;
        return;
    }
    j = json_loadb(body, len, 0, &jerr);
    if (j == NULL) {
        snprintf(why, sizeof(why), "HTTP %d without JSON", status);
        fail_request(b, p, h, why);
        return;
    }
    if (json_is_object(j)) {
        /* a single reply, or one error for a whole batch */
        for (size_t i = 0; i < h->ncalls; i++)
            classify(b, p, h->first + i, j);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *r;

        json_array_foreach(j, i, r)
        {
            json_t *id = json_object_get(r, "id");
            json_int_t v = json_is_integer(id) ? json_integer_value(id) : -1;

            if (v < (json_int_t)h->first || v >= (json_int_t)(h->first + h->ncalls) ||
                p->calls[v].answered) {
                p->errors++;
                b->unexpected = 1;
                tally_add(&p->codes, "(bad id in batch)");
                continue;
            }
            classify(b, p, (size_t)v, r);
        }
        fail_request(b, p, h, "missing from batch reply");
    } else {
        fail_request(b, p, h, "reply neither object nor array");
    }
    json_decref(j);
}

/* ------------------------------------------------------------------ connections */

static void conn_open(struct conn *c);
static void conn_next(struct conn *c);

static void
phase_check_done(struct bench *b)
{
    struct phase *p = b->ph;

    if (p == NULL)
        return;
    if (p->done == p->nreqs || b->fatal || (b->alive == 0 && !p->aborted)) {
        if (b->alive == 0 && p->done < p->nreqs) {
            p->aborted = 1;
            for (size_t r = p->next; r < p->nreqs; r++)
                p->unsent += p->reqs[r].ncalls;
        }
        p->t1 = time_mono_us();
        event_base_loopbreak(b->base);
    }
}

static void
conn_reset_parser(struct conn *c)
{
    c->in_body = 0;
    c->status = 0;
    c->clen = 0;
    c->clen_known = 0;
    c->close_after = 0;
}

/* The request in flight ended (answered or failed). */
static void
request_done(struct conn *c)
{
    struct bench *b = c->b;

    c->cur = -1;
    b->ph->done++;
}

/* The connection broke or closed: fail what was in flight, reconnect or give up. */
static void
conn_broken(struct conn *c, const char *why, int was_error)
{
    struct bench *b = c->b;

    if (c->cur >= 0) {
        fail_request(b, b->ph, &b->ph->reqs[c->cur], why);
        request_done(c);
    }
    if (c->bev != NULL)
        bufferevent_free(c->bev);
    c->bev = NULL;
    conn_reset_parser(c);
    if (was_error && !c->connected)
        c->fails++;
    c->connected = 0;
    if (c->fails >= RECONNECTS_MAX || b->fatal) {
        if (!c->dead) {
            c->dead = 1;
            b->alive--;
            if (b->alive == 0)
                fprintf(stderr, "sbx-bench: every connection failed (last: %s)\n", why);
        }
        phase_check_done(b);
        return;
    }
    phase_check_done(b);
    conn_open(c);
}

static void
deliver(struct conn *c, const char *body, size_t len)
{
    struct bench *b = c->b;
    struct phase *p = b->ph;
    int64_t lat = time_mono_us() - c->t_sent;

    if (c->cur < 0)
        return;
    p->lat_us[p->nlat++] = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
    handle_response(b, p, &p->reqs[c->cur], c->status, body, len);
    request_done(c);
}

/* Parse the header block at the front of `in`. 1: parsed; 0: incomplete; -1: malformed. */
static int
parse_head(struct conn *c, struct evbuffer *in)
{
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    size_t hlen;
    char *h, *line, *next;

    if (end.pos < 0)
        return evbuffer_get_length(in) > RESP_HEAD_MAX ? -1 : 0;
    hlen = (size_t)end.pos + 4;
    if (hlen > RESP_HEAD_MAX)
        return -1;
    h = (char *)evbuffer_pullup(in, (ev_ssize_t)hlen);
    if (h == NULL)
        return -1;
    h[hlen - 2] = '\0'; /* inside the buffer we are about to drain */
    if (strncmp(h, "HTTP/1.", 7) != 0 || hlen < 13 || h[8] != ' ')
        return -1;
    c->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    c->close_after = h[7] == '0';
    for (line = strstr(h, "\r\n"); line != NULL && line[2] != '\0'; line = next) {
        line += 2;
        next = strstr(line, "\r\n");
        if (strncasecmp(line, "content-length:", 15) == 0) {
            char *e = NULL;
            unsigned long long v = strtoull(line + 15, &e, 10);

            if (e == line + 15 || v > RESP_BODY_MAX)
                return -1;
            c->clen = (size_t)v;
            c->clen_known = 1;
        } else if (strncasecmp(line, "connection:", 11) == 0) {
            const char *v = line + 11;

            while (*v == ' ')
                v++;
            if (strncasecmp(v, "close", 5) == 0)
                c->close_after = 1;
            else if (strncasecmp(v, "keep-alive", 10) == 0)
                c->close_after = 0;
        } else if (strncasecmp(line, "transfer-encoding:", 18) == 0) {
            return -1; /* sbxd's evhttp replies carry a Content-Length; chunked is not read */
        }
    }
    evbuffer_drain(in, hlen);
    c->in_body = 1;
    if (!c->clen_known)
        c->close_after = 1; /* the body runs to the end of the connection */
    return 1;
}

static void
on_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    for (;;) {
        if (!c->in_body) {
            int r;

            if (evbuffer_get_length(in) == 0)
                return;
            if (c->cur < 0) {
                conn_broken(c, "reply without a request", 1);
                return;
            }
            r = parse_head(c, in);
            if (r == 0)
                return;
            if (r < 0) {
                conn_broken(c, "malformed HTTP reply", 1);
                return;
            }
        }
        if (!c->clen_known) {
            if (evbuffer_get_length(in) > RESP_BODY_MAX) {
                conn_broken(c, "HTTP reply too large", 1);
                return;
            }
            return; /* read until the server closes */
        }
        if (evbuffer_get_length(in) < c->clen)
            return;
        deliver(c, (const char *)evbuffer_pullup(in, (ev_ssize_t)c->clen), c->clen);
        evbuffer_drain(in, c->clen);
        if (c->close_after) {
            c->fails = 0;
            conn_broken(c, "closed by server", 0);
            return;
        }
        conn_reset_parser(c);
        conn_next(c);
        phase_check_done(c->b);
        if (c->bev == NULL)
            return;
    }
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;

    if (what & BEV_EVENT_CONNECTED) {
        evutil_socket_t fd = bufferevent_getfd(bev);
        int one = 1;

        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->connected = 1;
        c->fails = 0;
        conn_next(c);
        phase_check_done(c->b);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        if (c->cur < 0) { /* idle between phases: nothing is late */
            bufferevent_enable(bev, EV_READ);
            return;
        }
        conn_broken(c, "reply timed out", 1);
        return;
    }
    if ((what & BEV_EVENT_EOF) && c->in_body && !c->clen_known) {
        struct evbuffer *in = bufferevent_get_input(bev);
        size_t len = evbuffer_get_length(in);

        deliver(c, (const char *)evbuffer_pullup(in, (ev_ssize_t)len), len);
        evbuffer_drain(in, len);
        c->fails = 0;
        conn_broken(c, "closed by server", 0);
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        char why[96];

        snprintf(why, sizeof(why), "connection error: %.60s",
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        conn_broken(c, c->connected ? "connection reset" : why, 1);
        return;
    }
    conn_broken(c, "connection closed", 1);
}

static void
conn_open(struct conn *c)
{
    struct bench *b = c->b;
    struct timeval tv = {READ_TIMEOUT_S, 0};

    c->bev = bufferevent_socket_new(b->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL)
        die("out of memory");
    bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
    bufferevent_set_timeouts(c->bev, &tv, NULL);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&b->addr, b->addrlen) != 0)
        conn_broken(c, "connect failed", 1);
}

/* Send the phase's next request, if any, on an idle connected connection. */
static void
conn_next(struct conn *c)
{
    struct bench *b = c->b;
    struct phase *p = b->ph;
    struct hreq *h;

    int64_t now;

    if (p == NULL || c->cur >= 0 || !c->connected || c->bev == NULL || b->fatal ||
        p->next >= p->nreqs)
        return;
    now = time_mono_us();
    if (b->rate > 0) {
        /* the request's scheduled start: it counts from there, even if it leaves late */
        int64_t due = p->t0 + (int64_t)((double)p->next * 1e6 / (double)b->rate);

        if (due > now)
            return;
        now = due;
    }
    c->cur = (long)p->next++;
    h = &p->reqs[c->cur];
    c->t_sent = now;
    if (evbuffer_add_reference(bufferevent_get_output(c->bev), h->buf, h->len, NULL, NULL) != 0)
        die("out of memory");
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

    snprintf(spec, sizeof(spec), "%s:%d", b->o.rpcconnect, b->o.rpcport);
    if (strchr(b->o.rpcconnect, ':') != NULL) /* an IPv6 literal */
        snprintf(spec, sizeof(spec), "[%s]:%d", b->o.rpcconnect, b->o.rpcport);
    if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&b->addr, &len) != 0)
        die("-rpcconnect: not a numeric address: %s", b->o.rpcconnect);
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
           b->o.rpcconnect, b->o.rpcport, b->o.conns, b->o.batch, b->o.accounts, b->o.trades,
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
