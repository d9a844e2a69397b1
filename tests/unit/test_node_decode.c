/* node/ unit tests of the decoders of what peers send that have a function of their own: the
 * frame reader's p2p_frame_decode (node/p2p.c) and the HELLO and GETBLOCKS payloads
 * (node/net.c), at their edges: exactly at a limit, one byte over, one short, trailing bytes.
 * tests/fuzz/fuzz_peer.c feeds them everything else. */
#include "tests/unit/test_common.h"

#include <stdlib.h>
#include <string.h>

#include "node/net.h"
#include "node/p2p.h"
#include "util/buf.h"

#define AUTH_LEN 129 /* an AUTH frame's length field: type and a 128-byte payload */

/* A frame of length field `len` (type byte `type` first) in a buffer of `len` + 4 bytes. */
static uint8_t *
frame(uint32_t len, uint8_t type)
{
    uint8_t *f = calloc(1, (size_t)len + 4);

    assert_non_null(f);
    buf_store_u32(f, len);
    if (len > 0)
        f[4] = type;
    return f;
}

void
test_frame_decode(void **state)
{
    struct p2p_frame f;
    struct sbx_err err;
    uint8_t *in;

    (void)state;
    /* the length field itself, short of it, and a length of 0 */
    in = frame(AUTH_LEN, P2P_MSG_AUTH);
    assert_int_equal(p2p_frame_decode(&f, in, 3, 1000, 0, &err), SBX_ETRUNCATED);
    assert_int_equal(f.size, 4);
    assert_int_equal(p2p_frame_decode(&f, in, 4, 1000, 0, &err), SBX_ETRUNCATED);
    assert_int_equal(f.size, 4 + AUTH_LEN);
    /* before AUTH: exactly an AUTH frame, one byte short of it */
    assert_int_equal(p2p_frame_decode(&f, in, 4 + AUTH_LEN, 1000, 0, &err), SBX_OK);
    assert_int_equal(f.type, P2P_MSG_AUTH);
    assert_int_equal(f.len, AUTH_LEN - 1);
    assert_ptr_equal(f.payload, in + 5);
    assert_int_equal(p2p_frame_decode(&f, in, 3 + AUTH_LEN, 1000, 0, &err), SBX_ETRUNCATED);
    /* the AUTH frame once open, another type before AUTH, another length before AUTH */
    assert_int_equal(p2p_frame_decode(&f, in, 4 + AUTH_LEN, 1000, 1, &err), SBX_ETYPE);
    in[4] = P2P_MSG_HELLO;
    assert_int_equal(p2p_frame_decode(&f, in, 4 + AUTH_LEN, 1000, 0, &err), SBX_ETYPE);
    free(in);
    in = frame(AUTH_LEN + 1, P2P_MSG_AUTH);
    assert_int_equal(p2p_frame_decode(&f, in, 5 + AUTH_LEN, 1000, 0, &err), SBX_ETOOLONG);
    free(in);
    in = frame(0, 0);
    assert_int_equal(p2p_frame_decode(&f, in, 4, 1000, 1, &err), SBX_ETOOLONG);
    free(in);
    /* open: exactly max_frame, one over; an empty payload; bytes after the frame are left */
    in = frame(1000, P2P_MSG_BLOCK);
    assert_int_equal(p2p_frame_decode(&f, in, 1004, 1000, 1, &err), SBX_OK);
    assert_int_equal(f.size, 1004);
    assert_int_equal(f.len, 999);
    assert_int_equal(p2p_frame_decode(&f, in, 1004, 999, 1, &err), SBX_ETOOLONG);
    free(in);
    in = frame(1, P2P_MSG_HELLO);
    assert_int_equal(p2p_frame_decode(&f, in, 5, 1000, 1, &err), SBX_OK);
    assert_int_equal(f.len, 0);
    free(in);
}

void
test_hello_getblocks_decode(void **state)
{
    uint8_t in[NODE_NET_HELLO_SIZE + 1], out[NODE_NET_HELLO_SIZE];
    struct node_net_hello h = {NODE_ROLE_REGULATOR, 0x0102030405060708ull, {0}};
    struct sbx_err err;
    uint64_t from;

    (void)state;
    memset(h.hash, 0xab, 32);
    node_net_hello_encode(in, &h);
    memset(&h, 0, sizeof(h));
    assert_int_equal(node_net_hello_decode(&h, in, NODE_NET_HELLO_SIZE, &err), SBX_OK);
    assert_int_equal(h.role, NODE_ROLE_REGULATOR);
    assert_true(h.height == 0x0102030405060708ull);
    assert_int_equal(h.hash[31], 0xab);
    node_net_hello_encode(out, &h);
    assert_memory_equal(out, in, NODE_NET_HELLO_SIZE);
    assert_int_equal(node_net_hello_decode(&h, in, NODE_NET_HELLO_SIZE - 1, &err), SBX_ETRUNCATED);
    assert_int_equal(node_net_hello_decode(&h, in, NODE_NET_HELLO_SIZE + 1, &err), SBX_ETRAILING);
    in[0] = NODE_NET_HELLO_VERSION + 1;
    assert_int_equal(node_net_hello_decode(&h, in, NODE_NET_HELLO_SIZE, &err), SBX_EVERSION);

    buf_store_u64(in, UINT64_MAX);
    assert_int_equal(node_net_getblocks_decode(&from, in, 8, &err), SBX_OK);
    assert_true(from == UINT64_MAX);
    assert_int_equal(node_net_getblocks_decode(&from, in, 7, &err), SBX_ETRUNCATED);
    assert_int_equal(node_net_getblocks_decode(&from, in, 9, &err), SBX_ETRAILING);
}
