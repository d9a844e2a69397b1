/* The ledger store's keys: one builder (and, where a reader needs it, a parser or a predicate)
 * per record kind of the schema in store.h. Pure functions of their arguments: no database is
 * touched here (ledger/store.c opens, writes and reads it).
 */
#include "ledger/store.h"

#include <string.h>

#include "util/buf.h"
#include "util/log.h"

/* `kind`, then `n` bytes of `p`: the shape of most keys. */
static size_t
key_bytes(uint8_t *out, uint8_t kind, const void *p, size_t n)
{
    out[0] = kind;
    memcpy(out + 1, p, n);
    return 1 + n;
}

/* `kind`, then the string `s` cut at `max` bytes (no terminator). */
static size_t
key_str(uint8_t *out, uint8_t kind, const char *s, size_t max)
{
    return key_bytes(out, kind, s, strnlen(s, max));
}

size_t
ledger_store_key_meta_schema(uint8_t out[static LEDGER_STORE_KEY_META_MAX])
{
    return key_bytes(out, LEDGER_K_META, "schema", 6);
}

size_t
ledger_store_key_meta_tip(uint8_t out[static LEDGER_STORE_KEY_META_MAX])
{
    return key_bytes(out, LEDGER_K_META, "tip", 3);
}

size_t
ledger_store_key_meta_state(uint8_t out[static LEDGER_STORE_KEY_META_MAX])
{
    return key_bytes(out, LEDGER_K_META, "state", 5);
}

size_t
ledger_store_key_meta_tally(uint8_t out[static LEDGER_STORE_KEY_META_MAX])
{
    return key_bytes(out, LEDGER_K_META, "tally", 5);
}

size_t
ledger_store_prefix_meta_alert(uint8_t out[static LEDGER_STORE_KEY_PAIR_LEN])
{
    return key_bytes(out, LEDGER_K_META, "A", 1);
}

size_t
ledger_store_key_meta_alert(uint8_t out[static LEDGER_STORE_KEY_META_ALERT_LEN], uint64_t seq)
{
    size_t n = ledger_store_prefix_meta_alert(out);

    buf_store_u64(out + n, seq);
    return n + 8;
}

size_t
ledger_store_key_block(uint8_t out[static LEDGER_STORE_KEY_BLOCK_LEN], uint64_t height)
{
    out[0] = LEDGER_K_BLOCK;
    buf_store_u64(out + 1, height);
    return 1 + 8;
}

size_t
ledger_store_key_hash(uint8_t out[static LEDGER_STORE_KEY_HASH_LEN], const uint8_t hash[static 32])
{
    return key_bytes(out, LEDGER_K_HASH, hash, 32);
}

size_t
ledger_store_key_tx(uint8_t out[static LEDGER_STORE_KEY_HASH_LEN], const uint8_t txid[static 32])
{
    return key_bytes(out, LEDGER_K_TX, txid, 32);
}

size_t
ledger_store_key_idem(uint8_t out[static LEDGER_STORE_KEY_IDEM_MAX], uint8_t kind, const char *id)
{
    out[0] = LEDGER_K_IDEM;
    return 1 + key_str(out + 1, kind, id, SBX_ID_MAX);
}

size_t
ledger_store_key_account(uint8_t out[static LEDGER_STORE_KEY_ACCOUNT_MAX], const char *id)
{
    return key_str(out, LEDGER_K_ACCOUNT, id, SBX_ID_MAX);
}

size_t
ledger_store_key_usage(uint8_t out[static LEDGER_STORE_KEY_ACCOUNT_MAX], const char *account)
{
    return key_str(out, LEDGER_K_USAGE, account, SBX_ID_MAX);
}

size_t
ledger_store_key_address(uint8_t out[static LEDGER_STORE_KEY_ADDRESS_MAX], const char *address)
{
    return key_str(out, LEDGER_K_ADDRESS, address, SBX_REF_MAX);
}

size_t
ledger_store_key_params(uint8_t out[static LEDGER_STORE_KEY_PAIR_LEN])
{
    return key_bytes(out, LEDGER_K_PARAM, "p", 1);
}

size_t
ledger_store_key_list_global(uint8_t out[static LEDGER_STORE_KEY_PAIR_LEN])
{
    out[0] = LEDGER_K_LIST;
    out[1] = LEDGER_LIST_GLOBAL;
    return 2;
}

size_t
ledger_store_key_list_liabilities(uint8_t out[static LEDGER_STORE_KEY_PAIR_LEN])
{
    out[0] = LEDGER_K_LIST;
    out[1] = LEDGER_LIST_LIABILITIES;
    return 2;
}

size_t
ledger_store_key_liabilities(uint8_t out[static LEDGER_STORE_KEY_BLOCK_LEN], uint64_t height)
{
    out[0] = LEDGER_K_LIABILITIES;
    buf_store_u64(out + 1, height);
    return 1 + 8;
}

size_t
ledger_store_key_list(uint8_t out[static LEDGER_STORE_KEY_LIST_MAX], uint8_t list,
                      const char *entry)
{
    out[0] = LEDGER_K_LIST;
    return 1 + key_str(out + 1, list, entry, SBX_ADDRESS_MAX);
}

size_t
ledger_store_key_alert(uint8_t out[static LEDGER_STORE_KEY_HASH_LEN], const uint8_t id[static 32])
{
    return key_bytes(out, LEDGER_K_ALERT, id, 32);
}

size_t
ledger_store_prefix_alert_index(uint8_t out[static LEDGER_STORE_KEY_PAIR_LEN], uint8_t kind)
{
    return key_bytes(out, LEDGER_K_ALERT_IDX, &kind, 1);
}

size_t
ledger_store_key_alert_index(uint8_t out[static LEDGER_STORE_KEY_ALERT_INDEX_LEN], uint8_t kind,
                             int64_t time_ms, const uint8_t id[static 32])
{
    size_t n = ledger_store_prefix_alert_index(out, kind);

    n = ledger_store_key_seek(out, out, n, (uint64_t)time_ms);
    memcpy(out + n, id, 32);
    return n + 32;
}

size_t
ledger_store_prefix_index(uint8_t out[static LEDGER_STORE_PREFIX_INDEX_MAX], uint8_t kind,
                          const char *name, int rule)
{
    size_t n = 0;

    out[n++] = kind;
    if (rule >= 0) {
        buf_store_u16(out + n, (uint16_t)rule);
        n += 2;
    }
    if (name != NULL) {
        size_t l = strnlen(name, SBX_ID_MAX);

        memcpy(out + n, name, l);
        n += l;
        out[n++] = 0;
    }
    return n;
}

size_t
ledger_store_key_index(uint8_t out[static LEDGER_STORE_KEY_INDEX_MAX], uint8_t kind,
                       const char *name, int rule, int64_t time_ms, uint64_t height, uint32_t index)
{
    size_t n = ledger_store_prefix_index(out, kind, name, rule);

    n = ledger_store_key_seek(out, out, n, (uint64_t)time_ms);
    buf_store_u64(out + n, height);
    buf_store_u32(out + n + 8, index);
    return n + 12;
}

size_t
ledger_store_key_seek(uint8_t *out, const uint8_t *prefix, size_t plen, uint64_t time)
{
    memmove(out, prefix, plen);
    buf_store_u64(out + plen, time);
    return plen + 8;
}

int
ledger_store_key_is_alert(const uint8_t *key, size_t klen)
{
    return klen > 0 && (key[0] == LEDGER_K_ALERT || key[0] == LEDGER_K_ALERT_IDX);
}

int
ledger_store_key_is_state(const uint8_t *key, size_t klen)
{
    return klen > 0 && klen <= LEDGER_STORE_STATE_KEY_MAX &&
           (key[0] == LEDGER_K_ACCOUNT || key[0] == LEDGER_K_USAGE || key[0] == LEDGER_K_ADDRESS ||
            key[0] == LEDGER_K_PARAM || key[0] == LEDGER_K_LIST);
}

size_t
ledger_store_prefix_history(uint8_t out[static LEDGER_STORE_KEY_HISTORY_MAX], const uint8_t *key,
                            size_t klen)
{
    if (klen > LEDGER_STORE_STATE_KEY_MAX)
        SBX_BUG("a state key too long for the history");
    out[0] = LEDGER_K_HISTORY;
    out[1] = (uint8_t)klen;
    memcpy(out + 2, key, klen);
    return 2 + klen;
}

size_t
ledger_store_key_history(uint8_t out[static LEDGER_STORE_KEY_HISTORY_MAX], const uint8_t *key,
                         size_t klen, uint64_t height)
{
    size_t n = ledger_store_prefix_history(out, key, klen);

    buf_store_u64(out + n, height);
    return n + 8;
}

int
ledger_store_key_history_parse(const uint8_t *hkey, size_t hlen, const uint8_t **key, size_t *klen,
                               uint64_t *height)
{
    if (hlen < 2 + 8 || hkey[0] != LEDGER_K_HISTORY || hlen != 2u + hkey[1] + 8)
        return 0;
    *key = hkey + 2;
    *klen = hkey[1];
    *height = buf_load_u64(hkey + 2 + hkey[1]);
    return 1;
}
