/* fuzz_seeds: seed inputs for the fuzz targets, made from real encodings (see README.md).
 *
 *   fuzz_seeds DATADIR OUTDIR
 *
 * reads the store of a devnet datadir (DATADIR/ledger, made by sbx-gen-chain or by sbxd
 * -devnet) and writes into OUTDIR/<target>/: every block and, per transaction type, the first
 * transactions of that type (fuzz_block, fuzz_tx); the genesis block, its transaction and its
 * licence document with their selector byte (fuzz_genesis); peer streams of an AUTH frame and
 * the messages a node sends (HELLO, GETBLOCKS, BLOCK, TX, ATTEST) (fuzz_peer); the state and
 * checkpoint records, a few of each kind one by one and all of them together, in fuzz_state's
 * record format (fuzz_state); the gettxproof result of a transaction of block 1, alone and with
 * the genesis block as hex (fuzz_proof: for that it opens DATADIR as a devnet node). It is a tool
 * of the test tree, not of the node: it exits on the first failure. */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>

#include "ledger/block.h"
#include "ledger/store.h"
#include "ledger/tx.h"
#include "node/net.h"
#include "node/p2p.h"
#include "rpc/auth.h"
#include "rpc/methods.h"
#include "rpc/outcome.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/buf.h"

#define PER_KIND 4   /* records of one kind (state) or transactions of one type (tx), one by one */
#define ALL_MAX 64   /* records in the seed that holds them together (fuzz_state's cap) */
#define BLOCKS_MAX 8 /* blocks written as seeds */

static const char *outdir;

/* Write one seed OUTDIR/target/name: `pre` bytes first (may be 0), then `len` bytes. */
static void
seed(const char *target, const char *name, const uint8_t *pre, size_t plen, const uint8_t *p,
     size_t len)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", outdir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        errx(1, "mkdir %s: %s", path, strerror(errno));
    snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(pre, 1, plen, f) != plen || fwrite(p, 1, len, f) != len ||
        fclose(f) != 0)
        errx(1, "cannot write %s", path);
}

static void
frame(struct buf *b, uint8_t type, const uint8_t *payload, size_t len)
{
    uint8_t hdr[5];

    buf_store_u32(hdr, (uint32_t)(len + 1));
    hdr[4] = type;
    if (buf_put(b, hdr, sizeof(hdr)) != SBX_OK || buf_put(b, payload, len) != SBX_OK)
        errx(1, "out of memory");
}

/* A peer's stream: AUTH, HELLO at `height`, GETBLOCKS, then `type` with `payload`. */
static void
peer_seed(const char *name, uint64_t height, uint8_t type, const uint8_t *payload, size_t len)
{
    uint8_t auth[128] = {0}, hello[NODE_NET_HELLO_SIZE], gb[8];
    struct node_net_hello h = {1, 0, {0}};
    struct buf b;

    memset(auth + 32, 0x11, 32); /* a key and signature of the right sizes: not valid */
    h.height = height;
    node_net_hello_encode(hello, &h);
    buf_store_u64(gb, height + 1);
    buf_init(&b, (size_t)16 << 20);
    frame(&b, P2P_MSG_AUTH, auth, sizeof(auth));
    frame(&b, P2P_MSG_HELLO, hello, sizeof(hello));
    frame(&b, P2P_MSG_GETBLOCKS, gb, sizeof(gb));
    if (payload != NULL)
        frame(&b, type, payload, len);
    seed("fuzz_peer", name, NULL, 0, b.data, b.len);
    buf_release(&b);
}

static void
block_seeds(struct ledger_store *s, uint64_t tip)
{
    unsigned per_type[256] = {0};
    struct ledger_block b;
    struct buf raw;
    char name[64];

    buf_init(&raw, LEDGER_BLOCK_MAX_SIZE);
    for (uint64_t h = 0; h <= tip; h++) {
        if (ledger_store_get_block(s, h, &raw, NULL) != SBX_OK ||
            ledger_block_decode(&b, raw.data, raw.len, NULL) != SBX_OK)
            errx(1, "block %llu cannot be read", (unsigned long long)h);
        if (h == 0) {
            struct ledger_tx g;

            seed("fuzz_genesis", "block", (const uint8_t *)"\0", 1, raw.data, raw.len);
            seed("fuzz_genesis", "tx", (const uint8_t *)"\1", 1, b.entries[0].tx,
                 b.entries[0].tx_len);
            if (ledger_tx_decode(&g, b.entries[0].tx, b.entries[0].tx_len, NULL, NULL) != SBX_OK)
                errx(1, "the genesis transaction does not decode");
            seed("fuzz_genesis", "licence", (const uint8_t *)"\2", 1,
                 (const uint8_t *)g.u.genesis.licence_json, g.u.genesis.licence_len);
            ledger_tx_release(&g);
        }
        if (h < BLOCKS_MAX || h == tip) {
            snprintf(name, sizeof(name), "block-%llu", (unsigned long long)h);
            seed("fuzz_block", name, NULL, 0, raw.data, raw.len);
            peer_seed(name, h, P2P_MSG_BLOCK, raw.data, raw.len);
        }
        for (size_t i = 0; i < b.ntx; i++) {
            const struct ledger_block_entry *e = &b.entries[i];
            uint8_t type = e->tx_len > 1 ? e->tx[1] : 0; /* version, then type */

            if (per_type[type]++ >= PER_KIND)
                continue;
            snprintf(name, sizeof(name), "tx-%u-%u", type, per_type[type]);
            seed("fuzz_tx", name, NULL, 0, e->tx, e->tx_len);
            peer_seed(name, h, type == LEDGER_TX_ATTESTATION ? P2P_MSG_ATTEST : P2P_MSG_TX, e->tx,
                      e->tx_len);
        }
        ledger_block_release(&b);
    }
    buf_release(&raw);
}

/* fuzz_state's records: one seed per record (PER_KIND of each kind), and `all`. */
struct state_ctx {
    struct buf all;
    size_t nall;
    unsigned per_kind[256];
};

static void
record(struct buf *b, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    uint8_t kl = (uint8_t)klen, vl[2] = {(uint8_t)(vlen >> 8), (uint8_t)vlen};

    if (buf_put(b, &kl, 1) != SBX_OK || buf_put(b, key, klen) != SBX_OK ||
        buf_put(b, vl, 2) != SBX_OK || buf_put(b, val, vlen) != SBX_OK)
        errx(1, "out of memory");
}

static int
state_each(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct state_ctx *c = ctx;
    char name[64];
    struct buf one;

    if (klen > 255 || vlen > 65535 || c->per_kind[key[0]]++ >= PER_KIND)
        return 0;
    buf_init(&one, 1 << 17);
    record(&one, key, klen, val, vlen);
    snprintf(name, sizeof(name), "rec-%c-%u", key[0], c->per_kind[key[0]]);
    seed("fuzz_state", name, NULL, 0, one.data, one.len);
    buf_release(&one);
    if (key[0] != LEDGER_K_BLOCK && c->nall < ALL_MAX) {
        record(&c->all, key, klen, val, vlen);
        c->nall++;
    }
    return 0;
}

/* fuzz_proof: the gettxproof result of the first transaction of block 1 (or 0), as a node
 * answers it, alone and followed by a NUL and the genesis block in hex. */
static void
proof_seeds(const char *datadir, const uint8_t *block1, size_t len1, const uint8_t *genesis,
            size_t glen)
{
    struct event_base *base;
    struct node_config cfg;
    struct rpc_outcome out;
    struct ledger_block b;
    struct ledger_tx tx;
    struct rpc_env env;
    struct sbx_err err;
    struct node *n;
    uint8_t txid[32];
    char hex[65], *text, *ghex;
    size_t ulen, tlen;
    json_t *params;

    if (ledger_block_decode(&b, block1, len1, &err) != SBX_OK || b.ntx == 0 ||
        ledger_tx_decode(&tx, b.entries[0].tx, b.entries[0].tx_len, &ulen, &err) != SBX_OK)
        errx(1, "block 1: %s", err.msg);
    ledger_tx_id_raw(txid, b.entries[0].tx, ulen);
    ledger_tx_release(&tx);
    ledger_block_release(&b);
    hex_encode(hex, txid, 32);
    log_set_stderr(0);
    if (evthread_use_pthreads() != 0 || (base = event_base_new()) == NULL)
        errx(1, "libevent");
    node_config_defaults(&cfg);
    cfg.datadir = datadir;
    cfg.devnet = 1;
    if (node_open(&n, &cfg, base, &err) != SBX_OK)
        errx(1, "%s: %s", datadir, err.msg);
    memset(&env, 0, sizeof(env));
    env.node = n;
    env.role = RPC_ROLE_ADMIN;
    env.assets = node_genesis(n)->assets;
    env.nassets = node_genesis(n)->nassets;
    params = json_pack("{s:s}", "txid", hex);
    rpc_outcome_init(&out);
    rpc_methods_call(&env, "gettxproof", params, &out);
    if (out.kind != RPC_OUT_RESULT || (text = json_dumps(out.result, JSON_COMPACT)) == NULL)
        errx(1, "gettxproof %s: %s", hex, out.message);
    tlen = strlen(text);
    seed("fuzz_proof", "proof", NULL, 0, (const uint8_t *)text, tlen + 1); /* NUL: then genesis */
    ghex = malloc(2 * glen + 1);
    if (ghex == NULL)
        errx(1, "out of memory");
    hex_encode(ghex, genesis, glen);
    seed("fuzz_proof", "proof-genesis", (const uint8_t *)text, tlen + 1, (const uint8_t *)ghex,
         2 * glen);
    seed("fuzz_proof", "proof-alone", NULL, 0, (const uint8_t *)text, tlen);
    free(ghex);
    free(text);
    json_decref(params);
    rpc_outcome_release(&out);
    node_close(n);
    event_base_free(base);
}

int
main(int argc, char **argv)
{
    static const char kinds[] = "MIAUDPSLKTH";
    struct ledger_store *s;
    struct ledger_tip tip;
    struct state_ctx c;
    struct sbx_err err;
    struct buf g, b1;
    char dir[1024];

    if (argc != 3)
        errx(1, "usage: fuzz_seeds DATADIR OUTDIR");
    outdir = argv[2];
    if (mkdir(outdir, 0755) != 0 && errno != EEXIST)
        errx(1, "mkdir %s: %s", outdir, strerror(errno));
    snprintf(dir, sizeof(dir), "%s/ledger", argv[1]);
    if (ledger_store_open(&s, dir, 0, &err) != SBX_OK || ledger_store_tip(s, &tip, &err) != SBX_OK)
        errx(1, "%s: %s", dir, err.msg);
    block_seeds(s, tip.height);
    peer_seed("hello-only", tip.height, 0, NULL, 0);
    memset(&c, 0, sizeof(c));
    buf_init(&c.all, (size_t)16 << 20);
    for (const char *k = kinds; *k != '\0'; k++) {
        if (ledger_store_scan_kind(s, (uint8_t)*k, state_each, &c, &err) != SBX_OK)
            errx(1, "scan: %s", err.msg);
    }
    seed("fuzz_state", "all", NULL, 0, c.all.data, c.all.len);
    buf_release(&c.all);
    buf_init(&g, LEDGER_BLOCK_MAX_SIZE);
    buf_init(&b1, LEDGER_BLOCK_MAX_SIZE);
    if (ledger_store_get_block(s, 0, &g, &err) != SBX_OK ||
        ledger_store_get_block(s, tip.height > 0 ? 1 : 0, &b1, &err) != SBX_OK)
        errx(1, "blocks 0 and 1: %s", err.msg);
    ledger_store_close(s); /* the node opens it next */
    proof_seeds(argv[1], b1.data, b1.len, g.data, g.len);
    buf_release(&g);
    buf_release(&b1);
    return 0;
}
