/* Peer links: the transport between sbx nodes (doc/protocol.md).
 *
 * A `struct p2p` listens for peers and keeps links to the peers it was told to connect to. Each
 * link is TLS 1.3 (OpenSSL through libevent's bufferevent_openssl) with a self-signed
 * certificate that nobody checks: a peer is authenticated by its node key instead. Right after
 * TLS is up each side sends an AUTH frame that signs the session's TLS exporter value with its
 * secp256k1 node key; the other side checks the network id, the signature and then asks the
 * caller whether the key is allowed (and with which role). Only then does the caller hear of
 * the peer (on_connect). After that the link carries length-prefixed frames (u32 length, u8
 * type, payload) whose payloads this layer does not interpret. A malformed frame, a bad
 * handshake or a handshake that takes too long ends the link; links this node opened are
 * re-opened with exponential back-off, links a peer opened are not. Links that peers open pass
 * a front door first (struct p2p_limits): caps per IP address, and a handshake slot for every
 * newcomer, taken from the oldest connection still in the handshake when they are full.
 *
 * Threads: everything here runs on the thread of the event loop given to p2p_new, and every
 * p2p_* function must be called from it. The process must ignore SIGPIPE (sbxd does).
 *
 * Callbacks and lifetimes: on_connect, on_message and on_disconnect are always called from the
 * event loop, never from inside a p2p_* call (except on_disconnect from p2p_free). A peer
 * pointer given to on_connect stays valid until on_disconnect for it returns; every peer that
 * got on_connect gets exactly one on_disconnect. Callbacks may call p2p_send, p2p_broadcast,
 * p2p_peer_close and p2p_foreach_peer, but never p2p_free.
 */
#ifndef SBX_NODE_P2P_H
#define SBX_NODE_P2P_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/keys.h"
#include "util/err.h"

struct event_base;
struct p2p;
struct p2p_peer;

/* Message types. The node layer defines the payloads of all but AUTH (doc/protocol.md). */
enum p2p_msg_type {
    P2P_MSG_AUTH = 1,      /* the handshake proof; internal to this layer, never sent by callers */
    P2P_MSG_HELLO = 2,     /* network id, role, tip */
    P2P_MSG_GETBLOCKS = 3, /* blocks from a height */
    P2P_MSG_BLOCK = 4,     /* one block */
    P2P_MSG_TX = 5,        /* a transaction (a regulator relays directives to the operator) */
    P2P_MSG_ATTEST = 6,    /* an attestation */
    P2P_MSG_PROPOSAL = 7,  /* a k-of-n directive gathering its cosignatures */
};

/* The largest frame by default: a 64 MiB block plus room for its message header. A frame's
 * length counts its type byte and payload, so a payload holds at most max_frame - 1 bytes. */
#define P2P_DEFAULT_MAX_FRAME ((size_t)64 * 1024 * 1024 + 64)
#define P2P_DEFAULT_RECONNECT_MIN_MS 250
#define P2P_DEFAULT_RECONNECT_MAX_MS 10000
/* A link must finish TLS and AUTH within this time of its accept (or connect): a deadline, not
 * an idle timeout, so a peer that trickles bytes cannot extend it. */
#define P2P_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000
/* A link whose queued output makes no progress for this long is closed ("write timeout"): the
 * peer is gone or has stopped reading. TCP keepalive ends links to vanished hosts that are
 * idle (about a minute). */
#define P2P_WRITE_TIMEOUT_MS 60000
/* The front door (struct p2p_limits): links opened by peers, at most this many at once and at
 * most P2P_DEFAULT_MAX_HANDSHAKING of them still in TLS or AUTH; from one IP address at most
 * P2P_DEFAULT_ADDR_LINKS and P2P_DEFAULT_ADDR_HANDSHAKES of those. */
#define P2P_DEFAULT_MAX_INBOUND 64
#define P2P_DEFAULT_MAX_HANDSHAKING 16
#define P2P_DEFAULT_ADDR_LINKS 16
#define P2P_DEFAULT_ADDR_HANDSHAKES 4
/* A peer address as text ("192.0.2.1:8646", "[2001:db8::1]:8646", or a -connect target). */
#define P2P_ADDR_MAX 300

/* Limits on links that peers open (0 = the default of each). A connection from an address (an
 * IPv4 address, or the /64 of an IPv6 one) that already holds addr_links links, or addr_handshakes
 * links still in the handshake, is closed as soon as it is accepted. When max_handshaking links are
 * in the handshake (or max_inbound links are open), the oldest one still in the handshake is
 * dropped to make room: strangers that hold connections open cannot keep a known key out, they only
 * push each other out. A connection is refused only when every inbound link is authenticated. */
struct p2p_limits {
    int handshake_timeout_ms; /* the handshake deadline, from accept or connect */
    int max_inbound;          /* inbound links, authenticated or not */
    int max_handshaking;      /* inbound links still in TLS or AUTH */
    int addr_links;           /* inbound links from one IP address */
    int addr_handshakes;      /* inbound links from one IP address still in TLS or AUTH */
};

struct p2p_config {
    const char *bind;           /* listen address; NULL or "" = all addresses */
    int port;                   /* listen port; 0 = any (see p2p_port) */
    int listen;                 /* accept peers (0 = outbound links only) */
    const char *const *connect; /* "HOST:PORT" or "[IPV6]:PORT" targets kept linked */
    size_t nconnect;
    const char *certdir; /* p2p.key and p2p.crt live here (made on first start, 0600) */
    const struct ledger_key *node_key; /* this node's identity; must outlive the p2p */
    uint8_t network_id[32];            /* peers on another network are refused */
    size_t max_frame;                  /* 0 = P2P_DEFAULT_MAX_FRAME; at least 129 */
    size_t max_sendq;         /* bytes queued to one peer at most; 0 = 2 * (max_frame + 5) */
    int reconnect_min_ms;     /* 0 = P2P_DEFAULT_RECONNECT_MIN_MS */
    int reconnect_max_ms;     /* 0 = P2P_DEFAULT_RECONNECT_MAX_MS */
    struct p2p_limits limits; /* the front door; zero fields take the defaults */
};

struct p2p_callbacks {
    /* 1 if `key` may connect, with its role in *role; 0 to refuse it ("unknown key"). */
    int (*key_allowed)(void *ctx, const uint8_t key[32], int *role);
    /* The peer has proven its key and the key is allowed; the link is open for messages. */
    void (*on_connect)(void *ctx, struct p2p_peer *peer);
    /* One frame from an open peer (any type but AUTH). `payload` is valid only during the
     * call; `len` is at most max_frame - 1. */
    void (*on_message)(void *ctx, struct p2p_peer *peer, uint8_t type, const uint8_t *payload,
                       size_t len);
    /* The link is closed; `reason` says why ("connection closed by peer", "malformed frame",
     * the caller's own reason from p2p_peer_close, "shutting down"). Last use of `peer`. */
    void (*on_disconnect)(void *ctx, struct p2p_peer *peer, const char *reason);
};

/* Create the peer links on `base`: load or create the TLS key and certificate in
 * cfg->certdir (the directory is created, mode 0700, if it is missing), listen if cfg->listen
 * and start linking to every cfg->connect target (first attempts from the event loop, once it
 * runs). `cfg` is copied except node_key, which must outlive the p2p; `cb` and `ctx` are kept.
 * SBX_EINVAL for a bad configuration (err names the field), SBX_EIO if the certificate files
 * cannot be made or read or the port cannot be bound, SBX_EINTERNAL for an OpenSSL failure,
 * SBX_ENOMEM. */
int p2p_new(struct p2p **out, struct event_base *base, const struct p2p_config *cfg,
            const struct p2p_callbacks *cb, void *ctx, struct sbx_err *err) SBX_WARN_UNUSED;
/* Close every link (on_disconnect with "shutting down" for each open peer, from inside this
 * call), stop listening and free everything. NULL is a no-op. Never call it from a callback. */
void p2p_free(struct p2p *p);

/* The port the listener is bound to (the chosen one when cfg->port was 0); 0 if not listening. */
int p2p_port(const struct p2p *p);

/* Queue one frame to an open peer. SBX_OK once queued (delivery is not confirmed); SBX_EINVAL
 * for type AUTH; SBX_ETOOLONG if 1 + len > max_frame; SBX_EUNAVAIL if the peer is closing;
 * SBX_EOVERLOAD if the peer's send queue would pass max_sendq (nothing is queued: the peer is
 * not reading fast enough); SBX_ENOMEM (the peer is then closed). */
int p2p_send(struct p2p_peer *peer, uint8_t type, const uint8_t *payload,
             size_t len) SBX_WARN_UNUSED;
/* Queue one frame to every open peer. Returns how many peers it was queued to (>= 0), or
 * SBX_EINVAL / SBX_ETOOLONG as p2p_send. A peer whose send queue would pass max_sendq is
 * closed ("send queue full") rather than silently missing a message. */
int p2p_broadcast(struct p2p *p, uint8_t type, const uint8_t *payload, size_t len);
/* Close the link (logged with `reason`; on_disconnect follows from the event loop if the peer
 * was open). Queued output is dropped. A link this node opened is re-opened after the
 * back-off. Closing a closed peer is a no-op. */
void p2p_peer_close(struct p2p_peer *peer, const char *reason);
/* Call fn for each open peer. fn may close peers (it still sees none it closed). */
void p2p_foreach_peer(struct p2p *p, void (*fn)(void *ctx, struct p2p_peer *peer), void *ctx);
/* The number of open peers. */
size_t p2p_peer_count(const struct p2p *p);

/* One frame read from a peer: the frame reader's decoder (a link's input goes through it). */
struct p2p_frame {
    size_t size;            /* bytes of the whole frame, length field included */
    uint8_t type;           /* enum p2p_msg_type */
    const uint8_t *payload; /* into the input; len bytes */
    size_t len;
};

/* Decode the frame at the start of `in` (`have` bytes) for a link that has (`open`) or has not
 * yet finished the AUTH exchange, frames at most `max_frame` bytes long (type and payload).
 * SBX_OK with `f` filled (f->payload points into `in`); SBX_ETRUNCATED when more input is
 * needed: f->size is then the bytes the frame needs (the length field's 4 until it is in);
 * SBX_ETOOLONG for a length of 0, over `max_frame`, or, before AUTH, other than an AUTH
 * frame's; SBX_ETYPE for an AUTH frame after AUTH or another type before it. Reads nothing
 * past `have` and keeps nothing; any thread. */
int p2p_frame_decode(struct p2p_frame *f, const uint8_t *in, size_t have, size_t max_frame,
                     int open, struct sbx_err *err) SBX_WARN_UNUSED;

/* The peer's proven node key (32 bytes, x-only). */
const uint8_t *p2p_peer_key(const struct p2p_peer *peer);
/* The role key_allowed gave the peer. */
int p2p_peer_role(const struct p2p_peer *peer);
/* The remote address of an inbound peer, the -connect target of an outbound one. */
const char *p2p_peer_addr(const struct p2p_peer *peer);
/* 1 if the peer connected to us, 0 if we connected to it. */
int p2p_peer_inbound(const struct p2p_peer *peer);
/* A number unique to this link within the p2p (a reconnect gets a new one). */
uint64_t p2p_peer_id(const struct p2p_peer *peer);
/* Bytes queued to the peer and not yet handed to TLS: lets a sender pace itself. */
size_t p2p_peer_sendq(const struct p2p_peer *peer);
/* A pointer the caller hangs on the peer (NULL at on_connect); free it in on_disconnect. */
void p2p_peer_set_data(struct p2p_peer *peer, void *data);
void *p2p_peer_data(const struct p2p_peer *peer);

#endif
