/* Unit tests for ledger/keys.c: signing and verifying transactions (every flipped bit of a
 * signature), cosignatures of directives, the BIP340 test vectors, and key files (modes,
 * never overwritten, malformed contents).
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_ledger.h"
#include "tests/unit/test_ledger_txbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    assert_int_equal(ledger_tx_sign(&tx, OP, txid, &err), SBX_OK);
    assert_memory_equal(tx.signer, OP->pubkey, 32);
    assert_int_equal(ledger_tx_id(&tx, id2, NULL), SBX_OK);
    assert_memory_equal(txid, id2, 32);
    assert_int_equal(ledger_tx_verify(&tx, txid, &err), SBX_OK);
    assert_int_equal(ledger_keys_verify(OP->pubkey, txid, tx.sig), SBX_OK);

    /* every single-bit change of the signature is caught */
    for (int bit = 0; bit < 512; bit++) {
        struct ledger_tx bad = tx;

        bad.sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        sbx_err_clear(&err);
        assert_int_equal(ledger_tx_verify(&bad, txid, &err), SBX_EBADSIG);
        assert_non_null(strstr(err.msg, "tx.sig"));
    }

    /* another key's signature, or a different message, does not verify */
    assert_int_equal(ledger_keys_verify(REG(0)->pubkey, txid, tx.sig), SBX_EBADSIG);
    id2[0] ^= 1;
    assert_int_equal(ledger_tx_verify(&tx, id2, NULL), SBX_EBADSIG);

    /* a flipped bit in the body: still decodes, but the txid changes and the signature fails */
    encode(&tx, &b);
    b.data[HDR + 3 + 6 + 4 + 4 + 7] ^= 0x02; /* low byte of quantity */
    assert_int_equal(decode_copy(&dec, b.data, b.len, &ulen, &err), SBX_OK);
    assert_int_not_equal(dec.u.trade.quantity, tx.u.trade.quantity);
    ledger_tx_id_raw(id2, b.data, ulen);
    assert_memory_not_equal(id2, txid, 32);
    assert_int_equal(ledger_tx_verify(&dec, id2, &err), SBX_EBADSIG);
    buf_release(&b);

    /* a signer that is not a key */
    memset(tx.signer, 0xff, 32);
    assert_int_equal(ledger_tx_verify(&tx, txid, &err), SBX_EPUBKEY);
    assert_non_null(strstr(err.msg, "tx.signer"));

    /* signing refuses an invalid transaction and says why */
    make_trade(&tx, 0);
    tx.u.trade.quantity = 0;
    sbx_err_clear(&err);
    assert_int_equal(ledger_tx_sign(&tx, OP, txid, &err), SBX_EINVAL);
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
    assert_int_equal(ledger_tx_sign(&tx, REG(0), txid, NULL), SBX_OK);
    assert_int_equal(ledger_tx_cosign(&tx, REG(1), NULL), SBX_OK);
    assert_int_equal(ledger_tx_cosign(&tx, REG(2), NULL), SBX_OK);
    sbx_err_clear(&err);
    assert_int_equal(ledger_tx_verify(&tx, txid, &err), SBX_OK);

    /* cosigning does not change the txid */
    {
        uint8_t id2[32];

        assert_int_equal(ledger_tx_id(&tx, id2, NULL), SBX_OK);
        assert_memory_equal(id2, txid, 32);
    }

    /* the same key twice, or the signer again, is refused */
    bad = tx;
    assert_int_equal(ledger_tx_cosign(&bad, REG(1), &err), SBX_ENONCANON);
    assert_int_equal(bad.u.directive.ncosig, 2);
    assert_int_equal(ledger_tx_cosign(&bad, REG(0), &err), SBX_ENONCANON);
    assert_int_equal(bad.u.directive.ncosig, 2);

    /* ... also when it arrives already in the struct or on the wire */
    bad = tx;
    bad.u.directive.cosig[1] = bad.u.directive.cosig[0];
    assert_int_equal(ledger_tx_verify(&bad, txid, &err), SBX_ENONCANON);
    assert_non_null(strstr(err.msg, "cosig[1]"));
    expect_refused(&bad, SBX_ENONCANON, "cosig[1]");
    bad = tx;
    memcpy(bad.u.directive.cosig[0].pubkey, bad.signer, 32);
    assert_int_equal(ledger_tx_verify(&bad, txid, &err), SBX_ENONCANON);
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
        assert_int_equal(ledger_tx_verify(&bad, txid, &err), SBX_EBADSIG);
        assert_non_null(strstr(err.msg, "cosig[1]"));
    }

    /* decoded and verified from the wire */
    encode(&tx, &b);
    assert_int_equal(decode_copy(&dec, b.data, b.len, &ulen, &err), SBX_OK);
    assert_int_equal(dec.u.directive.ncosig, 2);
    ledger_tx_id_raw(txid, b.data, ulen);
    assert_int_equal(ledger_tx_verify(&dec, txid, &err), SBX_OK);
    buf_release(&b);

    /* only directives take cosignatures */
    make_trade(&tx, 0);
    sign(&tx, OP);
    assert_int_equal(ledger_tx_cosign(&tx, REG(0), &err), SBX_EINVAL);
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

int
test_ledger_keys_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_cosign),
        cmocka_unit_test(test_bip340_vectors),
        cmocka_unit_test(test_key_files),
    };

    return cmocka_run_group_tests_name("ledger_keys", tests, txbuild_group_setup,
                                       txbuild_group_teardown);
}
