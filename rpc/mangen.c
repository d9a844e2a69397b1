/* mangen: the build's generator of the manual pages sbxd(1), sbx-cli(1) and sbx.conf(5).
 *
 *   mangen TEMPLATE >PAGE
 *
 * copies a troff template (doc/man/NAME.in: the prose, written by hand) to standard output and
 * replaces its marker lines with tables read from the code itself, so that a page cannot drift
 * from the program it describes:
 *
 *   @SBXD_OPTIONS@   every sbxd option, by group, from the option table (node/config.c)
 *   @CONF_OPTIONS@   the options a config file may set (the same table, less the command-line
 *                    ones)
 *   @RPC_METHODS@    every JSON-RPC method with the roles that may call it and its parameters,
 *                    from the method table (rpc/methods.c)
 *
 * and @VERSION@ anywhere in a line with the package version. Built and run by `make` (never
 * installed); single-threaded. Exit status 0, or 1 with a message on standard error (an
 * unreadable template, an option without help text).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <stdio.h>
#include <string.h>

#include "node/config.h"
#include "rpc/auth.h"
#include "rpc/methods.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

#define LINE_MAX_ 4096

/* `s` as troff text: backslashes escaped, dashes made minus signs (options are typed), a
 * leading dot or quote kept from being read as a request. */
static void
put_text(FILE *out, const char *s)
{
    if (*s == '.' || *s == '\'')
        fputs("\\&", out);
    for (; *s != '\0'; s++) {
        if (*s == '\\')
            fputs("\\e", out);
        else if (*s == '-')
            fputs("\\-", out);
        else
            fputc(*s, out);
    }
}

/* The option tables. `conf`: as config-file lines (name = VALUE), without the command-line
 * options; else as -name=VALUE. 1 if an option has no help text (a table row left without it). */
static int
put_options(FILE *out, int conf)
{
    struct sbxd_config_doc d;
    const char *group = NULL;

    for (size_t i = 0; sbxd_config_doc(i, &d); i++) {
        if (d.help == NULL || d.help[0] == '\0') {
            fprintf(stderr, "mangen: option -%s has no help text in node/config.c\n", d.name);
            return 1;
        }
        if (conf && d.cmdline_only)
            continue;
        if (group == NULL || strcmp(group, d.group) != 0) {
            group = d.group;
            fputs(".SS ", out);
            put_text(out, group);
            fputc('\n', out);
        }
        fputs(".TP\n", out);
        if (conf) {
            fputs("\\fB", out);
            put_text(out, d.name);
            fputs("\\fR = \\fI", out);
            put_text(out, d.arg != NULL ? d.arg : "0|1");
            fputs("\\fR\n", out);
        } else {
            fputs("\\fB\\-", out);
            put_text(out, d.name);
            fputs("\\fR", out);
            if (d.arg != NULL) {
                fputs("=\\fI", out);
                put_text(out, d.arg);
                fputs("\\fR", out);
            }
            fputc('\n', out);
        }
        put_text(out, d.help);
        fputc('\n', out);
        if (conf && d.not_in_section)
            fputs(".br\nOnly at the top of the file, not in the [devnet] section.\n", out);
    }
    return 0;
}

/* The roles of a method's role bits, "operator, supervisor, admin". */
static void
put_roles(FILE *out, unsigned roles)
{
    static const int all[] = {RPC_ROLE_OPERATOR, RPC_ROLE_SUPERVISOR, RPC_ROLE_ADMIN};
    int first = 1;

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if ((roles & (unsigned)all[i]) == 0)
            continue;
        fprintf(out, "%s%s", first ? "" : ", ", rpc_auth_role_name(all[i]));
        first = 0;
    }
}

/* Every method: its name, who may call it, its parameters (optional ones in brackets). */
static void
put_methods(FILE *out)
{
    size_t n;
    const struct rpc_method *t = rpc_methods_table(&n);

    for (size_t i = 0; i < n; i++) {
        const char *p = t[i].params;

        fputs(".TP\n.B ", out);
        put_text(out, t[i].name);
        fputs("\nRoles: ", out);
        put_roles(out, t[i].roles);
        fputs(".\n", out);
        if (*p == '\0') {
            fputs("No parameters.\n", out);
            continue;
        }
        fputs("Parameters:", out);
        while (*p != '\0') {
            size_t len;

            p += strspn(p, " ");
            len = strcspn(p, " ");
            if (len == 0)
                break;
            if (p[len - 1] == '?')
                fprintf(out, " [\\fI%.*s\\fR]", (int)(len - 1), p);
            else
                fprintf(out, " \\fI%.*s\\fR", (int)len, p);
            p += len;
        }
        fputs(".\n", out);
    }
}

/* One template line: a marker replaced by its table, else the line with @VERSION@ replaced. */
static int
put_line(FILE *out, const char *line)
{
    const char *v;

    if (strcmp(line, "@SBXD_OPTIONS@\n") == 0)
        return put_options(out, 0);
    if (strcmp(line, "@CONF_OPTIONS@\n") == 0)
        return put_options(out, 1);
    if (strcmp(line, "@RPC_METHODS@\n") == 0) {
        put_methods(out);
        return 0;
    }
    while ((v = strstr(line, "@VERSION@")) != NULL) {
        fwrite(line, 1, (size_t)(v - line), out);
        fputs(PACKAGE_VERSION, out);
        line = v + strlen("@VERSION@");
    }
    fputs(line, out);
    return 0;
}

int
main(int argc, char **argv)
{
    char line[LINE_MAX_];
    FILE *in;
    int rc = 0;

    if (argc != 2) {
        fputs("usage: mangen TEMPLATE >PAGE\n", stderr);
        return 1;
    }
    in = fopen(argv[1], "r");
    if (in == NULL) {
        perror(argv[1]);
        return 1;
    }
    while (rc == 0 && fgets(line, sizeof(line), in) != NULL)
        rc = put_line(stdout, line);
    if (ferror(in) || fclose(in) != 0 || fflush(stdout) != 0 || ferror(stdout))
        rc = 1;
    return rc;
}
