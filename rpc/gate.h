/* The RPC front door's book of client addresses, shared by every loop of the server.
 *
 * It counts connections by client address and by state (still unauthenticated, or
 * authenticated by a first request with valid credentials) against the caps: every connection,
 * the slots kept for authenticated clients, connections per address and unauthenticated
 * connections per address. It also remembers failed logins per address: each one locks the
 * address out of further password checks for a time that doubles with every failure (and is
 * forgotten after a quiet spell), so that parallel connections cannot guess faster than one
 * password per lock.
 *
 * One mutex guards it (a leaf lock: nothing else is taken while it is held): a client's
 * connections land on any loop, so per-address counts must be one book, and each connection
 * touches it a handful of times in its life. The book holds at most RPC_GATE_MAX_ADDRS
 * addresses; when it is full, new addresses share one overflow entry (caps and locks apply to
 * them together), so its memory stays bounded whatever the number of addresses.
 */
#ifndef SBX_RPC_GATE_H
#define SBX_RPC_GATE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct sockaddr;
struct rpc_gate;

#define RPC_GATE_MAX_ADDRS 16384
/* Failed logins are forgotten after this long without one. */
#define RPC_GATE_FORGET_MS (10 * 60 * 1000)

struct rpc_gate_limits {
    size_t max_conns;      /* every connection */
    size_t reserve;        /* of those, slots only authenticated connections may hold */
    size_t max_per_addr;   /* connections of one address */
    size_t max_unauth;     /* unauthenticated connections of one address */
    int fail_delay_ms;     /* lock after a first failed login; doubles with each one */
    int fail_delay_max_ms; /* ... up to this */
};

/* A client address as the book's key: a family tag and the address bytes. */
struct rpc_gate_addr {
    uint8_t b[17];
};

/* What rpc_gate_open decided for a new connection: RPC_GATE_FULL, or it is counted in (as
 * unauthenticated) and the flags say what must make room for it, over the caps. */
enum {
    RPC_GATE_IN = 0,
    RPC_GATE_EVICT_SAME = 1,  /* an unauthenticated connection of the same address must go */
    RPC_GATE_EVICT_ANY = 2,   /* an unauthenticated connection (any address) must go */
    RPC_GATE_EVICT_STALE = 4, /* one of the same address that has had its time to authenticate
                               * should go; the cap is soft (none that old: none goes), so that
                               * a client opening many at once keeps them until they speak */
    RPC_GATE_FULL = 8,        /* no slot, nothing to make room with: refuse it (not counted) */
};

/* Counters for /metrics (totals since start). */
struct rpc_gate_stats {
    uint64_t refused;      /* connections refused: no slot, nothing to close */
    uint64_t evicted;      /* unauthenticated connections closed to make room */
    uint64_t failed;       /* failed logins */
    uint64_t locked;       /* requests refused without a password check (address locked) */
    uint64_t deadline;     /* connections closed at the header or body deadline */
    uint64_t accept_error; /* accept() failures (file limit) */
};
enum rpc_gate_stat {
    RPC_GATE_STAT_REFUSED,
    RPC_GATE_STAT_EVICTED,
    RPC_GATE_STAT_DEADLINE,
    RPC_GATE_STAT_ACCEPT_ERROR,
};

/* The key of `sa` (IPv4-mapped IPv6 addresses as IPv4); any other family gives one all-zero
 * key. */
void rpc_gate_addr_of(struct rpc_gate_addr *out, const struct sockaddr *sa);

/* A book with these limits (reserve below max_conns; every other limit at least 1).
 * SBX_ENOMEM. */
int rpc_gate_new(struct rpc_gate **out, const struct rpc_gate_limits *lim) SBX_WARN_UNUSED;
/* NULL is a no-op. */
void rpc_gate_free(struct rpc_gate *g);

/* A new connection from `a` at `now_ms`: RPC_GATE_FULL, or counted in as unauthenticated at once
 * (so that another loop cannot take the slot its eviction frees) with the RPC_GATE_EVICT_*
 * flags of what must make room. A caller that cannot evict what a hard flag asks closes it
 * again (rpc_gate_close) and refuses it. */
unsigned rpc_gate_open(struct rpc_gate *g, const struct rpc_gate_addr *a, int64_t now_ms);
/* A connection counted in by rpc_gate_open has authenticated. */
void rpc_gate_authenticated(struct rpc_gate *g, const struct rpc_gate_addr *a);
/* A connection counted in by rpc_gate_open is gone (`authenticated`: its state then). */
void rpc_gate_close(struct rpc_gate *g, const struct rpc_gate_addr *a, int authenticated);

/* Milliseconds until `a` may have a password checked again (0: now). Not a reservation: when a
 * lock ends, each RPC loop may check one password before the next failure locks it again. */
int64_t rpc_gate_locked_ms(struct rpc_gate *g, const struct rpc_gate_addr *a, int64_t now_ms);
/* A failed login from `a` at `now_ms`: locks the address and returns the lock's length in ms
 * (the delay before the 401); `*failures` (may be NULL) gets its count of recent failures. */
int64_t rpc_gate_failed(struct rpc_gate *g, const struct rpc_gate_addr *a, int64_t now_ms,
                        unsigned *failures);
/* Count one event that the server sees (not the book). */
void rpc_gate_count(struct rpc_gate *g, enum rpc_gate_stat what);
void rpc_gate_stats(struct rpc_gate *g, struct rpc_gate_stats *out);

#endif
