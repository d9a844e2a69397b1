/* Reading the time-ordered indexes: POS, and the merge of every name's range of one kind.
 *
 * The merge keeps the `n` newest positions seen so far in a sorted array (newest first). Each
 * name's range is scanned newest first and left as soon as an entry is older than the oldest kept
 * one (once the array is full) or than `from`: every later entry of that name is older still. So
 * a page of the list of all trades costs at most n + 1 entries per asset, plus one seek per asset
 * to find the next name; optimised for a handful of assets and pages of up to 1,000.
 */
#include "ledger/index.h"

#include <string.h>

#include "util/buf.h"

struct merge {
    int64_t from;
    size_t n, got;
    struct ledger_index_pos *out;
    size_t looked, budget;
    size_t plen;                                 /* of the name's prefix being merged */
    uint8_t name[LEDGER_STORE_PREFIX_INDEX_MAX]; /* the next name found, NUL-terminated */
    int found;
};

void
ledger_index_pos_load(struct ledger_index_pos *pos, const uint8_t tail[static LEDGER_INDEX_TAIL])
{
    pos->time = buf_load_u64(tail);
    pos->height = buf_load_u64(tail + 8);
    pos->index = buf_load_u32(tail + 16);
}

/* The index order: time, then height, then index. */
static int
pos_cmp(const struct ledger_index_pos *a, const struct ledger_index_pos *b)
{
    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    if (a->height != b->height)
        return a->height < b->height ? -1 : 1;
    if (a->index != b->index)
        return a->index < b->index ? -1 : 1;
    return 0;
}

/* One entry of the current name's range, newest first: keep it if it is among the n newest. */
static int
merge_cb(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct merge *m = ctx;
    struct ledger_index_pos p;
    size_t i;

    (void)val;
    (void)vlen;
    if (++m->looked > m->budget)
        return 1;
    if (klen != m->plen + LEDGER_INDEX_TAIL)
        return 0; /* not an entry of this name (cannot happen with the prefixes used) */
    ledger_index_pos_load(&p, key + m->plen);
    if ((int64_t)p.time < m->from)
        return 1;
    if (m->got == m->n) {
        if (pos_cmp(&p, &m->out[m->n - 1]) <= 0)
            return 1; /* older than every position kept, as is the rest of this name */
        m->got--;     /* make room: the oldest kept goes */
    }
    for (i = m->got; i > 0 && pos_cmp(&m->out[i - 1], &p) < 0; i--)
        m->out[i] = m->out[i - 1];
    m->out[i] = p;
    m->got++;
    return 0;
}

/* The first key at or after the scan's start: note its name (the bytes between the kind and the
 * 0x00) and stop. */
static int
name_cb(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct merge *m = ctx;
    const uint8_t *z = klen > 1 ? memchr(key + 1, 0, klen - 1) : NULL;
    size_t l = z != NULL ? (size_t)(z - (key + 1)) : 0;

    (void)val;
    (void)vlen;
    if (++m->looked > m->budget)
        return 1;
    if (z == NULL || l > SBX_ID_MAX)
        return 0; /* not a named entry: look further */
    memcpy(m->name, key + 1, l);
    m->name[l] = 0;
    m->found = 1;
    return 1;
}

int
ledger_index_merge(struct ledger_store *st, uint8_t kind, const struct ledger_index_pos *before,
                   int64_t from_ms, size_t n, struct ledger_index_pos *out, size_t *got,
                   size_t budget, struct sbx_err *err)
{
    uint8_t kp[1] = {kind}, next[LEDGER_STORE_PREFIX_INDEX_MAX];
    size_t nlen = 0;
    struct merge m;
    int rc = SBX_OK;

    memset(&m, 0, sizeof(m));
    m.from = from_ms;
    m.n = n;
    m.out = out;
    m.budget = budget;
    *got = 0;
    while (rc == SBX_OK && n > 0) {
        uint8_t prefix[LEDGER_STORE_PREFIX_INDEX_MAX], start[LEDGER_STORE_KEY_INDEX_MAX];
        size_t slen = 0;

        m.found = 0;
        rc = ledger_store_scan(st, kp, 1, nlen ? next : NULL, nlen, 0, name_cb, &m, err);
        if (rc != SBX_OK || !m.found)
            break;
        m.plen = ledger_store_prefix_index(prefix, kind, (const char *)m.name, -1);
        if (before != NULL)
            slen = ledger_store_key_index(start, kind, (const char *)m.name, -1,
                                          (int64_t)before->time, before->height, before->index);
        rc = ledger_store_scan(st, prefix, m.plen, slen ? start : NULL, slen, 1, merge_cb, &m, err);
        /* the next name: past every key of this one (its 0x00 becomes 0x01) */
        memcpy(next, prefix, m.plen);
        next[m.plen - 1] = 1;
        nlen = m.plen;
    }
    if (rc == SBX_OK && m.looked > budget)
        rc = sbx_err_set(err, SBX_EUNAVAIL, "too many index ranges to merge in one call");
    *got = rc == SBX_OK ? m.got : 0;
    return rc;
}
