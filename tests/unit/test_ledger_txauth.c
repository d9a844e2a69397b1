/* Unit tests for block-authenticated transactions (ledger/tx_sign.c, tx_encode.c, tx_check.c):
 * the round trip of both kinds of authentication, each refusal of the auth byte (an unknown
 * value, a type that must be signed, a signature's bytes after an unsigned transaction, a
 * nonzero signature in the struct), version 1 refused, and the checks outside and inside a
 * block (ledger_tx_verify, ledger_tx_verify_in_block), a flipped bit in a signature included.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_ledger.h"
#include "tests/unit/test_ledger_txbuild.h"

#include <stdlib.h>
#include <string.h>

/* `tx` made block-authenticated by `signer`, its encoding into `b` (initialised here), its txid
 * into `txid`. */
static void
seal(struct ledger_tx *tx, const uint8_t signer[static 32], struct buf *b, uint8_t txid[32])
{
    struct sbx_err err;

    buf_init(b, SBX_TX_MAX_SIZE);
    sbx_err_clear(&err);
    assert_int_equal(ledger_tx_seal_for_block(tx, signer, b, txid, &err), SBX_OK);
}

static void
test_roundtrip_block_auth(void **state)
{
    struct ledger_tx tx, dec;
    struct sbx_err err;
    struct buf b, u, again;
    uint8_t txid[32], id2[32];
    size_t ulen;

    (void)state;
    make_trade(&tx, 1);
    memset(tx.sig, 0xab, sizeof(tx.sig)); /* left from an earlier signing: cleared */
    seal(&tx, OP->pubkey, &b, txid);
    assert_int_equal(tx.auth, LEDGER_TX_AUTH_BLOCK);
    assert_memory_equal(tx.signer, OP->pubkey, 32);
    assert_int_equal(b.data[2], LEDGER_TX_AUTH_BLOCK);

    /* no signature: the encoding is the unsigned part, and the txid its tagged hash */
    buf_init(&u, SBX_TX_MAX_SIZE);
    assert_int_equal(ledger_tx_encode_unsigned(&tx, &u, NULL), SBX_OK);
    assert_int_equal(u.len, b.len);
    assert_memory_equal(u.data, b.data, b.len);
    assert_int_equal(ledger_tx_id(&tx, id2, NULL), SBX_OK);
    assert_memory_equal(id2, txid, 32);

    assert_int_equal(decode_copy(&dec, b.data, b.len, &ulen, &err), SBX_OK);
    assert_int_equal(ulen, b.len);
    assert_int_equal(dec.auth, LEDGER_TX_AUTH_BLOCK);
    assert_memory_equal(&dec.u, &tx.u, sizeof(tx.u));
    encode(&dec, &again);
    assert_int_equal(again.len, b.len);
    assert_memory_equal(again.data, b.data, b.len);

    /* every strict prefix is truncated */
    for (size_t i = 0; i < b.len; i++)
        expect_decode_rc(b.data, i, SBX_ETRUNCATED, NULL);

    /* the auth byte is in the txid: the same transaction signed has another id */
    sign(&tx, OP);
    assert_int_equal(tx.auth, LEDGER_TX_AUTH_SIG);
    assert_int_equal(ledger_tx_id(&tx, id2, NULL), SBX_OK);
    assert_memory_not_equal(id2, txid, 32);
    check_encoding(&tx);

    buf_release(&b);
    buf_release(&u);
    buf_release(&again);
}

/* Every business type may be block-authenticated and round-trips. */
static void
test_block_auth_business_types(void **state)
{
    struct ledger_tx txs[5], dec;
    struct sbx_err err;
    uint8_t txid[32];
    struct buf b;

    (void)state;
    make_account_open(&txs[0], 0);
    make_account_update(&txs[1], 2, LEDGER_ACCOUNT_CLOSED);
    make_transfer(&txs[2], LEDGER_TX_DEPOSIT, 3);
    make_transfer(&txs[3], LEDGER_TX_WITHDRAWAL, 0);
    make_trade(&txs[4], 0);
    for (size_t i = 0; i < SBX_ARRAY_LEN(txs); i++) {
        assert_true(ledger_tx_is_business(txs[i].type));
        seal(&txs[i], OP->pubkey, &b, txid);
        assert_int_equal(decode_copy(&dec, b.data, b.len, NULL, &err), SBX_OK);
        assert_int_equal(dec.auth, LEDGER_TX_AUTH_BLOCK);
        buf_release(&b);
    }
}

/* Genesis, directives and attestations must be signed: refused by the check, the encoder and
 * the decoder, each naming the auth field. */
static void
test_block_auth_refused_on_signed_types(void **state)
{
    struct ledger_tx tx;
    struct buf b;
    uint8_t *p;
    int types[] = {LEDGER_TX_GENESIS, LEDGER_TX_DIRECTIVE, LEDGER_TX_ATTESTATION};

    (void)state;
    for (size_t i = 0; i < SBX_ARRAY_LEN(types); i++) {
        if (types[i] == LEDGER_TX_GENESIS)
            make_genesis(&tx, 0);
        else if (types[i] == LEDGER_TX_DIRECTIVE)
            make_directive(&tx, LEDGER_DIR_HALT, 0);
        else
            make_attestation(&tx);
        assert_false(ledger_tx_is_business(tx.type));
        signed_encoding(&tx, &b);
        tx.auth = LEDGER_TX_AUTH_BLOCK;
        memset(tx.sig, 0, sizeof(tx.sig));
        expect_refused(&tx, SBX_EINVAL, "tx.auth");
        /* on the wire: refused as soon as the header is read */
        p = b.data;
        p[2] = LEDGER_TX_AUTH_BLOCK;
        expect_decode_rc(p, b.len, SBX_EINVAL, "tx.auth");
        ledger_tx_release(&tx);
        buf_release(&b);
    }
}

/* The bytes of a signature after a block-authenticated transaction, and a signature left in
 * the struct of one. */
static void
test_block_auth_with_signature_refused(void **state)
{
    struct ledger_tx tx;
    struct buf b;
    uint8_t txid[32], *p;

    (void)state;
    make_trade(&tx, 0);
    seal(&tx, OP->pubkey, &b, txid);
    p = calloc(1, b.len + 64);
    assert_non_null(p);
    memcpy(p, b.data, b.len);
    assert_int_equal(ledger_keys_sign(OP, txid, p + b.len), SBX_OK);
    expect_decode_rc(p, b.len + 64, SBX_ETRAILING, "tx.sig");
    expect_decode_rc(p, b.len + 1, SBX_ETRAILING, "tx.sig");
    free(p);
    buf_release(&b);

    tx.sig[63] = 1;
    expect_refused(&tx, SBX_ENONCANON, "tx.sig");
}

/* The version 1 encoding (no auth byte) is refused with its own message. */
static void
test_version1_refused(void **state)
{
    struct ledger_tx tx;
    struct buf b;
    uint8_t *v1;

    (void)state;
    make_trade(&tx, 0);
    signed_encoding(&tx, &b);
    v1 = malloc(b.len - 1);
    assert_non_null(v1);
    v1[0] = 1;
    v1[1] = b.data[1];
    memcpy(v1 + 2, b.data + 3, b.len - 3);
    expect_decode_rc(v1, b.len - 1, SBX_EVERSION, "version 1");
    free(v1);
    /* the version byte alone decides, even with an auth byte that would fit version 2 */
    b.data[0] = 1;
    expect_decode_rc(b.data, b.len, SBX_EVERSION, "version 1");
    buf_release(&b);

    make_trade(&tx, 0);
    sign(&tx, OP);
    tx.version = 1;
    expect_refused(&tx, SBX_EVERSION, "version 1");
}

/* Outside a block, a block-authenticated transaction does not verify; inside one, only with
 * its signer as the producer. A signed one verifies in any producer's block, and a flipped bit
 * of its signature fails in and out of blocks. */
static void
test_verify_in_block(void **state)
{
    struct ledger_tx tx, dir;
    struct sbx_err err;
    struct buf b;
    uint8_t txid[32], dirid[32];

    (void)state;
    make_trade(&tx, 0);
    seal(&tx, OP->pubkey, &b, txid);
    buf_release(&b);
    sbx_err_clear(&err);
    assert_int_equal(ledger_tx_verify(&tx, txid, &err), SBX_EBADSIG);
    assert_non_null(strstr(err.msg, "not signed"));
    assert_int_equal(ledger_tx_verify_in_block(&tx, txid, OP->pubkey, &err), SBX_OK);
    assert_int_equal(ledger_tx_verify_in_block(&tx, txid, REG(0)->pubkey, &err), SBX_EBADSIG);
    assert_non_null(strstr(err.msg, "tx.signer"));

    /* a regulator's unsigned transaction in the operator's block */
    make_trade(&tx, 0);
    seal(&tx, REG(0)->pubkey, &b, txid);
    buf_release(&b);
    assert_int_equal(ledger_tx_verify_in_block(&tx, txid, OP->pubkey, &err), SBX_EBADSIG);
    assert_int_equal(ledger_tx_verify_in_block(&tx, txid, REG(0)->pubkey, &err), SBX_OK);

    /* a regulator's directive, signed, in the operator's block */
    make_directive(&dir, LEDGER_DIR_HALT, 0);
    assert_int_equal(ledger_tx_sign(&dir, REG(0), dirid, NULL), SBX_OK);
    assert_int_equal(ledger_tx_verify_in_block(&dir, dirid, OP->pubkey, &err), SBX_OK);
    assert_int_equal(ledger_tx_verify(&dir, dirid, &err), SBX_OK);
    dir.sig[17] ^= 0x10;
    assert_int_equal(ledger_tx_verify_in_block(&dir, dirid, OP->pubkey, &err), SBX_EBADSIG);
    assert_non_null(strstr(err.msg, "tx.sig"));
    assert_int_equal(ledger_tx_verify(&dir, dirid, &err), SBX_EBADSIG);
}

static void
test_auth_names(void **state)
{
    (void)state;
    assert_string_equal(ledger_tx_auth_name(LEDGER_TX_AUTH_SIG), "signature");
    assert_string_equal(ledger_tx_auth_name(LEDGER_TX_AUTH_BLOCK), "block");
    assert_null(ledger_tx_auth_name(LEDGER_TX_AUTH_MAX + 1));
    assert_int_equal(ledger_tx_auth_parse("block"), LEDGER_TX_AUTH_BLOCK);
    assert_int_equal(ledger_tx_auth_parse("none"), -1);
}

int
test_ledger_txauth_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_block_auth),
        cmocka_unit_test(test_block_auth_business_types),
        cmocka_unit_test(test_block_auth_refused_on_signed_types),
        cmocka_unit_test(test_block_auth_with_signature_refused),
        cmocka_unit_test(test_version1_refused),
        cmocka_unit_test(test_verify_in_block),
        cmocka_unit_test(test_auth_names),
    };

    return cmocka_run_group_tests_name("ledger_txauth", tests, txbuild_group_setup,
                                       txbuild_group_teardown);
}
