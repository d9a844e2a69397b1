/* Usage counters and rolling windows per account; see internal.h.
 *
 * Calendar counters (day, month in the licence's local time) hold one period each: the rules
 * only ever ask about the current one. Rolling windows keep the last CMP_RING_MAX events, enough
 * for any count parameter (their maximum is CMP_RING_MAX); a sum over a window (the Travel Rule
 * aggregation) carries what a full ring dropped as a conservative overflow total. Reading costs
 * a few dozen comparisons, never a scan of history. Writing one puts it on the engine's dirty
 * list, which cmp_collect() empties into the block's records.
 */
#include "compliance/internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/time.h"

#define USAGE_VERSION 2 /* 2: the day's VND sum (fiat_day, fiat_day_vnd, fiat_alert_day) */

struct cmp_usage *
cmp_usage_new(void)
{
    return calloc(1, sizeof(struct cmp_usage));
}

void
cmp_usage_free(void *u)
{
    free(u);
}

struct cmp_usage *
cmp_usage_mut(struct cmp_engine *e, struct ledger_account *a)
{
    struct cmp_usage *u = a->ext;

    if (u == NULL) {
        u = cmp_usage_new();
        if (u == NULL)
            return NULL;
        a->ext = u;
    }
    if (!u->dirty) {
        u->owner = a;
        STAILQ_INSERT_TAIL(&e->usage_dirty, u, dirty_link);
        u->dirty = 1;
    }
    return u;
}

void
cmp_usage_add_period(int64_t *last, int64_t *sum, int64_t period, int64_t v)
{
    if (period > *last) {
        *last = period;
        *sum = 0;
    }
    if (__builtin_add_overflow(*sum, v, sum))
        *sum = INT64_MAX;
}

int
cmp_usage_record_movement(struct cmp_engine *e, struct ledger_account *a, int64_t now,
                          int64_t value, int trade)
{
    int offset = cmp_engine_offset_min(e);
    struct cmp_usage *u;

    if (cmp_engine_is_house(e, a->id)) {
        a->last_activity_ms = now;
        return SBX_OK;
    }
    u = cmp_usage_mut(e, a);
    if (u == NULL)
        return SBX_ENOMEM;
    if (trade) {
        cmp_usage_add_period(&u->day, &u->day_vnd, time_local_day(now, offset), value);
        cmp_usage_add_period(&u->month, &u->month_vnd, time_local_month(now, offset), value);
    }
    cmp_aml_record_movement(e, a, u, now, value);
    if (now > a->last_activity_ms)
        a->last_activity_ms = now;
    return SBX_OK;
}

void
cmp_usage_ring_push(struct cmp_ring *r, int64_t t, int64_t v, int asset, struct cmp_event *dropped,
                    int *did_drop)
{
    *did_drop = 0;
    if (r->n == CMP_RING_MAX) {
        *dropped = r->ev[0];
        *did_drop = 1;
        memmove(&r->ev[0], &r->ev[1], (CMP_RING_MAX - 1) * sizeof(r->ev[0]));
        r->n--;
    }
    r->ev[r->n].t = t;
    r->ev[r->n].v = v;
    r->ev[r->n].asset = asset;
    r->n++;
}

int
cmp_usage_ring_count(const struct cmp_ring *r, int64_t now, int64_t window_ms)
{
    int n = 0;

    for (int i = 0; i < r->n; i++)
        n += now - r->ev[i].t < window_ms;
    return n;
}

int64_t
cmp_usage_ring_sum(const struct cmp_ring *r, int64_t now, int64_t window_ms)
{
    int64_t s = 0;

    for (int i = 0; i < r->n; i++) {
        if (now - r->ev[i].t < window_ms) {
            if (__builtin_add_overflow(s, r->ev[i].v, &s))
                return INT64_MAX;
        }
    }
    return s;
}

int64_t
cmp_usage_period_used(int64_t last, int64_t sum, int64_t period)
{
    return period > last ? 0 : sum;
}

int64_t
cmp_usage_window_sum(const struct cmp_window *w, int64_t now, int64_t window_ms)
{
    int64_t s = cmp_usage_ring_sum(&w->ev, now, window_ms);

    if (w->over_until > now && __builtin_add_overflow(s, w->over_vnd, &s))
        s = INT64_MAX;
    return s;
}

void
cmp_usage_window_push(struct cmp_window *w, int64_t now, int64_t v, int64_t window_ms)
{
    struct cmp_event dropped;
    int dropped_one;

    cmp_usage_ring_push(&w->ev, now, v, 0, &dropped, &dropped_one);
    if (dropped_one && now - dropped.t < window_ms) {
        if (w->over_until <= now)
            w->over_vnd = 0;
        if (__builtin_add_overflow(w->over_vnd, dropped.v, &w->over_vnd))
            w->over_vnd = INT64_MAX;
        if (dropped.t + window_ms > w->over_until)
            w->over_until = dropped.t + window_ms;
    }
}

/* What a ring's events carry besides the time: rings for counting (velocity, structuring)
 * store times only, which keeps the records that every trade rewrites small. */
int
cmp_usage_put_ring(struct buf *b, const struct cmp_ring *r, enum cmp_ring_fields f)
{
    size_t each = 8 + (f >= RING_TV ? 8 : 0) + (f == RING_TVA ? 1 : 0);
    uint8_t *p;
    int rc = buf_reserve(b, 1 + r->n * each);

    if (rc)
        return rc;
    p = b->data + b->len;
    *p++ = r->n;
    for (int i = 0; i < r->n; i++) {
        buf_store_u64(p, (uint64_t)r->ev[i].t);
        p += 8;
        if (f >= RING_TV) {
            buf_store_u64(p, (uint64_t)r->ev[i].v);
            p += 8;
        }
        if (f == RING_TVA)
            *p++ = (uint8_t)r->ev[i].asset;
    }
    b->len = (size_t)(p - b->data);
    return SBX_OK;
}

int
cmp_usage_get_ring(struct buf_reader *rd, struct cmp_ring *r, enum cmp_ring_fields f)
{
    int rc = buf_read_u8(rd, &r->n);

    if (rc == SBX_OK && r->n > CMP_RING_MAX)
        return SBX_ECORRUPT;
    for (int i = 0; rc == SBX_OK && i < r->n; i++) {
        uint8_t a = 0;

        r->ev[i].v = 0;
        rc = buf_read_i64(rd, &r->ev[i].t);
        if (f >= RING_TV)
            rc = rc ? rc : buf_read_i64(rd, &r->ev[i].v);
        if (f == RING_TVA)
            rc = rc ? rc : buf_read_u8(rd, &a);
        r->ev[i].asset = a;
    }
    return rc;
}

/* The counters of a usage record, in their stored order (before the rings). */
#define USAGE_COUNTERS(u)                                                                          \
    {                                                                                              \
        &(u)->day, &(u)->day_vnd, &(u)->month, &(u)->month_vnd, &(u)->react_ms, &(u)->react_vnd,   \
            &(u)->xfer.over_vnd, &(u)->xfer.over_until, &(u)->fiat_day, &(u)->fiat_day_vnd,        \
            &(u)->fiat_alert_day                                                                   \
    }

int
cmp_usage_encode(const struct cmp_usage *u, struct buf *out)
{
    const int64_t *const counters[] = USAGE_COUNTERS(u);
    int rc = buf_put_u8(out, USAGE_VERSION);

    rc = rc ? rc : cmp_persist_put_i64s(out, counters, SBX_ARRAY_LEN(counters));
    rc = rc ? rc : cmp_usage_put_ring(out, &u->xfer.ev, RING_TV);
    rc = rc ? rc : cmp_usage_put_ring(out, &u->near, RING_T);
    rc = rc ? rc : cmp_usage_put_ring(out, &u->vel, RING_T);
    rc = rc ? rc : cmp_usage_put_ring(out, &u->dep, RING_TVA);
    return rc;
}

int
cmp_usage_decode(struct cmp_usage *u, const uint8_t *in, size_t len)
{
    int64_t *const counters[] = USAGE_COUNTERS(u);
    struct buf_reader rd;
    int rc;

    memset(u, 0, sizeof(*u));
    rc = cmp_persist_open_record(&rd, in, len, USAGE_VERSION);
    rc = rc ? rc : cmp_persist_read_i64s(&rd, counters, SBX_ARRAY_LEN(counters));
    rc = rc ? rc : cmp_usage_get_ring(&rd, &u->xfer.ev, RING_TV);
    rc = rc ? rc : cmp_usage_get_ring(&rd, &u->near, RING_T);
    rc = rc ? rc : cmp_usage_get_ring(&rd, &u->vel, RING_T);
    rc = rc ? rc : cmp_usage_get_ring(&rd, &u->dep, RING_TVA);
    if (rc == SBX_OK && buf_reader_left(&rd))
        rc = SBX_ECORRUPT;
    return rc ? SBX_ECORRUPT : SBX_OK;
}
