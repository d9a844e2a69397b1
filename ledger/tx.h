/* Ledger transactions: types, canonical binary encoding, ids and signatures.
 *
 * Encoding (all integers big-endian, no padding, no optional bytes):
 *
 *   u8  version (LEDGER_TX_VERSION)
 *   u8  type (enum ledger_tx_type)
 *   u8  auth (enum ledger_tx_auth): how the transaction is authenticated
 *   32  signer: x-only secp256k1 public key
 *   i64 timestamp, ms since the Unix epoch (UTC)
 *   ... body, by type (see tx_encode.c for each field's order)
 *   --- end of the "unsigned encoding": txid = tagged_hash("sbx/tx", unsigned encoding)
 *   AUTH_SIG only: 64  BIP340 signature of txid by `signer`
 *   directive only: u8 n, then n x (32 cosigner key, 64 signature of txid)
 *   liabilities only: 32 seed (its commitment is in the body)
 *
 * A block-authenticated transaction (LEDGER_TX_AUTH_BLOCK) carries no signature: the signature
 * of the block that holds it (whose header commits to every txid) authenticates it, so it is
 * valid only in a block whose producer is its signer (ledger_tx_verify_in_block). Only the
 * business types the operator builds itself may be block-authenticated; genesis, directives and
 * attestations are always signed.
 *
 * Strings are a u8 (u16 for free text) length then the bytes, with a named maximum. Identifier
 * strings hold printable ASCII without spaces (0x21..0x7e); free text holds no control bytes.
 * Decoding refuses anything over-long, truncated, with trailing bytes, with an unknown version,
 * type or enumeration value, with fields set that the type does not use, or with amounts out
 * of range. Each refusal has its own return code (util/err.h) and a message naming the field.
 */
#ifndef SBX_LEDGER_TX_H
#define SBX_LEDGER_TX_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/keys.h"
#include "util/buf.h"
#include "util/err.h"

#define LEDGER_TX_VERSION 2

/* Named maximum lengths (bytes, excluding the NUL the structs keep). */
#define SBX_ID_MAX 64             /* account, trade, transfer and order ids */
#define SBX_ASSET_MAX 12          /* asset symbol, e.g. "BTC", "VND" */
#define SBX_REF_MAX 128           /* external reference: bank ref, chain txid, address */
#define SBX_ADDRESS_MAX 128       /* crypto address in sanctions directives */
#define SBX_PROVIDER_MAX 32       /* screening provider name */
#define SBX_CATEGORIES_MAX 128    /* screening categories, comma-separated */
#define SBX_VASP_MAX 64           /* counterparty VASP id */
#define SBX_PARAM_NAME_MAX 64     /* licence parameter name */
#define SBX_TEXT_MAX 512          /* reason and legal basis of a directive */
#define SBX_NETWORK_MAX 32        /* network name in genesis */
#define SBX_MAX_COSIGS 15         /* extra regulator signatures on a directive */
#define SBX_MAX_REGULATORS 16     /* regulator keys in genesis */
#define SBX_MAX_ASSETS 16         /* assets in genesis, VND included */
#define SBX_LICENCE_DOC_MAX 65536 /* licence JSON document in genesis */
#define SBX_TX_MAX_SIZE (SBX_LICENCE_DOC_MAX + 4096) /* largest encoded transaction */
#define SBX_ASSET_DECIMALS_MAX 8
#define SBX_AMOUNT_MAX INT64_MAX
/* Every time a transaction or a block carries (ms since the Unix epoch) lies in
 * [0, LEDGER_TIME_END): 2200-01-01T00:00:00Z is the first millisecond decoding refuses, so that
 * no sum of a time and a parameter (at most about 10^13 ms) can overflow an int64. */
#define LEDGER_TIME_END INT64_C(7258118400000)

/* The enumerations and their names (JSON, logs): X(enum, number, "name"). Each table gives the
 * enum and, in tx.c, a ledger_<what>_name() / ledger_<what>_parse() pair. */
#define LEDGER_TX_TYPES(X)                                                                         \
    X(LEDGER_TX_GENESIS, 0, "genesis") /* network definition; only in block 0 */                   \
    X(LEDGER_TX_ACCOUNT_OPEN, 1, "account_open")                                                   \
    X(LEDGER_TX_ACCOUNT_UPDATE, 2, "account_update")                                               \
    X(LEDGER_TX_DEPOSIT, 3, "deposit")                                                             \
    X(LEDGER_TX_WITHDRAWAL, 4, "withdrawal")                                                       \
    X(LEDGER_TX_TRADE, 5, "trade")                                                                 \
    X(LEDGER_TX_DIRECTIVE, 6, "directive")                                                         \
    X(LEDGER_TX_ATTESTATION, 7, "attestation")                                                     \
    X(LEDGER_TX_LIABILITIES, 8, "liabilities") /* the operator's proof of liabilities */
#define LEDGER_TX_TYPE_MAX LEDGER_TX_LIABILITIES

/* How a transaction is authenticated (the auth byte). */
#define LEDGER_TX_AUTHS(X)                                                                         \
    X(LEDGER_TX_AUTH_SIG, 0, "signature") /* a BIP340 signature follows the unsigned part */       \
    X(LEDGER_TX_AUTH_BLOCK, 1, "block")   /* no signature: its signer's block authenticates it */
#define LEDGER_TX_AUTH_MAX LEDGER_TX_AUTH_BLOCK

#define LEDGER_INVESTOR_CLASSES(X)                                                                 \
    X(LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1, "domestic_individual")                                  \
    X(LEDGER_CLASS_DOMESTIC_ORG, 2, "domestic_org")                                                \
    X(LEDGER_CLASS_FOREIGN_INDIVIDUAL, 3, "foreign_individual")                                    \
    X(LEDGER_CLASS_FOREIGN_ORG, 4, "foreign_org")

#define LEDGER_ACCOUNT_STATUSES(X)                                                                 \
    X(LEDGER_ACCOUNT_ACTIVE, 1, "active")                                                          \
    X(LEDGER_ACCOUNT_CLOSED, 2, "closed")

#define LEDGER_TRAVEL_PROTOCOLS(X)                                                                 \
    X(LEDGER_TRAVEL_TRISA, 1, "trisa")                                                             \
    X(LEDGER_TRAVEL_TRP, 2, "trp")                                                                 \
    X(LEDGER_TRAVEL_OTHER, 3, "other")

#define LEDGER_TRAVEL_STATUSES(X)                                                                  \
    X(LEDGER_TRAVEL_ACCEPTED, 1, "accepted")                                                       \
    X(LEDGER_TRAVEL_PENDING, 2, "pending")                                                         \
    X(LEDGER_TRAVEL_REJECTED, 3, "rejected")

#define LEDGER_DIRECTIVE_KINDS(X)                                                                  \
    X(LEDGER_DIR_HALT, 1, "halt")           /* asset: one asset, or empty for the whole market */  \
    X(LEDGER_DIR_RESUME, 2, "resume")       /* asset as for halt */                                \
    X(LEDGER_DIR_FREEZE, 3, "freeze")       /* account */                                          \
    X(LEDGER_DIR_UNFREEZE, 4, "unfreeze")   /* account */                                          \
    X(LEDGER_DIR_SET_PARAM, 5, "set_param") /* name, value */                                      \
    X(LEDGER_DIR_LICENCE_EXTEND, 6, "licence_extend") /* value = new valid_to (ms) */              \
    X(LEDGER_DIR_LICENCE_SUSPEND, 7, "licence_suspend")                                            \
    X(LEDGER_DIR_LICENCE_WIND_DOWN, 8, "licence_wind_down")                                        \
    X(LEDGER_DIR_LICENCE_REVOKE, 9, "licence_revoke")                                              \
    X(LEDGER_DIR_LICENCE_REINSTATE, 10, "licence_reinstate")       /* suspended -> active */       \
    X(LEDGER_DIR_SANCTION_ADD, 11, "sanction_add")                 /* account or address */        \
    X(LEDGER_DIR_SANCTION_REMOVE, 12, "sanction_remove")           /* account or address */        \
    X(LEDGER_DIR_LIABILITIES_SNAPSHOT, 13, "liabilities_snapshot") /* no target */                 \
    X(LEDGER_DIR_RESERVES_ATTEST, 14, "reserves_attest") /* asset, value, address = reference */
#define LEDGER_DIR_KIND_MAX LEDGER_DIR_RESERVES_ATTEST

#define LEDGER_ENUM_VALUE(e, n, s) e = n,
enum ledger_tx_type { LEDGER_TX_TYPES(LEDGER_ENUM_VALUE) };
enum ledger_tx_auth { LEDGER_TX_AUTHS(LEDGER_ENUM_VALUE) };
enum ledger_investor_class { LEDGER_INVESTOR_CLASSES(LEDGER_ENUM_VALUE) };
enum ledger_account_status { LEDGER_ACCOUNT_STATUSES(LEDGER_ENUM_VALUE) };
enum ledger_travel_protocol { LEDGER_TRAVEL_PROTOCOLS(LEDGER_ENUM_VALUE) };
enum ledger_travel_status { LEDGER_TRAVEL_STATUSES(LEDGER_ENUM_VALUE) };
enum ledger_directive_kind { LEDGER_DIRECTIVE_KINDS(LEDGER_ENUM_VALUE) };
#undef LEDGER_ENUM_VALUE

struct ledger_account_open {
    char account[SBX_ID_MAX + 1];
    uint8_t kyc_tier;       /* 1..3 */
    uint8_t investor_class; /* enum ledger_investor_class */
    char country[3];        /* ISO 3166 alpha-2, uppercase */
    uint8_t kyc_ref[32];    /* hash of the KYC record kept off the ledger */
    uint8_t bank_ref[32];   /* hash of the bank account reference */
};

struct ledger_account_update {
    char account[SBX_ID_MAX + 1];
    uint8_t kyc_tier; /* 0 = unchanged, else 1..3 */
    uint8_t status;   /* 0 = unchanged, else enum ledger_account_status */
};

struct ledger_travel_rule {
    uint8_t protocol; /* enum ledger_travel_protocol */
    char vasp[SBX_VASP_MAX + 1];
    uint8_t originator_hash[32];
    uint8_t beneficiary_hash[32];
    uint8_t status; /* enum ledger_travel_status */
};

struct ledger_screening {
    char provider[SBX_PROVIDER_MAX + 1];
    uint8_t score; /* 0..100 */
    char categories[SBX_CATEGORIES_MAX + 1];
};

/* deposit and withdrawal */
struct ledger_transfer {
    char transfer_id[SBX_ID_MAX + 1];
    char account[SBX_ID_MAX + 1];
    char asset[SBX_ASSET_MAX + 1]; /* "VND" for fiat */
    int64_t amount;                /* > 0, asset base units */
    char reference[SBX_REF_MAX + 1];
    uint8_t has_travel_rule;
    struct ledger_travel_rule travel_rule;
    uint8_t has_screening;
    struct ledger_screening screening;
};

struct ledger_trade {
    char trade_id[SBX_ID_MAX + 1];
    char buyer[SBX_ID_MAX + 1];
    char seller[SBX_ID_MAX + 1];
    char asset[SBX_ASSET_MAX + 1];
    int64_t quantity;                  /* > 0, asset base units */
    int64_t price;                     /* > 0, VND per whole unit */
    int64_t fee_buyer;                 /* >= 0, VND */
    int64_t fee_seller;                /* >= 0, VND */
    int64_t executed_at;               /* ms */
    char buyer_order[SBX_ID_MAX + 1];  /* may be empty */
    char seller_order[SBX_ID_MAX + 1]; /* may be empty */
};

struct ledger_cosig {
    uint8_t pubkey[32];
    uint8_t sig[64]; /* AUTH_SIG only; all zero on AUTH_BLOCK */
};

struct ledger_directive {
    uint8_t kind; /* enum ledger_directive_kind */
    char asset[SBX_ASSET_MAX + 1];
    char account[SBX_ID_MAX + 1];
    char address[SBX_ADDRESS_MAX + 1];
    char name[SBX_PARAM_NAME_MAX + 1];
    int64_t value; /* set_param value, or licence_extend's new valid_to */
    char reason[SBX_TEXT_MAX + 1];
    char legal_basis[SBX_TEXT_MAX + 1];
    uint8_t ncosig;
    struct ledger_cosig cosig[SBX_MAX_COSIGS];
};

struct ledger_attestation {
    uint64_t height;
    uint8_t block_hash[32];
};

/* One asset's line of a liabilities record: the root of the sum tree of every client's balance
 * of that asset and its sum (ledger/liabilities.h). */
struct ledger_liability {
    char asset[SBX_ASSET_MAX + 1];
    int64_t total; /* >= 0, base units: the root's sum */
    uint8_t root[32];
};

/* The operator's record of what it owes its clients, as of the end of block reflects_height
 * (the block before the one holding it: a liabilities transaction is the first of its block).
 * The seed salts every leaf (ledger_liabilities_salt); one line per asset, in genesis order.
 * The txid covers the seed's commitment, not the seed, which follows the signature: nodes get
 * it with the block, a client's proof carries the transaction with the seed zeroed, so that a
 * client cannot test guessed account ids against the leaves it sees. */
struct ledger_liabilities {
    uint64_t reflects_height;
    uint8_t seed_commit[32]; /* ledger_liabilities_seed_commit(seed) */
    uint8_t nassets;
    struct ledger_liability assets[SBX_MAX_ASSETS];
    uint8_t seed[32]; /* after the signature, outside the txid */
};

struct ledger_asset_def {
    char symbol[SBX_ASSET_MAX + 1];
    uint8_t decimals; /* 0..8; VND has 0 */
};

struct ledger_genesis {
    char network[SBX_NETWORK_MAX + 1];
    uint8_t operator_key[32];
    uint8_t nregulators;
    uint8_t regulator_keys[SBX_MAX_REGULATORS][32];
    uint8_t directive_quorum;   /* 1..nregulators */
    uint8_t attestation_quorum; /* 1..nregulators */
    uint8_t nassets;            /* assets[0] is VND with 0 decimals */
    struct ledger_asset_def assets[SBX_MAX_ASSETS];
    uint32_t licence_len;
    char *licence_json; /* canonical JSON licence document; owned by the tx (see release) */
};

struct ledger_tx {
    uint8_t version;
    uint8_t type;
    uint8_t auth; /* enum ledger_tx_auth */
    uint8_t signer[32];
    int64_t timestamp;
    union {
        struct ledger_genesis genesis;
        struct ledger_account_open account_open;
        struct ledger_account_update account_update;
        struct ledger_transfer transfer; /* deposit, withdrawal */
        struct ledger_trade trade;
        struct ledger_directive directive;
        struct ledger_attestation attestation;
        struct ledger_liabilities liabilities;
    } u;
    uint8_t sig[64]; /* AUTH_SIG only; all zero on AUTH_BLOCK */
};

/* 1 if `ms` is a time a transaction or a block may carry: in [0, LEDGER_TIME_END). */
static inline int
ledger_time_valid(int64_t ms)
{
    return ms >= 0 && ms < LEDGER_TIME_END;
}

/* 1 if `type` is a business type (account_open, account_update, deposit, withdrawal, trade):
 * what the licence gates and what may be block-authenticated. */
int ledger_tx_is_business(int type);

/* Zero `tx` and set version and type (auth = LEDGER_TX_AUTH_SIG). */
void ledger_tx_init(struct ledger_tx *tx, enum ledger_tx_type type);
/* Free what a decoded genesis owns; a no-op for the other types. */
void ledger_tx_release(struct ledger_tx *tx);

/* The stateless checks that decoding applies (ranges, string charsets, fields the type does
 * not use left empty). Encoding calls it too, so nothing invalid is ever encoded. (tx_check.c) */
int ledger_tx_check(const struct ledger_tx *tx, struct sbx_err *err) SBX_WARN_UNUSED;
/* The same checks but for the curve check of the signer's key (a square root, about 5 us): what
 * encoding applies, whose signer comes from our own key pair or from a decoder that checked it.
 * An invalid key could not produce a verifying signature anyway. */
int ledger_tx_check_for_encoding(const struct ledger_tx *tx, struct sbx_err *err) SBX_WARN_UNUSED;
/* The header's part of those checks: version (1 is refused with its own message), type, the
 * auth value, and block authentication only on a business type. The decoder applies it as soon
 * as it has read the header, so that it knows whether a signature follows. */
int ledger_tx_check_header(const struct ledger_tx *tx, struct sbx_err *err) SBX_WARN_UNUSED;
/* Identifier check: 1..max bytes of printable ASCII without spaces. */
int ledger_id_valid(const char *s, size_t max);
/* Asset symbol check: 1..SBX_ASSET_MAX characters A-Z and 0-9. */
int ledger_symbol_valid(const char *s);

/* Append the unsigned encoding (what the txid covers) to `out`. (tx_encode.c) */
int ledger_tx_encode_unsigned(const struct ledger_tx *tx, struct buf *out,
                              struct sbx_err *err) SBX_WARN_UNUSED;
/* Append the full encoding (unsigned part, signature, cosignatures). */
int ledger_tx_encode(const struct ledger_tx *tx, struct buf *out,
                     struct sbx_err *err) SBX_WARN_UNUSED;
/* Decode exactly `len` bytes. On success `*unsigned_len` (may be NULL) gets the length of the
 * unsigned part, so txid = tagged hash of in[0..unsigned_len). Signatures are NOT verified
 * here (see ledger_tx_verify). The caller releases `tx`. */
int ledger_tx_decode(struct ledger_tx *tx, const uint8_t *in, size_t len, size_t *unsigned_len,
                     struct sbx_err *err) SBX_WARN_UNUSED;

/* txid of a transaction (encodes it). */
int ledger_tx_id(const struct ledger_tx *tx, uint8_t txid[static 32],
                 struct sbx_err *err) SBX_WARN_UNUSED;
/* txid from an encoded transaction's unsigned part. */
void ledger_tx_id_raw(uint8_t txid[static 32], const uint8_t *unsigned_enc, size_t len);

/* Signatures (tx_sign.c). Set tx->auth to LEDGER_TX_AUTH_SIG and tx->signer to k's public key,
 * compute the txid (into `txid`, may be NULL) and sign. */
int ledger_tx_sign(struct ledger_tx *tx, const struct ledger_key *k, uint8_t *txid,
                   struct sbx_err *err) SBX_WARN_UNUSED;
/* Add k's cosignature to a directive (k must differ from the signer and earlier cosigners). */
int ledger_tx_cosign(struct ledger_tx *tx, const struct ledger_key *k,
                     struct sbx_err *err) SBX_WARN_UNUSED;
/* Make `tx` block-authenticated by `signer` (the producer of the block it will go in): set auth,
 * signer and a zero signature, append its encoding to `out` and put its txid in `txid`. Nothing
 * is signed (no key needed); the encoding is the unsigned part, so it is hashed once. On
 * failure `out` is left as the caller gave it. */
int ledger_tx_seal_for_block(struct ledger_tx *tx, const uint8_t signer[static 32], struct buf *out,
                             uint8_t txid[static 32], struct sbx_err *err) SBX_WARN_UNUSED;
/* Check the signer's signature and every cosignature over `txid`, outside any block. Cosigners
 * must be distinct from each other and from the signer (SBX_ENONCANON otherwise). A
 * block-authenticated transaction is refused (SBX_EBADSIG: it has no signature to check). */
int ledger_tx_verify(const struct ledger_tx *tx, const uint8_t txid[static 32],
                     struct sbx_err *err) SBX_WARN_UNUSED;
/* Check `tx` as part of a block produced by `producer` (whose header signature the caller
 * checks): a block-authenticated transaction needs signer == producer (SBX_EBADSIG otherwise);
 * a signed one is checked as by ledger_tx_verify. */
int ledger_tx_verify_in_block(const struct ledger_tx *tx, const uint8_t txid[static 32],
                              const uint8_t producer[static 32],
                              struct sbx_err *err) SBX_WARN_UNUSED;
/* One encoded transaction of a block produced by `producer`: it decodes (exactly `len` bytes),
 * its txid goes into `txid`, its type into `*type` (may be NULL), and it is authenticated in
 * that block (ledger_tx_verify_in_block). The decoder's or the check's code and message. */
int ledger_tx_check_in_block(const uint8_t *raw, size_t len, const uint8_t producer[static 32],
                             uint8_t txid[static 32], int *type,
                             struct sbx_err *err) SBX_WARN_UNUSED;

/* Names for JSON and logs ("trade", "deposit", ...; NULL if unknown) and the reverse (-1 if
 * unknown), one pair per table above. */
const char *ledger_tx_type_name(int type);
int ledger_tx_type_parse(const char *s);
const char *ledger_tx_auth_name(int auth); /* "signature", "block" */
int ledger_tx_auth_parse(const char *s);
const char *ledger_investor_class_name(int cls);
int ledger_investor_class_parse(const char *s);
const char *ledger_account_status_name(int s);
int ledger_account_status_parse(const char *s);
const char *ledger_travel_protocol_name(int p);
int ledger_travel_protocol_parse(const char *s);
const char *ledger_travel_status_name(int s);
int ledger_travel_status_parse(const char *s);
const char *ledger_directive_kind_name(int kind);
int ledger_directive_kind_parse(const char *s);

#endif
