/* libFuzzer target: what a peer sends, as the byte stream a link reads after TLS. The frame
 * reader (p2p_frame_decode, as node/p2p_peer.c calls it) splits the input into frames: first
 * the AUTH frame (its payload is split as node/p2p_tls.c does: network id, node key, signature;
 * the signature is checked over a fixed digest, so that any key and signature bytes reach the
 * key library, and the link counts as open afterwards whatever the outcome, so that the
 * fuzzer reaches the messages), then the messages, each to its decoder as node/net.c
 * dispatches them: HELLO and GETBLOCKS (decoded, then encoded again to the same bytes), BLOCK
 * (its header, as on_block reads it, and the whole block, as node_follow_block decodes it), TX
 * and ATTEST (the transaction decoder of node_submit_raw). An unknown type ends the link, as it
 * does in node/net.c. Each refusal must come with a message; what decodes re-encodes to the
 * bytes it came from. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/block.h"
#include "ledger/keys.h"
#include "ledger/tx.h"
#include "node/net.h"
#include "node/p2p.h"
#include "tests/fuzz/fuzz_common.h"
#include "util/buf.h"

#define AUTH_PAYLOAD 128 /* network id | node key | signature (node/p2p_internal.h) */

static void
auth(const uint8_t *p, size_t len)
{
    static const uint8_t digest[32] = {1};

    if (len != AUTH_PAYLOAD)
        abort(); /* the frame reader let through an AUTH frame of another size */
    (void)ledger_keys_verify(p + 32, digest, p + 64);
}

static void
hello(const uint8_t *p, size_t len)
{
    struct node_net_hello h;
    uint8_t out[NODE_NET_HELLO_SIZE];
    struct sbx_err err;

    sbx_err_clear(&err);
    if (fuzz_check_refusal(node_net_hello_decode(&h, p, len, &err), &err) != SBX_OK)
        return;
    node_net_hello_encode(out, &h);
    fuzz_check_same(out, sizeof(out), p, len);
}

static void
getblocks(const uint8_t *p, size_t len)
{
    struct sbx_err err;
    uint64_t from;
    uint8_t out[8];

    sbx_err_clear(&err);
    if (fuzz_check_refusal(node_net_getblocks_decode(&from, p, len, &err), &err) != SBX_OK)
        return;
    buf_store_u64(out, from);
    fuzz_check_same(out, sizeof(out), p, len);
}

static void
block(const uint8_t *p, size_t len)
{
    struct ledger_block_header h;
    struct ledger_block b;
    struct sbx_err err;
    struct buf out;

    sbx_err_clear(&err);
    if (len < LEDGER_HEADER_SIZE ||
        fuzz_check_refusal(ledger_block_header_decode(&h, p, LEDGER_HEADER_SIZE, &err), &err))
        return; /* on_block closes the link */
    sbx_err_clear(&err);
    if (fuzz_check_refusal(ledger_block_decode(&b, p, len, &err), &err) != SBX_OK)
        return;
    buf_init(&out, LEDGER_BLOCK_MAX_SIZE);
    if (ledger_block_encode(&b, &out, &err) != SBX_OK)
        abort();
    fuzz_check_same(out.data, out.len, p, len);
    buf_release(&out);
    ledger_block_release(&b);
}

static void
tx(const uint8_t *p, size_t len)
{
    struct ledger_tx t;
    struct sbx_err err;
    struct buf out;

    sbx_err_clear(&err);
    if (fuzz_check_refusal(ledger_tx_decode(&t, p, len, NULL, &err), &err) != SBX_OK)
        return;
    buf_init(&out, SBX_TX_MAX_SIZE);
    if (ledger_tx_encode(&t, &out, &err) != SBX_OK)
        abort();
    fuzz_check_same(out.data, out.len, p, len);
    buf_release(&out);
    ledger_tx_release(&t);
}

/* One message of an open link; 0 when it ends the link. */
static int
message(const struct p2p_frame *f)
{
    switch (f->type) {
    case P2P_MSG_HELLO:
        hello(f->payload, f->len);
        return 1;
    case P2P_MSG_GETBLOCKS:
        getblocks(f->payload, f->len);
        return 1;
    case P2P_MSG_BLOCK:
        block(f->payload, f->len);
        return 1;
    case P2P_MSG_TX:
    case P2P_MSG_ATTEST:
        tx(f->payload, f->len);
        return 1;
    default:
        return 0;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = fuzz_copy_input(data, size);
    size_t off = 0;
    int open = 0;

    if (copy == NULL)
        return 0;
    while (off < size) {
        struct p2p_frame f;
        struct sbx_err err;
        int rc;

        sbx_err_clear(&err);
        rc = p2p_frame_decode(&f, copy + off, size - off, P2P_DEFAULT_MAX_FRAME, open, &err);
        if (fuzz_check_refusal(rc, &err) == SBX_ETRUNCATED && f.size <= size - off)
            abort(); /* asked for bytes it has */
        if (rc != SBX_OK)
            break;
        if (f.size > size - off || f.payload + f.len != copy + off + f.size)
            abort(); /* a frame past the input, or a payload that is not the frame's rest */
        if (!open)
            auth(f.payload, f.len);
        else if (!message(&f))
            break;
        open = 1;
        off += f.size;
    }
    free(copy);
    return 0;
}
