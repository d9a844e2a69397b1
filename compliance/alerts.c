/* Alert records: deterministic ids, the stored record and its index by kind and time. */
#include "compliance/internal.h"

#include <string.h>

#include "ledger/store.h"
#include "util/sha256.h"

void
cmp_alert_make(struct cmp_alert *a, int kind, const char *account, int64_t time_ms,
               int64_t amount_vnd, const uint8_t txid[static 32])
{
    uint8_t tail[1 + SBX_ID_MAX];
    size_t n = strnlen(account, SBX_ID_MAX);

    memset(a, 0, sizeof(*a));
    a->kind = (uint8_t)kind;
    memcpy(a->account, account, n);
    a->time_ms = time_ms;
    a->amount_vnd = amount_vnd;
    memcpy(a->txid, txid, 32);
    tail[0] = (uint8_t)kind;
    memcpy(tail + 1, account, n);
    sha256_2(a->id, txid, 32, tail, 1 + n);
}

int
cmp_alert_encode(const struct cmp_alert *a, struct buf *out)
{
    size_t n = strlen(a->account);
    int rc = buf_put_u8(out, a->kind);

    rc = rc ? rc : buf_put_u8(out, (uint8_t)n);
    rc = rc ? rc : buf_put(out, a->account, n);
    rc = rc ? rc : buf_put_i64(out, a->time_ms);
    rc = rc ? rc : buf_put_i64(out, a->amount_vnd);
    rc = rc ? rc : buf_put(out, a->txid, 32);
    rc = rc ? rc : buf_put(out, a->id, 32);
    return rc;
}

int
cmp_alert_decode(struct cmp_alert *a, const uint8_t *in, size_t len, struct sbx_err *err)
{
    struct buf_reader r;
    uint8_t n;
    int rc;

    memset(a, 0, sizeof(*a));
    buf_reader_init(&r, in, len);
    rc = buf_read_u8(&r, &a->kind);
    rc = rc ? rc : buf_read_u8(&r, &n);
    if (rc == SBX_OK && n > SBX_ID_MAX)
        rc = SBX_ETOOLONG;
    rc = rc ? rc : buf_read(&r, a->account, n);
    rc = rc ? rc : buf_read_i64(&r, &a->time_ms);
    rc = rc ? rc : buf_read_i64(&r, &a->amount_vnd);
    rc = rc ? rc : buf_read(&r, a->txid, 32);
    rc = rc ? rc : buf_read(&r, a->id, 32);
    if (rc == SBX_OK && buf_reader_left(&r))
        rc = SBX_ETRAILING;
    if (rc)
        return sbx_err_set(err, SBX_ECORRUPT, "alert record: malformed (%s)", sbx_rc_name(rc));
    return SBX_OK;
}

int
cmp_alert_changes(const struct cmp_alert *a, struct ledger_changes *c)
{
    uint8_t key[LEDGER_STORE_KEY_HASH_LEN], idx[LEDGER_STORE_KEY_ALERT_INDEX_LEN];
    struct buf b;
    int rc;

    buf_init(&b, 256);
    rc = cmp_alert_encode(a, &b);
    rc = rc ? rc : ledger_changes_put(c, key, ledger_store_key_alert(key, a->id), b.data, b.len);
    rc = rc ? rc
            : ledger_changes_put(
                  c, idx, ledger_store_key_alert_index(idx, a->kind, a->time_ms, a->id), "", 0);
    buf_release(&b);
    return rc;
}
