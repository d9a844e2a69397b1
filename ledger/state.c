/* In-memory account and balance state with dirty tracking; see state.h.
 *
 * Optimised for the sequencer's hot path: one hash lookup per party, balances inline in the
 * account, no allocation after an account exists. Dirty accounts are kept on a list so that
 * collecting a block's changes costs O(accounts touched), not O(accounts).
 */
#include "ledger/state.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/amount.h"
#include "ledger/store.h"
#include "ledger/tx.h"
#include "util/array.h"
#include "util/buf.h"
#include "util/map.h"

#define ACCOUNT_RECORD_VERSION 1
#define ACCOUNT_RECORD_MAX (1 + 1 + SBX_ID_MAX + 4 + 2 + 32 + 32 + 8 * 3 + 1 + 8 * SBX_MAX_ASSETS)

struct ledger_state {
    struct map by_id;
    struct ledger_account **all; /* every account, in insertion order */
    size_t n, alloc;
    size_t nactive;
    struct ledger_account **dirty;
    size_t ndirty, dirty_alloc;
    struct ledger_asset_def assets[SBX_MAX_ASSETS];
    size_t nassets;
    void (*ext_free)(void *);
};

struct ledger_state *
ledger_state_new(const struct ledger_asset_def *assets, size_t nassets, void (*ext_free)(void *))
{
    struct ledger_state *st;

    if (nassets > SBX_MAX_ASSETS)
        return NULL;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    map_init(&st->by_id);
    memcpy(st->assets, assets, nassets * sizeof(*assets));
    st->nassets = nassets;
    st->ext_free = ext_free;
    return st;
}

void
ledger_state_free(struct ledger_state *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n; i++) {
        if (st->ext_free && st->all[i]->ext)
            st->ext_free(st->all[i]->ext);
        free(st->all[i]);
    }
    free(st->all);
    free(st->dirty);
    map_release(&st->by_id);
    free(st);
}

size_t
ledger_state_nassets(const struct ledger_state *st)
{
    return st->nassets;
}

const struct ledger_asset_def *
ledger_state_asset(const struct ledger_state *st, size_t i)
{
    return i < st->nassets ? &st->assets[i] : NULL;
}

int
ledger_state_asset_index(const struct ledger_state *st, const char *symbol)
{
    for (size_t i = 0; i < st->nassets; i++)
        if (strcmp(st->assets[i].symbol, symbol) == 0)
            return (int)i;
    return -1;
}

size_t
ledger_state_count(const struct ledger_state *st)
{
    return st->n;
}

size_t
ledger_state_count_active(const struct ledger_state *st)
{
    return st->nactive;
}

const struct ledger_account *
ledger_state_get(const struct ledger_state *st, const char *id)
{
    return map_get(&st->by_id, id, strlen(id));
}

static int
mark_dirty(struct ledger_state *st, struct ledger_account *a)
{
    if (a->dirty)
        return SBX_OK;
    if (array_reserve(&st->dirty, st->ndirty + 1, &st->dirty_alloc, sizeof(*st->dirty), 64) !=
        SBX_OK)
        return SBX_ENOMEM;
    st->dirty[st->ndirty++] = a;
    a->dirty = 1;
    return SBX_OK;
}

struct ledger_account *
ledger_state_get_mut(struct ledger_state *st, const char *id)
{
    struct ledger_account *a = map_get(&st->by_id, id, strlen(id));

    if (a == NULL)
        return NULL;
    if (mark_dirty(st, a) != SBX_OK)
        SBX_BUG("out of memory tracking a changed account");
    return a;
}

static int
insert(struct ledger_state *st, const struct ledger_account *src, int dirty)
{
    struct ledger_account *a;
    int rc;

    if (map_get(&st->by_id, src->id, strlen(src->id)) != NULL)
        return SBX_ECONFLICT;
    if (array_reserve(&st->all, st->n + 1, &st->alloc, sizeof(*st->all), 256) != SBX_OK)
        return SBX_ENOMEM;
    a = malloc(sizeof(*a));
    if (a == NULL)
        return SBX_ENOMEM;
    *a = *src;
    a->ext = NULL;
    a->dirty = 0;
    rc = map_put(&st->by_id, a->id, strlen(a->id), a);
    if (rc) {
        free(a);
        return rc;
    }
    st->all[st->n++] = a;
    if (a->status == LEDGER_ACCOUNT_ACTIVE)
        st->nactive++;
    if (dirty && mark_dirty(st, a) != SBX_OK)
        SBX_BUG("out of memory tracking a new account");
    return SBX_OK;
}

int
ledger_state_add(struct ledger_state *st, const struct ledger_account *a)
{
    return insert(st, a, 1);
}

void
ledger_state_set_status(struct ledger_state *st, struct ledger_account *a, uint8_t status)
{
    if (a->status == LEDGER_ACCOUNT_ACTIVE && status != LEDGER_ACCOUNT_ACTIVE)
        st->nactive--;
    else if (a->status != LEDGER_ACCOUNT_ACTIVE && status == LEDGER_ACCOUNT_ACTIVE)
        st->nactive++;
    a->status = status;
    if (mark_dirty(st, a) != SBX_OK)
        SBX_BUG("out of memory tracking a changed account");
}

int
ledger_state_credit(struct ledger_account *a, int asset, int64_t amount)
{
    int64_t v;

    if (asset < 0 || asset >= SBX_MAX_ASSETS || amount < 0)
        return SBX_EINVAL;
    if (ledger_add(a->balance[asset], amount, &v) != SBX_OK)
        return SBX_EOVERFLOW;
    a->balance[asset] = v;
    return SBX_OK;
}

int
ledger_state_debit(struct ledger_account *a, int asset, int64_t amount)
{
    if (asset < 0 || asset >= SBX_MAX_ASSETS || amount < 0)
        return SBX_EINVAL;
    if (a->balance[asset] < amount)
        return SBX_EINVAL;
    a->balance[asset] -= amount;
    return SBX_OK;
}

int
ledger_account_encode(const struct ledger_account *a, size_t nassets, uint8_t *out, size_t cap,
                      size_t *len)
{
    struct buf b;
    size_t idlen = strnlen(a->id, SBX_ID_MAX + 1);
    int rc;

    *len = 0;
    if (idlen == 0 || idlen > SBX_ID_MAX || nassets > SBX_MAX_ASSETS)
        return SBX_EINVAL;
    buf_init(&b, cap);
    rc = buf_put_u8(&b, ACCOUNT_RECORD_VERSION);
    rc = rc ? rc : buf_put_u8(&b, (uint8_t)idlen);
    rc = rc ? rc : buf_put(&b, a->id, idlen);
    rc = rc ? rc : buf_put_u8(&b, a->kyc_tier);
    rc = rc ? rc : buf_put_u8(&b, a->investor_class);
    rc = rc ? rc : buf_put_u8(&b, a->status);
    rc = rc ? rc : buf_put_u8(&b, a->frozen);
    rc = rc ? rc : buf_put(&b, a->country, 2);
    rc = rc ? rc : buf_put(&b, a->kyc_ref, 32);
    rc = rc ? rc : buf_put(&b, a->bank_ref, 32);
    rc = rc ? rc : buf_put_i64(&b, a->opened_ms);
    rc = rc ? rc : buf_put_i64(&b, a->updated_ms);
    rc = rc ? rc : buf_put_i64(&b, a->last_activity_ms);
    rc = rc ? rc : buf_put_u8(&b, (uint8_t)nassets);
    for (size_t i = 0; rc == SBX_OK && i < nassets; i++)
        rc = buf_put_i64(&b, a->balance[i]);
    if (rc == SBX_OK) {
        memcpy(out, b.data, b.len);
        *len = b.len;
    }
    buf_release(&b);
    return rc;
}

int
ledger_account_decode(struct ledger_account *a, size_t nassets, const uint8_t *in, size_t len,
                      struct sbx_err *err)
{
    struct buf_reader r;
    uint8_t ver, idlen, n;
    int rc;

    memset(a, 0, sizeof(*a));
    buf_reader_init(&r, in, len);
    rc = buf_read_u8(&r, &ver);
    if (rc == SBX_OK && ver != ACCOUNT_RECORD_VERSION)
        return sbx_err_set(err, SBX_ECORRUPT, "account record: unknown version %u", ver);
    rc = rc ? rc : buf_read_u8(&r, &idlen);
    if (rc == SBX_OK && (idlen == 0 || idlen > SBX_ID_MAX))
        return sbx_err_set(err, SBX_ECORRUPT, "account record: bad id length %u", idlen);
    rc = rc ? rc : buf_read(&r, a->id, idlen);
    /* what the encoder writes: an identifier (a NUL inside would load under a shorter id) */
    if (rc == SBX_OK && (strnlen(a->id, idlen) != idlen || !ledger_id_valid(a->id, idlen)))
        return sbx_err_set(err, SBX_ECORRUPT, "account record: id is not an identifier");
    rc = rc ? rc : buf_read_u8(&r, &a->kyc_tier);
    rc = rc ? rc : buf_read_u8(&r, &a->investor_class);
    rc = rc ? rc : buf_read_u8(&r, &a->status);
    rc = rc ? rc : buf_read_u8(&r, &a->frozen);
    rc = rc ? rc : buf_read(&r, a->country, 2);
    rc = rc ? rc : buf_read(&r, a->kyc_ref, 32);
    rc = rc ? rc : buf_read(&r, a->bank_ref, 32);
    rc = rc ? rc : buf_read_i64(&r, &a->opened_ms);
    rc = rc ? rc : buf_read_i64(&r, &a->updated_ms);
    rc = rc ? rc : buf_read_i64(&r, &a->last_activity_ms);
    rc = rc ? rc : buf_read_u8(&r, &n);
    if (rc == SBX_OK && n != nassets)
        return sbx_err_set(err, SBX_ECORRUPT, "account record: %u balances, genesis has %zu", n,
                           nassets);
    for (size_t i = 0; rc == SBX_OK && i < n; i++)
        rc = buf_read_i64(&r, &a->balance[i]);
    if (rc)
        return sbx_err_set(err, SBX_ECORRUPT, "account record: truncated");
    if (buf_reader_left(&r))
        return sbx_err_set(err, SBX_ECORRUPT, "account record: trailing bytes");
    return SBX_OK;
}

int
ledger_state_collect(struct ledger_state *st, struct ledger_changes *out)
{
    uint8_t key[LEDGER_STORE_KEY_ACCOUNT_MAX], val[ACCOUNT_RECORD_MAX];
    size_t klen, vlen;
    int rc = SBX_OK;

    for (size_t i = 0; i < st->ndirty; i++) {
        struct ledger_account *a = st->dirty[i];

        a->dirty = 0;
        if (rc)
            continue;
        klen = ledger_store_key_account(key, a->id);
        rc = ledger_account_encode(a, st->nassets, val, sizeof(val), &vlen);
        if (rc == SBX_OK)
            rc = ledger_changes_put(out, key, klen, val, vlen);
    }
    st->ndirty = 0;
    return rc;
}

struct load_ctx {
    struct ledger_state *st;
    struct sbx_err *err;
    int rc;
};

static int
load_one(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct load_ctx *c = ctx;
    struct ledger_account a;

    c->rc = ledger_account_decode(&a, c->st->nassets, val, vlen, c->err);
    if (c->rc == SBX_OK && (klen != 1 + strlen(a.id) || memcmp(key + 1, a.id, klen - 1) != 0))
        c->rc = sbx_err_set(c->err, SBX_ECORRUPT, "account record: key does not match its id");
    if (c->rc == SBX_OK) {
        c->rc = insert(c->st, &a, 0);
        if (c->rc)
            sbx_err_set(c->err, c->rc, "account record %s: cannot be loaded (%s)", a.id,
                        sbx_rc_name(c->rc));
    }
    return c->rc != SBX_OK;
}

int
ledger_state_load_record(struct ledger_state *st, const uint8_t *key, size_t klen,
                         const uint8_t *val, size_t vlen, struct sbx_err *err)
{
    struct load_ctx c = {st, err, SBX_OK};

    load_one(&c, key, klen, val, vlen);
    return c.rc;
}

int
ledger_state_load(struct ledger_state *st, struct ledger_store *store, struct sbx_err *err)
{
    struct load_ctx c = {st, err, SBX_OK};
    int rc;

    rc = ledger_store_scan_kind(store, LEDGER_K_ACCOUNT, load_one, &c, err);
    return rc ? rc : c.rc;
}

static int
cmp_account_id(const void *x, const void *y)
{
    const struct ledger_account *const *a = x, *const *b = y;

    return strcmp((*a)->id, (*b)->id);
}

int
ledger_state_foreach_sorted(const struct ledger_state *st,
                            int (*fn)(void *ctx, const struct ledger_account *a), void *ctx)
{
    struct ledger_account **v;
    int rc = SBX_OK;

    if (st->n == 0)
        return SBX_OK;
    v = malloc(st->n * sizeof(*v));
    if (v == NULL)
        return SBX_ENOMEM;
    memcpy(v, st->all, st->n * sizeof(*v));
    qsort(v, st->n, sizeof(*v), cmp_account_id);
    for (size_t i = 0; i < st->n && rc == SBX_OK; i++)
        rc = fn(ctx, v[i]);
    free(v);
    return rc;
}
