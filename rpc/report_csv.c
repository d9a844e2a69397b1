/* getreport format=csv: the report object of rpc_report_build as CSV text (RFC 4180 quoting,
 * LF line ends). Each section is a table: a line "# <name>", a header row, the rows; an empty
 * line separates two tables. The tables and their columns are listed in one place, `tables`
 * below, and in doc/rpc.md. Optimised for a spreadsheet and Python's csv module, not for size.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "rpc/report.h"

#include <stdio.h>
#include <string.h>

/* A table: rows taken from `path` in the report (an object: one row; an array: one row per
 * element), the columns its members. `path` is one or two member names ("trades.by_asset"). */
struct table {
    const char *name;
    const char *path;
    const char *columns[8];
};

static const struct table tables[] = {
    {"report",
     "",
     {"kind", "date", "month", "from", "to", "complete", "first_height", "last_height"}},
    {"summary", "", {"transactions", "report_hash", "directives_more"}},
    {"trades", "trades", {"count", "notional_vnd", "fees_vnd"}},
    {"trades_by_asset", "trades.by_asset", {"asset", "count", "quantity", "notional_vnd"}},
    {"trades_by_investor_class",
     "trades.by_investor_class",
     {"investor_class", "buy_count", "buy_notional_vnd", "sell_count", "sell_notional_vnd"}},
    {"trades_by_kyc_tier",
     "trades.by_kyc_tier",
     {"kyc_tier", "buy_count", "buy_notional_vnd", "sell_count", "sell_notional_vnd"}},
    {"accounts", "accounts", {"opened", "closed"}},
    {"deposits", "deposits", {"asset", "count", "amount", "value_vnd"}},
    {"withdrawals", "withdrawals", {"asset", "count", "amount", "value_vnd"}},
    {"rejections", "rejections", {"count"}},
    {"rejections_by_rule", "rejections.by_rule", {"rule", "count"}},
    {"alerts", "alerts", {"count", "large_value_more"}},
    {"alerts_by_kind", "alerts.by_kind", {"kind", "count"}},
    {"large_value_alerts",
     "alerts.large_value",
     {"id", "kind", "account", "time", "amount_vnd", "txid"}},
    {"directives",
     "directives",
     {"txid", "height", "index", "timestamp", "kind", "verdict", "rule", "reason"}},
    {"travel_rule", "travel_rule", {"count", "value_vnd"}},
    {"licence", "licence", {"licence_id", "status", "valid_to", "param_version", "param_versions"}},
    {"liabilities", "liabilities", {"excluded_account", "client_accounts", "record_height"}},
    {"liabilities_by_asset",
     "liabilities.by_asset",
     {"asset", "amount", "recorded", "reserve", "shortfall"}},
};

int
rpc_report_csv_field(struct buf *out, const char *s)
{
    int rc;

    if (strpbrk(s, ",\"\r\n") == NULL)
        return buf_put(out, s, strlen(s));
    rc = buf_put_u8(out, '"');
    for (const char *p = s; rc == SBX_OK && *p; p++) {
        if (*p == '"')
            rc = buf_put_u8(out, '"');
        if (rc == SBX_OK)
            rc = buf_put_u8(out, (uint8_t)*p);
    }
    return rc ? rc : buf_put_u8(out, '"');
}

/* One value as CSV text: strings as they are, integers in decimal, true/false, null as nothing,
 * an array of values joined by ';'. */
static int
put_value(struct buf *out, const json_t *v)
{
    char tmp[32];
    int rc = SBX_OK;

    if (json_is_string(v))
        return rpc_report_csv_field(out, json_string_value(v));
    if (json_is_integer(v)) {
        snprintf(tmp, sizeof(tmp), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf_put(out, tmp, strlen(tmp));
    }
    if (json_is_boolean(v))
        return rpc_report_csv_field(out, json_is_true(v) ? "true" : "false");
    if (json_is_array(v)) {
        for (size_t i = 0; rc == SBX_OK && i < json_array_size(v); i++) {
            if (i > 0)
                rc = buf_put_u8(out, ';');
            if (rc == SBX_OK)
                rc = put_value(out, json_array_get(v, i));
        }
    }
    return rc;
}

/* The row of `o` for the columns of `t` (a column `o` lacks is left empty). */
static int
put_row(struct buf *out, const struct table *t, const json_t *o, int header)
{
    int rc = SBX_OK;

    for (size_t c = 0; rc == SBX_OK && c < 8 && t->columns[c] != NULL; c++) {
        if (c > 0)
            rc = buf_put_u8(out, ',');
        if (rc == SBX_OK)
            rc = header ? rpc_report_csv_field(out, t->columns[c])
                        : put_value(out, json_object_get(o, t->columns[c]));
    }
    return rc ? rc : buf_put_u8(out, '\n');
}

/* The member at `path` ("" = the report itself, "a" or "a.b"). */
static const json_t *
lookup(const json_t *report, const char *path)
{
    char first[32];
    const char *dot = strchr(path, '.');
    const json_t *v;

    if (path[0] == '\0')
        return report;
    if (dot == NULL)
        return json_object_get(report, path);
    snprintf(first, sizeof(first), "%.*s", (int)(dot - path), path);
    v = json_object_get(report, first);
    return v ? json_object_get(v, dot + 1) : NULL;
}

int
rpc_report_csv(const json_t *report, struct buf *out)
{
    int rc = SBX_OK;

    for (size_t i = 0; rc == SBX_OK && i < sizeof(tables) / sizeof(tables[0]); i++) {
        const struct table *t = &tables[i];
        const json_t *v = lookup(report, t->path);

        if (i > 0)
            rc = buf_put_u8(out, '\n');
        rc = rc ? rc : buf_put(out, "# ", 2);
        rc = rc ? rc : buf_put(out, t->name, strlen(t->name));
        rc = rc ? rc : buf_put_u8(out, '\n');
        rc = rc ? rc : put_row(out, t, NULL, 1);
        if (json_is_array(v)) {
            for (size_t j = 0; rc == SBX_OK && j < json_array_size(v); j++)
                rc = put_row(out, t, json_array_get(v, j), 0);
        } else if (rc == SBX_OK && json_is_object(v)) {
            rc = put_row(out, t, v, 0);
        }
    }
    return rc;
}
