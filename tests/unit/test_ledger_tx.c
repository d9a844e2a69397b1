/* Unit tests for ledger/tx.c and ledger/keys.c: canonical encoding of every transaction type,
 * each refusal of the decoder, signatures and cosignatures, and key files.
 *
 * Every valid encoding built here goes through check_encoding(), which round-trips it,
 * decodes every strict prefix from an exactly-sized heap copy (so AddressSanitizer sees any
 * read past the end) and appends a trailing byte.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/keys.h"
#include "ledger/tx.h"
#include "util/buf.h"
#include "util/hex.h"
#include "util/sha256.h"

#define NKEYS 20
#define HDR 42 /* version, type, signer, timestamp */
#define TS 1700000000000LL
/* Copy a string into a char array (the house style has no strcpy). */
#define SET(dst, s) snprintf((dst), sizeof(dst), "%s", (s))

static struct ledger_key g_keys[NKEYS]; /* [0] operator, [1..3] regulators, all distinct */
#define OP (&g_keys[0])
#define REG(i) (&g_keys[1 + (i)])

static int
group_setup(void **state)
{
    (void)state;
    if (sha256_global_init() != SBX_OK || ledger_keys_global_init() != SBX_OK)
        return -1;
    for (int i = 0; i < NKEYS; i++) {
        if (ledger_keys_generate(&g_keys[i]) != SBX_OK)
            return -1;
    }
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NKEYS; i++)
        ledger_keys_wipe(&g_keys[i]);
    return 0;
}

static void
fill(char *s, size_t n, char c)
{
    memset(s, c, n);
    s[n] = '\0';
}

static void
unhex(uint8_t *out, size_t n, const char *hex)
{
    assert_int_equal(hex_decode(out, n, hex, strlen(hex)), SBX_OK);
}

/* ---- builders of valid transactions ----------------------------------------------------- */

static void
make_genesis(struct ledger_tx *tx, int max)
{
    struct ledger_genesis *g = &tx->u.genesis;
    size_t n;

    ledger_tx_init(tx, LEDGER_TX_GENESIS);
    tx->timestamp = TS;
    memcpy(g->operator_key, OP->pubkey, 32);
    if (!max) {
        SET(g->network, "sbx-devnet");
        g->nregulators = 1;
        memcpy(g->regulator_keys[0], REG(0)->pubkey, 32);
        g->directive_quorum = 1;
        g->attestation_quorum = 1;
        g->nassets = 1;
        SET(g->assets[0].symbol, "VND");
        n = 2;
        g->licence_json = malloc(n + 1);
        assert_non_null(g->licence_json);
        memcpy(g->licence_json, "{}", n + 1);
    } else {
        fill(g->network, SBX_NETWORK_MAX, 'n');
        g->nregulators = SBX_MAX_REGULATORS;
        for (int i = 0; i < SBX_MAX_REGULATORS; i++)
            memcpy(g->regulator_keys[i], g_keys[1 + i].pubkey, 32);
        g->directive_quorum = SBX_MAX_REGULATORS;
        g->attestation_quorum = 1;
        g->nassets = SBX_MAX_ASSETS;
        SET(g->assets[0].symbol, "VND");
        for (int i = 1; i < SBX_MAX_ASSETS; i++) {
            snprintf(g->assets[i].symbol, sizeof(g->assets[i].symbol), "X%011d", i);
            g->assets[i].decimals = (uint8_t)(i % (SBX_ASSET_DECIMALS_MAX + 1));
        }
        n = SBX_LICENCE_DOC_MAX;
        g->licence_json = malloc(n + 1);
        assert_non_null(g->licence_json);
        memset(g->licence_json, ' ', n);
        g->licence_json[0] = '{';
        g->licence_json[n - 1] = '}';
        g->licence_json[n] = '\0';
    }
    g->licence_len = (uint32_t)n;
}

static void
make_account_open(struct ledger_tx *tx, int max)
{
    struct ledger_account_open *a = &tx->u.account_open;

    ledger_tx_init(tx, LEDGER_TX_ACCOUNT_OPEN);
    tx->timestamp = TS;
    if (max)
        fill(a->account, SBX_ID_MAX, 'a');
    else
        SET(a->account, "acc-1");
    a->kyc_tier = max ? 3 : 1;
    a->investor_class = max ? LEDGER_CLASS_FOREIGN_ORG : LEDGER_CLASS_DOMESTIC_INDIVIDUAL;
    SET(a->country, "VN");
    memset(a->kyc_ref, 0x11, 32);
    memset(a->bank_ref, 0x22, 32);
}

static void
make_account_update(struct ledger_tx *tx, uint8_t tier, uint8_t status)
{
    ledger_tx_init(tx, LEDGER_TX_ACCOUNT_UPDATE);
    tx->timestamp = TS;
    SET(tx->u.account_update.account, "acc-1");
    tx->u.account_update.kyc_tier = tier;
    tx->u.account_update.status = status;
}

/* which: bit 0 travel rule, bit 1 screening, bit 2 max-length strings */
static void
make_transfer(struct ledger_tx *tx, enum ledger_tx_type type, int which)
{
    struct ledger_transfer *t = &tx->u.transfer;
    int max = (which & 4) != 0;

    ledger_tx_init(tx, type);
    tx->timestamp = TS;
    if (max) {
        fill(t->transfer_id, SBX_ID_MAX, 'T');
        fill(t->account, SBX_ID_MAX, 'a');
        fill(t->asset, SBX_ASSET_MAX, 'Z');
        fill(t->reference, SBX_REF_MAX, 'r');
        t->amount = INT64_MAX;
    } else {
        SET(t->transfer_id, "dep-1");
        SET(t->account, "acc-1");
        SET(t->asset, "VND");
        SET(t->reference, "VCB/2023/0001");
        t->amount = 1;
    }
    if (which & 1) {
        t->has_travel_rule = 1;
        t->travel_rule.protocol = LEDGER_TRAVEL_TRISA;
        if (max)
            fill(t->travel_rule.vasp, SBX_VASP_MAX, 'v');
        else
            SET(t->travel_rule.vasp, "vasp.example");
        memset(t->travel_rule.originator_hash, 0x33, 32);
        memset(t->travel_rule.beneficiary_hash, 0x44, 32);
        t->travel_rule.status = LEDGER_TRAVEL_REJECTED;
    }
    if (which & 2) {
        t->has_screening = 1;
        if (max) {
            fill(t->screening.provider, SBX_PROVIDER_MAX, 'p');
            fill(t->screening.categories, SBX_CATEGORIES_MAX, ' ');
            t->screening.categories[0] = 'x';
        } else {
            SET(t->screening.provider, "chainalysis");
            SET(t->screening.categories, "mixer, gambling");
        }
        t->screening.score = 100;
    }
}

static void
make_trade(struct ledger_tx *tx, int max)
{
    struct ledger_trade *t = &tx->u.trade;

    ledger_tx_init(tx, LEDGER_TX_TRADE);
    tx->timestamp = TS;
    if (max) {
        fill(t->trade_id, SBX_ID_MAX, 't');
        fill(t->buyer, SBX_ID_MAX, 'b');
        fill(t->seller, SBX_ID_MAX, 's');
        fill(t->asset, SBX_ASSET_MAX, 'A');
        fill(t->buyer_order, SBX_ID_MAX, 'o');
        fill(t->seller_order, SBX_ID_MAX, 'O');
        t->quantity = INT64_MAX;
        t->price = INT64_MAX;
        t->fee_buyer = INT64_MAX;
        t->fee_seller = INT64_MAX;
        t->executed_at = INT64_MAX;
    } else {
        SET(t->trade_id, "t1");
        SET(t->buyer, "alice");
        SET(t->seller, "bob");
        SET(t->asset, "BTC");
        t->quantity = 150000000;
        t->price = 2450000000;
        t->fee_buyer = 1000;
        t->fee_seller = 0;
        t->executed_at = TS;
        SET(t->seller_order, "o-9");
    }
}

/* 170 x U+1EC7 (3 bytes each) + "ab" = 512 bytes */
static void
max_text(char *s)
{
    size_t n = 0;

    for (int i = 0; i < 170; i++) {
        memcpy(s + n, "\xe1\xbb\x87", 3);
        n += 3;
    }
    memcpy(s + n, "ab", 3);
    assert_int_equal(strlen(s), SBX_TEXT_MAX);
}

static void
make_directive(struct ledger_tx *tx, int kind, int max)
{
    struct ledger_directive *d = &tx->u.directive;

    ledger_tx_init(tx, LEDGER_TX_DIRECTIVE);
    tx->timestamp = TS;
    d->kind = (uint8_t)kind;
    switch (kind) {
    case LEDGER_DIR_HALT:
    case LEDGER_DIR_RESUME:
        if (max)
            fill(d->asset, SBX_ASSET_MAX, 'Q');
        else if (kind == LEDGER_DIR_RESUME)
            SET(d->asset, "BTC");
        break;
    case LEDGER_DIR_FREEZE:
    case LEDGER_DIR_UNFREEZE:
        if (max)
            fill(d->account, SBX_ID_MAX, 'a');
        else
            SET(d->account, "acc-1");
        break;
    case LEDGER_DIR_SET_PARAM:
        if (max)
            fill(d->name, SBX_PARAM_NAME_MAX, 'n');
        else
            SET(d->name, "max_order_vnd");
        d->value = max ? INT64_MAX : 0;
        break;
    case LEDGER_DIR_LICENCE_EXTEND:
        d->value = 1767225600000LL;
        break;
    case LEDGER_DIR_SANCTION_ADD:
        if (max)
            fill(d->address, SBX_ADDRESS_MAX, 'x');
        else
            SET(d->address, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq");
        break;
    case LEDGER_DIR_SANCTION_REMOVE:
        SET(d->account, "acc-2");
        break;
    default:
        break;
    }
    if (max) {
        max_text(d->reason);
        max_text(d->legal_basis);
    } else {
        SET(d->reason, "Quy\xe1\xba\xbft \xc4\x91\xe1\xbb\x8bnh 12/Q\xc4\x90-UBCK");
        SET(d->legal_basis, "Decree 13/2023/ND-CP, art. 4");
    }
}

static void
make_attestation(struct ledger_tx *tx)
{
    ledger_tx_init(tx, LEDGER_TX_ATTESTATION);
    tx->timestamp = TS;
    tx->u.attestation.height = UINT64_MAX;
    memset(tx->u.attestation.block_hash, 0xab, 32);
}

static void
sign(struct ledger_tx *tx, const struct ledger_key *k)
{
    struct sbx_err err;

    sbx_err_clear(&err);
    assert_int_equal(ledger_keys_sign_tx(tx, k, NULL, &err), SBX_OK);
}

/* ---- helpers ---------------------------------------------------------------------------- */

static void
encode(const struct ledger_tx *tx, struct buf *b)
{
    struct sbx_err err;

    buf_init(b, SBX_TX_MAX_SIZE);
    sbx_err_clear(&err);
    assert_int_equal(ledger_tx_encode(tx, b, &err), SBX_OK);
}

/* Decode `len` bytes from an exactly-sized heap copy; returns the code and checks that a
 * failure names something and leaves `tx` empty. */
static int
decode_copy(struct ledger_tx *tx, const uint8_t *p, size_t len, size_t *ulen, struct sbx_err *err)
{
    uint8_t *copy = malloc(len ? len : 1);
    int rc;

    assert_non_null(copy);
    if (len)
        memcpy(copy, p, len);
    sbx_err_clear(err);
    rc = ledger_tx_decode(tx, copy, len, ulen, err);
    free(copy);
    if (rc != SBX_OK) {
        assert_int_equal(err->code, rc);
        assert_true(strlen(err->msg) > 0);
        if (tx->type == LEDGER_TX_GENESIS)
            assert_null(tx->u.genesis.licence_json);
    }
    return rc;
}

static void
expect_decode_rc(const uint8_t *p, size_t len, int code, const char *field)
{
    struct ledger_tx tx;
    struct sbx_err err;
    int rc = decode_copy(&tx, p, len, NULL, &err);

    if (rc != code)
        fail_msg("decode: want %s, got %s (%s)", sbx_rc_name(code), sbx_rc_name(rc), err.msg);
    if (field != NULL && strstr(err.msg, field) == NULL)
        fail_msg("decode: message \"%s\" does not name \"%s\"", err.msg, field);
    ledger_tx_release(&tx);
}

/* The stateless check refuses `tx` with `code` naming `field`, and so does the encoder (which
 * leaves the output buffer as it was). */
static void
expect_refused(const struct ledger_tx *tx, int code, const char *field)
{
    struct sbx_err err;
    struct buf b;
    int rc;

    sbx_err_clear(&err);
    rc = ledger_tx_check(tx, &err);
    if (rc != code)
        fail_msg("check: want %s, got %s (%s)", sbx_rc_name(code), sbx_rc_name(rc), err.msg);
    if (field != NULL && strstr(err.msg, field) == NULL)
        fail_msg("check: message \"%s\" does not name \"%s\"", err.msg, field);
    buf_init(&b, SBX_TX_MAX_SIZE);
    assert_int_equal(buf_put_u8(&b, 0x5a), SBX_OK);
    assert_int_equal(ledger_tx_encode(tx, &b, NULL), code);
    assert_int_equal(ledger_tx_encode_unsigned(tx, &b, NULL), code);
    assert_int_equal(b.len, 1);
    buf_release(&b);
}

/* Round trip, prefixes and a trailing byte for a valid, signed transaction. */
static void
check_encoding(struct ledger_tx *tx)
{
    struct ledger_tx dec, a, b;
    struct buf e1, e2, u;
    struct sbx_err err;
    uint8_t id1[32], id2[32], id3[32];
    size_t ulen = 0;
    uint8_t *longer;

    encode(tx, &e1);
    buf_init(&u, SBX_TX_MAX_SIZE);
    assert_int_equal(ledger_tx_encode_unsigned(tx, &u, NULL), SBX_OK);
    assert_true(u.len + 64 <= e1.len);
    assert_memory_equal(u.data, e1.data, u.len);

    /* decode -> encode gives the same bytes and the same fields */
    assert_int_equal(decode_copy(&dec, e1.data, e1.len, &ulen, &err), SBX_OK);
    assert_int_equal(ulen, u.len);
    encode(&dec, &e2);
    assert_int_equal(e2.len, e1.len);
    assert_memory_equal(e2.data, e1.data, e1.len);
    a = *tx;
    b = dec;
    if (tx->type == LEDGER_TX_GENESIS) {
        assert_int_equal(dec.u.genesis.licence_len, tx->u.genesis.licence_len);
        assert_memory_equal(dec.u.genesis.licence_json, tx->u.genesis.licence_json,
                            tx->u.genesis.licence_len);
        assert_int_equal(dec.u.genesis.licence_json[dec.u.genesis.licence_len], '\0');
        a.u.genesis.licence_json = NULL;
        b.u.genesis.licence_json = NULL;
    }
    assert_int_equal(b.version, a.version);
    assert_int_equal(b.type, a.type);
    assert_int_equal(b.timestamp, a.timestamp);
    assert_memory_equal(b.signer, a.signer, 32);
    assert_memory_equal(b.sig, a.sig, 64);
    assert_memory_equal(&b.u, &a.u, sizeof(a.u));

    /* the txid three ways, equal to the reference tagged hash, and the signatures verify */
    assert_int_equal(ledger_tx_id(tx, id1, NULL), SBX_OK);
    ledger_tx_id_raw(id2, e1.data, ulen);
    sha256_tagged_slow(id3, "sbx/tx", u.data, u.len);
    assert_memory_equal(id1, id2, 32);
    assert_memory_equal(id1, id3, 32);
    assert_int_equal(ledger_keys_verify_tx(&dec, id2, NULL), SBX_OK);
    ledger_tx_release(&dec);

    /* every strict prefix is truncated (and never read past) */
    for (size_t i = 0; i < e1.len; i++) {
        int rc = decode_copy(&dec, e1.data, i, NULL, &err);

        if (rc != SBX_ETRUNCATED)
            fail_msg("prefix of %zu/%zu bytes: got %s (%s)", i, e1.len, sbx_rc_name(rc), err.msg);
        ledger_tx_release(&dec);
    }

    /* one trailing byte */
    longer = malloc(e1.len + 1);
    assert_non_null(longer);
    memcpy(longer, e1.data, e1.len);
    longer[e1.len] = 0;
    expect_decode_rc(longer, e1.len + 1, SBX_ETRAILING, "after the end");
    free(longer);

    buf_release(&e1);
    buf_release(&e2);
    buf_release(&u);
}

/* ---- round trips -------------------------------------------------------------------------- */

static void
test_roundtrip_genesis(void **state)
{
    struct ledger_tx tx;

    (void)state;
    for (int max = 0; max <= 1; max++) {
        make_genesis(&tx, max);
        sign(&tx, OP);
        check_encoding(&tx);
        ledger_tx_release(&tx);
        assert_null(tx.u.genesis.licence_json);
        ledger_tx_release(&tx); /* twice is harmless */
    }
}

static void
test_roundtrip_accounts(void **state)
{
    static const uint8_t upd[][2] = {{1, 0}, {0, LEDGER_ACCOUNT_CLOSED}, {3, 1}};
    struct ledger_tx tx;

    (void)state;
    for (int max = 0; max <= 1; max++) {
        make_account_open(&tx, max);
        sign(&tx, OP);
        check_encoding(&tx);
    }
    for (size_t i = 0; i < SBX_ARRAY_LEN(upd); i++) {
        make_account_update(&tx, upd[i][0], upd[i][1]);
        sign(&tx, OP);
        check_encoding(&tx);
    }
}

static void
test_roundtrip_transfers(void **state)
{
    struct ledger_tx tx;

    (void)state;
    for (int which = 0; which < 8; which++) {
        make_transfer(&tx, (which & 1) ? LEDGER_TX_WITHDRAWAL : LEDGER_TX_DEPOSIT, which);
        sign(&tx, OP);
        check_encoding(&tx);
        make_transfer(&tx, (which & 1) ? LEDGER_TX_DEPOSIT : LEDGER_TX_WITHDRAWAL, which);
        sign(&tx, OP);
        check_encoding(&tx);
    }
}

static void
test_roundtrip_trade(void **state)
{
    struct ledger_tx tx;

    (void)state;
    for (int max = 0; max <= 1; max++) {
        make_trade(&tx, max);
        sign(&tx, OP);
        check_encoding(&tx);
    }
}

static void
test_roundtrip_directives(void **state)
{
    struct ledger_tx tx;
    struct sbx_err err;

    (void)state;
    for (int kind = 1; kind <= LEDGER_DIR_KIND_MAX; kind++) {
        for (int max = 0; max <= 1; max++) {
            make_directive(&tx, kind, max);
            sign(&tx, REG(0));
            check_encoding(&tx);
            sbx_err_clear(&err);
            assert_int_equal(ledger_keys_cosign_tx(&tx, REG(1), &err), SBX_OK);
            assert_int_equal(ledger_keys_cosign_tx(&tx, REG(2), &err), SBX_OK);
            assert_int_equal(tx.u.directive.ncosig, 2);
            check_encoding(&tx);
        }
    }
    /* the most cosignatures there can be */
    make_directive(&tx, LEDGER_DIR_LICENCE_REVOKE, 1);
    sign(&tx, REG(0));
    for (int i = 0; i < SBX_MAX_COSIGS; i++)
        assert_int_equal(ledger_keys_cosign_tx(&tx, &g_keys[2 + i], NULL), SBX_OK);
    assert_int_equal(ledger_keys_cosign_tx(&tx, &g_keys[2 + SBX_MAX_COSIGS], &err), SBX_ETOOLONG);
    check_encoding(&tx);
}

static void
test_roundtrip_attestation(void **state)
{
    struct ledger_tx tx;

    (void)state;
    make_attestation(&tx);
    sign(&tx, REG(0));
    check_encoding(&tx);
}

/* The layout, byte for byte, for one trade (pins the field order and integer widths). */
static void
test_encoding_layout(void **state)
{
    static const char want_hex[] =
        "01"                                                               /* version */
        "05"                                                               /* type */
        "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9" /* signer */
        "0000018bcfe56800"                                                 /* timestamp */
        "027431"                                                           /* "t1" */
        "05616c696365"                                                     /* "alice" */
        "03626f62"                                                         /* "bob" */
        "03425443"                                                         /* "BTC" */
        "0000000008f0d180"                                                 /* quantity */
        "0000000092080880"                                                 /* price */
        "00000000000003e8"                                                 /* fee_buyer */
        "0000000000000000"                                                 /* fee_seller */
        "0000018bcfe56800"                                                 /* executed_at */
        "00"                                                               /* buyer_order */
        "036f2d39";                                                        /* seller_order */
    uint8_t want[sizeof(want_hex) / 2], id[32], ref[32];
    struct ledger_tx tx;
    struct buf b;

    (void)state;
    unhex(want, sizeof(want), want_hex);
    make_trade(&tx, 0);
    unhex(tx.signer, 32, "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9");
    buf_init(&b, SBX_TX_MAX_SIZE);
    assert_int_equal(ledger_tx_encode_unsigned(&tx, &b, NULL), SBX_OK);
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    assert_int_equal(ledger_tx_id(&tx, id, NULL), SBX_OK);
    sha256_tagged_slow(ref, "sbx/tx", want, sizeof(want));
    assert_memory_equal(id, ref, 32);
    buf_release(&b);
}

/* ---- refusals ----------------------------------------------------------------------------- */

static void
signed_encoding(struct ledger_tx *tx, struct buf *b)
{
    sign(tx, tx->type == LEDGER_TX_DIRECTIVE ? REG(0) : OP);
    encode(tx, b);
}

static void
test_reject_header(void **state)
{
    struct ledger_tx tx;
    struct buf b;
    uint8_t *p;

    (void)state;
    make_trade(&tx, 0);
    signed_encoding(&tx, &b);
    p = b.data;

    expect_decode_rc(p, 0, SBX_ETRUNCATED, "version");
    p[0] = 2;
    expect_decode_rc(p, b.len, SBX_EVERSION, "version");
    p[0] = 0;
    expect_decode_rc(p, b.len, SBX_EVERSION, "version");
    p[0] = LEDGER_TX_VERSION;
    p[1] = 99;
    expect_decode_rc(p, b.len, SBX_ETYPE, "type");
    p[1] = LEDGER_TX_TYPE_MAX + 1;
    expect_decode_rc(p, b.len, SBX_ETYPE, "type");
    p[1] = LEDGER_TX_TRADE;
    memset(p + 2, 0xff, 32); /* x >= p: not on the curve */
    expect_decode_rc(p, b.len, SBX_EPUBKEY, "signer");
    memset(p + 2, 0, 32);
    expect_decode_rc(p, b.len, SBX_EPUBKEY, "signer");
    buf_release(&b);

    make_trade(&tx, 0);
    tx.version = 2;
    expect_refused(&tx, SBX_EVERSION, "version");
    make_trade(&tx, 0);
    tx.type = 99;
    expect_refused(&tx, SBX_ETYPE, "type");
    make_trade(&tx, 0); /* never signed: signer is zero */
    {
        /* the check and the decoder refuse it; encoding skips the curve check for speed (its
         * keys are our own), and a zero key can never verify */
        struct sbx_err err;
        struct buf zb;

        assert_int_equal(ledger_tx_check(&tx, &err), SBX_EPUBKEY);
        assert_non_null(strstr(err.msg, "signer"));
        buf_init(&zb, SBX_TX_MAX_SIZE);
        assert_int_equal(ledger_tx_encode(&tx, &zb, NULL), SBX_OK);
        expect_decode_rc(zb.data, zb.len, SBX_EPUBKEY, "signer");
        buf_release(&zb);
    }
    sign(&tx, OP);
    tx.timestamp = -1;
    expect_refused(&tx, SBX_EINVAL, "timestamp");

    /* anything over the size cap is refused before it is read */
    p = calloc(1, SBX_TX_MAX_SIZE + 1);
    assert_non_null(p);
    expect_decode_rc(p, SBX_TX_MAX_SIZE + 1, SBX_ETOOLONG, "tx");
    free(p);
}

static void
test_reject_strings(void **state)
{
    struct ledger_tx tx;
    struct buf b;
    uint8_t *p;
    size_t n;

    (void)state;
    /* account id of 65 bytes, hand-crafted from a valid 64-byte one */
    make_account_open(&tx, 1);
    signed_encoding(&tx, &b);
    assert_int_equal(b.data[HDR], SBX_ID_MAX);
    n = b.len + 1;
    p = malloc(n);
    assert_non_null(p);
    memcpy(p, b.data, HDR);
    p[HDR] = SBX_ID_MAX + 1;
    memset(p + HDR + 1, 'a', SBX_ID_MAX + 1);
    memcpy(p + HDR + 2 + SBX_ID_MAX, b.data + HDR + 1 + SBX_ID_MAX, b.len - HDR - 1 - SBX_ID_MAX);
    expect_decode_rc(p, n, SBX_ETOOLONG, "account_open.account");
    p[HDR] = 0xff; /* the length alone decides, before the bytes are read */
    expect_decode_rc(p, HDR + 1, SBX_ETOOLONG, "account_open.account");
    free(p);

    /* a space, a DEL and a NUL inside the id */
    p = b.data;
    p[HDR + 5] = ' ';
    expect_decode_rc(p, b.len, SBX_EINVAL, "account_open.account");
    p[HDR + 5] = 0x7f;
    expect_decode_rc(p, b.len, SBX_EINVAL, "account_open.account");
    p[HDR + 5] = 0;
    expect_decode_rc(p, b.len, SBX_EINVAL, "account_open.account");
    p[HDR + 5] = 'a';
    p[HDR] = 0; /* empty id: bytes shift into the following fields; any refusal will do */
    {
        struct ledger_tx t2;
        struct sbx_err err;

        assert_int_not_equal(decode_copy(&t2, p, b.len, NULL, &err), SBX_OK);
    }
    buf_release(&b);

    /* the same through the stateless check */
    make_account_open(&tx, 0);
    sign(&tx, OP);
    SET(tx.u.account_open.account, "acc 1");
    expect_refused(&tx, SBX_EINVAL, "account_open.account");
    tx.u.account_open.account[0] = '\0';
    expect_refused(&tx, SBX_EINVAL, "account_open.account");
    memset(tx.u.account_open.account, 'a', sizeof(tx.u.account_open.account)); /* no NUL */
    expect_refused(&tx, SBX_ETOOLONG, "account_open.account");

    /* reason over its u16 maximum, and control bytes / bad UTF-8 in free text */
    make_directive(&tx, LEDGER_DIR_LICENCE_SUSPEND, 0);
    signed_encoding(&tx, &b);
    /* kind | 4 empty strings | value: reason length at HDR + 1 + 4 + 8 */
    assert_int_equal(buf_load_u16(b.data + HDR + 13), strlen(tx.u.directive.reason));
    buf_store_u16(b.data + HDR + 13, SBX_TEXT_MAX + 1);
    expect_decode_rc(b.data, b.len, SBX_ETOOLONG, "directive.reason");
    buf_release(&b);

    make_directive(&tx, LEDGER_DIR_LICENCE_SUSPEND, 0);
    sign(&tx, REG(0));
    SET(tx.u.directive.reason, "line one\nline two");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "tab\there");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "bad \xc3\x28 utf8");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "overlong \xc0\xaf");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "overlong3 \xe0\x80\xaf");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "overlong4 \xf0\x80\x80\xaf");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "too big \xf4\x90\x80\x80");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "lone continuation \x80");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "surrogate \xed\xa0\x80");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "cut \xe1\xbb");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "c1 \xc2\x85");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "del \x7f");
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    tx.u.directive.reason[0] = '\0';
    expect_refused(&tx, SBX_EINVAL, "directive.reason");
    SET(tx.u.directive.reason, "ok");
    tx.u.directive.legal_basis[0] = '\0';
    expect_refused(&tx, SBX_EINVAL, "directive.legal_basis");
    SET(tx.u.directive.legal_basis, "\xf0\x9f\x93\x9c scroll"); /* 4-byte UTF-8 is fine */
    assert_int_equal(ledger_tx_check(&tx, NULL), SBX_OK);
}

static void
test_reject_enums(void **state)
{
    struct ledger_tx tx;
    struct buf b;
    size_t off;

    (void)state;
    /* investor class: header | str account | tier | class */
    make_account_open(&tx, 0);
    signed_encoding(&tx, &b);
    off = HDR + 1 + strlen(tx.u.account_open.account) + 1;
    assert_int_equal(b.data[off], LEDGER_CLASS_DOMESTIC_INDIVIDUAL);
    b.data[off] = 5;
    expect_decode_rc(b.data, b.len, SBX_ETYPE, "account_open.investor_class");
    b.data[off] = 0;
    expect_decode_rc(b.data, b.len, SBX_ETYPE, "account_open.investor_class");
    b.data[off] = LEDGER_CLASS_DOMESTIC_INDIVIDUAL;
    b.data[off - 1] = 4;
    expect_decode_rc(b.data, b.len, SBX_EINVAL, "account_open.kyc_tier");
    b.data[off - 1] = 0;
    expect_decode_rc(b.data, b.len, SBX_EINVAL, "account_open.kyc_tier");
    buf_release(&b);

    make_account_open(&tx, 0);
    sign(&tx, OP);
    SET(tx.u.account_open.country, "vn");
    expect_refused(&tx, SBX_EINVAL, "account_open.country");
    SET(tx.u.account_open.country, "V");
    expect_refused(&tx, SBX_EINVAL, "account_open.country");

    /* directive kind is the first body byte */
    make_directive(&tx, LEDGER_DIR_LICENCE_SUSPEND, 0);
    signed_encoding(&tx, &b);
    b.data[HDR] = 0;
    expect_decode_rc(b.data, b.len, SBX_ETYPE, "directive.kind");
    b.data[HDR] = LEDGER_DIR_KIND_MAX + 1;
    expect_decode_rc(b.data, b.len, SBX_ETYPE, "directive.kind");
    buf_release(&b);

    /* account update */
    make_account_update(&tx, 1, 1);
    sign(&tx, OP); /* signed while valid, then broken */
    tx.u.account_update.kyc_tier = 0;
    tx.u.account_update.status = 3;
    expect_refused(&tx, SBX_ETYPE, "account_update.status");
    tx.u.account_update.kyc_tier = 4;
    tx.u.account_update.status = 0;
    expect_refused(&tx, SBX_EINVAL, "account_update.kyc_tier");
    tx.u.account_update.kyc_tier = 0;
    expect_refused(&tx, SBX_EINVAL, "account_update");

    /* travel rule and screening */
    make_transfer(&tx, LEDGER_TX_DEPOSIT, 3);
    sign(&tx, OP);
    tx.u.transfer.travel_rule.protocol = 4;
    expect_refused(&tx, SBX_ETYPE, "deposit.travel_rule.protocol");
    tx.u.transfer.travel_rule.protocol = LEDGER_TRAVEL_OTHER;
    tx.u.transfer.travel_rule.status = 0;
    expect_refused(&tx, SBX_ETYPE, "deposit.travel_rule.status");
    tx.u.transfer.travel_rule.status = LEDGER_TRAVEL_PENDING;
    tx.u.transfer.travel_rule.vasp[0] = '\0';
    expect_refused(&tx, SBX_EINVAL, "deposit.travel_rule.vasp");
    SET(tx.u.transfer.travel_rule.vasp, "v");
    tx.u.transfer.screening.score = 101;
    expect_refused(&tx, SBX_EINVAL, "deposit.screening.score");
    tx.u.transfer.screening.score = 0;
    tx.u.transfer.screening.provider[0] = '\0';
    expect_refused(&tx, SBX_EINVAL, "deposit.screening.provider");
    SET(tx.u.transfer.screening.provider, "p");
    SET(tx.u.transfer.screening.categories, "a\tb");
    expect_refused(&tx, SBX_EINVAL, "deposit.screening.categories");
    tx.u.transfer.screening.categories[0] = '\0';
    assert_int_equal(ledger_tx_check(&tx, NULL), SBX_OK);
}

/* Offset of the has_travel_rule flag in a transfer encoding. */
static size_t
transfer_flag_off(const struct ledger_transfer *t)
{
    return HDR + 1 + strlen(t->transfer_id) + 1 + strlen(t->account) + 1 + strlen(t->asset) + 8 +
           1 + strlen(t->reference);
}

static void
test_reject_unused_fields(void **state)
{
    struct ledger_tx tx;
    struct buf b;
    size_t off;

    (void)state;
    /* presence flags are 0 or 1 */
    make_transfer(&tx, LEDGER_TX_WITHDRAWAL, 0);
    signed_encoding(&tx, &b);
    off = transfer_flag_off(&tx.u.transfer);
    assert_int_equal(b.data[off], 0);
    assert_int_equal(b.data[off + 1], 0);
    b.data[off] = 2;
    expect_decode_rc(b.data, b.len, SBX_ENONCANON, "has_travel_rule");
    b.data[off] = 0;
    b.data[off + 1] = 0xff;
    expect_decode_rc(b.data, b.len, SBX_ENONCANON, "has_screening");
    buf_release(&b);

    /* absent optional parts must be all zero */
    make_transfer(&tx, LEDGER_TX_DEPOSIT, 0);
    sign(&tx, OP);
    tx.u.transfer.travel_rule.originator_hash[31] = 1;
    expect_refused(&tx, SBX_ENONCANON, "deposit.travel_rule");
    make_transfer(&tx, LEDGER_TX_DEPOSIT, 0);
    sign(&tx, OP);
    tx.u.transfer.screening.score = 5;
    expect_refused(&tx, SBX_ENONCANON, "deposit.screening");
    tx.u.transfer.screening.score = 0;
    tx.u.transfer.has_travel_rule = 2;
    expect_refused(&tx, SBX_ENONCANON, "deposit.has_travel_rule");
    tx.u.transfer.has_travel_rule = 0;
    tx.u.transfer.has_screening = 2;
    expect_refused(&tx, SBX_ENONCANON, "deposit.has_screening");

    /* directive fields the kind does not use */
    make_directive(&tx, LEDGER_DIR_HALT, 0);
    sign(&tx, REG(0));
    SET(tx.u.directive.account, "acc-1");
    expect_refused(&tx, SBX_ENONCANON, "directive.account");
    make_directive(&tx, LEDGER_DIR_HALT, 0);
    sign(&tx, REG(0));
    tx.u.directive.value = 1;
    expect_refused(&tx, SBX_ENONCANON, "directive.value");
    make_directive(&tx, LEDGER_DIR_FREEZE, 0);
    sign(&tx, REG(0));
    SET(tx.u.directive.asset, "BTC");
    expect_refused(&tx, SBX_ENONCANON, "directive.asset");
    make_directive(&tx, LEDGER_DIR_FREEZE, 0);
    sign(&tx, REG(0));
    SET(tx.u.directive.address, "bc1q");
    expect_refused(&tx, SBX_ENONCANON, "directive.address");
    make_directive(&tx, LEDGER_DIR_LICENCE_REVOKE, 0);
    sign(&tx, REG(0));
    SET(tx.u.directive.name, "x");
    expect_refused(&tx, SBX_ENONCANON, "directive.name");
    make_directive(&tx, LEDGER_DIR_SET_PARAM, 0);
    sign(&tx, REG(0));
    tx.u.directive.cosig[3].sig[0] = 1; /* a cosignature slot past ncosig */
    expect_refused(&tx, SBX_ENONCANON, "directive.cosig");

    /* ... and the same through the decoder: a halt whose account field is set */
    make_directive(&tx, LEDGER_DIR_HALT, 0);
    signed_encoding(&tx, &b);
    {
        struct buf c;

        buf_init(&c, SBX_TX_MAX_SIZE);
        assert_int_equal(buf_put(&c, b.data, HDR + 2), SBX_OK); /* kind, empty asset */
        assert_int_equal(buf_put_u8(&c, 1), SBX_OK);
        assert_int_equal(buf_put_u8(&c, 'x'), SBX_OK);
        assert_int_equal(buf_put(&c, b.data + HDR + 3, b.len - HDR - 3), SBX_OK);
        expect_decode_rc(c.data, c.len, SBX_ENONCANON, "directive.account");
        buf_release(&c);
    }
    buf_release(&b);

    /* required and exclusive directive targets */
    make_directive(&tx, LEDGER_DIR_FREEZE, 0);
    sign(&tx, REG(0));
    tx.u.directive.account[0] = '\0';
    expect_refused(&tx, SBX_EINVAL, "directive.account");
    make_directive(&tx, LEDGER_DIR_SET_PARAM, 0);
    sign(&tx, REG(0));
    tx.u.directive.name[0] = '\0';
    expect_refused(&tx, SBX_EINVAL, "directive.name");
    make_directive(&tx, LEDGER_DIR_SET_PARAM, 0);
    sign(&tx, REG(0));
    tx.u.directive.value = -1;
    expect_refused(&tx, SBX_EINVAL, "directive.value");
    make_directive(&tx, LEDGER_DIR_LICENCE_EXTEND, 0);
    sign(&tx, REG(0));
    tx.u.directive.value = 0;
    expect_refused(&tx, SBX_EINVAL, "directive.value");
    make_directive(&tx, LEDGER_DIR_SANCTION_ADD, 0);
    sign(&tx, REG(0));
    SET(tx.u.directive.account, "acc-1"); /* both */
    expect_refused(&tx, SBX_EINVAL, "directive.account");
    tx.u.directive.account[0] = '\0';
    tx.u.directive.address[0] = '\0'; /* neither */
    expect_refused(&tx, SBX_EINVAL, "directive.account");
    SET(tx.u.directive.address, "has space");
    expect_refused(&tx, SBX_EINVAL, "directive.address");
    make_directive(&tx, LEDGER_DIR_HALT, 0);
    sign(&tx, REG(0));
    SET(tx.u.directive.asset, "btc");
    expect_refused(&tx, SBX_EINVAL, "directive.asset");
}

static void
test_reject_amounts(void **state)
{
    struct ledger_tx tx;
    struct buf b;
    size_t off;

    (void)state;
    /* deposit amount 0 and -1 through the decoder */
    make_transfer(&tx, LEDGER_TX_DEPOSIT, 0);
    signed_encoding(&tx, &b);
    off = transfer_flag_off(&tx.u.transfer) - 1 - strlen(tx.u.transfer.reference) - 8;
    assert_int_equal((int64_t)buf_load_u64(b.data + off), 1);
    buf_store_u64(b.data + off, 0);
    expect_decode_rc(b.data, b.len, SBX_EINVAL, "deposit.amount");
    buf_store_u64(b.data + off, UINT64_MAX);
    expect_decode_rc(b.data, b.len, SBX_EINVAL, "deposit.amount");
    buf_store_u64(b.data + off, (uint64_t)INT64_MIN);
    expect_decode_rc(b.data, b.len, SBX_EINVAL, "deposit.amount");
    buf_release(&b);

    make_transfer(&tx, LEDGER_TX_WITHDRAWAL, 0);
    sign(&tx, OP);
    tx.u.transfer.amount = 0;
    expect_refused(&tx, SBX_EINVAL, "withdrawal.amount");
    tx.u.transfer.amount = 1;
    SET(tx.u.transfer.asset, "");
    expect_refused(&tx, SBX_EINVAL, "withdrawal.asset");
    SET(tx.u.transfer.asset, "VND");
    SET(tx.u.transfer.reference, "two words");
    expect_refused(&tx, SBX_EINVAL, "withdrawal.reference");

    /* trade */
    make_trade(&tx, 0);
    signed_encoding(&tx, &b);
    off = HDR + 3 + 6 + 4 + 4; /* quantity */
    buf_store_u64(b.data + off, 0);
    expect_decode_rc(b.data, b.len, SBX_EINVAL, "trade.quantity");
    buf_release(&b);

    make_trade(&tx, 0);
    sign(&tx, OP);
    tx.u.trade.quantity = -5;
    expect_refused(&tx, SBX_EINVAL, "trade.quantity");
    make_trade(&tx, 0);
    sign(&tx, OP);
    tx.u.trade.price = 0;
    expect_refused(&tx, SBX_EINVAL, "trade.price");
    tx.u.trade.price = INT64_MIN;
    expect_refused(&tx, SBX_EINVAL, "trade.price");
    make_trade(&tx, 0);
    sign(&tx, OP);
    tx.u.trade.fee_buyer = -1;
    expect_refused(&tx, SBX_EINVAL, "trade.fee_buyer");
    make_trade(&tx, 0);
    sign(&tx, OP);
    tx.u.trade.fee_seller = -1;
    expect_refused(&tx, SBX_EINVAL, "trade.fee_seller");
    make_trade(&tx, 0);
    sign(&tx, OP);
    tx.u.trade.executed_at = 0;
    expect_refused(&tx, SBX_EINVAL, "trade.executed_at");
    make_trade(&tx, 0);
    sign(&tx, OP);
    SET(tx.u.trade.seller, tx.u.trade.buyer);
    expect_refused(&tx, SBX_EINVAL, "trade.seller");
    make_trade(&tx, 0);
    sign(&tx, OP);
    SET(tx.u.trade.buyer_order, "o 1");
    expect_refused(&tx, SBX_EINVAL, "trade.buyer_order");
}

static void
test_reject_genesis(void **state)
{
    struct ledger_tx tx;
    struct buf b;
    char *doc;

    (void)state;
    make_genesis(&tx, 0);
    sign(&tx, OP);
    doc = tx.u.genesis.licence_json;

#define G tx.u.genesis
    memset(G.regulator_keys[0], 0xff, 32);
    expect_refused(&tx, SBX_EPUBKEY, "genesis.regulator_keys[0]");
    memcpy(G.regulator_keys[0], OP->pubkey, 32);
    expect_refused(&tx, SBX_EINVAL, "genesis.regulator_keys[0]");
    memcpy(G.regulator_keys[0], REG(0)->pubkey, 32);
    memset(G.operator_key, 0xff, 32);
    expect_refused(&tx, SBX_EPUBKEY, "genesis.operator_key");
    memcpy(G.operator_key, OP->pubkey, 32);

    G.nregulators = 2;
    memcpy(G.regulator_keys[1], REG(0)->pubkey, 32);
    expect_refused(&tx, SBX_EINVAL, "genesis.regulator_keys[1]");
    memcpy(G.regulator_keys[1], REG(1)->pubkey, 32);
    G.directive_quorum = 3;
    expect_refused(&tx, SBX_EINVAL, "genesis.directive_quorum");
    G.directive_quorum = 0;
    expect_refused(&tx, SBX_EINVAL, "genesis.directive_quorum");
    G.directive_quorum = 2;
    G.attestation_quorum = 0;
    expect_refused(&tx, SBX_EINVAL, "genesis.attestation_quorum");
    G.attestation_quorum = 2;
    assert_int_equal(ledger_tx_check(&tx, NULL), SBX_OK);
    G.nregulators = 1; /* key [1] left behind in an unused slot */
    G.directive_quorum = G.attestation_quorum = 1;
    expect_refused(&tx, SBX_ENONCANON, "genesis.regulator_keys");
    memset(G.regulator_keys[1], 0, 32);
    G.nregulators = 0;
    expect_refused(&tx, SBX_EINVAL, "genesis.regulator_keys");
    G.nregulators = SBX_MAX_REGULATORS + 1;
    expect_refused(&tx, SBX_ETOOLONG, "genesis.regulator_keys");
    G.nregulators = 1;

    SET(G.assets[0].symbol, "USD");
    expect_refused(&tx, SBX_EINVAL, "genesis.assets[0]");
    SET(G.assets[0].symbol, "VND");
    G.assets[0].decimals = 2;
    expect_refused(&tx, SBX_EINVAL, "genesis.assets[0]");
    G.assets[0].decimals = 0;
    G.nassets = 3;
    SET(G.assets[1].symbol, "BTC");
    G.assets[1].decimals = 8;
    SET(G.assets[2].symbol, "BTC");
    expect_refused(&tx, SBX_EINVAL, "genesis.assets[2].symbol");
    SET(G.assets[2].symbol, "Eth");
    expect_refused(&tx, SBX_EINVAL, "genesis.assets[2].symbol");
    SET(G.assets[2].symbol, "ETH");
    G.assets[2].decimals = 9;
    expect_refused(&tx, SBX_EINVAL, "genesis.assets[2].decimals");
    G.assets[2].decimals = 8;
    assert_int_equal(ledger_tx_check(&tx, NULL), SBX_OK);
    G.nassets = 0;
    expect_refused(&tx, SBX_EINVAL, "genesis.assets");
    G.nassets = 2; /* ETH left behind */
    expect_refused(&tx, SBX_ENONCANON, "genesis.assets");
    G.nassets = 3;

    SET(G.network, "my net");
    expect_refused(&tx, SBX_EINVAL, "genesis.network");
    G.network[0] = '\0';
    expect_refused(&tx, SBX_EINVAL, "genesis.network");
    SET(G.network, "net");

    G.licence_len = 0;
    expect_refused(&tx, SBX_EINVAL, "genesis.licence_json");
    G.licence_len = SBX_LICENCE_DOC_MAX + 1;
    expect_refused(&tx, SBX_ETOOLONG, "genesis.licence_json");
    G.licence_len = 2;
    G.licence_json = NULL;
    expect_refused(&tx, SBX_EINVAL, "genesis.licence_json");
    G.licence_json = doc;
    doc[1] = '\0';
    expect_refused(&tx, SBX_EINVAL, "genesis.licence_json");
    doc[1] = '}';
    assert_int_equal(ledger_tx_check(&tx, NULL), SBX_OK);

    /* through the decoder: a licence length over the maximum, and past the end */
    signed_encoding(&tx, &b);
    {
        size_t off = b.len - 64 - 2 - 4;

        assert_int_equal(buf_load_u32(b.data + off), 2);
        buf_store_u32(b.data + off, SBX_LICENCE_DOC_MAX + 1);
        expect_decode_rc(b.data, b.len, SBX_ETOOLONG, "genesis.licence_json");
        buf_store_u32(b.data + off, UINT32_MAX);
        expect_decode_rc(b.data, b.len, SBX_ETOOLONG, "genesis.licence_json");
        buf_store_u32(b.data + off, 2 + 64 + 1);
        expect_decode_rc(b.data, b.len, SBX_ETRUNCATED, "genesis.licence_json");
        /* a regulator count over the maximum */
        off = HDR + 1 + strlen(G.network) + 32;
        assert_int_equal(b.data[off], 1);
        b.data[off] = SBX_MAX_REGULATORS + 1;
        expect_decode_rc(b.data, b.len, SBX_ETOOLONG, "genesis.regulator_keys");
    }
    buf_release(&b);
#undef G
    ledger_tx_release(&tx);
}

/* ---- signatures --------------------------------------------------------------------------- */

static void
test_sign_verify(void **state)
{
    struct ledger_tx tx, dec;
    struct sbx_err err;
    struct buf b;
    uint8_t txid[32], id2[32];
    size_t ulen;

    (void)state;
    make_trade(&tx, 0);
    sbx_err_clear(&err);
    assert_int_equal(ledger_keys_sign_tx(&tx, OP, txid, &err), SBX_OK);
    assert_memory_equal(tx.signer, OP->pubkey, 32);
    assert_int_equal(ledger_tx_id(&tx, id2, NULL), SBX_OK);
    assert_memory_equal(txid, id2, 32);
    assert_int_equal(ledger_keys_verify_tx(&tx, txid, &err), SBX_OK);
    assert_int_equal(ledger_keys_verify(OP->pubkey, txid, tx.sig), SBX_OK);

    /* every single-bit change of the signature is caught */
    for (int bit = 0; bit < 512; bit++) {
        struct ledger_tx bad = tx;

        bad.sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        sbx_err_clear(&err);
        assert_int_equal(ledger_keys_verify_tx(&bad, txid, &err), SBX_EBADSIG);
        assert_non_null(strstr(err.msg, "tx.sig"));
    }

    /* another key's signature, or a different message, does not verify */
    assert_int_equal(ledger_keys_verify(REG(0)->pubkey, txid, tx.sig), SBX_EBADSIG);
    id2[0] ^= 1;
    assert_int_equal(ledger_keys_verify_tx(&tx, id2, NULL), SBX_EBADSIG);

    /* a flipped bit in the body: still decodes, but the txid changes and the signature fails */
    encode(&tx, &b);
    b.data[HDR + 3 + 6 + 4 + 4 + 7] ^= 0x02; /* low byte of quantity */
    assert_int_equal(decode_copy(&dec, b.data, b.len, &ulen, &err), SBX_OK);
    assert_int_not_equal(dec.u.trade.quantity, tx.u.trade.quantity);
    ledger_tx_id_raw(id2, b.data, ulen);
    assert_memory_not_equal(id2, txid, 32);
    assert_int_equal(ledger_keys_verify_tx(&dec, id2, &err), SBX_EBADSIG);
    buf_release(&b);

    /* a signer that is not a key */
    memset(tx.signer, 0xff, 32);
    assert_int_equal(ledger_keys_verify_tx(&tx, txid, &err), SBX_EPUBKEY);
    assert_non_null(strstr(err.msg, "tx.signer"));

    /* signing refuses an invalid transaction and says why */
    make_trade(&tx, 0);
    tx.u.trade.quantity = 0;
    sbx_err_clear(&err);
    assert_int_equal(ledger_keys_sign_tx(&tx, OP, txid, &err), SBX_EINVAL);
    assert_non_null(strstr(err.msg, "trade.quantity"));
}

static void
test_cosign(void **state)
{
    struct ledger_tx tx, bad, dec;
    struct sbx_err err;
    struct buf b;
    uint8_t txid[32];
    size_t ulen;

    (void)state;
    make_directive(&tx, LEDGER_DIR_FREEZE, 0);
    assert_int_equal(ledger_keys_sign_tx(&tx, REG(0), txid, NULL), SBX_OK);
    assert_int_equal(ledger_keys_cosign_tx(&tx, REG(1), NULL), SBX_OK);
    assert_int_equal(ledger_keys_cosign_tx(&tx, REG(2), NULL), SBX_OK);
    sbx_err_clear(&err);
    assert_int_equal(ledger_keys_verify_tx(&tx, txid, &err), SBX_OK);

    /* cosigning does not change the txid */
    {
        uint8_t id2[32];

        assert_int_equal(ledger_tx_id(&tx, id2, NULL), SBX_OK);
        assert_memory_equal(id2, txid, 32);
    }

    /* the same key twice, or the signer again, is refused */
    bad = tx;
    assert_int_equal(ledger_keys_cosign_tx(&bad, REG(1), &err), SBX_ENONCANON);
    assert_int_equal(bad.u.directive.ncosig, 2);
    assert_int_equal(ledger_keys_cosign_tx(&bad, REG(0), &err), SBX_ENONCANON);
    assert_int_equal(bad.u.directive.ncosig, 2);

    /* ... also when it arrives already in the struct or on the wire */
    bad = tx;
    bad.u.directive.cosig[1] = bad.u.directive.cosig[0];
    assert_int_equal(ledger_keys_verify_tx(&bad, txid, &err), SBX_ENONCANON);
    assert_non_null(strstr(err.msg, "cosig[1]"));
    expect_refused(&bad, SBX_ENONCANON, "cosig[1]");
    bad = tx;
    memcpy(bad.u.directive.cosig[0].pubkey, bad.signer, 32);
    assert_int_equal(ledger_keys_verify_tx(&bad, txid, &err), SBX_ENONCANON);
    expect_refused(&bad, SBX_ENONCANON, "cosig[0]");

    encode(&tx, &b);
    /* cosigs are the last 2 x 96 bytes: copy the first over the second */
    memcpy(b.data + b.len - 96, b.data + b.len - 192, 96);
    expect_decode_rc(b.data, b.len, SBX_ENONCANON, "cosig[1]");
    /* a cosigner key that is not on the curve */
    memset(b.data + b.len - 96, 0xff, 32);
    expect_decode_rc(b.data, b.len, SBX_EPUBKEY, "cosig[1]");
    /* a cosignature count over the maximum */
    b.data[b.len - 193] = SBX_MAX_COSIGS + 1;
    expect_decode_rc(b.data, b.len, SBX_ETOOLONG, "cosig");
    buf_release(&b);

    /* a flipped bit in a cosignature names that cosignature */
    for (int bit = 0; bit < 512; bit += 37) {
        bad = tx;
        bad.u.directive.cosig[1].sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        sbx_err_clear(&err);
        assert_int_equal(ledger_keys_verify_tx(&bad, txid, &err), SBX_EBADSIG);
        assert_non_null(strstr(err.msg, "cosig[1]"));
    }

    /* decoded and verified from the wire */
    encode(&tx, &b);
    assert_int_equal(decode_copy(&dec, b.data, b.len, &ulen, &err), SBX_OK);
    assert_int_equal(dec.u.directive.ncosig, 2);
    ledger_tx_id_raw(txid, b.data, ulen);
    assert_int_equal(ledger_keys_verify_tx(&dec, txid, &err), SBX_OK);
    buf_release(&b);

    /* only directives take cosignatures */
    make_trade(&tx, 0);
    sign(&tx, OP);
    assert_int_equal(ledger_keys_cosign_tx(&tx, REG(0), &err), SBX_EINVAL);
}

/* BIP340 test vectors 0 (valid) and 5 (public key not on the curve), 6 (bad signature). */
static void
test_bip340_vectors(void **state)
{
    uint8_t pub[32], msg[32], sig[64];
    struct ledger_key k;
    uint8_t secret[32] = {0};

    (void)state;
    unhex(pub, 32, "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9");
    memset(msg, 0, 32);
    unhex(sig, 64,
          "e907831f80848d1069a5371b402410364bdf1c5f8307b0084c55f1ce2dca8215"
          "25f66a4a85ea8b71e482a74f382d2ce5ebeee8fdb2172f477df4900d310536c0");
    assert_true(ledger_keys_pubkey_valid(pub));
    assert_int_equal(ledger_keys_verify(pub, msg, sig), SBX_OK);

    /* the secret 3 gives that public key */
    secret[31] = 3;
    assert_int_equal(ledger_keys_from_secret(&k, secret), SBX_OK);
    assert_memory_equal(k.pubkey, pub, 32);
    assert_int_equal(ledger_keys_sign(&k, msg, sig), SBX_OK);
    assert_int_equal(ledger_keys_verify(pub, msg, sig), SBX_OK);
    ledger_keys_wipe(&k);
    assert_true(k.secret[31] == 0 && k.pubkey[0] == 0);

    unhex(pub, 32, "eefdea4cdb677750a420fee807eacf21eb9898ae79b9768766e4faa04a2d4a34");
    assert_false(ledger_keys_pubkey_valid(pub));
    assert_int_equal(ledger_keys_verify(pub, msg, sig), SBX_EPUBKEY);
    memset(pub, 0xff, 32);
    assert_false(ledger_keys_pubkey_valid(pub));

    unhex(pub, 32, "dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659");
    unhex(msg, 32, "243f6a8885a308d313198a2e03707344a4093822299f31d0082efa98ec4e6c89");
    unhex(sig, 64,
          "fff97bd5755eeea420453a14355235d382f6472f8568a18b2f057a1460297556"
          "3cc27944640ac607cd107ae10923d9ef7a73c643e166be5ebeafa34b1ac553e2");
    assert_int_equal(ledger_keys_verify(pub, msg, sig), SBX_EBADSIG);

    /* invalid secrets: zero and the group order */
    memset(secret, 0, 32);
    assert_int_equal(ledger_keys_from_secret(&k, secret), SBX_EINVAL);
    unhex(secret, 32, "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
    assert_int_equal(ledger_keys_from_secret(&k, secret), SBX_EINVAL);
}

/* ---- key files ---------------------------------------------------------------------------- */

static void
write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f;

    unlink(path);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void
test_key_files(void **state)
{
    char *dir = test_tmpdir();
    char path[512], other[512];
    struct ledger_key k;
    struct sbx_err err;
    struct stat st;

    (void)state;
    assert_non_null(dir);
    snprintf(path, sizeof(path), "%s/operator.key", dir);
    snprintf(other, sizeof(other), "%s/other.key", dir);

    assert_int_equal(ledger_keys_save(OP, path, &err), SBX_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 65);
    assert_int_equal(ledger_keys_load(&k, path, &err), SBX_OK);
    assert_memory_equal(k.secret, OP->secret, 32);
    assert_memory_equal(k.pubkey, OP->pubkey, 32);
    assert_memory_equal(k.keypair, OP->keypair, sizeof(k.keypair));
    ledger_keys_wipe(&k);

    /* never overwritten */
    assert_int_equal(ledger_keys_save(REG(0), path, &err), SBX_ECONFLICT);
    assert_int_equal(ledger_keys_load(&k, path, &err), SBX_OK);
    assert_memory_equal(k.pubkey, OP->pubkey, 32);

    /* readable by others: refused, with the fix in the message */
    assert_int_equal(chmod(path, 0644), 0);
    sbx_err_clear(&err);
    assert_int_equal(ledger_keys_load(&k, path, &err), SBX_EDENIED);
    assert_non_null(strstr(err.msg, "chmod 600"));
    assert_true(k.secret[0] == 0 && k.pubkey[0] == 0);
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(ledger_keys_load(&k, path, &err), SBX_EDENIED);
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(ledger_keys_load(&k, path, &err), SBX_OK);

    /* malformed contents */
    write_file(other, "0000000000000000000000000000000000000000000000000000000000000003", 0600);
    assert_int_equal(ledger_keys_load(&k, other, &err), SBX_EINVAL); /* no newline */
    write_file(other, "0000000000000000000000000000000000000000000000000000000000000003\n", 0600);
    assert_int_equal(ledger_keys_load(&k, other, &err), SBX_OK);
    write_file(other, "0000000000000000000000000000000000000000000000000000000000000003\n\n", 0600);
    assert_int_equal(ledger_keys_load(&k, other, &err), SBX_EINVAL);
    write_file(other, "000000000000000000000000000000000000000000000000000000000000000A\n", 0600);
    assert_int_equal(ledger_keys_load(&k, other, &err), SBX_EINVAL);
    write_file(other, "00000000000000000000000000000000000000000000000000000000000000g3\n", 0600);
    assert_int_equal(ledger_keys_load(&k, other, &err), SBX_EINVAL);
    write_file(other, "0000000000000000000000000000000000000000000000000000000000000000\n", 0600);
    assert_int_equal(ledger_keys_load(&k, other, &err), SBX_EINVAL); /* zero is no key */
    write_file(other, "", 0600);
    assert_int_equal(ledger_keys_load(&k, other, &err), SBX_EINVAL);
    snprintf(other, sizeof(other), "%s/missing.key", dir);
    assert_int_equal(ledger_keys_load(&k, other, &err), SBX_ENOTFOUND);
    assert_int_equal(ledger_keys_load(&k, dir, &err), SBX_EINVAL); /* not a regular file */

    ledger_keys_wipe(&k);
    test_rmtree(dir);
    free(dir);
}

/* ---- names -------------------------------------------------------------------------------- */

static void
test_names(void **state)
{
    (void)state;
    assert_string_equal(ledger_tx_type_name(LEDGER_TX_GENESIS), "genesis");
    assert_string_equal(ledger_tx_type_name(LEDGER_TX_ACCOUNT_UPDATE), "account_update");
    assert_string_equal(ledger_tx_type_name(LEDGER_TX_ATTESTATION), "attestation");
    assert_null(ledger_tx_type_name(LEDGER_TX_TYPE_MAX + 1));
    assert_null(ledger_tx_type_name(-1));

    for (int i = 1; i <= 4; i++)
        assert_int_equal(ledger_investor_class_parse(ledger_investor_class_name(i)), i);
    assert_string_equal(ledger_investor_class_name(LEDGER_CLASS_FOREIGN_ORG), "foreign_org");
    assert_null(ledger_investor_class_name(0));
    assert_null(ledger_investor_class_name(5));
    assert_int_equal(ledger_investor_class_parse("domestic"), -1);
    assert_int_equal(ledger_investor_class_parse(""), -1);
    assert_int_equal(ledger_investor_class_parse(NULL), -1);

    for (int i = 1; i <= LEDGER_DIR_KIND_MAX; i++)
        assert_int_equal(ledger_directive_kind_parse(ledger_directive_kind_name(i)), i);
    assert_string_equal(ledger_directive_kind_name(LEDGER_DIR_LICENCE_WIND_DOWN),
                        "licence_wind_down");
    assert_int_equal(ledger_directive_kind_parse("sanction_remove"), LEDGER_DIR_SANCTION_REMOVE);
    assert_null(ledger_directive_kind_name(0));
    assert_null(ledger_directive_kind_name(LEDGER_DIR_KIND_MAX + 1));
    assert_int_equal(ledger_directive_kind_parse("HALT"), -1);

    for (int i = 1; i <= 3; i++) {
        assert_int_equal(ledger_travel_protocol_parse(ledger_travel_protocol_name(i)), i);
        assert_int_equal(ledger_travel_status_parse(ledger_travel_status_name(i)), i);
    }
    assert_string_equal(ledger_travel_protocol_name(LEDGER_TRAVEL_TRP), "trp");
    assert_string_equal(ledger_travel_status_name(LEDGER_TRAVEL_PENDING), "pending");
    assert_null(ledger_travel_protocol_name(4));
    assert_int_equal(ledger_travel_status_parse("ok"), -1);

    assert_string_equal(ledger_account_status_name(LEDGER_ACCOUNT_CLOSED), "closed");
    assert_int_equal(ledger_account_status_parse("active"), LEDGER_ACCOUNT_ACTIVE);
    assert_null(ledger_account_status_name(0));
    assert_int_equal(ledger_account_status_parse("frozen"), -1);

    assert_true(ledger_id_valid("a", 1));
    assert_false(ledger_id_valid("ab", 1));
    assert_false(ledger_id_valid("", 8));
    assert_false(ledger_id_valid("a b", 8));
    assert_false(ledger_id_valid("a\x80", 8));
    assert_true(ledger_id_valid("!~", 8));
}

int
test_ledger_tx_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_genesis),
        cmocka_unit_test(test_roundtrip_accounts),
        cmocka_unit_test(test_roundtrip_transfers),
        cmocka_unit_test(test_roundtrip_trade),
        cmocka_unit_test(test_roundtrip_directives),
        cmocka_unit_test(test_roundtrip_attestation),
        cmocka_unit_test(test_encoding_layout),
        cmocka_unit_test(test_reject_header),
        cmocka_unit_test(test_reject_strings),
        cmocka_unit_test(test_reject_enums),
        cmocka_unit_test(test_reject_unused_fields),
        cmocka_unit_test(test_reject_amounts),
        cmocka_unit_test(test_reject_genesis),
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_cosign),
        cmocka_unit_test(test_bip340_vectors),
        cmocka_unit_test(test_key_files),
        cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests_name("ledger_tx", tests, group_setup, group_teardown);
}
