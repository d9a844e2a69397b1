/* Unit tests of ledger/store.c under failure: a process that exits or is killed in the middle
 * of a stream of synced commits leaves whole blocks only, and chain verification finds a
 * tampered block, a broken index and a missing block.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_ledger.h"
#include "tests/unit/test_ledger_chainbuild.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- crash simulation ---- */

#define CRASH_TXS 3

/* The changes of block h: its own account record, plus a counter every block overwrites. */
static int
crash_changes(struct ledger_changes *c, uint64_t h, uint8_t prev_digest[32], uint8_t digest[32])
{
    char key[32];
    uint8_t v[8], ch[32];
    int rc;

    ledger_changes_reset(c);
    snprintf(key, sizeof(key), "Ablock%06llu", (unsigned long long)h);
    buf_store_u64(v, h);
    rc = ledger_changes_put(c, key, strlen(key), v, 8);
    rc = rc ? rc : ledger_changes_put(c, "Ucount", 6, v, 8);
    if (rc)
        return rc;
    ledger_changes_hash(c, ch);
    ledger_state_digest_next(prev_digest, ch, digest);
    return SBX_OK;
}

/* The child: commit blocks 0..n-1 synced, report each height on `ackfd` after its commit (if
 * >= 0), then leave without closing anything. No cmocka here: failures are exit codes. */
static void
crash_child(const char *dir, uint64_t n, int ackfd)
{
    struct ledger_store *s = NULL;
    struct ledger_changes c;
    struct sbx_err err;
    uint8_t prev[32] = {0}, digest[32] = {0}, next[32];

    if (ledger_store_open(&s, dir, 1, &err) != SBX_OK)
        _exit(2);
    ledger_changes_init(&c);
    for (uint64_t h = 0; h < n; h++) {
        struct ledger_store_batch *b;
        struct ledger_tip tip;
        struct tblock t;

        if (crash_changes(&c, h, digest, next) != SBX_OK)
            _exit(3);
        if (tblock_make(&t, CRASH_TXS, h, prev, next, (unsigned)h) != SBX_OK)
            _exit(7);
        b = ledger_store_batch_new();
        if (b == NULL)
            _exit(4);
        tip.height = h;
        memcpy(tip.hash, t.hash, 32);
        memcpy(tip.state_digest, next, 32);
        ledger_store_batch_changes(b, &c);
        ledger_store_batch_block(b, &tip, t.enc.data, t.enc.len, t.txids, t.b.ntx);
        if (ledger_store_commit(s, b, 1, &err) != SBX_OK)
            _exit(5);
        ledger_store_batch_free(b);
        memcpy(prev, t.hash, 32);
        memcpy(digest, next, 32);
        tblock_free(&t);
        if (ackfd >= 0) {
            uint8_t ack[8];

            buf_store_u64(ack, h);
            if (write(ackfd, ack, 8) != 8)
                _exit(6);
        }
    }
    _exit(0); /* no close, no flush: as if the process died here */
}

/* After a crash: the tip is a whole block, the chain up to it verifies, every block's changes
 * are there and nothing of a later block is. */
static void
crash_check(const char *dir, uint64_t at_least)
{
    struct ledger_store *s = open_ok(dir, 0);
    struct ledger_tip tip;
    struct sbx_err err;
    struct buf v;
    uint64_t checked, failed_at;
    char key[32];
    int rc;

    assert_int_equal(ledger_store_tip(s, &tip, &err), SBX_OK);
    assert_true(tip.height >= at_least);
    rc = ledger_store_verify(s, 0, UINT64_MAX, &checked, &failed_at, &err);
    if (rc)
        print_error("verify: %s\n", err.msg);
    assert_int_equal(rc, SBX_OK);
    assert_int_equal(checked, tip.height + 1);
    buf_init(&v, LEDGER_BLOCK_MAX_SIZE);
    for (uint64_t h = 0; h <= tip.height; h++) {
        snprintf(key, sizeof(key), "Ablock%06llu", (unsigned long long)h);
        assert_int_equal(ledger_store_get(s, key, strlen(key), &v, &err), SBX_OK);
        assert_int_equal(buf_load_u64(v.data), h);
    }
    assert_int_equal(ledger_store_get(s, "Ucount", 6, &v, &err), SBX_OK);
    assert_int_equal(buf_load_u64(v.data), tip.height);
    snprintf(key, sizeof(key), "Ablock%06llu", (unsigned long long)(tip.height + 1));
    assert_int_equal(ledger_store_get(s, key, strlen(key), &v, &err), SBX_ENOTFOUND);
    assert_int_equal(ledger_store_get_block(s, tip.height + 1, &v, &err), SBX_ENOTFOUND);
    /* the state digest chain recomputed from the stored changes matches the tip */
    {
        struct ledger_changes c;
        uint8_t digest[32] = {0}, next[32];

        ledger_changes_init(&c);
        for (uint64_t h = 0; h <= tip.height; h++) {
            assert_int_equal(crash_changes(&c, h, digest, next), SBX_OK);
            memcpy(digest, next, 32);
        }
        assert_memory_equal(digest, tip.state_digest, 32);
        ledger_changes_release(&c);
    }
    buf_release(&v);
    ledger_store_close(s);
}

static void
test_store_crash_exit(void **state)
{
    char *tmp, *dir = store_dir_new(&tmp);
    pid_t pid;
    int status;

    (void)state;
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        crash_child(dir, 12, -1);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    crash_check(dir, 11);
    {
        struct ledger_store *s = open_ok(dir, 0);
        struct ledger_tip tip;
        struct sbx_err err;

        assert_int_equal(ledger_store_tip(s, &tip, &err), SBX_OK);
        assert_int_equal(tip.height, 11);
        ledger_store_close(s);
    }
    store_dir_free(tmp, dir);
}

/* kill -9 in the middle of a stream of commits: every acknowledged block survives. */
static void
test_store_crash_kill(void **state)
{
    char *tmp, *dir = store_dir_new(&tmp);
    uint64_t acked = 0;
    int fds[2], status, nacks = 0;
    pid_t pid;

    (void)state;
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        crash_child(dir, 100000, fds[1]);
    }
    close(fds[1]);
    /* let it acknowledge a few blocks, then kill it between (or in the middle of) commits */
    while (nacks < 8) {
        uint8_t ack[8];

        assert_int_equal(read(fds[0], ack, 8), 8);
        acked = buf_load_u64(ack);
        nacks++;
    }
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    close(fds[0]);
    crash_check(dir, acked);
    store_dir_free(tmp, dir);
}

/* ---- verification ---- */

#define CHAIN_LEN 5

/* A store holding a valid chain of CHAIN_LEN blocks; the encoded blocks in t[]. */
static struct ledger_store *
chain_store(const char *dir, struct tblock t[CHAIN_LEN])
{
    struct ledger_store *s = open_ok(dir, 1);
    uint8_t prev[32] = {0}, digest[32] = {0};

    for (uint64_t h = 0; h < CHAIN_LEN; h++) {
        digest[0] = (uint8_t)h;
        tblock_build(&t[h], 2 + h, h, prev, digest, 100 + (unsigned)h);
        commit_block(s, &t[h], NULL);
        memcpy(prev, t[h].hash, 32);
    }
    return s;
}

/* Put `val` under `key` (delete `key` if val is NULL) in a synced batch of its own, behind the
 * store's back. */
static void
store_raw(struct ledger_store *s, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct ledger_store_batch *b = ledger_store_batch_new();
    struct sbx_err err;

    assert_non_null(b);
    if (val != NULL)
        ledger_store_batch_put(b, key, klen, val, vlen);
    else
        ledger_store_batch_del(b, key, klen);
    assert_int_equal(ledger_store_commit(s, b, 1, &err), SBX_OK);
    ledger_store_batch_free(b);
}

/* Overwrite stored block h with `raw` (delete it if raw is NULL). */
static void
overwrite_block(struct ledger_store *s, uint64_t h, const uint8_t *raw, size_t len)
{
    uint8_t key[9];

    key[0] = LEDGER_K_BLOCK;
    buf_store_u64(key + 1, h);
    store_raw(s, key, sizeof(key), raw, len);
}

static void
expect_verify_fail(struct ledger_store *s, uint64_t from, uint64_t want_failed,
                   uint64_t want_checked)
{
    uint64_t checked = 99, failed_at = 99;
    struct sbx_err err;

    sbx_err_clear(&err);
    assert_int_equal(ledger_store_verify(s, from, UINT64_MAX, &checked, &failed_at, &err),
                     SBX_ECORRUPT);
    assert_int_equal(failed_at, want_failed);
    assert_int_equal(checked, want_checked);
    assert_true(err.msg[0] != '\0');
}

/* Block 2 of the chain in `s` tampered with in several ways, then restored. */
static void
verify_tampered_block(struct ledger_store *s, const struct tblock t[CHAIN_LEN])
{
    struct sbx_err err;
    uint64_t checked, failed_at;
    uint8_t *raw = malloc(t[2].enc.len);

    assert_non_null(raw);

    /* a flipped bit in block 2's header: its signature fails; from 3 on, the link to it */
    memcpy(raw, t[2].enc.data, t[2].enc.len);
    raw[OFF_TIME + 7] ^= 0x01;
    overwrite_block(s, 2, raw, t[2].enc.len);
    expect_verify_fail(s, 0, 2, 2);
    assert_int_equal(ledger_store_verify(s, 0, 1, &checked, &failed_at, &err), SBX_OK);
    expect_verify_fail(s, 3, 3, 0);

    /* a flipped bit in a transaction's signature (not covered by the roots) */
    memcpy(raw, t[2].enc.data, t[2].enc.len);
    raw[OFF_ENTRY0 + 4 + t[2].b.entries[0].tx_len - 1] ^= 0x20;
    overwrite_block(s, 2, raw, t[2].enc.len);
    expect_verify_fail(s, 0, 2, 2);
    sbx_err_clear(&err);
    assert_int_equal(ledger_store_verify(s, 1, UINT64_MAX, &checked, &failed_at, &err),
                     SBX_ECORRUPT);
    assert_non_null(strstr(err.msg, "transaction 0"));

    /* a flipped bit in a verdict: the verdict root no longer matches */
    memcpy(raw, t[2].enc.data, t[2].enc.len);
    raw[t[2].enc.len - 1] ^= 0x01;
    overwrite_block(s, 2, raw, t[2].enc.len);
    expect_verify_fail(s, 0, 2, 2);

    /* truncated by one byte */
    overwrite_block(s, 2, t[2].enc.data, t[2].enc.len - 1);
    expect_verify_fail(s, 0, 2, 2);

    /* restored: valid again */
    overwrite_block(s, 2, t[2].enc.data, t[2].enc.len);
    assert_int_equal(ledger_store_verify(s, 0, UINT64_MAX, &checked, &failed_at, &err), SBX_OK);
    assert_int_equal(checked, CHAIN_LEN);
    free(raw);
}

/* Block 2 rebuilt and signed again by its producer, with its block-authenticated transaction
 * (entry 1) made another key's: refused at block 2, naming the producer; then restored. */
static void
verify_foreign_unsigned_tx(struct ledger_store *s, const struct tblock t[CHAIN_LEN])
{
    struct ledger_block b;
    struct ledger_tx tx;
    struct buf txenc, enc;
    struct sbx_err err;
    uint8_t txid[32], hash[32], key[LEDGER_STORE_KEY_HASH_LEN], val[8];
    uint64_t checked, failed_at;
    size_t klen;

    assert_int_equal(ledger_block_decode(&b, t[2].enc.data, t[2].enc.len, &err), SBX_OK);
    assert_int_equal(ledger_tx_decode(&tx, b.entries[1].tx, b.entries[1].tx_len, NULL, &err),
                     SBX_OK);
    assert_int_equal(tx.auth, LEDGER_TX_AUTH_BLOCK);
    assert_memory_equal(tx.signer, b.hdr.producer, 32);
    buf_init(&txenc, SBX_TX_MAX_SIZE);
    assert_int_equal(ledger_tx_seal_for_block(&tx, g_op.pubkey, &txenc, txid, &err), SBX_OK);
    b.entries[1].tx = txenc.data;
    b.entries[1].tx_len = (uint32_t)txenc.len;
    assert_int_equal(ledger_block_roots(&b, b.hdr.tx_root, b.hdr.verdict_root, NULL, &err), SBX_OK);
    assert_int_equal(ledger_block_sign(&b.hdr, &g_prod), SBX_OK);
    buf_init(&enc, LEDGER_BLOCK_MAX_SIZE);
    assert_int_equal(ledger_block_encode(&b, &enc, &err), SBX_OK);
    ledger_block_hash(&b.hdr, hash);
    overwrite_block(s, 2, enc.data, enc.len);
    klen = ledger_store_key_hash(key, hash);
    buf_store_u64(val, 2);
    store_raw(s, key, klen, val, sizeof(val));

    sbx_err_clear(&err);
    assert_int_equal(ledger_store_verify(s, 0, UINT64_MAX, &checked, &failed_at, &err),
                     SBX_ECORRUPT);
    assert_int_equal(failed_at, 2);
    assert_non_null(strstr(err.msg, "transaction 1"));
    assert_non_null(strstr(err.msg, "producer"));

    store_raw(s, key, klen, NULL, 0);
    overwrite_block(s, 2, t[2].enc.data, t[2].enc.len);
    assert_int_equal(ledger_store_verify(s, 0, UINT64_MAX, &checked, &failed_at, &err), SBX_OK);
    ledger_block_release(&b);
    ledger_tx_release(&tx);
    buf_release(&txenc);
    buf_release(&enc);
}

/* Index entries of the chain in `s` broken one after the other, then a block removed. */
static void
verify_broken_index(struct ledger_store *s, const struct tblock t[CHAIN_LEN])
{
    uint8_t key[33], val[12];

    /* a transaction index entry pointing elsewhere, then missing */
    key[0] = LEDGER_K_TX;
    memcpy(key + 1, t[3].txids[1], 32);
    buf_store_u64(val, 3);
    buf_store_u32(val + 8, 0);
    store_raw(s, key, sizeof(key), val, sizeof(val));
    expect_verify_fail(s, 0, 3, 3);
    store_raw(s, key, sizeof(key), NULL, 0);
    expect_verify_fail(s, 0, 3, 3);

    /* a missing hash index entry */
    key[0] = LEDGER_K_HASH;
    memcpy(key + 1, t[1].hash, 32);
    store_raw(s, key, sizeof(key), NULL, 0);
    expect_verify_fail(s, 0, 1, 1);

    /* a missing block */
    overwrite_block(s, 0, NULL, 0);
    expect_verify_fail(s, 0, 0, 0);
}

static void
test_store_verify(void **state)
{
    char *tmp, *dir = store_dir_new(&tmp);
    struct ledger_store *s;
    struct tblock t[CHAIN_LEN];
    struct sbx_err err;
    uint64_t checked, failed_at;

    (void)state;

    /* an empty store verifies, with nothing checked */
    s = open_ok(dir, 1);
    assert_int_equal(ledger_store_verify(s, 0, UINT64_MAX, &checked, &failed_at, &err), SBX_OK);
    assert_int_equal(checked, 0);
    ledger_store_close(s);
    test_rmtree(dir);

    s = chain_store(dir, t);
    assert_int_equal(ledger_store_verify(s, 0, UINT64_MAX, &checked, &failed_at, &err), SBX_OK);
    assert_int_equal(checked, CHAIN_LEN);
    assert_int_equal(ledger_store_verify(s, 2, 3, &checked, &failed_at, &err), SBX_OK);
    assert_int_equal(checked, 2);
    assert_int_equal(ledger_store_verify(s, 4, 1000, &checked, &failed_at, &err), SBX_OK);
    assert_int_equal(checked, 1);
    assert_int_equal(ledger_store_verify(s, 7, 9, &checked, &failed_at, &err), SBX_OK);
    assert_int_equal(checked, 0);

    verify_tampered_block(s, t);
    verify_foreign_unsigned_tx(s, t);
    verify_broken_index(s, t);

    ledger_store_close(s);
    for (size_t i = 0; i < CHAIN_LEN; i++)
        tblock_free(&t[i]);
    store_dir_free(tmp, dir);
}

int
test_ledger_verify_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_crash_exit),
        cmocka_unit_test(test_store_crash_kill),
        cmocka_unit_test(test_store_verify),
    };

    return cmocka_run_group_tests_name("ledger_verify", tests, chainbuild_group_setup,
                                       chainbuild_group_teardown);
}
