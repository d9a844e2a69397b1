/* The JSON-RPC 2.0 server: HTTP/1.1 POST / over libevent's evhttp, on the node's event loop and
 * -rpcthreads - 1 more loops of its own (rpc/loop.h).
 *
 * Authentication is HTTP Basic against `rpcauth` lines (NAME:SALT$HASH:ROLE, HASH = hex
 * HMAC-SHA256 keyed with SALT over the password) or the cookie (`__cookie__`, role admin). Roles:
 * operator, supervisor, admin. `GET /events` (rpc/events.h) is served with the same credentials.
 * Limits: body size (HTTP 413), batch size, connections (in all, per client address, and while
 * not yet authenticated: rpc/server_door.c), deadlines for a first request's header and body,
 * and a delay before every HTTP 401 that grows with the failed logins of the address (which
 * is then answered 429 without a password check). Every method, parameter, result and error
 * code is as doc/rpc.md gives them.
 */
#ifndef SBX_RPC_SERVER_H
#define SBX_RPC_SERVER_H

#include <stddef.h>

#include "util/cidr.h"
#include "util/err.h"
#include "util/tls.h"

struct event_base;
struct node;
struct node_net;
struct rpc_server;

struct rpc_config {
    const char *bind;           /* address to listen on (default "127.0.0.1") */
    int port;                   /* 8645; devnet 18645 */
    const char *const *rpcauth; /* "NAME:SALT$HASH:ROLE" lines */
    size_t nrpcauth;
    const char *cookie_path; /* written at start (mode 0600), removed at free; NULL: none */
    size_t max_body;         /* bytes (default 1 MiB) */
    int max_batch;           /* requests in one batch (default 1000) */
    int max_conns;           /* open connections (default 512) */
    int auth_fail_delay_ms;  /* before answering 401 (default 250) */
    /* the front door (doc/operations.md, "Security"): */
    int auth_fail_delay_max_ms; /* each failed login doubles the delay, up to this (4000) */
    int header_timeout_ms;      /* a first request's whole header, from accept (10000) */
    int body_timeout_ms;        /* ... then its whole body (60000) */
    int max_conns_per_addr;     /* connections of one client address (256) */
    int max_unauth_per_addr;    /* of which not yet authenticated (32) */
    int reserve;                /* slots for authenticated clients only (-1: max_conns / 4) */
    size_t events_max_queue;    /* bytes queued on one /events stream (0: the default, 4 MiB) */
    struct node_net *net;       /* the peer links (test hooks use them); may be NULL */
    int threads;                /* event loops serving HTTP, 1..64 (default 1: the node's only) */
    /* rpctls: HTTPS on every loop with this pair (PEM files); tls_cert NULL: plain HTTP */
    const char *tls_cert;
    const char *tls_key;
    int tls_make;             /* make the pair first if either file is missing */
    const struct cidr *allow; /* -rpcallowip: the client addresses served (403 to others) */
    size_t nallow;            /* 0: every address */
};

void rpc_config_defaults(struct rpc_config *c);
/* The default of -rpcthreads: the number of online cores, 1..64. */
int rpc_config_default_threads(void);

/* Start listening: loop 0 on `base` (the node's, run by the caller) and cfg->threads - 1 more
 * loops, each on a thread of its own, all accepting on the same socket. SBX_EINVAL names a
 * malformed rpcauth line; SBX_EIO a bind failure or an unusable TLS pair; SBX_EDENIED a TLS
 * key file that group or others can read. Logs the TLS certificate's fingerprint, and warns when
 * the socket is reachable beyond loopback without TLS. */
int rpc_server_new(struct rpc_server **out, struct event_base *base, struct node *node,
                   const struct rpc_config *cfg, struct sbx_err *err) SBX_WARN_UNUSED;
/* Stop the loops other than the node's and wait for their threads: call it first when the
 * process stops, before node_close (what the node still answers is delivered at free). */
void rpc_server_stop(struct rpc_server *s);
/* Stop listening, drop connections, remove the cookie file: after node_close (or before any
 * submission). NULL is a no-op. */
void rpc_server_free(struct rpc_server *s);
/* Called (on the event loop) when an admin calls `stop`, after the reply is sent. */
void rpc_server_on_stop(struct rpc_server *s, void (*fn)(void *arg), void *arg);
/* The port actually bound (useful with port 0). */
int rpc_server_port(const struct rpc_server *s);
/* 0 without TLS; else 1, or 2 when the pair was made at this start, and `fp` holds the
 * certificate's fingerprint (util/tls.h). */
int rpc_server_tls(const struct rpc_server *s, char fp[static TLS_FINGERPRINT_HEX]);

#endif
