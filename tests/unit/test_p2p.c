/* node/p2p unit tests: two p2p instances (and hand-made clients) in one event loop on loopback.
 *
 * Covers: the handshake and on_connect with the right key, role and direction; messages both
 * ways (empty, 1 MB, exactly at the frame limit, one byte over); keys refused on either side;
 * a wrong network id; forged, reflected and replayed AUTH proofs; malformed and oversized
 * frames; garbage instead of TLS; the handshake and write timeouts; the send-queue and inbound
 * caps; connecting to oneself; reconnects after a close and after the listener restarts; the
 * certificate files; configuration errors.
 *
 * Close reasons are checked in the log (every close is logged with its reason), which the test
 * sends to a file. Set SBX_TEST_P2P_STDERR=1 to see it on stderr too.
 */
#include "tests/unit/test_common.h"

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

#define MAX_FRAME (2u * 1024u * 1024u + 64u) /* small enough to test the limit quickly */
#define ONE_MB (1024u * 1024u)
#define WAIT_MS 5000 /* generous: a wait ends as soon as its condition holds */
#define ROLE_OPERATOR 1
#define ROLE_REGULATOR 2

static struct ledger_key key_a, key_b, key_c;
static uint8_t net1[32], net2[32];
static char log_path[512];
static long log_mark_pos;
static SSL_CTX *cli_ssl;

/* Per test. */
static struct event_base *base;
static char *tmp;

static void
spin(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

/* Run the loop until `cond` holds or `ms` pass; the caller asserts `cond` afterwards. */
#define WAIT_UNTIL(cond, ms)                                                                       \
    do {                                                                                           \
        int64_t until_ = time_mono_us() + (int64_t)(ms)*1000;                                      \
        while (!(cond) && time_mono_us() < until_)                                                 \
            spin(5);                                                                               \
    } while (0)

/* ------------------------------------------------------------------ the log */

static void
log_mark(void)
{
    struct stat st;

    log_mark_pos = stat(log_path, &st) == 0 ? (long)st.st_size : 0;
}

/* 1 if a line logged since log_mark() contains `needle`. */
static int
log_has(const char *needle)
{
    static char text[1 << 20];
    FILE *f = fopen(log_path, "r");
    size_t n;

    if (f == NULL)
        return 0;
    if (fseek(f, log_mark_pos, SEEK_SET) != 0) {
        fclose(f);
        return 0;
    }
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    return strstr(text, needle) != NULL;
}

/* ------------------------------------------------------------------ a node as the test sees it */

struct inst {
    struct p2p *p;
    const uint8_t *allow[4];
    int allow_role[4];
    size_t nallow;
    int connects, disconnects, nmsg;
    struct p2p_peer *peer; /* the last peer connected and not yet disconnected */
    uint8_t peer_key[32];
    int peer_role, peer_inbound;
    char peer_addr[P2P_ADDR_MAX];
    char reason[200];
    uint8_t type;
    uint8_t *msg;
    size_t msglen;
    int bad_data;     /* on_disconnect saw a peer whose data pointer was not ours */
    int close_on_msg; /* on_message closes the peer (re-entrancy) */
};

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

static const struct p2p_callbacks callbacks = {cb_key_allowed, cb_connect, cb_message,
                                               cb_disconnect};

static void
allow(struct inst *in, const struct ledger_key *k, int role)
{
    in->allow[in->nallow] = k->pubkey;
    in->allow_role[in->nallow] = role;
    in->nallow++;
}

/* A config for `key` with its own certdir under the test's directory. */
static void
config(struct p2p_config *cfg, const struct ledger_key *key, const char *name)
{
    static char dirs[8][600];
    static int next;
    char *dir = dirs[next++ % 8];

    snprintf(dir, sizeof(dirs[0]), "%s/%s", tmp, name);
    memset(cfg, 0, sizeof(*cfg));
    cfg->bind = "127.0.0.1";
    cfg->certdir = dir;
    cfg->node_key = key;
    memcpy(cfg->network_id, net1, 32);
    cfg->max_frame = MAX_FRAME;
    cfg->reconnect_min_ms = 20;
    cfg->reconnect_max_ms = 160;
}

static void
start(struct inst *in, const struct p2p_config *cfg)
{
    struct sbx_err err;
    int rc = p2p_new(&in->p, base, cfg, &callbacks, in, &err);

    if (rc != SBX_OK)
        fprintf(stderr, "p2p_new: %s\n", err.msg);
    assert_int_equal(rc, SBX_OK);
}

/* A listener B on an any port and a connector A to it. */
static void
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

static void
inst_free(struct inst *in)
{
    p2p_free(in->p);
    in->p = NULL;
    free(in->msg);
    in->msg = NULL;
}

/* ------------------------------------------------------------------ a hand-made client */

struct cli {
    struct bufferevent *bev;
    int tls;
    int connected, closed;
    size_t nread;
    uint8_t exporter[32];
};

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

/* Connect to 127.0.0.1:port, with TLS or plain TCP; waits until connected. */
static void
cli_open(struct cli *c, int port, int tls)
{
    struct sockaddr_in sin;

    memset(c, 0, sizeof(*c));
    c->tls = tls;
    if (tls) {
        SSL *ssl = SSL_new(cli_ssl);
        assert_non_null(ssl);
        c->bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                BEV_OPT_CLOSE_ON_FREE);
        assert_non_null(c->bev);
        bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    } else {
        c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
        assert_non_null(c->bev);
    }
    bufferevent_setcb(c->bev, cli_read_cb, NULL, cli_event_cb, c);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin, sizeof(sin)), 0);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    WAIT_UNTIL(c->connected || c->closed, WAIT_MS);
    assert_true(c->connected);
}

static void
cli_close(struct cli *c)
{
    if (c->bev != NULL)
        bufferevent_free(c->bev);
    c->bev = NULL;
}

static void
cli_write(struct cli *c, const void *data, size_t len)
{
    assert_int_equal(bufferevent_write(c->bev, data, len), 0);
}

/* Send a frame header (length, type) and `len` bytes of payload. */
static void
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
static void
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
static void
make_auth(uint8_t out[128], const struct ledger_key *k, const uint8_t net[32],
          const uint8_t exporter[32], uint8_t dir)
{
    uint8_t digest[32];

    auth_digest(digest, exporter, net, k->pubkey, dir);
    memcpy(out, net, 32);
    memcpy(out + 32, k->pubkey, 32);
    assert_int_equal(ledger_keys_sign(k, digest, out + 64), SBX_OK);
}

static void
cli_auth(struct cli *c, const struct ledger_key *k, const uint8_t exporter[32], uint8_t dir)
{
    uint8_t auth[128];

    make_auth(auth, k, net1, exporter, dir);
    cli_frame(c, 129, P2P_MSG_AUTH, auth, sizeof(auth));
}

/* ------------------------------------------------------------------ fixtures */

static int
setup(void **state)
{
    (void)state;
    base = event_base_new();
    tmp = test_tmpdir();
    if (base == NULL || tmp == NULL)
        return -1;
    log_mark();
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    event_base_free(base);
    base = NULL;
    test_rmtree(tmp);
    free(tmp);
    tmp = NULL;
    return 0;
}

/* ------------------------------------------------------------------ tests */

static void
fill(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

static void
count_peer(void *ctx, struct p2p_peer *peer)
{
    (void)peer;
    (*(int *)ctx)++;
}

static void
test_connect_and_messages(void **state)
{
    struct inst a = {0}, b = {0};
    char target[64];
    uint8_t *big = malloc(MAX_FRAME);
    int n = 0;

    (void)state;
    assert_non_null(big);
    allow(&a, &key_b, ROLE_OPERATOR);
    allow(&b, &key_a, ROLE_REGULATOR);
    start_pair(&a, &b, NULL, target, sizeof(target));
    assert_int_equal(p2p_port(a.p), 0); /* not listening */
    WAIT_UNTIL(a.connects == 1 && b.connects == 1, WAIT_MS);
    assert_int_equal(a.connects, 1);
    assert_int_equal(b.connects, 1);

    /* Each side sees the other's key, the role its own key_allowed gave, the direction. */
    assert_memory_equal(a.peer_key, key_b.pubkey, 32);
    assert_int_equal(a.peer_role, ROLE_OPERATOR);
    assert_int_equal(a.peer_inbound, 0);
    assert_string_equal(a.peer_addr, target);
    assert_memory_equal(b.peer_key, key_a.pubkey, 32);
    assert_int_equal(b.peer_role, ROLE_REGULATOR);
    assert_int_equal(b.peer_inbound, 1);
    assert_int_equal(strncmp(b.peer_addr, "127.0.0.1:", 10), 0);
    assert_int_equal(p2p_peer_count(a.p), 1);
    assert_int_equal(p2p_peer_count(b.p), 1);
    p2p_foreach_peer(b.p, count_peer, &n);
    assert_int_equal(n, 1);
    assert_true(p2p_peer_id(a.peer) > 0);
    assert_ptr_equal(p2p_peer_data(a.peer), &a);
    assert_true(log_has("(outbound): connected, key"));
    assert_true(log_has("(inbound): connected, key"));

    /* A small message each way, and an empty one. */
    assert_int_equal(p2p_send(a.peer, P2P_MSG_HELLO, (const uint8_t *)"hello", 5), SBX_OK);
    WAIT_UNTIL(b.nmsg == 1, WAIT_MS);
    assert_int_equal(b.nmsg, 1);
    assert_int_equal(b.type, P2P_MSG_HELLO);
    assert_int_equal(b.msglen, 5);
    assert_memory_equal(b.msg, "hello", 5);
    assert_int_equal(p2p_send(b.peer, P2P_MSG_GETBLOCKS, NULL, 0), SBX_OK);
    WAIT_UNTIL(a.nmsg == 1, WAIT_MS);
    assert_int_equal(a.type, P2P_MSG_GETBLOCKS);
    assert_int_equal(a.msglen, 0);

    /* 1 MB both ways, intact. */
    fill(big, ONE_MB, 1);
    assert_int_equal(p2p_send(a.peer, P2P_MSG_BLOCK, big, ONE_MB), SBX_OK);
    WAIT_UNTIL(b.nmsg == 2, WAIT_MS);
    assert_int_equal(b.nmsg, 2);
    assert_int_equal(b.type, P2P_MSG_BLOCK);
    assert_int_equal(b.msglen, ONE_MB);
    assert_memory_equal(b.msg, big, ONE_MB);
    fill(big, ONE_MB, 2);
    assert_int_equal(p2p_send(b.peer, P2P_MSG_BLOCK, big, ONE_MB), SBX_OK);
    WAIT_UNTIL(a.nmsg == 2, WAIT_MS);
    assert_int_equal(a.msglen, ONE_MB);
    assert_memory_equal(a.msg, big, ONE_MB);

    /* Exactly at the frame limit (type + payload = max_frame) passes; one byte more does not. */
    fill(big, MAX_FRAME - 1, 3);
    assert_int_equal(p2p_send(a.peer, P2P_MSG_TX, big, MAX_FRAME - 1), SBX_OK);
    assert_int_equal(p2p_send(a.peer, P2P_MSG_TX, big, MAX_FRAME), SBX_ETOOLONG);
    assert_int_equal(p2p_broadcast(a.p, P2P_MSG_TX, big, MAX_FRAME), SBX_ETOOLONG);
    WAIT_UNTIL(b.nmsg == 3, WAIT_MS);
    assert_int_equal(b.msglen, MAX_FRAME - 1);
    assert_memory_equal(b.msg, big, MAX_FRAME - 1);

    /* AUTH is the transport's own; NULL with a length is a misuse. */
    assert_int_equal(p2p_send(a.peer, P2P_MSG_AUTH, big, 10), SBX_EINVAL);
    assert_int_equal(p2p_send(a.peer, P2P_MSG_TX, NULL, 10), SBX_EINVAL);

    /* Broadcast reaches the one open peer. */
    assert_int_equal(p2p_broadcast(b.p, P2P_MSG_ATTEST, (const uint8_t *)"att", 3), 1);
    WAIT_UNTIL(a.nmsg == 3, WAIT_MS);
    assert_int_equal(a.type, P2P_MSG_ATTEST);
    assert_memory_equal(a.msg, "att", 3);

    /* Closing from the node layer: both sides hear of it, then A (outbound) links again. */
    {
        struct p2p_peer *pa = a.peer;
        p2p_peer_close(pa, "test close");
        assert_int_equal(p2p_send(pa, P2P_MSG_TX, NULL, 0), SBX_EUNAVAIL);
        assert_int_equal(p2p_peer_count(a.p), 0);
        assert_int_equal(a.disconnects, 0); /* never from inside a p2p_* call */
        p2p_peer_close(pa, "twice");        /* no-op */
    }
    WAIT_UNTIL(a.disconnects == 1 && b.disconnects == 1, WAIT_MS);
    assert_int_equal(a.disconnects, 1);
    assert_string_equal(a.reason, "test close");
    assert_int_equal(b.disconnects, 1);
    assert_string_equal(b.reason, "connection closed by peer");
    assert_true(log_has("(outbound): closed: test close"));
    WAIT_UNTIL(a.connects == 2 && b.connects == 2, WAIT_MS);
    assert_int_equal(a.connects, 2);
    assert_int_equal(b.connects, 2);

    /* p2p_free tells the owner about every open peer. */
    inst_free(&a);
    assert_int_equal(a.disconnects, 2);
    assert_string_equal(a.reason, "shutting down");
    WAIT_UNTIL(b.disconnects == 2, WAIT_MS);
    assert_int_equal(b.disconnects, 2);
    assert_false(a.bad_data || b.bad_data);
    inst_free(&b);
    free(big);
}

/* The accepting side refuses the connecting side's key, then the other way round. */
static void
test_unknown_key(void **state)
{
    struct inst a = {0}, b = {0};
    char target[64];

    (void)state;
    allow(&a, &key_b, ROLE_OPERATOR);
    allow(&b, &key_c, ROLE_REGULATOR); /* not A */
    start_pair(&a, &b, NULL, target, sizeof(target));
    WAIT_UNTIL(log_has("(inbound): closed: unknown key"), WAIT_MS);
    assert_true(log_has("(inbound): closed: unknown key"));
    spin(50);
    assert_int_equal(b.connects, 0);
    assert_int_equal(b.disconnects, 0);
    /* A may have heard B's proof before B's close arrived; then it got both callbacks. */
    assert_int_equal(a.connects, a.disconnects);
    inst_free(&a);
    inst_free(&b);

    log_mark();
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    allow(&a, &key_c, ROLE_OPERATOR); /* not B */
    allow(&b, &key_a, ROLE_REGULATOR);
    start_pair(&a, &b, NULL, target, sizeof(target));
    WAIT_UNTIL(log_has("(outbound): closed: unknown key"), WAIT_MS);
    assert_true(log_has("(outbound): closed: unknown key"));
    spin(50);
    assert_int_equal(a.connects, 0);
    assert_int_equal(b.connects, b.disconnects);
    inst_free(&a);
    inst_free(&b);
}

static void
test_wrong_network_id(void **state)
{
    struct inst a = {0}, b = {0};
    struct p2p_config cb;
    char target[64];

    (void)state;
    allow(&a, &key_b, ROLE_OPERATOR);
    allow(&b, &key_a, ROLE_REGULATOR);
    config(&cb, &key_b, "b");
    cb.listen = 1;
    memcpy(cb.network_id, net2, 32);
    start_pair(&a, &b, &cb, target, sizeof(target));
    WAIT_UNTIL(log_has("(inbound): closed: wrong network id") &&
                   log_has("(outbound): closed: wrong network id"),
               WAIT_MS);
    assert_true(log_has("(inbound): closed: wrong network id"));
    assert_true(log_has("(outbound): closed: wrong network id"));
    assert_int_equal(a.connects, 0);
    assert_int_equal(b.connects, 0);
    inst_free(&a);
    inst_free(&b);
}

#ifdef SBX_TEST_HOOKS
/* A sends a proof with a flipped bit: B refuses it. Once A signs correctly, it gets in. */
static void
test_forged_signature(void **state)
{
    struct inst a = {0}, b = {0};
    char target[64];

    (void)state;
    allow(&a, &key_b, ROLE_OPERATOR);
    allow(&b, &key_a, ROLE_REGULATOR);
    start_pair(&a, &b, NULL, target, sizeof(target));
    p2p_test_corrupt_auth(a.p, 1); /* before the loop runs: the first attempt is forged */
    WAIT_UNTIL(log_has("(inbound): closed: bad handshake signature"), WAIT_MS);
    assert_true(log_has("(inbound): closed: bad handshake signature"));
    spin(30);
    assert_int_equal(b.connects, 0);
    p2p_test_corrupt_auth(a.p, 0);
    WAIT_UNTIL(a.connects >= 1 && b.connects == 1, WAIT_MS);
    assert_int_equal(b.connects, 1);
    assert_memory_equal(b.peer_key, key_a.pubkey, 32);
    inst_free(&a);
    inst_free(&b);
}
#endif

/* The test vector of doc/protocol.md. The hand-made clients below sign with this same digest
 * and p2p accepts them, so the document, this function and p2p.c agree. */
static void
test_auth_digest_vector(void **state)
{
    uint8_t exporter[32], net[32], key[32], out[32];
    char hex[65];

    (void)state;
    for (int i = 0; i < 32; i++)
        exporter[i] = (uint8_t)i;
    memset(net, 0x11, sizeof(net));
    memset(key, 0x22, sizeof(key));
    auth_digest(out, exporter, net, key, 0);
    hex_encode(hex, out, 32);
    assert_string_equal(hex, "e72e08f5da1333e55e1bcf172938a9179b090267537b6889b450cca0a269a041");
    auth_digest(out, exporter, net, key, 1);
    hex_encode(hex, out, 32);
    assert_string_equal(hex, "d480e421a9a7d9c4d17cf79346ca7b1a1ef2683f26cb02328d7b18447f80dcc7");
}

/* Proofs made by hand: reflected (wrong direction byte), replayed from another TLS session,
 * then a good one. */
static void
test_auth_reflect_replay(void **state)
{
    struct inst b = {0};
    struct p2p_config cb;
    struct cli c1, c2;

    (void)state;
    allow(&b, &key_c, ROLE_REGULATOR);
    config(&cb, &key_b, "b");
    cb.listen = 1;
    start(&b, &cb);

    /* The connecting side must sign with direction 0; 1 is what the acceptor signs. */
    cli_open(&c1, p2p_port(b.p), 1);
    cli_auth(&c1, &key_c, c1.exporter, 1);
    WAIT_UNTIL(c1.closed, WAIT_MS);
    assert_true(c1.closed);
    assert_true(log_has("(inbound): closed: bad handshake signature"));
    cli_close(&c1);

    /* A proof over one session's exporter is worthless on another session. */
    log_mark();
    cli_open(&c1, p2p_port(b.p), 1);
    cli_open(&c2, p2p_port(b.p), 1);
    assert_memory_not_equal(c1.exporter, c2.exporter, 32);
    cli_auth(&c2, &key_c, c1.exporter, 0);
    WAIT_UNTIL(c2.closed, WAIT_MS);
    assert_true(c2.closed);
    assert_true(log_has("(inbound): closed: bad handshake signature"));
    assert_int_equal(b.connects, 0);
    cli_close(&c2);

    /* The right proof on the right session gets in. */
    cli_auth(&c1, &key_c, c1.exporter, 0);
    WAIT_UNTIL(b.connects == 1, WAIT_MS);
    assert_int_equal(b.connects, 1);
    assert_memory_equal(b.peer_key, key_c.pubkey, 32);
    assert_int_equal(b.peer_role, ROLE_REGULATOR);
    assert_true(c1.nread >= 133); /* B's own AUTH frame */
    cli_close(&c1);
    WAIT_UNTIL(b.disconnects == 1, WAIT_MS);
    assert_int_equal(b.disconnects, 1);
    inst_free(&b);
}

/* AUTH and the first message in one write; the node layer closes the peer from inside
 * on_message: the frames after it are not delivered, on_disconnect follows from the loop. */
static void
test_close_from_callback(void **state)
{
    struct inst b = {0};
    struct p2p_config cb;
    struct cli c;

    (void)state;
    allow(&b, &key_c, ROLE_REGULATOR);
    b.close_on_msg = 1;
    config(&cb, &key_b, "b");
    cb.listen = 1;
    start(&b, &cb);
    cli_open(&c, p2p_port(b.p), 1);
    cli_auth(&c, &key_c, c.exporter, 0);
    cli_frame(&c, 3, P2P_MSG_HELLO, (const uint8_t *)"hi", 2);
    cli_frame(&c, 3, P2P_MSG_HELLO, (const uint8_t *)"no", 2);
    WAIT_UNTIL(b.disconnects == 1 && c.closed, WAIT_MS);
    assert_int_equal(b.connects, 1);
    assert_int_equal(b.nmsg, 1);
    assert_memory_equal(b.msg, "hi", 2);
    assert_int_equal(b.disconnects, 1);
    assert_string_equal(b.reason, "node says no");
    assert_true(c.closed);
    assert_true(log_has("(inbound): closed: node says no"));
    cli_close(&c);
    inst_free(&b);
}

/* Frames that end the link, before and after AUTH; and one exactly at the limit that does not. */
static void
test_malformed_frames(void **state)
{
    struct inst b = {0};
    struct p2p_config cb;
    struct cli c;
    uint8_t *big = malloc(MAX_FRAME);
    uint8_t auth[128];
    static const struct {
        int after_auth;
        uint32_t length;
        uint8_t type;
    } bad[] = {
        {0, 0, P2P_MSG_AUTH},              /* length 0 */
        {0, 0xffffffffu, P2P_MSG_AUTH},    /* oversized before AUTH */
        {0, 5, P2P_MSG_AUTH},              /* AUTH of the wrong size */
        {0, 129, P2P_MSG_HELLO},           /* a first frame that is not AUTH */
        {1, 0, P2P_MSG_HELLO},             /* length 0 */
        {1, MAX_FRAME + 1, P2P_MSG_BLOCK}, /* one byte over the limit */
        {1, 0xffffffffu, P2P_MSG_BLOCK},   /* far over */
        {1, 129, P2P_MSG_AUTH},            /* a second AUTH */
    };

    (void)state;
    assert_non_null(big);
    allow(&b, &key_c, ROLE_REGULATOR);
    config(&cb, &key_b, "b");
    cb.listen = 1;
    start(&b, &cb);

    for (size_t i = 0; i < SBX_ARRAY_LEN(bad); i++) {
        int connects = b.connects;
        log_mark();
        cli_open(&c, p2p_port(b.p), 1);
        if (bad[i].after_auth) {
            cli_auth(&c, &key_c, c.exporter, 0);
            WAIT_UNTIL(b.connects == connects + 1, WAIT_MS);
            assert_int_equal(b.connects, connects + 1);
        }
        make_auth(auth, &key_c, net1, c.exporter, 0);
        cli_frame(&c, bad[i].length, bad[i].type, auth, bad[i].length == 129 ? 128 : 0);
        WAIT_UNTIL(c.closed, WAIT_MS);
        if (!c.closed || !log_has("(inbound): closed: malformed frame"))
            fail_msg("case %zu: not closed as a malformed frame", i);
        cli_close(&c);
    }
    WAIT_UNTIL(b.disconnects == b.connects, WAIT_MS);
    assert_int_equal(b.disconnects, b.connects);

    /* A frame of exactly max_frame bytes (type + payload) from a hand-made client arrives. */
    cli_open(&c, p2p_port(b.p), 1);
    cli_auth(&c, &key_c, c.exporter, 0);
    fill(big, MAX_FRAME - 1, 4);
    cli_frame(&c, MAX_FRAME, P2P_MSG_BLOCK, big, MAX_FRAME - 1);
    WAIT_UNTIL(b.nmsg == 1, WAIT_MS);
    assert_int_equal(b.nmsg, 1);
    assert_int_equal(b.type, P2P_MSG_BLOCK);
    assert_int_equal(b.msglen, MAX_FRAME - 1);
    assert_memory_equal(b.msg, big, MAX_FRAME - 1);
    assert_false(c.closed);
    cli_close(&c);
    inst_free(&b);
    free(big);
}

/* Not TLS at all: the TLS handshake fails, the link is closed, the listener goes on. */
static void
test_garbage_tcp(void **state)
{
    struct inst a = {0}, b = {0};
    char target[64];
    struct cli c;
    static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n\x16\x03\x01\xff\xff garbage";

    (void)state;
    allow(&a, &key_b, ROLE_OPERATOR);
    allow(&b, &key_a, ROLE_REGULATOR);
    {
        struct p2p_config cb;
        config(&cb, &key_b, "b");
        cb.listen = 1;
        start(&b, &cb);
    }
    cli_open(&c, p2p_port(b.p), 0);
    cli_write(&c, junk, sizeof(junk));
    WAIT_UNTIL(c.closed, WAIT_MS);
    assert_true(c.closed);
    assert_true(log_has("(inbound): closed: TLS setup failed"));
    cli_close(&c);

    /* The listener still serves a real peer. */
    inst_free(&b);
    memset(&b, 0, sizeof(b));
    allow(&b, &key_a, ROLE_REGULATOR);
    start_pair(&a, &b, NULL, target, sizeof(target));
    cli_open(&c, p2p_port(b.p), 0);
    cli_write(&c, junk, sizeof(junk));
    WAIT_UNTIL(c.closed && a.connects == 1 && b.connects == 1, WAIT_MS);
    assert_true(c.closed);
    assert_int_equal(b.connects, 1);
    cli_close(&c);
    inst_free(&a);
    inst_free(&b);
}

#ifdef SBX_TEST_HOOKS
/* A peer that stays silent, and one that stops after TLS, are closed at the timeout. */
static void
test_handshake_timeout(void **state)
{
    struct inst b = {0};
    struct p2p_config cb;
    struct cli tcp, tls;
    int64_t t0;

    (void)state;
    allow(&b, &key_c, ROLE_REGULATOR);
    config(&cb, &key_b, "b");
    cb.listen = 1;
    start(&b, &cb);
    p2p_test_handshake_timeout(b.p, 300);
    t0 = time_mono_us();
    cli_open(&tcp, p2p_port(b.p), 0);
    cli_open(&tls, p2p_port(b.p), 1);
    WAIT_UNTIL(tcp.closed && tls.closed, WAIT_MS);
    assert_true(tcp.closed);
    assert_true(tls.closed);
    assert_true(time_mono_us() - t0 >= 290 * 1000);
    assert_true(log_has("(inbound): closed: handshake timeout"));
    assert_int_equal(b.connects, 0);
    cli_close(&tcp);
    cli_close(&tls);
    inst_free(&b);
}
#endif

/* B stops and starts again on the same port: A links again by itself, with back-off between
 * its failed attempts. */
static void
test_reconnect_after_restart(void **state)
{
    struct inst a = {0}, b = {0}, b2 = {0};
    struct p2p_config cb;
    char target[64];
    int port;

    (void)state;
    allow(&a, &key_b, ROLE_OPERATOR);
    allow(&b, &key_a, ROLE_REGULATOR);
    allow(&b2, &key_a, ROLE_REGULATOR);
    start_pair(&a, &b, NULL, target, sizeof(target));
    WAIT_UNTIL(a.connects == 1 && b.connects == 1, WAIT_MS);
    assert_int_equal(a.connects, 1);
    port = p2p_port(b.p);
    inst_free(&b);
    WAIT_UNTIL(a.disconnects == 1, WAIT_MS);
    assert_int_equal(a.disconnects, 1);
    assert_string_equal(a.reason, "connection closed by peer");

    log_mark();
    spin(400); /* several refused attempts: 20, 40, 80, 160, 160 ms apart */
    assert_true(
        log_has("(outbound): closed: TLS setup failed: cannot connect: Connection refused"));
    assert_int_equal(a.connects, 1);

    config(&cb, &key_b, "b");
    cb.listen = 1;
    cb.port = port;
    start(&b2, &cb);
    assert_int_equal(p2p_port(b2.p), port);
    WAIT_UNTIL(a.connects == 2 && b2.connects == 1, WAIT_MS);
    assert_int_equal(a.connects, 2);
    assert_int_equal(b2.connects, 1);
    assert_memory_equal(a.peer_key, key_b.pubkey, 32);
    assert_int_equal(p2p_send(a.peer, P2P_MSG_HELLO, (const uint8_t *)"again", 5), SBX_OK);
    WAIT_UNTIL(b2.nmsg == 1, WAIT_MS);
    assert_memory_equal(b2.msg, "again", 5);
    inst_free(&a);
    inst_free(&b2);
}

/* The send queue cap: p2p_send refuses, p2p_broadcast closes the peer. */
static void
test_send_queue_full(void **state)
{
    struct inst a = {0}, b = {0};
    struct p2p_config ca, cb;
    const char *connect[1];
    char target[64];
    uint8_t payload[1000] = {0};

    (void)state;
    allow(&a, &key_b, ROLE_OPERATOR);
    allow(&b, &key_a, ROLE_REGULATOR);
    config(&cb, &key_b, "b");
    cb.listen = 1;
    start(&b, &cb);
    snprintf(target, sizeof(target), "localhost:%d", p2p_port(b.p)); /* a name, resolved */
    connect[0] = target;
    config(&ca, &key_a, "a");
    ca.connect = connect;
    ca.nconnect = 1;
    ca.max_frame = 1024;
    ca.max_sendq = 2048;
    start(&a, &ca);
    WAIT_UNTIL(a.connects == 1 && b.connects == 1, WAIT_MS);
    assert_int_equal(a.connects, 1);

    /* The loop does not run between these calls, so nothing leaves the queue. */
    assert_int_equal(p2p_send(a.peer, P2P_MSG_TX, payload, 1000), SBX_OK);
    assert_int_equal(p2p_peer_sendq(a.peer), 1005);
    assert_int_equal(p2p_send(a.peer, P2P_MSG_TX, payload, 1000), SBX_OK);
    assert_int_equal(p2p_send(a.peer, P2P_MSG_TX, payload, 1000), SBX_EOVERLOAD);
    assert_int_equal(p2p_peer_sendq(a.peer), 2010);
    assert_int_equal(p2p_broadcast(a.p, P2P_MSG_TX, payload, 1000), 0);
    WAIT_UNTIL(a.disconnects == 1, WAIT_MS);
    assert_int_equal(a.disconnects, 1);
    assert_string_equal(a.reason, "send queue full");
    inst_free(&a);
    inst_free(&b);
}

#ifdef SBX_TEST_HOOKS
/* A peer that stops reading: queued output makes no progress and the link is closed. */
static void
test_write_timeout(void **state)
{
    struct inst b = {0};
    struct p2p_config cb;
    struct cli c;
    size_t len = 16u * ONE_MB;
    uint8_t *big = calloc(1, len);
    int sent = 0;

    (void)state;
    assert_non_null(big);
    allow(&b, &key_c, ROLE_REGULATOR);
    config(&cb, &key_b, "b");
    cb.listen = 1;
    cb.max_frame = len + 1;
    start(&b, &cb);
    p2p_test_write_timeout(b.p, 300);
    cli_open(&c, p2p_port(b.p), 1);
    cli_auth(&c, &key_c, c.exporter, 0);
    WAIT_UNTIL(b.connects == 1, WAIT_MS);
    assert_int_equal(b.connects, 1);
    bufferevent_disable(c.bev, EV_READ);
    /* More than the socket buffers of both ends hold. */
    while (p2p_send(b.peer, P2P_MSG_BLOCK, big, len) == SBX_OK)
        sent++;
    assert_true(sent >= 2);
    WAIT_UNTIL(b.disconnects == 1, WAIT_MS);
    assert_int_equal(b.disconnects, 1);
    assert_non_null(strstr(b.reason, "write timeout"));
    cli_close(&c);
    inst_free(&b);
    free(big);
}
#endif

/* Past P2P_MAX_INBOUND_HANDSHAKING silent connections, the next one is closed at once. */
static void
test_inbound_cap(void **state)
{
    struct inst b = {0};
    struct p2p_config cb;
    struct cli c[P2P_MAX_INBOUND_HANDSHAKING + 1];

    (void)state;
    config(&cb, &key_b, "b");
    cb.listen = 1;
    start(&b, &cb);
    for (size_t i = 0; i < P2P_MAX_INBOUND_HANDSHAKING; i++)
        cli_open(&c[i], p2p_port(b.p), 0);
    spin(50);
    assert_false(log_has("too many inbound connections"));
    cli_open(&c[P2P_MAX_INBOUND_HANDSHAKING], p2p_port(b.p), 0);
    WAIT_UNTIL(c[P2P_MAX_INBOUND_HANDSHAKING].closed, WAIT_MS);
    assert_true(c[P2P_MAX_INBOUND_HANDSHAKING].closed);
    assert_true(log_has("(inbound): closed: too many inbound connections"));
    for (size_t i = 0; i < P2P_MAX_INBOUND_HANDSHAKING; i++) {
        assert_false(c[i].closed);
        cli_close(&c[i]);
    }
    cli_close(&c[P2P_MAX_INBOUND_HANDSHAKING]);
    inst_free(&b);
}

/* A node told to connect to its own port meets its own key and refuses it, even if its allow
 * list would take it. */
static void
test_connect_to_self(void **state)
{
    struct inst b = {0};
    struct p2p_config cb;
    char target[64];
    const char *connect[1];
    struct p2p_config probe;

    (void)state;
    allow(&b, &key_b, ROLE_OPERATOR);
    /* Find a free port, then listen on it and connect to it. */
    config(&probe, &key_b, "b");
    probe.listen = 1;
    start(&b, &probe);
    cb = probe;
    cb.port = p2p_port(b.p);
    inst_free(&b);
    snprintf(target, sizeof(target), "127.0.0.1:%d", cb.port);
    connect[0] = target;
    cb.connect = connect;
    cb.nconnect = 1;
    start(&b, &cb);
    WAIT_UNTIL(log_has("(inbound): closed: connected to self") &&
                   log_has("(outbound): closed: connected to self"),
               WAIT_MS);
    assert_true(log_has("(inbound): closed: connected to self"));
    assert_true(log_has("(outbound): closed: connected to self"));
    assert_int_equal(b.connects, 0);
    inst_free(&b);
}

static long
file_mode(const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return -1;
    return (long)(st.st_mode & 0777);
}

static size_t
read_file(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n;

    assert_non_null(f);
    n = fread(out, 1, cap - 1, f);
    fclose(f);
    out[n] = '\0';
    return n;
}

/* The key and certificate are made once, mode 0600, and kept; a readable key is refused. */
static void
test_certdir(void **state)
{
    struct inst b = {0};
    struct p2p_config cfg;
    struct sbx_err err;
    struct p2p *p = NULL;
    char keypath[700], certpath[700], key1[4096], cert1[4096], key2[4096], cert2[4096];
    FILE *f;

    (void)state;
    config(&cfg, &key_b, "certs");
    snprintf(keypath, sizeof(keypath), "%s/p2p.key", cfg.certdir);
    snprintf(certpath, sizeof(certpath), "%s/p2p.crt", cfg.certdir);
    start(&b, &cfg); /* not listening, no targets: only the certificate */
    assert_int_equal(p2p_port(b.p), 0);
    inst_free(&b);
    assert_int_equal(file_mode(cfg.certdir), 0700);
    assert_int_equal(file_mode(keypath), 0600);
    assert_int_equal(file_mode(certpath), 0600);
    assert_true(read_file(keypath, key1, sizeof(key1)) > 0);
    assert_true(read_file(certpath, cert1, sizeof(cert1)) > 0);
    assert_non_null(strstr(key1, "-----BEGIN PRIVATE KEY-----"));
    assert_non_null(strstr(cert1, "-----BEGIN CERTIFICATE-----"));

    start(&b, &cfg);
    inst_free(&b);
    read_file(keypath, key2, sizeof(key2));
    read_file(certpath, cert2, sizeof(cert2));
    assert_string_equal(key1, key2);
    assert_string_equal(cert1, cert2);

    assert_int_equal(chmod(keypath, 0644), 0);
    assert_int_equal(p2p_new(&p, base, &cfg, &callbacks, &b, &err), SBX_EDENIED);
    assert_null(p);
    assert_int_equal(chmod(keypath, 0600), 0);

    f = fopen(certpath, "w");
    assert_non_null(f);
    fputs("not a certificate\n", f);
    fclose(f);
    assert_int_equal(p2p_new(&p, base, &cfg, &callbacks, &b, &err), SBX_EIO);
    assert_null(p);

    /* Without the certificate both files are made anew. */
    assert_int_equal(unlink(certpath), 0);
    start(&b, &cfg);
    inst_free(&b);
    read_file(keypath, key2, sizeof(key2));
    assert_string_not_equal(key1, key2);
}

static void
test_config_errors(void **state)
{
    static const char *const bad_targets[] = {
        "nohost",      ":8646",    "host:",     "host:0", "host:65536", "host:12x",
        "host:123456", "::1:8646", "[::1]8646", "[::1]:", "[]:8646",    "host: 80",
    };
    struct p2p_config cfg;
    struct sbx_err err;
    struct p2p *p = NULL;
    struct inst b = {0}, b2 = {0};
    const char *connect[1];

    (void)state;
    for (size_t i = 0; i < SBX_ARRAY_LEN(bad_targets); i++) {
        config(&cfg, &key_a, "a");
        connect[0] = bad_targets[i];
        cfg.connect = connect;
        cfg.nconnect = 1;
        if (p2p_new(&p, base, &cfg, &callbacks, &b, &err) != SBX_EINVAL)
            fail_msg("'%s' accepted", bad_targets[i]);
        assert_null(p);
        assert_non_null(strstr(err.msg, "connect"));
    }
    config(&cfg, &key_a, "a");
    cfg.max_frame = 128;
    assert_int_equal(p2p_new(&p, base, &cfg, &callbacks, &b, &err), SBX_EINVAL);
    config(&cfg, &key_a, "a");
    cfg.max_sendq = cfg.max_frame;
    assert_int_equal(p2p_new(&p, base, &cfg, &callbacks, &b, &err), SBX_EINVAL);
    config(&cfg, &key_a, "a");
    cfg.reconnect_min_ms = 500;
    cfg.reconnect_max_ms = 100;
    assert_int_equal(p2p_new(&p, base, &cfg, &callbacks, &b, &err), SBX_EINVAL);
    config(&cfg, &key_a, "a");
    cfg.node_key = NULL;
    assert_int_equal(p2p_new(&p, base, &cfg, &callbacks, &b, &err), SBX_EINVAL);
    config(&cfg, &key_a, "a");
    cfg.listen = 1;
    cfg.port = 70000;
    assert_int_equal(p2p_new(&p, base, &cfg, &callbacks, &b, &err), SBX_EINVAL);
    assert_null(p);

    /* Valid spellings, and a port already taken. */
    config(&cfg, &key_a, "a");
    connect[0] = "[::1]:8646";
    cfg.connect = connect;
    cfg.nconnect = 1;
    assert_int_equal(p2p_new(&p, base, &cfg, &callbacks, &b, &err), SBX_OK);
    p2p_free(p); /* before the loop ran: no attempt was made */
    p = NULL;
    config(&cfg, &key_b, "b");
    cfg.listen = 1;
    start(&b, &cfg);
    cfg.port = p2p_port(b.p);
    assert_int_equal(p2p_new(&p, base, &cfg, &callbacks, &b2, &err), SBX_EIO);
    assert_null(p);
    inst_free(&b);
    p2p_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connect_and_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_network_id, setup, teardown),
#ifdef SBX_TEST_HOOKS
        cmocka_unit_test_setup_teardown(test_forged_signature, setup, teardown),
#endif
        cmocka_unit_test_setup_teardown(test_auth_digest_vector, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_reflect_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_from_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_tcp, setup, teardown),
#ifdef SBX_TEST_HOOKS
        cmocka_unit_test_setup_teardown(test_handshake_timeout, setup, teardown),
#endif
        cmocka_unit_test_setup_teardown(test_reconnect_after_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_queue_full, setup, teardown),
#ifdef SBX_TEST_HOOKS
        cmocka_unit_test_setup_teardown(test_write_timeout, setup, teardown),
#endif
        cmocka_unit_test_setup_teardown(test_inbound_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_to_self, setup, teardown),
        cmocka_unit_test_setup_teardown(test_certdir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
    };
    char *logdir;
    const char *show = getenv("SBX_TEST_P2P_STDERR");
    int rc;

    signal(SIGPIPE, SIG_IGN); /* as sbxd does: a peer gone mid-write is an error, not a signal */
    if (ledger_keys_global_init() != SBX_OK || sha256_global_init() != SBX_OK ||
        ledger_keys_generate(&key_a) != SBX_OK || ledger_keys_generate(&key_b) != SBX_OK ||
        ledger_keys_generate(&key_c) != SBX_OK)
        return 1;
    memset(net1, 0x11, sizeof(net1));
    memset(net2, 0x22, sizeof(net2));
    logdir = test_tmpdir();
    if (logdir == NULL)
        return 1;
    snprintf(log_path, sizeof(log_path), "%s/p2p.log", logdir);
    if (log_open(log_path) != SBX_OK)
        return 1;
    log_set_stderr(show != NULL && show[0] == '1');
    cli_ssl = SSL_CTX_new(TLS_client_method());
    if (cli_ssl == NULL || SSL_CTX_set_min_proto_version(cli_ssl, TLS1_3_VERSION) != 1)
        return 1;
    SSL_CTX_set_verify(cli_ssl, SSL_VERIFY_NONE, NULL);

    rc = cmocka_run_group_tests(tests, NULL, NULL);

    SSL_CTX_free(cli_ssl);
    log_close();
    test_rmtree(logdir);
    free(logdir);
    ledger_keys_wipe(&key_a);
    ledger_keys_wipe(&key_b);
    ledger_keys_wipe(&key_c);
    return rc;
}
