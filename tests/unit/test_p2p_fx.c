/* The fixture of the node/p2p unit tests: see test_p2p.h. */
#include "tests/unit/test_common.h"
#include "tests/unit/test_p2p.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "ledger/keys.h"
#include "node/p2p.h"
#include "node/p2p_internal.h"
#include "util/buf.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/sha256.h"
#include "util/time.h"

struct ledger_key key_a, key_b, key_c;
uint8_t net1[32], net2[32];
char log_path[512];
static long log_mark_pos;
SSL_CTX *cli_ssl;

/* Per test. */
struct event_base *g_base;
char *g_tmp;

void
spin(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    event_base_loopexit(g_base, &tv);
    event_base_dispatch(g_base);
}

/* ------------------------------------------------------------------ the log */

void
log_mark(void)
{
    struct stat st;

    log_mark_pos = stat(log_path, &st) == 0 ? (long)st.st_size : 0;
}

/* The lines logged since log_mark() that contain `needle` (and `level`, "warn" say, as the
 * line's level, if it is not NULL). */
int
log_count(const char *needle, const char *level)
{
    static char line[4096];
    char tag[32];
    FILE *f = fopen(log_path, "r");
    int n = 0;

    if (f == NULL)
        return 0;
    if (fseek(f, log_mark_pos, SEEK_SET) != 0) {
        fclose(f);
        return 0;
    }
    snprintf(tag, sizeof(tag), "] %s: ", level != NULL ? level : "");
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strstr(line, needle) != NULL && (level == NULL || strstr(line, tag) != NULL))
            n++;
    }
    fclose(f);
    return n;
}

/* 1 if a line logged since log_mark() contains `needle`. */
int
log_has(const char *needle)
{
    return log_count(needle, NULL) > 0;
}

static int
cb_key_allowed(void *ctx, const uint8_t key[32], int *role)
{
    struct inst *in = ctx;

    for (size_t i = 0; i < in->nallow; i++) {
        if (memcmp(in->allow[i], key, 32) == 0) {
            *role = in->allow_role[i];
            return 1;
        }
    }
    return 0;
}

static void
cb_connect(void *ctx, struct p2p_peer *peer)
{
    struct inst *in = ctx;

    in->connects++;
    in->peer = peer;
    memcpy(in->peer_key, p2p_peer_key(peer), 32);
    in->peer_role = p2p_peer_role(peer);
    in->peer_inbound = p2p_peer_inbound(peer);
    snprintf(in->peer_addr, sizeof(in->peer_addr), "%s", p2p_peer_addr(peer));
    p2p_peer_set_data(peer, in);
}

static void
cb_message(void *ctx, struct p2p_peer *peer, uint8_t type, const uint8_t *payload, size_t len)
{
    struct inst *in = ctx;

    in->nmsg++;
    in->type = type;
    free(in->msg);
    in->msg = malloc(len + 1);
    assert_non_null(in->msg);
    if (len > 0)
        memcpy(in->msg, payload, len);
    in->msglen = len;
    if (in->close_on_msg) {
        p2p_peer_close(peer, "node says no");
        assert_int_equal(in->disconnects, 0); /* on_disconnect comes later, from the loop */
    }
}

static void
cb_disconnect(void *ctx, struct p2p_peer *peer, const char *reason)
{
    struct inst *in = ctx;

    in->disconnects++;
    if (p2p_peer_data(peer) != in)
        in->bad_data = 1;
    if (in->peer == peer)
        in->peer = NULL;
    snprintf(in->reason, sizeof(in->reason), "%s", reason);
}

const struct p2p_callbacks callbacks = {cb_key_allowed, cb_connect, cb_message, cb_disconnect};

void
allow(struct inst *in, const struct ledger_key *k, int role)
{
    in->allow[in->nallow] = k->pubkey;
    in->allow_role[in->nallow] = role;
    in->nallow++;
}

/* A config for `key` with its own certdir under the test's directory. */
void
config(struct p2p_config *cfg, const struct ledger_key *key, const char *name)
{
    static char dirs[8][600];
    static int next;
    char *dir = dirs[next++ % 8];

    snprintf(dir, sizeof(dirs[0]), "%s/%s", g_tmp, name);
    memset(cfg, 0, sizeof(*cfg));
    cfg->bind = "127.0.0.1";
    cfg->certdir = dir;
    cfg->node_key = key;
    memcpy(cfg->network_id, net1, 32);
    cfg->max_frame = MAX_FRAME;
    cfg->reconnect_min_ms = 20;
    cfg->reconnect_max_ms = 160;
}

void
start(struct inst *in, const struct p2p_config *cfg)
{
    struct sbx_err err;
    int rc = p2p_new(&in->p, g_base, cfg, &callbacks, in, &err);

    if (rc != SBX_OK)
        fprintf(stderr, "p2p_new: %s\n", err.msg);
    assert_int_equal(rc, SBX_OK);
}

/* A listener B on an any port and a connector A to it. */
void
start_pair(struct inst *a, struct inst *b, const struct p2p_config *cfg_b_in, char *target,
           size_t target_cap)
{
    struct p2p_config ca, cb;
    const char *connect[1];

    if (cfg_b_in != NULL) {
        cb = *cfg_b_in;
    } else {
        config(&cb, &key_b, "b");
        cb.listen = 1;
    }
    start(b, &cb);
    assert_true(p2p_port(b->p) > 0);
    snprintf(target, target_cap, "127.0.0.1:%d", p2p_port(b->p));
    connect[0] = target;
    config(&ca, &key_a, "a");
    ca.connect = connect;
    ca.nconnect = 1;
    start(a, &ca);
}

void
allow_each_other(struct inst *a, struct inst *b)
{
    allow(a, &key_b, ROLE_OPERATOR);
    allow(b, &key_a, ROLE_REGULATOR);
}

void
start_allowed_pair(struct inst *a, struct inst *b, char *target, size_t target_cap)
{
    allow_each_other(a, b);
    start_pair(a, b, NULL, target, target_cap);
}

void
inst_free(struct inst *in)
{
    p2p_free(in->p);
    in->p = NULL;
    free(in->msg);
    in->msg = NULL;
}

/* ------------------------------------------------------------------ a hand-made client */

static void
cli_read_cb(struct bufferevent *bev, void *arg)
{
    struct cli *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    c->nread += evbuffer_get_length(in);
    evbuffer_drain(in, evbuffer_get_length(in));
}

static void
cli_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct cli *c = arg;

    if (what & BEV_EVENT_CONNECTED) {
        c->connected = 1;
        if (c->tls) {
            SSL *ssl = bufferevent_openssl_get_ssl(bev);
            assert_int_equal(SSL_version(ssl), TLS1_3_VERSION);
            assert_int_equal(SSL_export_keying_material(ssl, c->exporter, 32, "EXPORTER-sbx-peer",
                                                        17, NULL, 0, 0),
                             1);
        }
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        c->closed = 1;
}

/* Connect c->bev (its callbacks set) to 127.0.0.1:port; waits until connected. */
static void
cli_connect(struct cli *c, int port)
{
    struct sockaddr_in sin;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin, sizeof(sin)), 0);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    WAIT_UNTIL(c->connected || c->closed, WAIT_MS);
    assert_true(c->connected);
}

/* Connect to 127.0.0.1:port over plain TCP from the local address `src` (another loopback
 * address: 127.0.0.2, ...); waits until connected. */
void
cli_open_from(struct cli *c, int port, const char *src)
{
    struct sockaddr_in sin;
    evutil_socket_t fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, src, &sin.sin_addr), 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(evutil_make_socket_nonblocking(fd), 0);
    memset(c, 0, sizeof(*c));
    c->bev = bufferevent_socket_new(g_base, fd, BEV_OPT_CLOSE_ON_FREE);
    assert_non_null(c->bev);
    bufferevent_setcb(c->bev, cli_read_cb, NULL, cli_event_cb, c);
    cli_connect(c, port);
}

/* Connect to 127.0.0.1:port, with TLS or plain TCP; waits until connected. */
void
cli_open(struct cli *c, int port, int tls)
{
    memset(c, 0, sizeof(*c));
    c->tls = tls;
    if (tls) {
        SSL *ssl = SSL_new(cli_ssl);
        assert_non_null(ssl);
        c->bev = bufferevent_openssl_socket_new(g_base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                BEV_OPT_CLOSE_ON_FREE);
        assert_non_null(c->bev);
        bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    } else {
        c->bev = bufferevent_socket_new(g_base, -1, BEV_OPT_CLOSE_ON_FREE);
        assert_non_null(c->bev);
    }
    bufferevent_setcb(c->bev, cli_read_cb, NULL, cli_event_cb, c);
    cli_connect(c, port);
}

void
cli_close(struct cli *c)
{
    if (c->bev != NULL)
        bufferevent_free(c->bev);
    c->bev = NULL;
}

void
cli_write(struct cli *c, const void *data, size_t len)
{
    assert_int_equal(bufferevent_write(c->bev, data, len), 0);
}

/* Send a frame header (length, type) and `len` bytes of payload. */
void
cli_frame(struct cli *c, uint32_t length, uint8_t type, const uint8_t *payload, size_t len)
{
    uint8_t hdr[5];

    buf_store_u32(hdr, length);
    hdr[4] = type;
    cli_write(c, hdr, 5);
    if (len > 0)
        cli_write(c, payload, len);
}

/* The digest an AUTH frame signs, written from the description in doc/protocol.md (not from
 * p2p.c): tagged("sbx/peer", exporter | network id | key | direction). */
void
auth_digest(uint8_t out[32], const uint8_t exporter[32], const uint8_t net[32],
            const uint8_t key[32], uint8_t dir)
{
    uint8_t msg[97];

    memcpy(msg, exporter, 32);
    memcpy(msg + 32, net, 32);
    memcpy(msg + 64, key, 32);
    msg[96] = dir;
    sha256_tagged(&SHA256_TAG_PEER, out, msg, sizeof(msg));
}

/* An AUTH payload for `k` on `net`, signed over `exporter` with direction byte `dir`. */
void
make_auth(uint8_t out[128], const struct ledger_key *k, const uint8_t net[32],
          const uint8_t exporter[32], uint8_t dir)
{
    uint8_t digest[32];

    auth_digest(digest, exporter, net, k->pubkey, dir);
    memcpy(out, net, 32);
    memcpy(out + 32, k->pubkey, 32);
    assert_int_equal(ledger_keys_sign(k, digest, out + 64), SBX_OK);
}

void
cli_auth(struct cli *c, const struct ledger_key *k, const uint8_t exporter[32], uint8_t dir)
{
    uint8_t auth[128];

    make_auth(auth, k, net1, exporter, dir);
    cli_frame(c, 129, P2P_MSG_AUTH, auth, sizeof(auth));
}

/* ------------------------------------------------------------------ fixtures */

int
p2p_fx_setup(void **state)
{
    (void)state;
    g_base = event_base_new();
    g_tmp = test_tmpdir();
    if (g_base == NULL || g_tmp == NULL)
        return -1;
    log_mark();
    return 0;
}

int
p2p_fx_teardown(void **state)
{
    (void)state;
    event_base_free(g_base);
    g_base = NULL;
    test_rmtree(g_tmp);
    free(g_tmp);
    g_tmp = NULL;
    return 0;
}

/* ------------------------------------------------------------------ tests */

void
fill(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

void
count_peer(void *ctx, struct p2p_peer *peer)
{
    (void)peer;
    (*(int *)ctx)++;
}
