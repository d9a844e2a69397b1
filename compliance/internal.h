/* Internal to compliance/: per-account usage and alert records shared by engine.c, usage.c and
 * alerts.c. Not part of the folder's API. */
#ifndef SBX_COMPLIANCE_INTERNAL_H
#define SBX_COMPLIANCE_INTERNAL_H

#include <stdint.h>

#include "compliance/engine.h"
#include "compliance/params.h"
#include "util/buf.h"

struct cmp_event {
    int64_t t; /* ms */
    int64_t v; /* VND value, or base units for deposits */
    int asset; /* deposits only */
};

/* A fixed-capacity list of recent events, oldest first. When full, the oldest is dropped. */
struct cmp_ring {
    uint8_t n;
    struct cmp_event ev[CMP_RING_MAX];
};

/* Per-account usage (hung on ledger_account.ext). */
struct cmp_usage {
    int64_t day, day_vnd;     /* local day number and notional traded that day */
    int64_t month, month_vnd; /* local month number and notional that month */
    int64_t react_ms;         /* when the account last came back from dormancy, 0 = never */
    int64_t react_vnd;        /* value moved since then, on that local day */
    struct cmp_ring xfer;     /* accepted crypto transfers, VND value (Travel Rule) */
    int64_t xfer_over_vnd;    /* value of transfers dropped from a full ring ... */
    int64_t xfer_over_until;  /* ... still counted until this time (conservative) */
    struct cmp_ring near;     /* near-threshold transactions (structuring) */
    struct cmp_ring vel;      /* all accepted movements (velocity) */
    struct cmp_ring dep;      /* deposits, base units (rapid in-and-out) */
    uint8_t dirty;
};

/* usage.c */
struct cmp_usage *cmp_usage_new(void);
void cmp_usage_free(void *u);
void cmp_ring_push(struct cmp_ring *r, int64_t t, int64_t v, int asset, struct cmp_event *dropped,
                   int *did_drop);
/* Number of events with now - t < window_ms (events later than now count too). */
int cmp_ring_count(const struct cmp_ring *r, int64_t now, int64_t window_ms);
/* Sum of values of those events (saturating). */
int64_t cmp_ring_sum(const struct cmp_ring *r, int64_t now, int64_t window_ms);
int cmp_usage_encode(const struct cmp_usage *u, struct buf *out) SBX_WARN_UNUSED;
int cmp_usage_decode(struct cmp_usage *u, const uint8_t *in, size_t len) SBX_WARN_UNUSED;
/* Used amount in the period `period` of a counter whose last period is `last` holding `sum`:
 * the same period -> sum; a later one -> 0; an earlier one (a timestamp that went backwards)
 * -> sum, counted against the latest period so nothing escapes a limit. */
int64_t cmp_period_used(int64_t last, int64_t sum, int64_t period);

/* alerts.c */
void cmp_alert_make(struct cmp_alert *a, int kind, const char *account, int64_t time_ms,
                    int64_t amount_vnd, const uint8_t txid[static 32]);
int cmp_alert_encode(const struct cmp_alert *a, struct buf *out) SBX_WARN_UNUSED;
/* Append the alert record and its index entry to `c`. */
int cmp_alert_changes(const struct cmp_alert *a, struct ledger_changes *c) SBX_WARN_UNUSED;

#endif
