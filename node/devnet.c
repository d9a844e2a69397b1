/* The devnet: keys, genesis and licence for `sbxd -devnet`; see devnet.h. */
#include "node/devnet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "node/chain.h"
#include "util/log.h"
#include "util/sha256.h"

#define THREE_YEARS_MS (INT64_C(1096) * 86400000)

int
node_devnet_regulator_key(struct ledger_key *k)
{
    static const char seed[] = "sbx devnet regulator key 1 (public; never use outside a devnet)";
    uint8_t secret[32];
    int rc;

    sha256(secret, seed, sizeof(seed) - 1);
    rc = ledger_keys_from_secret(k, secret);
    memset(secret, 0, sizeof(secret));
    return rc;
}

char *
node_devnet_licence(int64_t now_ms)
{
    char *s = malloc(512);

    if (s == NULL)
        return NULL;
    snprintf(
        s, 512,
        "{\"licence_id\":\"DEVNET-PILOT\",\"house_account\":\"%s\",\"params\":{"
        "\"licence.valid_from\":%lld,\"licence.valid_to\":%lld,"
        "\"price.max_age_s\":0,\"supervision.max_lag_s\":0,\"supervision.proposal_ttl_s\":86400,"
        "\"asset.BTC.ref_price_vnd\":2500000000,\"asset.ETH.ref_price_vnd\":90000000}}",
        NODE_DEVNET_HOUSE, (long long)now_ms, (long long)(now_ms + THREE_YEARS_MS));
    return s;
}

static int
path_join(char *out, size_t cap, const char *a, const char *b)
{
    int n = snprintf(out, cap, "%s/%s", a, b);

    return n < 0 || (size_t)n >= cap ? SBX_ETOOLONG : SBX_OK;
}

int
node_devnet_init(const char *datadir, int64_t now_ms, const uint8_t (*regulators)[32],
                 size_t nregulators, int quorum, struct sbx_err *err)
{
    static const struct ledger_asset_def assets[] = {{"VND", 0}, {"BTC", 8}, {"ETH", 8}};
    char keys[4096], opath[4096], rpath[4096], ledger[4096];
    struct ledger_key op, reg;
    struct buf genesis;
    struct stat st;
    char *licence = NULL;
    int rc;

    memset(&op, 0, sizeof(op));
    memset(&reg, 0, sizeof(reg));
    buf_init(&genesis, 1 << 20);
    if (path_join(keys, sizeof(keys), datadir, "keys") ||
        path_join(ledger, sizeof(ledger), datadir, "ledger") ||
        path_join(opath, sizeof(opath), keys, "operator.key") ||
        path_join(rpath, sizeof(rpath), keys, "regulator.key"))
        return sbx_err_set(err, SBX_ETOOLONG, "datadir: path too long");
    if (stat(ledger, &st) == 0)
        return SBX_OK; /* a chain is already there */
    if (mkdir(keys, 0700) != 0 && errno != EEXIST)
        return sbx_err_set(err, SBX_EIO, "cannot create %s: %s", keys, strerror(errno));
    rc = ledger_keys_load_or_make(&op, keys, opath, 1, err);
    if (rc)
        goto out;
    if (nregulators > SBX_MAX_REGULATORS) {
        rc = sbx_err_set(err, SBX_EINVAL, "-devnetregulator: at most %d regulators",
                         SBX_MAX_REGULATORS);
        goto out;
    }
    if (quorum == 0)
        quorum = 1;
    if (quorum < 1 || (size_t)quorum > (nregulators > 0 ? nregulators : 1)) {
        rc = sbx_err_set(err, SBX_EINVAL,
                         "-devnetquorum: %d is more than the %zu regulators of the devnet", quorum,
                         nregulators > 0 ? nregulators : (size_t)1);
        goto out;
    }
    rc = node_devnet_regulator_key(&reg);
    /* the embedded key, unless the devnet is given its regulators (then this node has none) */
    if (rc == SBX_OK && nregulators == 0 && stat(rpath, &st) != 0)
        rc = ledger_keys_save(&reg, rpath, err);
    if (rc)
        goto out;
    licence = node_devnet_licence(now_ms);
    if (licence == NULL) {
        rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
        goto out;
    }
    if (nregulators == 0) {
        uint8_t regs[1][32];

        memcpy(regs[0], reg.pubkey, 32);
        rc = node_chain_make_genesis(NODE_DEVNET_NETWORK, &op, (const uint8_t(*)[32])regs, 1, 1, 1,
                                     assets, SBX_ARRAY_LEN(assets), licence, now_ms, &genesis, err);
    } else {
        /* `quorum` regulators (default one) issue a directive; half of them (rounded up) make a
         * block final and keep the exchange supervised, so one of two may be down */
        rc = node_chain_make_genesis(NODE_DEVNET_NETWORK, &op, regulators, nregulators, quorum,
                                     (int)(nregulators + 1) / 2, assets, SBX_ARRAY_LEN(assets),
                                     licence, now_ms, &genesis, err);
    }
    rc = rc ? rc : node_chain_create(ledger, genesis.data, genesis.len, err);
    if (rc == SBX_OK)
        LOG_INFO(LOG_NODE, "devnet: created a new chain in %s", ledger);
out:
    free(licence);
    buf_release(&genesis);
    ledger_keys_wipe(&op);
    ledger_keys_wipe(&reg);
    return rc;
}
