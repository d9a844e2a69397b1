/* libFuzzer target: sbxd's options, through its one public entry (sbxd_config_load, node/config.c)
 * as sbxd calls it. The input is the command line and the config file: up to its first NUL
 * byte, one argument a line (argv[0] is "sbxd"), the rest the text of the file, which is written
 * to a scratch file and named with -conf (an argument that names -conf itself is dropped, so
 * that no input makes it read another file). Anything must be accepted or refused with a code
 * and a message that names the option, never crash, leak or read out of bounds; what is
 * accepted has a datadir and names the file it read. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/config.h"
#include "tests/fuzz/fuzz_common.h"
#include "util/log.h"

#define MAX_ARGS 64

/* 1 for an argument that names -conf (any number of dashes, with or without a value). */
static int
names_conf(const char *a)
{
    while (*a == '-')
        a++;
    return strncmp(a, "conf", 4) == 0 && (a[4] == '\0' || a[4] == '=');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char prog[] = "sbxd";
    char *argv[MAX_ARGS + 2], conf[700], confarg[720];
    struct sbxd_config c;
    struct sbx_err err;
    uint8_t *copy = fuzz_copy_input(data, size);
    uint8_t *nul;
    size_t cmdlen;
    int argc = 0;
    char *line, *save = NULL;

    if (copy == NULL)
        return 0;
    log_set_stderr(0);
    nul = memchr(copy, '\0', size);
    cmdlen = nul != NULL ? (size_t)(nul - copy) : size;
    fuzz_write_scratch(conf, sizeof(conf), "fuzz.conf", nul != NULL ? nul + 1 : copy + size,
                       nul != NULL ? size - cmdlen - 1 : 0);
    if (nul == NULL) {
        /* the whole input is the command line: make it a C string */
        uint8_t *grown = realloc(copy, size + 1);

        if (grown == NULL) {
            free(copy);
            return 0;
        }
        copy = grown;
        copy[size] = '\0';
    }
    argv[argc++] = prog;
    for (line = strtok_r((char *)copy, "\n", &save); line != NULL && argc < MAX_ARGS;
         line = strtok_r(NULL, "\n", &save)) {
        if (!names_conf(line))
            argv[argc++] = line;
    }
    snprintf(confarg, sizeof(confarg), "-conf=%s", conf);
    argv[argc++] = confarg;
    argv[argc] = NULL;
    sbx_err_clear(&err);
    if (fuzz_check_refusal(sbxd_config_load(&c, argc, argv, &err), &err) == SBX_OK &&
        !c.daemon_help && !c.daemon_version && (c.datadir[0] == '\0' || strcmp(c.conf, conf) != 0))
        abort(); /* accepted without a datadir, or read another file */
    sbxd_config_release(&c);
    free(copy);
    return 0;
}
