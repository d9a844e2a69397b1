/* Transactions: the stateless checks that both encoding and decoding apply; see tx.h.
 *
 * One function per body type judges every field of a decoded or hand-built transaction: the
 * lengths and charsets of strings (identifiers, asset symbols, printable text, UTF-8 free text),
 * the ranges of numbers and enumerations, the fields a type or directive kind does not use
 * (which must stay zero so that each transaction has exactly one encoding), and the public keys
 * in genesis and cosignatures. The first failure is returned with a message naming its field.
 */
#include <stdio.h>
#include <string.h>

#include "ledger/keys.h"
#include "ledger/tx.h"

/* ---- stateless checks ----------------------------------------------------------------- */

/* `s` lives in a char array of max+1 bytes: SBX_ETOOLONG unless it is NUL-terminated in it, and
 * SBX_EINVAL if it is empty but `required`. `*len` gets its length. */
static int
check_len(const char *s, size_t max, int required, size_t *len, const char *pfx, const char *field,
          struct sbx_err *err)
{
    *len = strnlen(s, max + 1);
    if (*len > max)
        return sbx_err_set(err, SBX_ETOOLONG, "%s.%s: longer than %zu bytes", pfx, field, max);
    if (*len == 0 && required)
        return sbx_err_set(err, SBX_EINVAL, "%s.%s: must not be empty", pfx, field);
    return SBX_OK;
}

/* The byte sets of the ASCII string fields. */
enum charset {
    CHARS_ID,        /* identifiers: printable ASCII without spaces */
    CHARS_SYMBOL,    /* asset symbols: A-Z and 0-9 */
    CHARS_PRINTABLE, /* screening categories: printable ASCII, spaces allowed */
};

static int
char_ok(enum charset cs, unsigned char c)
{
    switch (cs) {
    case CHARS_ID:
        return c >= 0x21 && c <= 0x7e;
    case CHARS_SYMBOL:
        return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    case CHARS_PRINTABLE:
        return c >= 0x20 && c <= 0x7e;
    }
    return 0;
}

/* A string of at most `max` bytes from the set `cs`; empty only if not `required`. */
static int
check_chars(const char *s, size_t max, int required, enum charset cs, const char *pfx,
            const char *field, struct sbx_err *err)
{
    size_t n;
    int rc = check_len(s, max, required, &n, pfx, field, err);

    for (size_t i = 0; rc == SBX_OK && i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (char_ok(cs, c))
            continue;
        if (cs == CHARS_SYMBOL)
            return sbx_err_set(err, SBX_EINVAL, "%s.%s: asset symbols are A-Z and 0-9 only", pfx,
                               field);
        return sbx_err_set(err, SBX_EINVAL,
                           "%s.%s: byte 0x%02x at offset %zu is not printable ASCII%s", pfx, field,
                           c, i, cs == CHARS_ID ? " without spaces" : "");
    }
    return rc;
}

static int
check_id(const char *s, size_t max, int required, const char *pfx, const char *field,
         struct sbx_err *err)
{
    return check_chars(s, max, required, CHARS_ID, pfx, field, err);
}

static int
check_symbol(const char *s, int required, const char *pfx, const char *field, struct sbx_err *err)
{
    return check_chars(s, SBX_ASSET_MAX, required, CHARS_SYMBOL, pfx, field, err);
}

int
ledger_id_valid(const char *s, size_t max)
{
    return check_id(s, max, 1, "", "", NULL) == SBX_OK;
}

int
ledger_symbol_valid(const char *s)
{
    return check_symbol(s, 1, "", "", NULL) == SBX_OK;
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
    int rc = check_len(s, max, required, &n, pfx, field, err);

    if (rc)
        return rc;
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
        rc = check_chars(s->categories, SBX_CATEGORIES_MAX, 0, CHARS_PRINTABLE, pfx,
                         "screening.categories", err);
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
    if (t->executed_at <= 0 || !ledger_time_valid(t->executed_at))
        return sbx_err_set(err, SBX_EINVAL, "trade.executed_at: must be > 0 and before 2200");
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
    USE_RESERVE = 64,  /* asset required, value >= 0, address = a required reference */
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
    case LEDGER_DIR_RESERVES_ATTEST:
        return USE_RESERVE | USE_VALUE;
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

    if (use & (USE_ASSET | USE_RESERVE))
        rc = check_symbol(d->asset, (use & USE_RESERVE) != 0, "directive", "asset", err);
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

    if (use & (USE_TARGET | USE_RESERVE))
        rc = check_id(d->address, SBX_ADDRESS_MAX, (use & USE_RESERVE) != 0, "directive",
                      (use & USE_RESERVE) ? "reference" : "address", err);
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
        if (d->value <= 0 || !ledger_time_valid(d->value))
            return sbx_err_set(err, SBX_EINVAL,
                               "directive.value: new valid_to must be > 0 and before 2200");
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

/* A liabilities record: one line per asset, each a listed symbol, no two alike, totals >= 0,
 * unused lines zero. Whether the lines are the genesis assets is the rules' check. */
static int
check_liabilities(const struct ledger_liabilities *l, struct sbx_err *err)
{
    int rc;

    if (l->nassets < 1 || l->nassets > SBX_MAX_ASSETS)
        return sbx_err_set(err, SBX_EINVAL, "liabilities.assets: 1..%d lines", SBX_MAX_ASSETS);
    for (unsigned i = 0; i < l->nassets; i++) {
        rc = check_symbol(l->assets[i].asset, 1, "liabilities", "assets.asset", err);
        if (rc)
            return rc;
        if (l->assets[i].total < 0)
            return sbx_err_set(err, SBX_EINVAL, "liabilities.assets.total: must be >= 0");
        for (unsigned j = 0; j < i; j++)
            if (strcmp(l->assets[i].asset, l->assets[j].asset) == 0)
                return sbx_err_set(err, SBX_ENONCANON, "liabilities.assets: %s twice",
                                   l->assets[i].asset);
    }
    if (!is_zero(&l->assets[l->nassets], (SBX_MAX_ASSETS - l->nassets) * sizeof(l->assets[0])))
        return sbx_err_set(err, SBX_ENONCANON, "liabilities.assets: unused lines must be zero");
    return SBX_OK;
}

int
ledger_tx_check_header(const struct ledger_tx *tx, struct sbx_err *err)
{
    if (tx->version == 1)
        return sbx_err_set(err, SBX_EVERSION,
                           "tx.version: version 1 (before block-authenticated transactions) is "
                           "no longer accepted");
    if (tx->version != LEDGER_TX_VERSION)
        return sbx_err_set(err, SBX_EVERSION, "tx.version: unknown version %u",
                           (unsigned)tx->version);
    if (tx->type > LEDGER_TX_TYPE_MAX)
        return sbx_err_set(err, SBX_ETYPE, "tx.type: unknown type %u", (unsigned)tx->type);
    if (tx->auth > LEDGER_TX_AUTH_MAX)
        return sbx_err_set(err, SBX_ETYPE, "tx.auth: unknown authentication %u",
                           (unsigned)tx->auth);
    if (tx->auth == LEDGER_TX_AUTH_BLOCK && !ledger_tx_is_business(tx->type))
        return sbx_err_set(err, SBX_EINVAL,
                           "tx.auth: a %s must be signed; only business transactions may be "
                           "block-authenticated",
                           ledger_tx_type_name(tx->type));
    return SBX_OK;
}

/* The checks; `keys` = also check that the signer's key is on the curve (see
 * ledger_tx_check_for_encoding for why encoding skips it). */
static int
check_tx(const struct ledger_tx *tx, int keys, struct sbx_err *err)
{
    int rc;

    rc = ledger_tx_check_header(tx, err);
    if (rc)
        return rc;
    if (tx->auth == LEDGER_TX_AUTH_BLOCK && !is_zero(tx->sig, sizeof(tx->sig)))
        return sbx_err_set(err, SBX_ENONCANON,
                           "tx.sig: must be zero on a block-authenticated transaction");
    rc = keys ? check_pubkey(tx->signer, "tx.signer", err) : SBX_OK;
    if (rc)
        return rc;
    if (!ledger_time_valid(tx->timestamp))
        return sbx_err_set(err, SBX_EINVAL, "tx.timestamp: must be >= 0 and before 2200");

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
    case LEDGER_TX_LIABILITIES:
        return check_liabilities(&tx->u.liabilities, err);
    }
    SBX_BUG("tx type range checked above");
}

int
ledger_tx_check(const struct ledger_tx *tx, struct sbx_err *err)
{
    return check_tx(tx, 1, err);
}

int
ledger_tx_check_for_encoding(const struct ledger_tx *tx, struct sbx_err *err)
{
    return check_tx(tx, 0, err);
}
