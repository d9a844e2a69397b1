/* Unit tests for the key builders of ledger/store.c: every key of the store, byte for byte, as
 * the writers in ledger/, compliance/, node/ and rpc/ laid them out by hand before the builders
 * existed (a store written then must read the same now), ids at their maximum length and cut
 * beyond it, and the prefixes that scans start from.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_ledger.h"

#include <string.h>

#include "ledger/store.h"

/* `len` bytes of `key` are exactly the `n` bytes of `want`. */
#define ASSERT_KEY(key, len, want, n)                                                              \
    do {                                                                                           \
        assert_int_equal((len), (n));                                                              \
        assert_memory_equal((key), (want), (n));                                                   \
    } while (0)

static void
fill(char *s, size_t n, char c)
{
    memset(s, c, n);
    s[n] = '\0';
}

static void
test_meta_keys(void **state)
{
    uint8_t k[LEDGER_STORE_KEY_META_MAX], a[LEDGER_STORE_KEY_META_ALERT_LEN];
    static const uint8_t alert[] = {'M', 'A', 0, 0, 0, 0, 0, 0, 0x01, 0x02};

    (void)state;
    ASSERT_KEY(k, ledger_store_key_meta_schema(k), "Mschema", 7);
    ASSERT_KEY(k, ledger_store_key_meta_tip(k), "Mtip", 4);
    ASSERT_KEY(k, ledger_store_key_meta_state(k), "Mstate", 6);
    ASSERT_KEY(a, ledger_store_key_meta_alert(a, 0x0102), alert, sizeof(alert));
    ASSERT_KEY(a, ledger_store_prefix_meta_alert(a), "MA", 2);
}

static void
test_block_keys(void **state)
{
    uint8_t k[LEDGER_STORE_KEY_HASH_LEN], h[32], want[33];
    static const uint8_t block[] = {'B', 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};

    (void)state;
    assert_int_equal(LEDGER_STORE_KEY_BLOCK_LEN, 9);
    ASSERT_KEY(k, ledger_store_key_block(k, 0x0102030405060708ULL), block, sizeof(block));
    for (int i = 0; i < 32; i++)
        h[i] = (uint8_t)(0xa0 + i);
    memcpy(want + 1, h, 32);
    want[0] = 'H';
    ASSERT_KEY(k, ledger_store_key_hash(k, h), want, 33);
    want[0] = 'T';
    ASSERT_KEY(k, ledger_store_key_tx(k, h), want, 33);
    want[0] = 'L';
    ASSERT_KEY(k, ledger_store_key_alert(k, h), want, 33);
}

/* 'I' kind id; 'A' id; 'U' id: the id cut at SBX_ID_MAX bytes. */
static void
test_id_keys(void **state)
{
    uint8_t k[LEDGER_STORE_KEY_IDEM_MAX], want[2 + SBX_ID_MAX];
    char id[SBX_ID_MAX + 2];

    (void)state;
    ASSERT_KEY(k, ledger_store_key_idem(k, 2, "T-1"), "I\x02T-1", 5);
    ASSERT_KEY(k, ledger_store_key_account(k, "alice"), "Aalice", 6);
    ASSERT_KEY(k, ledger_store_key_usage(k, "alice"), "Ualice", 6);
    ASSERT_KEY(k, ledger_store_key_idem(k, 1, ""), "I\x01", 2);

    fill(id, SBX_ID_MAX + 1, 'x'); /* one byte over: the writers cut it */
    want[0] = 'I';
    want[1] = 3;
    memset(want + 2, 'x', SBX_ID_MAX);
    ASSERT_KEY(k, ledger_store_key_idem(k, 3, id), want, 2 + SBX_ID_MAX);
    want[1] = 'A';
    ASSERT_KEY(k, ledger_store_key_account(k, id), want + 1, 1 + SBX_ID_MAX);
    want[1] = 'U';
    ASSERT_KEY(k, ledger_store_key_usage(k, id), want + 1, 1 + SBX_ID_MAX);
}

/* 'P' 'p', 'S' 'g', 'S' list entry (cut at SBX_ADDRESS_MAX). */
static void
test_compliance_keys(void **state)
{
    uint8_t k[LEDGER_STORE_KEY_LIST_MAX], want[2 + SBX_ADDRESS_MAX];
    char addr[SBX_ADDRESS_MAX + 2];

    (void)state;
    ASSERT_KEY(k, ledger_store_key_params(k), "Pp", 2);
    ASSERT_KEY(k, ledger_store_key_list_global(k), "Sg", 2);
    ASSERT_KEY(k, ledger_store_key_list(k, LEDGER_LIST_ACCOUNT, "bob"), "Sabob", 5);
    ASSERT_KEY(k, ledger_store_key_list(k, LEDGER_LIST_ADDRESS, "bc1q"), "Sdbc1q", 6);
    fill(addr, SBX_ADDRESS_MAX + 1, 'z');
    want[0] = 'S';
    want[1] = 'd';
    memset(want + 2, 'z', SBX_ADDRESS_MAX);
    ASSERT_KEY(k, ledger_store_key_list(k, LEDGER_LIST_ADDRESS, addr), want, sizeof(want));
}

/* 'D' address: the Travel Rule window of an external address, cut at SBX_REF_MAX. */
static void
test_address_keys(void **state)
{
    uint8_t k[LEDGER_STORE_KEY_ADDRESS_MAX], want[1 + SBX_REF_MAX];
    char addr[SBX_REF_MAX + 2];

    (void)state;
    assert_int_equal(LEDGER_STORE_KEY_ADDRESS_MAX, 1 + SBX_REF_MAX);
    ASSERT_KEY(k, ledger_store_key_address(k, "bc1qxy"), "Dbc1qxy", 7);
    ASSERT_KEY(k, ledger_store_key_address(k, ""), "D", 1);
    fill(addr, SBX_REF_MAX + 1, 'q'); /* one byte over: cut */
    want[0] = 'D';
    memset(want + 1, 'q', SBX_REF_MAX);
    ASSERT_KEY(k, ledger_store_key_address(k, addr), want, sizeof(want));
}

/* 'K' kind u64 time 32 id, and its per-kind prefix. */
static void
test_alert_index_keys(void **state)
{
    uint8_t k[LEDGER_STORE_KEY_ALERT_INDEX_LEN], id[32], want[42];

    (void)state;
    for (int i = 0; i < 32; i++)
        id[i] = (uint8_t)i;
    want[0] = 'K';
    want[1] = 3;
    memcpy(want + 2, "\x00\x00\x01\x8b\xcf\xe5\x68\x00", 8); /* 1700000000000 */
    memcpy(want + 10, id, 32);
    ASSERT_KEY(k, ledger_store_key_alert_index(k, 3, 1700000000000LL, id), want, sizeof(want));
    ASSERT_KEY(k, ledger_store_prefix_alert_index(k, 3), "K\x03", 2);
    /* a seek key for the alerts of kind 3 before a time */
    ASSERT_KEY(k, ledger_store_key_seek(k, want, 2, 1700000000000ULL), want, 10);
}

/* The four secondary indexes: kind [u16 rule] [name 0x00] | u64 time | u64 height | u32 index
 * (no txid: the place names the transaction). */
static void
test_index_keys(void **state)
{
    uint8_t k[LEDGER_STORE_KEY_INDEX_MAX], want[LEDGER_STORE_KEY_INDEX_MAX];
    static const uint8_t pos[20] = {0, 0, 0, 0, 0, 0, 0x30, 0x39, /* time 12345 */
                                    0, 0, 0, 0, 0, 0, 0,    7,    /* height 7 */
                                    0, 0, 0, 2};                  /* index 2 */
    char name[SBX_ID_MAX + 2];
    size_t n;

    (void)state;

    /* 'X' account 0x00 POS */
    memcpy(want, "Xalice\0", 7);
    memcpy(want + 7, pos, 20);
    ASSERT_KEY(k, ledger_store_key_index(k, LEDGER_K_BY_ACCOUNT, "alice", -1, 12345, 7, 2), want,
               7 + LEDGER_INDEX_TAIL);
    ASSERT_KEY(k, ledger_store_prefix_index(k, LEDGER_K_BY_ACCOUNT, "alice", -1), want, 7);
    ASSERT_KEY(k, ledger_store_key_seek(k, want, 7, 12345), want, 15);

    /* 'Y' asset 0x00 POS */
    memcpy(want, "YBTC\0", 5);
    memcpy(want + 5, pos, 20);
    ASSERT_KEY(k, ledger_store_key_index(k, LEDGER_K_BY_ASSET, "BTC", -1, 12345, 7, 2), want,
               5 + LEDGER_INDEX_TAIL);
    ASSERT_KEY(k, ledger_store_prefix_index(k, LEDGER_K_BY_ASSET, "BTC", -1), want, 5);

    /* 'R' u16 rule POS */
    memcpy(want, "R\x00\x15", 3);
    memcpy(want + 3, pos, 20);
    ASSERT_KEY(k, ledger_store_key_index(k, LEDGER_K_REJECTION, NULL, 21, 12345, 7, 2), want,
               3 + LEDGER_INDEX_TAIL);
    ASSERT_KEY(k, ledger_store_prefix_index(k, LEDGER_K_REJECTION, NULL, 21), want, 3);

    /* 'Q' POS */
    want[0] = 'Q';
    memcpy(want + 1, pos, 20);
    ASSERT_KEY(k, ledger_store_key_index(k, LEDGER_K_REJECTION_ALL, NULL, -1, 12345, 7, 2), want,
               1 + LEDGER_INDEX_TAIL);
    ASSERT_KEY(k, ledger_store_prefix_index(k, LEDGER_K_REJECTION_ALL, NULL, -1), "Q", 1);

    /* a name at the maximum, and one byte over (cut), fills the longest key exactly */
    fill(name, SBX_ID_MAX + 1, 'n');
    want[0] = 'X';
    memset(want + 1, 'n', SBX_ID_MAX);
    want[1 + SBX_ID_MAX] = 0;
    n = 2 + SBX_ID_MAX;
    ASSERT_KEY(k, ledger_store_prefix_index(k, LEDGER_K_BY_ACCOUNT, name, -1), want, n);
    name[SBX_ID_MAX] = '\0';
    ASSERT_KEY(k, ledger_store_prefix_index(k, LEDGER_K_BY_ACCOUNT, name, -1), want, n);
    n = ledger_store_key_index(k, LEDGER_K_BY_ACCOUNT, name, 0xffff, -1, UINT64_MAX, UINT32_MAX);
    assert_int_equal(n, LEDGER_STORE_KEY_INDEX_MAX);
    assert_memory_equal(k, "X\xff\xff", 3);
    assert_memory_equal(k + 3, want + 1, SBX_ID_MAX + 1);
    assert_memory_equal(k + n - LEDGER_INDEX_TAIL, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
}

static void
test_key_is_alert(void **state)
{
    (void)state;
    assert_true(ledger_store_key_is_alert((const uint8_t *)"L", 1));
    assert_true(ledger_store_key_is_alert((const uint8_t *)"K\x01", 2));
    assert_false(ledger_store_key_is_alert((const uint8_t *)"A", 1));
    assert_false(ledger_store_key_is_alert((const uint8_t *)"M", 1));
    assert_false(ledger_store_key_is_alert((const uint8_t *)"L", 0));
}

/* 'V' len key height: every version of one state key under its own prefix, which no other key's
 * versions share (the length byte: "Abob" is not a prefix of "Abob2"'s), oldest first, and
 * parsed back. */
static void
test_history_keys(void **state)
{
    uint8_t k[LEDGER_STORE_KEY_HISTORY_MAX], k2[LEDGER_STORE_KEY_HISTORY_MAX];
    uint8_t p[LEDGER_STORE_KEY_HISTORY_MAX], big[LEDGER_STORE_STATE_KEY_MAX];
    static const uint8_t want[] = {'V', 4, 'A', 'b', 'o', 'b', 0, 0, 0, 0, 0, 0, 0x01, 0x02};
    const uint8_t *key;
    size_t klen, n, plen;
    uint64_t h;

    (void)state;
    ASSERT_KEY(k, ledger_store_key_history(k, (const uint8_t *)"Abob", 4, 0x0102), want,
               sizeof(want));
    plen = ledger_store_prefix_history(p, (const uint8_t *)"Abob", 4);
    ASSERT_KEY(p, plen, want, 6);
    assert_true(ledger_store_key_history_parse(k, sizeof(want), &key, &klen, &h));
    assert_int_equal(klen, 4);
    assert_memory_equal(key, "Abob", 4);
    assert_int_equal(h, 0x0102);
    /* a longer id's versions do not start with the shorter one's prefix */
    n = ledger_store_key_history(k2, (const uint8_t *)"Abob2", 5, 0);
    assert_true(memcmp(k2, p, plen) != 0);
    /* a later version sorts after, the account's usage after all of the account's versions */
    n = ledger_store_key_history(k2, (const uint8_t *)"Abob", 4, 0x0103);
    assert_true(memcmp(k, k2, n) < 0);
    ledger_store_key_history(k2, (const uint8_t *)"Ubob", 4, 0);
    ledger_store_key_history(k, (const uint8_t *)"Abob", 4, UINT64_MAX);
    assert_true(memcmp(k, k2, n) < 0);
    /* the longest state key */
    memset(big, 'S', sizeof(big));
    n = ledger_store_key_history(k, big, sizeof(big), 7);
    assert_int_equal(n, LEDGER_STORE_KEY_HISTORY_MAX);
    assert_true(ledger_store_key_history_parse(k, n, &key, &klen, &h));
    assert_int_equal(klen, LEDGER_STORE_STATE_KEY_MAX);
    assert_int_equal(h, 7);
    /* not history keys: another kind, one byte short or long, too short for any */
    n = ledger_store_key_history(k, (const uint8_t *)"Abob", 4, 1);
    assert_false(ledger_store_key_history_parse(k, n - 1, &key, &klen, &h));
    assert_false(ledger_store_key_history_parse(k, n + 1, &key, &klen, &h));
    assert_false(ledger_store_key_history_parse(k, 9, &key, &klen, &h));
    k[0] = 'Z';
    assert_false(ledger_store_key_history_parse(k, n, &key, &klen, &h));
}

static void
test_key_is_state(void **state)
{
    uint8_t big[LEDGER_STORE_STATE_KEY_MAX + 1];

    (void)state;
    for (const char *c = "AUDPS"; *c; c++)
        assert_true(ledger_store_key_is_state((const uint8_t *)c, 1));
    for (const char *c = "IMBHTLKXYRQV"; *c; c++)
        assert_false(ledger_store_key_is_state((const uint8_t *)c, 1));
    assert_false(ledger_store_key_is_state((const uint8_t *)"A", 0));
    memset(big, 'A', sizeof(big));
    assert_true(ledger_store_key_is_state(big, LEDGER_STORE_STATE_KEY_MAX));
    assert_false(ledger_store_key_is_state(big, LEDGER_STORE_STATE_KEY_MAX + 1));
}

int
test_ledger_storekey_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta_keys),        cmocka_unit_test(test_block_keys),
        cmocka_unit_test(test_id_keys),          cmocka_unit_test(test_compliance_keys),
        cmocka_unit_test(test_alert_index_keys), cmocka_unit_test(test_index_keys),
        cmocka_unit_test(test_address_keys),     cmocka_unit_test(test_key_is_alert),
        cmocka_unit_test(test_history_keys),     cmocka_unit_test(test_key_is_state),
    };

    return cmocka_run_group_tests_name("ledger store keys", tests, NULL, NULL);
}
