/* The pool of k-of-n directive proposals (node/proposals.c): distinct signers, regulator keys
 * only, expiry at the edge, the cap. The pool alone, without a node. */
#include "tests/unit/test_common.h"

#include <stdio.h>
#include <string.h>

#include "node/node_int.h"
#include "tests/unit/test_node_proposals.h"

#define T0 INT64_C(1764547200000) /* 2025-12-01T00:00:00Z */
#define TTL_MS INT64_C(60000)

struct pfx {
    struct ledger_key reg[3], stranger;
    struct ledger_genesis g;
    struct node_proposals pool;
};

static void
pfx_init(struct pfx *f)
{
    uint8_t secret[32];

    memset(f, 0, sizeof(*f));
    assert_int_equal(ledger_keys_global_init(), SBX_OK);
    for (int i = 0; i < 4; i++) {
        struct ledger_key *k = i < 3 ? &f->reg[i] : &f->stranger;

        memset(secret, 0x11 * (i + 1), sizeof(secret));
        assert_int_equal(ledger_keys_from_secret(k, secret), SBX_OK);
    }
    f->g.nregulators = 3;
    for (int i = 0; i < 3; i++)
        memcpy(f->g.regulator_keys[i], f->reg[i].pubkey, 32);
    f->g.directive_quorum = 2;
    node_proposals_init(&f->pool);
}

/* A halt signed by `k` at `ts`, its txid in `id`. */
static void
halt_by(struct ledger_tx *tx, const struct ledger_key *k, int64_t ts, uint8_t id[32])
{
    ledger_tx_init(tx, LEDGER_TX_DIRECTIVE);
    tx->version = LEDGER_TX_VERSION;
    tx->timestamp = ts;
    tx->u.directive.kind = LEDGER_DIR_HALT;
    snprintf(tx->u.directive.reason, sizeof(tx->u.directive.reason), "test");
    snprintf(tx->u.directive.legal_basis, sizeof(tx->u.directive.legal_basis), "test");
    assert_int_equal(ledger_tx_sign(tx, k, id, NULL), SBX_OK);
}

static int
merge(struct pfx *f, const struct ledger_tx *tx, const uint8_t id[32], int64_t now, unsigned *added)
{
    struct node_proposal *p;

    return node_proposals_merge(&f->pool, &f->g, tx, id, TTL_MS, now, &p, added, NULL);
}

/* A fixture whose pool holds reg1's halt at T0 (`tx`, its txid in `id`). */
static void
pfx_with_halt(struct pfx *f, struct ledger_tx *tx, uint8_t id[32])
{
    unsigned added;

    pfx_init(f);
    halt_by(tx, &f->reg[0], T0, id);
    assert_int_equal(merge(f, tx, id, T0, &added), SBX_OK);
    assert_int_equal(added, 1);
}

void
test_proposals_distinct_signers(void **state)
{
    struct ledger_tx tx, cs2, cs3, dup;
    struct node_proposal *p;
    struct pfx f;
    uint8_t id[32];
    unsigned added;

    (void)state;
    pfx_with_halt(&f, &tx, id);
    p = node_proposals_find(&f.pool, id);
    assert_non_null(p);
    assert_int_equal(node_proposals_signers(p), 1);
    assert_int_equal(p->expires_ms, T0 + TTL_MS);

    /* the same proposal again: nothing new */
    assert_int_equal(merge(&f, &tx, id, T0 + 1, &added), SBX_OK);
    assert_int_equal(added, 0);
    assert_int_equal(node_proposals_signers(p), 1);

    /* reg2's cosignature counts once, however often it arrives */
    cs2 = tx;
    assert_int_equal(ledger_tx_cosign(&cs2, &f.reg[1], NULL), SBX_OK);
    assert_int_equal(ledger_tx_verify(&cs2, id, NULL), SBX_OK);
    assert_int_equal(merge(&f, &cs2, id, T0 + 2, &added), SBX_OK);
    assert_int_equal(added, 1);
    assert_int_equal(merge(&f, &cs2, id, T0 + 3, &added), SBX_OK);
    assert_int_equal(added, 0);
    assert_int_equal(node_proposals_signers(p), 2);
    assert_true(node_proposals_signed_by(p, f.reg[1].pubkey));
    assert_false(node_proposals_signed_by(p, f.reg[2].pubkey));

    /* reg3's, gathered elsewhere without reg2's: the pool holds the union */
    cs3 = tx;
    assert_int_equal(ledger_tx_cosign(&cs3, &f.reg[2], NULL), SBX_OK);
    assert_int_equal(merge(&f, &cs3, id, T0 + 4, &added), SBX_OK);
    assert_int_equal(added, 1);
    assert_int_equal(node_proposals_signers(p), 3);
    /* the merged directive verifies as a whole: every key distinct */
    assert_int_equal(ledger_tx_verify(&p->tx, id, NULL), SBX_OK);

    /* the proposer as its own cosigner is refused when signing */
    dup = tx;
    assert_int_not_equal(ledger_tx_cosign(&dup, &f.reg[0], NULL), SBX_OK);
    assert_int_equal(f.pool.n, 1);
    node_proposals_release(&f.pool);
    assert_int_equal(f.pool.n, 0);
}

void
test_proposals_regulators_only(void **state)
{
    struct ledger_tx tx, cs;
    struct sbx_err err;
    struct node_proposal *p;
    struct pfx f;
    uint8_t id[32], id2[32];
    unsigned added;

    (void)state;
    pfx_init(&f);
    /* proposed by a key that is not a regulator's */
    halt_by(&tx, &f.stranger, T0, id2);
    assert_int_equal(node_proposals_merge(&f.pool, &f.g, &tx, id2, TTL_MS, T0, &p, &added, &err),
                     SBX_EDENIED);
    assert_non_null(strstr(err.msg, "signer"));
    assert_int_equal(f.pool.n, 0);

    /* a regulator's proposal cosigned by the stranger: refused whole, the pool unchanged */
    halt_by(&tx, &f.reg[0], T0, id);
    assert_int_equal(merge(&f, &tx, id, T0, &added), SBX_OK);
    cs = tx;
    assert_int_equal(ledger_tx_cosign(&cs, &f.stranger, NULL), SBX_OK);
    assert_int_equal(node_proposals_merge(&f.pool, &f.g, &cs, id, TTL_MS, T0, &p, &added, &err),
                     SBX_EDENIED);
    assert_non_null(strstr(err.msg, "cosig[0].pubkey"));
    p = node_proposals_find(&f.pool, id);
    assert_int_equal(node_proposals_signers(p), 1);
    assert_false(node_proposals_signed_by(p, f.stranger.pubkey));
    node_proposals_release(&f.pool);
}

void
test_proposals_expiry(void **state)
{
    struct ledger_tx tx, cs;
    struct pfx f;
    uint8_t id[32];
    unsigned added;

    (void)state;
    pfx_with_halt(&f, &tx, id);
    cs = tx;
    assert_int_equal(ledger_tx_cosign(&cs, &f.reg[1], NULL), SBX_OK);
    /* one millisecond past its expiry, a late cosignature is refused */
    assert_int_equal(merge(&f, &cs, id, T0 + TTL_MS + 1, &added), SBX_ENOTFOUND);
    assert_int_equal(node_proposals_signers(node_proposals_find(&f.pool, id)), 1);
    /* at its last millisecond it is taken */
    assert_int_equal(node_proposals_expire(&f.pool, T0 + TTL_MS), 0);
    assert_int_equal(merge(&f, &cs, id, T0 + TTL_MS, &added), SBX_OK);
    assert_int_equal(added, 1);
    /* and dropped one millisecond later */
    assert_int_equal(node_proposals_expire(&f.pool, T0 + TTL_MS + 1), 1);
    assert_null(node_proposals_find(&f.pool, id));
    /* a new proposal already expired when first seen is not kept */
    assert_int_equal(merge(&f, &tx, id, T0 + TTL_MS + 1, &added), SBX_ENOTFOUND);
    assert_int_equal(f.pool.n, 0);
}

void
test_proposals_cap(void **state)
{
    struct ledger_tx tx;
    struct pfx f;
    uint8_t id[32];
    unsigned added;

    (void)state;
    pfx_init(&f);
    for (int i = 0; i < NODE_PROPOSALS_MAX; i++) {
        halt_by(&tx, &f.reg[i % 3], T0 + i, id);
        assert_int_equal(merge(&f, &tx, id, T0 + i, &added), SBX_OK);
    }
    assert_int_equal(f.pool.n, NODE_PROPOSALS_MAX);
    halt_by(&tx, &f.reg[0], T0 + NODE_PROPOSALS_MAX, id);
    assert_int_equal(merge(&f, &tx, id, T0 + NODE_PROPOSALS_MAX, &added), SBX_EOVERLOAD);
    assert_int_equal(f.pool.n, NODE_PROPOSALS_MAX);
    node_proposals_release(&f.pool);
}
