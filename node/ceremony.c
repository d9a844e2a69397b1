/* The genesis ceremony: a new network's chain from its licence file; see ceremony.h.
 *
 * Threads: the entry point's only thread, before any node exists (sbxd -init exits after it).
 * The licence file was checked before this runs, so a bad file creates nothing; what this
 * makes, in order: keys/operator.key if missing, ledger/ (the chain), genesis.hex (written
 * aside and renamed).
 */
#include "node/ceremony.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/block.h"
#include "ledger/keys.h"
#include "node/chain.h"
#include "node/node_int.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/sha256.h"

struct ceremony_paths {
    char keys[4096], okey[4096], ledger[4096], genesis[4096], tmp[4096];
};

static int
paths_init(struct ceremony_paths *p, const char *datadir, struct sbx_err *err)
{
    const struct {
        char *out;
        const char *dir, *name;
    } v[] = {{p->keys, datadir, "keys"},
             {p->okey, p->keys, "operator.key"},
             {p->ledger, datadir, "ledger"},
             {p->genesis, datadir, NODE_CEREMONY_GENESIS_FILE},
             {p->tmp, datadir, NODE_CEREMONY_GENESIS_FILE ".tmp"}};

    for (size_t i = 0; i < SBX_ARRAY_LEN(v); i++) {
        int n = snprintf(v[i].out, sizeof(p->keys), "%s/%s", v[i].dir, v[i].name);

        if (n < 0 || (size_t)n >= sizeof(p->keys))
            return sbx_err_set(err, SBX_ETOOLONG, "datadir: path too long");
    }
    return SBX_OK;
}

/* The block in hex and a newline to `path`, written to `tmp` and renamed. */
static int
write_hex(const char *path, const char *tmp, const struct buf *block, struct sbx_err *err)
{
    struct buf hex;
    int fd, ok, rc = SBX_OK;

    buf_init(&hex, 2 * block->len + 1);
    if (buf_reserve(&hex, 2 * block->len + 1) != SBX_OK) {
        buf_release(&hex);
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    }
    hex_encode((char *)hex.data, block->data, block->len);
    hex.data[2 * block->len] = '\n';
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = sbx_err_set(err, SBX_EIO, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    ok = write(fd, hex.data, 2 * block->len + 1) == (ssize_t)(2 * block->len + 1);
    ok = fsync(fd) == 0 && ok;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        rc = sbx_err_set(err, SBX_EIO, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
out:
    buf_release(&hex);
    return rc;
}

/* The operator key: loaded or made, and not one of the licence's regulators. */
static int
operator_key(struct ledger_key *k, const struct ceremony_paths *p,
             const struct cmp_licence_file *lf, struct sbx_err *err)
{
    int rc = ledger_keys_load_or_make(k, p->keys, p->okey, 1, err);

    if (rc)
        return rc;
    for (size_t i = 0; i < lf->nregulators; i++) {
        if (memcmp(lf->regulator_keys[i], k->pubkey, 32) == 0)
            return sbx_err_set(err, SBX_EINVAL,
                               "regulators[%zu].key: is the operator key (%s); a regulator "
                               "needs a key of its own (sbxd -genkey on its own datadir)",
                               i, p->okey);
    }
    return SBX_OK;
}

int
node_ceremony_run(const char *datadir, const struct cmp_licence_file *lf, int64_t now_ms,
                  uint8_t network_id[static 32], uint8_t operator_pub[static 32],
                  struct sbx_err *err)
{
    struct ceremony_paths p;
    struct ledger_key op;
    struct ledger_block b;
    struct buf genesis;
    struct stat st;
    int rc;

    memset(&op, 0, sizeof(op));
    memset(&b, 0, sizeof(b));
    buf_init(&genesis, LEDGER_BLOCK_MAX_SIZE);
    rc = paths_init(&p, datadir, err);
    if (rc)
        goto out;
    if (stat(p.ledger, &st) == 0) {
        rc = sbx_err_set(err, SBX_ECONFLICT,
                         "%s already holds a chain: -init makes a new one only in a datadir "
                         "without one",
                         datadir);
        goto out;
    }
    if (ledger_keys_global_init() != SBX_OK || sha256_global_init() != SBX_OK) {
        rc = sbx_err_set(err, SBX_EINTERNAL, "crypto libraries failed to initialise");
        goto out;
    }
    rc = operator_key(&op, &p, lf, err);
    rc = rc ? rc
            : node_chain_make_genesis(lf->network, &op, (const uint8_t(*)[32])lf->regulator_keys,
                                      lf->nregulators, lf->directive_quorum, lf->attestation_quorum,
                                      lf->assets, lf->nassets, lf->licence_json, now_ms, &genesis,
                                      err);
    rc = rc ? rc : ledger_block_decode(&b, genesis.data, genesis.len, err);
    if (rc)
        goto out;
    ledger_block_hash(&b.hdr, network_id);
    memcpy(operator_pub, op.pubkey, 32);
    rc = node_chain_create(p.ledger, genesis.data, genesis.len, err);
    rc = rc ? rc : write_hex(p.genesis, p.tmp, &genesis, err);
    if (rc == SBX_OK)
        LOG_INFO(LOG_NODE, "init: created the chain of network %s in %s", lf->network, p.ledger);
out:
    ledger_block_release(&b);
    buf_release(&genesis);
    ledger_keys_wipe(&op);
    return rc;
}
