/* `sbx-cli verifytxproof PROOF [GENESIS]`: check an offline transaction proof (the result of
 * gettxproof, or the whole JSON-RPC response) with no node, using the ledger's own code
 * (ledger_proof_check, ledger_proof_genesis), so it checks exactly what a node checks; and
 * `sbx-cli verifyliabilityproof PROOF [GENESIS]`: a client's leaf in a liabilities record
 * (getliabilityproof), whose transaction proof is checked the same way and whose path is folded
 * with ledger/liabilities.c's ledger_liabilities_verify.
 *
 * Beside the cryptographic checks, every field of the proof meant for people (the header's
 * fields, the txid, the place and the verdict of `tx`) must agree with the bytes that were
 * checked, so that what one reads in the proof is what was proved. The body fields of `tx`
 * (amounts, accounts) are not compared: tx_hex is what the txid covers. Nor is the transaction's
 * own signature, if it has one: the txid does not cover it, and a block-authenticated
 * transaction has none (the block's signature is what authenticates it).
 *
 * What a valid proof does NOT show: that the block is on the chain a regulator follows (a
 * producer key can sign two blocks at one height). Compare the block hash it prints with that
 * regulator's `getblock`.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "rpc/cli_proof.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ledger/amount.h"
#include "ledger/liabilities.h"
#include "ledger/locate.h"
#include "ledger/proof.h"
#include "rpc/m_liabilities.h"
#include "rpc/m_query.h"
#include "rpc/render.h"
#include "util/buf.h"
#include "util/hex.h"

#define PROOF_FILE_MAX (1u << 20)    /* a proof: one transaction, a header, two paths */
#define GENESIS_FILE_MAX (16u << 20) /* the genesis block in hex, licence included */

const char rpc_cli_proof_usage[] =
    "  sbx-cli verifytxproof PROOF [GENESIS]\n"
    "      Check, without a node, a transaction proof from gettxproof (PROOF: a file with\n"
    "      its result or the whole JSON-RPC response; - for standard input): the txid is the\n"
    "      hash of the transaction, its merkle path and its verdict's lead to the roots in\n"
    "      the block header, and the producer's signature verifies over the header. With\n"
    "      GENESIS (a file with the result of getblock height=0 hex=true, or its hex alone)\n"
    "      also that the producer is the operator key of that network.\n"
    "      It does NOT show that the block is on the chain a regulator follows: compare\n"
    "      the block hash it prints with the regulator's getblock. Nor does it check the\n"
    "      transaction's own signature, if it has one (the txid does not cover it).\n"
    "      Exit status: 0 valid, 1 invalid (the message names the check that failed),\n"
    "      2 usage.\n";

/* The proof being checked, decoded; with a genesis, its assets. */
struct vp {
    struct ledger_proof p;
    struct buf tx;
    uint8_t txid[32], block_hash[32];
    struct ledger_asset_def assets[SBX_MAX_ASSETS];
    uint8_t nassets;
};

/* Read all of `path` ("-": standard input) into `out` (NUL-terminated; at most `cap` bytes). */
static int
read_all(const char *path, struct buf *out, size_t cap, struct sbx_err *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    uint8_t chunk[4096];
    size_t n;
    int rc = SBX_OK;

    buf_init(out, cap + 1);
    if (f == NULL)
        return sbx_err_set(err, SBX_EIO, "%s: cannot open", path);
    while (rc == SBX_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = buf_put(out, chunk, n);
    if (rc == SBX_OK && ferror(f))
        rc = SBX_EIO;
    rc = rc ? rc : buf_put_u8(out, 0);
    if (f != stdin)
        fclose(f);
    if (rc)
        return sbx_err_set(err, rc, "%s: cannot read it (or larger than %zu bytes)", path, cap);
    return SBX_OK;
}

/* Member `name` of `o` as a hex string decoded into `out` (exactly `len` bytes, or up to `len`
 * with *got set when `got` is not NULL). */
static int
get_hex(json_t *o, const char *name, uint8_t *out, size_t len, size_t *got, struct sbx_err *err)
{
    const char *s = json_string_value(json_object_get(o, name));
    int rc;

    if (s == NULL)
        return sbx_err_set(err, SBX_EINVAL, "%s: missing or not a string", name);
    if (got != NULL)
        rc = hex_decode_var(out, len, got, s, strlen(s));
    else
        rc = hex_decode(out, len, s, strlen(s));
    if (rc)
        return sbx_err_set(err, SBX_EINVAL, "%s: not hex of the right length", name);
    return SBX_OK;
}

/* A path: an array of at most LEDGER_MERKLE_PATH_MAX hex siblings. */
static int
get_path(json_t *o, const char *name, uint8_t (*out)[32], size_t *n, struct sbx_err *err)
{
    json_t *a = json_object_get(o, name);

    if (!json_is_array(a) || json_array_size(a) > LEDGER_MERKLE_PATH_MAX)
        return sbx_err_set(err, SBX_EINVAL, "%s: missing or not a list of siblings", name);
    *n = json_array_size(a);
    for (size_t i = 0; i < *n; i++) {
        const char *s = json_string_value(json_array_get(a, i));

        if (s == NULL || hex_decode(out[i], 32, s, strlen(s)) != SBX_OK)
            return sbx_err_set(err, SBX_EINVAL, "%s[%zu]: not 32 bytes of hex", name, i);
    }
    return SBX_OK;
}

/* Decode the members of proof `o` into `v`. */
static int
decode_proof(json_t *o, struct vp *v, struct sbx_err *err)
{
    uint8_t hdr[LEDGER_HEADER_SIZE], verdict[LEDGER_VERDICT_SIZE];
    json_t *jindex = json_object_get(o, "index");
    const char *format = json_string_value(json_object_get(o, "format"));
    size_t txlen = 0;
    int rc;

    if (format == NULL || strcmp(format, RPC_TXPROOF_FORMAT) != 0)
        return sbx_err_set(err, SBX_EVERSION, "format: not \"%s\"", RPC_TXPROOF_FORMAT);
    rc = get_hex(o, "header_hex", hdr, LEDGER_HEADER_UNSIGNED_SIZE, NULL, err);
    rc = rc ? rc : get_hex(o, "signature", hdr + LEDGER_HEADER_UNSIGNED_SIZE, 64, NULL, err);
    rc = rc ? rc : ledger_block_header_decode(&v->p.hdr, hdr, sizeof(hdr), err);
    rc = rc ? rc : buf_reserve(&v->tx, SBX_TX_MAX_SIZE);
    rc = rc ? rc : get_hex(o, "tx_hex", v->tx.data, SBX_TX_MAX_SIZE, &txlen, err);
    rc = rc ? rc : get_hex(o, "verdict_hex", verdict, sizeof(verdict), NULL, err);
    rc = rc ? rc : ledger_verdict_decode(&v->p.verdict, verdict, err);
    rc = rc ? rc : get_path(o, "tx_path", v->p.tx_path, &v->p.tx_npath, err);
    rc = rc ? rc : get_path(o, "verdict_path", v->p.verdict_path, &v->p.verdict_npath, err);
    if (rc)
        return rc;
    if (!json_is_integer(jindex) || json_integer_value(jindex) < 0 ||
        json_integer_value(jindex) >= LEDGER_BLOCK_MAX_TXS)
        return sbx_err_set(err, SBX_EINVAL, "index: missing or out of range");
    v->p.index = (uint32_t)json_integer_value(jindex);
    v->p.tx = v->tx.data;
    v->p.tx_len = txlen;
    return SBX_OK;
}

/* Member `name` of `o` equals `want` (a new reference, taken). */
static int
same(json_t *o, const char *name, json_t *want, struct sbx_err *err)
{
    int ok = want != NULL && json_equal(json_object_get(o, name), want);

    json_decref(want);
    if (!ok)
        return sbx_err_set(err, SBX_EINVAL, "%s: does not match the checked bytes", name);
    return SBX_OK;
}

/* The members for people agree with what was checked: the header object is the rendering of
 * the signed header, and txid, place and verdict are those of the checked bytes. */
static int
check_shown(json_t *o, const struct vp *v, struct sbx_err *err)
{
    struct ledger_locate k;
    json_t *tx = json_object_get(o, "tx");
    const struct ledger_verdict *vd = &v->p.verdict;
    int rc;

    ledger_locate_init(&k);
    k.b.hdr = v->p.hdr;
    k.b.ntx = v->p.hdr.ntx;
    memcpy(k.hash, v->block_hash, 32);
    rc = same(o, "header", rpc_render_block_header(&k), err);
    rc = rc ? rc : same(o, "txid", hex_json(v->txid, 32), err);
    if (rc)
        return rc;
    if (!json_is_object(tx))
        return sbx_err_set(err, SBX_EINVAL, "tx: missing or not an object");
    rc = same(tx, "txid", hex_json(v->txid, 32), err);
    rc = rc ? rc : same(tx, "index", json_integer(v->p.index), err);
    rc = rc ? rc : same(tx, "height", rpc_render_u64(v->p.hdr.height), err);
    rc = rc ? rc : same(tx, "block_hash", hex_json(v->block_hash, 32), err);
    rc = rc ? rc : same(tx, "param_version", json_integer(vd->param_version), err);
    rc = rc ? rc
            : same(tx, "verdict",
                   json_string(vd->status == LEDGER_VERDICT_ACCEPTED ? "accepted" : "rejected"),
                   err);
    if (rc == SBX_OK && vd->status == LEDGER_VERDICT_REJECTED)
        rc = same(tx, "rule", rpc_render_rule(vd->rule), err);
    if (rc)
        return sbx_err_set(err, rc, "tx.%s", err->msg);
    return SBX_OK;
}

/* The genesis block in `path` (hex) is valid and its operator produced the proof's block;
 * its network name into `network`. */
static int
check_genesis(const char *path, struct vp *v, char *network, size_t size, struct sbx_err *err)
{
    struct buf text, raw;
    struct ledger_block b;
    struct ledger_tx g;
    json_t *doc = NULL, *res;
    const char *hex;
    size_t len, rawlen = 0;
    int rc;

    memset(&b, 0, sizeof(b));
    memset(&g, 0, sizeof(g));
    buf_init(&raw, GENESIS_FILE_MAX / 2);
    rc = read_all(path, &text, GENESIS_FILE_MAX, err);
    if (rc) {
        sbx_err_set(err, rc, "genesis: %s", err->msg);
        goto out;
    }
    hex = (const char *)text.data + strspn((const char *)text.data, " \t\r\n");
    if (hex[0] == '{') {
        /* getblock's result (or the whole response): its member "hex" */
        doc = json_loadb((const char *)text.data, text.len - 1, 0, NULL);
        res = json_object_get(doc, "result") != NULL ? json_object_get(doc, "result") : doc;
        hex = json_string_value(json_object_get(res, "hex"));
        hex = hex != NULL ? hex : "";
    }
    len = strcspn(hex, " \t\r\n");
    rc = buf_reserve(&raw, len / 2 + 1);
    rc = rc ? rc : hex_decode_var(raw.data, len / 2 + 1, &rawlen, hex, len);
    if (rc) {
        rc = sbx_err_set(err, SBX_EINVAL, "genesis: %s holds no block in hex", path);
        goto out;
    }
    rc = ledger_block_decode(&b, raw.data, rawlen, err);
    rc = rc ? rc : ledger_proof_genesis(&b, &g, err);
    if (rc) {
        sbx_err_set(err, rc, "genesis: %s", err->msg);
        goto out;
    }
    if (memcmp(g.u.genesis.operator_key, v->p.hdr.producer, 32) != 0) {
        rc = sbx_err_set(err, SBX_EDENIED,
                         "genesis: the block's producer is not the operator key of network %s",
                         g.u.genesis.network);
        goto out;
    }
    snprintf(network, size, "%s", g.u.genesis.network);
    memcpy(v->assets, g.u.genesis.assets, sizeof(v->assets));
    v->nassets = g.u.genesis.nassets;
out:
    json_decref(doc);
    ledger_tx_release(&g);
    ledger_block_release(&b);
    buf_release(&text);
    buf_release(&raw);
    return rc;
}

/* The JSON document in `path` (a result, or a whole JSON-RPC response whose result is taken):
 * its object into `*o`, the document (to release) into `*doc`. `what` names the method. */
static int
load_doc(const char *path, const char *what, json_t **doc, json_t **o, struct sbx_err *err)
{
    json_error_t jerr;
    struct buf text;
    int rc = read_all(path, &text, PROOF_FILE_MAX, err);

    *doc = *o = NULL;
    if (rc == SBX_OK)
        *doc = json_loadb((const char *)text.data, text.len - 1, 0, &jerr);
    buf_release(&text);
    if (rc)
        return rc;
    *o = json_is_object(json_object_get(*doc, "result")) ? json_object_get(*doc, "result") : *doc;
    if (!json_is_object(*o))
        return sbx_err_set(err, SBX_EINVAL, "%s: not a JSON object (a %s result)", path, what);
    return SBX_OK;
}

/* Check the transaction proof `o` into `v` (its tx buffer made here; the caller releases it),
 * with the genesis in `genesis_path` (may be NULL; the network's name into `network`). */
static int
check_txproof(json_t *o, const char *genesis_path, struct vp *v, char *network, size_t size,
              struct sbx_err *err)
{
    int rc;

    buf_init(&v->tx, SBX_TX_MAX_SIZE);
    rc = decode_proof(o, v, err);
    rc = rc ? rc : ledger_proof_check(&v->p, v->txid, v->block_hash, err);
    rc = rc ? rc : check_shown(o, v, err);
    if (rc == SBX_OK && genesis_path != NULL)
        rc = check_genesis(genesis_path, v, network, size, err);
    return rc;
}

/* Parse and check the proof in `proof_path` (and the genesis in `genesis_path`, may be NULL);
 * prints the "valid: ..." line on success. */
static int
verify(const char *proof_path, const char *genesis_path, struct sbx_err *err)
{
    struct vp *v = calloc(1, sizeof(*v));
    char network[SBX_NETWORK_MAX + 1] = "", txid[65], hash[65];
    json_t *doc = NULL, *o;
    int rc;

    if (v == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    rc = load_doc(proof_path, "gettxproof", &doc, &o, err);
    rc = rc ? rc : check_txproof(o, genesis_path, v, network, sizeof(network), err);
    if (rc)
        goto out;
    hex_encode(txid, v->txid, 32);
    hex_encode(hash, v->block_hash, 32);
    printf("valid: txid %s in block %llu (hash %s), index %lu, verdict %s", txid,
           (unsigned long long)v->p.hdr.height, hash, (unsigned long)v->p.index,
           v->p.verdict.status == LEDGER_VERDICT_ACCEPTED ? "accepted" : "rejected");
    if (v->p.verdict.status == LEDGER_VERDICT_REJECTED) {
        json_t *rule = rpc_render_rule(v->p.verdict.rule);

        printf(" (rule %s)", rule != NULL ? json_string_value(rule) : "?");
        json_decref(rule);
    }
    if (genesis_path != NULL)
        printf(", produced by the operator of network %s", network);
    printf("\n");
out:
    json_decref(doc);
    buf_release(&v->tx);
    free(v);
    return rc;
}

/* One line and the exit status of a check: 0 valid, 1 invalid (the line names the check),
 * 2 usage. */
static int
run_check(int argc, char **argv, const char *usage,
          int (*check)(const char *proof, const char *genesis, struct sbx_err *err))
{
    struct sbx_err err;

    if (argc < 1 || argc > 2) {
        fprintf(stderr, "Usage:\n%s", usage);
        return 2;
    }
    sbx_err_clear(&err);
    if (check(argv[0], argc == 2 ? argv[1] : NULL, &err) != SBX_OK) {
        printf("invalid: %s\n", err.msg);
        return 1;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

int
rpc_cli_proof_main(int argc, char **argv)
{
    return run_check(argc, argv, rpc_cli_proof_usage, verify);
}

/* ------------------------------------------------------------------ verifyliabilityproof */

const char rpc_cli_liab_usage[] =
    "  sbx-cli verifyliabilityproof PROOF [GENESIS]\n"
    "      Check, without a node, a client's proof from getliabilityproof (PROOF: a file\n"
    "      with its result or the whole JSON-RPC response; - for standard input): its\n"
    "      liabilities record is in a block the operator signed (as verifytxproof checks,\n"
    "      GENESIS as there), and the account's leaf with its balance and salt, folded with\n"
    "      the path, gives that record's root and total for the asset, every sum >= 0.\n"
    "      Exit status: 0 valid, 1 invalid (the message names the check that failed),\n"
    "      2 usage.\n";

/* An amount member of `o` in base units (`dec` decimals). */
static int
get_amount(json_t *o, const char *name, unsigned dec, int64_t *out, struct sbx_err *err)
{
    const char *s = json_string_value(json_object_get(o, name));

    if (s == NULL)
        return sbx_err_set(err, SBX_EINVAL, "%s: missing or not a decimal string", name);
    return ledger_amount_parse(s, dec, out, name, err);
}

/* The path member: [{side, hash, sum}] from the leaf up. */
static int
get_liab_path(json_t *o, unsigned dec, struct ledger_liab_step *path, size_t *n,
              struct sbx_err *err)
{
    json_t *a = json_object_get(o, "path");
    int rc = SBX_OK;

    if (!json_is_array(a) || json_array_size(a) > LEDGER_LIAB_PATH_MAX)
        return sbx_err_set(err, SBX_EINVAL, "path: missing or not a list of steps");
    *n = json_array_size(a);
    for (size_t i = 0; rc == SBX_OK && i < *n; i++) {
        json_t *s = json_array_get(a, i);
        const char *side = json_string_value(json_object_get(s, "side"));

        if (side == NULL || (strcmp(side, "left") != 0 && strcmp(side, "right") != 0))
            return sbx_err_set(err, SBX_EINVAL, "path[%zu].side: left or right", i);
        path[i].left = strcmp(side, "left") == 0;
        rc = get_hex(s, "hash", path[i].sib.hash, 32, NULL, err);
        rc = rc ? rc : get_amount(s, "sum", dec, &path[i].sib.sum, err);
        if (rc)
            return sbx_err_set(err, rc, "path[%zu].%s", i, err->msg);
    }
    return SBX_OK;
}

/* The record in the checked transaction `v`: its line for `asset`, which the shown members
 * (height, reflects_height, total, root) must match. */
static int
record_line(json_t *o, const struct vp *v, const char *asset, unsigned dec,
            struct ledger_liability *line, uint64_t *reflects, struct sbx_err *err)
{
    struct ledger_tx tx;
    int rc = ledger_tx_decode(&tx, v->p.tx, v->p.tx_len, NULL, err);
    size_t i;

    if (rc)
        return rc;
    if (tx.type != LEDGER_TX_LIABILITIES || v->p.verdict.status != LEDGER_VERDICT_ACCEPTED)
        return sbx_err_set(err, SBX_EINVAL, "txproof: not an accepted liabilities record");
    for (i = 0; i < tx.u.liabilities.nassets; i++)
        if (strcmp(tx.u.liabilities.assets[i].asset, asset) == 0)
            break;
    if (i == tx.u.liabilities.nassets)
        return sbx_err_set(err, SBX_EINVAL, "asset: %s is not in the record", asset);
    *line = tx.u.liabilities.assets[i];
    *reflects = tx.u.liabilities.reflects_height;
    rc = same(o, "height", rpc_render_u64(v->p.hdr.height), err);
    rc =
        rc ? rc : same(o, "reflects_height", rpc_render_u64(tx.u.liabilities.reflects_height), err);
    rc = rc ? rc : same(o, "total", rpc_render_amount(line->total, dec), err);
    return rc ? rc : same(o, "root", hex_json(line->root, 32), err);
}

/* The genesis's decimals of `asset` agree with the proof's (another count would read another
 * balance into the same base units). */
static int
check_decimals(const struct vp *v, const char *asset, unsigned dec, struct sbx_err *err)
{
    for (size_t i = 0; i < v->nassets; i++)
        if (strcmp(v->assets[i].symbol, asset) == 0 && v->assets[i].decimals == dec)
            return SBX_OK;
    return sbx_err_set(err, SBX_EINVAL, "decimals: not those of %s in the genesis", asset);
}

static int
verify_liab(const char *proof_path, const char *genesis_path, struct sbx_err *err)
{
    struct vp *v = calloc(1, sizeof(*v));
    struct ledger_liab_step *path = calloc(LEDGER_LIAB_PATH_MAX, sizeof(*path));
    char network[SBX_NETWORK_MAX + 1] = "", account[SBX_ID_MAX + 1] = "", bal[64] = "";
    struct ledger_liab_node leaf, root;
    struct ledger_liability line;
    json_t *doc = NULL, *o = NULL, *jdec;
    const char *format, *acc, *asset;
    uint8_t salt[32];
    int64_t balance;
    uint64_t reflects = 0;
    size_t npath = 0;
    unsigned dec = 0;
    int rc = v != NULL && path != NULL ? SBX_OK : sbx_err_set(err, SBX_ENOMEM, "out of memory");

    rc = rc ? rc : load_doc(proof_path, "getliabilityproof", &doc, &o, err);
    format = json_string_value(json_object_get(o, "format"));
    acc = json_string_value(json_object_get(o, "account"));
    asset = json_string_value(json_object_get(o, "asset"));
    jdec = json_object_get(o, "decimals");
    if (rc == SBX_OK && (format == NULL || strcmp(format, RPC_LIABPROOF_FORMAT) != 0))
        rc = sbx_err_set(err, SBX_EVERSION, "format: not \"%s\"", RPC_LIABPROOF_FORMAT);
    if (rc == SBX_OK && (acc == NULL || !ledger_id_valid(acc, SBX_ID_MAX)))
        rc = sbx_err_set(err, SBX_EINVAL, "account: missing or not an account id");
    if (rc == SBX_OK && (asset == NULL || !ledger_symbol_valid(asset)))
        rc = sbx_err_set(err, SBX_EINVAL, "asset: missing or not a symbol");
    if (rc == SBX_OK && (!json_is_integer(jdec) || json_integer_value(jdec) < 0 ||
                         json_integer_value(jdec) > SBX_ASSET_DECIMALS_MAX))
        rc = sbx_err_set(err, SBX_EINVAL, "decimals: missing or out of range");
    if (rc == SBX_OK) {
        snprintf(account, sizeof(account), "%s", acc);
        dec = (unsigned)json_integer_value(jdec);
    }
    if (rc == SBX_OK && !json_is_object(json_object_get(o, "txproof")))
        rc = sbx_err_set(err, SBX_EINVAL, "txproof: missing or not an object");
    if (rc == SBX_OK) {
        rc = check_txproof(json_object_get(o, "txproof"), genesis_path, v, network, sizeof(network),
                           err);
        if (rc)
            sbx_err_set(err, rc, "txproof.%s", err->msg);
    }
    if (rc == SBX_OK && genesis_path != NULL)
        rc = check_decimals(v, asset, dec, err);
    rc = rc ? rc : record_line(o, v, asset, dec, &line, &reflects, err);
    rc = rc ? rc : get_amount(o, "balance", dec, &balance, err);
    rc = rc ? rc : get_hex(o, "salt", salt, 32, NULL, err);
    rc = rc ? rc : get_liab_path(o, dec, path, &npath, err);
    if (rc == SBX_OK && ledger_liabilities_leaf(&leaf, salt, account, balance) != SBX_OK)
        rc = sbx_err_set(err, SBX_EINVAL, "balance: negative");
    rc = rc ? rc : same(o, "leaf", hex_json(leaf.hash, 32), err);
    if (rc == SBX_OK) {
        memcpy(root.hash, line.root, 32);
        root.sum = line.total;
        rc = ledger_liabilities_verify(&leaf, path, npath, &root, err);
    }
    if (rc == SBX_OK) {
        ledger_amount_format(bal, balance, dec);
        printf("valid: account %s holds %s %s in the liabilities record of block %llu "
               "(as of block %llu)",
               account, bal, asset, (unsigned long long)v->p.hdr.height,
               (unsigned long long)reflects);
        if (genesis_path != NULL)
            printf(", produced by the operator of network %s", network);
        printf("\n");
    }
    json_decref(doc);
    if (v != NULL)
        buf_release(&v->tx);
    free(v);
    free(path);
    return rc;
}

int
rpc_cli_liab_main(int argc, char **argv)
{
    return run_check(argc, argv, rpc_cli_liab_usage, verify_liab);
}
