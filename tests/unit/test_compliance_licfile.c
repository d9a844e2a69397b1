/* compliance/ unit tests: the licence file of a new network (compliance/licence_file.c). A
 * complete file gives the genesis fields and a licence document every node reads back; each
 * kind of bad file is refused with one message naming its field.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_compliance.h"

#include <stdio.h>
#include <string.h>

#include "compliance/licence_file.h"
#include "compliance/params.h"
#include "ledger/keys.h"
#include "util/hex.h"
#include "util/sha256.h"

static const char base[] =
    "{\"network\": \"sbx-test\", \"licence_id\": \"DN-1\", \"house_account\": \"HOUSE\",\n"
    " \"valid_from\": \"2025-09-01T00:00:00+07:00\", \"valid_to\": \"2028-09-01T00:00:00+07:00\",\n"
    " \"regulators\": [{\"name\": \"SSC\", \"key\": \"K1\"}, {\"name\": \"SBV\", \"key\": "
    "\"K2\"}],\n"
    " \"directive_quorum\": 1, \"attestation_quorum\": 2,\n"
    " \"assets\": [{\"symbol\": \"BTC\", \"decimals\": 8, \"ref_price_vnd\": 2500000000},\n"
    "            {\"symbol\": \"ETH\", \"decimals\": 8, \"ref_price_vnd\": 90000000}],\n"
    " \"params\": {\"limit.participants_max\": 500, \"limit.exchange_daily\": 7000000000,\n"
    "            \"limit.exchange_total\": 900000000000, \"trading.open_min\": 480}}";

/* `base` with the keys in place and `from` (if not NULL) replaced by `to`, into out. */
static void
licence_text(char *out, size_t cap, const char *from, const char *to)
{
    char k[2][65], text[4096];
    const char *p;
    struct ledger_key key;
    uint8_t secret[32];
    size_t n = 0;

    for (int i = 0; i < 2; i++) {
        sha256(secret, i ? "reg2" : "reg1", 4);
        assert_int_equal(ledger_keys_from_secret(&key, secret), SBX_OK);
        hex_encode(k[i], key.pubkey, 32);
    }
    for (p = base; *p != '\0'; p++) {
        if (p[0] == 'K' && (p[1] == '1' || p[1] == '2')) {
            n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", k[p[1] - '1']);
            p++;
        } else {
            text[n++] = *p;
        }
    }
    text[n] = '\0';
    p = from ? strstr(text, from) : NULL;
    if (from != NULL)
        assert_non_null(p);
    if (p == NULL) {
        snprintf(out, cap, "%s", text);
        return;
    }
    snprintf(out, cap, "%.*s%s%s", (int)(p - text), text, to, p + strlen(from));
}

void
test_licence_file_complete(void **state)
{
    struct cmp_licence_file lf;
    struct cmp_params p;
    struct sbx_err err;
    char text[4096];

    (void)state;
    assert_int_equal(ledger_keys_global_init(), SBX_OK);
    licence_text(text, sizeof(text), NULL, NULL);
    assert_int_equal(cmp_licence_file_parse(&lf, text, strlen(text), &err), SBX_OK);
    assert_string_equal(lf.network, "sbx-test");
    assert_int_equal(lf.nregulators, 2);
    assert_string_equal(lf.regulator_names[1], "SBV");
    assert_int_equal(lf.directive_quorum, 1);
    assert_int_equal(lf.attestation_quorum, 2);
    assert_int_equal(lf.nassets, 3);
    assert_string_equal(lf.assets[0].symbol, "VND");
    assert_string_equal(lf.assets[2].symbol, "ETH");
    assert_int_equal(lf.assets[2].decimals, 8);
    assert_int_equal(lf.valid_from, INT64_C(1756659600000));
    /* what a node reads from block 0 */
    assert_int_equal(cmp_params_from_json(&p, lf.licence_json, strlen(lf.licence_json), 1,
                                          lf.assets, lf.nassets, &err),
                     SBX_OK);
    assert_string_equal(p.licence_id, "DN-1");
    assert_string_equal(p.house_account, "HOUSE");
    assert_int_equal(p.v[CMP_P_VALID_FROM], INT64_C(1756659600000));
    assert_int_equal(p.v[CMP_P_VALID_TO], INT64_C(1851354000000));
    assert_int_equal(p.v[CMP_P_PARTICIPANTS_MAX], 500);
    assert_int_equal(p.v[CMP_P_EXCHANGE_DAILY], INT64_C(7000000000));
    assert_int_equal(p.v[CMP_P_TRADING_OPEN_MIN], 480);
    assert_int_equal(p.v[CMP_P_DAILY_T1], cmp_params_default(CMP_P_DAILY_T1));
    assert_int_equal(p.ref_price[1], INT64_C(2500000000));
    assert_int_equal(p.ref_price[2], INT64_C(90000000));
    cmp_licence_file_release(&lf);
    cmp_licence_file_release(&lf); /* twice: a no-op */
}

void
test_licence_file_refused(void **state)
{
    /* each: replace `from` by `to` in the complete file; the message starts with `field` */
    static const struct {
        const char *from, *to, *field;
    } cases[] = {
        {"{\"network\": \"sbx-test\", ", "{", "network: missing"},
        {"\"network\": \"sbx-test\"", "\"network\": 7", "network: must be a string"},
        {"\"network\": \"sbx-test\"", "\"network\": \"a b\"", "network: "},
        {"\"licence_id\": \"DN-1\", ", "\"licence\": 1, ", "licence: unknown field"},
        {"\"house_account\": \"HOUSE\",", "", "house_account: missing"},
        {"2025-09-01T00:00:00+07:00", "2025-09-01T00:00:00", "valid_from: "},
        {"2028-09-01T00:00:00+07:00", "2025-09-01T00:00:00+07:00", "valid_to: must be after"},
        {"2028-09-01T00:00:00+07:00", "2025-08-31T17:00:00Z", "valid_to: must be after"},
        {"\"directive_quorum\": 1", "\"directive_quorum\": 3", "directive_quorum: 3 is more"},
        {"\"attestation_quorum\": 2", "\"attestation_quorum\": 0", "attestation_quorum: 0 out"},
        {"\"attestation_quorum\": 2", "\"attestation_quorum\": \"2\"", "attestation_quorum: must"},
        {"\"name\": \"SBV\"", "\"name\": \"SSC\"", "regulators[1].name: duplicate"},
        {"\"name\": \"SBV\", ", "", "regulators[1].name: missing"},
        {"\"name\": \"SBV\"", "\"name\": \"SBV\", \"role\": 1", "regulators[1].role: unknown"},
        {"\"key\": \"", "\"key\": \"00", "regulators[0].key: not a public key"},
        {"\"directive_quorum\": 1", "\"directive_quorum\": 1.5", "directive_quorum: must be"},
        {"\"symbol\": \"ETH\"", "\"symbol\": \"BTC\"", "assets[1].symbol: duplicate"},
        {"\"symbol\": \"ETH\"", "\"symbol\": \"VND\"", "assets[1].symbol: VND is implicit"},
        {"\"symbol\": \"ETH\"", "\"symbol\": \"eth\"", "assets[1].symbol: 1..12"},
        {"\"decimals\": 8, \"ref_price_vnd\": 90000000", "\"decimals\": 9, \"ref_price_vnd\": 1",
         "assets[1].decimals: 9 out of range"},
        {"\"ref_price_vnd\": 90000000", "\"ref_price_vnd\": 0", "assets[1].ref_price_vnd: 0 out"},
        {", \"ref_price_vnd\": 90000000", "", "assets[1].ref_price_vnd: missing"},
        {"\"limit.participants_max\": 500, ", "", "params.limit.participants_max: missing"},
        {"\"limit.exchange_total\": 900000000000, ", "", "params.limit.exchange_total: missing"},
        {"\"limit.exchange_daily\": 7000000000", "\"limit.exchange_daily\": -1",
         "params.limit.exchange_daily: -1 out of range"},
        {"\"trading.open_min\": 480", "\"trading.open_min\": 480, \"limit.bogus\": 1",
         "params.limit.bogus: unknown parameter"},
        {"\"trading.open_min\": 480", "\"trading.open_min\": \"480\"",
         "params.trading.open_min: must be an integer"},
        {"\"trading.open_min\": 480", "\"licence.valid_to\": 1", "params.licence.valid_to: set by"},
        {"\"trading.open_min\": 480", "\"asset.BTC.ref_price_vnd\": 1",
         "params.asset.BTC.ref_price_vnd: set by"},
        {"\"trading.open_min\": 480", "\"trading.open_min\": 480, \"trading.close_min\": 60",
         "params.trading.close_min: must not be before"},
        {"\"house_account\": \"HOUSE\",", "\"house_account\": \"HOUSE\", \"network\": \"x\",",
         "not JSON"},
    };
    struct cmp_licence_file lf;
    struct sbx_err err;
    char text[4096];

    (void)state;
    assert_int_equal(ledger_keys_global_init(), SBX_OK);
    for (size_t i = 0; i < SBX_ARRAY_LEN(cases); i++) {
        licence_text(text, sizeof(text), cases[i].from, cases[i].to);
        memset(&err, 0, sizeof(err));
        if (cmp_licence_file_parse(&lf, text, strlen(text), &err) != SBX_EINVAL ||
            strncmp(err.msg, cases[i].field, strlen(cases[i].field)) != 0)
            fail_msg("case %zu: expected \"%s...\", got %d \"%s\"", i, cases[i].field, err.code,
                     err.msg);
        assert_null(lf.licence_json);
        cmp_licence_file_release(&lf);
    }
    assert_int_equal(cmp_licence_file_parse(&lf, "[]", 2, &err), SBX_EINVAL);
    cmp_licence_file_release(&lf);
}

void
test_licence_file_read(void **state)
{
    struct cmp_licence_file lf;
    struct sbx_err err;

    (void)state;
    assert_int_equal(cmp_licence_file_read(&lf, "/nonexistent/licence.json", &err), SBX_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/licence.json"));
    cmp_licence_file_release(&lf);
}
