/* Unit tests of ledger/liabilities.c and the liabilities transaction: the sum tree (no leaf, one
 * leaf, odd counts at every level, every leaf's path verifies), what a path cannot hide (a
 * negative sum, an overflow, a swapped sibling, an edited sum or balance), snapshots (round
 * trip, refusals), a tree and a proof from a snapshot (short_by), and the transaction's encoding
 * and its stateless refusals.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_ledger.h"
#include "tests/unit/test_ledger_txbuild.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/liabilities.h"

static const uint8_t SEED[32] = {7};

/* The leaves of balances `bal` (accounts "c0", "c1", ...). */
static void
leaves(struct ledger_liab_node *v, const int64_t *bal, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char id[16];
        uint8_t salt[32];

        snprintf(id, sizeof(id), "c%zu", i);
        ledger_liabilities_salt(salt, SEED, "VND", id);
        assert_int_equal(ledger_liabilities_leaf(&v[i], salt, id, bal[i]), SBX_OK);
    }
}

/* Build the tree of `n` leaves and check every leaf's path; returns the root. */
static struct ledger_liab_node
check_all_paths(const int64_t *bal, size_t n, int64_t want_total)
{
    struct ledger_liab_node v[16], w[16], root, r2;
    struct ledger_liab_step path[LEDGER_LIAB_PATH_MAX];
    size_t npath;
    struct sbx_err err;

    leaves(v, bal, n);
    memcpy(w, v, sizeof(v));
    assert_int_equal(ledger_liabilities_root(w, n, SIZE_MAX, &root, NULL, NULL), SBX_OK);
    assert_true(root.sum == want_total);
    for (size_t i = 0; i < n; i++) {
        memcpy(w, v, sizeof(v));
        assert_int_equal(ledger_liabilities_root(w, n, i, &r2, path, &npath), SBX_OK);
        assert_memory_equal(r2.hash, root.hash, 32);
        sbx_err_clear(&err);
        assert_int_equal(ledger_liabilities_verify(&v[i], path, npath, &root, &err), SBX_OK);
    }
    return root;
}

static void
test_tree_shapes(void **state)
{
    const int64_t bal[] = {5, 0, 7, 11, 3, 1, 2};
    struct ledger_liab_node v[1], root;
    struct ledger_liab_step path[LEDGER_LIAB_PATH_MAX];
    size_t npath = 99;

    (void)state;
    /* no leaf: the zero root */
    assert_int_equal(ledger_liabilities_root(v, 0, SIZE_MAX, &root, NULL, NULL), SBX_OK);
    assert_true(root.sum == 0);
    for (int i = 0; i < 32; i++)
        assert_int_equal(root.hash[i], 0);
    /* one leaf: the root is the leaf, the path empty */
    leaves(v, bal, 1);
    assert_int_equal(ledger_liabilities_root(v, 1, 0, &root, path, &npath), SBX_OK);
    assert_int_equal(npath, 0);
    assert_true(root.sum == 5);
    /* odd counts at some level: 3, 5, 7 leaves; an even one for contrast */
    check_all_paths(bal, 2, 5);
    check_all_paths(bal, 3, 12);
    check_all_paths(bal, 5, 26);
    check_all_paths(bal, 7, 29);
}

static void
test_tree_refusals(void **state)
{
    const int64_t bal[] = {5, 9, 7};
    struct ledger_liab_node v[3], w[3], root, neg, big, out;
    struct ledger_liab_step path[LEDGER_LIAB_PATH_MAX], p2[LEDGER_LIAB_PATH_MAX];
    uint8_t salt[32] = {1};
    size_t npath;

    (void)state;
    /* a negative balance makes no leaf; a negative sum no parent; sums never overflow */
    assert_int_equal(ledger_liabilities_leaf(&neg, salt, "c0", -1), SBX_EINVAL);
    assert_int_equal(ledger_liabilities_leaf(&neg, salt, "c0", 0), SBX_OK);
    neg.sum = -1;
    assert_int_equal(ledger_liabilities_parent(&out, &neg, &neg), SBX_EINVAL);
    assert_int_equal(ledger_liabilities_leaf(&big, salt, "c1", INT64_MAX), SBX_OK);
    assert_int_equal(ledger_liabilities_leaf(&out, salt, "c2", 1), SBX_OK);
    assert_int_equal(ledger_liabilities_parent(&root, &big, &out), SBX_EOVERFLOW);

    leaves(v, bal, 3);
    memcpy(w, v, sizeof(v));
    assert_int_equal(ledger_liabilities_root(w, 3, 0, &root, path, &npath), SBX_OK);
    assert_int_equal(npath, 2);
    assert_int_equal(ledger_liabilities_verify(&v[0], path, npath, &root, NULL), SBX_OK);

    /* the sibling swapped to the other side */
    memcpy(p2, path, sizeof(path));
    p2[0].left ^= 1;
    assert_int_equal(ledger_liabilities_verify(&v[0], p2, npath, &root, NULL), SBX_EINVAL);
    /* a sibling's sum moved to the leaf: the total holds, the root does not */
    memcpy(p2, path, sizeof(path));
    p2[0].sib.sum -= 1;
    out = v[0];
    out.sum += 1;
    assert_int_equal(ledger_liabilities_verify(&out, p2, npath, &root, NULL), SBX_EINVAL);
    /* a negative sibling to hide a debt: refused before any hash */
    memcpy(p2, path, sizeof(path));
    p2[1].sib.sum = -p2[1].sib.sum;
    assert_int_equal(ledger_liabilities_verify(&v[0], p2, npath, &root, NULL), SBX_EINVAL);
    /* a balance edited: another leaf */
    assert_int_equal(ledger_liabilities_leaf(&out, salt, "c0", 6), SBX_OK);
    assert_int_equal(ledger_liabilities_verify(&out, path, npath, &root, NULL), SBX_EINVAL);
    /* a path too long */
    assert_int_equal(ledger_liabilities_verify(&v[0], path, LEDGER_LIAB_PATH_MAX + 1, &root, NULL),
                     SBX_ETOOLONG);
    /* swapping the children of a node changes it */
    assert_int_equal(ledger_liabilities_parent(&out, &v[0], &v[1]), SBX_OK);
    assert_int_equal(ledger_liabilities_parent(&neg, &v[1], &v[0]), SBX_OK);
    assert_memory_not_equal(out.hash, neg.hash, 32);
    assert_true(out.sum == neg.sum);
}

static void
test_salt(void **state)
{
    uint8_t a[32], b[32], seed2[32] = {8};

    (void)state;
    ledger_liabilities_salt(a, SEED, "VND", "c1");
    ledger_liabilities_salt(b, SEED, "VND", "c1");
    assert_memory_equal(a, b, 32);
    ledger_liabilities_salt(b, seed2, "VND", "c1");
    assert_memory_not_equal(a, b, 32);
    ledger_liabilities_salt(b, SEED, "BTC", "c1");
    assert_memory_not_equal(a, b, 32);
    /* lengths are encoded: ("VN", "Dc1") is not ("VND", "c1") */
    ledger_liabilities_salt(b, SEED, "VN", "Dc1");
    assert_memory_not_equal(a, b, 32);
}

/* A snapshot of `n` accounts "a0".. with balances i*10 and i (two assets). */
static void
make_snapshot(struct ledger_liab_snapshot *s, size_t n)
{
    memset(s, 0, sizeof(*s));
    s->n = n;
    s->nassets = 2;
    s->ids = calloc(n ? n : 1, sizeof(*s->ids));
    s->bal = calloc((n ? n : 1) * 2, sizeof(*s->bal));
    assert_non_null(s->ids);
    assert_non_null(s->bal);
    for (size_t i = 0; i < n; i++) {
        snprintf(s->ids[i], sizeof(s->ids[i]), "a%zu", i);
        s->bal[2 * i] = (int64_t)i * 10;
        s->bal[2 * i + 1] = (int64_t)i;
    }
}

static void
test_snapshot(void **state)
{
    struct ledger_liab_snapshot s, d;
    struct ledger_liab_proof *p = malloc(sizeof(*p)), *q = malloc(sizeof(*q));
    struct buf b;

    (void)state;
    assert_non_null(p);
    assert_non_null(q);
    make_snapshot(&s, 5);
    buf_init(&b, 1 << 20);
    assert_int_equal(ledger_liabilities_snapshot_encode(&s, &b), SBX_OK);
    assert_int_equal(ledger_liabilities_snapshot_decode(&d, b.data, b.len), SBX_OK);
    assert_int_equal(d.n, 5);
    assert_int_equal(d.nassets, 2);
    assert_string_equal(d.ids[4], "a4");
    assert_true(d.bal[9] == 4);
    ledger_liabilities_snapshot_release(&d);
    /* trailing byte, truncation */
    assert_int_equal(buf_put_u8(&b, 0), SBX_OK);
    assert_int_equal(ledger_liabilities_snapshot_decode(&d, b.data, b.len), SBX_ECORRUPT);
    assert_int_equal(ledger_liabilities_snapshot_decode(&d, b.data, b.len - 2), SBX_ECORRUPT);
    /* a negative balance, ids out of order */
    s.bal[3] = -1;
    buf_reset(&b);
    assert_int_equal(ledger_liabilities_snapshot_encode(&s, &b), SBX_OK);
    assert_int_equal(ledger_liabilities_snapshot_decode(&d, b.data, b.len), SBX_ECORRUPT);
    s.bal[3] = 1;
    snprintf(s.ids[1], sizeof(s.ids[1]), "z");
    buf_reset(&b);
    assert_int_equal(ledger_liabilities_snapshot_encode(&s, &b), SBX_OK);
    assert_int_equal(ledger_liabilities_snapshot_decode(&d, b.data, b.len), SBX_ECORRUPT);
    snprintf(s.ids[1], sizeof(s.ids[1]), "a1");

    /* a proof from the tree: a3's balance of asset 0, its path to the root */
    assert_int_equal(ledger_liabilities_tree(&s, 0, "VND", SEED, "a3", 0, p), SBX_OK);
    assert_true(p->balance == 30);
    assert_true(p->root.sum == 100);
    assert_int_equal(ledger_liabilities_verify(&p->leaf, p->path, p->npath, &p->root, NULL),
                     SBX_OK);
    assert_int_equal(ledger_liabilities_tree(&s, 0, "VND", SEED, "nobody", 0, q), SBX_ENOTFOUND);
    assert_int_equal(ledger_liabilities_tree(&s, 2, "VND", SEED, NULL, 0, q), SBX_EINVAL);
    /* short by one: another root, one less; the proof of a3 no longer leads to it */
    assert_int_equal(ledger_liabilities_tree(&s, 0, "VND", SEED, NULL, 1, q), SBX_OK);
    assert_true(q->root.sum == 99);
    assert_memory_not_equal(q->root.hash, p->root.hash, 32);
    assert_int_equal(ledger_liabilities_verify(&p->leaf, p->path, p->npath, &q->root, NULL),
                     SBX_EINVAL);
    ledger_liabilities_snapshot_release(&s);
    buf_release(&b);
    free(p);
    free(q);
}

static void
make_liabilities(struct ledger_tx *tx)
{
    struct ledger_liabilities *l = &tx->u.liabilities;

    ledger_tx_init(tx, LEDGER_TX_LIABILITIES);
    tx->timestamp = 1767225600000LL;
    l->reflects_height = 41;
    memset(l->seed, 0x5a, 32);
    l->nassets = 2;
    snprintf(l->assets[0].asset, sizeof(l->assets[0].asset), "VND");
    l->assets[0].total = INT64_MAX;
    memset(l->assets[0].root, 1, 32);
    snprintf(l->assets[1].asset, sizeof(l->assets[1].asset), "BTC");
    l->assets[1].total = 0;
}

static void
test_liabilities_tx(void **state)
{
    struct ledger_tx tx;
    struct sbx_err err;
    struct buf b;

    (void)state;
    make_liabilities(&tx);
    sign_and_check(&tx, OP);
    assert_string_equal(ledger_tx_type_name(LEDGER_TX_LIABILITIES), "liabilities");
    /* refusals: a negative total, an asset twice, no line, an unused line not zero */
    make_liabilities(&tx);
    tx.u.liabilities.assets[1].total = -1;
    buf_init(&b, SBX_TX_MAX_SIZE);
    sbx_err_clear(&err);
    assert_int_equal(ledger_tx_encode(&tx, &b, &err), SBX_EINVAL);
    make_liabilities(&tx);
    snprintf(tx.u.liabilities.assets[1].asset, sizeof(tx.u.liabilities.assets[1].asset), "VND");
    assert_int_equal(ledger_tx_encode(&tx, &b, &err), SBX_ENONCANON);
    make_liabilities(&tx);
    tx.u.liabilities.nassets = 0;
    assert_int_equal(ledger_tx_encode(&tx, &b, &err), SBX_EINVAL);
    make_liabilities(&tx);
    tx.u.liabilities.assets[5].total = 1;
    assert_int_equal(ledger_tx_encode(&tx, &b, &err), SBX_ENONCANON);
    /* block authentication is for business transactions only */
    make_liabilities(&tx);
    tx.auth = LEDGER_TX_AUTH_BLOCK;
    assert_int_equal(ledger_tx_check_header(&tx, &err), SBX_EINVAL);
    buf_release(&b);
}

int
test_ledger_liabilities_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_shapes),    cmocka_unit_test(test_tree_refusals),
        cmocka_unit_test(test_salt),           cmocka_unit_test(test_snapshot),
        cmocka_unit_test(test_liabilities_tx),
    };

    return cmocka_run_group_tests_name("ledger_liabilities", tests, txbuild_group_setup,
                                       txbuild_group_teardown);
}
