/* TLS for peer links and the node-key handshake (see p2p.h and doc/protocol.md).
 *
 * One SSL_CTX serves both directions, with a self-signed certificate that nobody checks (made
 * in certdir on first start). A peer is authenticated by its node key instead: once TLS is up
 * each side sends an AUTH frame (network id, node key, a signature over the session's TLS
 * exporter value and the direction byte); the other side checks the network id, the signature
 * and then asks the caller whether the key is allowed.
 *
 * Threads: p2p_tls_init from the thread that calls p2p_new; the rest on the event loop's
 * thread.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "node/p2p_internal.h"
#include "util/buf.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/sha256.h"
#include "util/time.h"
#include "util/tls.h"

#define EXPORTER_LABEL "EXPORTER-sbx-peer"
#define DIR_CONNECTOR 0 /* direction byte of the side that connected */
#define DIR_ACCEPTOR 1  /* direction byte of the side that accepted */
#define KEY_FILE "p2p.key"
#define CERT_FILE "p2p.crt"
#define KEEPALIVE_IDLE_S 30 /* first probe after this long without traffic */
#define KEEPALIVE_INTERVAL_S 10
#define KEEPALIVE_COUNT 3

void
p2p_tls_auth_digest(uint8_t out[static 32], const uint8_t exporter[static 32],
                    const uint8_t network_id[static 32], const uint8_t key[static 32], uint8_t dir)
{
    uint8_t msg[32 + 32 + 32 + 1];

    memcpy(msg, exporter, 32);
    memcpy(msg + 32, network_id, 32);
    memcpy(msg + 64, key, 32);
    msg[96] = dir;
    sha256_tagged(&SHA256_TAG_PEER, out, msg, sizeof(msg));
}

/* ------------------------------------------------------------------ certificate */

/* Load certdir/p2p.key and p2p.crt into `ctx`, making them (and certdir) first if either is
 * missing. The key file must not be accessible by group or others. */
static int
cert_load(SSL_CTX *ctx, const char *certdir, struct sbx_err *err)
{
    char keypath[PATH_MAX], certpath[PATH_MAX], e[200];
    EVP_PKEY *key;
    X509 *cert;
    int made, rc;

    if ((size_t)snprintf(keypath, sizeof(keypath), "%s/%s", certdir, KEY_FILE) >= sizeof(keypath) ||
        (size_t)snprintf(certpath, sizeof(certpath), "%s/%s", certdir, CERT_FILE) >=
            sizeof(certpath))
        return sbx_err_set(err, SBX_EINVAL, "certdir: path too long");
    if (mkdir(certdir, 0700) != 0 && errno != EEXIST)
        return sbx_err_set(err, SBX_EIO, "certdir %s: cannot create: %s", certdir, strerror(errno));
    rc = tls_pair_open(&key, &cert, &made, keypath, certpath, "sbx-peer", 1, err);
    if (rc != SBX_OK)
        return rc;
    if (made)
        LOG_INFO(LOG_P2P, "made a new TLS key and certificate in %s", certdir);
    if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
        tls_error_text(e, sizeof(e), "unusable");
        rc = sbx_err_set(err, SBX_EIO, "%s: %s (delete both files to make new ones)", certpath, e);
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

/* One SSL_CTX for both directions: TLS 1.3 only, no session tickets or cache (every link is a
 * full handshake with its own exporter value), no certificate checks (see doc/protocol.md). */
int
p2p_tls_init(struct p2p *p, const char *certdir, struct sbx_err *err)
{
    char e[200];

    p->ssl = SSL_CTX_new(TLS_method());
    if (p->ssl == NULL || SSL_CTX_set_min_proto_version(p->ssl, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(p->ssl, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_num_tickets(p->ssl, 0) != 1) {
        tls_error_text(e, sizeof(e), "unknown error");
        return sbx_err_set(err, SBX_EINTERNAL, "cannot set up TLS: %s", e);
    }
    /* A TCP close without TLS close_notify is an ordinary EOF: frames carry their length, so a
     * truncated stream can only lose a frame that was never complete, never shorten one. */
    SSL_CTX_set_options(p->ssl, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_session_cache_mode(p->ssl, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(p->ssl, SSL_VERIFY_NONE, NULL);
    return cert_load(p->ssl, certdir, err);
}

/* ------------------------------------------------------------------ handshake */

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
void
p2p_tls_up(struct p2p_peer *peer)
{
    struct p2p *p = peer->p;
    SSL *ssl = bufferevent_openssl_get_ssl(peer->bev);
    uint8_t payload[AUTH_PAYLOAD], digest[32];
    evutil_socket_t fd = bufferevent_getfd(peer->bev);
    struct timeval tv;

    if (peer->state != PEER_TLS)
        return;
    if (ssl == NULL || SSL_version(ssl) != TLS1_3_VERSION) {
        p2p_peer_close(peer, "not TLS 1.3");
        return;
    }
    if (SSL_export_keying_material(ssl, peer->exporter, sizeof(peer->exporter), EXPORTER_LABEL,
                                   strlen(EXPORTER_LABEL), NULL, 0, 0) != 1) {
        ERR_clear_error();
        p2p_peer_close(peer, "TLS exporter failed");
        return;
    }
    if (fd >= 0)
        socket_options(fd);
    tv.tv_sec = p->write_timeout_ms / 1000;
    tv.tv_usec = (p->write_timeout_ms % 1000) * 1000;
    bufferevent_set_timeouts(peer->bev, NULL, &tv);
    memcpy(payload, p->network_id, 32);
    memcpy(payload + 32, p->key->pubkey, 32);
    p2p_tls_auth_digest(digest, peer->exporter, p->network_id, p->key->pubkey,
                        peer->target == NULL ? DIR_ACCEPTOR : DIR_CONNECTOR);
    if (ledger_keys_sign(p->key, digest, payload + 64) != SBX_OK) {
        p2p_peer_close(peer, "cannot sign the handshake");
        return;
    }
#ifdef SBX_TEST_HOOKS
    if (p->corrupt_auth)
        payload[64] ^= 1;
#endif
    peer->state = PEER_AUTH;
    if (p2p_peer_queue(peer, P2P_MSG_AUTH, payload, sizeof(payload)) != SBX_OK)
        return;
    LOG_DEBUG(LOG_P2P, "peer %s (%s): TLS up, AUTH sent", peer->addr, p2p_peer_dir(peer));
}

/* The peer's AUTH payload: network id, signature over our shared exporter value, allow list. */
void
p2p_tls_auth_check(struct p2p_peer *peer, const uint8_t payload[static AUTH_PAYLOAD])
{
    struct p2p *p = peer->p;
    const uint8_t *net = payload, *key = payload + 32, *sig = payload + 64;
    uint8_t digest[32];
    char keyhex[17];
    int role = 0;

    if (memcmp(net, p->network_id, 32) != 0) {
        p2p_peer_close(peer, "wrong network id");
        return;
    }
    p2p_tls_auth_digest(digest, peer->exporter, p->network_id, key,
                        peer->target == NULL ? DIR_CONNECTOR : DIR_ACCEPTOR);
    if (ledger_keys_verify(key, digest, sig) != SBX_OK) {
        p2p_peer_close(peer, "bad handshake signature");
        return;
    }
    if (memcmp(key, p->key->pubkey, 32) == 0) {
        p2p_peer_close(peer, "connected to self");
        return;
    }
    if (p->cb.key_allowed == NULL || p->cb.key_allowed(p->ctx, key, &role) != 1) {
        p2p_peer_close(peer, "unknown key");
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
    LOG_INFO(LOG_P2P, "peer %s (%s): connected, key %s..., role %d", peer->addr, p2p_peer_dir(peer),
             keyhex, role);
    if (p->cb.on_connect != NULL)
        p->cb.on_connect(p->ctx, peer);
}
