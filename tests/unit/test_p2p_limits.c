/* node/p2p unit tests: malformed and oversized frames; garbage instead of TLS; the handshake
 * and write timeouts; the send-queue cap; connecting to oneself; reconnects after
 * the listener restarts; the certificate files; configuration errors.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_p2p.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "node/p2p_internal.h"
#include "util/buf.h"
#include "util/hex.h"
#include "util/sha256.h"

void
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
void
test_garbage_tcp(void **state)
{
    struct inst a = {0}, b = {0};
    char target[64];
    struct cli c;
    static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n\x16\x03\x01\xff\xff garbage";

    (void)state;
    allow_each_other(&a, &b);
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

/* A peer that stays silent, and one that stops after TLS, are closed at the timeout. */
void
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
    cb.limits.handshake_timeout_ms = 300;
    start(&b, &cb);
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

/* B stops and starts again on the same port: A links again by itself, with back-off between
 * its failed attempts. */
void
test_reconnect_after_restart(void **state)
{
    struct inst a = {0}, b = {0}, b2 = {0};
    struct p2p_config cb;
    char target[64];
    int port;

    (void)state;
    allow_each_other(&a, &b);
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
void
test_send_queue_full(void **state)
{
    struct inst a = {0}, b = {0};
    struct p2p_config ca, cb;
    const char *connect[1];
    char target[64];
    uint8_t payload[1000] = {0};

    (void)state;
    allow_each_other(&a, &b);
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
void
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

/* A node told to connect to its own port meets its own key and refuses it, even if its allow
 * list would take it. */
void
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
void
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
    assert_int_equal(p2p_new(&p, g_base, &cfg, &callbacks, &b, &err), SBX_EDENIED);
    assert_null(p);
    assert_int_equal(chmod(keypath, 0600), 0);

    f = fopen(certpath, "w");
    assert_non_null(f);
    fputs("not a certificate\n", f);
    fclose(f);
    assert_int_equal(p2p_new(&p, g_base, &cfg, &callbacks, &b, &err), SBX_EIO);
    assert_null(p);

    /* Without the certificate both files are made anew. */
    assert_int_equal(unlink(certpath), 0);
    start(&b, &cfg);
    inst_free(&b);
    read_file(keypath, key2, sizeof(key2));
    assert_string_not_equal(key1, key2);
}

void
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
        if (p2p_new(&p, g_base, &cfg, &callbacks, &b, &err) != SBX_EINVAL)
            fail_msg("'%s' accepted", bad_targets[i]);
        assert_null(p);
        assert_non_null(strstr(err.msg, "connect"));
    }
    config(&cfg, &key_a, "a");
    cfg.max_frame = 128;
    assert_int_equal(p2p_new(&p, g_base, &cfg, &callbacks, &b, &err), SBX_EINVAL);
    config(&cfg, &key_a, "a");
    cfg.max_sendq = cfg.max_frame;
    assert_int_equal(p2p_new(&p, g_base, &cfg, &callbacks, &b, &err), SBX_EINVAL);
    config(&cfg, &key_a, "a");
    cfg.reconnect_min_ms = 500;
    cfg.reconnect_max_ms = 100;
    assert_int_equal(p2p_new(&p, g_base, &cfg, &callbacks, &b, &err), SBX_EINVAL);
    config(&cfg, &key_a, "a");
    cfg.node_key = NULL;
    assert_int_equal(p2p_new(&p, g_base, &cfg, &callbacks, &b, &err), SBX_EINVAL);
    config(&cfg, &key_a, "a");
    cfg.listen = 1;
    cfg.port = 70000;
    assert_int_equal(p2p_new(&p, g_base, &cfg, &callbacks, &b, &err), SBX_EINVAL);
    assert_null(p);

    /* Valid spellings, and a port already taken. */
    config(&cfg, &key_a, "a");
    connect[0] = "[::1]:8646";
    cfg.connect = connect;
    cfg.nconnect = 1;
    assert_int_equal(p2p_new(&p, g_base, &cfg, &callbacks, &b, &err), SBX_OK);
    p2p_free(p); /* before the loop ran: no attempt was made */
    p = NULL;
    config(&cfg, &key_b, "b");
    cfg.listen = 1;
    start(&b, &cfg);
    cfg.port = p2p_port(b.p);
    assert_int_equal(p2p_new(&p, g_base, &cfg, &callbacks, &b2, &err), SBX_EIO);
    assert_null(p);
    inst_free(&b);
    p2p_free(NULL);
}
