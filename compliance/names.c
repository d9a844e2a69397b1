/* The text of compliance/'s enums: rule ids and alert kinds (rules.h) and licence statuses
 * (engine.h). Each comes from its X-macro table, so a number and its name are written once;
 * every table gets one name function (number -> text, NULL if unknown) and one parse function
 * (text -> number, -1 if unknown). The tables are short: a linear scan is fine.
 */
#include "compliance/engine.h"

#include <string.h>

struct name_entry {
    int n;
    const char *s;
};

#define NAME_ENTRY(e, n, s) {n, s},
static const struct name_entry rule_names[] = {CMP_RULES(NAME_ENTRY)};
static const struct name_entry alert_names[] = {CMP_ALERTS(NAME_ENTRY)};
static const struct name_entry licence_status_names[] = {CMP_LICENCE_STATUSES(NAME_ENTRY)};
#undef NAME_ENTRY

static const char *
name_of(const struct name_entry *t, size_t len, int n)
{
    for (size_t i = 0; i < len; i++)
        if (t[i].n == n)
            return t[i].s;
    return NULL;
}

static int
number_of(const struct name_entry *t, size_t len, const char *s)
{
    for (size_t i = 0; i < len; i++)
        if (strcmp(t[i].s, s) == 0)
            return t[i].n;
    return -1;
}

/* Defines PREFIX_name(int) and PREFIX_parse(const char *) over TABLE. */
#define NAME_FUNCTIONS(prefix, table)                                                              \
    const char *prefix##_name(int n)                                                               \
    {                                                                                              \
        return name_of(table, SBX_ARRAY_LEN(table), n);                                            \
    }                                                                                              \
    int prefix##_parse(const char *s)                                                              \
    {                                                                                              \
        return number_of(table, SBX_ARRAY_LEN(table), s);                                          \
    }

/* cmp_rule_name, cmp_rule_parse */
NAME_FUNCTIONS(cmp_rule, rule_names)
/* cmp_alert_name, cmp_alert_parse */
NAME_FUNCTIONS(cmp_alert, alert_names)
/* cmp_licence_status_name, cmp_licence_status_parse */
NAME_FUNCTIONS(cmp_licence_status, licence_status_names)
