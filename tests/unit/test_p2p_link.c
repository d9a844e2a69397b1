/* node/p2p unit tests: the handshake and on_connect with the right key, role and direction;
 * messages both ways (empty, 1 MB, exactly at the frame limit, one byte over); keys refused on
 * either side; a wrong network id; forged, reflected and replayed AUTH proofs; a close from
 * inside a callback.
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
test_connect_and_messages(void **state)
{
    struct inst a = {0}, b = {0};
    char target[64];
    uint8_t *big = malloc(MAX_FRAME);
    int n = 0;

    (void)state;
    assert_non_null(big);
    start_allowed_pair(&a, &b, target, sizeof(target));
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
void
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

void
test_wrong_network_id(void **state)
{
    struct inst a = {0}, b = {0};
    struct p2p_config cb;
    char target[64];

    (void)state;
    allow_each_other(&a, &b);
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
void
test_forged_signature(void **state)
{
    struct inst a = {0}, b = {0};
    char target[64];

    (void)state;
    start_allowed_pair(&a, &b, target, sizeof(target));
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
void
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
void
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
void
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
