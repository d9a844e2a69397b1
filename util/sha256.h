/* SHA-256 through OpenSSL's EVP interface, and BIP340-style tagged hashes.
 *
 * The EVP_MD is fetched once per process and each thread keeps one EVP_MD_CTX that it reuses,
 * so hashing on the hot path allocates nothing. A tagged hash is
 * SHA256(SHA256(tag) || SHA256(tag) || msg); `struct sha256_tag` keeps the state after the
 * 64-byte prefix so each use starts from there (a context copy instead of two extra blocks).
 */
#ifndef SBX_UTIL_SHA256_H
#define SBX_UTIL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define SHA256_LEN 32

/* A streaming hash. */
struct sha256_ctx {
    void *evp; /* EVP_MD_CTX */
};

/* Prepare the process-wide state. Safe to call many times and from many threads; the other
 * functions call it themselves. Returns SBX_OK or SBX_EINTERNAL if OpenSSL has no SHA-256. */
int sha256_global_init(void) SBX_WARN_UNUSED;

/* One-shot SHA-256 using this thread's reusable context. */
void sha256(uint8_t out[static 32], const void *data, size_t len);
/* SHA-256 of the concatenation of two byte ranges. */
void sha256_2(uint8_t out[static 32], const void *a, size_t alen, const void *b, size_t blen);

/* Streaming; the ctx owns an EVP context until sha256_ctx_release. */
int sha256_ctx_init(struct sha256_ctx *c) SBX_WARN_UNUSED;
void sha256_ctx_update(struct sha256_ctx *c, const void *data, size_t len);
/* Write the digest and reset the context for the next message. */
void sha256_ctx_final(struct sha256_ctx *c, uint8_t out[static 32]);
void sha256_ctx_release(struct sha256_ctx *c);

/* A precomputed tag ("sbx/tx", "sbx/block", ...). */
struct sha256_tag {
    void *mid; /* EVP_MD_CTX after SHA256(tag)||SHA256(tag) */
};

/* Process-wide tags used by the ledger; valid after sha256_global_init(). */
extern struct sha256_tag SHA256_TAG_TX;     /* "sbx/tx": transaction id */
extern struct sha256_tag SHA256_TAG_BLOCK;  /* "sbx/block": block hash */
extern struct sha256_tag SHA256_TAG_LEAF;   /* "sbx/leaf": merkle leaf */
extern struct sha256_tag SHA256_TAG_NODE;   /* "sbx/node": merkle inner node */
extern struct sha256_tag SHA256_TAG_STATE;  /* "sbx/state": state digest chain */
extern struct sha256_tag SHA256_TAG_ATTEST; /* "sbx/attest": attestation message */
extern struct sha256_tag SHA256_TAG_PEER;   /* "sbx/peer": peer handshake proof */
/* The liabilities sum tree (ledger/liabilities.h): the seed's commitment, a leaf's salt, a leaf,
 * an inner node. */
extern struct sha256_tag SHA256_TAG_LIAB_SEED; /* "sbx/liab/seed" */
extern struct sha256_tag SHA256_TAG_LIAB_SALT; /* "sbx/liab/salt" */
extern struct sha256_tag SHA256_TAG_LIAB_LEAF; /* "sbx/liab/leaf" */
extern struct sha256_tag SHA256_TAG_LIAB_NODE; /* "sbx/liab/node" */

/* Build a tag; the caller releases it. SBX_ENOMEM/SBX_EINTERNAL on failure. */
int sha256_tag_init(struct sha256_tag *t, const char *tag) SBX_WARN_UNUSED;
void sha256_tag_release(struct sha256_tag *t);

/* out = SHA256(SHA256(tag) || SHA256(tag) || msg). */
void sha256_tagged(const struct sha256_tag *t, uint8_t out[static 32], const void *msg, size_t len);
/* Start a streaming tagged hash in `c` (an initialised sha256_ctx). */
void sha256_tagged_begin(const struct sha256_tag *t, struct sha256_ctx *c);

/* Reference implementation that recomputes the tag prefix each time (for tests). */
void sha256_tagged_slow(uint8_t out[static 32], const char *tag, const void *msg, size_t len);

#endif
