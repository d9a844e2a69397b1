/* Unit tests of compliance/liabilities.c: a liabilities record made from the state is accepted
 * (the house account left out of its totals); one base unit short, not first in its block,
 * reflecting another block, or signed by another key is rejected (liabilities.mismatch,
 * auth.signer); the liabilities_snapshot and reserves_attest directives and the shortfall at
 * its edge (a reserve equal to the total is not short, one unit less is); the 'S' 'l' record is
 * written only once used.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_compliance.h"

#include <string.h>

#include "ledger/store.h"

static const uint8_t SEED[32] = {3};

/* The record the engine would make now (reflecting the block before the fixture's), signed by
 * the operator, `short_by` units short in VND. */
static struct ledger_tx *
mk_liab(struct fx *f, struct ledger_tx *tx, int64_t short_by, int64_t ts)
{
    ledger_tx_init(tx, LEDGER_TX_LIABILITIES);
    key(tx->signer, KEY_OPERATOR);
    tx->timestamp = ts;
    assert_int_equal(cmp_liabilities_make(f->e, SEED, f->height - 1, short_by, &tx->u.liabilities),
                     SBX_OK);
    return tx;
}

static const struct cmp_result *
reserve(struct fx *f, const char *asset, int64_t amount, int64_t ts)
{
    struct ledger_tx tx;

    mk_dir(&tx, LEDGER_DIR_RESERVES_ATTEST, KEY_REG, NULL, ts);
    cpy(tx.u.directive.asset, sizeof(tx.u.directive.asset), asset);
    cpy(tx.u.directive.address, sizeof(tx.u.directive.address), "bank-stmt-1");
    tx.u.directive.value = amount;
    return directive(f, &tx);
}

/* 1 if `c` holds the liabilities record. */
static int
has_liab_record(const struct ledger_changes *c)
{
    uint8_t k[LEDGER_STORE_KEY_PAIR_LEN];
    size_t n = ledger_store_key_list_liabilities(k);

    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].klen == n && memcmp(c->v[i].key, k, n) == 0)
            return 1;
    return 0;
}

void
test_liabilities(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;
    struct ledger_changes ch;
    struct cmp_liabilities_view v;
    int64_t t = T0;

    fx_init(f, NULL);
    EXPECT_OK(open_acct(f, "c1", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, t));
    EXPECT_OK(open_acct(f, "c2", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, t));
    EXPECT_OK(open_acct(f, "c3", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, t));
    EXPECT_OK(deposit(f, "c1", "VND", 5 * M, t));
    EXPECT_OK(deposit(f, "c2", "VND", 7 * M, t));
    EXPECT_OK(deposit_tr(f, "c3", "BTC", 1000, t));
    ledger_changes_init(&ch);
    end_block(f, &ch);
    assert_false(has_liab_record(&ch)); /* nothing used yet: no record, no digest change */
    ledger_changes_release(&ch);

    /* the house account (funded with 10^15 of each) is not a client */
    mk_liab(f, &tx, 0, t);
    assert_true(tx.u.liabilities.nassets == 3);
    assert_true(tx.u.liabilities.assets[0].total == 12 * M);
    assert_true(tx.u.liabilities.assets[1].total == 1000);
    assert_true(tx.u.liabilities.assets[2].total == 0);

    /* one unit short, another block reflected, another signer */
    EXPECT_REJ_FIGS(run(f, mk_liab(f, &tx, 1, t)), CMP_RULE_LIABILITIES_MISMATCH, 12 * M, 0,
                    12 * M - 1);
    end_block(f, NULL);
    mk_liab(f, &tx, 0, t);
    tx.u.liabilities.reflects_height--;
    EXPECT_REJ(run(f, &tx), CMP_RULE_LIABILITIES_MISMATCH);
    end_block(f, NULL);
    mk_liab(f, &tx, 0, t);
    key(tx.signer, KEY_OTHER);
    EXPECT_REJ(run(f, &tx), CMP_RULE_AUTH_SIGNER);
    end_block(f, NULL);
    /* a seed that is not the committed one (a client's copy has it zeroed) */
    mk_liab(f, &tx, 0, t);
    memset(tx.u.liabilities.seed, 0, 32);
    EXPECT_REJ(run(f, &tx), CMP_RULE_LIABILITIES_MISMATCH);
    end_block(f, NULL);
    /* not the first transaction of its block */
    EXPECT_OK(deposit(f, "c1", "VND", 1, t));
    EXPECT_REJ(run(f, mk_liab(f, &tx, 0, t)), CMP_RULE_LIABILITIES_MISMATCH);
    end_block(f, NULL);

    /* a snapshot is asked for, recorded, and no longer asked for */
    mk_dir(&tx, LEDGER_DIR_LIABILITIES_SNAPSHOT, KEY_REG, NULL, t);
    EXPECT_OK(directive(f, &tx));
    cmp_engine_liabilities(f->e, &v);
    assert_true(v.requested);
    assert_true(v.record_height == 0);
    end_block(f, NULL);
    EXPECT_OK(run(f, mk_liab(f, &tx, 0, t)));
    cmp_engine_liabilities(f->e, &v);
    assert_false(v.requested);
    assert_true(v.record_height == f->height);
    assert_true(v.assets[0].liabilities == 12 * M + 1);
    assert_true(v.assets[0].reserve == -1);
    assert_false(v.shortfall);
    ledger_changes_init(&ch);
    end_block(f, &ch);
    assert_true(has_liab_record(&ch));
    ledger_changes_release(&ch);

    /* reserves: exactly the total is not short, one unit less is; an unknown asset refused */
    EXPECT_OK(reserve(f, "VND", 12 * M + 1, t));
    cmp_engine_liabilities(f->e, &v);
    assert_false(v.shortfall);
    EXPECT_OK(reserve(f, "VND", 12 * M, t));
    cmp_engine_liabilities(f->e, &v);
    assert_true(v.shortfall);
    assert_true(v.assets[0].shortfall);
    assert_false(v.assets[1].shortfall); /* BTC: no reserve attested */
    EXPECT_REJ(reserve(f, "DOGE", 1, t), CMP_RULE_DIRECTIVE_INVALID);
    end_block(f, NULL);
}
