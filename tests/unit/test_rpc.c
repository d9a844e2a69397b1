/* rpc/ unit tests: rpcauth lines, HMAC, Basic credentials, the cookie, the error-code table,
 * parameter parsers and building transactions from params (submission results: test_rpc_answer.c).
 * The HTTP server itself is exercised by the functional tests against a running sbxd. */
#include "tests/unit/test_common.h"
#include "tests/unit/test_rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "compliance/rules.h"
#include "rpc/auth.h"
#include "rpc/dashboard.h"
#include "rpc/events.h"
#include "rpc/methods.h"
#include "rpc/params.h"
#include "rpc/report.h"
#include "util/err.h"
#include "util/log.h"

/* python3: hmac.new(b'8e1c3b2a9f7d4e6a', b'correct horse battery staple', hashlib.sha256) */
#define SALT "8e1c3b2a9f7d4e6a"
#define PASS "correct horse battery staple"
#define HASH "0c1870e0c6150a4aecc54abcd96933824f748d7784c35cee3d4aa8524cd600f6"
/* python3: hmac.new(b'salt', b'', hashlib.sha256) */
#define HASH_EMPTY "379d7f7966f400cb6e3c0b2cca4bf8a2db03b8c81fef8020015b5a3103c30460"
/* base64("alice:correct horse battery staple") */
#define ALICE_B64 "YWxpY2U6Y29ycmVjdCBob3JzZSBiYXR0ZXJ5IHN0YXBsZQ=="

static const struct ledger_asset_def assets[] = {{"VND", 0}, {"BTC", 8}, {"ETH", 8}};
#define NASSETS (sizeof(assets) / sizeof(assets[0]))

static void
hex32(char out[65], const uint8_t in[32])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", in[i]);
}

/* ------------------------------------------------------------------ auth */

static void
test_auth_parse_line(void **state)
{
    struct rpc_auth_entry e;
    struct sbx_err err;
    char h[65];

    (void)state;
    assert_int_equal(rpc_auth_parse_line("alice:" SALT "$" HASH ":operator", &e, &err), SBX_OK);
    assert_string_equal(e.name, "alice");
    assert_string_equal(e.salt, SALT);
    assert_int_equal(e.role, RPC_ROLE_OPERATOR);
    hex32(h, e.hash);
    assert_string_equal(h, HASH);
    assert_int_equal(rpc_auth_parse_line("reg:s$" HASH ":supervisor", &e, &err), SBX_OK);
    assert_int_equal(e.role, RPC_ROLE_SUPERVISOR);
    assert_int_equal(rpc_auth_parse_line("root:s$" HASH ":admin", &e, &err), SBX_OK);
    assert_int_equal(e.role, RPC_ROLE_ADMIN);
}

static void
test_auth_parse_line_malformed(void **state)
{
    static const char *const bad[] = {
        "alice:" SALT "$" HASH,             /* no role */
        "alice:" SALT "$" HASH ":",         /* empty role */
        "alice:" SALT "$" HASH ":root",     /* unknown role */
        "alice:" SALT "$" HASH ":Operator", /* roles are lowercase */
        "alice:" SALT "$0C1870E0C6150A4AECC54ABCD96933824F748D7784C35CEE3D4AA8524CD600F6:admin",
        "alice:" SALT "$0c1870e0c6150a4aecc54abcd96933824f748d7784c35cee3d4aa8524cd600f:admin",
        "alice:" SALT "$" HASH "00:admin",    /* 66 hex digits */
        "alice:" SALT HASH ":admin",          /* no '$' */
        ":" SALT "$" HASH ":admin",           /* empty name */
        "al ice:" SALT "$" HASH ":admin",     /* space in name */
        "alice:$" HASH ":admin",              /* empty salt */
        "__cookie__:" SALT "$" HASH ":admin", /* reserved name */
        "",
        "alice",
    };
    struct rpc_auth_entry e;
    struct sbx_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sbx_err_clear(&err);
        assert_int_equal(rpc_auth_parse_line(bad[i], &e, &err), SBX_EINVAL);
        assert_true(err.msg[0] != '\0');
    }
}

static void
test_auth_new_names_line(void **state)
{
    const char *lines[] = {"alice:" SALT "$" HASH ":operator", "bob:" SALT "$" HASH ":superuser"};
    struct rpc_auth *a = NULL;
    struct sbx_err err;

    (void)state;
    sbx_err_clear(&err);
    assert_int_equal(rpc_auth_new(&a, lines, 2, NULL, &err), SBX_EINVAL);
    assert_null(a);
    assert_non_null(strstr(err.msg, "line 2"));
    assert_int_equal(rpc_auth_new(&a, lines, 1, NULL, &err), SBX_OK);
    rpc_auth_free(a);
    rpc_auth_free(NULL);
}

static void
test_auth_hmac_vector(void **state)
{
    uint8_t out[32];
    char h[65];

    (void)state;
    assert_int_equal(rpc_auth_hmac(SALT, PASS, strlen(PASS), out), SBX_OK);
    hex32(h, out);
    assert_string_equal(h, HASH);
    assert_int_equal(rpc_auth_hmac("salt", "", 0, out), SBX_OK);
    hex32(h, out);
    assert_string_equal(h, HASH_EMPTY);
}

static void
test_auth_check(void **state)
{
    const char *lines[] = {"alice:" SALT "$" HASH ":operator", "alice:other$" HASH_EMPTY ":admin",
                           "carol:" SALT "$" HASH ":supervisor"};
    struct rpc_auth *a;
    struct sbx_err err;
    char user[RPC_AUTH_NAME_MAX + 1] = "";
    char pass[] = PASS;

    (void)state;
    assert_int_equal(rpc_auth_new(&a, lines, 3, NULL, &err), SBX_OK);
    assert_int_equal(rpc_auth_check(a, "alice", PASS, strlen(PASS)), RPC_ROLE_OPERATOR);
    assert_int_equal(rpc_auth_check(a, "carol", PASS, strlen(PASS)), RPC_ROLE_SUPERVISOR);
    assert_int_equal(rpc_auth_check(a, "dave", PASS, strlen(PASS)), 0);
    pass[0] ^= 1; /* one bit */
    assert_int_equal(rpc_auth_check(a, "alice", pass, strlen(pass)), 0);
    assert_int_equal(rpc_auth_check(a, "alice", PASS, strlen(PASS) - 1), 0);
    assert_int_equal(rpc_auth_check(a, "alice", "", 0),
                     0); /* the salt is not the one of HASH_EMPTY */
    /* no cookie configured: the cookie user is nobody */
    assert_int_equal(rpc_auth_check(a, RPC_AUTH_COOKIE_USER, "", 0), 0);

    assert_int_equal(rpc_auth_check_header(a, "Basic " ALICE_B64, user), RPC_ROLE_OPERATOR);
    assert_string_equal(user, "alice");
    assert_int_equal(rpc_auth_check_header(a, "basic " ALICE_B64, NULL), RPC_ROLE_OPERATOR);
    assert_int_equal(rpc_auth_check_header(a, "Basic  " ALICE_B64 " ", NULL), RPC_ROLE_OPERATOR);
    assert_int_equal(rpc_auth_check_header(a, NULL, NULL), 0);
    assert_int_equal(rpc_auth_check_header(a, "", NULL), 0);
    assert_int_equal(rpc_auth_check_header(a, "Bearer " ALICE_B64, NULL), 0);
    assert_int_equal(rpc_auth_check_header(a, "Basic YWxpY2U=", NULL), 0); /* "alice" */
    assert_int_equal(rpc_auth_check_header(a, "Basic YWxpY2U6", NULL), 0); /* "alice:" */
    assert_int_equal(rpc_auth_check_header(a, "Basic !!!!", NULL), 0);
    assert_int_equal(
        rpc_auth_check_header(a, "Basic YWxpY2U6Y29ycmVjdCBob3JzZSBiYXR0ZXJ5IHN0YXBsZQ", NULL),
        0); /* unpadded */
    rpc_auth_free(a);
}

static void
test_auth_cookie(void **state)
{
    char *dir = test_tmpdir();
    char path[512], buf[256], hdr[256];
    struct rpc_auth *a;
    struct sbx_err err;
    struct stat st;
    FILE *f;
    size_t n;

    (void)state;
    snprintf(path, sizeof(path), "%s/.cookie", dir);
    /* an old cookie readable by others is replaced, and its mode fixed */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("__cookie__:old-and-longer-than-the-new-one-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", f);
    fclose(f);
    assert_int_equal(chmod(path, 0644), 0);

    assert_int_equal(rpc_auth_new(&a, NULL, 0, path, &err), SBX_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_int_equal(n, strlen(RPC_AUTH_COOKIE_USER) + 1 + 64);
    assert_memory_equal(buf, RPC_AUTH_COOKIE_USER ":", strlen(RPC_AUTH_COOKIE_USER) + 1);
    for (size_t i = strlen(RPC_AUTH_COOKIE_USER) + 1; i < n; i++)
        assert_non_null(strchr("0123456789abcdef", buf[i]));

    /* the cookie's password gives admin; a different one nothing */
    {
        const char *pw = buf + strlen(RPC_AUTH_COOKIE_USER) + 1;
        char wrong[65];

        assert_int_equal(rpc_auth_check(a, RPC_AUTH_COOKIE_USER, pw, strlen(pw)), RPC_ROLE_ADMIN);
        memcpy(wrong, pw, 65);
        wrong[63] = wrong[63] == '0' ? '1' : '0';
        assert_int_equal(rpc_auth_check(a, RPC_AUTH_COOKIE_USER, wrong, 64), 0);
        assert_int_equal(rpc_auth_check(a, RPC_AUTH_COOKIE_USER, pw, 63), 0);
    }
    {
        /* the same through a Basic header */
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const unsigned char *in = (const unsigned char *)buf;
        size_t o = 0;

        o += (size_t)snprintf(hdr, sizeof(hdr), "Basic ");
        for (size_t i = 0; i < n; i += 3) {
            unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                         (i + 2 < n ? in[i + 2] : 0);

            hdr[o++] = b64[(v >> 18) & 63];
            hdr[o++] = b64[(v >> 12) & 63];
            hdr[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
            hdr[o++] = i + 2 < n ? b64[v & 63] : '=';
        }
        hdr[o] = '\0';
        assert_int_equal(rpc_auth_check_header(a, hdr, NULL), RPC_ROLE_ADMIN);
    }
    rpc_auth_free(a);
    assert_int_not_equal(stat(path, &st), 0); /* removed */

    /* an unwritable place is an I/O error naming the path */
    snprintf(path, sizeof(path), "%s/missing/dir/.cookie", dir);
    sbx_err_clear(&err);
    assert_int_equal(rpc_auth_new(&a, NULL, 0, path, &err), SBX_EIO);
    assert_non_null(strstr(err.msg, "missing/dir"));
    test_rmtree(dir);
    free(dir);
}

/* ------------------------------------------------------------------ error table */

static void
test_error_codes(void **state)
{
    static const int params[] = {SBX_EINVAL,   SBX_ETRUNCATED, SBX_ETRAILING,
                                 SBX_ETOOLONG, SBX_EVERSION,   SBX_ETYPE,
                                 SBX_EPUBKEY,  SBX_EOVERFLOW,  SBX_ENONCANON};

    (void)state;
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
        assert_int_equal(rpc_outcome_code(params[i]), RPC_INVALID_PARAMS);
    assert_int_equal(rpc_outcome_code(SBX_OK), 0);
    assert_int_equal(rpc_outcome_code(SBX_ENOTFOUND), -32001);
    assert_int_equal(rpc_outcome_code(SBX_EDENIED), -32002);
    assert_int_equal(rpc_outcome_code(SBX_ECONFLICT), -32003);
    assert_int_equal(rpc_outcome_code(SBX_EUNAVAIL), -32004);
    assert_int_equal(rpc_outcome_code(SBX_EBADSIG), -32005);
    assert_int_equal(rpc_outcome_code(SBX_EOVERLOAD), -32006);
    assert_int_equal(rpc_outcome_code(SBX_EREJECTED), -32000);
    assert_int_equal(rpc_outcome_code(SBX_EIO), -32603);
    assert_int_equal(rpc_outcome_code(SBX_ENOMEM), -32603);
    assert_int_equal(rpc_outcome_code(SBX_EINTERNAL), -32603);
    assert_int_equal(rpc_outcome_code(SBX_ECORRUPT), -32603);
    assert_int_equal(rpc_outcome_code(-999), -32603);
}

static void
test_internal_error_is_generic(void **state)
{
    struct rpc_outcome o;
    json_t *e;

    (void)state;
    rpc_outcome_init(&o);
    rpc_outcome_fail(&o, SBX_EIO, "leveldb: /secret/path: Input/output error");
    assert_int_equal(o.kind, RPC_OUT_ERROR);
    assert_int_equal(o.code, RPC_INTERNAL_ERROR);
    assert_null(strstr(o.message, "secret"));
    e = rpc_methods_error_object(&o);
    assert_non_null(e);
    assert_int_equal(json_integer_value(json_object_get(e, "code")), -32603);
    assert_null(json_object_get(e, "data"));
    json_decref(e);
    rpc_outcome_fail(&o, SBX_ECONFLICT, "trade_id: T-1 already used with different content");
    assert_int_equal(o.code, RPC_CONFLICT);
    assert_string_equal(o.message, "trade_id: T-1 already used with different content");
    rpc_outcome_release(&o);
}

/* ------------------------------------------------------------------ parsers */

static void
test_parse_amount(void **state)
{
    struct sbx_err err;
    int64_t v;
    json_t *j;

    (void)state;
#define AMT(s, d, pos, rc_, want)                                                                  \
    do {                                                                                           \
        j = json_string(s);                                                                        \
        sbx_err_clear(&err);                                                                       \
        assert_int_equal(rpc_params_amount(j, (d), (pos), &v, "quantity", &err), (rc_));           \
        if ((rc_) == SBX_OK)                                                                       \
            assert_int_equal(v, (want));                                                           \
        else                                                                                       \
            assert_memory_equal(err.msg, "quantity", 8);                                           \
        json_decref(j);                                                                            \
    } while (0)
    AMT("0.01500000", 8, 1, SBX_OK, 1500000);
    AMT("0.015", 8, 1, SBX_OK, 1500000);
    AMT("2450000000", 0, 1, SBX_OK, INT64_C(2450000000));
    AMT("92233720368.54775807", 8, 1, SBX_OK, INT64_MAX); /* exactly the largest */
    AMT("92233720368.54775808", 8, 1, SBX_EOVERFLOW, 0);  /* one unit more */
    AMT("9223372036854775808", 0, 1, SBX_EOVERFLOW, 0);
    AMT("0.123456789", 8, 1, SBX_EINVAL, 0); /* nine decimals */
    AMT("1.5", 0, 1, SBX_EINVAL, 0);         /* VND has none */
    AMT("-1", 8, 1, SBX_EINVAL, 0);
    AMT("+1", 8, 1, SBX_EINVAL, 0);
    AMT("1e5", 8, 1, SBX_EINVAL, 0);
    AMT("01", 8, 1, SBX_EINVAL, 0);
    AMT(" 1", 8, 1, SBX_EINVAL, 0);
    AMT("1.", 8, 1, SBX_EINVAL, 0);
    AMT("", 8, 1, SBX_EINVAL, 0);
    AMT("0", 8, 1, SBX_EINVAL, 0); /* must be > 0 */
    AMT("0", 0, 0, SBX_OK, 0);     /* a fee may be 0 */
#undef AMT
    /* JSON numbers are refused, integer or not */
    j = json_integer(5);
    assert_int_equal(rpc_params_amount(j, 0, 1, &v, "price", &err), SBX_EINVAL);
    assert_non_null(strstr(err.msg, "price"));
    json_decref(j);
    j = json_real(0.5);
    assert_int_equal(rpc_params_amount(j, 8, 1, &v, "quantity", &err), SBX_EINVAL);
    json_decref(j);
    assert_int_equal(rpc_params_amount(NULL, 8, 1, &v, "quantity", &err), SBX_EINVAL);
    assert_string_equal(err.msg, "quantity: missing");
}

static void
test_parse_hex_id_int(void **state)
{
    char h64[65], id[SBX_ID_MAX + 1], longid[SBX_ID_MAX + 2];
    struct sbx_err err;
    uint8_t out[32];
    int64_t v;
    json_t *j;

    (void)state;
    memset(h64, 'a', 64);
    h64[64] = '\0';
    j = json_string(h64);
    assert_int_equal(rpc_params_hex32(j, out, "kyc_ref", &err), SBX_OK);
    assert_int_equal(out[0], 0xaa);
    json_decref(j);
    h64[10] = 'A';
    j = json_string(h64);
    assert_int_equal(rpc_params_hex32(j, out, "kyc_ref", &err), SBX_EINVAL);
    assert_memory_equal(err.msg, "kyc_ref", 7);
    json_decref(j);
    j = json_stringn(h64 + 11, 53);
    assert_int_equal(rpc_params_hex32(j, out, "kyc_ref", &err), SBX_EINVAL);
    json_decref(j);

    memset(longid, 'x', SBX_ID_MAX);
    longid[SBX_ID_MAX] = '\0';
    j = json_string(longid); /* exactly 64 */
    assert_int_equal(rpc_params_id(j, SBX_ID_MAX, id, "account", &err), SBX_OK);
    json_decref(j);
    longid[SBX_ID_MAX] = 'x';
    longid[SBX_ID_MAX + 1] = '\0';
    j = json_string(longid); /* 65 */
    assert_int_equal(rpc_params_id(j, SBX_ID_MAX, id, "account", &err), SBX_EINVAL);
    json_decref(j);
    j = json_string("has space");
    assert_int_equal(rpc_params_id(j, SBX_ID_MAX, id, "account", &err), SBX_EINVAL);
    json_decref(j);
    j = json_string("");
    assert_int_equal(rpc_params_id(j, SBX_ID_MAX, id, "account", &err), SBX_EINVAL);
    json_decref(j);

    j = json_integer(3);
    assert_int_equal(rpc_params_int(j, 1, 3, &v, "kyc_tier", &err), SBX_OK);
    assert_int_equal(v, 3);
    json_decref(j);
    j = json_integer(4);
    assert_int_equal(rpc_params_int(j, 1, 3, &v, "kyc_tier", &err), SBX_EINVAL);
    json_decref(j);
    j = json_real(2.0);
    assert_int_equal(rpc_params_int(j, 1, 3, &v, "kyc_tier", &err), SBX_EINVAL);
    assert_non_null(strstr(err.msg, "kyc_tier"));
    json_decref(j);
    j = json_string("2");
    assert_int_equal(rpc_params_int(j, 1, 3, &v, "kyc_tier", &err), SBX_EINVAL);
    json_decref(j);
}

/* ------------------------------------------------------------------ building transactions */

/* Build from a JSON text; returns the code and leaves the message in err. */
static int
build(const char *method, const char *params, struct ledger_tx *tx, struct sbx_err *err)
{
    json_error_t je;
    json_t *p = json_loads(params, 0, &je);
    int rc;

    assert_non_null(p);
    sbx_err_clear(err);
    rc = rpc_methods_build_tx(method, p, assets, NASSETS, tx, err);
    json_decref(p);
    return rc;
}

#define TRADE_OK                                                                                   \
    "\"trade_id\":\"T-1\",\"buyer\":\"A\",\"seller\":\"HOUSE\",\"asset\":\"BTC\",\"price\":"       \
    "\"2500000000\",\"executed_at\":1756700000000"

static void
test_build_trade(void **state)
{
    struct ledger_tx tx;
    struct sbx_err err;

    (void)state;
    assert_int_equal(build("submittrade",
                           "{" TRADE_OK ",\"quantity\":\"0.01\",\"fee_buyer\":\"25000\","
                           "\"buyer_order\":\"O-1\"}",
                           &tx, &err),
                     SBX_OK);
    assert_int_equal(tx.type, LEDGER_TX_TRADE);
    assert_int_equal(tx.u.trade.quantity, 1000000);
    assert_int_equal(tx.u.trade.price, INT64_C(2500000000));
    assert_int_equal(tx.u.trade.fee_buyer, 25000);
    assert_int_equal(tx.u.trade.fee_seller, 0);
    assert_string_equal(tx.u.trade.buyer_order, "O-1");
    assert_string_equal(tx.u.trade.seller_order, "");

    assert_int_equal(
        build("submittrade", "{" TRADE_OK ",\"quantity\":\"0.01\",\"zz\":1}", &tx, &err),
        SBX_EINVAL);
    assert_string_equal(err.msg, "zz: unknown parameter");
    /* a name's prefix, suffix or middle, names run together, a name with its '?', nothing */
    {
        static const char *const near[] = {"buy",        "uyer", "yer_ord",       "trade_id buyer",
                                           "fee_buyer?", "",     "seller_order ", "executed_at?"};

        for (size_t i = 0; i < SBX_ARRAY_LEN(near); i++) {
            char body[256], want[64];

            snprintf(body, sizeof(body), "{" TRADE_OK ",\"quantity\":\"0.01\",\"%s\":1}", near[i]);
            snprintf(want, sizeof(want), "%s: unknown parameter", near[i]);
            assert_int_equal(build("submittrade", body, &tx, &err), SBX_EINVAL);
            assert_string_equal(err.msg, want);
        }
    }
    assert_int_equal(build("submittrade", "{" TRADE_OK "}", &tx, &err), SBX_EINVAL);
    assert_string_equal(err.msg, "quantity: missing");
    assert_int_equal(build("submittrade", "{" TRADE_OK ",\"quantity\":0.01}", &tx, &err),
                     SBX_EINVAL);
    assert_memory_equal(err.msg, "quantity:", 9);
    assert_int_equal(build("submittrade", "{" TRADE_OK ",\"quantity\":\"0.000000001\"}", &tx, &err),
                     SBX_EINVAL);
    assert_memory_equal(err.msg, "quantity:", 9);
    assert_int_equal(build("submittrade",
                           "{\"trade_id\":\"T\",\"buyer\":\"A\",\"seller\":\"B\",\"asset\":\"BTC\","
                           "\"quantity\":\"1\",\"price\":\"1.5\",\"executed_at\":1}",
                           &tx, &err),
                     SBX_EINVAL);
    assert_memory_equal(err.msg, "price:", 6);
    assert_int_equal(build("submittrade",
                           "{\"trade_id\":\"T\",\"buyer\":\"A\",\"seller\":\"A\",\"asset\":\"BTC\","
                           "\"quantity\":\"1\",\"price\":\"1\",\"executed_at\":1}",
                           &tx, &err),
                     SBX_EINVAL);
    assert_memory_equal(err.msg, "seller:", 7);
    assert_int_equal(build("submittrade",
                           "{\"trade_id\":\"T\",\"buyer\":\"A\",\"seller\":\"B\",\"asset\":\"BTC\","
                           "\"quantity\":\"1\",\"price\":\"1\",\"executed_at\":\"1\"}",
                           &tx, &err),
                     SBX_EINVAL);
    assert_memory_equal(err.msg, "executed_at:", 12);
    assert_int_equal(build("submittrade",
                           "{\"trade_id\":\"T\",\"buyer\":\"A\",\"seller\":\"B\",\"asset\":\"btc\","
                           "\"quantity\":\"1\",\"price\":\"1\",\"executed_at\":1}",
                           &tx, &err),
                     SBX_EINVAL);
    assert_memory_equal(err.msg, "asset:", 6);
    /* an unlisted asset parses (up to 8 decimals): the rules reject it as asset.unlisted */
    assert_int_equal(
        build("submittrade",
              "{\"trade_id\":\"T\",\"buyer\":\"A\",\"seller\":\"B\",\"asset\":\"DOGE\","
              "\"quantity\":\"0.5\",\"price\":\"1\",\"executed_at\":1}",
              &tx, &err),
        SBX_OK);
    assert_int_equal(tx.u.trade.quantity, 50000000);
    /* checktrade takes the same params */
    assert_int_equal(build("checktrade", "{" TRADE_OK ",\"quantity\":\"0.01\"}", &tx, &err),
                     SBX_OK);
    assert_int_equal(build("nosuch", "{}", &tx, &err), SBX_ENOTFOUND);
}

static void
test_build_accounts_and_transfers(void **state)
{
    struct ledger_tx tx;
    struct sbx_err err;
    char p[1024];
    const char *h = "abababababababababababababababababababababababababababababababab";

    (void)state;
    snprintf(p, sizeof(p),
             "{\"account\":\"A-1\",\"kyc_tier\":2,\"investor_class\":\"foreign_org\","
             "\"country\":\"SG\",\"kyc_ref\":\"%s\",\"bank_ref\":\"%s\"}",
             h, h);
    assert_int_equal(build("openaccount", p, &tx, &err), SBX_OK);
    assert_int_equal(tx.u.account_open.kyc_tier, 2);
    assert_int_equal(tx.u.account_open.investor_class, LEDGER_CLASS_FOREIGN_ORG);
    assert_int_equal(tx.u.account_open.kyc_ref[31], 0xab);
    snprintf(p, sizeof(p),
             "{\"account\":\"A-1\",\"kyc_tier\":2,\"investor_class\":\"foreign_org\","
             "\"country\":\"sg\",\"kyc_ref\":\"%s\",\"bank_ref\":\"%s\"}",
             h, h);
    assert_int_equal(build("openaccount", p, &tx, &err), SBX_EINVAL);
    assert_memory_equal(err.msg, "country:", 8);
    snprintf(p, sizeof(p),
             "{\"account\":\"A-1\",\"kyc_tier\":2,\"investor_class\":\"alien\","
             "\"country\":\"SG\",\"kyc_ref\":\"%s\",\"bank_ref\":\"%s\"}",
             h, h);
    assert_int_equal(build("openaccount", p, &tx, &err), SBX_EINVAL);
    assert_memory_equal(err.msg, "investor_class:", 15);

    assert_int_equal(build("updateaccount", "{\"account\":\"A-1\"}", &tx, &err), SBX_EINVAL);
    assert_int_equal(
        build("updateaccount", "{\"account\":\"A-1\",\"status\":\"closed\"}", &tx, &err), SBX_OK);
    assert_int_equal(tx.u.account_update.status, LEDGER_ACCOUNT_CLOSED);

    assert_int_equal(build("deposit",
                           "{\"transfer_id\":\"D-1\",\"account\":\"A-1\",\"asset\":\"VND\","
                           "\"amount\":\"50000000\",\"reference\":\"VCB-1\"}",
                           &tx, &err),
                     SBX_OK);
    assert_int_equal(tx.type, LEDGER_TX_DEPOSIT);
    assert_int_equal(tx.u.transfer.amount, 50000000);
    assert_int_equal(tx.u.transfer.has_travel_rule, 0);
    snprintf(p, sizeof(p),
             "{\"transfer_id\":\"W-1\",\"account\":\"A-1\",\"asset\":\"BTC\",\"amount\":\"0.2\","
             "\"reference\":\"bc1q\",\"travel_rule\":{\"protocol\":\"trp\",\"vasp\":\"V-1\","
             "\"originator_hash\":\"%s\",\"beneficiary_hash\":\"%s\",\"status\":\"accepted\"},"
             "\"screening\":{\"provider\":\"acme\",\"score\":100}}",
             h, h);
    assert_int_equal(build("withdraw", p, &tx, &err), SBX_OK);
    assert_int_equal(tx.type, LEDGER_TX_WITHDRAWAL);
    assert_int_equal(tx.u.transfer.amount, 20000000);
    assert_int_equal(tx.u.transfer.travel_rule.protocol, LEDGER_TRAVEL_TRP);
    assert_int_equal(tx.u.transfer.screening.score, 100);
    snprintf(p, sizeof(p),
             "{\"transfer_id\":\"W-1\",\"account\":\"A-1\",\"asset\":\"BTC\",\"amount\":\"0.2\","
             "\"reference\":\"bc1q\",\"travel_rule\":{\"protocol\":\"trp\",\"vasp\":\"V-1\","
             "\"originator_hash\":\"%s\",\"beneficiary_hash\":\"%s\",\"status\":\"accepted\","
             "\"extra\":1}}",
             h, h);
    assert_int_equal(build("withdraw", p, &tx, &err), SBX_EINVAL);
    assert_string_equal(err.msg, "travel_rule.extra: unknown parameter");
    assert_int_equal(build("withdraw",
                           "{\"transfer_id\":\"W-1\",\"account\":\"A-1\",\"asset\":\"BTC\","
                           "\"amount\":\"0.2\",\"reference\":\"r\",\"screening\":{\"provider\":"
                           "\"acme\",\"score\":101}}",
                           &tx, &err),
                     SBX_EINVAL);
    assert_memory_equal(err.msg, "screening.score:", 16);
}

static void
test_build_directive(void **state)
{
    struct ledger_tx tx;
    struct sbx_err err;

    (void)state;
    assert_int_equal(build("submitdirective",
                           "{\"kind\":\"halt\",\"reason\":\"r\",\"legal_basis\":\"b\"}", &tx, &err),
                     SBX_OK);
    assert_int_equal(tx.u.directive.kind, LEDGER_DIR_HALT);
    assert_int_equal(build("submitdirective",
                           "{\"kind\":\"halt\",\"account\":\"A\",\"reason\":\"r\",\"legal_basis\":"
                           "\"b\"}",
                           &tx, &err),
                     SBX_EINVAL);
    assert_string_equal(err.msg, "account: not used by kind halt");
    assert_int_equal(build("submitdirective",
                           "{\"kind\":\"set_param\",\"name\":\"limit.daily.tier1\",\"value\":"
                           "\"500000000\",\"reason\":\"r\",\"legal_basis\":\"b\"}",
                           &tx, &err),
                     SBX_OK);
    assert_int_equal(tx.u.directive.value, 500000000);
    assert_int_equal(build("submitdirective",
                           "{\"kind\":\"set_param\",\"name\":\"aml.velocity_count\",\"value\":30,"
                           "\"reason\":\"r\",\"legal_basis\":\"b\"}",
                           &tx, &err),
                     SBX_OK);
    assert_int_equal(tx.u.directive.value, 30);
    assert_int_equal(build("submitdirective",
                           "{\"kind\":\"set_param\",\"name\":\"x\",\"value\":1.5,\"reason\":\"r\","
                           "\"legal_basis\":\"b\"}",
                           &tx, &err),
                     SBX_EINVAL);
    assert_memory_equal(err.msg, "value:", 6);
    assert_int_equal(
        build("submitdirective",
              "{\"kind\":\"licence_extend\",\"valid_to\":1950000000000,\"reason\":\"r\","
              "\"legal_basis\":\"b\"}",
              &tx, &err),
        SBX_OK);
    assert_int_equal(tx.u.directive.value, INT64_C(1950000000000));
    assert_int_equal(build("submitdirective",
                           "{\"kind\":\"sanction_add\",\"account\":\"A\",\"address\":\"bc1q\","
                           "\"reason\":\"r\",\"legal_basis\":\"b\"}",
                           &tx, &err),
                     SBX_EINVAL);
    assert_int_equal(build("submitdirective",
                           "{\"kind\":\"sanction_add\",\"address\":\"bc1q\",\"reason\":\"r\","
                           "\"legal_basis\":\"b\"}",
                           &tx, &err),
                     SBX_OK);
    assert_string_equal(tx.u.directive.address, "bc1q");
    assert_int_equal(build("submitdirective",
                           "{\"kind\":\"explode\",\"reason\":\"r\","
                           "\"legal_basis\":\"b\"}",
                           &tx, &err),
                     SBX_EINVAL);
    assert_memory_equal(err.msg, "kind:", 5);
    assert_int_equal(
        build("submitdirective", "{\"kind\":\"licence_suspend\",\"reason\":\"r\"}", &tx, &err),
        SBX_EINVAL);
    assert_string_equal(err.msg, "legal_basis: missing");
}

/* ------------------------------------------------------------------ dispatch and results */

static void
test_call_checks_before_handler(void **state)
{
    struct rpc_env env = {NULL, RPC_ROLE_OPERATOR, 0, assets, NASSETS, NULL, NULL, NULL};
    struct ledger_tx *spare, *kept;
    struct rpc_outcome o;
    json_t *p;

    (void)state;
    rpc_outcome_init(&o);
    rpc_methods_call(&env, "nosuch", NULL, &o);
    assert_int_equal(o.code, RPC_METHOD_NOT_FOUND);
    rpc_methods_call(&env, "stop", NULL, &o);
    assert_int_equal(o.code, RPC_FORBIDDEN);
    rpc_methods_call(&env, "submitdirective", NULL, &o);
    assert_int_equal(o.code, RPC_FORBIDDEN);
    env.role = RPC_ROLE_SUPERVISOR;
    rpc_methods_call(&env, "submittrade", NULL, &o);
    assert_int_equal(o.code, RPC_FORBIDDEN);
    p = json_pack("[s]", "x");
    rpc_methods_call(&env, "getinfo", p, &o);
    assert_int_equal(o.code, RPC_INVALID_PARAMS);
    json_decref(p);
    p = json_integer(1);
    rpc_methods_call(&env, "getinfo", p, &o);
    assert_int_equal(o.code, RPC_INVALID_PARAMS);
    json_decref(p);
    /* an operator's submission with bad params never reaches the node */
    env.role = RPC_ROLE_OPERATOR;
    p = json_pack("{s:s}", "account", "A");
    rpc_methods_call(&env, "deposit", p, &o);
    assert_int_equal(o.code, RPC_INVALID_PARAMS);
    json_decref(p);
    /* and a good one comes back as a transaction to submit */
    p = json_pack("{s:s, s:s, s:s, s:s, s:s}", "transfer_id", "D", "account", "A", "asset", "VND",
                  "amount", "10", "reference", "r");
    rpc_methods_call(&env, "deposit", p, &o);
    assert_int_equal(o.kind, RPC_OUT_SUBMIT);
    assert_non_null(o.tx);
    assert_int_equal(o.tx->u.transfer.amount, 10);
    /* built into the loop's spare transaction when it has one (the slot is emptied), with
     * nothing of what the spare held before */
    spare = malloc(sizeof(*spare));
    assert_non_null(spare);
    memset(spare, 0xa5, sizeof(*spare));
    kept = spare;
    env.tx_spare = &spare;
    rpc_methods_call(&env, "deposit", p, &o);
    assert_int_equal(o.kind, RPC_OUT_SUBMIT);
    assert_ptr_equal(o.tx, kept);
    assert_null(spare);
    assert_int_equal(o.tx->u.transfer.amount, 10);
    assert_int_equal(o.tx->u.transfer.has_travel_rule, 0);
    rpc_methods_call(&env, "deposit", p, &o); /* none left: a new one */
    assert_int_equal(o.kind, RPC_OUT_SUBMIT);
    assert_non_null(o.tx);
    json_decref(p);
    rpc_outcome_release(&o);
}

static void
test_roles_table(void **state)
{
    size_t n;
    const struct rpc_method *t = rpc_methods_table(&n);

    (void)state;
    assert_true(n >= 22);
    for (size_t i = 0; i < n; i++)
        assert_true(t[i].roles & RPC_ROLE_ADMIN); /* admin may call everything */
    assert_int_equal(rpc_methods_find("stop")->roles, RPC_ROLE_ADMIN);
    assert_int_equal(rpc_methods_find("getinfo")->roles, RPC_ROLES_ANY);
    assert_int_equal(rpc_methods_find("submitrawtx")->roles, RPC_ROLES_ANY);
    assert_false(rpc_methods_find("verifychain")->roles & RPC_ROLE_OPERATOR);
    assert_false(rpc_methods_find("submittrade")->roles & RPC_ROLE_SUPERVISOR);
    assert_true(rpc_methods_find("getreport")->roles & RPC_ROLE_OPERATOR);
    assert_true(rpc_methods_find("getreport")->roles & RPC_ROLE_SUPERVISOR);
}

/* getreport's periods: local days and months at UTC+7, edges at local midnight. */
static void
test_report_period(void **state)
{
    static const char *bad_days[] = {"2026-1-01",   "2026-02-30", "1969-12-31", "2200-01-01",
                                     "2026-12-06x", "",           "20261206",   "2026/12/06"};
    static const char *bad_months[] = {"2026-13", "2026-00",  "2026-1", "1969-12",
                                       "2200-01", "2026-012", "",       "2026_01"};
    int64_t from, to, from2, to2;

    (void)state;
    /* 2026-12-06 00:00 at UTC+7 is 2026-12-05T17:00Z */
    assert_int_equal(
        rpc_report_period(RPC_REPORT_DAILY, "2026-12-06", 420, &from, &to, "date", NULL), SBX_OK);
    assert_int_equal(from, INT64_C(1796490000000));
    assert_int_equal(to - from, 86400000);
    /* the day before ends where this one starts: its last millisecond is from - 1 */
    assert_int_equal(
        rpc_report_period(RPC_REPORT_DAILY, "2026-12-05", 420, &from2, &to2, "date", NULL), SBX_OK);
    assert_int_equal(to2, from);
    /* UTC noon of 2026-12-06 is 19:00 local: still that day; 17:00Z is the next day */
    assert_true(INT64_C(1796558400000) >= from && INT64_C(1796558400000) < to);
    assert_int_equal(to, INT64_C(1796576400000));
    assert_int_equal(
        rpc_report_period(RPC_REPORT_DAILY, "2026-12-05", 0, &from2, &to2, "date", NULL), SBX_OK);
    assert_int_equal(from2, INT64_C(1796428800000));
    assert_int_equal(
        rpc_report_period(RPC_REPORT_MONTHLY, "2026-12", 420, &from, &to, "month", NULL), SBX_OK);
    assert_int_equal(from, INT64_C(1796058000000));
    assert_int_equal(to, INT64_C(1798736400000));
    assert_int_equal(
        rpc_report_period(RPC_REPORT_MONTHLY, "2024-02", 420, &from, &to, "month", NULL), SBX_OK);
    assert_int_equal(from, INT64_C(1706720400000));
    assert_int_equal(to, INT64_C(1709226000000));
    assert_int_equal(to - from, INT64_C(29) * 86400000);
    for (size_t i = 0; i < sizeof(bad_days) / sizeof(bad_days[0]); i++)
        assert_int_equal(
            rpc_report_period(RPC_REPORT_DAILY, bad_days[i], 420, &from, &to, "date", NULL),
            SBX_EINVAL);
    for (size_t i = 0; i < sizeof(bad_months) / sizeof(bad_months[0]); i++)
        assert_int_equal(
            rpc_report_period(RPC_REPORT_MONTHLY, bad_months[i], 420, &from, &to, "month", NULL),
            SBX_EINVAL);
}

static void
expect_field(const char *in, const char *want)
{
    struct buf b;

    buf_init(&b, 1024);
    assert_int_equal(rpc_report_csv_field(&b, in), SBX_OK);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    buf_release(&b);
}

/* CSV quoting, a table of a small report, and the report hash (canonical JSON). */
static void
test_report_csv_and_hash(void **state)
{
    const char *want_head = "# report\nkind,date,month,from,to,complete,first_height,"
                            "last_height\ndaily,\"x,y\",,,,true,,\n";
    json_t *r;
    char hex[65], hex2[65];
    struct buf b;

    (void)state;
    expect_field("plain", "plain");
    expect_field("", "");
    expect_field("a,b", "\"a,b\"");
    expect_field("say \"hi\"", "\"say \"\"hi\"\"\"");
    expect_field("two\nlines", "\"two\nlines\"");
    expect_field("cr\r", "\"cr\r\"");

    r = json_pack("{s:s, s:s, s:b, s:n}", "kind", "daily", "date", "x,y", "complete", 1,
                  "first_height");
    assert_non_null(r);
    buf_init(&b, 1 << 16);
    assert_int_equal(rpc_report_csv(r, &b), SBX_OK);
    assert_true(b.len > strlen(want_head));
    assert_memory_equal(b.data, want_head, strlen(want_head));
    buf_release(&b);
    json_decref(r);

    r = json_pack("{s:i, s:s}", "b", 1, "a", "x");
    assert_non_null(r);
    assert_int_equal(rpc_report_hash(r, hex), SBX_OK);
    assert_string_equal(hex, "cdab067e9f3beb32d1252cfd63e492592fecbf591b0d08cadb24bb17f3864246");
    json_object_set_new(r, "report_hash", json_string(hex));
    assert_int_equal(rpc_report_hash(r, hex2), SBX_OK);
    assert_string_equal(hex, hex2); /* the hash leaves itself out */
    json_decref(r);
}

/* Role names come from the RPC_ROLES table both ways; a set of roles is not one role. */
static void
test_events_parse(void **state)
{
    uint64_t next = 7, n = 9;
    unsigned t = 0;

    (void)state;
    assert_int_equal(rpc_events_parse_id("0", &next, &n), SBX_OK);
    assert_true(next == 1 && n == 9); /* a ledger id leaves the node alert count alone */
    assert_int_equal(rpc_events_parse_id("-1", &next, &n), SBX_OK);
    assert_true(next == 0);
    assert_int_equal(rpc_events_parse_id("1048576:3", &next, &n), SBX_OK);
    assert_true(next == 1048577 && n == 3);
    assert_int_equal(rpc_events_parse_id("-1:0", &next, &n), SBX_OK);
    assert_true(next == 0 && n == 0);
    assert_int_equal(rpc_events_parse_id("18446744073709551614", &next, &n), SBX_OK);
    assert_true(next == UINT64_MAX);
    /* one more has no id after it; a u64 overflow; junk */
    const char *bad[] = {"18446744073709551615",
                         "18446744073709551616",
                         "",
                         "x",
                         "1:",
                         ":1",
                         "1:2:3",
                         "+1",
                         " 1",
                         "1 ",
                         "-2",
                         "1:-1",
                         "0x10"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(rpc_events_parse_id(bad[i], &next, &n), SBX_EINVAL);

    assert_int_equal(rpc_events_parse_topics("block", &t), SBX_OK);
    assert_int_equal(t, 1u);
    assert_int_equal(rpc_events_parse_topics("node_alert,block,tx", &t), SBX_OK);
    assert_int_equal(t, (1u << 6) | 1u | 2u);
    assert_int_equal(rpc_events_parse_topics("", &t), SBX_EINVAL);
    assert_int_equal(rpc_events_parse_topics("blocks", &t), SBX_EINVAL);
    assert_int_equal(rpc_events_parse_topics("block,", &t), SBX_OK); /* a trailing comma */
    assert_int_equal(rpc_events_parse_topics(",", &t), SBX_EINVAL);
}

static void
test_auth_role_names(void **state)
{
    static const int roles[] = {RPC_ROLE_OPERATOR, RPC_ROLE_SUPERVISOR, RPC_ROLE_ADMIN};

    (void)state;
    for (size_t i = 0; i < SBX_ARRAY_LEN(roles); i++)
        assert_int_equal(rpc_auth_role_parse(rpc_auth_role_name(roles[i])), roles[i]);
    assert_string_equal(rpc_auth_role_name(RPC_ROLE_SUPERVISOR), "supervisor");
    assert_null(rpc_auth_role_name(0));
    assert_null(rpc_auth_role_name(RPC_ROLE_OPERATOR | RPC_ROLE_ADMIN));
    assert_int_equal(rpc_auth_role_parse("Admin"), 0);
    assert_int_equal(rpc_auth_role_parse(""), 0);
}

/* The dashboard serves its own files and nothing else under its path (the page, the script, the
 * style and the icon, with and without the slash after /dashboard). */
static void
test_dashboard_match(void **state)
{
    (void)state;
    assert_int_equal(rpc_dashboard_match("/dashboard"), 1);
    assert_int_equal(rpc_dashboard_match("/dashboard/"), 1);
    assert_int_equal(rpc_dashboard_match("/dashboard/app.js"), 1);
    assert_int_equal(rpc_dashboard_match("/dashboard/style.css"), 1);
    assert_int_equal(rpc_dashboard_match("/dashboard/icon.svg"), 1);
    assert_int_equal(rpc_dashboard_match("/dashboard/index.html"), 0);
    assert_int_equal(rpc_dashboard_match("/dashboard/../auth.c"), 0);
    assert_int_equal(rpc_dashboard_match("/dashboardx"), 0);
    assert_int_equal(rpc_dashboard_match("/"), 0);
    assert_int_equal(rpc_dashboard_match(""), 0);
    assert_int_equal(rpc_dashboard_match(NULL), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_role_names),
        cmocka_unit_test(test_request_parse),
        cmocka_unit_test(test_request_parse_like_jansson),
        cmocka_unit_test(test_request_check),
        cmocka_unit_test(test_dashboard_match),
        cmocka_unit_test(test_events_parse),
        cmocka_unit_test(test_auth_parse_line),
        cmocka_unit_test(test_auth_parse_line_malformed),
        cmocka_unit_test(test_auth_new_names_line),
        cmocka_unit_test(test_auth_hmac_vector),
        cmocka_unit_test(test_auth_check),
        cmocka_unit_test(test_auth_cookie),
        cmocka_unit_test(test_error_codes),
        cmocka_unit_test(test_internal_error_is_generic),
        cmocka_unit_test(test_parse_amount),
        cmocka_unit_test(test_parse_hex_id_int),
        cmocka_unit_test(test_build_trade),
        cmocka_unit_test(test_build_accounts_and_transfers),
        cmocka_unit_test(test_build_directive),
        cmocka_unit_test(test_call_checks_before_handler),
        cmocka_unit_test(test_roles_table),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_client_conf),
        cmocka_unit_test(test_report_period),
        cmocka_unit_test(test_report_csv_and_hash),
        cmocka_unit_test(test_submit_done),
        cmocka_unit_test(test_gate_caps),
        cmocka_unit_test(test_gate_failed_logins),
        cmocka_unit_test(test_http_head_end),
        cmocka_unit_test(test_http_head_parse),
    };

    log_set_stderr(0); /* internal errors are logged on purpose here */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
