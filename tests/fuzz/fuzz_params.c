/* libFuzzer target: the parameter parsers of JSON-RPC calls, each fed directly (fuzz_rpc reaches
 * them through the handlers, more slowly). The first input byte picks the parser, the second is
 * its argument (decimals, a length cap, a method of the table), the rest is the value: JSON when
 * it parses as JSON (any value), else a JSON string of those bytes. Parsers: rpc/params.c (amount,
 * hex32, id, str, int, bool, symbol, enum, the list parameters, a method's spec), and below them
 * ledger_amount_parse, hex_decode_var, time_parse_rfc3339, time_parse_day, num_parse_int; and
 * what an HTTP client sends besides the body: the Authorization header (only "u:p" may get
 * in), rpcauth lines, /events' Last-Event-ID and ?topics=, dashboard paths. Every
 * refusal must say why; what is accepted prints back to what was read (amounts to the same value,
 * hex, ids and days to the same text). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ledger/amount.h"
#include "ledger/tx.h"
#include "rpc/auth.h"
#include "rpc/dashboard.h"
#include "rpc/events.h"
#include "rpc/methods.h"
#include "rpc/params.h"
#include "tests/fuzz/fuzz_common.h"
#include "util/hex.h"
#include "util/num.h"
#include "util/time.h"

enum parser {
    P_AMOUNT,
    P_HEX32,
    P_ID,
    P_STR,
    P_INT,
    P_BOOL,
    P_SYMBOL,
    P_ENUM,
    P_LIST,
    P_SPEC,
    P_HEXVAR,
    P_TIME,
    P_DAY,
    P_NUM,
    P_AUTH_HEADER,
    P_AUTH_LINE,
    P_EVENT_ID,
    P_TOPICS,
    P_DASHBOARD,
    P_COUNT
};

static void
amount(const json_t *v, uint8_t arg)
{
    unsigned decimals = arg % 19;
    char s[LEDGER_AMOUNT_STR_MAX];
    struct sbx_err err;
    int64_t a, b;

    sbx_err_clear(&err);
    if (fuzz_check_refusal(rpc_params_amount(v, decimals, arg & 0x80, &a, "amount", &err), &err))
        return;
    if (a < 0 || ((arg & 0x80) && a == 0))
        abort();
    ledger_amount_format(s, a, decimals);
    sbx_err_clear(&err);
    if (ledger_amount_parse(s, decimals, &b, "amount", &err) != SBX_OK || a != b)
        abort(); /* what it printed does not read back to the same value */
}

static void
text(const json_t *v, enum parser p, uint8_t arg)
{
    char out[4096];
    uint8_t h[32];
    struct sbx_err err;
    int64_t i;
    int e;

    sbx_err_clear(&err);
    switch (p) {
    case P_HEX32:
        if (fuzz_check_refusal(rpc_params_hex32(v, h, "hex", &err), &err) == SBX_OK) {
            hex_encode(out, h, 32);
            fuzz_check_same((const uint8_t *)out, 64, (const uint8_t *)json_string_value(v),
                            json_string_length(v));
        }
        return;
    case P_ID:
        if (fuzz_check_refusal(rpc_params_id(v, SBX_ID_MAX, out, "id", &err), &err) == SBX_OK)
            fuzz_check_same((const uint8_t *)out, strlen(out),
                            (const uint8_t *)json_string_value(v), json_string_length(v));
        return;
    case P_STR:
        if (fuzz_check_refusal(rpc_params_str(v, arg, arg & 1, arg & 2, out, "str", &err), &err) ==
                SBX_OK &&
            strlen(out) > arg)
            abort();
        return;
    case P_INT:
        if (fuzz_check_refusal(
                rpc_params_int(v, -(int64_t)arg, INT64_MAX >> (arg % 64), &i, "int", &err), &err) ==
                SBX_OK &&
            (i < -(int64_t)arg || i > INT64_MAX >> (arg % 64)))
            abort();
        return;
    case P_BOOL:
        (void)fuzz_check_refusal(rpc_params_bool(v, &e, "bool", &err), &err);
        return;
    case P_SYMBOL:
        (void)fuzz_check_refusal(rpc_params_symbol(v, out, "symbol", &err), &err);
        return;
    case P_ENUM:
        if (fuzz_check_refusal(
                rpc_params_enum(v, ledger_investor_class_parse, "classes", &e, "class", &err),
                &err) == SBX_OK &&
            e < 0)
            abort();
        return;
    default:
        return;
    }
}

static void
list(json_t *v, uint8_t arg)
{
    struct rpc_params_list l;
    const struct rpc_method *t;
    struct sbx_err err;
    size_t n;

    sbx_err_clear(&err);
    if (fuzz_check_refusal(rpc_params_check(v, "from? to? limit? cursor?", "", &err), &err))
        return;
    sbx_err_clear(&err);
    if (fuzz_check_refusal(rpc_params_list(v, &l, &err), &err) == SBX_OK &&
        (l.limit > RPC_LIST_LIMIT_MAX || l.cursor_len > RPC_CURSOR_MAX))
        abort();
    t = rpc_methods_table(&n);
    sbx_err_clear(&err);
    (void)fuzz_check_refusal(rpc_params_check(v, t[arg % n].params, "", &err), &err);
}

/* The parsers of plain text below rpc/params.c. */
static void
plain(enum parser p, const char *s, size_t len)
{
    uint8_t bin[512];
    char day[11];
    long long ll;
    int64_t v;
    size_t n;

    switch (p) {
    case P_HEXVAR:
        if (hex_decode_var(bin, sizeof(bin), &n, s, len) == SBX_OK && 2 * n != len)
            abort();
        return;
    case P_TIME:
        (void)time_parse_rfc3339(s, &v);
        return;
    case P_DAY:
        if (time_parse_day(s, &v) == 0) {
            time_format_day(day, v);
            if (strcmp(day, s) != 0)
                abort(); /* a day that does not print back to its text */
        }
        return;
    case P_NUM:
        if (num_parse_int(s, -1000000, 1000000, &ll) == 1 && (ll < -1000000 || ll > 1000000))
            abort();
        return;
    default:
        return;
    }
}

/* The credentials an Authorization header is checked against (first call): user "u", password
 * "p", role admin, as an rpcauth line (contrib/rpcauth makes such lines). */
static const struct rpc_auth *
auth(void)
{
    static struct rpc_auth *a;
    char line[200], hex[65];
    const char *lines[1] = {line};
    uint8_t h[32];

    if (a != NULL)
        return a;
    if (rpc_auth_hmac("salt", "p", 1, h) != SBX_OK)
        abort();
    hex_encode(hex, h, 32);
    snprintf(line, sizeof(line), "u:salt$%s:admin", hex);
    if (rpc_auth_new(&a, lines, 1, NULL, NULL) != SBX_OK)
        abort();
    return a;
}

/* What an HTTP client sends besides the body: the Authorization header, an rpcauth line (the
 * configuration), the Last-Event-ID header and ?topics= of /events, a dashboard path. */
static void
http(enum parser p, const char *s)
{
    struct rpc_auth_entry e;
    char user[RPC_AUTH_NAME_MAX + 1];
    struct sbx_err err;
    uint64_t next = 0, nalerts = 0;
    unsigned topics;
    int role;

    sbx_err_clear(&err);
    switch (p) {
    case P_AUTH_HEADER:
        role = rpc_auth_check_header(auth(), s, user);
        if (role != 0 && (role != RPC_ROLE_ADMIN || strcmp(user, "u") != 0))
            abort(); /* a header that is not u:p got in */
        return;
    case P_AUTH_LINE:
        if (fuzz_check_refusal(rpc_auth_parse_line(s, &e, &err), &err) == SBX_OK &&
            rpc_auth_role_name(e.role) == NULL)
            abort();
        return;
    case P_EVENT_ID:
        (void)rpc_events_parse_id(s, &next, &nalerts);
        return;
    case P_TOPICS:
        if (rpc_events_parse_topics(s, &topics) == SBX_OK && topics == 0)
            abort(); /* an empty list accepted */
        return;
    default:
        (void)rpc_dashboard_match(s);
        return;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = fuzz_copy_input(data, size);
    enum parser p;
    uint8_t arg;
    char *s;
    json_t *v;

    if (copy == NULL || size < 2) {
        free(copy);
        return 0;
    }
    p = (enum parser)(copy[0] % P_COUNT);
    arg = copy[1];
    s = malloc(size - 1); /* the rest as a C string (plain parsers read up to a NUL) */
    if (s == NULL) {
        free(copy);
        return 0;
    }
    memcpy(s, copy + 2, size - 2);
    s[size - 2] = '\0';
    v = json_loadb(s, size - 2, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    if (v == NULL)
        v = json_stringn(s, size - 2); /* NULL for bytes that are not UTF-8 */
    if (p == P_AMOUNT)
        amount(v, arg);
    else if (p == P_LIST || p == P_SPEC)
        list(v, arg);
    else if (p >= P_AUTH_HEADER)
        http(p, s);
    else if (p >= P_HEXVAR)
        plain(p, s, strlen(s));
    else
        text(v, p, arg);
    json_decref(v);
    free(s);
    free(copy);
    return 0;
}
