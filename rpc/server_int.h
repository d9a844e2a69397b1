/* Internal to the RPC server (rpc/server.c, rpc/server_call.c): its loops, connections,
 * requests and calls. Not an API: the rest of rpc/ sees rpc/server.h.
 *
 * Ownership: a connection, a request context and its calls belong to the loop that accepted
 * the connection and are touched only on its thread, except a call's outcome (and the
 * request's env and budget) while the call is remote: then loop 0 alone touches them until the
 * call's hop comes back (rpc/loop.h; the mailbox's lock orders the two).
 */
#ifndef SBX_RPC_SERVER_INT_H
#define SBX_RPC_SERVER_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/bufferevent.h>
#include <event2/util.h>
#include <jansson.h>

#include "ledger/tx.h"
#include "rpc/gate.h"
#include "rpc/loop.h"
#include "rpc/outcome.h"
#include "util/map.h"

struct bufferevent;
struct event;
struct event_base;
struct evbuffer;
struct evhttp;
struct evhttp_connection;
struct evhttp_request;
struct evconnlistener;
struct node;
struct node_net;
struct node_sink;
struct rpc_auth;
struct rpc_events;
struct rpc_metrics;
struct rpc_server;
struct rpc_tls;
struct cidr;

#define CONTAINER(p, type, field) ((type *)(void *)((char *)(p)-offsetof(type, field)))

struct rpc_http;
struct srv_loop;

/* A connection just accepted: its bufferevent. */
struct claim {
    struct bufferevent *bev;
};

#define MAX_HEADERS_SIZE 16384

/* What the front door (rpc/server_door.c) knows of a connection. */
struct rpc_door {
    struct rpc_gate_addr addr;
    char peer[48];                /* its address as text, for logs */
    int counted;                  /* in the gate's book */
    int authed;                   /* its first request had valid credentials */
    int checked;                  /* the header of its first request has been checked */
    int code;                     /* 0, or that request's answer: 401, 429 (no body read) */
    int delay_ms;                 /* ... sent this long after it came */
    int64_t lock_end_us;          /* after a failed login: when its address may try again
                                   * (time_mono_us); the 401 goes no sooner */
    int retry_s;                  /* 429: Retry-After */
    int64_t since_ms;             /* accepted then (monotonic clock) */
    size_t scanned;               /* header bytes searched for the header's end */
    struct event *deadline;       /* for the header, then the body, of its first request */
    bufferevent_data_cb rcb, wcb; /* evhttp's callbacks, while the door reads the header */
    bufferevent_event_cb ecb;
};

/* One accepted connection. */
struct rpc_conn {
    struct srv_loop *l;
    struct evhttp_connection *evcon;
    int refused;          /* accepted over a cap: 503 and close */
    struct rpc_http *cur; /* the request of this connection we are working on */
    struct rpc_door door;
    TAILQ_ENTRY(rpc_conn) link; /* in its loop's conns, newest first */
};

/* One JSON-RPC call of a request. */
struct rpc_call {
    struct rpc_http *h;
    json_t *id;         /* NULL: a notification (no reply); json null for an unknown id */
    const char *method; /* the method table's name of the method called, or NULL (metrics) */
    struct rpc_outcome out;
    int remote;         /* runs or waits on loop 0: its answer comes back by a hop */
    json_t *rq;         /* a remote call not yet run: a copy of its request object */
    struct rpc_hop hop; /* to loop 0 and back */
};

/* One HTTP request. */
struct rpc_http {
    struct srv_loop *l;         /* the loop of its connection; NULL once the server is gone */
    struct srv_loop *home;      /* the same, kept until it is freed (hops come back there) */
    struct evhttp_request *req; /* NULL once the request is gone (or answered) */
    struct rpc_conn *conn;      /* NULL once the connection is gone */
    struct event *timer;        /* the delay before a 401 */
    int batch;
    size_t ncalls;
    struct rpc_call *calls; /* `one`, or (a batch of several) malloc'd */
    struct rpc_call one;
    size_t pending; /* submissions not yet answered, +1 while dispatching */
    size_t budget;  /* what the reply may still show (RPC_RENDER_BUDGET) */
    int stop;
    int64_t t0_us;              /* when the request was read (metrics) */
    struct rpc_env env;         /* what its calls see (remote ones too) */
    int page;                   /* GET /health or /metrics rendered on loop 0 */
    struct evbuffer *body;      /* ... into this, */
    int code;                   /* ... with this HTTP status */
    struct rpc_hop hop;         /* the page's way to loop 0 and back */
    TAILQ_ENTRY(rpc_http) link; /* in its loop's live list while `l` is set (or its spares) */
};

/* One event loop of the server: its evhttp, connections and requests are its thread's alone. */
struct srv_loop {
    struct rpc_server *s;
    int index; /* 0: the node's loop */
    struct rpc_loop *loop;
    struct event_base *base;
    struct evhttp *http;
    struct node_sink *sink;     /* the node answers this loop's submissions here */
    struct ledger_tx *tx_spare; /* a submitted transaction kept for the next (rpc_env) */
    struct rpc_events *events;  /* GET /events on this loop */
    TAILQ_HEAD(rpc_conn_list, rpc_conn) conns;
    struct map byevcon;   /* the same, by the address of their evhttp_connection */
    struct claim *claims; /* accepted, not yet claimed */
    size_t nclaims, claims_cap;
    struct event *claim_ev;
    TAILQ_HEAD(, rpc_http) live;  /* requests in progress */
    TAILQ_HEAD(, rpc_http) spare; /* freed contexts kept for the next requests */
    size_t nspare;
    /* balance: this loop's share of the connections (see balance in rpc/server.c) */
    struct evconnlistener *listener;
    size_t nopen;               /* its connections, counted from accept */
    atomic_int paused;          /* its listener is disabled (written on its thread only) */
    struct event *balance_ev;   /* re-checks a paused listener */
    atomic_int recheck;         /* recheck_hop is posted */
    struct rpc_hop recheck_hop; /* another loop asks it to re-check (its share grew) */
    /* accept errors (rpc/server_door.c) */
    struct event *accept_ev;      /* ends a pause after an accept error */
    struct event *accept_more_ev; /* resumes accepting after a batch */
    int accept_batch;             /* connections accepted in this batch */
    size_t nrefused;              /* refused connections waiting for their 503 */
    int accept_wait_ms;           /* the last pause (0 after a connection was accepted) */
    int accept_waiting;           /* its listener is disabled until accept_ev */
};

struct rpc_server {
    struct event_base *base; /* the node's (loop 0's) */
    struct node *node;
    struct node_net *net;
    struct rpc_auth *auth;
    struct rpc_metrics *metrics;
    struct srv_loop *loops;
    int nloops;
    int operator_node; /* submissions may go to the node from any loop */
    int port;
    size_t max_body;
    size_t max_batch;
    size_t max_conns;
    int auth_delay_ms;
    int header_timeout_ms; /* the first request's whole header, from accept */
    int body_timeout_ms;   /* ... then its whole body */
    struct rpc_gate *gate; /* connections and failed logins by address, for every loop */
    struct ledger_asset_def assets[SBX_MAX_ASSETS];
    size_t nassets;
    /* connections of every loop, counted from accept, including those not yet claimed */
    atomic_size_t nconns;
    atomic_int naccepting;   /* loops whose listener is enabled (0 only until a re-check) */
    int closing;             /* rpc_server_free has begun (every other loop has stopped) */
    _Atomic size_t nstreams; /* /events streams of every loop */
    struct rpc_tls *tls;     /* rpctls: every loop's connections are TLS; NULL: plain */
    int tls_made;            /* the pair was made at this start */
    uint8_t tls_fp[32];      /* its certificate's fingerprint */
    struct cidr *allow;      /* -rpcallowip (read-only once serving); nallow 0: everyone */
    size_t nallow;
    /* stop (stop_ev runs on loop 0) */
    void (*stop_fn)(void *arg);
    void *stop_arg;
    struct event *stop_ev;
    atomic_int stop_armed;
    int stop_fired; /* loop 0 only */
};

/* ---- rpc/server_door.c: the front door (on the connection's loop) ---- */

/* A connection just claimed (its close callback installed, no byte read yet): count it in the
 * gate (or mark it refused), arm its header deadline, and read its first header. */
void rpc_server_door_open(struct rpc_conn *c, struct bufferevent *bev);
/* Its request has reached the HTTP callback: no deadline from now on. */
void rpc_server_door_request(struct rpc_conn *c);
/* It is closing: out of the gate, its timer freed. */
void rpc_server_door_close(struct rpc_conn *c);
/* A connection was accepted (evhttp's bufferevent callback). */
void rpc_server_door_accepted(struct srv_loop *l);
/* Pause `l`'s listener (doubling up to a second) on accept errors; after l->listener is set.
 * SBX_ENOMEM. */
int rpc_server_door_listen(struct srv_loop *l) SBX_WARN_UNUSED;
/* Append the gate's counters (sbx_rpc_frontdoor_total) to a /metrics page. */
void rpc_server_door_metrics(struct rpc_server *s, struct evbuffer *out);
/* Forget `l`'s listener (before it is freed). */
void rpc_server_door_unlisten(struct srv_loop *l);

/* ---- rpc/server_call.c ---- */

/* A plain-text reply (`close`: and close the connection). */
void rpc_server_call_send_plain(struct evhttp_request *req, int code, const char *reason,
                                const char *body, int close);
/* A context for `req` on loop `l` (in its live list); NULL when out of memory. */
struct rpc_http *rpc_server_call_new(struct srv_loop *l, struct evhttp_request *req,
                                     struct rpc_conn *conn);
/* Done with `h`: its loop keeps it for a next request (or it is freed). */
void rpc_server_call_free(struct rpc_http *h);
/* Free the contexts `l` keeps (its thread has stopped). */
void rpc_server_call_spares_free(struct srv_loop *l);
/* Parse the body of h->req and run its calls as `role`; the reply goes out once the last is
 * answered (on h's loop). */
void rpc_server_call_process(struct rpc_http *h, int role);
/* stop_ev's callback (loop 0): run the server's stop function once. */
void rpc_server_call_stop_cb(evutil_socket_t fd, short what, void *arg);

#endif
