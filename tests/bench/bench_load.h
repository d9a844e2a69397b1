/* sbx-bench's shared declarations: the kinds of call it builds, its options, the phases of a
 * run (calls packed into HTTP requests, and their results) and the connections that send them.
 * sbx-bench.c holds main, the options and the report; bench_load_phases.c builds the phases;
 * bench_load_conn.c sends them and classifies the replies. One thread runs all of it.
 */
#ifndef SBX_BENCH_LOAD_H
#define SBX_BENCH_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "rpc/client.h"
#include "util/err.h"

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

struct opts {
    struct rpc_client conn; /* how to find the node: as sbx-cli does (rpc/client.h) */
    int rpcport;            /* the port conn gave */
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
    char auth[RPC_CLIENT_AUTH_MAX]; /* "Basic ..." */
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

/* Print "sbx-bench: <message>" on stderr and exit with status 1. */
void SBX_NORETURN SBX_PRINTF(1, 2) die(const char *fmt, ...);
/* calloc that dies when out of memory (n or size 0 allocate one byte). */
void *xcalloc(size_t n, size_t size);
/* A seeded pseudo-random number below n (0 if n is 0). */
uint64_t rng_below(struct bench *b, uint64_t n);
/* 64 lowercase hex characters, never all zero (KYC and Travel Rule hashes). */
void rng_hex64(struct bench *b, char out[static 65]);
/* An amount of an 8-decimal asset as a decimal string. */
void fmt_coin(char out[static 32], int64_t units);
/* Count one more `key` (at most COUNTS_MAX keys, then "(other)"). */
void tally_add(struct tally *t, const char *key);

/* bench_load_phases.c: the calls of each phase, built before the phase starts. */
struct phase *build_info(void);
struct phase *build_accounts(struct bench *b);
struct phase *build_deposits(struct bench *b);
struct phase *build_setup(struct bench *b);
struct phase *build_trades(struct bench *b);
/* Turn the calls into HTTP requests of `batch` calls each (a single call is sent as an object,
 * more as a JSON array), headers included, and drop the call texts. */
void phase_pack(struct bench *b, struct phase *p, int batch);
void phase_free(struct phase *p);

/* bench_load_conn.c: connections to the node. */
/* Start connecting c (its bench's address, keep-alive). */
void conn_open(struct conn *c);
/* Send c's next request of the current phase, if one is due and c is idle. */
void conn_next(struct conn *c);

#endif
