/* The records the compliance engine stores, and reading them back at start-up.
 *
 * Records (ledger/store.h names the key bytes): idempotency ids ('I' + kind + id, value the
 * txid), the sanctions list ('S' + 'a' account or 'd' address), the licence state ('S' 'g': status,
 * halts, exchange counters, attestations), the licence parameters ('P' 'p', with the reference
 * prices and when each was set) and per-account usage ('U' + account; usage.c encodes it), the
 * Travel Rule windows of external addresses ('D' + address; addresses.c encodes them), the
 * liabilities and reserves ('S' 'l'; liabilities.c encodes it). Alerts
 * are alerts.c's. Each key kind is
 * built by one function below. Changes accumulate in the engine (dirty flags, the usage dirty
 * list, pending records) and cmp_collect() hands them over once per block.
 */
#include "compliance/internal.h"

#include <string.h>

#include "ledger/store.h"

#define GLOBAL_VERSION 2 /* 2: no last trade prices (valuation uses reference prices) */
#define PARAMS_VERSION                                                                             \
    2 /* 2: when each reference price was set; time.max_trade_age_ms,                              \
         aml.screening_required, licence.wind_down_days */

/* ------------------------------------------------------------------ keys */

/* Every key is built by ledger/store.c (its key table is in ledger/store.h). */

/* ------------------------------------------------------------------ ids and sanctions */

int
cmp_persist_id_seen(const struct cmp_engine *e, uint8_t kind, const char *id)
{
    uint8_t k[LEDGER_STORE_KEY_IDEM_MAX];
    size_t n = ledger_store_key_idem(k, kind, id);

    if (map_get(&e->ids_cur, k, n) || map_get(&e->ids_prev, k, n))
        return 1;
    if (e->id_lookup)
        return e->id_lookup(e->id_ctx, k, n);
    return 0;
}

int
cmp_persist_put_id(struct cmp_engine *e, uint8_t kind, const char *id,
                   const uint8_t txid[static 32])
{
    uint8_t k[LEDGER_STORE_KEY_IDEM_MAX];
    size_t n = ledger_store_key_idem(k, kind, id);
    int rc = map_put(&e->ids_cur, k, n, (void *)1);

    return rc ? rc : ledger_changes_put(&e->pending, k, n, txid, 32);
}

int
cmp_persist_sanctioned(const struct cmp_engine *e, char kind, const char *s)
{
    uint8_t k[LEDGER_STORE_KEY_LIST_MAX];

    return map_get(&e->sanctions, k, ledger_store_key_list(k, (uint8_t)kind, s)) != NULL;
}

int
cmp_persist_set_sanction(struct cmp_engine *e, char kind, const char *s, int on)
{
    uint8_t k[LEDGER_STORE_KEY_LIST_MAX];
    size_t n = ledger_store_key_list(k, (uint8_t)kind, s);
    int rc;

    if (on) {
        rc = map_put(&e->sanctions, k, n, (void *)1);
        return rc ? rc : ledger_changes_put(&e->pending, k, n, "\x01", 1);
    }
    rc = map_put(&e->sanctions, k, n, NULL); /* a NULL value reads as absent */
    return rc ? rc : ledger_changes_del(&e->pending, k, n);
}

/* ------------------------------------------------------------------ records */

int
cmp_persist_open_record(struct buf_reader *r, const uint8_t *in, size_t len, uint8_t version)
{
    uint8_t ver;
    int rc;

    buf_reader_init(r, in, len);
    rc = buf_read_u8(r, &ver);
    if (rc == SBX_OK && ver != version)
        return SBX_ECORRUPT;
    return rc;
}

int
cmp_persist_put_i64s(struct buf *b, const int64_t *const *v, size_t n)
{
    int rc = SBX_OK;

    for (size_t i = 0; rc == SBX_OK && i < n; i++)
        rc = buf_put_i64(b, *v[i]);
    return rc;
}

int
cmp_persist_read_i64s(struct buf_reader *r, int64_t *const *v, size_t n)
{
    int rc = SBX_OK;

    for (size_t i = 0; rc == SBX_OK && i < n; i++)
        rc = buf_read_i64(r, v[i]);
    return rc;
}

static int
encode_global(const struct cmp_engine *e, struct buf *b)
{
    const int64_t *const exchange[] = {&e->ex_day, &e->ex_day_vnd, &e->ex_total_vnd};
    int rc = buf_put_u8(b, GLOBAL_VERSION);

    rc = rc ? rc : buf_put_u8(b, e->licence_status);
    rc = rc ? rc : buf_put_u8(b, e->market_halted);
    rc = rc ? rc : buf_put_u32(b, e->halted_assets);
    rc = rc ? rc : cmp_persist_put_i64s(b, exchange, SBX_ARRAY_LEN(exchange));
    for (size_t i = 0; rc == SBX_OK && i < e->genesis.nregulators; i++) {
        rc = buf_put_u64(b, e->att[i].height);
        rc = rc ? rc : buf_put_i64(b, e->att[i].time_ms);
    }
    return rc;
}

static int
decode_global(struct cmp_engine *e, const uint8_t *in, size_t len)
{
    int64_t *const exchange[] = {&e->ex_day, &e->ex_day_vnd, &e->ex_total_vnd};
    struct buf_reader r;
    int rc = cmp_persist_open_record(&r, in, len, GLOBAL_VERSION);

    rc = rc ? rc : buf_read_u8(&r, &e->licence_status);
    rc = rc ? rc : buf_read_u8(&r, &e->market_halted);
    rc = rc ? rc : buf_read_u32(&r, &e->halted_assets);
    rc = rc ? rc : cmp_persist_read_i64s(&r, exchange, SBX_ARRAY_LEN(exchange));
    for (size_t i = 0; rc == SBX_OK && i < e->genesis.nregulators; i++) {
        rc = buf_read_u64(&r, &e->att[i].height);
        rc = rc ? rc : buf_read_i64(&r, &e->att[i].time_ms);
    }
    if (rc || buf_reader_left(&r))
        return SBX_ECORRUPT;
    return SBX_OK;
}

static int
encode_params(const struct cmp_engine *e, struct buf *b)
{
    const struct cmp_params *p = &e->params;
    size_t hl = strlen(p->house_account), ll = strlen(p->licence_id);
    int rc = buf_put_u8(b, PARAMS_VERSION);

    rc = rc ? rc : buf_put_u32(b, p->version);
    rc = rc ? rc : buf_put_u8(b, CMP_P_COUNT);
    for (int i = 0; rc == SBX_OK && i < CMP_P_COUNT; i++)
        rc = buf_put_i64(b, p->v[i]);
    for (size_t i = 0; rc == SBX_OK && i < e->genesis.nassets; i++) {
        rc = buf_put_i64(b, p->ref_price[i]);
        rc = rc ? rc : buf_put_i64(b, p->ref_set_ms[i]);
    }
    rc = rc ? rc : buf_put_u8(b, (uint8_t)hl);
    rc = rc ? rc : buf_put(b, p->house_account, hl);
    rc = rc ? rc : buf_put_u8(b, (uint8_t)ll);
    rc = rc ? rc : buf_put(b, p->licence_id, ll);
    return rc;
}

static int
decode_params(struct cmp_engine *e, const uint8_t *in, size_t len)
{
    struct cmp_params *p = &e->params;
    struct buf_reader r;
    uint8_t n, hl = 0, ll = 0;
    int rc = cmp_persist_open_record(&r, in, len, PARAMS_VERSION);

    if (rc == SBX_ECORRUPT)
        return rc; /* another format: nothing of it is read */
    rc = rc ? rc : buf_read_u32(&r, &p->version);
    rc = rc ? rc : buf_read_u8(&r, &n);
    if (rc == SBX_OK && n != CMP_P_COUNT)
        return SBX_ECORRUPT;
    for (int i = 0; rc == SBX_OK && i < CMP_P_COUNT; i++)
        rc = buf_read_i64(&r, &p->v[i]);
    for (size_t i = 0; rc == SBX_OK && i < e->genesis.nassets; i++) {
        rc = buf_read_i64(&r, &p->ref_price[i]);
        rc = rc ? rc : buf_read_i64(&r, &p->ref_set_ms[i]);
    }
    rc = rc ? rc : buf_read_u8(&r, &hl);
    if (rc == SBX_OK && hl > SBX_ID_MAX)
        return SBX_ECORRUPT;
    memset(p->house_account, 0, sizeof(p->house_account));
    rc = rc ? rc : buf_read(&r, p->house_account, hl);
    rc = rc ? rc : buf_read_u8(&r, &ll);
    if (rc == SBX_OK && ll > SBX_ID_MAX)
        return SBX_ECORRUPT;
    memset(p->licence_id, 0, sizeof(p->licence_id));
    rc = rc ? rc : buf_read(&r, p->licence_id, ll);
    if (rc || buf_reader_left(&r))
        return SBX_ECORRUPT;
    return SBX_OK;
}

/* ------------------------------------------------------------------ collect and load */

/* The usage records changed since the last collect, in the order they first changed; the list
 * is emptied even after a failure (`rc` is the result so far). */
static int
collect_usage(struct cmp_engine *e, struct buf *b, struct ledger_changes *out, int rc)
{
    uint8_t key[LEDGER_STORE_KEY_ACCOUNT_MAX];
    struct cmp_usage *u;

    STAILQ_FOREACH(u, &e->usage_dirty, dirty_link)
    {
        u->dirty = 0;
        if (rc)
            continue;
        buf_reset(b);
        rc = cmp_usage_encode(u, b);
        rc = rc ? rc
                : ledger_changes_put(out, key, ledger_store_key_usage(key, u->owner->id), b->data,
                                     b->len);
    }
    STAILQ_INIT(&e->usage_dirty);
    return rc;
}

int
cmp_persist_collect(struct cmp_engine *e, struct ledger_changes *out)
{
    uint8_t key[LEDGER_STORE_KEY_PAIR_LEN];
    struct buf b;
    int rc;

    buf_init(&b, 1 << 16);
    rc = ledger_state_collect(e->st, out);
    rc = collect_usage(e, &b, out, rc);
    rc = cmp_addresses_collect(e, &b, out, rc);
    if (rc == SBX_OK && e->global_dirty) {
        buf_reset(&b);
        rc = encode_global(e, &b);
        rc = rc ? rc
                : ledger_changes_put(out, key, ledger_store_key_list_global(key), b.data, b.len);
        e->global_dirty = 0;
    }
    if (rc == SBX_OK && e->liab.dirty) {
        buf_reset(&b);
        rc = cmp_liabilities_encode(e, &b);
        rc = rc ? rc
                : ledger_changes_put(out, key, ledger_store_key_list_liabilities(key), b.data,
                                     b.len);
        e->liab.dirty = 0;
    }
    if (rc == SBX_OK && e->params_dirty) {
        buf_reset(&b);
        rc = encode_params(e, &b);
        rc = rc ? rc : ledger_changes_put(out, key, ledger_store_key_params(key), b.data, b.len);
        e->params_dirty = 0;
    }
    for (size_t i = 0; rc == SBX_OK && i < e->pending.n; i++) {
        const struct ledger_change *c = &e->pending.v[i];

        rc = c->del ? ledger_changes_del(out, c->key, c->klen)
                    : ledger_changes_put(out, c->key, c->klen, c->val, c->vlen);
    }
    ledger_changes_reset(&e->pending);
    if (e->id_lookup) {
        /* keep this block's ids until the next collect: the store has them by then */
        map_release(&e->ids_prev);
        e->ids_prev = e->ids_cur;
        map_init(&e->ids_cur);
    }
    buf_release(&b);
    return rc;
}

struct load_ctx {
    struct cmp_engine *e;
    int rc;
};

static int
load_usage(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct load_ctx *c = ctx;
    char id[SBX_ID_MAX + 1] = {0};
    struct ledger_account *a;
    struct cmp_usage *u;

    if (klen < 2 || klen - 1 > SBX_ID_MAX) {
        c->rc = SBX_ECORRUPT;
        return 1;
    }
    memcpy(id, key + 1, klen - 1);
    a = (struct ledger_account *)ledger_state_get(c->e->st, id);
    u = cmp_usage_new();
    if (a == NULL || u == NULL || cmp_usage_decode(u, val, vlen) != SBX_OK) {
        cmp_usage_free(u);
        c->rc = a == NULL || u != NULL ? SBX_ECORRUPT : SBX_ENOMEM;
        return 1;
    }
    cmp_usage_free(a->ext);
    a->ext = u;
    return 0;
}

static int
load_address(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct load_ctx *c = ctx;

    c->rc = cmp_addresses_load(c->e, key, klen, val, vlen);
    return c->rc != SBX_OK;
}

static int
load_list(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct load_ctx *c = ctx;
    uint8_t g[LEDGER_STORE_KEY_PAIR_LEN], l[LEDGER_STORE_KEY_PAIR_LEN];

    if (klen == ledger_store_key_list_global(g) && memcmp(key, g, klen) == 0) {
        c->rc = decode_global(c->e, val, vlen);
    } else if (klen == ledger_store_key_list_liabilities(l) && memcmp(key, l, klen) == 0) {
        c->rc = cmp_liabilities_decode(c->e, val, vlen) ? SBX_ECORRUPT : SBX_OK;
    } else if (klen >= 3 && (key[1] == LEDGER_LIST_ACCOUNT || key[1] == LEDGER_LIST_ADDRESS)) {
        c->rc = map_put(&c->e->sanctions, key, klen, (void *)1);
    } else {
        c->rc = SBX_ECORRUPT;
    }
    return c->rc != SBX_OK;
}

static int
load_id(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct load_ctx *c = ctx;

    c->rc = map_put(&c->e->ids_cur, key, klen, (void *)1);
    return c->rc != SBX_OK;
}

int
cmp_persist_load_record(struct cmp_engine *e, const uint8_t *key, size_t klen, const uint8_t *val,
                        size_t vlen, struct sbx_err *err)
{
    struct load_ctx c = {e, SBX_OK};
    uint8_t pk[LEDGER_STORE_KEY_PAIR_LEN];

    if (klen == ledger_store_key_params(pk) && memcmp(key, pk, klen) == 0)
        c.rc = decode_params(e, val, vlen);
    else if (klen > 0 && key[0] == LEDGER_K_ACCOUNT)
        return ledger_state_load_record(e->st, key, klen, val, vlen, err);
    else if (klen > 0 && key[0] == LEDGER_K_USAGE)
        load_usage(&c, key, klen, val, vlen);
    else if (klen > 0 && key[0] == LEDGER_K_ADDRESS)
        load_address(&c, key, klen, val, vlen);
    else if (klen > 0 && key[0] == LEDGER_K_LIST)
        load_list(&c, key, klen, val, vlen);
    else
        c.rc = SBX_ECORRUPT;
    e->global_dirty = 0;
    e->params_dirty = 0;
    if (c.rc)
        return sbx_err_set(err, c.rc, "a stored compliance record is malformed");
    return SBX_OK;
}

int
cmp_persist_load(struct cmp_engine *e, struct ledger_store *store, struct sbx_err *err)
{
    struct load_ctx c = {e, SBX_OK};
    struct buf v;
    uint8_t key[LEDGER_STORE_KEY_PAIR_LEN];
    int rc;

    buf_init(&v, 1 << 16);
    rc = ledger_store_get(store, key, ledger_store_key_params(key), &v, err);
    if (rc == SBX_OK && decode_params(e, v.data, v.len) != SBX_OK)
        rc = sbx_err_set(err, SBX_ECORRUPT, "store: licence parameter record is malformed");
    buf_release(&v);
    if (rc)
        return rc;
    rc = ledger_state_load(e->st, store, err);
    if (rc)
        return rc;
    rc = ledger_store_scan_kind(store, LEDGER_K_USAGE, load_usage, &c, err);
    if (rc == SBX_OK && c.rc == SBX_OK)
        rc = ledger_store_scan_kind(store, LEDGER_K_ADDRESS, load_address, &c, err);
    if (rc == SBX_OK && c.rc == SBX_OK)
        rc = ledger_store_scan_kind(store, LEDGER_K_LIST, load_list, &c, err);
    if (rc == SBX_OK && c.rc == SBX_OK && e->id_lookup == NULL)
        rc = ledger_store_scan_kind(store, LEDGER_K_IDEM, load_id, &c, err);
    if (rc == SBX_OK && c.rc != SBX_OK)
        rc = sbx_err_set(err, c.rc, "store: compliance record is malformed");
    e->global_dirty = 0;
    e->params_dirty = 0;
    e->liab.dirty = 0;
    return rc;
}
