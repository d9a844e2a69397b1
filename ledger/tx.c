/* Transactions: the names of their enumerations, their lifecycle and their ids; see tx.h.
 *
 * The rest of the transaction code is split by concern: tx_check.c judges the fields,
 * tx_encode.c writes and reads the canonical encoding (whose layout tx_encode.c describes), and
 * tx_sign.c signs and verifies. This file holds what all of them share: the name tables
 * generated from the X-macro lists in tx.h, init/release, and the txid (the tagged hash of the
 * unsigned encoding).
 */
#include "ledger/tx.h"

#include <stdlib.h>
#include <string.h>

#include "util/sha256.h"

/* ---- names ---------------------------------------------------------------------------- */

static const char *
name_of(const char *const *names, size_t n, int v)
{
    if (v < 0 || (size_t)v >= n)
        return NULL;
    return names[v];
}

static int
parse_name(const char *const *names, size_t n, const char *s)
{
    if (s == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (names[i] != NULL && strcmp(names[i], s) == 0)
            return (int)i;
    }
    return -1;
}

/* One table of names indexed by value, and its ledger_<what>_name/_parse pair. */
#define NAME_ENTRY(e, n, s) [e] = s,
#define NAME_FUNCTIONS(what, TABLE)                                                                \
    static const char *const what##_names[] = {TABLE(NAME_ENTRY)};                                 \
    const char *ledger_##what##_name(int v)                                                        \
    {                                                                                              \
        return name_of(what##_names, SBX_ARRAY_LEN(what##_names), v);                              \
    }                                                                                              \
    int ledger_##what##_parse(const char *s)                                                       \
    {                                                                                              \
        return parse_name(what##_names, SBX_ARRAY_LEN(what##_names), s);                           \
    }

NAME_FUNCTIONS(tx_type, LEDGER_TX_TYPES)
NAME_FUNCTIONS(tx_auth, LEDGER_TX_AUTHS)
NAME_FUNCTIONS(investor_class, LEDGER_INVESTOR_CLASSES)
NAME_FUNCTIONS(account_status, LEDGER_ACCOUNT_STATUSES)
NAME_FUNCTIONS(travel_protocol, LEDGER_TRAVEL_PROTOCOLS)
NAME_FUNCTIONS(travel_status, LEDGER_TRAVEL_STATUSES)
NAME_FUNCTIONS(directive_kind, LEDGER_DIRECTIVE_KINDS)

int
ledger_tx_is_business(int type)
{
    return type >= LEDGER_TX_ACCOUNT_OPEN && type <= LEDGER_TX_TRADE;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

void
ledger_tx_init(struct ledger_tx *tx, enum ledger_tx_type type)
{
    memset(tx, 0, sizeof(*tx));
    tx->version = LEDGER_TX_VERSION;
    tx->type = (uint8_t)type;
}

void
ledger_tx_release(struct ledger_tx *tx)
{
    if (tx == NULL || tx->type != LEDGER_TX_GENESIS)
        return;
    free(tx->u.genesis.licence_json);
    tx->u.genesis.licence_json = NULL;
    tx->u.genesis.licence_len = 0;
}

/* ---- ids ------------------------------------------------------------------------------ */

void
ledger_tx_id_raw(uint8_t txid[static 32], const uint8_t *unsigned_enc, size_t len)
{
    sha256_tagged(&SHA256_TAG_TX, txid, unsigned_enc, len);
}

int
ledger_tx_id(const struct ledger_tx *tx, uint8_t txid[static 32], struct sbx_err *err)
{
    struct buf b;
    int rc;

    memset(txid, 0, 32);
    buf_init(&b, SBX_TX_MAX_SIZE);
    rc = ledger_tx_encode_unsigned(tx, &b, err);
    if (rc)
        goto out;
    ledger_tx_id_raw(txid, b.data, b.len);
out:
    buf_release(&b);
    return rc;
}
