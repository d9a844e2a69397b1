/* The Travel Rule window of each external crypto address: the accepted crypto transfers of
 * every client account to or from one address (a transfer's reference), so that transfers
 * split across accounts but bound for one address are linked (FATF Recommendation 16). aml.c
 * reads a window when it checks travel_rule.missing and counts an accepted transfer in it.
 *
 * Records are 'D' + address (ledger/store.c builds the key): u8 version, i64 overflow value,
 * i64 overflow end, then the ring of (time, VND value) events. They are state: changed ones are
 * collected once per block in the order they first changed (the change set sorts them), so they
 * enter the state digest, and they are read back at start-up. The map holds every address seen
 * (a few hundred bytes each); nothing is pruned, as elsewhere in the store.
 */
#include "compliance/internal.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/store.h"

#define ADDRESS_VERSION 1

const struct cmp_window *
cmp_addresses_window(const struct cmp_engine *e, const char *addr)
{
    uint8_t k[LEDGER_STORE_KEY_ADDRESS_MAX];
    const struct cmp_address *a = map_get(&e->addresses, k, ledger_store_key_address(k, addr));

    return a ? &a->w : NULL;
}

/* The record of `addr`, created if need be (NULL: out of memory). */
static struct cmp_address *
address_get(struct cmp_engine *e, const char *addr)
{
    uint8_t k[LEDGER_STORE_KEY_ADDRESS_MAX];
    size_t n = ledger_store_key_address(k, addr);
    struct cmp_address *a = map_get(&e->addresses, k, n);

    if (a == NULL) {
        a = calloc(1, sizeof(*a));
        if (a == NULL)
            return NULL;
        memcpy(a->addr, k + 1, n - 1); /* as the key holds it: cut at SBX_REF_MAX */
        if (map_put(&e->addresses, k, n, a) != SBX_OK) {
            free(a);
            return NULL;
        }
    }
    return a;
}

int
cmp_addresses_record(struct cmp_engine *e, const char *addr, int64_t now, int64_t value)
{
    struct cmp_address *a = address_get(e, addr);

    if (a == NULL)
        return SBX_ENOMEM;
    if (!a->dirty) {
        STAILQ_INSERT_TAIL(&e->addr_dirty, a, dirty_link);
        a->dirty = 1;
    }
    cmp_usage_window_push(&a->w, now, value, e->params.v[CMP_P_TRAVEL_RULE_WINDOW_S] * 1000);
    return SBX_OK;
}

static int
encode_address(const struct cmp_address *a, struct buf *b)
{
    const int64_t *const counters[] = {&a->w.over_vnd, &a->w.over_until};
    int rc = buf_put_u8(b, ADDRESS_VERSION);

    rc = rc ? rc : cmp_persist_put_i64s(b, counters, SBX_ARRAY_LEN(counters));
    return rc ? rc : cmp_usage_put_ring(b, &a->w.ev, RING_TV);
}

int
cmp_addresses_collect(struct cmp_engine *e, struct buf *b, struct ledger_changes *out, int rc)
{
    uint8_t key[LEDGER_STORE_KEY_ADDRESS_MAX];
    struct cmp_address *a;

    STAILQ_FOREACH(a, &e->addr_dirty, dirty_link)
    {
        a->dirty = 0;
        if (rc)
            continue;
        buf_reset(b);
        rc = encode_address(a, b);
        rc = rc ? rc
                : ledger_changes_put(out, key, ledger_store_key_address(key, a->addr), b->data,
                                     b->len);
    }
    STAILQ_INIT(&e->addr_dirty);
    return rc;
}

int
cmp_addresses_load(struct cmp_engine *e, const uint8_t *key, size_t klen, const uint8_t *val,
                   size_t vlen)
{
    int64_t over_vnd, over_until;
    int64_t *const counters[] = {&over_vnd, &over_until};
    char addr[SBX_REF_MAX + 1] = {0};
    struct cmp_address *a;
    struct buf_reader r;
    int rc;

    if (klen < 1 || klen - 1 > SBX_REF_MAX || key[0] != LEDGER_K_ADDRESS)
        return SBX_ECORRUPT;
    memcpy(addr, key + 1, klen - 1);
    a = address_get(e, addr);
    if (a == NULL)
        return SBX_ENOMEM;
    rc = cmp_persist_open_record(&r, val, vlen, ADDRESS_VERSION);
    rc = rc ? rc : cmp_persist_read_i64s(&r, counters, SBX_ARRAY_LEN(counters));
    rc = rc ? rc : cmp_usage_get_ring(&r, &a->w.ev, RING_TV);
    if (rc || buf_reader_left(&r))
        return SBX_ECORRUPT;
    a->w.over_vnd = over_vnd;
    a->w.over_until = over_until;
    return SBX_OK;
}

static void
free_address(void *ctx, const void *key, size_t klen, void *val)
{
    (void)ctx;
    (void)key;
    (void)klen;
    free(val);
}

void
cmp_addresses_release(struct cmp_engine *e)
{
    map_foreach(&e->addresses, free_address, NULL);
    map_release(&e->addresses);
    STAILQ_INIT(&e->addr_dirty);
}
