/* Unit tests of ledger/store.c: opening and the schema check, synced commits that survive a
 * reopen, atomic batches (all of a block or nothing), prefix scans both ways, the bytes written
 * by kind, the cause of a failed commit; and of ledger/index.c: the merge of every asset's range of
 * the by-asset index.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_ledger.h"
#include "tests/unit/test_ledger_chainbuild.h"

#include "ledger/index.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static void
test_store_open(void **state)
{
    char *tmp, *dir = store_dir_new(&tmp);
    struct ledger_store *s = NULL;
    struct ledger_tip tip;
    struct sbx_err err;
    struct buf v;

    (void)state;

    /* not there and not to be created */
    assert_int_equal(ledger_store_open(&s, dir, 0, &err), SBX_ENOTFOUND);
    assert_null(s);

    s = open_ok(dir, 1);
    assert_int_equal(ledger_store_tip(s, &tip, &err), SBX_ENOTFOUND);
    buf_init(&v, 16);
    assert_int_equal(ledger_store_get(s, "Mschema", 7, &v, &err), SBX_OK);
    assert_int_equal(v.len, 4);
    assert_int_equal(buf_load_u32(v.data), LEDGER_STORE_SCHEMA);
    buf_release(&v);
    ledger_store_close(s);

    /* reopen, without create */
    s = open_ok(dir, 0);
    ledger_store_close(s);
    ledger_store_close(NULL);

    /* a second handle on the same directory is refused (LevelDB's lock) */
    s = open_ok(dir, 0);
    {
        struct ledger_store *s2 = NULL;

        assert_int_equal(ledger_store_open(&s2, dir, 1, &err), SBX_EIO);
        assert_null(s2);
    }
    ledger_store_close(s);

    store_dir_free(tmp, dir);
}

/* Commit `b` (freed here) to a fresh store in `dir` (whatever was there is removed), close it
 * and open it again; returns the code of that open, which must refuse. */
static int
reopen_refused(const char *dir, struct ledger_store_batch *b, int create, struct sbx_err *err)
{
    struct ledger_store *s;
    int rc;

    test_rmtree(dir);
    s = open_ok(dir, 1);
    assert_int_equal(ledger_store_commit(s, b, 1, err), SBX_OK);
    ledger_store_batch_free(b);
    ledger_store_close(s);
    s = NULL;
    sbx_err_clear(err);
    rc = ledger_store_open(&s, dir, create, err);
    assert_int_not_equal(rc, SBX_OK);
    assert_null(s);
    return rc;
}

static void
test_store_schema(void **state)
{
    char *tmp, *dir = store_dir_new(&tmp);
    struct ledger_store_batch *b;
    struct sbx_err err;
    uint8_t v[4];

    (void)state;

    /* a store of a later schema */
    b = ledger_store_batch_new();
    assert_non_null(b);
    buf_store_u32(v, LEDGER_STORE_SCHEMA + 1);
    ledger_store_batch_put(b, "Mschema", 7, v, 4);
    assert_int_equal(reopen_refused(dir, b, 1, &err), SBX_ECORRUPT);
    assert_non_null(strstr(err.msg, "schema version 3"));
    assert_non_null(strstr(err.msg, "version 2"));

    /* a store an older version made (schema 1: transactions without the auth byte) */
    b = ledger_store_batch_new();
    assert_non_null(b);
    buf_store_u32(v, 1);
    ledger_store_batch_put(b, "Mschema", 7, v, 4);
    assert_int_equal(reopen_refused(dir, b, 1, &err), SBX_ECORRUPT);
    assert_non_null(strstr(err.msg, "older version"));
    assert_non_null(strstr(err.msg, "delete it"));

    /* a malformed schema record */
    b = ledger_store_batch_new();
    assert_non_null(b);
    ledger_store_batch_put(b, "Mschema", 7, v, 3);
    assert_int_equal(reopen_refused(dir, b, 0, &err), SBX_ECORRUPT);

    /* a database with records but no schema record */
    b = ledger_store_batch_new();
    assert_non_null(b);
    ledger_store_batch_del(b, "Mschema", 7);
    ledger_store_batch_put(b, "Aacct", 5, "x", 1);
    assert_int_equal(reopen_refused(dir, b, 1, &err), SBX_ECORRUPT);
    assert_non_null(strstr(err.msg, "schema"));

    store_dir_free(tmp, dir);
}

static void
test_store_commit_reopen(void **state)
{
    static const uint8_t zero[32];
    char *tmp, *dir = store_dir_new(&tmp);
    struct ledger_store *s;
    struct ledger_changes c;
    struct ledger_tip tip;
    struct tblock t;
    struct sbx_err err;
    struct buf v;
    uint8_t ch[32], digest[32];
    uint64_t height;
    uint32_t idx;

    (void)state;
    s = open_ok(dir, 1);

    /* a state record that the block deletes */
    {
        struct ledger_store_batch *b = ledger_store_batch_new();

        assert_non_null(b);
        ledger_store_batch_put(b, "Aold", 4, "o", 1);
        assert_int_equal(ledger_store_commit(s, b, 0, &err), SBX_OK);
        ledger_store_batch_free(b);
    }
    ledger_changes_init(&c);
    put_s(&c, "Aalice", "balance=1");
    put_s(&c, "Abob", "balance=2");
    put_s(&c, "Aalice", "balance=3");
    assert_int_equal(ledger_changes_del(&c, "Aold", 4), SBX_OK);
    ledger_changes_hash(&c, ch);
    ledger_state_digest_next(zero, ch, digest);
    tblock_build(&t, 5, 0, zero, digest, 23);
    commit_block(s, &t, &c);
    ledger_store_close(s);

    s = open_ok(dir, 0);
    assert_int_equal(ledger_store_tip(s, &tip, &err), SBX_OK);
    assert_int_equal(tip.height, 0);
    assert_memory_equal(tip.hash, t.hash, 32);
    assert_memory_equal(tip.state_digest, digest, 32);

    buf_init(&v, LEDGER_BLOCK_MAX_SIZE);
    assert_int_equal(ledger_store_get_block(s, 0, &v, &err), SBX_OK);
    assert_int_equal(v.len, t.enc.len);
    assert_memory_equal(v.data, t.enc.data, t.enc.len);
    assert_int_equal(ledger_store_get_block(s, 1, &v, &err), SBX_ENOTFOUND);
    assert_int_equal(ledger_store_height_of(s, t.hash, &height, &err), SBX_OK);
    assert_int_equal(height, 0);
    assert_int_equal(ledger_store_height_of(s, zero, &height, &err), SBX_ENOTFOUND);
    for (uint32_t i = 0; i < 5; i++) {
        assert_int_equal(ledger_store_tx_location(s, t.txids[i], &height, &idx, &err), SBX_OK);
        assert_int_equal(height, 0);
        assert_int_equal(idx, i);
    }
    assert_int_equal(ledger_store_tx_location(s, zero, &height, &idx, &err), SBX_ENOTFOUND);
    assert_int_equal(ledger_store_get(s, "Aalice", 6, &v, &err), SBX_OK);
    assert_int_equal(v.len, 9);
    assert_memory_equal(v.data, "balance=3", 9);
    assert_int_equal(ledger_store_get(s, "Abob", 4, &v, &err), SBX_OK);
    assert_int_equal(ledger_store_get(s, "Aold", 4, &v, &err), SBX_ENOTFOUND);
    assert_int_equal(v.len, 0);
    buf_release(&v);

    /* a value larger than the caller's cap */
    buf_init(&v, 4);
    assert_int_equal(ledger_store_get(s, "Aalice", 6, &v, &err), SBX_ETOOLONG);
    buf_release(&v);

    ledger_store_close(s);
    ledger_changes_release(&c);
    tblock_free(&t);
    store_dir_free(tmp, dir);
}

static void
test_store_atomic(void **state)
{
    static const uint8_t zero[32];
    char *tmp, *dir = store_dir_new(&tmp);
    struct ledger_store *s;
    struct ledger_store_batch *b;
    struct ledger_changes c;
    struct ledger_tip tip;
    struct tblock t;
    struct sbx_err err;
    struct buf v;
    uint64_t height;
    uint32_t idx;
    char key[16];

    (void)state;
    s = open_ok(dir, 1);
    tblock_build(&t, 20, 0, zero, zero, 29);
    ledger_changes_init(&c);
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "Aacct%03d", i);
        put_s(&c, key, "v");
    }
    ledger_changes_finish(&c);
    buf_init(&v, LEDGER_BLOCK_MAX_SIZE);

    /* a batch that is built and never committed leaves nothing */
    b = ledger_store_batch_new();
    assert_non_null(b);
    ledger_store_batch_changes(b, &c);
    {
        struct ledger_tip nt = {0};

        memcpy(nt.hash, t.hash, 32);
        ledger_store_batch_block(b, &nt, t.enc.data, t.enc.len, t.txids, t.b.ntx);
    }
    ledger_store_batch_free(b);
    assert_int_equal(ledger_store_tip(s, &tip, &err), SBX_ENOTFOUND);
    assert_int_equal(ledger_store_get_block(s, 0, &v, &err), SBX_ENOTFOUND);
    assert_int_equal(ledger_store_height_of(s, t.hash, &height, &err), SBX_ENOTFOUND);
    for (size_t i = 0; i < t.b.ntx; i++)
        assert_int_equal(ledger_store_tx_location(s, t.txids[i], &height, &idx, &err),
                         SBX_ENOTFOUND);
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "Aacct%03d", i);
        assert_int_equal(ledger_store_get(s, key, strlen(key), &v, &err), SBX_ENOTFOUND);
    }
    ledger_store_close(s);

    /* ... also across a reopen; then a commit makes all of it visible at once */
    s = open_ok(dir, 0);
    assert_int_equal(ledger_store_tip(s, &tip, &err), SBX_ENOTFOUND);
    commit_block(s, &t, &c);
    assert_int_equal(ledger_store_tip(s, &tip, &err), SBX_OK);
    assert_int_equal(ledger_store_get_block(s, 0, &v, &err), SBX_OK);
    assert_int_equal(ledger_store_height_of(s, t.hash, &height, &err), SBX_OK);
    for (size_t i = 0; i < t.b.ntx; i++)
        assert_int_equal(ledger_store_tx_location(s, t.txids[i], &height, &idx, &err), SBX_OK);
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "Aacct%03d", i);
        assert_int_equal(ledger_store_get(s, key, strlen(key), &v, &err), SBX_OK);
    }
    ledger_store_close(s);

    buf_release(&v);
    ledger_changes_release(&c);
    tblock_free(&t);
    store_dir_free(tmp, dir);
}

/* ---- scans ---- */

struct scan_acc {
    char keys[32][16];
    size_t n;
    size_t stop_after;
};

static int
scan_collect(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct scan_acc *a = ctx;

    (void)val;
    (void)vlen;
    if (a->n < 32 && klen < 16) {
        memcpy(a->keys[a->n], key, klen);
        a->keys[a->n][klen] = '\0';
        a->n++;
    }
    return a->stop_after && a->n >= a->stop_after;
}

/* One scan and what it must find: `n` keys, with want[k].key at position want[k].at. */
struct scan_case {
    const char *prefix;
    const char *start; /* NULL: from the first (or, in reverse, the last) key of the prefix */
    int reverse;
    size_t stop_after; /* the callback stops the scan after this many keys (0: never) */
    size_t n;
    struct {
        size_t at;
        const char *key;
    } want[3];
};

static const struct scan_case scan_cases[] = {
    /* forward over the prefix */
    {"X", NULL, 0, 0, 7, {{0, "X"}, {5, "X4a"}, {6, "X5"}}},
    /* forward from a start key (inclusive) */
    {"X", "X3", 0, 0, 4, {{0, "X3"}, {3, "X5"}}},
    /* reverse over the whole prefix */
    {"X", NULL, 1, 0, 7, {{0, "X5"}, {1, "X4a"}, {6, "X"}}},
    /* reverse from the last key < start */
    {"X", "X4", 1, 0, 4, {{0, "X3"}, {3, "X"}}},
    /* a start between keys, and one past them all */
    {"X", "X4b", 1, 0, 6, {{0, "X4a"}}},
    {"X", "X9", 1, 0, 7, {{0, "X5"}}},
    /* a start outside the prefix's range: the scan still covers just the range */
    {"X", "W9", 0, 0, 7, {{0, "X"}}},
    {"X", "Y0", 1, 0, 7, {{0, "X5"}}},
    /* the callback stops the scan */
    {"X", NULL, 0, 2, 2, {{0, NULL}}},
    {"X", NULL, 1, 1, 1, {{0, "X5"}}},
    /* longer prefixes, an empty range, the last key of the keyspace */
    {"X4", NULL, 1, 0, 2, {{0, "X4a"}}},
    {"Z", NULL, 0, 0, 0, {{0, NULL}}},
    {"Z", NULL, 1, 0, 0, {{0, NULL}}},
    {"\xff\xff", NULL, 1, 0, 1, {{0, NULL}}},
    {"\xff", NULL, 1, 0, 2, {{0, "\xff\xff"}}},
    /* reverse from a start past the last key of the keyspace */
    {"\xff", "\xff\xff\x01", 1, 0, 2, {{0, "\xff\xff"}, {1, "\xff\x01"}}},
};

static void
check_scan(struct ledger_store *s, size_t i, const struct scan_case *c)
{
    struct scan_acc a;
    struct sbx_err err;
    int rc;

    memset(&a, 0, sizeof(a));
    a.stop_after = c->stop_after;
    rc = ledger_store_scan(s, c->prefix, strlen(c->prefix), c->start,
                           c->start ? strlen(c->start) : 0, c->reverse, scan_collect, &a, &err);
    if (rc != SBX_OK || a.n != c->n)
        fail_msg("scan case %zu: rc %s, %zu keys, want %zu", i, sbx_rc_name(rc), a.n, c->n);
    for (size_t k = 0; k < SBX_ARRAY_LEN(c->want) && c->want[k].key != NULL; k++) {
        if (strcmp(a.keys[c->want[k].at], c->want[k].key) != 0)
            fail_msg("scan case %zu: key %zu is \"%s\"", i, c->want[k].at, a.keys[c->want[k].at]);
    }
}

static void
test_store_scan(void **state)
{
    char *tmp, *dir = store_dir_new(&tmp);
    struct ledger_store *s;
    struct ledger_store_batch *b;
    struct sbx_err err;
    const char *keys[] = {"W9", "X", "X1", "X2", "X3", "X4", "X4a", "X5", "Y", "Y0"};

    (void)state;
    s = open_ok(dir, 1);
    b = ledger_store_batch_new();
    assert_non_null(b);
    for (size_t i = 0; i < SBX_ARRAY_LEN(keys); i++)
        ledger_store_batch_put(b, keys[i], strlen(keys[i]), "v", 1);
    ledger_store_batch_put(b, "\xff\x01", 2, "v", 1);
    ledger_store_batch_put(b, "\xff\xff", 2, "v", 1);
    assert_int_equal(ledger_store_commit(s, b, 0, &err), SBX_OK);
    ledger_store_batch_free(b);

    for (size_t i = 0; i < SBX_ARRAY_LEN(scan_cases); i++)
        check_scan(s, i, &scan_cases[i]);

    ledger_store_close(s);
    store_dir_free(tmp, dir);
}

/* What a commit adds to the bytes-written counters: keys and values by kind, a delete its key;
 * nothing for a batch that is not committed. */
static void
test_store_written(void **state)
{
    char *tmp, *dir = store_dir_new(&tmp);
    struct ledger_store *s;
    struct ledger_store_batch *b, *b2;
    struct sbx_err err;
    uint64_t w[LEDGER_STORE_KINDS], base[LEDGER_STORE_KINDS];

    (void)state;
    s = open_ok(dir, 1);
    ledger_store_written(s, base);
    b = ledger_store_batch_new();
    b2 = ledger_store_batch_new();
    assert_non_null(b);
    assert_non_null(b2);
    ledger_store_batch_put(b, "Xab", 3, "12345", 5);
    ledger_store_batch_put(b, "Y", 1, "", 0);
    ledger_store_batch_del(b2, "Xc", 2);
    ledger_store_batch_append(b, b2);
    ledger_store_written(s, w);
    assert_true(w['X'] == base['X']);
    assert_int_equal(ledger_store_commit(s, b, 0, &err), SBX_OK);
    ledger_store_written(s, w);
    assert_true(w['X'] - base['X'] == 3 + 5 + 2);
    assert_true(w['Y'] - base['Y'] == 1);
    assert_true(w['Z'] == base['Z']);
    ledger_store_batch_free(b);
    ledger_store_batch_free(b2);
    ledger_store_close(s);
    store_dir_free(tmp, dir);
}

static void
put_pos(struct ledger_store_batch *b, const char *asset, int64_t t, uint64_t h, uint32_t i)
{
    uint8_t k[LEDGER_STORE_KEY_INDEX_MAX];

    ledger_store_batch_put(b, k, ledger_store_key_index(k, LEDGER_K_BY_ASSET, asset, -1, t, h, i),
                           "", 0);
}

/* Merge `n` positions before `before` from `from`; compare with want (time, height, index). */
static void
check_merge(struct ledger_store *s, const struct ledger_index_pos *before, int64_t from, size_t n,
            const uint64_t (*want)[3], size_t nwant)
{
    struct ledger_index_pos out[16];
    struct sbx_err err;
    size_t got = 99;

    assert_true(n <= 16);
    assert_int_equal(
        ledger_index_merge(s, LEDGER_K_BY_ASSET, before, from, n, out, &got, 1000, &err), SBX_OK);
    assert_int_equal(got, nwant);
    for (size_t i = 0; i < nwant; i++) {
        assert_true(out[i].time == want[i][0]);
        assert_true(out[i].height == want[i][1]);
        assert_true(out[i].index == want[i][2]);
    }
}

/* The list of all trades from the by-asset ranges: newest first across assets (one a prefix of
 * another), the same millisecond ordered by place, a cursor, a lower time bound, a budget. */
static void
test_index_merge(void **state)
{
    static const uint64_t top3[][3] = {{60, 6, 0}, {50, 5, 1}, {50, 5, 0}};
    static const uint64_t after[][3] = {{40, 4, 0}, {30, 3, 0}, {20, 2, 0}, {10, 1, 0}};
    static const uint64_t from25[][3] = {
        {60, 6, 0}, {50, 5, 1}, {50, 5, 0}, {40, 4, 0}, {30, 3, 0}};
    const struct ledger_index_pos cur = {50, 5, 0};
    char *tmp, *dir = store_dir_new(&tmp);
    struct ledger_index_pos out[4];
    struct ledger_store *s;
    struct ledger_store_batch *b;
    struct sbx_err err;
    size_t got;

    (void)state;
    s = open_ok(dir, 1);
    b = ledger_store_batch_new();
    assert_non_null(b);
    put_pos(b, "BTC", 10, 1, 0);
    put_pos(b, "BTC", 30, 3, 0);
    put_pos(b, "BTC", 50, 5, 1);
    put_pos(b, "BTCX", 20, 2, 0);
    put_pos(b, "BTCX", 50, 5, 0);
    put_pos(b, "ETH", 40, 4, 0);
    put_pos(b, "ETH", 60, 6, 0);
    ledger_store_batch_put(b, "X", 1, "", 0); /* other kinds around the range */
    ledger_store_batch_put(b, "Z", 1, "", 0);
    assert_int_equal(ledger_store_commit(s, b, 0, &err), SBX_OK);
    ledger_store_batch_free(b);

    check_merge(s, NULL, 0, 3, top3, 3);
    check_merge(s, &cur, 0, 10, after, 4);
    check_merge(s, NULL, 25, 10, from25, 5);
    check_merge(s, NULL, 0, 0, NULL, 0);
    /* three names and their entries do not fit in four keys looked at */
    assert_int_equal(ledger_index_merge(s, LEDGER_K_BY_ASSET, NULL, 0, 4, out, &got, 4, &err),
                     SBX_EUNAVAIL);
    assert_int_equal(got, 0);
    /* an index with no entry */
    assert_int_equal(ledger_index_merge(s, LEDGER_K_REJECTION_ALL, NULL, 0, 4, out, &got, 4, &err),
                     SBX_OK);
    assert_int_equal(got, 0);
    ledger_store_close(s);
    store_dir_free(tmp, dir);
}

/* A commit the file system refuses (here: over RLIMIT_FSIZE, EFBIG) fails with SBX_EIO and
 * leaves its cause; none before, and the first cause stays. */
static void
test_store_write_failure(void **state)
{
    char *tmp, *dir = store_dir_new(&tmp);
    struct ledger_store *s = open_ok(dir, 1);
    struct ledger_store_batch *b = ledger_store_batch_new();
    static uint8_t big[256 * 1024];
    struct rlimit old, small;
    void (*old_xfsz)(int);
    struct sbx_err err;

    (void)state;
    assert_non_null(b);
    assert_null(ledger_store_write_failure(s));
    ledger_store_batch_put(b, "Aone", 4, "x", 1);
    assert_int_equal(ledger_store_commit(s, b, 1, &err), SBX_OK);
    assert_null(ledger_store_write_failure(s));
    ledger_store_batch_free(b);

    b = ledger_store_batch_new();
    assert_non_null(b);
    ledger_store_batch_put(b, "Abig", 4, big, sizeof(big));
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = 64 * 1024;
    old_xfsz = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    sbx_err_clear(&err);
    assert_int_equal(ledger_store_commit(s, b, 1, &err), SBX_EIO);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_xfsz);
    assert_non_null(strstr(err.msg, "commit failed"));
    assert_string_equal(ledger_store_write_failure(s), "write_error");
    ledger_store_batch_free(b);

    ledger_store_close(s);
    store_dir_free(tmp, dir);
}

int
test_ledger_store_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_open),          cmocka_unit_test(test_store_schema),
        cmocka_unit_test(test_store_commit_reopen), cmocka_unit_test(test_store_atomic),
        cmocka_unit_test(test_store_scan),          cmocka_unit_test(test_store_written),
        cmocka_unit_test(test_index_merge),         cmocka_unit_test(test_store_write_failure),
    };

    return cmocka_run_group_tests_name("ledger_store", tests, chainbuild_group_setup,
                                       chainbuild_group_teardown);
}
