/* Blocks: header, verdicts, merkle roots, canonical encoding and the producer's signature.
 *
 * Header encoding (big-endian):
 *   u32 version | u64 height | 32 prev_hash | i64 time_ms | 32 tx_root | 32 verdict_root |
 *   32 state_digest | 32 producer | u32 ntx          -> block hash = tagged("sbx/block", these)
 *   | 64 signature of the block hash by `producer`
 * Block encoding: header, then ntx x (u32 tx_len | tx bytes | verdict), nothing after.
 * Verdict encoding (LEDGER_VERDICT_SIZE bytes):
 *   u8 status | u16 rule | i64 limit | i64 used | i64 requested | u32 param_version
 *
 * Merkle trees (txids, and hashes of verdict encodings) hash leaves with tag "sbx/leaf" and inner
 * nodes with tag "sbx/node"; an odd node at the end of a level is promoted unchanged (no
 * duplication, so no two lists share a root). The root of an empty list is 32 zero bytes.
 */
#ifndef SBX_LEDGER_BLOCK_H
#define SBX_LEDGER_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/keys.h"
#include "util/buf.h"
#include "util/err.h"

#define LEDGER_BLOCK_VERSION 1
#define LEDGER_BLOCK_MAX_TXS 100000
#define LEDGER_BLOCK_MAX_SIZE (64u * 1024 * 1024)
#define LEDGER_HEADER_UNSIGNED_SIZE (4 + 8 + 32 + 8 + 32 + 32 + 32 + 32 + 4)
#define LEDGER_HEADER_SIZE (LEDGER_HEADER_UNSIGNED_SIZE + 64)
#define LEDGER_VERDICT_SIZE (1 + 2 + 8 + 8 + 8 + 4)

enum ledger_verdict_status {
    LEDGER_VERDICT_ACCEPTED = 1,
    LEDGER_VERDICT_REJECTED = 2,
};

/* The verdict on one transaction. `rule` is a compliance rule number (0 when accepted); the
 * figures are 0 where they do not apply; `param_version` is the licence parameter version the
 * rules used. */
struct ledger_verdict {
    uint8_t status;
    uint16_t rule;
    int64_t limit;
    int64_t used;
    int64_t requested;
    uint32_t param_version;
};

struct ledger_block_header {
    uint32_t version;
    uint64_t height;
    uint8_t prev_hash[32];
    int64_t time_ms;
    uint8_t tx_root[32];
    uint8_t verdict_root[32];
    uint8_t state_digest[32];
    uint8_t producer[32];
    uint32_t ntx;
    uint8_t sig[64];
};

struct ledger_block_entry {
    const uint8_t *tx; /* encoded transaction (points into the block's bytes when decoded) */
    uint32_t tx_len;
    struct ledger_verdict verdict;
};

struct ledger_block {
    struct ledger_block_header hdr;
    size_t ntx;
    struct ledger_block_entry *entries; /* ntx entries, owned */
};

/* Verdict encoding and its leaf hash. */
void ledger_verdict_encode(const struct ledger_verdict *v, uint8_t out[static LEDGER_VERDICT_SIZE]);
int ledger_verdict_decode(struct ledger_verdict *v, const uint8_t in[static LEDGER_VERDICT_SIZE],
                          struct sbx_err *err) SBX_WARN_UNUSED;
void ledger_verdict_hash(const struct ledger_verdict *v, uint8_t out[static 32]);

/* Merkle root over n 32-byte leaves (see above). */
void ledger_merkle_root(const uint8_t (*leaves)[32], size_t n, uint8_t out[static 32]);

/* Inclusion paths in that same tree. A path lists, from the leaf up, the sibling of each level
 * at which the node on the way up has one (a node promoted unchanged has none), so its length
 * and the side of each sibling follow from (index, n) alone: at level k the node is number
 * index >> k of ceil(n / 2^k); an odd number has its sibling on the left, an even one on the
 * right if there is one. */
#define LEDGER_MERKLE_PATH_MAX 64

/* The path of leaf `index` of the n leaves into out[0..*npath) (room for
 * LEDGER_MERKLE_PATH_MAX). SBX_EINVAL if index >= n. Costs about n hashes, allocates nothing. */
int ledger_merkle_path(const uint8_t (*leaves)[32], size_t n, size_t index, uint8_t (*out)[32],
                       size_t *npath) SBX_WARN_UNUSED;
/* 1 if `path` (npath siblings) leads from `leaf`, at `index` of n leaves, to `root`; 0 if it does
 * not, or if index >= n or npath is not the length (index, n) call for. The count n must come
 * from something the verifier trusts (a block header's ntx): a path of one tree can fit another
 * tree of a nearby size. */
int ledger_merkle_path_verify(const uint8_t leaf[static 32], size_t index, size_t n,
                              const uint8_t (*path)[32], size_t npath,
                              const uint8_t root[static 32]) SBX_WARN_UNUSED;

/* Header: unsigned bytes into out[LEDGER_HEADER_UNSIGNED_SIZE], hash, sign, verify. */
void ledger_block_header_encode_unsigned(const struct ledger_block_header *h,
                                         uint8_t out[static LEDGER_HEADER_UNSIGNED_SIZE]);
void ledger_block_hash(const struct ledger_block_header *h, uint8_t out[static 32]);
int ledger_block_sign(struct ledger_block_header *h, const struct ledger_key *k) SBX_WARN_UNUSED;
int ledger_block_verify_sig(const struct ledger_block_header *h,
                            struct sbx_err *err) SBX_WARN_UNUSED;
int ledger_block_header_decode(struct ledger_block_header *h, const uint8_t *in, size_t len,
                               struct sbx_err *err) SBX_WARN_UNUSED;

/* Whole block. Encoding checks hdr.ntx == b->ntx. Decoding allocates b->entries, whose tx
 * pointers point into `in` (keep `in` alive while using them); release with
 * ledger_block_release. Decoding checks structure only (not the roots; see ledger_block_check). */
int ledger_block_encode(const struct ledger_block *b, struct buf *out,
                        struct sbx_err *err) SBX_WARN_UNUSED;
int ledger_block_decode(struct ledger_block *b, const uint8_t *in, size_t len,
                        struct sbx_err *err) SBX_WARN_UNUSED;
void ledger_block_release(struct ledger_block *b);

/* Compute tx_root and verdict_root of the entries (txids into `txids` if not NULL, which has
 * room for b->ntx ids). SBX_EINVAL/decoding codes if an entry is not a decodable transaction. */
int ledger_block_roots(const struct ledger_block *b, uint8_t tx_root[static 32],
                       uint8_t verdict_root[static 32], uint8_t (*txids)[32],
                       struct sbx_err *err) SBX_WARN_UNUSED;
/* Stateless checks of a decoded block: version, entry count, roots match the header, the
 * producer's signature. Signatures of the transactions are not checked here. */
int ledger_block_check(const struct ledger_block *b, struct sbx_err *err) SBX_WARN_UNUSED;

#endif
