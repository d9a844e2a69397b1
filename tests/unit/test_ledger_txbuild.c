/* Builders and checkers shared by the ledger/tx.c and ledger/keys.c unit tests: see
 * test_ledger_txbuild.h. */
#include "tests/unit/test_common.h"
#include "tests/unit/test_ledger_txbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hex.h"
#include "util/sha256.h"

struct ledger_key g_keys[NKEYS];

int
txbuild_group_setup(void **state)
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

int
txbuild_group_teardown(void **state)
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

void
unhex(uint8_t *out, size_t n, const char *hex)
{
    assert_int_equal(hex_decode(out, n, hex, strlen(hex)), SBX_OK);
}

/* ---- builders of valid transactions ----------------------------------------------------- */

void
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

void
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

void
make_account_update(struct ledger_tx *tx, uint8_t tier, uint8_t status)
{
    ledger_tx_init(tx, LEDGER_TX_ACCOUNT_UPDATE);
    tx->timestamp = TS;
    SET(tx->u.account_update.account, "acc-1");
    tx->u.account_update.kyc_tier = tier;
    tx->u.account_update.status = status;
}

/* which: bit 0 travel rule, bit 1 screening, bit 2 max-length strings */
void
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

void
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
        t->executed_at = LEDGER_TIME_END - 1; /* the latest time decoding allows */
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

void
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
    case LEDGER_DIR_RESERVES_ATTEST:
        if (max)
            fill(d->asset, SBX_ASSET_MAX, 'Q');
        else
            SET(d->asset, "VND");
        if (max)
            fill(d->address, SBX_ADDRESS_MAX, 'r');
        else
            SET(d->address, "bank-stmt-2026-12");
        d->value = max ? INT64_MAX : 0;
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

void
make_attestation(struct ledger_tx *tx)
{
    ledger_tx_init(tx, LEDGER_TX_ATTESTATION);
    tx->timestamp = TS;
    tx->u.attestation.height = UINT64_MAX;
    memset(tx->u.attestation.block_hash, 0xab, 32);
}

void
sign(struct ledger_tx *tx, const struct ledger_key *k)
{
    struct sbx_err err;

    sbx_err_clear(&err);
    assert_int_equal(ledger_tx_sign(tx, k, NULL, &err), SBX_OK);
}

/* ---- helpers ---------------------------------------------------------------------------- */

void
encode(const struct ledger_tx *tx, struct buf *b)
{
    struct sbx_err err;

    buf_init(b, SBX_TX_MAX_SIZE);
    sbx_err_clear(&err);
    assert_int_equal(ledger_tx_encode(tx, b, &err), SBX_OK);
}

/* Decode `len` bytes from an exactly-sized heap copy; returns the code and checks that a
 * failure names something and leaves `tx` empty. */
int
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

void
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
void
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
void
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
    assert_int_equal(b.auth, a.auth);
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
    assert_int_equal(ledger_tx_verify(&dec, id2, NULL), SBX_OK);
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

void
signed_encoding(struct ledger_tx *tx, struct buf *b)
{
    sign(tx, tx->type == LEDGER_TX_DIRECTIVE ? REG(0) : OP);
    encode(tx, b);
}

void
sign_and_check(struct ledger_tx *tx, const struct ledger_key *k)
{
    sign(tx, k);
    check_encoding(tx);
}
