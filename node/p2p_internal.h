/* Internal to node/p2p*.c (and, for the test hooks at the end, tests/unit/test_p2p.c): the
 * peer-link objects and the functions the files share. Not part of the API of node/ (that is
 * node/p2p.h).
 *
 *   p2p.c       creating and freeing a struct p2p; sending; the peer accessors; test hooks
 *   p2p_peer.c  a link's life (TLS -> AUTH -> OPEN -> CLOSED, reaping), framing, I/O events
 *   p2p_tls.c   the TLS context and certificate, and the node-key handshake (AUTH frames)
 *   p2p_conn.c  listening and the front door (limits on inbound links), connecting out,
 *               reconnect back-off
 *
 * Threads: everything runs on the event loop's thread (see p2p.h); nothing here is locked.
 */
#ifndef SBX_NODE_P2P_INTERNAL_H
#define SBX_NODE_P2P_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/util.h>
#include <openssl/ssl.h>

#include "node/p2p.h"

#define FRAME_HDR 4                       /* u32 length of type + payload */
#define AUTH_PAYLOAD 128                  /* network id | node key | signature */
#define AUTH_FRAME_LEN (1 + AUTH_PAYLOAD) /* the length field of an AUTH frame */
#define REASON_MAX 160
/* Lines about inbound connections not (yet) authenticated: at most this many a window at
 * warning level (struct p2p_quiet). */
#define P2P_DOOR_LOG_BURST 5
#define P2P_DOOR_LOG_WINDOW_MS 10000
#define P2P_GROUP_MAX 64 /* an address group as text (p2p_conn_addr) */

struct bufferevent;
struct sockaddr;
struct evconnlistener;
struct event;

enum peer_state {
    PEER_TLS,    /* TCP connect and TLS handshake */
    PEER_AUTH,   /* TLS up, our AUTH sent, waiting for the peer's */
    PEER_OPEN,   /* authenticated and announced (on_connect) */
    PEER_CLOSED, /* closed, waiting for the reap event */
};

/* One -connect entry: the link to it is kept up. */
struct p2p_target {
    struct p2p *p;
    char addr[P2P_ADDR_MAX]; /* as configured, for logs and p2p_peer_addr */
    char host[P2P_ADDR_MAX]; /* without brackets */
    int port;
    struct event *timer;   /* the next attempt */
    struct p2p_peer *peer; /* the current attempt or link; NULL while waiting */
    int delay_ms;          /* the wait after the next failure */
    size_t attempts;       /* picks the address to try when the name has several */
};

struct p2p_peer {
    LIST_ENTRY(p2p_peer) link; /* on p->peers */
    struct p2p *p;
    struct p2p_target *target; /* NULL for an inbound peer */
    struct bufferevent *bev;
    struct event *timer; /* handshake timeout */
    enum peer_state state;
    int announced; /* on_connect was called: on_disconnect is owed */
    uint64_t id;
    uint8_t key[32];
    int role;
    uint8_t exporter[32];
    int64_t open_us; /* monotonic time of on_connect */
    size_t low_wm;
    void *data;
    char addr[P2P_ADDR_MAX];
    char group[P2P_GROUP_MAX]; /* an inbound peer's address group (p2p_conn_addr) */
    char reason[REASON_MAX];
};

/* A warning that strangers can make us repeat at will ("closed: handshake timeout" for every
 * connection they leave idle): at most `burst` lines a window at warning level, the rest at
 * debug level, and the count of those in the first warning line of a later window. */
struct p2p_quiet {
    int64_t window_us; /* monotonic start of the current window */
    unsigned lines;    /* warning lines in it */
    unsigned quieted;  /* lines sent to the debug level since the last warning line */
};

LIST_HEAD(p2p_peer_list, p2p_peer);

struct p2p {
    struct event_base *base;
    struct p2p_callbacks cb;
    void *ctx;
    const struct ledger_key *key;
    uint8_t network_id[32];
    size_t max_frame, max_sendq;
    int reconnect_min_ms, reconnect_max_ms;
    struct p2p_limits lim; /* the front door, defaults filled in */
    int write_timeout_ms;
#ifdef SBX_TEST_HOOKS
    int corrupt_auth; /* p2p_test_corrupt_auth */
#endif
    SSL_CTX *ssl;
    struct evconnlistener *listener;
    struct event *accept_retry;
    int accept_pause_ms;           /* the next pause after accept() fails; 0 after a success */
    struct p2p_quiet door_quiet;   /* lines about connections that have not authenticated */
    struct p2p_quiet accept_quiet; /* lines about accept() failing */
    int port;
    struct p2p_target *targets;
    size_t ntargets;
    struct event *start_ev;     /* first outbound attempts, from the loop */
    struct p2p_peer_list peers; /* every peer, closed ones until reaped; newest first */
    struct event *reap_ev;
    uint64_t next_id;
    int freeing;
};

/* p2p_peer.c */
/* A peer on the list, in state TLS, owning `bev` (freed with it). NULL on allocation failure
 * (then `bev` is freed here). */
struct p2p_peer *p2p_peer_new(struct p2p *p, struct p2p_target *t, const char *addr,
                              struct bufferevent *bev);
/* "inbound" or "outbound", for logs. */
const char *p2p_peer_dir(const struct p2p_peer *peer);
/* Queue one frame; on allocation failure the peer is closed (its stream would be cut). */
int p2p_peer_queue(struct p2p_peer *peer, uint8_t type, const uint8_t *payload, size_t len);
/* The reap event: on_disconnect and free for every closed peer (also called by p2p_free). */
void p2p_peer_reap(evutil_socket_t fd, short what, void *arg);

/* p2p_tls.c */
/* One SSL_CTX for both directions into p->ssl, with the key and certificate of `certdir`. */
int p2p_tls_init(struct p2p *p, const char *certdir, struct sbx_err *err) SBX_WARN_UNUSED;
/* TLS is up: derive the exporter value, send our AUTH, arm the write timeout. */
void p2p_tls_up(struct p2p_peer *peer);
/* The digest an AUTH frame signs: tagged("sbx/peer", exporter | network id | key | dir), dir 0
 * from the side that connected, 1 from the side that accepted (doc/protocol.md). */
void p2p_tls_auth_digest(uint8_t out[static 32], const uint8_t exporter[static 32],
                         const uint8_t network_id[static 32], const uint8_t key[static 32],
                         uint8_t dir);
/* The peer's AUTH payload: network id, signature over our shared exporter value, allow list;
 * the peer is open (on_connect) or closed after it. */
void p2p_tls_auth_check(struct p2p_peer *peer, const uint8_t payload[static AUTH_PAYLOAD]);

/* p2p_conn.c */
/* An accepted peer's address as text into `addr` ("IP:PORT", "[IPV6]:PORT"), and into `group`
 * what the front door counts it by: the IPv4 address (also for an IPv4-mapped IPv6 one), or
 * the /64 of an IPv6 address ("2001:db8:1:2::/64"), which one host gets whole. */
void p2p_conn_addr(const struct sockaddr *sa, char group[static P2P_GROUP_MAX],
                   char addr[static P2P_ADDR_MAX]);
/* Log one line through `q` (see struct p2p_quiet): at warning level while the window has room,
 * else at debug level. */
void p2p_conn_quiet(struct p2p_quiet *q, int burst, int window_ms, const char *fmt, ...)
    SBX_PRINTF(4, 5);
/* Parse the -connect targets of `cfg` into p->targets, each with its timer. */
int p2p_conn_targets(struct p2p *p, const struct p2p_config *cfg,
                     struct sbx_err *err) SBX_WARN_UNUSED;
/* Listen on bind:port (port 0: any; p->port gets the one bound). */
int p2p_conn_listen(struct p2p *p, const char *bind, int port, struct sbx_err *err) SBX_WARN_UNUSED;
/* The link to `t` ended (`closed`) or an attempt failed (NULL): the next attempt after the
 * back-off. */
void p2p_conn_schedule(struct p2p_target *t, const struct p2p_peer *closed);
/* Event callbacks: the first outbound attempts; the listener back on after accept failed. */
void p2p_conn_start(evutil_socket_t fd, short what, void *arg);
void p2p_conn_accept_retry(evutil_socket_t fd, short what, void *arg);

#ifdef SBX_TEST_HOOKS
/* Test hooks (test builds only): make a p2p behave as no correct peer does, so that a test can
 * check the other side refuses it. */
/* While `on` is set, every AUTH frame this p2p sends carries a signature with one bit flipped. */
void p2p_test_corrupt_auth(struct p2p *p, int on);
/* Links that get to AUTH from now on close when queued output makes no progress for `ms`
 * (instead of P2P_WRITE_TIMEOUT_MS). */
void p2p_test_write_timeout(struct p2p *p, int ms);
#endif

#endif
