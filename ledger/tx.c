/* Transactions: the stateless checks, the canonical encoding and its decoder; see tx.h.
 *
 * The encoding is the struct written out field by field in declaration order, so there is
 * exactly one encoding for each valid transaction and decode(encode(tx)) == tx byte for byte.
 * Body layouts (strings: u8 length then bytes, u16 for reason and legal basis, u32 for the
 * licence document; optional parts: u8 flag 0/1 then the fields when 1):
 *
 *   genesis         str network | 32 operator_key | u8 n | n x 32 regulator key |
 *                   u8 directive_quorum | u8 attestation_quorum | u8 m | m x (str symbol |
 *                   u8 decimals) | u32 licence_len | licence bytes
 *   account_open    str account | u8 kyc_tier | u8 investor_class | str country | 32 kyc_ref |
 *                   32 bank_ref
 *   account_update  str account | u8 kyc_tier | u8 status
 *   deposit,        str transfer_id | str account | str asset | i64 amount | str reference |
 *   withdrawal      u8 has_travel_rule [u8 protocol | str vasp | 32 originator_hash |
 *                   32 beneficiary_hash | u8 status] | u8 has_screening [str provider |
 *                   u8 score | str categories]
 *   trade           str trade_id | str buyer | str seller | str asset | i64 quantity |
 *                   i64 price | i64 fee_buyer | i64 fee_seller | i64 executed_at |
 *                   str buyer_order | str seller_order
 *   directive       u8 kind | str asset | str account | str address | str name | i64 value |
 *                   str16 reason | str16 legal_basis
 *   attestation     u64 height | 32 block_hash
 *
 * Decoding parses the structure first (only truncation, over-long lengths, NUL bytes in strings
 * and bad presence flags can fail there) and then applies ledger_tx_check(), the same function
 * encoding uses, so the two can never disagree on what is valid.
 */
#include "ledger/tx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/keys.h"
#include "util/sha256.h"

/* ---- names ---------------------------------------------------------------------------- */

static const char *const type_names[] = {
    [LEDGER_TX_GENESIS] = "genesis",
    [LEDGER_TX_ACCOUNT_OPEN] = "account_open",
    [LEDGER_TX_ACCOUNT_UPDATE] = "account_update",
    [LEDGER_TX_DEPOSIT] = "deposit",
    [LEDGER_TX_WITHDRAWAL] = "withdrawal",
    [LEDGER_TX_TRADE] = "trade",
    [LEDGER_TX_DIRECTIVE] = "directive",
    [LEDGER_TX_ATTESTATION] = "attestation",
};

static const char *const class_names[] = {
    [LEDGER_CLASS_DOMESTIC_INDIVIDUAL] = "domestic_individual",
    [LEDGER_CLASS_DOMESTIC_ORG] = "domestic_org",
    [LEDGER_CLASS_FOREIGN_INDIVIDUAL] = "foreign_individual",
    [LEDGER_CLASS_FOREIGN_ORG] = "foreign_org",
};

static const char *const kind_names[] = {
    [LEDGER_DIR_HALT] = "halt",
    [LEDGER_DIR_RESUME] = "resume",
    [LEDGER_DIR_FREEZE] = "freeze",
    [LEDGER_DIR_UNFREEZE] = "unfreeze",
    [LEDGER_DIR_SET_PARAM] = "set_param",
    [LEDGER_DIR_LICENCE_EXTEND] = "licence_extend",
    [LEDGER_DIR_LICENCE_SUSPEND] = "licence_suspend",
    [LEDGER_DIR_LICENCE_WIND_DOWN] = "licence_wind_down",
    [LEDGER_DIR_LICENCE_REVOKE] = "licence_revoke",
    [LEDGER_DIR_LICENCE_REINSTATE] = "licence_reinstate",
    [LEDGER_DIR_SANCTION_ADD] = "sanction_add",
    [LEDGER_DIR_SANCTION_REMOVE] = "sanction_remove",
};

static const char *const protocol_names[] = {
    [LEDGER_TRAVEL_TRISA] = "trisa",
    [LEDGER_TRAVEL_TRP] = "trp",
    [LEDGER_TRAVEL_OTHER] = "other",
};

static const char *const travel_status_names[] = {
    [LEDGER_TRAVEL_ACCEPTED] = "accepted",
    [LEDGER_TRAVEL_PENDING] = "pending",
    [LEDGER_TRAVEL_REJECTED] = "rejected",
};

static const char *const account_status_names[] = {
    [LEDGER_ACCOUNT_ACTIVE] = "active",
    [LEDGER_ACCOUNT_CLOSED] = "closed",
};

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

const char *
ledger_tx_type_name(int type)
{
    return name_of(type_names, SBX_ARRAY_LEN(type_names), type);
}

const char *
ledger_investor_class_name(int cls)
{
    return name_of(class_names, SBX_ARRAY_LEN(class_names), cls);
}

int
ledger_investor_class_parse(const char *s)
{
    return parse_name(class_names, SBX_ARRAY_LEN(class_names), s);
}

const char *
ledger_directive_kind_name(int kind)
{
    return name_of(kind_names, SBX_ARRAY_LEN(kind_names), kind);
}

int
ledger_directive_kind_parse(const char *s)
{
    return parse_name(kind_names, SBX_ARRAY_LEN(kind_names), s);
}

const char *
ledger_travel_protocol_name(int p)
{
    return name_of(protocol_names, SBX_ARRAY_LEN(protocol_names), p);
}

int
ledger_travel_protocol_parse(const char *s)
{
    return parse_name(protocol_names, SBX_ARRAY_LEN(protocol_names), s);
}

const char *
ledger_travel_status_name(int s)
{
    return name_of(travel_status_names, SBX_ARRAY_LEN(travel_status_names), s);
}

int
ledger_travel_status_parse(const char *s)
{
    return parse_name(travel_status_names, SBX_ARRAY_LEN(travel_status_names), s);
}

const char *
ledger_account_status_name(int s)
{
    return name_of(account_status_names, SBX_ARRAY_LEN(account_status_names), s);
}

int
ledger_account_status_parse(const char *s)
{
    return parse_name(account_status_names, SBX_ARRAY_LEN(account_status_names), s);
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

/* ---- stateless checks ----------------------------------------------------------------- */

int
ledger_id_valid(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);

    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x21 || c > 0x7e)
            return 0;
    }
    return 1;
}

/* `s` lives in a char array of max+1 bytes: SBX_ETOOLONG unless it is NUL-terminated in it. */
static int
check_len(const char *s, size_t max, size_t *len, const char *pfx, const char *field,
          struct sbx_err *err)
{
    *len = strnlen(s, max + 1);
    if (*len > max)
        return sbx_err_set(err, SBX_ETOOLONG, "%s.%s: longer than %zu bytes", pfx, field, max);
    return SBX_OK;
}

/* An identifier: printable ASCII without spaces; empty only if not `required`. */
static int
check_id(const char *s, size_t max, int required, const char *pfx, const char *field,
         struct sbx_err *err)
{
    size_t n;
    int rc = check_len(s, max, &n, pfx, field, err);

    if (rc)
        return rc;
    if (n == 0 && required)
        return sbx_err_set(err, SBX_EINVAL, "%s.%s: must not be empty", pfx, field);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x21 || c > 0x7e)
            return sbx_err_set(err, SBX_EINVAL,
                               "%s.%s: byte 0x%02x at offset %zu is not printable ASCII "
                               "without spaces",
                               pfx, field, c, i);
    }
    return SBX_OK;
}

/* An asset symbol: 1..SBX_ASSET_MAX of A-Z and 0-9. */
static int
check_symbol(const char *s, int required, const char *pfx, const char *field, struct sbx_err *err)
{
    size_t n;
    int rc = check_len(s, SBX_ASSET_MAX, &n, pfx, field, err);

    if (rc)
        return rc;
    if (n == 0 && required)
        return sbx_err_set(err, SBX_EINVAL, "%s.%s: must not be empty", pfx, field);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return sbx_err_set(err, SBX_EINVAL, "%s.%s: asset symbols are A-Z and 0-9 only", pfx,
                               field);
    }
    return SBX_OK;
}

/* Printable ASCII, spaces allowed (screening categories); may be empty. */
static int
check_printable(const char *s, size_t max, const char *pfx, const char *field, struct sbx_err *err)
{
    size_t n;
    int rc = check_len(s, max, &n, pfx, field, err);

    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c > 0x7e)
            return sbx_err_set(err, SBX_EINVAL,
                               "%s.%s: byte 0x%02x at offset %zu is not printable ASCII", pfx,
                               field, c, i);
    }
    return SBX_OK;
}

/* Length of the UTF-8 sequence starting at s[i] (strict: no overlong forms, no surrogates,
 * nothing above U+10FFFF), or 0 if there is none. */
static size_t
utf8_seq_len(const unsigned char *s, size_t i, size_t n)
{
    unsigned char c = s[i];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (len > n - i)
        return 0;
    if (s[i + 1] < lo || s[i + 1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++) {
        if (s[i + k] < 0x80 || s[i + k] > 0xbf)
            return 0;
    }
    return len;
}

/* Free text: valid UTF-8 without control characters (JSON and logs carry it verbatim). */
static int
check_text(const char *s, size_t max, int required, const char *pfx, const char *field,
           struct sbx_err *err)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n;
    int rc = check_len(s, max, &n, pfx, field, err);

    if (rc)
        return rc;
    if (n == 0 && required)
        return sbx_err_set(err, SBX_EINVAL, "%s.%s: must not be empty", pfx, field);
    for (size_t i = 0; i < n;) {
        size_t l;

        if (u[i] < 0x20 || u[i] == 0x7f)
            return sbx_err_set(err, SBX_EINVAL, "%s.%s: control byte 0x%02x at offset %zu", pfx,
                               field, u[i], i);
        l = utf8_seq_len(u, i, n);
        if (l == 0)
            return sbx_err_set(err, SBX_EINVAL, "%s.%s: invalid UTF-8 at offset %zu", pfx, field,
                               i);
        /* C1 controls U+0080..U+009F are encoded as c2 80..c2 9f */
        if (l == 2 && u[i] == 0xc2 && u[i + 1] < 0xa0)
            return sbx_err_set(err, SBX_EINVAL, "%s.%s: control character at offset %zu", pfx,
                               field, i);
        i += l;
    }
    return SBX_OK;
}

static int
is_zero(const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++) {
        if (b[i])
            return 0;
    }
    return 1;
}

/* A string field the directive kind does not use. */
static int
check_unused_str(const char *s, const char *kind, const char *field, struct sbx_err *err)
{
    if (s[0] != '\0')
        return sbx_err_set(err, SBX_ENONCANON, "directive.%s: must be empty for kind %s", field,
                           kind);
    return SBX_OK;
}

static int
check_pubkey(const uint8_t pub[static 32], const char *field, struct sbx_err *err)
{
    if (!ledger_keys_pubkey_valid(pub))
        return sbx_err_set(err, SBX_EPUBKEY, "%s: not a valid x-only public key", field);
    return SBX_OK;
}

static int
check_genesis(const struct ledger_genesis *g, struct sbx_err *err)
{
    char field[48];
    int rc;

    rc = check_id(g->network, SBX_NETWORK_MAX, 1, "genesis", "network", err);
    if (rc)
        return rc;
    rc = check_pubkey(g->operator_key, "genesis.operator_key", err);
    if (rc)
        return rc;
    if (g->nregulators > SBX_MAX_REGULATORS)
        return sbx_err_set(err, SBX_ETOOLONG, "genesis.regulator_keys: more than %d keys",
                           SBX_MAX_REGULATORS);
    if (g->nregulators == 0)
        return sbx_err_set(err, SBX_EINVAL, "genesis.regulator_keys: at least one key needed");
    for (unsigned i = 0; i < g->nregulators; i++) {
        snprintf(field, sizeof(field), "genesis.regulator_keys[%u]", i);
        rc = check_pubkey(g->regulator_keys[i], field, err);
        if (rc)
            return rc;
        if (memcmp(g->regulator_keys[i], g->operator_key, 32) == 0)
            return sbx_err_set(err, SBX_EINVAL, "%s: same key as the operator", field);
        for (unsigned j = 0; j < i; j++) {
            if (memcmp(g->regulator_keys[i], g->regulator_keys[j], 32) == 0)
                return sbx_err_set(err, SBX_EINVAL, "%s: duplicate of regulator_keys[%u]", field,
                                   j);
        }
    }
    if (!is_zero((const uint8_t *)g->regulator_keys + g->nregulators * sizeof(g->regulator_keys[0]),
                 (SBX_MAX_REGULATORS - g->nregulators) * sizeof(g->regulator_keys[0])))
        return sbx_err_set(err, SBX_ENONCANON,
                           "genesis.regulator_keys: unused entries must be zero");
    if (g->directive_quorum < 1 || g->directive_quorum > g->nregulators)
        return sbx_err_set(err, SBX_EINVAL, "genesis.directive_quorum: must be 1..%u",
                           (unsigned)g->nregulators);
    if (g->attestation_quorum < 1 || g->attestation_quorum > g->nregulators)
        return sbx_err_set(err, SBX_EINVAL, "genesis.attestation_quorum: must be 1..%u",
                           (unsigned)g->nregulators);
    if (g->nassets > SBX_MAX_ASSETS)
        return sbx_err_set(err, SBX_ETOOLONG, "genesis.assets: more than %d assets",
                           SBX_MAX_ASSETS);
    if (g->nassets == 0)
        return sbx_err_set(err, SBX_EINVAL, "genesis.assets: VND must be the first asset");
    for (unsigned i = 0; i < g->nassets; i++) {
        const struct ledger_asset_def *a = &g->assets[i];

        snprintf(field, sizeof(field), "assets[%u].symbol", i);
        rc = check_symbol(a->symbol, 1, "genesis", field, err);
        if (rc)
            return rc;
        if (a->decimals > SBX_ASSET_DECIMALS_MAX)
            return sbx_err_set(err, SBX_EINVAL, "genesis.assets[%u].decimals: must be 0..%d", i,
                               SBX_ASSET_DECIMALS_MAX);
        if (i == 0 && (strcmp(a->symbol, "VND") != 0 || a->decimals != 0))
            return sbx_err_set(err, SBX_EINVAL, "genesis.assets[0]: must be VND with 0 decimals");
        for (unsigned j = 0; j < i; j++) {
            if (strcmp(a->symbol, g->assets[j].symbol) == 0)
                return sbx_err_set(err, SBX_EINVAL, "genesis.assets[%u].symbol: duplicate %s", i,
                                   a->symbol);
        }
    }
    if (!is_zero(&g->assets[g->nassets], (SBX_MAX_ASSETS - g->nassets) * sizeof(g->assets[0])))
        return sbx_err_set(err, SBX_ENONCANON, "genesis.assets: unused entries must be zero");
    if (g->licence_len > SBX_LICENCE_DOC_MAX)
        return sbx_err_set(err, SBX_ETOOLONG, "genesis.licence_json: longer than %d bytes",
                           SBX_LICENCE_DOC_MAX);
    if (g->licence_len == 0 || g->licence_json == NULL)
        return sbx_err_set(err, SBX_EINVAL, "genesis.licence_json: must not be empty");
    if (memchr(g->licence_json, 0, g->licence_len) != NULL)
        return sbx_err_set(err, SBX_EINVAL, "genesis.licence_json: contains a NUL byte");
    return SBX_OK;
}

static int
check_account_open(const struct ledger_account_open *a, struct sbx_err *err)
{
    int rc = check_id(a->account, SBX_ID_MAX, 1, "account_open", "account", err);

    if (rc)
        return rc;
    if (a->kyc_tier < 1 || a->kyc_tier > 3)
        return sbx_err_set(err, SBX_EINVAL, "account_open.kyc_tier: must be 1..3");
    if (ledger_investor_class_name(a->investor_class) == NULL)
        return sbx_err_set(err, SBX_ETYPE, "account_open.investor_class: unknown value %u",
                           (unsigned)a->investor_class);
    if (strnlen(a->country, sizeof(a->country)) != 2 || a->country[0] < 'A' ||
        a->country[0] > 'Z' || a->country[1] < 'A' || a->country[1] > 'Z')
        return sbx_err_set(err, SBX_EINVAL,
                           "account_open.country: must be two uppercase letters (ISO 3166)");
    return SBX_OK;
}

static int
check_account_update(const struct ledger_account_update *a, struct sbx_err *err)
{
    int rc = check_id(a->account, SBX_ID_MAX, 1, "account_update", "account", err);

    if (rc)
        return rc;
    if (a->kyc_tier > 3)
        return sbx_err_set(err, SBX_EINVAL, "account_update.kyc_tier: must be 0 or 1..3");
    if (a->status != 0 && ledger_account_status_name(a->status) == NULL)
        return sbx_err_set(err, SBX_ETYPE, "account_update.status: unknown value %u",
                           (unsigned)a->status);
    if (a->kyc_tier == 0 && a->status == 0)
        return sbx_err_set(err, SBX_EINVAL,
                           "account_update: kyc_tier or status must change (both are 0)");
    return SBX_OK;
}

static int
check_transfer(const struct ledger_transfer *t, const char *pfx, struct sbx_err *err)
{
    int rc;

    rc = check_id(t->transfer_id, SBX_ID_MAX, 1, pfx, "transfer_id", err);
    if (rc)
        return rc;
    rc = check_id(t->account, SBX_ID_MAX, 1, pfx, "account", err);
    if (rc)
        return rc;
    rc = check_symbol(t->asset, 1, pfx, "asset", err);
    if (rc)
        return rc;
    if (t->amount <= 0)
        return sbx_err_set(err, SBX_EINVAL, "%s.amount: must be > 0", pfx);
    rc = check_id(t->reference, SBX_REF_MAX, 0, pfx, "reference", err);
    if (rc)
        return rc;

    if (t->has_travel_rule > 1)
        return sbx_err_set(err, SBX_ENONCANON, "%s.has_travel_rule: must be 0 or 1", pfx);
    if (t->has_travel_rule) {
        const struct ledger_travel_rule *tr = &t->travel_rule;

        if (ledger_travel_protocol_name(tr->protocol) == NULL)
            return sbx_err_set(err, SBX_ETYPE, "%s.travel_rule.protocol: unknown value %u", pfx,
                               (unsigned)tr->protocol);
        rc = check_id(tr->vasp, SBX_VASP_MAX, 1, pfx, "travel_rule.vasp", err);
        if (rc)
            return rc;
        if (ledger_travel_status_name(tr->status) == NULL)
            return sbx_err_set(err, SBX_ETYPE, "%s.travel_rule.status: unknown value %u", pfx,
                               (unsigned)tr->status);
    } else if (!is_zero(&t->travel_rule, sizeof(t->travel_rule))) {
        return sbx_err_set(err, SBX_ENONCANON, "%s.travel_rule: must be all zero when absent", pfx);
    }

    if (t->has_screening > 1)
        return sbx_err_set(err, SBX_ENONCANON, "%s.has_screening: must be 0 or 1", pfx);
    if (t->has_screening) {
        const struct ledger_screening *s = &t->screening;

        rc = check_id(s->provider, SBX_PROVIDER_MAX, 1, pfx, "screening.provider", err);
        if (rc)
            return rc;
        if (s->score > 100)
            return sbx_err_set(err, SBX_EINVAL, "%s.screening.score: must be 0..100", pfx);
        rc = check_printable(s->categories, SBX_CATEGORIES_MAX, pfx, "screening.categories", err);
        if (rc)
            return rc;
    } else if (!is_zero(&t->screening, sizeof(t->screening))) {
        return sbx_err_set(err, SBX_ENONCANON, "%s.screening: must be all zero when absent", pfx);
    }
    return SBX_OK;
}

static int
check_trade(const struct ledger_trade *t, struct sbx_err *err)
{
    int rc;

    rc = check_id(t->trade_id, SBX_ID_MAX, 1, "trade", "trade_id", err);
    if (rc)
        return rc;
    rc = check_id(t->buyer, SBX_ID_MAX, 1, "trade", "buyer", err);
    if (rc)
        return rc;
    rc = check_id(t->seller, SBX_ID_MAX, 1, "trade", "seller", err);
    if (rc)
        return rc;
    if (strcmp(t->buyer, t->seller) == 0)
        return sbx_err_set(err, SBX_EINVAL, "trade.seller: same account as the buyer");
    rc = check_symbol(t->asset, 1, "trade", "asset", err);
    if (rc)
        return rc;
    if (t->quantity <= 0)
        return sbx_err_set(err, SBX_EINVAL, "trade.quantity: must be > 0");
    if (t->price <= 0)
        return sbx_err_set(err, SBX_EINVAL, "trade.price: must be > 0");
    if (t->fee_buyer < 0)
        return sbx_err_set(err, SBX_EINVAL, "trade.fee_buyer: must be >= 0");
    if (t->fee_seller < 0)
        return sbx_err_set(err, SBX_EINVAL, "trade.fee_seller: must be >= 0");
    /* Notional is quantity * price / 10^decimals; the decimals live in genesis, so its
     * overflow is checked where the asset is known (compliance, via ledger_notional). */
    if (t->executed_at <= 0)
        return sbx_err_set(err, SBX_EINVAL, "trade.executed_at: must be > 0");
    rc = check_id(t->buyer_order, SBX_ID_MAX, 0, "trade", "buyer_order", err);
    if (rc)
        return rc;
    return check_id(t->seller_order, SBX_ID_MAX, 0, "trade", "seller_order", err);
}

/* Which of the optional target fields each directive kind uses. */
enum {
    USE_ASSET = 1,     /* optional */
    USE_ACCOUNT = 2,   /* required */
    USE_NAME = 4,      /* required */
    USE_VALUE = 8,     /* any value >= 0 */
    USE_VALID_TO = 16, /* value > 0 */
    USE_TARGET = 32,   /* exactly one of account or address */
};

static unsigned
kind_fields(int kind)
{
    switch (kind) {
    case LEDGER_DIR_HALT:
    case LEDGER_DIR_RESUME:
        return USE_ASSET;
    case LEDGER_DIR_FREEZE:
    case LEDGER_DIR_UNFREEZE:
        return USE_ACCOUNT;
    case LEDGER_DIR_SET_PARAM:
        return USE_NAME | USE_VALUE;
    case LEDGER_DIR_LICENCE_EXTEND:
        return USE_VALID_TO;
    case LEDGER_DIR_SANCTION_ADD:
    case LEDGER_DIR_SANCTION_REMOVE:
        return USE_TARGET;
    default:
        return 0;
    }
}

static int
check_directive(const struct ledger_directive *d, const uint8_t signer[static 32],
                struct sbx_err *err)
{
    const char *kind = ledger_directive_kind_name(d->kind);
    unsigned use;
    int rc;

    if (kind == NULL)
        return sbx_err_set(err, SBX_ETYPE, "directive.kind: unknown value %u", (unsigned)d->kind);
    use = kind_fields(d->kind);

    if (use & USE_ASSET)
        rc = check_symbol(d->asset, 0, "directive", "asset", err);
    else
        rc = check_unused_str(d->asset, kind, "asset", err);
    if (rc)
        return rc;

    if (use & (USE_ACCOUNT | USE_TARGET))
        rc =
            check_id(d->account, SBX_ID_MAX, (use & USE_ACCOUNT) != 0, "directive", "account", err);
    else
        rc = check_unused_str(d->account, kind, "account", err);
    if (rc)
        return rc;

    if (use & USE_TARGET)
        rc = check_id(d->address, SBX_ADDRESS_MAX, 0, "directive", "address", err);
    else
        rc = check_unused_str(d->address, kind, "address", err);
    if (rc)
        return rc;
    if ((use & USE_TARGET) && (d->account[0] == '\0') == (d->address[0] == '\0'))
        return sbx_err_set(err, SBX_EINVAL,
                           "directive.account: exactly one of account or address for %s", kind);

    if (use & USE_NAME)
        rc = check_id(d->name, SBX_PARAM_NAME_MAX, 1, "directive", "name", err);
    else
        rc = check_unused_str(d->name, kind, "name", err);
    if (rc)
        return rc;

    if (use & USE_VALUE) {
        if (d->value < 0)
            return sbx_err_set(err, SBX_EINVAL, "directive.value: must be >= 0");
    } else if (use & USE_VALID_TO) {
        if (d->value <= 0)
            return sbx_err_set(err, SBX_EINVAL, "directive.value: new valid_to must be > 0");
    } else if (d->value != 0) {
        return sbx_err_set(err, SBX_ENONCANON, "directive.value: must be 0 for kind %s", kind);
    }

    rc = check_text(d->reason, SBX_TEXT_MAX, 1, "directive", "reason", err);
    if (rc)
        return rc;
    rc = check_text(d->legal_basis, SBX_TEXT_MAX, 1, "directive", "legal_basis", err);
    if (rc)
        return rc;

    if (d->ncosig > SBX_MAX_COSIGS)
        return sbx_err_set(err, SBX_ETOOLONG, "directive.cosig: more than %d cosignatures",
                           SBX_MAX_COSIGS);
    for (unsigned i = 0; i < d->ncosig; i++) {
        char field[32];

        snprintf(field, sizeof(field), "directive.cosig[%u].pubkey", i);
        rc = check_pubkey(d->cosig[i].pubkey, field, err);
        if (rc)
            return rc;
        if (memcmp(d->cosig[i].pubkey, signer, 32) == 0)
            return sbx_err_set(err, SBX_ENONCANON, "%s: same key as the signer", field);
        for (unsigned j = 0; j < i; j++) {
            if (memcmp(d->cosig[i].pubkey, d->cosig[j].pubkey, 32) == 0)
                return sbx_err_set(err, SBX_ENONCANON, "%s: duplicate of cosig[%u]", field, j);
        }
    }
    if (!is_zero(&d->cosig[d->ncosig], (SBX_MAX_COSIGS - d->ncosig) * sizeof(d->cosig[0])))
        return sbx_err_set(err, SBX_ENONCANON, "directive.cosig: unused entries must be zero");
    return SBX_OK;
}

/* The checks; `keys` = also check that public keys are on the curve. That costs a square root
 * per key (about 5 us), so encoding, whose keys come from our own key pairs or from a decoder
 * that checked them, skips it; decoding outside input and ledger_tx_check() do it. An invalid
 * key could not produce a verifying signature anyway. */
static int
check_tx(const struct ledger_tx *tx, int keys, struct sbx_err *err)
{
    int rc;

    if (tx->version != LEDGER_TX_VERSION)
        return sbx_err_set(err, SBX_EVERSION, "tx.version: unknown version %u",
                           (unsigned)tx->version);
    if (tx->type > LEDGER_TX_TYPE_MAX)
        return sbx_err_set(err, SBX_ETYPE, "tx.type: unknown type %u", (unsigned)tx->type);
    rc = keys ? check_pubkey(tx->signer, "tx.signer", err) : SBX_OK;
    if (rc)
        return rc;
    if (tx->timestamp < 0)
        return sbx_err_set(err, SBX_EINVAL, "tx.timestamp: must be >= 0");

    switch (tx->type) {
    case LEDGER_TX_GENESIS:
        return check_genesis(&tx->u.genesis, err);
    case LEDGER_TX_ACCOUNT_OPEN:
        return check_account_open(&tx->u.account_open, err);
    case LEDGER_TX_ACCOUNT_UPDATE:
        return check_account_update(&tx->u.account_update, err);
    case LEDGER_TX_DEPOSIT:
    case LEDGER_TX_WITHDRAWAL:
        return check_transfer(&tx->u.transfer, ledger_tx_type_name(tx->type), err);
    case LEDGER_TX_TRADE:
        return check_trade(&tx->u.trade, err);
    case LEDGER_TX_DIRECTIVE:
        return check_directive(&tx->u.directive, tx->signer, err);
    case LEDGER_TX_ATTESTATION:
        return SBX_OK;
    }
    SBX_BUG("tx type range checked above");
}

int
ledger_tx_check(const struct ledger_tx *tx, struct sbx_err *err)
{
    return check_tx(tx, 1, err);
}

/* ---- encoding ------------------------------------------------------------------------- */

/* Writers: `rc` accumulates the first failure (the cap of `out`), so a body is a flat list
 * of puts followed by one check. Strings were length-checked by ledger_tx_check. */
struct writer {
    struct buf *b;
    int rc;
};

static void
w_bytes(struct writer *w, const void *p, size_t n)
{
    if (w->rc == SBX_OK)
        w->rc = buf_put(w->b, p, n);
}

static void
w_u8(struct writer *w, uint8_t v)
{
    w_bytes(w, &v, 1);
}

static void
w_u16(struct writer *w, uint16_t v)
{
    uint8_t t[2];

    buf_store_u16(t, v);
    w_bytes(w, t, sizeof(t));
}

static void
w_u32(struct writer *w, uint32_t v)
{
    uint8_t t[4];

    buf_store_u32(t, v);
    w_bytes(w, t, sizeof(t));
}

static void
w_u64(struct writer *w, uint64_t v)
{
    uint8_t t[8];

    buf_store_u64(t, v);
    w_bytes(w, t, sizeof(t));
}

static void
w_i64(struct writer *w, int64_t v)
{
    w_u64(w, (uint64_t)v);
}

static void
w_str8(struct writer *w, const char *s)
{
    size_t n = strlen(s);

    w_u8(w, (uint8_t)n);
    w_bytes(w, s, n);
}

static void
w_str16(struct writer *w, const char *s)
{
    size_t n = strlen(s);

    w_u16(w, (uint16_t)n);
    w_bytes(w, s, n);
}

static void
encode_body(struct writer *w, const struct ledger_tx *tx)
{
    switch (tx->type) {
    case LEDGER_TX_GENESIS: {
        const struct ledger_genesis *g = &tx->u.genesis;

        w_str8(w, g->network);
        w_bytes(w, g->operator_key, 32);
        w_u8(w, g->nregulators);
        for (unsigned i = 0; i < g->nregulators; i++)
            w_bytes(w, g->regulator_keys[i], 32);
        w_u8(w, g->directive_quorum);
        w_u8(w, g->attestation_quorum);
        w_u8(w, g->nassets);
        for (unsigned i = 0; i < g->nassets; i++) {
            w_str8(w, g->assets[i].symbol);
            w_u8(w, g->assets[i].decimals);
        }
        w_u32(w, g->licence_len);
        w_bytes(w, g->licence_json, g->licence_len);
        break;
    }
    case LEDGER_TX_ACCOUNT_OPEN: {
        const struct ledger_account_open *a = &tx->u.account_open;

        w_str8(w, a->account);
        w_u8(w, a->kyc_tier);
        w_u8(w, a->investor_class);
        w_str8(w, a->country);
        w_bytes(w, a->kyc_ref, 32);
        w_bytes(w, a->bank_ref, 32);
        break;
    }
    case LEDGER_TX_ACCOUNT_UPDATE: {
        const struct ledger_account_update *a = &tx->u.account_update;

        w_str8(w, a->account);
        w_u8(w, a->kyc_tier);
        w_u8(w, a->status);
        break;
    }
    case LEDGER_TX_DEPOSIT:
    case LEDGER_TX_WITHDRAWAL: {
        const struct ledger_transfer *t = &tx->u.transfer;

        w_str8(w, t->transfer_id);
        w_str8(w, t->account);
        w_str8(w, t->asset);
        w_i64(w, t->amount);
        w_str8(w, t->reference);
        w_u8(w, t->has_travel_rule);
        if (t->has_travel_rule) {
            w_u8(w, t->travel_rule.protocol);
            w_str8(w, t->travel_rule.vasp);
            w_bytes(w, t->travel_rule.originator_hash, 32);
            w_bytes(w, t->travel_rule.beneficiary_hash, 32);
            w_u8(w, t->travel_rule.status);
        }
        w_u8(w, t->has_screening);
        if (t->has_screening) {
            w_str8(w, t->screening.provider);
            w_u8(w, t->screening.score);
            w_str8(w, t->screening.categories);
        }
        break;
    }
    case LEDGER_TX_TRADE: {
        const struct ledger_trade *t = &tx->u.trade;

        w_str8(w, t->trade_id);
        w_str8(w, t->buyer);
        w_str8(w, t->seller);
        w_str8(w, t->asset);
        w_i64(w, t->quantity);
        w_i64(w, t->price);
        w_i64(w, t->fee_buyer);
        w_i64(w, t->fee_seller);
        w_i64(w, t->executed_at);
        w_str8(w, t->buyer_order);
        w_str8(w, t->seller_order);
        break;
    }
    case LEDGER_TX_DIRECTIVE: {
        const struct ledger_directive *d = &tx->u.directive;

        w_u8(w, d->kind);
        w_str8(w, d->asset);
        w_str8(w, d->account);
        w_str8(w, d->address);
        w_str8(w, d->name);
        w_i64(w, d->value);
        w_str16(w, d->reason);
        w_str16(w, d->legal_basis);
        break;
    }
    case LEDGER_TX_ATTESTATION:
        w_u64(w, tx->u.attestation.height);
        w_bytes(w, tx->u.attestation.block_hash, 32);
        break;
    default:
        SBX_BUG("tx type not checked before encoding");
    }
}

static void
encode_unsigned(struct writer *w, const struct ledger_tx *tx)
{
    w_u8(w, tx->version);
    w_u8(w, tx->type);
    w_bytes(w, tx->signer, 32);
    w_i64(w, tx->timestamp);
    encode_body(w, tx);
}

/* Finish a write: on failure drop what was appended so `out` is as the caller gave it. */
static int
writer_finish(struct writer *w, size_t start, struct sbx_err *err)
{
    if (w->rc == SBX_OK)
        return SBX_OK;
    w->b->len = start;
    if (w->rc == SBX_ENOMEM)
        return sbx_err_set(err, SBX_ENOMEM, "tx: out of memory while encoding");
    return sbx_err_set(err, w->rc, "tx: encoding does not fit in the output buffer");
}

int
ledger_tx_encode_unsigned(const struct ledger_tx *tx, struct buf *out, struct sbx_err *err)
{
    struct writer w = {out, SBX_OK};
    size_t start = out->len;
    int rc = check_tx(tx, 0, err);

    if (rc)
        return rc;
    encode_unsigned(&w, tx);
    return writer_finish(&w, start, err);
}

int
ledger_tx_encode(const struct ledger_tx *tx, struct buf *out, struct sbx_err *err)
{
    struct writer w = {out, SBX_OK};
    size_t start = out->len;
    int rc = check_tx(tx, 0, err);

    if (rc)
        return rc;
    encode_unsigned(&w, tx);
    w_bytes(&w, tx->sig, 64);
    if (tx->type == LEDGER_TX_DIRECTIVE) {
        const struct ledger_directive *d = &tx->u.directive;

        w_u8(&w, d->ncosig);
        for (unsigned i = 0; i < d->ncosig; i++) {
            w_bytes(&w, d->cosig[i].pubkey, 32);
            w_bytes(&w, d->cosig[i].sig, 64);
        }
    }
    return writer_finish(&w, start, err);
}

/* ---- decoding ------------------------------------------------------------------------- */

/* Readers: like the writers, the first failure sticks (and names its field) and later reads
 * are no-ops, so a body reads as a flat list. Only structural failures happen here; the
 * values are judged afterwards by ledger_tx_check. */
struct reader {
    struct buf_reader r;
    int rc;
    struct sbx_err *err;
    const char *pfx;
};

static void
r_fail(struct reader *rd, int rc, const char *field, const char *what)
{
    rd->rc = sbx_err_set(rd->err, rc, "%s.%s: %s", rd->pfx, field, what);
}

static void
r_bytes(struct reader *rd, void *out, size_t n, const char *field)
{
    if (rd->rc != SBX_OK)
        return;
    if (buf_read(&rd->r, out, n) != SBX_OK)
        r_fail(rd, SBX_ETRUNCATED, field, "truncated");
}

static void
r_u8(struct reader *rd, uint8_t *v, const char *field)
{
    r_bytes(rd, v, 1, field);
}

static void
r_u16(struct reader *rd, uint16_t *v, const char *field)
{
    uint8_t t[2] = {0, 0};

    r_bytes(rd, t, 2, field);
    *v = buf_load_u16(t);
}

static void
r_u32(struct reader *rd, uint32_t *v, const char *field)
{
    uint8_t t[4] = {0, 0, 0, 0};

    r_bytes(rd, t, 4, field);
    *v = buf_load_u32(t);
}

static void
r_u64(struct reader *rd, uint64_t *v, const char *field)
{
    uint8_t t[8] = {0};

    r_bytes(rd, t, 8, field);
    *v = buf_load_u64(t);
}

static void
r_i64(struct reader *rd, int64_t *v, const char *field)
{
    uint64_t u;

    r_u64(rd, &u, field);
    *v = (int64_t)u;
}

/* `n` string bytes into `out` (which holds n+1); a NUL inside is refused. */
static void
r_str_body(struct reader *rd, char *out, size_t n, const char *field)
{
    r_bytes(rd, out, n, field);
    if (rd->rc != SBX_OK)
        return;
    out[n] = '\0';
    if (memchr(out, 0, n) != NULL)
        r_fail(rd, SBX_EINVAL, field, "contains a NUL byte");
}

static void
r_str8(struct reader *rd, char *out, size_t max, const char *field)
{
    uint8_t n = 0;

    r_u8(rd, &n, field);
    if (rd->rc != SBX_OK)
        return;
    if (n > max) {
        rd->rc = sbx_err_set(rd->err, SBX_ETOOLONG, "%s.%s: length %u over the maximum %zu",
                             rd->pfx, field, (unsigned)n, max);
        return;
    }
    r_str_body(rd, out, n, field);
}

static void
r_str16(struct reader *rd, char *out, size_t max, const char *field)
{
    uint16_t n = 0;

    r_u16(rd, &n, field);
    if (rd->rc != SBX_OK)
        return;
    if (n > max) {
        rd->rc = sbx_err_set(rd->err, SBX_ETOOLONG, "%s.%s: length %u over the maximum %zu",
                             rd->pfx, field, (unsigned)n, max);
        return;
    }
    r_str_body(rd, out, n, field);
}

/* A count with a maximum (list lengths). */
static void
r_count(struct reader *rd, uint8_t *n, unsigned max, const char *field)
{
    r_u8(rd, n, field);
    if (rd->rc == SBX_OK && *n > max)
        rd->rc = sbx_err_set(rd->err, SBX_ETOOLONG, "%s.%s: %u entries, at most %u", rd->pfx, field,
                             (unsigned)*n, max);
}

/* A presence flag: 0 or 1. */
static void
r_flag(struct reader *rd, uint8_t *v, const char *field)
{
    r_u8(rd, v, field);
    if (rd->rc == SBX_OK && *v > 1)
        r_fail(rd, SBX_ENONCANON, field, "presence flag must be 0 or 1");
}

static void
decode_genesis(struct reader *rd, struct ledger_genesis *g)
{
    r_str8(rd, g->network, SBX_NETWORK_MAX, "network");
    r_bytes(rd, g->operator_key, 32, "operator_key");
    r_count(rd, &g->nregulators, SBX_MAX_REGULATORS, "regulator_keys");
    for (unsigned i = 0; i < g->nregulators && rd->rc == SBX_OK; i++)
        r_bytes(rd, g->regulator_keys[i], 32, "regulator_keys");
    r_u8(rd, &g->directive_quorum, "directive_quorum");
    r_u8(rd, &g->attestation_quorum, "attestation_quorum");
    r_count(rd, &g->nassets, SBX_MAX_ASSETS, "assets");
    for (unsigned i = 0; i < g->nassets && rd->rc == SBX_OK; i++) {
        r_str8(rd, g->assets[i].symbol, SBX_ASSET_MAX, "assets.symbol");
        r_u8(rd, &g->assets[i].decimals, "assets.decimals");
    }
    r_u32(rd, &g->licence_len, "licence_json");
    if (rd->rc != SBX_OK)
        return;
    if (g->licence_len > SBX_LICENCE_DOC_MAX) {
        rd->rc = sbx_err_set(rd->err, SBX_ETOOLONG, "genesis.licence_json: %u bytes, at most %d",
                             (unsigned)g->licence_len, SBX_LICENCE_DOC_MAX);
        return;
    }
    if (g->licence_len > buf_reader_left(&rd->r)) {
        r_fail(rd, SBX_ETRUNCATED, "licence_json", "truncated");
        return;
    }
    g->licence_json = malloc((size_t)g->licence_len + 1);
    if (g->licence_json == NULL) {
        r_fail(rd, SBX_ENOMEM, "licence_json", "out of memory");
        return;
    }
    r_bytes(rd, g->licence_json, g->licence_len, "licence_json");
    g->licence_json[g->licence_len] = '\0';
}

static void
decode_body(struct reader *rd, struct ledger_tx *tx)
{
    switch (tx->type) {
    case LEDGER_TX_GENESIS:
        decode_genesis(rd, &tx->u.genesis);
        break;
    case LEDGER_TX_ACCOUNT_OPEN: {
        struct ledger_account_open *a = &tx->u.account_open;

        r_str8(rd, a->account, SBX_ID_MAX, "account");
        r_u8(rd, &a->kyc_tier, "kyc_tier");
        r_u8(rd, &a->investor_class, "investor_class");
        r_str8(rd, a->country, sizeof(a->country) - 1, "country");
        r_bytes(rd, a->kyc_ref, 32, "kyc_ref");
        r_bytes(rd, a->bank_ref, 32, "bank_ref");
        break;
    }
    case LEDGER_TX_ACCOUNT_UPDATE: {
        struct ledger_account_update *a = &tx->u.account_update;

        r_str8(rd, a->account, SBX_ID_MAX, "account");
        r_u8(rd, &a->kyc_tier, "kyc_tier");
        r_u8(rd, &a->status, "status");
        break;
    }
    case LEDGER_TX_DEPOSIT:
    case LEDGER_TX_WITHDRAWAL: {
        struct ledger_transfer *t = &tx->u.transfer;

        r_str8(rd, t->transfer_id, SBX_ID_MAX, "transfer_id");
        r_str8(rd, t->account, SBX_ID_MAX, "account");
        r_str8(rd, t->asset, SBX_ASSET_MAX, "asset");
        r_i64(rd, &t->amount, "amount");
        r_str8(rd, t->reference, SBX_REF_MAX, "reference");
        r_flag(rd, &t->has_travel_rule, "has_travel_rule");
        if (rd->rc == SBX_OK && t->has_travel_rule) {
            struct ledger_travel_rule *tr = &t->travel_rule;

            r_u8(rd, &tr->protocol, "travel_rule.protocol");
            r_str8(rd, tr->vasp, SBX_VASP_MAX, "travel_rule.vasp");
            r_bytes(rd, tr->originator_hash, 32, "travel_rule.originator_hash");
            r_bytes(rd, tr->beneficiary_hash, 32, "travel_rule.beneficiary_hash");
            r_u8(rd, &tr->status, "travel_rule.status");
        }
        r_flag(rd, &t->has_screening, "has_screening");
        if (rd->rc == SBX_OK && t->has_screening) {
            struct ledger_screening *s = &t->screening;

            r_str8(rd, s->provider, SBX_PROVIDER_MAX, "screening.provider");
            r_u8(rd, &s->score, "screening.score");
            r_str8(rd, s->categories, SBX_CATEGORIES_MAX, "screening.categories");
        }
        break;
    }
    case LEDGER_TX_TRADE: {
        struct ledger_trade *t = &tx->u.trade;

        r_str8(rd, t->trade_id, SBX_ID_MAX, "trade_id");
        r_str8(rd, t->buyer, SBX_ID_MAX, "buyer");
        r_str8(rd, t->seller, SBX_ID_MAX, "seller");
        r_str8(rd, t->asset, SBX_ASSET_MAX, "asset");
        r_i64(rd, &t->quantity, "quantity");
        r_i64(rd, &t->price, "price");
        r_i64(rd, &t->fee_buyer, "fee_buyer");
        r_i64(rd, &t->fee_seller, "fee_seller");
        r_i64(rd, &t->executed_at, "executed_at");
        r_str8(rd, t->buyer_order, SBX_ID_MAX, "buyer_order");
        r_str8(rd, t->seller_order, SBX_ID_MAX, "seller_order");
        break;
    }
    case LEDGER_TX_DIRECTIVE: {
        struct ledger_directive *d = &tx->u.directive;

        r_u8(rd, &d->kind, "kind");
        r_str8(rd, d->asset, SBX_ASSET_MAX, "asset");
        r_str8(rd, d->account, SBX_ID_MAX, "account");
        r_str8(rd, d->address, SBX_ADDRESS_MAX, "address");
        r_str8(rd, d->name, SBX_PARAM_NAME_MAX, "name");
        r_i64(rd, &d->value, "value");
        r_str16(rd, d->reason, SBX_TEXT_MAX, "reason");
        r_str16(rd, d->legal_basis, SBX_TEXT_MAX, "legal_basis");
        break;
    }
    case LEDGER_TX_ATTESTATION:
        r_u64(rd, &tx->u.attestation.height, "height");
        r_bytes(rd, tx->u.attestation.block_hash, 32, "block_hash");
        break;
    default:
        SBX_BUG("tx type not checked before decoding");
    }
}

int
ledger_tx_decode(struct ledger_tx *tx, const uint8_t *in, size_t len, size_t *unsigned_len,
                 struct sbx_err *err)
{
    struct reader rd = {.rc = SBX_OK, .err = err, .pfx = "tx"};
    size_t ulen;
    int rc;

    memset(tx, 0, sizeof(*tx));
    if (unsigned_len != NULL)
        *unsigned_len = 0;
    if (len > SBX_TX_MAX_SIZE)
        return sbx_err_set(err, SBX_ETOOLONG, "tx: %zu bytes, at most %d", len, SBX_TX_MAX_SIZE);
    buf_reader_init(&rd.r, in, len);

    r_u8(&rd, &tx->version, "version");
    if (rd.rc == SBX_OK && tx->version != LEDGER_TX_VERSION)
        rd.rc =
            sbx_err_set(err, SBX_EVERSION, "tx.version: unknown version %u", (unsigned)tx->version);
    r_u8(&rd, &tx->type, "type");
    if (rd.rc == SBX_OK && tx->type > LEDGER_TX_TYPE_MAX)
        rd.rc = sbx_err_set(err, SBX_ETYPE, "tx.type: unknown type %u", (unsigned)tx->type);
    r_bytes(&rd, tx->signer, 32, "signer");
    r_i64(&rd, &tx->timestamp, "timestamp");
    if (rd.rc == SBX_OK) {
        rd.pfx = ledger_tx_type_name(tx->type);
        decode_body(&rd, tx);
        rd.pfx = "tx";
    }
    ulen = rd.r.pos;
    r_bytes(&rd, tx->sig, 64, "sig");
    if (rd.rc == SBX_OK && tx->type == LEDGER_TX_DIRECTIVE) {
        struct ledger_directive *d = &tx->u.directive;

        rd.pfx = "directive";
        r_count(&rd, &d->ncosig, SBX_MAX_COSIGS, "cosig");
        for (unsigned i = 0; i < d->ncosig && rd.rc == SBX_OK; i++) {
            r_bytes(&rd, d->cosig[i].pubkey, 32, "cosig.pubkey");
            r_bytes(&rd, d->cosig[i].sig, 64, "cosig.sig");
        }
    }
    rc = rd.rc;
    if (rc)
        goto out;
    if (buf_reader_left(&rd.r) != 0) {
        rc = sbx_err_set(err, SBX_ETRAILING, "tx: %zu bytes after the end", buf_reader_left(&rd.r));
        goto out;
    }
    rc = ledger_tx_check(tx, err);
    if (rc)
        goto out;
    if (unsigned_len != NULL)
        *unsigned_len = ulen;
out:
    if (rc) {
        ledger_tx_release(tx);
        memset(tx, 0, sizeof(*tx));
    }
    return rc;
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
