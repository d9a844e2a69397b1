/* JSON-RPC over TLS: the server's context and connections, the client's with certificate
 * pinning (see rpc/tls.h).
 *
 * The server accepts TLS 1.2 and 1.3 (supervisors' own tools, curl and Python, speak both)
 * and asks no client certificate: clients authenticate with HTTP Basic inside the tunnel. A
 * client that closes without a TLS close_notify is an ordinary end of a connection (HTTP
 * frames its own bodies). The client checks the server's certificate during the handshake,
 * before the request (and its password) is sent: by fingerprint when pinned, else by the
 * system's certificate authorities and the host name.
 */
#include "rpc/tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "util/tls.h"

struct rpc_tls {
    SSL_CTX *ctx;
    int pinned;      /* client: check by `pin` */
    uint8_t pin[32]; /* client: the fingerprint accepted */
    int refused;     /* client: the last handshake refused the server's certificate */
    uint8_t seen[32];
};

void
rpc_tls_free(struct rpc_tls *t)
{
    if (t == NULL)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

/* A context for `method` at TLS 1.2 or later, without session tickets or cache. */
static int
ctx_new(struct rpc_tls **out, const SSL_METHOD *method, struct sbx_err *err)
{
    struct rpc_tls *t = calloc(1, sizeof(*t));
    char e[200];

    *out = NULL;
    if (t == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    t->ctx = SSL_CTX_new(method);
    if (t->ctx == NULL || SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION) != 1) {
        tls_error_text(e, sizeof(e), "unknown error");
        rpc_tls_free(t);
        return sbx_err_set(err, SBX_EINTERNAL, "cannot set up TLS: %s", e);
    }
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
    *out = t;
    return SBX_OK;
}

int
rpc_tls_server_new(struct rpc_tls **out, uint8_t fp[static 32], int *made, const char *keypath,
                   const char *certpath, int make, struct sbx_err *err)
{
    struct rpc_tls *t;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    char e[200];
    int rc;

    *out = NULL;
    memset(fp, 0, 32);
    rc = ctx_new(&t, TLS_server_method(), err);
    if (rc != SBX_OK)
        return rc;
    rc = tls_pair_open(&key, &cert, made, keypath, certpath, "sbx-rpc", make, err);
    if (rc == SBX_OK &&
        (SSL_CTX_use_certificate(t->ctx, cert) != 1 || SSL_CTX_use_PrivateKey(t->ctx, key) != 1)) {
        tls_error_text(e, sizeof(e), "unusable");
        rc = sbx_err_set(err, SBX_EIO, "%s: %s", certpath, e);
    }
    if (rc == SBX_OK)
        rc = tls_fingerprint(fp, cert);
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
    X509_free(cert);
    EVP_PKEY_free(key);
    if (rc != SBX_OK) {
        rpc_tls_free(t);
        return rc;
    }
    *out = t;
    return SBX_OK;
}

struct bufferevent *
rpc_tls_server_bev(struct rpc_tls *t, struct event_base *base)
{
    SSL *ssl = SSL_new(t->ctx);
    struct bufferevent *bev;

    if (ssl == NULL) {
        ERR_clear_error();
        return NULL;
    }
    /* the socket comes later (evhttp sets it); the bufferevent owns the SSL and the socket */
    bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

/* The client's check of the server's certificate when pinned: its fingerprint, nothing else
 * (a pinned self-signed certificate has no chain to check). */
static int
pin_check(X509_STORE_CTX *store, void *arg)
{
    struct rpc_tls *t = arg;
    X509 *leaf = X509_STORE_CTX_get0_cert(store);

    if (leaf == NULL || tls_fingerprint(t->seen, leaf) != SBX_OK) {
        t->refused = 1;
        return 0;
    }
    t->refused = memcmp(t->seen, t->pin, 32) != 0;
    return !t->refused;
}

/* Without a pin: OpenSSL's verdict on the chain, noted so that sbx-cli can say why. */
static int
ca_check(int ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct rpc_tls *t = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
    X509 *leaf = X509_STORE_CTX_get0_cert(store);

    if (!ok && t != NULL) {
        t->refused = 1;
        if (leaf == NULL || tls_fingerprint(t->seen, leaf) != SBX_OK)
            memset(t->seen, 0, sizeof(t->seen));
    }
    return ok;
}

int
rpc_tls_client_new(struct rpc_tls **out, const uint8_t *pin, struct sbx_err *err)
{
    struct rpc_tls *t;
    int rc = ctx_new(&t, TLS_client_method(), err);

    if (rc != SBX_OK)
        return rc;
    if (pin != NULL) {
        t->pinned = 1;
        memcpy(t->pin, pin, 32);
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_cert_verify_callback(t->ctx, pin_check, t);
    } else {
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, ca_check);
        if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
            rpc_tls_free(t);
            ERR_clear_error();
            return sbx_err_set(err, SBX_EINTERNAL, "cannot load the system's certificates");
        }
    }
    *out = t;
    return SBX_OK;
}

struct bufferevent *
rpc_tls_client_bev(struct rpc_tls *t, struct event_base *base, const char *host)
{
    SSL *ssl = SSL_new(t->ctx);
    struct bufferevent *bev;
    struct in6_addr a6;
    int is_address = inet_pton(AF_INET, host, &a6) == 1 || inet_pton(AF_INET6, host, &a6) == 1;

    t->refused = 0;
    if (ssl == NULL) {
        ERR_clear_error();
        return NULL;
    }
    SSL_set_app_data(ssl, t);
    /* the name (or address) to check when not pinned; the server name sent, for a name */
    if ((!t->pinned && !is_address && SSL_set1_host(ssl, host) != 1) ||
        (!t->pinned && is_address &&
         X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) != 1) ||
        (!is_address && SSL_set_tlsext_host_name(ssl, host) != 1)) {
        ERR_clear_error();
        SSL_free(ssl);
        return NULL;
    }
    bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                         BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

int
rpc_tls_client_refused(const struct rpc_tls *t, char seen[static TLS_FINGERPRINT_HEX])
{
    tls_fingerprint_hex(seen, t->seen);
    return t->refused;
}
