/* libFuzzer target: the genesis reader every node runs on block 0 (node/chain_genesis.c,
 * ledger/proof.c, compliance/engine.c, compliance/params.c). The first input byte picks what
 * the rest is:
 *   0  a genesis block, as a follower reads it from its -genesis file or a node from its store:
 *      block decode, ledger_proof_genesis (height, one genesis transaction, roots, signatures)
 *      and, if that passes, the engine made from it (cmp_engine_new: the licence document);
 *   1  a genesis transaction: decoded, then the engine made from it even when no signature
 *      covers it (mutations of a signed block rarely pass its roots and signatures; this
 *      reaches the licence reader with every genesis field the decoder lets through);
 *   2  a licence document as JSON, against the devnet's assets: read canonical and not, its
 *      canonical form (which must be a fixed point and read back as the same parameters), and
 *      the document printed from the parameters (which must read back the same).
 * Every refusal must carry a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compliance/engine.h"
#include "compliance/params.h"
#include "ledger/block.h"
#include "ledger/proof.h"
#include "ledger/tx.h"
#include "tests/fuzz/fuzz_common.h"

static const struct ledger_asset_def assets[] = {{"VND", 0}, {"BTC", 8}, {"ETH", 8}};

static void
engine(const struct ledger_tx *g)
{
    struct cmp_engine *e;
    struct sbx_err err;

    sbx_err_clear(&err);
    if (fuzz_check_refusal(cmp_engine_new(&e, g, &err), &err) == SBX_OK)
        cmp_engine_free(e);
}

static void
genesis_block(const uint8_t *in, size_t len)
{
    struct ledger_block b;
    struct ledger_tx g;
    struct sbx_err err;

    sbx_err_clear(&err);
    if (fuzz_check_refusal(ledger_block_decode(&b, in, len, &err), &err) != SBX_OK)
        return;
    sbx_err_clear(&err);
    if (fuzz_check_refusal(ledger_proof_genesis(&b, &g, &err), &err) == SBX_OK) {
        engine(&g);
        ledger_tx_release(&g);
    }
    ledger_block_release(&b);
}

static void
genesis_tx(const uint8_t *in, size_t len)
{
    struct ledger_tx g;
    struct sbx_err err;

    sbx_err_clear(&err);
    if (fuzz_check_refusal(ledger_tx_decode(&g, in, len, NULL, &err), &err) != SBX_OK)
        return;
    engine(&g);
    ledger_tx_release(&g);
}

/* Parameters read from `json`: 1 if they were, and must be the same as `want` when given. */
static int
read_doc(struct cmp_params *p, const char *json, int canonical, const struct cmp_params *want)
{
    struct sbx_err err;

    sbx_err_clear(&err);
    if (fuzz_check_refusal(cmp_params_from_json(p, json, strlen(json), canonical, assets,
                                                SBX_ARRAY_LEN(assets), &err),
                           &err) != SBX_OK)
        return 0;
    if (want != NULL && (memcmp(p->v, want->v, sizeof(p->v)) != 0 ||
                         memcmp(p->ref_price, want->ref_price, sizeof(p->ref_price)) != 0))
        abort(); /* the same document read twice gave other parameters */
    return 1;
}

static void
licence(const uint8_t *in, size_t len)
{
    struct cmp_params p, q;
    struct sbx_err err;
    char *canon, *again, *printed;
    char *doc = malloc(len + 1);

    if (doc == NULL)
        return;
    memcpy(doc, in, len);
    doc[len] = '\0';
    (void)read_doc(&p, doc, 1, NULL);
    sbx_err_clear(&err);
    canon = cmp_params_canonicalize(doc, len, &err);
    if (canon == NULL) {
        (void)fuzz_check_refusal(SBX_EINVAL, &err);
    } else {
        again = cmp_params_canonicalize(canon, strlen(canon), &err);
        if (again == NULL || strcmp(again, canon) != 0)
            abort(); /* the canonical form is not a fixed point */
        free(again);
        if (read_doc(&p, canon, 1, NULL)) {
            printed = cmp_params_to_json(&p, assets, SBX_ARRAY_LEN(assets));
            if (printed == NULL || !read_doc(&q, printed, 0, &p))
                abort(); /* the parameters do not print to a document that reads back */
            free(printed);
        }
        free(canon);
    }
    free(doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = fuzz_copy_input(data, size);

    if (copy == NULL || size < 1) {
        free(copy);
        return 0;
    }
    switch (copy[0] % 3) {
    case 0:
        genesis_block(copy + 1, size - 1);
        break;
    case 1:
        genesis_tx(copy + 1, size - 1);
        break;
    default:
        licence(copy + 1, size - 1);
        break;
    }
    free(copy);
    return 0;
}
