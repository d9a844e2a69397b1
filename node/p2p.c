/* Peer links: TLS 1.3 transport, node-key handshake, framing, reconnects; see p2p.h and
 * doc/protocol.md.
 *
 * A link goes through three states: TLS (TCP connect and the TLS handshake), AUTH (TLS is up,
 * our AUTH frame is sent, we wait for the peer's) and OPEN (the caller knows the peer). Closing
 * is split in two so that no callback ever runs inside a p2p_* call and no object is freed
 * under a callback that is still using it: peer_close() logs, stops the bufferevent and marks
 * the peer CLOSED at once; the `reap` event, on the next turn of the loop, calls on_disconnect
 * and frees it. Closed peers stay on the list until then, so walking the list stays safe while
 * callbacks close peers.
 *
 * Reading: a frame is consumed only when all of it is in the input buffer. The length is
 * checked as soon as its four bytes are there, before anything waits for the rest, so a peer
 * can make us hold at most one frame it declared within the limits: 129 bytes before it has
 * authenticated, max_frame after. The read low watermark is set to the size of the frame being
 * waited for (one callback per frame, not one per TLS record) and the high watermark caps the
 * input buffer.
 *
 * Optimised for few, long-lived links between known nodes moving blocks of up to 64 MiB, not
 * for many anonymous clients: inbound links are capped (P2P_MAX_INBOUND) and so are those not
 * yet authenticated (P2P_MAX_INBOUND_HANDSHAKING).
 */
#include "node/p2p.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "node/p2p_internal.h"
#include "util/buf.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/sha256.h"
#include "util/time.h"

#define FRAME_HDR 4                       /* u32 length of type + payload */
#define AUTH_PAYLOAD 128                  /* network id | node key | signature */
#define AUTH_FRAME_LEN (1 + AUTH_PAYLOAD) /* the length field of an AUTH frame */
#define EXPORTER_LABEL "EXPORTER-sbx-peer"
#define DIR_CONNECTOR 0 /* direction byte of the side that connected */
#define DIR_ACCEPTOR 1  /* direction byte of the side that accepted */
/* Input may pass a full frame by what libevent reads in one go (a TLS record or two) before the
 * frame's callback drains it; the high watermark leaves that much room above the largest
 * frame so that it is never reached by a well-behaved peer. */
#define READ_SLACK (256u * 1024u)
#define SMALL_FRAME (64u * 1024u) /* header and payload queued contiguously up to this size */
#define LISTEN_BACKLOG 64
#define ACCEPT_RETRY_MS 1000 /* after accept() fails (out of file descriptors) */
#define CERT_DAYS 36500      /* nobody checks the certificate; it should never expire */
#define KEY_FILE "p2p.key"
#define CERT_FILE "p2p.crt"
#define REASON_MAX 160
#define KEEPALIVE_IDLE_S 30 /* first probe after this long without traffic */
#define KEEPALIVE_INTERVAL_S 10
#define KEEPALIVE_COUNT 3

enum peer_state {
    PEER_TLS,    /* TCP connect and TLS handshake */
    PEER_AUTH,   /* TLS up, our AUTH sent, waiting for the peer's */
    PEER_OPEN,   /* authenticated and announced (on_connect) */
    PEER_CLOSED, /* closed, waiting for the reap event */
};

/* One -connect entry: the link to it is kept up. */
struct target {
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
    struct p2p_peer *next, *prev;
    struct p2p *p;
    struct target *target; /* NULL for an inbound peer */
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
    char reason[REASON_MAX];
};

struct p2p {
    struct event_base *base;
    struct p2p_callbacks cb;
    void *ctx;
    const struct ledger_key *key;
    uint8_t network_id[32];
    size_t max_frame, max_sendq;
    int reconnect_min_ms, reconnect_max_ms;
    int handshake_timeout_ms;
    int write_timeout_ms;
    int corrupt_auth; /* test hook */
    SSL_CTX *ssl;
    struct evconnlistener *listener;
    struct event *accept_retry;
    int port;
    struct target *targets;
    size_t ntargets;
    struct event *start_ev; /* first outbound attempts, from the loop */
    struct p2p_peer *peers; /* every peer, closed ones until reaped */
    struct event *reap_ev;
    uint64_t next_id;
    int freeing;
};

static void peer_read_cb(struct bufferevent *bev, void *arg);
static void peer_event_cb(struct bufferevent *bev, short what, void *arg);
static void target_connect(struct target *t);

/* ------------------------------------------------------------------ helpers */

static const char *
peer_dir(const struct p2p_peer *peer)
{
    return peer->target == NULL ? "inbound" : "outbound";
}

/* The first OpenSSL error of this thread's queue as text (or `fallback`); empties the queue. */
static void
ssl_error_text(char *out, size_t n, const char *fallback)
{
    unsigned long e = ERR_get_error();

    if (e == 0)
        snprintf(out, n, "%s", fallback);
    else
        ERR_error_string_n(e, out, n);
    ERR_clear_error();
}

/* Parse "HOST:PORT" or "[IPV6]:PORT". */
static int
parse_target(const char *s, char host[static P2P_ADDR_MAX], int *port)
{
    const char *h, *hend, *ps;
    size_t hlen, plen;
    long v = 0;

    if (strlen(s) >= P2P_ADDR_MAX)
        return SBX_ETOOLONG;
    if (s[0] == '[') {
        h = s + 1;
        hend = strchr(h, ']');
        if (hend == NULL || hend[1] != ':')
            return SBX_EINVAL;
        ps = hend + 2;
    } else {
        h = s;
        hend = strrchr(s, ':');
        if (hend == NULL || memchr(s, ':', (size_t)(hend - s)) != NULL)
            return SBX_EINVAL; /* no port, or a bare IPv6 address (needs brackets) */
        ps = hend + 1;
    }
    hlen = (size_t)(hend - h);
    plen = strlen(ps);
    if (hlen == 0 || plen == 0 || plen > 5)
        return SBX_EINVAL;
    for (size_t i = 0; i < plen; i++) {
        if (ps[i] < '0' || ps[i] > '9')
            return SBX_EINVAL;
        v = v * 10 + (ps[i] - '0');
    }
    if (v < 1 || v > 65535)
        return SBX_EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)v;
    return SBX_OK;
}

static void
format_sockaddr(const struct sockaddr *sa, char out[static P2P_ADDR_MAX])
{
    char ip[INET6_ADDRSTRLEN];

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        if (evutil_inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip)) != NULL) {
            snprintf(out, P2P_ADDR_MAX, "%s:%u", ip, (unsigned)ntohs(in->sin_port));
            return;
        }
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (evutil_inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip)) != NULL) {
            snprintf(out, P2P_ADDR_MAX, "[%s]:%u", ip, (unsigned)ntohs(in6->sin6_port));
            return;
        }
    }
    snprintf(out, P2P_ADDR_MAX, "unknown");
}

/* The digest an AUTH frame signs: tagged("sbx/peer", exporter | network id | key | dir). */
static void
auth_digest(const uint8_t exporter[static 32], const uint8_t network_id[static 32],
            const uint8_t key[static 32], uint8_t dir, uint8_t out[static 32])
{
    uint8_t msg[32 + 32 + 32 + 1];

    memcpy(msg, exporter, 32);
    memcpy(msg + 32, network_id, 32);
    memcpy(msg + 64, key, 32);
    msg[96] = dir;
    sha256_tagged(&SHA256_TAG_PEER, out, msg, sizeof(msg));
}

/* ------------------------------------------------------------------ certificate */

/* Write `pkey` (if not NULL) or `cert` as PEM to `path`, mode 0600, through a temporary file
 * renamed into place so that a crash never leaves half a file. */
static int
write_pem(const char *path, EVP_PKEY *pkey, X509 *cert, struct sbx_err *err)
{
    char tmp[PATH_MAX];
    FILE *f = NULL;
    int fd = -1, ok, rc = SBX_EIO;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        rc = sbx_err_set(err, SBX_EINVAL, "certdir: path too long");
        goto out;
    }
    unlink(tmp); /* left over from a crash */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        sbx_err_set(err, SBX_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        goto out;
    }
    f = fdopen(fd, "w");
    if (f == NULL) {
        sbx_err_set(err, SBX_EIO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (pkey != NULL)
        ok = PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
    else
        ok = PEM_write_X509(f, cert);
    if (ok != 1 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        sbx_err_set(err, SBX_EIO, "%s: cannot write", tmp);
        goto out;
    }
    ok = fclose(f);
    f = NULL;
    if (ok != 0 || rename(tmp, path) != 0) {
        sbx_err_set(err, SBX_EIO, "%s: cannot write: %s", path, strerror(errno));
        goto out;
    }
    rc = SBX_OK;
out:
    if (f != NULL)
        fclose(f);
    if (fd >= 0)
        close(fd);
    if (rc != SBX_OK)
        unlink(tmp);
    ERR_clear_error();
    return rc;
}

/* Make a fresh P-256 key and a self-signed certificate for it into the two files. */
static int
cert_generate(const char *keypath, const char *certpath, struct sbx_err *err)
{
    EVP_PKEY *pkey = NULL;
    X509 *x = NULL;
    X509_NAME *name;
    uint8_t serial[8];
    int64_t sn;
    int rc = SBX_EINTERNAL;

    pkey = EVP_EC_gen("P-256");
    x = X509_new();
    if (pkey == NULL || x == NULL || RAND_bytes(serial, sizeof(serial)) != 1)
        goto fail;
    serial[0] &= 0x7f; /* a positive serial number */
    sn = (int64_t)buf_load_u64(serial);
    name = X509_get_subject_name(x);
    if (X509_set_version(x, X509_VERSION_3) != 1 ||
        ASN1_INTEGER_set_int64(X509_get_serialNumber(x), sn) != 1 ||
        X509_gmtime_adj(X509_getm_notBefore(x), -86400) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(x), CERT_DAYS, 0, NULL) == NULL ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"sbx-peer", -1,
                                   -1, 0) != 1 ||
        X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, pkey) != 1 ||
        X509_sign(x, pkey, EVP_sha256()) <= 0)
        goto fail;
    rc = write_pem(keypath, pkey, NULL, err);
    if (rc != SBX_OK)
        goto out;
    rc = write_pem(certpath, NULL, x, err);
    goto out;
fail : {
    char e[200];
    ssl_error_text(e, sizeof(e), "unknown error");
    rc = sbx_err_set(err, SBX_EINTERNAL, "cannot make the TLS certificate: %s", e);
}
out:
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}

/* Load certdir/p2p.key and p2p.crt into `ctx`, making them (and certdir) first if either is
 * missing. The key file must not be accessible by group or others. */
static int
cert_load(SSL_CTX *ctx, const char *certdir, struct sbx_err *err)
{
    char keypath[PATH_MAX], certpath[PATH_MAX], e[200];
    struct stat st;
    int have_key, have_cert, rc;

    if ((size_t)snprintf(keypath, sizeof(keypath), "%s/%s", certdir, KEY_FILE) >= sizeof(keypath) ||
        (size_t)snprintf(certpath, sizeof(certpath), "%s/%s", certdir, CERT_FILE) >=
            sizeof(certpath))
        return sbx_err_set(err, SBX_EINVAL, "certdir: path too long");
    if (mkdir(certdir, 0700) != 0 && errno != EEXIST)
        return sbx_err_set(err, SBX_EIO, "certdir %s: cannot create: %s", certdir, strerror(errno));
    have_key = stat(keypath, &st) == 0;
    have_cert = access(certpath, F_OK) == 0;
    if (!have_key || !have_cert) {
        rc = cert_generate(keypath, certpath, err);
        if (rc != SBX_OK)
            return rc;
        LOG_INFO(LOG_P2P, "made a new TLS key and certificate in %s", certdir);
        if (stat(keypath, &st) != 0)
            return sbx_err_set(err, SBX_EIO, "%s: %s", keypath, strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return sbx_err_set(err, SBX_EINVAL, "%s: not a regular file", keypath);
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        return sbx_err_set(err, SBX_EDENIED,
                           "%s: key file is accessible by group or others (mode %03o); run "
                           "chmod 600 %s",
                           keypath, (unsigned)(st.st_mode & 0777), keypath);
    if (SSL_CTX_use_certificate_file(ctx, certpath, SSL_FILETYPE_PEM) != 1) {
        ssl_error_text(e, sizeof(e), "unreadable");
        return sbx_err_set(err, SBX_EIO, "%s: %s (delete both files to make new ones)", certpath,
                           e);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, keypath, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        ssl_error_text(e, sizeof(e), "does not match the certificate");
        return sbx_err_set(err, SBX_EIO, "%s: %s (delete both files to make new ones)", keypath, e);
    }
    return SBX_OK;
}

/* One SSL_CTX for both directions: TLS 1.3 only, no session tickets or cache (every link is a
 * full handshake with its own exporter value), no certificate checks (see doc/protocol.md). */
static int
tls_init(struct p2p *p, const char *certdir, struct sbx_err *err)
{
    char e[200];

    p->ssl = SSL_CTX_new(TLS_method());
    if (p->ssl == NULL || SSL_CTX_set_min_proto_version(p->ssl, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(p->ssl, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_num_tickets(p->ssl, 0) != 1) {
        ssl_error_text(e, sizeof(e), "unknown error");
        return sbx_err_set(err, SBX_EINTERNAL, "cannot set up TLS: %s", e);
    }
    /* A TCP close without TLS close_notify is an ordinary EOF: frames carry their length, so a
     * truncated stream can only lose a frame that was never complete, never shorten one. */
    SSL_CTX_set_options(p->ssl, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_session_cache_mode(p->ssl, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(p->ssl, SSL_VERIFY_NONE, NULL);
    return cert_load(p->ssl, certdir, err);
}

/* ------------------------------------------------------------------ peers */

static void handshake_timeout_cb(evutil_socket_t fd, short what, void *arg);

/* A peer on the list, in state TLS, owning `bev` (freed with it). NULL on allocation failure
 * (then `bev` is freed here). */
static struct p2p_peer *
peer_new(struct p2p *p, struct target *t, const char *addr, struct bufferevent *bev)
{
    struct p2p_peer *peer = calloc(1, sizeof(*peer));
    struct timeval tv;

    if (peer == NULL) {
        bufferevent_free(bev);
        return NULL;
    }
    peer->p = p;
    peer->target = t;
    peer->bev = bev;
    peer->state = PEER_TLS;
    peer->id = ++p->next_id;
    snprintf(peer->addr, sizeof(peer->addr), "%s", addr);
    peer->timer = evtimer_new(p->base, handshake_timeout_cb, peer);
    if (peer->timer == NULL) {
        bufferevent_free(bev);
        free(peer);
        return NULL;
    }
    tv.tv_sec = p->handshake_timeout_ms / 1000;
    tv.tv_usec = (p->handshake_timeout_ms % 1000) * 1000;
    evtimer_add(peer->timer, &tv);
    peer->next = p->peers;
    if (p->peers != NULL)
        p->peers->prev = peer;
    p->peers = peer;
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    bufferevent_setcb(bev, peer_read_cb, NULL, peer_event_cb, peer);
    peer->low_wm = FRAME_HDR;
    bufferevent_setwatermark(bev, EV_READ, peer->low_wm, FRAME_HDR + p->max_frame + READ_SLACK);
    return peer;
}

static void
peer_free(struct p2p_peer *peer)
{
    if (peer->bev != NULL)
        bufferevent_free(peer->bev);
    if (peer->timer != NULL)
        event_free(peer->timer);
    memset(peer, 0, sizeof(*peer));
    free(peer);
}

/* Wait `t->delay_ms`, then try again; the delay doubles up to reconnect_max_ms and starts
 * again from reconnect_min_ms after a link that stayed open for reconnect_max_ms. `closed` is
 * the link that ended, NULL if the attempt never got a link. */
static void
target_schedule(struct target *t, const struct p2p_peer *closed)
{
    struct p2p *p = t->p;
    struct timeval tv;
    int delay;

    t->peer = NULL;
    if (p->freeing)
        return;
    if (closed != NULL && closed->announced &&
        (time_mono_us() - closed->open_us) / 1000 >= (int64_t)p->reconnect_max_ms)
        t->delay_ms = p->reconnect_min_ms;
    delay = t->delay_ms;
    t->delay_ms = delay > p->reconnect_max_ms / 2 ? p->reconnect_max_ms : delay * 2;
    tv.tv_sec = delay / 1000;
    tv.tv_usec = (delay % 1000) * 1000;
    evtimer_add(t->timer, &tv);
    LOG_DEBUG(LOG_P2P, "peer %s (outbound): next attempt in %d ms", t->addr, delay);
}

/* Close now (log, stop I/O, schedule the reconnect); on_disconnect and the free come from the
 * reap event. */
static void
peer_close(struct p2p_peer *peer, const char *reason)
{
    struct p2p *p = peer->p;

    if (peer->state == PEER_CLOSED)
        return;
    peer->state = PEER_CLOSED;
    snprintf(peer->reason, sizeof(peer->reason), "%s", reason);
    if (p->freeing)
        LOG_INFO(LOG_P2P, "peer %s (%s): closed: %s", peer->addr, peer_dir(peer), reason);
    else
        LOG_WARN(LOG_P2P, "peer %s (%s): closed: %s", peer->addr, peer_dir(peer), reason);
    bufferevent_setcb(peer->bev, NULL, NULL, NULL, NULL);
    bufferevent_disable(peer->bev, EV_READ | EV_WRITE);
    event_del(peer->timer);
    memset(peer->exporter, 0, sizeof(peer->exporter));
    if (peer->target != NULL)
        target_schedule(peer->target, peer);
    event_active(p->reap_ev, EV_TIMEOUT, 0);
}

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
    struct p2p *p = arg;
    struct p2p_peer *peer;

    (void)fd;
    (void)what;
    for (;;) {
        for (peer = p->peers; peer != NULL && peer->state != PEER_CLOSED; peer = peer->next)
            ;
        if (peer == NULL)
            break;
        if (peer->prev != NULL)
            peer->prev->next = peer->next;
        else
            p->peers = peer->next;
        if (peer->next != NULL)
            peer->next->prev = peer->prev;
        if (peer->announced && p->cb.on_disconnect != NULL)
            p->cb.on_disconnect(p->ctx, peer, peer->reason);
        peer_free(peer);
    }
}

static void
handshake_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    peer_close(arg, "handshake timeout");
}

/* Queue one frame; on allocation failure the peer is closed (its stream would be cut). */
static int
queue_frame(struct p2p_peer *peer, uint8_t type, const uint8_t *payload, size_t len)
{
    struct evbuffer *out = bufferevent_get_output(peer->bev);
    uint8_t hdr[FRAME_HDR + 1];
    int r = 0;

    buf_store_u32(hdr, (uint32_t)(len + 1));
    hdr[FRAME_HDR] = type;
    /* A small frame goes into one buffer chunk, hence one TLS record. */
    if (len <= SMALL_FRAME)
        r = evbuffer_expand(out, sizeof(hdr) + len);
    if (r == 0)
        r = evbuffer_add(out, hdr, sizeof(hdr));
    if (r == 0 && len > 0)
        r = evbuffer_add(out, payload, len);
    if (r != 0) {
        peer_close(peer, "out of memory");
        return SBX_ENOMEM;
    }
    return SBX_OK;
}

/* Low latency (no Nagle: a frame is sent when queued), and TCP keepalive so that a peer that
 * vanished (a host powered off, a cable pulled) ends the link within about a minute even when
 * nothing is being sent; failures here only lose those benefits. */
static void
socket_options(evutil_socket_t fd)
{
    int one = 1, idle = KEEPALIVE_IDLE_S, intvl = KEEPALIVE_INTERVAL_S, cnt = KEEPALIVE_COUNT;

    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
#ifdef TCP_KEEPIDLE
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
#else
    (void)idle;
    (void)intvl;
    (void)cnt;
#endif
}

/* TLS is up: derive the exporter value, send our AUTH, arm the write timeout. */
static void
tls_up(struct p2p_peer *peer)
{
    struct p2p *p = peer->p;
    SSL *ssl = bufferevent_openssl_get_ssl(peer->bev);
    uint8_t payload[AUTH_PAYLOAD], digest[32];
    evutil_socket_t fd = bufferevent_getfd(peer->bev);
    struct timeval tv;

    if (peer->state != PEER_TLS)
        return;
    if (ssl == NULL || SSL_version(ssl) != TLS1_3_VERSION) {
        peer_close(peer, "not TLS 1.3");
        return;
    }
    if (SSL_export_keying_material(ssl, peer->exporter, sizeof(peer->exporter), EXPORTER_LABEL,
                                   strlen(EXPORTER_LABEL), NULL, 0, 0) != 1) {
        ERR_clear_error();
        peer_close(peer, "TLS exporter failed");
        return;
    }
    if (fd >= 0)
        socket_options(fd);
    tv.tv_sec = p->write_timeout_ms / 1000;
    tv.tv_usec = (p->write_timeout_ms % 1000) * 1000;
    bufferevent_set_timeouts(peer->bev, NULL, &tv);
    memcpy(payload, p->network_id, 32);
    memcpy(payload + 32, p->key->pubkey, 32);
    auth_digest(peer->exporter, p->network_id, p->key->pubkey,
                peer->target == NULL ? DIR_ACCEPTOR : DIR_CONNECTOR, digest);
    if (ledger_keys_sign(p->key, digest, payload + 64) != SBX_OK) {
        peer_close(peer, "cannot sign the handshake");
        return;
    }
    if (p->corrupt_auth)
        payload[64] ^= 1;
    peer->state = PEER_AUTH;
    if (queue_frame(peer, P2P_MSG_AUTH, payload, sizeof(payload)) != SBX_OK)
        return;
    LOG_DEBUG(LOG_P2P, "peer %s (%s): TLS up, AUTH sent", peer->addr, peer_dir(peer));
}

/* The peer's AUTH payload: network id, signature over our shared exporter value, allow list. */
static void
auth_check(struct p2p_peer *peer, const uint8_t payload[static AUTH_PAYLOAD])
{
    struct p2p *p = peer->p;
    const uint8_t *net = payload, *key = payload + 32, *sig = payload + 64;
    uint8_t digest[32];
    char keyhex[17];
    int role = 0;

    if (memcmp(net, p->network_id, 32) != 0) {
        peer_close(peer, "wrong network id");
        return;
    }
    auth_digest(peer->exporter, p->network_id, key,
                peer->target == NULL ? DIR_CONNECTOR : DIR_ACCEPTOR, digest);
    if (ledger_keys_verify(key, digest, sig) != SBX_OK) {
        peer_close(peer, "bad handshake signature");
        return;
    }
    if (memcmp(key, p->key->pubkey, 32) == 0) {
        peer_close(peer, "connected to self");
        return;
    }
    if (p->cb.key_allowed == NULL || p->cb.key_allowed(p->ctx, key, &role) != 1) {
        peer_close(peer, "unknown key");
        return;
    }
    memcpy(peer->key, key, 32);
    peer->role = role;
    peer->state = PEER_OPEN;
    peer->announced = 1;
    peer->open_us = time_mono_us();
    memset(peer->exporter, 0, sizeof(peer->exporter));
    event_del(peer->timer);
    hex_encode(keyhex, key, 8);
    LOG_INFO(LOG_P2P, "peer %s (%s): connected, key %s..., role %d", peer->addr, peer_dir(peer),
             keyhex, role);
    if (p->cb.on_connect != NULL)
        p->cb.on_connect(p->ctx, peer);
}

static void
set_low_watermark(struct p2p_peer *peer, size_t low)
{
    if (peer->low_wm == low)
        return;
    peer->low_wm = low;
    bufferevent_setwatermark(peer->bev, EV_READ, low, FRAME_HDR + peer->p->max_frame + READ_SLACK);
}

static void
peer_read_cb(struct bufferevent *bev, void *arg)
{
    struct p2p_peer *peer = arg;
    struct p2p *p = peer->p;
    struct evbuffer *in = bufferevent_get_input(bev);

    if (peer->state == PEER_TLS)
        tls_up(peer); /* data can come before the CONNECTED event is delivered */
    while (peer->state == PEER_AUTH || peer->state == PEER_OPEN) {
        uint8_t hdr[FRAME_HDR];
        size_t have = evbuffer_get_length(in);
        const uint8_t *frame;
        uint32_t len;

        if (have < FRAME_HDR) {
            set_low_watermark(peer, FRAME_HDR);
            return;
        }
        if (evbuffer_copyout(in, hdr, sizeof(hdr)) != (ev_ssize_t)sizeof(hdr)) {
            peer_close(peer, "cannot read the input buffer");
            return;
        }
        len = buf_load_u32(hdr);
        /* Before AUTH the only frame allowed is AUTH, and it has one size. */
        if (len == 0 || len > p->max_frame || (peer->state == PEER_AUTH && len != AUTH_FRAME_LEN)) {
            peer_close(peer, "malformed frame");
            return;
        }
        if (have - FRAME_HDR < len) {
            set_low_watermark(peer, FRAME_HDR + (size_t)len);
            return;
        }
        frame = evbuffer_pullup(in, (ev_ssize_t)(FRAME_HDR + (size_t)len));
        if (frame == NULL) {
            peer_close(peer, "out of memory");
            return;
        }
        if (peer->state == PEER_AUTH) {
            if (frame[FRAME_HDR] != P2P_MSG_AUTH)
                peer_close(peer, "malformed frame");
            else
                auth_check(peer, frame + FRAME_HDR + 1);
        } else if (frame[FRAME_HDR] == P2P_MSG_AUTH) {
            peer_close(peer, "malformed frame");
        } else if (p->cb.on_message != NULL) {
            p->cb.on_message(p->ctx, peer, frame[FRAME_HDR], frame + FRAME_HDR + 1,
                             (size_t)len - 1);
        }
        /* The bufferevent outlives a close made above (it is freed by the reap event). */
        evbuffer_drain(in, FRAME_HDR + (size_t)len);
    }
}

/* 1 if the bufferevent's socket has a connected peer. */
static int
tcp_connected(struct bufferevent *bev)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    evutil_socket_t fd = bufferevent_getfd(bev);

    return fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &len) == 0;
}

static void
peer_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct p2p_peer *peer = arg;
    char reason[REASON_MAX], detail[REASON_MAX - 40];
    unsigned long sslerr;
    int sockerr = EVUTIL_SOCKET_ERROR();

    if (peer->state == PEER_CLOSED)
        return;
    if (what & BEV_EVENT_CONNECTED) {
        tls_up(peer);
        return;
    }
    sslerr = bufferevent_get_openssl_error(bev);
    while (bufferevent_get_openssl_error(bev) != 0)
        ;
    if (what & BEV_EVENT_TIMEOUT) {
        snprintf(detail, sizeof(detail), "write timeout (the peer does not read)");
    } else if (peer->state == PEER_TLS && peer->target != NULL && !tcp_connected(bev)) {
        /* OpenSSL reports a refused connect as an EOF; errno still says what happened. */
        snprintf(detail, sizeof(detail), "cannot connect: %s",
                 sockerr != 0 ? evutil_socket_error_to_string(sockerr) : "not connected");
    } else if (what & BEV_EVENT_EOF) {
        snprintf(detail, sizeof(detail), "connection closed by peer");
    } else if (sslerr != 0) {
        char e[200];
        ERR_error_string_n(sslerr, e, sizeof(e));
        snprintf(detail, sizeof(detail), "TLS error: %.100s", e);
    } else if (sockerr != 0) {
        snprintf(detail, sizeof(detail), "%s", evutil_socket_error_to_string(sockerr));
    } else {
        snprintf(detail, sizeof(detail), "I/O error");
    }
    ERR_clear_error();
    if (peer->state == PEER_TLS)
        snprintf(reason, sizeof(reason), "TLS setup failed: %s", detail);
    else
        snprintf(reason, sizeof(reason), "%s", detail);
    peer_close(peer, reason);
}

/* ------------------------------------------------------------------ inbound */

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    struct p2p *p = arg;
    struct p2p_peer *peer;
    struct bufferevent *bev;
    char addr[P2P_ADDR_MAX];
    size_t n = 0, nhs = 0;
    SSL *ssl;

    (void)l;
    (void)salen;
    format_sockaddr(sa, addr);
    for (peer = p->peers; peer != NULL; peer = peer->next) {
        if (peer->target != NULL || peer->state == PEER_CLOSED)
            continue;
        n++;
        if (peer->state != PEER_OPEN)
            nhs++;
    }
    if (n >= P2P_MAX_INBOUND || nhs >= P2P_MAX_INBOUND_HANDSHAKING) {
        LOG_WARN(LOG_P2P, "peer %s (inbound): closed: too many inbound connections", addr);
        evutil_closesocket(fd);
        return;
    }
    ssl = SSL_new(p->ssl);
    if (ssl == NULL) {
        ERR_clear_error();
        LOG_WARN(LOG_P2P, "peer %s (inbound): closed: out of memory", addr);
        evutil_closesocket(fd);
        return;
    }
    /* On failure libevent frees `ssl` (BEV_OPT_CLOSE_ON_FREE) but leaves the socket to us. */
    bev = bufferevent_openssl_socket_new(p->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bev == NULL) {
        LOG_WARN(LOG_P2P, "peer %s (inbound): closed: out of memory", addr);
        evutil_closesocket(fd);
        return;
    }
    peer = peer_new(p, NULL, addr, bev);
    if (peer == NULL) {
        LOG_WARN(LOG_P2P, "peer %s (inbound): closed: out of memory", addr);
        return;
    }
    LOG_DEBUG(LOG_P2P, "peer %s (inbound): accepted", addr);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void
accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct p2p *p = arg;

    (void)fd;
    (void)what;
    evconnlistener_enable(p->listener);
}

/* accept() failed (EMFILE, ENFILE, ENOBUFS): pause instead of spinning on the ready socket. */
static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
    struct p2p *p = arg;
    struct timeval tv = {ACCEPT_RETRY_MS / 1000, (ACCEPT_RETRY_MS % 1000) * 1000};
    int e = EVUTIL_SOCKET_ERROR();

    LOG_WARN(LOG_P2P, "accepting peers failed: %s; pausing for %d ms",
             evutil_socket_error_to_string(e), ACCEPT_RETRY_MS);
    evconnlistener_disable(l);
    evtimer_add(p->accept_retry, &tv);
}

static int
listen_start(struct p2p *p, const char *bind, int port, struct sbx_err *err)
{
    struct evutil_addrinfo hints, *ai = NULL;
    char host[P2P_ADDR_MAX], portstr[8];
    const char *h = NULL;
    struct sockaddr_storage ss;
    ev_socklen_t sslen = sizeof(ss);
    int r, rc = SBX_EIO;

    if (bind != NULL && bind[0] != '\0') {
        size_t n = strlen(bind);
        if (n >= sizeof(host))
            return sbx_err_set(err, SBX_EINVAL, "bind: too long");
        if (bind[0] == '[' && n >= 2 && bind[n - 1] == ']') {
            memcpy(host, bind + 1, n - 2);
            host[n - 2] = '\0';
        } else {
            memcpy(host, bind, n + 1);
        }
        h = host;
    }
    snprintf(portstr, sizeof(portstr), "%d", port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = EVUTIL_AI_PASSIVE;
    r = evutil_getaddrinfo(h, portstr, &hints, &ai);
    if (r != 0 || ai == NULL)
        return sbx_err_set(err, SBX_EINVAL, "bind: cannot resolve '%s': %s", h ? h : "",
                           evutil_gai_strerror(r));
    p->listener = evconnlistener_new_bind(
        p->base, accept_cb, p, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
        LISTEN_BACKLOG, ai->ai_addr, (int)ai->ai_addrlen);
    if (p->listener == NULL) {
        sbx_err_set(err, SBX_EIO, "cannot listen on %s port %d: %s", h ? h : "all addresses", port,
                    strerror(errno));
        goto out;
    }
    evconnlistener_set_error_cb(p->listener, accept_error_cb);
    if (getsockname(evconnlistener_get_fd(p->listener), (struct sockaddr *)&ss, &sslen) != 0) {
        sbx_err_set(err, SBX_EIO, "getsockname: %s", strerror(errno));
        goto out;
    }
    if (ss.ss_family == AF_INET)
        p->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
        p->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    LOG_INFO(LOG_P2P, "listening for peers on %s port %d", h ? h : "all addresses", p->port);
    rc = SBX_OK;
out:
    evutil_freeaddrinfo(ai);
    return rc;
}

/* ------------------------------------------------------------------ outbound */

/* One attempt to link to `t`. The name is resolved here, blocking (libevent without a DNS
 * base would do the same): use addresses, or names that resolve locally. Successive attempts
 * walk through the addresses the name resolves to, so one unreachable address (an IPv6 one
 * without a route, say) does not keep the link down. */
static void
target_connect(struct target *t)
{
    struct p2p *p = t->p;
    struct evutil_addrinfo hints, *ai = NULL, *pick;
    struct bufferevent *bev;
    struct p2p_peer *peer;
    char portstr[8], reason[REASON_MAX];
    size_t n = 0;
    SSL *ssl;
    int r;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    snprintf(portstr, sizeof(portstr), "%d", t->port);
    r = evutil_getaddrinfo(t->host, portstr, &hints, &ai);
    if (r != 0 || ai == NULL) {
        LOG_WARN(LOG_P2P, "peer %s (outbound): closed: cannot resolve: %s", t->addr,
                 evutil_gai_strerror(r));
        target_schedule(t, NULL);
        goto out;
    }
    for (pick = ai; pick != NULL; pick = pick->ai_next)
        n++;
    pick = ai;
    for (size_t i = 0; i < t->attempts % n; i++)
        pick = pick->ai_next;
    t->attempts++;

    ssl = SSL_new(p->ssl);
    if (ssl == NULL) {
        ERR_clear_error();
        goto nomem;
    }
    /* On failure libevent frees `ssl` (BEV_OPT_CLOSE_ON_FREE). */
    bev = bufferevent_openssl_socket_new(p->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                         BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bev == NULL)
        goto nomem;
    peer = peer_new(p, t, t->addr, bev);
    if (peer == NULL)
        goto nomem;
    t->peer = peer;
    LOG_DEBUG(LOG_P2P, "peer %s (outbound): connecting", t->addr);
    if (bufferevent_socket_connect(bev, pick->ai_addr, (int)pick->ai_addrlen) != 0) {
        snprintf(reason, sizeof(reason), "TLS setup failed: cannot connect: %s",
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        peer_close(peer, reason);
        goto out;
    }
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    goto out;
nomem:
    LOG_WARN(LOG_P2P, "peer %s (outbound): closed: out of memory", t->addr);
    target_schedule(t, NULL); /* a failed attempt: the back-off applies */
out:
    if (ai != NULL)
        evutil_freeaddrinfo(ai);
}

static void
target_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    target_connect(arg);
}

static void
start_cb(evutil_socket_t fd, short what, void *arg)
{
    struct p2p *p = arg;

    (void)fd;
    (void)what;
    for (size_t i = 0; i < p->ntargets; i++)
        if (p->targets[i].peer == NULL && !evtimer_pending(p->targets[i].timer, NULL))
            target_connect(&p->targets[i]);
}

/* ------------------------------------------------------------------ API */

int
p2p_new(struct p2p **out, struct event_base *base, const struct p2p_config *cfg,
        const struct p2p_callbacks *cb, void *ctx, struct sbx_err *err)
{
    struct p2p *p = NULL;
    int rc;

    if (out == NULL || base == NULL || cfg == NULL || cb == NULL)
        return sbx_err_set(err, SBX_EINVAL, "p2p_new: missing argument");
    *out = NULL;
    if (cfg->node_key == NULL)
        return sbx_err_set(err, SBX_EINVAL, "node_key: missing");
    if (cfg->certdir == NULL || cfg->certdir[0] == '\0')
        return sbx_err_set(err, SBX_EINVAL, "certdir: missing");
    if (cfg->listen && (cfg->port < 0 || cfg->port > 65535))
        return sbx_err_set(err, SBX_EINVAL, "port: %d is not 0..65535", cfg->port);
    if (cfg->nconnect > 0 && cfg->connect == NULL)
        return sbx_err_set(err, SBX_EINVAL, "connect: missing");
    if (sha256_global_init() != SBX_OK)
        return sbx_err_set(err, SBX_EINTERNAL, "SHA-256 is not available");

    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    p->base = base;
    p->cb = *cb;
    p->ctx = ctx;
    p->key = cfg->node_key;
    memcpy(p->network_id, cfg->network_id, 32);
    p->max_frame = cfg->max_frame ? cfg->max_frame : P2P_DEFAULT_MAX_FRAME;
    p->reconnect_min_ms =
        cfg->reconnect_min_ms ? cfg->reconnect_min_ms : P2P_DEFAULT_RECONNECT_MIN_MS;
    p->reconnect_max_ms =
        cfg->reconnect_max_ms ? cfg->reconnect_max_ms : P2P_DEFAULT_RECONNECT_MAX_MS;
    p->handshake_timeout_ms = P2P_HANDSHAKE_TIMEOUT_MS;
    p->write_timeout_ms = P2P_WRITE_TIMEOUT_MS;
    rc = SBX_EINVAL;
    if (p->max_frame < AUTH_FRAME_LEN || p->max_frame > UINT32_MAX) {
        sbx_err_set(err, rc, "max_frame: %zu is not %d..%lu", p->max_frame, AUTH_FRAME_LEN,
                    (unsigned long)UINT32_MAX);
        goto out;
    }
    p->max_sendq = cfg->max_sendq ? cfg->max_sendq : 2 * (p->max_frame + FRAME_HDR + 1);
    if (p->max_sendq < p->max_frame + FRAME_HDR) {
        sbx_err_set(err, rc, "max_sendq: %zu is less than one frame (%zu)", p->max_sendq,
                    p->max_frame + FRAME_HDR);
        goto out;
    }
    if (p->reconnect_min_ms < 1 || p->reconnect_max_ms < p->reconnect_min_ms ||
        p->reconnect_max_ms > 3600 * 1000) {
        sbx_err_set(err, rc,
                    "reconnect_min_ms/reconnect_max_ms: %d/%d is not 1 <= min <= max "
                    "<= 3600000",
                    p->reconnect_min_ms, p->reconnect_max_ms);
        goto out;
    }
    if (cfg->nconnect > 0) {
        p->targets = calloc(cfg->nconnect, sizeof(*p->targets));
        if (p->targets == NULL) {
            rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < cfg->nconnect; i++) {
        struct target *t = &p->targets[i];
        if (cfg->connect[i] == NULL || parse_target(cfg->connect[i], t->host, &t->port) != SBX_OK) {
            sbx_err_set(err, rc, "connect: '%s' is not HOST:PORT or [IPV6]:PORT",
                        cfg->connect[i] ? cfg->connect[i] : "(null)");
            goto out;
        }
        snprintf(t->addr, sizeof(t->addr), "%s", cfg->connect[i]);
        t->p = p;
        t->delay_ms = p->reconnect_min_ms;
        p->ntargets++;
        t->timer = evtimer_new(base, target_timer_cb, t);
        if (t->timer == NULL) {
            rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
            goto out;
        }
    }
    p->reap_ev = event_new(base, -1, 0, reap_cb, p);
    p->start_ev = evtimer_new(base, start_cb, p);
    p->accept_retry = evtimer_new(base, accept_retry_cb, p);
    if (p->reap_ev == NULL || p->start_ev == NULL || p->accept_retry == NULL) {
        rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
        goto out;
    }
    rc = tls_init(p, cfg->certdir, err);
    if (rc != SBX_OK)
        goto out;
    if (cfg->listen) {
        rc = listen_start(p, cfg->bind, cfg->port, err);
        if (rc != SBX_OK)
            goto out;
    }
    if (p->ntargets > 0)
        event_active(p->start_ev, EV_TIMEOUT, 0);
    *out = p;
    p = NULL;
    rc = SBX_OK;
out:
    p2p_free(p);
    return rc;
}

void
p2p_free(struct p2p *p)
{
    if (p == NULL)
        return;
    p->freeing = 1;
    if (p->listener != NULL)
        evconnlistener_free(p->listener);
    for (struct p2p_peer *peer = p->peers; peer != NULL; peer = peer->next)
        peer_close(peer, "shutting down");
    if (p->reap_ev != NULL)
        reap_cb(-1, 0, p);
    for (size_t i = 0; i < p->ntargets; i++)
        if (p->targets[i].timer != NULL)
            event_free(p->targets[i].timer);
    if (p->reap_ev != NULL)
        event_free(p->reap_ev);
    if (p->start_ev != NULL)
        event_free(p->start_ev);
    if (p->accept_retry != NULL)
        event_free(p->accept_retry);
    SSL_CTX_free(p->ssl);
    free(p->targets);
    memset(p, 0, sizeof(*p));
    free(p);
}

int
p2p_port(const struct p2p *p)
{
    return p->listener != NULL ? p->port : 0;
}

/* The checks shared by p2p_send and p2p_broadcast. */
static int
check_frame(const struct p2p *p, uint8_t type, const uint8_t *payload, size_t len)
{
    if (payload == NULL && len > 0)
        return SBX_EINVAL;
    if (type == P2P_MSG_AUTH)
        return SBX_EINVAL;
    if (len >= p->max_frame)
        return SBX_ETOOLONG;
    return SBX_OK;
}

static int
sendq_room(const struct p2p_peer *peer, size_t len)
{
    size_t queued = evbuffer_get_length(bufferevent_get_output(peer->bev));

    return queued + FRAME_HDR + 1 + len <= peer->p->max_sendq;
}

int
p2p_send(struct p2p_peer *peer, uint8_t type, const uint8_t *payload, size_t len)
{
    int rc;

    if (peer == NULL)
        return SBX_EINVAL;
    rc = check_frame(peer->p, type, payload, len);
    if (rc != SBX_OK)
        return rc;
    if (peer->state != PEER_OPEN || peer->p->freeing)
        return SBX_EUNAVAIL;
    if (!sendq_room(peer, len))
        return SBX_EOVERLOAD;
    return queue_frame(peer, type, payload, len);
}

int
p2p_broadcast(struct p2p *p, uint8_t type, const uint8_t *payload, size_t len)
{
    int rc, n = 0;

    if (p == NULL)
        return SBX_EINVAL;
    rc = check_frame(p, type, payload, len);
    if (rc != SBX_OK)
        return rc;
    if (p->freeing)
        return 0;
    for (struct p2p_peer *peer = p->peers; peer != NULL; peer = peer->next) {
        if (peer->state != PEER_OPEN)
            continue;
        if (!sendq_room(peer, len)) {
            peer_close(peer, "send queue full");
            continue;
        }
        if (queue_frame(peer, type, payload, len) == SBX_OK && n < INT_MAX)
            n++;
    }
    return n;
}

void
p2p_peer_close(struct p2p_peer *peer, const char *reason)
{
    if (peer == NULL)
        return;
    peer_close(peer, reason != NULL ? reason : "closed");
}

void
p2p_foreach_peer(struct p2p *p, void (*fn)(void *ctx, struct p2p_peer *peer), void *ctx)
{
    for (struct p2p_peer *peer = p->peers; peer != NULL; peer = peer->next)
        if (peer->state == PEER_OPEN)
            fn(ctx, peer);
}

size_t
p2p_peer_count(const struct p2p *p)
{
    size_t n = 0;

    for (const struct p2p_peer *peer = p->peers; peer != NULL; peer = peer->next)
        if (peer->state == PEER_OPEN)
            n++;
    return n;
}

const uint8_t *
p2p_peer_key(const struct p2p_peer *peer)
{
    return peer->key;
}

int
p2p_peer_role(const struct p2p_peer *peer)
{
    return peer->role;
}

const char *
p2p_peer_addr(const struct p2p_peer *peer)
{
    return peer->addr;
}

int
p2p_peer_inbound(const struct p2p_peer *peer)
{
    return peer->target == NULL;
}

uint64_t
p2p_peer_id(const struct p2p_peer *peer)
{
    return peer->id;
}

size_t
p2p_peer_sendq(const struct p2p_peer *peer)
{
    return evbuffer_get_length(bufferevent_get_output(peer->bev));
}

void
p2p_peer_set_data(struct p2p_peer *peer, void *data)
{
    peer->data = data;
}

void *
p2p_peer_data(const struct p2p_peer *peer)
{
    return peer->data;
}

/* ------------------------------------------------------------------ test hooks */

void
p2p_test_corrupt_auth(struct p2p *p, int on)
{
    p->corrupt_auth = on;
}

void
p2p_test_handshake_timeout(struct p2p *p, int ms)
{
    p->handshake_timeout_ms = ms;
}

void
p2p_test_write_timeout(struct p2p *p, int ms)
{
    p->write_timeout_ms = ms;
}
