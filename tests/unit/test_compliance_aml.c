/* compliance/ unit tests: AML and the Travel Rule (records, sanctions, screening, alerts for
 * structuring, large values, rapid in-and-out, velocity, dormant accounts) and regulators'
 * directives and attestations (quorum, supervision lag).
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_compliance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance/params.h"
#include "ledger/store.h"

/* ------------------------------------------------------------------ AML and Travel Rule */

void
test_travel_rule(void **state)
{
    struct fx *f = *state;
    int64_t t = T0;
    struct ledger_tx tx;

    fx_init(f, NULL);
    funded_retail(f, "A", 0, t);
    funded_retail(f, "B", 0, t);
    funded_retail(f, "C", 0, t);
    funded_retail(f, "D", 0, t);
    funded_retail(f, "E", 0, t);
    /* three transfers inside 24 h: the third reaches the threshold exactly */
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "A", "ETH", 5 * M, t, 0));
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "A", "ETH", 5 * M, t + HOUR_MS, 0));
    EXPECT_REJ_FIGS(xfer(f, LEDGER_TX_DEPOSIT, "A", "ETH", 3 * M, t + DAY_MS - 1, 0),
                    CMP_RULE_TRAVEL_RULE_MISSING, 13 * M, 10 * M, 3 * M);
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "A", "ETH", 3 * M - 1, t + DAY_MS - 1, 0));
    EXPECT_REJ(xfer(f, LEDGER_TX_DEPOSIT, "A", "ETH", 1, t + DAY_MS - 1, 0),
               CMP_RULE_TRAVEL_RULE_MISSING);
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "A", "ETH", 3 * M, t + DAY_MS - 1, 1));
    /* across 25 hours the first has left the window */
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "B", "ETH", 5 * M, t, 0));
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "B", "ETH", 5 * M, t + HOUR_MS, 0));
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "B", "ETH", 3 * M, t + 25 * HOUR_MS, 0));
    /* ... and at exactly 24 hours */
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "C", "ETH", 5 * M, t, 0));
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "C", "ETH", 5 * M, t + HOUR_MS, 0));
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "C", "ETH", 3 * M, t + DAY_MS, 0));
    /* one transfer at the threshold; other assets aggregate too */
    EXPECT_REJ_FIGS(xfer(f, LEDGER_TX_DEPOSIT, "D", "BTC", 13 * M, t, 0),
                    CMP_RULE_TRAVEL_RULE_MISSING, 13 * M, 0, 13 * M);
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "D", "BTC", 13 * M - 1, t, 0));
    EXPECT_REJ_FIGS(xfer(f, LEDGER_TX_DEPOSIT, "D", "ETH", 1, t, 0), CMP_RULE_TRAVEL_RULE_MISSING,
                    13 * M, 13 * M - 1, 1);
    /* incomplete records */
    for (int i = 0; i < 4; i++) {
        mk_xfer(&tx, LEDGER_TX_DEPOSIT, next_id(f, "x"), "D", "ETH", 13 * M, t);
        set_tr(&tx);
        if (i == 0)
            tx.u.transfer.travel_rule.status = LEDGER_TRAVEL_PENDING;
        else if (i == 1)
            tx.u.transfer.travel_rule.vasp[0] = '\0';
        else if (i == 2)
            memset(tx.u.transfer.travel_rule.originator_hash, 0, 32);
        else
            memset(tx.u.transfer.travel_rule.beneficiary_hash, 0, 32);
        EXPECT_REJ(run(f, &tx), CMP_RULE_TRAVEL_RULE_MISSING);
    }
    /* withdrawals count, in the same aggregate as deposits */
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "E", "ETH", 10 * M, t, 1));
    EXPECT_REJ_FIGS(xfer(f, LEDGER_TX_WITHDRAWAL, "E", "ETH", 3 * M, t + 1, 0),
                    CMP_RULE_TRAVEL_RULE_MISSING, 13 * M, 10 * M, 3 * M);
    EXPECT_OK(xfer(f, LEDGER_TX_WITHDRAWAL, "E", "ETH", 3 * M, t + 1, 1));
    /* VND never needs a record */
    EXPECT_OK(xfer(f, LEDGER_TX_DEPOSIT, "E", "VND", 20 * M, t + 2, 0));
    EXPECT_OK(xfer(f, LEDGER_TX_WITHDRAWAL, "E", "VND", 20 * M, t + 2, 0));
}

void
test_sanctions(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;

    fx_init(f, NULL);
    funded_retail(f, "A", 50 * M, T0);
    funded_retail(f, "B", 50 * M, T0);
    EXPECT_OK(deposit_tr(f, "B", "ETH", 10 * M, T0));
    mk_dir(&tx, LEDGER_DIR_SANCTION_ADD, KEY_REG, NULL, T0 + 1);
    cpy(tx.u.directive.account, sizeof(tx.u.directive.account), "A");
    EXPECT_OK(directive(f, &tx));
    EXPECT_REJ(directive(f, &tx), CMP_RULE_DIRECTIVE_INVALID); /* already listed */
    assert_true(cmp_engine_is_sanctioned(f->e, "A", NULL));
    EXPECT_REJ(trade(f, "A", HOUSE, 1000, T0 + 2), CMP_RULE_AML_SANCTIONED);
    EXPECT_REJ(trade(f, "B", "A", 1000, T0 + 2), CMP_RULE_AML_SANCTIONED);
    EXPECT_REJ(deposit(f, "A", "VND", 1000, T0 + 2), CMP_RULE_AML_SANCTIONED);
    EXPECT_REJ(withdraw(f, "A", "VND", 1000, T0 + 2), CMP_RULE_AML_SANCTIONED);
    /* listed before opening */
    cpy(tx.u.directive.account, sizeof(tx.u.directive.account), "BAD");
    EXPECT_OK(directive(f, &tx));
    EXPECT_REJ(open_acct(f, "BAD", 1, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, T0 + 2),
               CMP_RULE_AML_SANCTIONED);
    /* a crypto address: the withdrawal's reference */
    mk_dir(&tx, LEDGER_DIR_SANCTION_ADD, KEY_REG, NULL, T0 + 3);
    cpy(tx.u.directive.address, sizeof(tx.u.directive.address), "0xdeadbeef");
    EXPECT_OK(directive(f, &tx));
    assert_true(cmp_engine_is_sanctioned(f->e, NULL, "0xdeadbeef"));
    mk_xfer(&tx, LEDGER_TX_WITHDRAWAL, "W-1", "B", "ETH", 1000, T0 + 4);
    cpy(tx.u.transfer.reference, sizeof(tx.u.transfer.reference), "0xdeadbeef");
    EXPECT_REJ(run(f, &tx), CMP_RULE_AML_SANCTIONED);
    mk_xfer(&tx, LEDGER_TX_DEPOSIT, "D-1", "B", "ETH", 1000, T0 + 4);
    cpy(tx.u.transfer.reference, sizeof(tx.u.transfer.reference), "0xdeadbeef");
    EXPECT_REJ(run(f, &tx), CMP_RULE_AML_SANCTIONED);
    mk_xfer(&tx, LEDGER_TX_WITHDRAWAL, "W-2", "B", "ETH", 1000, T0 + 4);
    cpy(tx.u.transfer.reference, sizeof(tx.u.transfer.reference), "0xfeedface");
    EXPECT_OK(run(f, &tx));
    /* a fiat reference is a bank reference, not an address */
    mk_xfer(&tx, LEDGER_TX_WITHDRAWAL, "W-3", "B", "VND", 1000, T0 + 4);
    cpy(tx.u.transfer.reference, sizeof(tx.u.transfer.reference), "0xdeadbeef");
    EXPECT_OK(run(f, &tx));
    /* removal */
    mk_dir(&tx, LEDGER_DIR_SANCTION_REMOVE, KEY_REG, NULL, T0 + 5);
    cpy(tx.u.directive.account, sizeof(tx.u.directive.account), "A");
    EXPECT_OK(directive(f, &tx));
    EXPECT_REJ(directive(f, &tx), CMP_RULE_DIRECTIVE_INVALID); /* not listed */
    assert_false(cmp_engine_is_sanctioned(f->e, "A", NULL));
    EXPECT_OK(trade(f, "A", HOUSE, 1000, T0 + 6));
}

void
test_screening(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;

    fx_init(f, NULL);
    funded_retail(f, "A", 0, T0);
    mk_xfer(&tx, LEDGER_TX_DEPOSIT, "S-1", "A", "BTC", 1000, T0);
    tx.u.transfer.has_screening = 1;
    cpy(tx.u.transfer.screening.provider, sizeof(tx.u.transfer.screening.provider), "chainscan");
    tx.u.transfer.screening.score = 80;
    EXPECT_REJ_FIGS(run(f, &tx), CMP_RULE_AML_SCREENING, 80, 80, 80);
    cpy(tx.u.transfer.transfer_id, sizeof(tx.u.transfer.transfer_id), "S-2");
    tx.u.transfer.screening.score = 79;
    EXPECT_OK(run(f, &tx));
    /* withdrawals are screened too (edges in test_compliance_screening.c) */
    mk_xfer(&tx, LEDGER_TX_WITHDRAWAL, "S-3", "A", "BTC", 1000, T0);
    tx.u.transfer.has_screening = 1;
    tx.u.transfer.screening.score = 100;
    EXPECT_REJ(run(f, &tx), CMP_RULE_AML_SCREENING);
    /* 101 switches the rule off */
    mk_dir(&tx, LEDGER_DIR_SET_PARAM, KEY_REG, NULL, T0);
    cpy(tx.u.directive.name, sizeof(tx.u.directive.name), "aml.screening_block_score");
    tx.u.directive.value = 101;
    EXPECT_OK(directive(f, &tx));
    mk_xfer(&tx, LEDGER_TX_DEPOSIT, "S-4", "A", "BTC", 1000, T0);
    tx.u.transfer.has_screening = 1;
    tx.u.transfer.screening.score = 100;
    EXPECT_OK(run(f, &tx));
}

/* The alert record and its index are in the next change set, and the record decodes. */
static void
expect_alert_recorded(struct fx *f, const struct cmp_alert *a)
{
    struct ledger_changes ch;
    uint8_t k[33];
    int found = 0, indexed = 0;

    ledger_changes_init(&ch);
    end_block(f, &ch);
    k[0] = LEDGER_K_ALERT;
    memcpy(k + 1, a->id, 32);
    for (size_t i = 0; i < ch.n; i++) {
        const struct ledger_change *c = &ch.v[i];

        if (c->klen == 33 && memcmp(c->key, k, 33) == 0) {
            struct cmp_alert d;

            assert_int_equal(cmp_alert_decode(&d, c->val, c->vlen, NULL), SBX_OK);
            assert_int_equal(d.kind, a->kind);
            assert_string_equal(d.account, a->account);
            assert_int_equal(d.time_ms, a->time_ms);
            assert_int_equal(d.amount_vnd, a->amount_vnd);
            assert_memory_equal(d.txid, a->txid, 32);
            assert_memory_equal(d.id, a->id, 32);
            found++;
        }
        if (c->key[0] == LEDGER_K_ALERT_IDX && c->klen == 42 && c->key[1] == a->kind &&
            memcmp(c->key + 10, a->id, 32) == 0)
            indexed++;
    }
    ledger_changes_release(&ch);
    assert_int_equal(found, 1);
    assert_int_equal(indexed, 1);
}

void
test_structuring_large_value(void **state)
{
    struct fx *f = *state;
    struct cmp_alert a;
    int64_t t = T0;

    fx_init(f, NULL);
    funded(f, "S", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 5000 * M, 0, t);
    funded(f, "P", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 5000 * M, 1000 * M, t);
    /* three near-threshold trades (each in [320M, 400M)) in 24 h; the house has no alerts */
    EXPECT_NO_ALERTS(trade(f, "S", HOUSE, 320 * M, t));
    EXPECT_NO_ALERTS(trade(f, "S", HOUSE, 400 * M - 1, t + HOUR_MS));
    EXPECT_NO_ALERTS(trade(f, "S", HOUSE, 320 * M - 1, t + 2 * HOUR_MS)); /* below the band */
    EXPECT_ALERTS(trade(f, "S", HOUSE, 350 * M, t + DAY_MS - 1), (size_t)1, CMP_ALERT_STRUCTURING,
                  "S");
    a = f->res.alerts[0];
    assert_int_equal(a.amount_vnd, 350 * M);
    assert_int_equal(a.time_ms, t + DAY_MS - 1);
    assert_memory_equal(a.txid, f->txid, 32);
    expect_alert_recorded(f, &a);
    /* large value at exactly the threshold, for both parties, not structuring */
    EXPECT_ALERTS(trade(f, "S", "P", 400 * M, t + DAY_MS), (size_t)2, CMP_ALERT_LARGE_VALUE, "S",
                  CMP_ALERT_LARGE_VALUE, "P");
    assert_memory_not_equal(f->res.alerts[0].id, f->res.alerts[1].id, 32);
    assert_int_equal(f->res.alerts[0].amount_vnd, 400 * M);
    EXPECT_NO_ALERTS(trade(f, "P", HOUSE, 320 * M - 1, t + DAY_MS));
    /* S: two near ones left in the window (t+1h, t+24h-1ms): one more makes three */
    EXPECT_ALERTS(trade(f, "S", HOUSE, 399 * M, t + DAY_MS + 1), (size_t)1, CMP_ALERT_STRUCTURING,
                  "S");
    /* a deposit at the threshold */
    EXPECT_ALERTS(deposit(f, "P", "VND", 400 * M, t + DAY_MS + 2), (size_t)1, CMP_ALERT_LARGE_VALUE,
                  "P");
    EXPECT_NO_ALERTS(deposit(f, "P", "VND", 1, t + DAY_MS + 2));
    /* spread over more than 24 h: none */
    EXPECT_NO_ALERTS(trade(f, "P", HOUSE, 330 * M, t + 3 * DAY_MS));
    EXPECT_NO_ALERTS(trade(f, "P", HOUSE, 330 * M, t + 4 * DAY_MS));
    EXPECT_NO_ALERTS(trade(f, "P", HOUSE, 330 * M, t + 5 * DAY_MS));
}

void
test_rapid_in_out(void **state)
{
    struct fx *f = *state;
    int64_t t = T0;

    fx_init(f, NULL);
    funded_retail(f, "A", 0, t);
    funded_retail(f, "B", 0, t);
    funded_retail(f, "C", 0, t);
    funded_retail(f, "D", 0, t);
    EXPECT_NO_ALERTS(deposit(f, "A", "VND", 10 * M, t));
    EXPECT_ALERTS(withdraw(f, "A", "VND", 8 * M, t + HOUR_MS), (size_t)1, CMP_ALERT_RAPID_IN_OUT,
                  "A");
    assert_int_equal(f->res.alerts[0].amount_vnd, 8 * M);
    EXPECT_NO_ALERTS(deposit(f, "B", "VND", 10 * M, t));
    EXPECT_NO_ALERTS(withdraw(f, "B", "VND", 8 * M - 1, t + HOUR_MS));
    EXPECT_NO_ALERTS(deposit(f, "C", "VND", 10 * M, t));
    EXPECT_NO_ALERTS(withdraw(f, "C", "VND", 8 * M, t + DAY_MS));
    /* the deposit must be of the same asset */
    EXPECT_NO_ALERTS(deposit_tr(f, "D", "ETH", 10 * M, t));
    EXPECT_NO_ALERTS(deposit(f, "D", "VND", 20 * M, t));
    EXPECT_NO_ALERTS(withdraw(f, "D", "VND", 8 * M, t + 1));
    xfer(f, LEDGER_TX_WITHDRAWAL, "D", "ETH", 8 * M, t + 2, 1);
    EXPECT_ALERTS(&f->res, (size_t)1, CMP_ALERT_RAPID_IN_OUT, "D");
}

void
test_velocity(void **state)
{
    struct fx *f = *state;
    int64_t t = T0;

    fx_init(f, NULL);
    funded_retail(f, "V", 0, t);
    for (int i = 1; i <= 19; i++)
        EXPECT_NO_ALERTS(deposit(f, "V", "VND", 1000, t + i * MIN_MS));
    EXPECT_ALERTS(deposit(f, "V", "VND", 1000, t + 20 * MIN_MS), (size_t)1, CMP_ALERT_VELOCITY,
                  "V");
    EXPECT_NO_ALERTS(trade(f, "V", HOUSE, 1000, t + 21 * MIN_MS)); /* the 21st: already raised */
    /* 24 h after the second, 19 are left in the window: this one is the 20th again */
    EXPECT_NO_ALERTS(trade(f, "V", HOUSE, 1000, t + DAY_MS + 1 * MIN_MS));
    EXPECT_ALERTS(trade(f, "V", HOUSE, 1000, t + DAY_MS + 3 * MIN_MS), (size_t)1,
                  CMP_ALERT_VELOCITY, "V");
}

void
test_dormant(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;
    int64_t t = T0, dormant = 180 * DAY_MS;

    fx_init(f, NULL);
    funded(f, "Y", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1000, 0, t);
    funded(f, "Z", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1000, 0, t);
    funded(f, "W", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1000, 0, t);
    funded(f, "X", 3, LEDGER_CLASS_DOMESTIC_INDIVIDUAL, 1000 * M, 0, t);
    /* one millisecond short of dormancy */
    EXPECT_OK(deposit(f, "Y", "VND", 400 * M, t + dormant - 1));
    /* dormant: at the trigger refused, below it accepted, then the day's total counts */
    EXPECT_REJ_FIGS(deposit(f, "Z", "VND", 400 * M, t + dormant), CMP_RULE_KYC_REFRESH_REQUIRED,
                    400 * M, 0, 400 * M);
    EXPECT_OK(deposit(f, "Z", "VND", 400 * M - 1, t + dormant));
    EXPECT_REJ_FIGS(deposit(f, "Z", "VND", 1, t + dormant + 1000), CMP_RULE_KYC_REFRESH_REQUIRED,
                    400 * M, 400 * M - 1, 1);
    EXPECT_OK(run(f, mk_update(&tx, "Z", 3, 0, t + dormant + 2000)));
    EXPECT_OK(deposit(f, "Z", "VND", 1, t + dormant + 3000));
    EXPECT_OK(deposit(f, "Z", "VND", 500 * M, t + dormant + 4000));
    /* re-verified while dormant: the whole day is free */
    EXPECT_OK(run(f, mk_update(&tx, "W", 3, 0, t + 200 * DAY_MS)));
    EXPECT_OK(deposit(f, "W", "VND", 400 * M, t + 200 * DAY_MS + 1000));
    EXPECT_OK(deposit(f, "W", "VND", 400 * M, t + 200 * DAY_MS + 2000));
    /* a trade party */
    EXPECT_REJ_FIGS(trade(f, "X", HOUSE, 400 * M, t + dormant), CMP_RULE_KYC_REFRESH_REQUIRED,
                    400 * M, 0, 400 * M);
    EXPECT_OK(trade(f, "X", HOUSE, 400 * M - 1, t + dormant));
    /* the house is exempt */
    EXPECT_OK(deposit(f, HOUSE, "VND", 400 * M, t + 2 * dormant));
}

/* ------------------------------------------------------------------ directives, attestations */

/* `tx` processed again with the txid it had the first time (run() gives each a new one). */
static const struct cmp_result *
again(struct fx *f, const struct ledger_tx *tx, const uint8_t txid[32])
{
    struct cmp_block_ctx ctx = {f->height, tx->timestamp};

    assert_int_equal(cmp_process(f->e, tx, txid, &ctx, &f->res), SBX_OK);
    return &f->res;
}

void
test_directive_quorum(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx, halt;
    uint8_t halt_id[32];
    static const int one[] = {KEY_REG + 1, 0}, bad[] = {KEY_OTHER, 0},
                     two[] = {KEY_REG + 1, KEY_REG + 2, 0};

    fx_init_opt(f, NULL, 3, 2, 0);
    mk_dir(&tx, LEDGER_DIR_HALT, KEY_REG, NULL, T0);
    EXPECT_REJ_FIGS(directive(f, &tx), CMP_RULE_DIRECTIVE_QUORUM, 2, 1, 0);
    assert_false(cmp_engine_market_halted(f->e));
    mk_dir(&tx, LEDGER_DIR_HALT, KEY_OTHER, one, T0);
    EXPECT_REJ(directive(f, &tx), CMP_RULE_AUTH_SIGNER);
    mk_dir(&tx, LEDGER_DIR_HALT, KEY_REG, bad, T0);
    EXPECT_REJ(directive(f, &tx), CMP_RULE_AUTH_SIGNER);
    mk_dir(&halt, LEDGER_DIR_HALT, KEY_REG + 2, one, T0);
    EXPECT_OK(directive(f, &halt));
    memcpy(halt_id, f->txid, 32);
    assert_true(cmp_engine_market_halted(f->e));
    mk_dir(&tx, LEDGER_DIR_RESUME, KEY_REG, two, T0);
    EXPECT_OK(directive(f, &tx));
    assert_false(cmp_engine_market_halted(f->e));
    /* the same signed halt again (its signatures stay valid for supervision.proposal_ttl_s):
     * recorded as a duplicate, no effect; also in a later block */
    EXPECT_REJ(again(f, &halt, halt_id), CMP_RULE_ID_DUPLICATE);
    assert_false(cmp_engine_market_halted(f->e));
    end_block(f, NULL);
    EXPECT_REJ(again(f, &halt, halt_id), CMP_RULE_ID_DUPLICATE);
    assert_false(cmp_engine_market_halted(f->e));
    assert_true(cmp_engine_is_regulator(f->e, tx.signer));
    key(tx.signer, KEY_OPERATOR);
    assert_false(cmp_engine_is_regulator(f->e, tx.signer));
    /* an unknown kind */
    mk_dir(&tx, 99, KEY_REG, one, T0);
    EXPECT_REJ(directive(f, &tx), CMP_RULE_DIRECTIVE_INVALID);
}

void
test_attestation(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;
    uint64_t h;
    int64_t at;

    fx_init(f, NULL);
    f->height = 10;
    EXPECT_OK(run(f, mk_attest(&tx, KEY_REG, 5, T0)));
    cmp_engine_attested(f->e, 0, &h, &at);
    assert_int_equal(h, 5);
    assert_int_equal(at, T0);
    cmp_engine_attested(f->e, 1, &h, &at);
    assert_int_equal(h, 0);
    EXPECT_REJ_FIGS(run(f, mk_attest(&tx, KEY_REG, 4, T0 + 1)), CMP_RULE_ATTESTATION_INVALID, 10, 5,
                    4);
    EXPECT_REJ_FIGS(run(f, mk_attest(&tx, KEY_REG, 10, T0 + 1)), CMP_RULE_ATTESTATION_INVALID, 10,
                    5, 10);
    EXPECT_OK(run(f, mk_attest(&tx, KEY_REG, 5, T0 + 2)));
    EXPECT_OK(run(f, mk_attest(&tx, KEY_REG, 9, T0 + 3)));
    EXPECT_OK(run(f, mk_attest(&tx, KEY_REG + 1, 1, T0 + 3)));
    EXPECT_REJ(run(f, mk_attest(&tx, KEY_OTHER, 1, T0 + 3)), CMP_RULE_AUTH_SIGNER);
    cmp_engine_attested(f->e, 0, &h, &at);
    assert_int_equal(h, 9);
}

void
test_supervision_lag(void **state)
{
    struct fx *f = *state;
    struct ledger_tx tx;
    int64_t lag;

    /* supervision.lag is a gate the node applies before accepting business, not a verdict */
    fx_init(f, NULL);
    assert_int_equal(cmp_engine_supervision_ok(f->e, GENESIS_MS + 300000, &lag), SBX_OK);
    assert_int_equal(lag, 300000);
    assert_int_equal(cmp_engine_supervision_ok(f->e, GENESIS_MS + 300001, &lag), SBX_EUNAVAIL);
    assert_int_equal(lag, 300001);
    f->height = 3;
    EXPECT_OK(run(f, mk_attest(&tx, KEY_REG + 1, 2, T0)));
    assert_int_equal(cmp_engine_supervision_ok(f->e, T0 + 300000, &lag), SBX_OK);
    assert_int_equal(cmp_engine_supervision_ok(f->e, T0 + 300001, &lag), SBX_EUNAVAIL);
    assert_int_equal(lag, 300001);
    mk_dir(&tx, LEDGER_DIR_SET_PARAM, KEY_REG, NULL, T0);
    cpy(tx.u.directive.name, sizeof(tx.u.directive.name), "supervision.max_lag_s");
    tx.u.directive.value = 0;
    EXPECT_OK(directive(f, &tx));
    assert_int_equal(cmp_engine_supervision_ok(f->e, T0 + 10 * DAY_MS, &lag), SBX_OK);
    rules_seen[CMP_RULE_SUPERVISION_LAG] = 1;
}
