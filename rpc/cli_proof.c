/* `sbx-cli verifytxproof PROOF [GENESIS]`: check an offline transaction proof (the result of
 * gettxproof, or the whole JSON-RPC response) with no node, using the ledger's own code
 * (ledger_proof_check, ledger_proof_genesis), so it checks exactly what a node checks.
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

#include "ledger/locate.h"
#include "ledger/proof.h"
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

/* The proof being checked, decoded. */
struct vp {
    struct ledger_proof p;
    struct buf tx;
    uint8_t txid[32], block_hash[32];
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
check_genesis(const char *path, const struct vp *v, char *network, size_t size, struct sbx_err *err)
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
out:
    json_decref(doc);
    ledger_tx_release(&g);
    ledger_block_release(&b);
    buf_release(&text);
    buf_release(&raw);
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
    json_error_t jerr;
    struct buf text;
    int rc;

    buf_init(&text, 0);
    if (v == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    buf_init(&v->tx, SBX_TX_MAX_SIZE);
    rc = read_all(proof_path, &text, PROOF_FILE_MAX, err);
    if (rc)
        goto out;
    doc = json_loadb((const char *)text.data, text.len - 1, 0, &jerr);
    o = json_is_object(json_object_get(doc, "result")) ? json_object_get(doc, "result") : doc;
    if (!json_is_object(o)) {
        rc =
            sbx_err_set(err, SBX_EINVAL, "%s: not a JSON object (a gettxproof result)", proof_path);
        goto out;
    }
    rc = decode_proof(o, v, err);
    rc = rc ? rc : ledger_proof_check(&v->p, v->txid, v->block_hash, err);
    rc = rc ? rc : check_shown(o, v, err);
    if (rc == SBX_OK && genesis_path != NULL)
        rc = check_genesis(genesis_path, v, network, sizeof(network), err);
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
    buf_release(&text);
    buf_release(&v->tx);
    free(v);
    return rc;
}

int
rpc_cli_proof_main(int argc, char **argv)
{
    struct sbx_err err;

    if (argc < 1 || argc > 2) {
        fprintf(stderr, "Usage:\n%s", rpc_cli_proof_usage);
        return 2;
    }
    sbx_err_clear(&err);
    if (verify(argv[0], argc == 2 ? argv[1] : NULL, &err) != SBX_OK) {
        printf("invalid: %s\n", err.msg);
        return 1;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
