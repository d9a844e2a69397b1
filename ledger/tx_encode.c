/* Transactions: the canonical encoding and its decoder; see tx.h.
 *
 * The encoding is the struct written out field by field in declaration order, so there is
 * exactly one encoding for each valid transaction and decode(encode(tx)) == tx byte for byte.
 * Body layouts (strings: u8 length then bytes, u16 for reason and legal basis, u32 for the
 * licence document; optional parts: u8 flag 0/1 then the fields when 1):
 *
 *   genesis         str network | 32 operator_key | u8 n | n x 32 regulator key |
 *                   u8 directive_quorum | u8 attestation_quorum | u8 m | m x (str symbol |
 *                   u8 decimals) | u32 licence_len | licence bytes
 *   account_open    str account | u8 kyc_tier | u8 investor_class | str country | 32 kyc_ref |
 *                   32 bank_ref
 *   account_update  str account | u8 kyc_tier | u8 status
 *   deposit,        str transfer_id | str account | str asset | i64 amount | str reference |
 *   withdrawal      u8 has_travel_rule [u8 protocol | str vasp | 32 originator_hash |
 *                   32 beneficiary_hash | u8 status] | u8 has_screening [str provider |
 *                   u8 score | str categories]
 *   trade           str trade_id | str buyer | str seller | str asset | i64 quantity |
 *                   i64 price | i64 fee_buyer | i64 fee_seller | i64 executed_at |
 *                   str buyer_order | str seller_order
 *   directive       u8 kind | str asset | str account | str address | str name | i64 value |
 *                   str16 reason | str16 legal_basis
 *   attestation     u64 height | 32 block_hash
 *   liabilities     u64 reflects_height | 32 seed_commit | u8 n | n x (str asset | i64 total |
 *                   32 root)   (the seed itself follows the signature)
 *
 * One walk over the fields (struct codec below) serves both directions, so the encoder and the
 * decoder cannot disagree on the layout. Decoding parses the structure first (only truncation,
 * over-long lengths, NUL bytes in strings and bad presence flags can fail there) and then
 * applies ledger_tx_check() (tx_check.c), which encoding applies too, so the two can never
 * disagree on what is valid either.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/tx.h"

/* ---- one walk for both directions ----------------------------------------------------- */

/* A codec walks the fields of a transaction in encoding order and either writes each one to
 * `out` or reads it from `in`, so that the layout is written down once. The first failure sticks
 * and later steps are no-ops, so a body is a flat list of fields. Encoding fails only when `out`
 * is full (the values were checked before); decoding fails on structure only (truncation,
 * over-long lengths, NUL bytes in strings, bad presence flags), and names the field; the values
 * are judged afterwards by ledger_tx_check. The walkers take a mutable transaction for decoding;
 * encoding only reads through it. */
struct codec {
    int decoding;         /* 0: write the fields to `out`; 1: read them from `in` */
    struct buf *out;      /* encoding */
    struct buf_reader in; /* decoding */
    int rc;
    struct sbx_err *err; /* decoding: the failure, naming its field */
    const char *pfx;     /* decoding: what the fields belong to, for messages */
};

static void
c_fail(struct codec *c, int rc, const char *field, const char *what)
{
    c->rc = sbx_err_set(c->err, rc, "%s.%s: %s", c->pfx, field, what);
}

/* `n` raw bytes (also a u8). */
static void
c_bytes(struct codec *c, void *p, size_t n, const char *field)
{
    if (c->rc != SBX_OK)
        return;
    if (!c->decoding)
        c->rc = buf_put(c->out, p, n);
    else if (buf_read(&c->in, p, n) != SBX_OK)
        c_fail(c, SBX_ETRUNCATED, field, "truncated");
}

/* A big-endian unsigned integer of `width` (1..8) bytes. */
static void
c_uint(struct codec *c, uint64_t *v, size_t width, const char *field)
{
    uint8_t t[8] = {0};

    for (size_t i = 0; !c->decoding && i < width; i++)
        t[i] = (uint8_t)(*v >> (8 * (width - 1 - i)));
    c_bytes(c, t, width, field);
    if (!c->decoding)
        return;
    *v = 0;
    for (size_t i = 0; i < width; i++)
        *v = *v << 8 | t[i];
}

/* An integer field of any width, signed or not (two's complement), big-endian. */
#define C_INT(c, p, field)                                                                         \
    do {                                                                                           \
        uint64_t v_ = (uint64_t)(*(p));                                                            \
                                                                                                   \
        c_uint((c), &v_, sizeof(*(p)), (field));                                                   \
        if ((c)->decoding)                                                                         \
            *(p) = v_;                                                                             \
    } while (0)

/* A string of at most `max` bytes (`s` holds max+1): its length in `lenw` bytes (1, or 2 for
 * free text), then the bytes; no NUL inside. */
static void
c_str(struct codec *c, char *s, size_t max, size_t lenw, const char *field)
{
    uint64_t n = c->decoding ? 0 : strlen(s);

    c_uint(c, &n, lenw, field);
    if (c->rc != SBX_OK)
        return;
    if (c->decoding && n > max) {
        c->rc = sbx_err_set(c->err, SBX_ETOOLONG, "%s.%s: length %u over the maximum %zu", c->pfx,
                            field, (unsigned)n, max);
        return;
    }
    c_bytes(c, s, (size_t)n, field);
    if (!c->decoding || c->rc != SBX_OK)
        return;
    s[n] = '\0';
    if (memchr(s, 0, (size_t)n) != NULL)
        c_fail(c, SBX_EINVAL, field, "contains a NUL byte");
}

/* A u8 count of list entries, at most `max`. */
static void
c_count(struct codec *c, uint8_t *n, unsigned max, const char *field)
{
    c_bytes(c, n, 1, field);
    if (c->decoding && c->rc == SBX_OK && *n > max)
        c->rc = sbx_err_set(c->err, SBX_ETOOLONG, "%s.%s: %u entries, at most %u", c->pfx, field,
                            (unsigned)*n, max);
}

/* A presence flag: 0 or 1. */
static void
c_flag(struct codec *c, uint8_t *v, const char *field)
{
    c_bytes(c, v, 1, field);
    if (c->decoding && c->rc == SBX_OK && *v > 1)
        c_fail(c, SBX_ENONCANON, field, "presence flag must be 0 or 1");
}

/* The licence document: u32 length, then the bytes (decoding allocates them, NUL-terminated). */
static void
c_licence(struct codec *c, struct ledger_genesis *g)
{
    C_INT(c, &g->licence_len, "licence_json");
    if (c->decoding && c->rc == SBX_OK) {
        if (g->licence_len > SBX_LICENCE_DOC_MAX) {
            c->rc = sbx_err_set(c->err, SBX_ETOOLONG, "genesis.licence_json: %u bytes, at most %d",
                                (unsigned)g->licence_len, SBX_LICENCE_DOC_MAX);
            return;
        }
        if (g->licence_len > buf_reader_left(&c->in)) {
            c_fail(c, SBX_ETRUNCATED, "licence_json", "truncated");
            return;
        }
        g->licence_json = malloc((size_t)g->licence_len + 1);
        if (g->licence_json == NULL) {
            c_fail(c, SBX_ENOMEM, "licence_json", "out of memory");
            return;
        }
        g->licence_json[g->licence_len] = '\0';
    }
    c_bytes(c, g->licence_json, g->licence_len, "licence_json");
}

/* ---- the layout ----------------------------------------------------------------------- */

static void
walk_genesis(struct codec *c, struct ledger_genesis *g)
{
    c_str(c, g->network, SBX_NETWORK_MAX, 1, "network");
    c_bytes(c, g->operator_key, 32, "operator_key");
    c_count(c, &g->nregulators, SBX_MAX_REGULATORS, "regulator_keys");
    for (unsigned i = 0; i < g->nregulators && c->rc == SBX_OK; i++)
        c_bytes(c, g->regulator_keys[i], 32, "regulator_keys");
    c_bytes(c, &g->directive_quorum, 1, "directive_quorum");
    c_bytes(c, &g->attestation_quorum, 1, "attestation_quorum");
    c_count(c, &g->nassets, SBX_MAX_ASSETS, "assets");
    for (unsigned i = 0; i < g->nassets && c->rc == SBX_OK; i++) {
        c_str(c, g->assets[i].symbol, SBX_ASSET_MAX, 1, "assets.symbol");
        c_bytes(c, &g->assets[i].decimals, 1, "assets.decimals");
    }
    c_licence(c, g);
}

static void
walk_account_open(struct codec *c, struct ledger_account_open *a)
{
    c_str(c, a->account, SBX_ID_MAX, 1, "account");
    c_bytes(c, &a->kyc_tier, 1, "kyc_tier");
    c_bytes(c, &a->investor_class, 1, "investor_class");
    c_str(c, a->country, sizeof(a->country) - 1, 1, "country");
    c_bytes(c, a->kyc_ref, 32, "kyc_ref");
    c_bytes(c, a->bank_ref, 32, "bank_ref");
}

static void
walk_account_update(struct codec *c, struct ledger_account_update *a)
{
    c_str(c, a->account, SBX_ID_MAX, 1, "account");
    c_bytes(c, &a->kyc_tier, 1, "kyc_tier");
    c_bytes(c, &a->status, 1, "status");
}

static void
walk_transfer(struct codec *c, struct ledger_transfer *t)
{
    struct ledger_travel_rule *tr = &t->travel_rule;
    struct ledger_screening *s = &t->screening;

    c_str(c, t->transfer_id, SBX_ID_MAX, 1, "transfer_id");
    c_str(c, t->account, SBX_ID_MAX, 1, "account");
    c_str(c, t->asset, SBX_ASSET_MAX, 1, "asset");
    C_INT(c, &t->amount, "amount");
    c_str(c, t->reference, SBX_REF_MAX, 1, "reference");
    c_flag(c, &t->has_travel_rule, "has_travel_rule");
    if (c->rc == SBX_OK && t->has_travel_rule) {
        c_bytes(c, &tr->protocol, 1, "travel_rule.protocol");
        c_str(c, tr->vasp, SBX_VASP_MAX, 1, "travel_rule.vasp");
        c_bytes(c, tr->originator_hash, 32, "travel_rule.originator_hash");
        c_bytes(c, tr->beneficiary_hash, 32, "travel_rule.beneficiary_hash");
        c_bytes(c, &tr->status, 1, "travel_rule.status");
    }
    c_flag(c, &t->has_screening, "has_screening");
    if (c->rc == SBX_OK && t->has_screening) {
        c_str(c, s->provider, SBX_PROVIDER_MAX, 1, "screening.provider");
        c_bytes(c, &s->score, 1, "screening.score");
        c_str(c, s->categories, SBX_CATEGORIES_MAX, 1, "screening.categories");
    }
}

static void
walk_trade(struct codec *c, struct ledger_trade *t)
{
    c_str(c, t->trade_id, SBX_ID_MAX, 1, "trade_id");
    c_str(c, t->buyer, SBX_ID_MAX, 1, "buyer");
    c_str(c, t->seller, SBX_ID_MAX, 1, "seller");
    c_str(c, t->asset, SBX_ASSET_MAX, 1, "asset");
    C_INT(c, &t->quantity, "quantity");
    C_INT(c, &t->price, "price");
    C_INT(c, &t->fee_buyer, "fee_buyer");
    C_INT(c, &t->fee_seller, "fee_seller");
    C_INT(c, &t->executed_at, "executed_at");
    c_str(c, t->buyer_order, SBX_ID_MAX, 1, "buyer_order");
    c_str(c, t->seller_order, SBX_ID_MAX, 1, "seller_order");
}

static void
walk_directive(struct codec *c, struct ledger_directive *d)
{
    c_bytes(c, &d->kind, 1, "kind");
    c_str(c, d->asset, SBX_ASSET_MAX, 1, "asset");
    c_str(c, d->account, SBX_ID_MAX, 1, "account");
    c_str(c, d->address, SBX_ADDRESS_MAX, 1, "address");
    c_str(c, d->name, SBX_PARAM_NAME_MAX, 1, "name");
    C_INT(c, &d->value, "value");
    c_str(c, d->reason, SBX_TEXT_MAX, 2, "reason");
    c_str(c, d->legal_basis, SBX_TEXT_MAX, 2, "legal_basis");
}

static void
walk_liabilities(struct codec *c, struct ledger_liabilities *l)
{
    C_INT(c, &l->reflects_height, "reflects_height");
    c_bytes(c, l->seed_commit, 32, "seed_commit");
    c_count(c, &l->nassets, SBX_MAX_ASSETS, "assets");
    for (unsigned i = 0; i < l->nassets && c->rc == SBX_OK; i++) {
        c_str(c, l->assets[i].asset, SBX_ASSET_MAX, 1, "assets.asset");
        C_INT(c, &l->assets[i].total, "assets.total");
        c_bytes(c, l->assets[i].root, 32, "assets.root");
    }
}

static void
walk_body(struct codec *c, struct ledger_tx *tx)
{
    switch (tx->type) {
    case LEDGER_TX_GENESIS:
        walk_genesis(c, &tx->u.genesis);
        break;
    case LEDGER_TX_ACCOUNT_OPEN:
        walk_account_open(c, &tx->u.account_open);
        break;
    case LEDGER_TX_ACCOUNT_UPDATE:
        walk_account_update(c, &tx->u.account_update);
        break;
    case LEDGER_TX_DEPOSIT:
    case LEDGER_TX_WITHDRAWAL:
        walk_transfer(c, &tx->u.transfer);
        break;
    case LEDGER_TX_TRADE:
        walk_trade(c, &tx->u.trade);
        break;
    case LEDGER_TX_DIRECTIVE:
        walk_directive(c, &tx->u.directive);
        break;
    case LEDGER_TX_ATTESTATION:
        C_INT(c, &tx->u.attestation.height, "height");
        c_bytes(c, tx->u.attestation.block_hash, 32, "block_hash");
        break;
    case LEDGER_TX_LIABILITIES:
        walk_liabilities(c, &tx->u.liabilities);
        break;
    default:
        SBX_BUG("tx type not checked before encoding or decoding");
    }
}

/* The unsigned part: what the txid covers. */
static void
walk_unsigned(struct codec *c, struct ledger_tx *tx)
{
    c_bytes(c, &tx->version, 1, "version");
    c_bytes(c, &tx->type, 1, "type");
    c_bytes(c, &tx->auth, 1, "auth");
    if (c->decoding && c->rc == SBX_OK)
        c->rc = ledger_tx_check_header(tx, c->err);
    c_bytes(c, tx->signer, 32, "signer");
    C_INT(c, &tx->timestamp, "timestamp");
    if (c->rc == SBX_OK) {
        c->pfx = ledger_tx_type_name(tx->type);
        walk_body(c, tx);
        c->pfx = "tx";
    }
}

/* The signature, a directive's cosignatures, a liabilities record's seed. */
static void
walk_signatures(struct codec *c, struct ledger_tx *tx)
{
    struct ledger_directive *d = &tx->u.directive;

    if (tx->auth == LEDGER_TX_AUTH_SIG)
        c_bytes(c, tx->sig, 64, "sig");
    if (c->rc == SBX_OK && tx->type == LEDGER_TX_LIABILITIES) {
        c->pfx = "liabilities";
        c_bytes(c, tx->u.liabilities.seed, 32, "seed");
        c->pfx = "tx";
    }
    if (c->rc != SBX_OK || tx->type != LEDGER_TX_DIRECTIVE)
        return;
    c->pfx = "directive";
    c_count(c, &d->ncosig, SBX_MAX_COSIGS, "cosig");
    for (unsigned i = 0; i < d->ncosig && c->rc == SBX_OK; i++) {
        c_bytes(c, d->cosig[i].pubkey, 32, "cosig.pubkey");
        c_bytes(c, d->cosig[i].sig, 64, "cosig.sig");
    }
    c->pfx = "tx";
}

/* ---- entry points --------------------------------------------------------------------- */

/* Append the unsigned part and, when `full`, the signatures. On failure `out` is left as the
 * caller gave it. */
static int
encode(const struct ledger_tx *tx, struct buf *out, int full, struct sbx_err *err)
{
    struct ledger_tx *t = (struct ledger_tx *)tx; /* only read: see struct codec */
    struct codec c = {.decoding = 0, .out = out, .rc = SBX_OK, .err = NULL, .pfx = "tx"};
    size_t start = out->len;
    int rc = ledger_tx_check_for_encoding(tx, err);

    if (rc)
        return rc;
    walk_unsigned(&c, t);
    if (full)
        walk_signatures(&c, t);
    if (c.rc == SBX_OK)
        return SBX_OK;
    out->len = start;
    if (c.rc == SBX_ENOMEM)
        return sbx_err_set(err, SBX_ENOMEM, "tx: out of memory while encoding");
    return sbx_err_set(err, c.rc, "tx: encoding does not fit in the output buffer");
}

int
ledger_tx_encode_unsigned(const struct ledger_tx *tx, struct buf *out, struct sbx_err *err)
{
    return encode(tx, out, 0, err);
}

int
ledger_tx_encode(const struct ledger_tx *tx, struct buf *out, struct sbx_err *err)
{
    return encode(tx, out, 1, err);
}

int
ledger_tx_decode(struct ledger_tx *tx, const uint8_t *in, size_t len, size_t *unsigned_len,
                 struct sbx_err *err)
{
    struct codec c = {.decoding = 1, .rc = SBX_OK, .err = err, .pfx = "tx"};
    size_t ulen;
    int rc;

    memset(tx, 0, sizeof(*tx));
    if (unsigned_len != NULL)
        *unsigned_len = 0;
    if (len > SBX_TX_MAX_SIZE)
        return sbx_err_set(err, SBX_ETOOLONG, "tx: %zu bytes, at most %d", len, SBX_TX_MAX_SIZE);
    buf_reader_init(&c.in, in, len);
    walk_unsigned(&c, tx);
    ulen = c.in.pos;
    walk_signatures(&c, tx);
    rc = c.rc;
    if (rc)
        goto out;
    if (buf_reader_left(&c.in) != 0 && tx->auth == LEDGER_TX_AUTH_BLOCK) {
        rc = sbx_err_set(err, SBX_ETRAILING,
                         "tx.sig: %zu bytes after the end: a block-authenticated transaction "
                         "carries no signature",
                         buf_reader_left(&c.in));
        goto out;
    }
    if (buf_reader_left(&c.in) != 0) {
        rc = sbx_err_set(err, SBX_ETRAILING, "tx: %zu bytes after the end", buf_reader_left(&c.in));
        goto out;
    }
    rc = ledger_tx_check(tx, err);
    if (rc)
        goto out;
    if (unsigned_len != NULL)
        *unsigned_len = ulen;
out:
    if (rc) {
        ledger_tx_release(tx);
        memset(tx, 0, sizeof(*tx));
    }
    return rc;
}
