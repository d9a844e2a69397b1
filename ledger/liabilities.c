/* Proof of liabilities: the sum tree, its snapshots and the offline check; see liabilities.h
 * and doc/protocol.md ("Liabilities").
 *
 * Optimised for simplicity over memory: a tree is built level by level in one array of nodes
 * (72 bytes a client for the leaf and its salt), which costs about 2n hashes and one sort of n
 * salts. The engine builds every asset's tree once per record; a proof builds one asset's tree
 * again from the stored snapshot.
 */
#include "ledger/liabilities.h"

#include <stdlib.h>
#include <string.h>

#include "util/sha256.h"

#define SNAPSHOT_MAX_ACCOUNTS (1u << 26) /* a decoder's cap: far above any exchange's clients */

/* str: u8 length then the bytes (the caller checked the length fits). */
static void
put_str(struct sha256_ctx *c, const char *s)
{
    uint8_t n = (uint8_t)strlen(s);

    sha256_ctx_update(c, &n, 1);
    sha256_ctx_update(c, s, n);
}

static void
put_i64(struct sha256_ctx *c, int64_t v)
{
    uint8_t b[8];

    buf_store_u64(b, (uint64_t)v);
    sha256_ctx_update(c, b, 8);
}

void
ledger_liabilities_seed_commit(uint8_t out[static 32], const uint8_t seed[static 32])
{
    sha256_tagged(&SHA256_TAG_LIAB_SEED, out, seed, 32);
}

void
ledger_liabilities_salt(uint8_t out[static 32], const uint8_t seed[static 32], const char *asset,
                        const char *account)
{
    struct sha256_ctx c;

    if (sha256_ctx_init(&c) != SBX_OK)
        SBX_BUG("sha256 context");
    sha256_tagged_begin(&SHA256_TAG_LIAB_SALT, &c);
    sha256_ctx_update(&c, seed, 32);
    put_str(&c, asset);
    put_str(&c, account);
    sha256_ctx_final(&c, out);
    sha256_ctx_release(&c);
}

int
ledger_liabilities_leaf(struct ledger_liab_node *out, const uint8_t salt[static 32],
                        const char *account, int64_t balance)
{
    struct sha256_ctx c;

    if (balance < 0)
        return SBX_EINVAL;
    if (sha256_ctx_init(&c) != SBX_OK)
        return SBX_EINTERNAL;
    sha256_tagged_begin(&SHA256_TAG_LIAB_LEAF, &c);
    sha256_ctx_update(&c, salt, 32);
    put_str(&c, account);
    put_i64(&c, balance);
    sha256_ctx_final(&c, out->hash);
    sha256_ctx_release(&c);
    out->sum = balance;
    return SBX_OK;
}

int
ledger_liabilities_parent(struct ledger_liab_node *out, const struct ledger_liab_node *l,
                          const struct ledger_liab_node *r)
{
    uint8_t msg[2 * (32 + 8)];
    int64_t sum;

    if (l->sum < 0 || r->sum < 0)
        return SBX_EINVAL;
    if (__builtin_add_overflow(l->sum, r->sum, &sum))
        return SBX_EOVERFLOW;
    memcpy(msg, l->hash, 32);
    buf_store_u64(msg + 32, (uint64_t)l->sum);
    memcpy(msg + 40, r->hash, 32);
    buf_store_u64(msg + 72, (uint64_t)r->sum);
    sha256_tagged(&SHA256_TAG_LIAB_NODE, out->hash, msg, sizeof(msg));
    out->sum = sum;
    return SBX_OK;
}

int
ledger_liabilities_root(struct ledger_liab_node *v, size_t n, size_t index,
                        struct ledger_liab_node *root, struct ledger_liab_step *path, size_t *npath)
{
    size_t idx = index;
    int rc;

    if (npath != NULL)
        *npath = 0;
    if (n == 0) {
        memset(root, 0, sizeof(*root));
        return SBX_OK;
    }
    while (n > 1) {
        size_t m = 0;

        if (idx < n && path != NULL && (idx ^ 1) < n) {
            if (*npath >= LEDGER_LIAB_PATH_MAX)
                return SBX_ETOOLONG;
            path[*npath].left = (idx & 1) != 0;
            path[*npath].sib = v[idx ^ 1];
            (*npath)++;
        }
        for (size_t i = 0; i + 1 < n; i += 2) {
            rc = ledger_liabilities_parent(&v[m++], &v[i], &v[i + 1]);
            if (rc)
                return rc;
        }
        if (n & 1)
            v[m++] = v[n - 1]; /* carried up, never paired with itself */
        n = m;
        idx >>= 1;
    }
    *root = v[0];
    return SBX_OK;
}

int
ledger_liabilities_verify(const struct ledger_liab_node *leaf, const struct ledger_liab_step *path,
                          size_t npath, const struct ledger_liab_node *root, struct sbx_err *err)
{
    struct ledger_liab_node cur = *leaf, next;
    int rc;

    if (npath > LEDGER_LIAB_PATH_MAX)
        return sbx_err_set(err, SBX_ETOOLONG, "path: more than %d steps", LEDGER_LIAB_PATH_MAX);
    if (leaf->sum < 0)
        return sbx_err_set(err, SBX_EINVAL, "balance: negative");
    for (size_t i = 0; i < npath; i++) {
        const struct ledger_liab_step *s = &path[i];

        rc = s->left ? ledger_liabilities_parent(&next, &s->sib, &cur)
                     : ledger_liabilities_parent(&next, &cur, &s->sib);
        if (rc)
            return sbx_err_set(err, rc, "path[%zu]: %s", i,
                               rc == SBX_EOVERFLOW ? "the sums overflow" : "a negative sum");
        cur = next;
    }
    if (cur.sum != root->sum)
        return sbx_err_set(err, SBX_EINVAL, "total: the path sums to %lld, the record says %lld",
                           (long long)cur.sum, (long long)root->sum);
    if (memcmp(cur.hash, root->hash, 32) != 0)
        return sbx_err_set(err, SBX_EINVAL, "root: the path does not lead to the recorded root");
    return SBX_OK;
}

/* ------------------------------------------------------------------ snapshots */

void
ledger_liabilities_snapshot_release(struct ledger_liab_snapshot *s)
{
    free(s->ids);
    free(s->bal);
    memset(s, 0, sizeof(*s));
}

static int
snapshot_alloc(struct ledger_liab_snapshot *s, size_t n, size_t nassets)
{
    memset(s, 0, sizeof(*s));
    s->nassets = nassets;
    s->ids = calloc(n ? n : 1, sizeof(*s->ids));
    s->bal = calloc((n ? n : 1) * (nassets ? nassets : 1), sizeof(*s->bal));
    if (s->ids == NULL || s->bal == NULL) {
        ledger_liabilities_snapshot_release(s);
        return SBX_ENOMEM;
    }
    return SBX_OK;
}

struct take_ctx {
    struct ledger_liab_snapshot *s;
    const char *exclude;
};

static int
take_one(void *ctx, const struct ledger_account *a)
{
    struct take_ctx *t = ctx;
    struct ledger_liab_snapshot *s = t->s;

    if (t->exclude != NULL && strcmp(a->id, t->exclude) == 0)
        return SBX_OK;
    memcpy(s->ids[s->n], a->id, sizeof(s->ids[0]));
    memcpy(&s->bal[s->n * s->nassets], a->balance, s->nassets * sizeof(int64_t));
    s->n++;
    return SBX_OK;
}

int
ledger_liabilities_snapshot_take(struct ledger_liab_snapshot *s, const struct ledger_state *st,
                                 const char *exclude)
{
    struct take_ctx t = {s, exclude};
    int rc = snapshot_alloc(s, ledger_state_count(st), ledger_state_nassets(st));

    rc = rc ? rc : ledger_state_foreach_sorted(st, take_one, &t);
    if (rc)
        ledger_liabilities_snapshot_release(s);
    return rc;
}

int
ledger_liabilities_snapshot_encode(const struct ledger_liab_snapshot *s, struct buf *out)
{
    int rc = buf_put_u32(out, (uint32_t)s->n);

    rc = rc ? rc : buf_put_u8(out, (uint8_t)s->nassets);
    for (size_t i = 0; rc == SBX_OK && i < s->n; i++) {
        size_t len = strlen(s->ids[i]);

        rc = buf_put_u8(out, (uint8_t)len);
        rc = rc ? rc : buf_put(out, s->ids[i], len);
        for (size_t k = 0; rc == SBX_OK && k < s->nassets; k++)
            rc = buf_put_i64(out, s->bal[i * s->nassets + k]);
    }
    return rc;
}

int
ledger_liabilities_snapshot_decode(struct ledger_liab_snapshot *s, const uint8_t *in, size_t len)
{
    struct buf_reader r;
    uint32_t n;
    uint8_t na, idlen;
    int rc;

    memset(s, 0, sizeof(*s));
    buf_reader_init(&r, in, len);
    if (buf_read_u32(&r, &n) || buf_read_u8(&r, &na) || n > SNAPSHOT_MAX_ACCOUNTS ||
        na > SBX_MAX_ASSETS || (size_t)n * (1 + 1 + 8u * na) > len)
        return SBX_ECORRUPT;
    rc = snapshot_alloc(s, n, na);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (buf_read_u8(&r, &idlen) || idlen == 0 || idlen > SBX_ID_MAX ||
            buf_read(&r, s->ids[i], idlen))
            goto corrupt;
        s->ids[i][idlen] = '\0';
        if (i > 0 && strcmp(s->ids[i - 1], s->ids[i]) >= 0)
            goto corrupt;
        for (size_t k = 0; k < na; k++) {
            int64_t *b = &s->bal[i * na + k];

            if (buf_read_i64(&r, b) || *b < 0)
                goto corrupt;
        }
        s->n++;
    }
    if (buf_reader_left(&r) == 0)
        return SBX_OK;
corrupt:
    ledger_liabilities_snapshot_release(s);
    return SBX_ECORRUPT;
}

/* ------------------------------------------------------------------ a tree from a snapshot */

struct salted {
    uint8_t salt[32];
    size_t row;
};

static int
by_salt(const void *a, const void *b)
{
    return memcmp(((const struct salted *)a)->salt, ((const struct salted *)b)->salt, 32);
}

int
ledger_liabilities_tree(const struct ledger_liab_snapshot *s, size_t asset, const char *symbol,
                        const uint8_t seed[static 32], const char *account, int64_t short_by,
                        struct ledger_liab_proof *out)
{
    struct salted *sl = calloc(s->n ? s->n : 1, sizeof(*sl));
    struct ledger_liab_node *v = calloc(s->n ? s->n : 1, sizeof(*v));
    size_t index = SIZE_MAX;
    int rc = sl != NULL && v != NULL ? SBX_OK : SBX_ENOMEM;

    memset(out, 0, sizeof(*out));
    if (rc == SBX_OK && asset >= s->nassets)
        rc = SBX_EINVAL;
    for (size_t i = 0; rc == SBX_OK && i < s->n; i++) {
        ledger_liabilities_salt(sl[i].salt, seed, symbol, s->ids[i]);
        sl[i].row = i;
    }
    if (rc == SBX_OK)
        qsort(sl, s->n, sizeof(*sl), by_salt);
    for (size_t i = 0; rc == SBX_OK && i < s->n; i++) {
        const char *id = s->ids[sl[i].row];
        int64_t bal = s->bal[sl[i].row * s->nassets + asset];

        if (short_by > 0 && bal >= short_by) {
            bal -= short_by;
            short_by = 0;
        }
        rc = ledger_liabilities_leaf(&v[i], sl[i].salt, id, bal);
        if (rc == SBX_OK && account != NULL && strcmp(id, account) == 0) {
            index = i;
            out->leaf = v[i];
            out->balance = bal;
            memcpy(out->salt, sl[i].salt, 32);
        }
    }
    if (rc == SBX_OK && account != NULL && index == SIZE_MAX)
        rc = SBX_ENOTFOUND;
    if (rc == SBX_OK)
        rc = ledger_liabilities_root(v, s->n, index, &out->root, out->path, &out->npath);
    free(sl);
    free(v);
    return rc;
}
