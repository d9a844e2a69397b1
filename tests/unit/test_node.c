/* node/ unit tests: the sbxd configuration (defaults, command line over file, the [devnet]
 * section, unknown options, bad values at and just past their limits, -conf, rpcauth lists). */
#include "tests/unit/test_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "node/config.h"
#include "tests/unit/test_node_proposals.h"
#include "util/err.h"

#define MAX_ARGS 80

/* A valid rpcauth line (HASH is 64 hex characters). */
#define AUTH(name, role)                                                                           \
    name ":0123456789abcdef0123456789abcdef$"                                                      \
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:" role

struct fixture {
    char *home;        /* $HOME for the test: no real ~/.sbx/sbx.conf can leak in */
    char datadir[512]; /* <home>/dd, with an sbx.conf when a test writes one */
    char dd_arg[600];  /* "-datadir=<datadir>" */
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    f->home = test_tmpdir();
    if (f->home == NULL)
        return -1;
    snprintf(f->datadir, sizeof(f->datadir), "%s/dd", f->home);
    snprintf(f->dd_arg, sizeof(f->dd_arg), "-datadir=%s", f->datadir);
    if (mkdir(f->datadir, 0700) != 0)
        return -1;
    if (setenv("HOME", f->home, 1) != 0)
        return -1;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    test_rmtree(f->home);
    free(f->home);
    free(f);
    return 0;
}

static void
write_file(const char *dir, const char *name, const char *text)
{
    char path[700];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

/* Load a configuration from the arguments (after "sbxd"), NULL-terminated. */
static int
load(struct sbxd_config *c, struct sbx_err *err, ...)
{
    char *argv[MAX_ARGS];
    int argc = 0;
    va_list ap;
    char *a;

    argv[argc++] = "sbxd";
    va_start(ap, err);
    for (a = va_arg(ap, char *); a != NULL && argc < MAX_ARGS; a = va_arg(ap, char *))
        argv[argc++] = a;
    va_end(ap);
    return sbxd_config_load(c, argc, argv, err);
}

static void
assert_msg_has(const struct sbx_err *err, const char *part)
{
    if (strstr(err->msg, part) == NULL)
        fail_msg("error message '%s' lacks '%s'", err->msg, part);
}

static void
test_defaults(void **state)
{
    struct fixture *f = *state;
    struct sbxd_config c;
    struct sbx_err err;
    char want[600];

    /* No option at all: ~/.sbx, which holds no sbx.conf. */
    assert_int_equal(load(&c, &err, NULL), SBX_OK);
    snprintf(want, sizeof(want), "%s/.sbx", f->home);
    assert_string_equal(c.datadir, want);
    assert_ptr_equal(c.node.datadir, c.datadir);
    assert_string_equal(c.conf, "");
    assert_int_equal(c.devnet, 0);
    assert_int_equal(c.node.devnet, 0);
    assert_int_equal(c.daemon_help, 0);
    assert_int_equal(c.printtoconsole, 1);
    assert_string_equal(c.rpcbind, "127.0.0.1");
    assert_int_equal(c.rpcport, 8645);
    assert_int_equal(c.nrpcauth, 0);
    assert_int_equal(c.rpcmaxbody, 1048576);
    assert_int_equal(c.rpcmaxbatch, 1000);
    assert_int_equal(c.rpcmaxconns, 512);
    assert_int_equal(c.node.blockmaxtxs, 10000);
    assert_int_equal(c.node.blockmaxms, 50);
    assert_int_equal(c.node.queue_max, 100000);
    assert_int_equal(c.node.checkblocks, 6);
    assert_int_equal(c.node.reindex, 0);
    assert_int_equal(c.port, 8646);
    assert_int_equal(c.listen, 1);
    assert_int_equal(c.nconnect, 0);
    assert_int_equal(c.peerlimits.handshake_timeout_ms, 10000);
    assert_int_equal(c.peerlimits.max_inbound, 64);
    assert_int_equal(c.peerlimits.max_handshaking, 16);
    assert_int_equal(c.peerlimits.addr_links, 16);
    assert_int_equal(c.peerlimits.addr_handshakes, 4);
    sbxd_config_release(&c);

    /* -devnet moves the datadir and the ports. */
    assert_int_equal(load(&c, &err, "-devnet", NULL), SBX_OK);
    snprintf(want, sizeof(want), "%s/.sbx/devnet", f->home);
    assert_string_equal(c.datadir, want);
    assert_int_equal(c.devnet, 1);
    assert_int_equal(c.node.devnet, 1);
    assert_int_equal(c.rpcport, 18645);
    assert_int_equal(c.port, 18646);
    sbxd_config_release(&c);
}

/* -rpctls and its files; -rpcallowip ranges, collected and capped. */
static void
test_rpctls_options(void **state)
{
    struct sbxd_config c;
    struct sbx_err err;
    char *argv[SBXD_MAX_ALLOWIP + 3];
    char ranges[SBXD_MAX_ALLOWIP + 1][32];
    int argc = 0;

    (void)state;
    assert_int_equal(load(&c, &err, NULL), SBX_OK);
    assert_int_equal(c.rpctls, 0);
    assert_int_equal(c.nrpcallowip, 0);
    sbxd_config_release(&c);
    assert_int_equal(load(&c, &err, "-rpctls", "-rpctlscert=/a.crt", "-rpctlskey=/a.key",
                          "-rpcallowip=10.0.0.0/8", "-rpcallowip=::1", NULL),
                     SBX_OK);
    assert_int_equal(c.rpctls, 1);
    assert_string_equal(c.rpctlscert, "/a.crt");
    assert_int_equal(c.nrpcallowip, 2);
    assert_int_equal(c.rpcallowip[0].bits, 8);
    assert_int_equal(c.rpcallowip[1].bits, 128);
    sbxd_config_release(&c);
    assert_int_equal(load(&c, &err, "-rpctls", "-rpctlscert=/a.crt", NULL), SBX_EINVAL);
    assert_msg_has(&err, "rpctlskey");
    assert_int_equal(load(&c, &err, "-rpctlscert=/a.crt", "-rpctlskey=/a.key", NULL), SBX_EINVAL);
    assert_msg_has(&err, "rpctls=1");
    assert_int_equal(load(&c, &err, "-rpcallowip=10.0.0.1/8", NULL), SBX_EINVAL);
    assert_msg_has(&err, "-rpcallowip");
    /* exactly at the cap, then one over */
    argv[argc++] = "sbxd";
    for (int i = 0; i <= SBXD_MAX_ALLOWIP; i++) {
        snprintf(ranges[i], sizeof(ranges[i]), "-rpcallowip=10.0.%d.0/24", i);
        argv[argc++] = ranges[i];
    }
    assert_int_equal(sbxd_config_load(&c, argc - 1, argv, &err), SBX_OK);
    assert_int_equal(c.nrpcallowip, SBXD_MAX_ALLOWIP);
    sbxd_config_release(&c);
    assert_int_equal(sbxd_config_load(&c, argc, argv, &err), SBX_EINVAL);
    assert_msg_has(&err, "at most");
}

static void
test_option_spellings(void **state)
{
    struct fixture *f = *state;
    struct sbxd_config c;
    struct sbx_err err;

    assert_int_equal(load(&c, &err, f->dd_arg, "--rpcport=7000", "-reindex", "-printtoconsole=0",
                          "-debug=rpc,p2p", "-workers=0", "-checkblocks=0", NULL),
                     SBX_OK);
    assert_string_equal(c.datadir, f->datadir);
    assert_int_equal(c.rpcport, 7000);
    assert_int_equal(c.node.reindex, 1);
    assert_int_equal(c.printtoconsole, 0);
    assert_string_equal(c.debug, "rpc,p2p");
    assert_int_equal(c.node.workers, 0);
    assert_int_equal(c.node.checkblocks, 0);
    sbxd_config_release(&c);

    /* -debug alone means every category; a later value replaces an earlier one. */
    assert_int_equal(load(&c, &err, f->dd_arg, "-debug", NULL), SBX_OK);
    assert_string_equal(c.debug, "all");
    sbxd_config_release(&c);
    assert_int_equal(load(&c, &err, f->dd_arg, "-rpcport=1", "-rpcport=2", NULL), SBX_OK);
    assert_int_equal(c.rpcport, 2);
    sbxd_config_release(&c);

    /* -help wins, even next to an unknown option. */
    assert_int_equal(load(&c, &err, "-bogus", "-help", NULL), SBX_OK);
    assert_int_equal(c.daemon_help, 1);
    sbxd_config_release(&c);
    assert_int_equal(load(&c, &err, "-h", NULL), SBX_OK);
    assert_int_equal(c.daemon_help, 1);
    sbxd_config_release(&c);
    assert_non_null(strstr(sbxd_config_help(), "-rpcauth"));
    assert_non_null(strstr(sbxd_config_help(), "-genesis=FILE"));
    assert_non_null(strstr(sbxd_config_help(), "-observer=HEX"));
}

/* The help text and the man pages come from the option table: every option has a help text
 * and a group, -help lists each one, the last one too (the help's buffer is big enough), and
 * -pid is an option of the file as well as of the command line. */
static void
test_option_docs(void **state)
{
    struct sbxd_config_doc d;
    const char *help = sbxd_config_help();
    char want[96];
    size_t n = 0;
    int pid = 0;

    (void)state;
    for (; sbxd_config_doc(n, &d); n++) {
        assert_non_null(d.name);
        assert_non_null(d.help);
        assert_true(strlen(d.help) > 10);
        assert_null(strchr(d.help, '\n'));
        assert_non_null(d.group);
        snprintf(want, sizeof(want), "  -%s%s%s", d.name, d.arg ? "=" : "", d.arg ? d.arg : "");
        assert_non_null(strstr(help, want));
        if (strcmp(d.name, "pid") == 0) {
            pid = 1;
            assert_false(d.cmdline_only);
        }
        if (strcmp(d.name, "conf") == 0)
            assert_true(d.cmdline_only);
    }
    assert_true(n > 20);
    assert_true(pid);
    assert_int_equal(sbxd_config_doc(n, &d), 0);
    assert_null(d.name);
    /* every line of the help fits in 92 columns */
    for (const char *l = help; *l != '\0';) {
        size_t len = strcspn(l, "\n");

        assert_true(len <= 92);
        l += len + (l[len] == '\n');
    }
}

/* -observer and -devnetregulator: 64 hex characters each, collected in order, capped. */
static void
test_key_options(void **state)
{
    static const char k1[] = "1111111111111111111111111111111111111111111111111111111111111111";
    static const char k2[] = "abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdef0123";
    struct sbxd_config c;
    struct sbx_err err;
    char a1[100], a2[100], bad[100];

    snprintf(a1, sizeof(a1), "-observer=%s", k1);
    snprintf(a2, sizeof(a2), "-observer=%s", k2);
    assert_int_equal(load(&c, &err, a1, a2, "-genesis=/x/g.hex", NULL), SBX_OK);
    assert_int_equal(c.nobservers, 2);
    assert_int_equal(c.observers[0][0], 0x11);
    assert_int_equal(c.observers[1][0], 0xab);
    assert_int_equal(c.observers[1][31], 0x23);
    assert_string_equal(c.node.genesis_path, "/x/g.hex");
    sbxd_config_release(&c);

    /* one character short, one too many, not hex */
    snprintf(bad, sizeof(bad), "-observer=%.63s", k1);
    assert_int_equal(load(&c, &err, bad, NULL), SBX_EINVAL);
    assert_msg_has(&err, "-observer");
    snprintf(bad, sizeof(bad), "-devnetregulator=%s1", k1);
    assert_int_equal(load(&c, &err, bad, NULL), SBX_EINVAL);
    assert_msg_has(&err, "-devnetregulator");
    snprintf(bad, sizeof(bad), "-observer=%.63sg", k1);
    assert_int_equal(load(&c, &err, bad, NULL), SBX_EINVAL);

    /* at most 16 devnet regulators */
    {
        char *argv[20];
        int argc = 0;

        argv[argc++] = "sbxd";
        snprintf(a1, sizeof(a1), "-devnetregulator=%s", k1);
        for (int i = 0; i < 17; i++)
            argv[argc++] = a1;
        assert_int_equal(sbxd_config_load(&c, argc - 1, argv, &err), SBX_OK);
        assert_int_equal(c.ndevnet_regulators, 16);
        sbxd_config_release(&c);
        assert_int_equal(sbxd_config_load(&c, argc, argv, &err), SBX_EINVAL);
        assert_msg_has(&err, "at most 16");
    }
}

static void
test_cmdline_over_file(void **state)
{
    struct fixture *f = *state;
    struct sbxd_config c;
    struct sbx_err err;
    char conf[600];

    write_file(f->datadir, "sbx.conf",
               "# comment\n"
               "rpcport = 9000\n"
               "blockmaxtxs=500\n"
               "rpcbind = 0.0.0.0 ; inline comment\n"
               "printtoconsole = 0\n");
    assert_int_equal(load(&c, &err, f->dd_arg, "-rpcport=9001", NULL), SBX_OK);
    snprintf(conf, sizeof(conf), "%s/sbx.conf", f->datadir);
    assert_string_equal(c.conf, conf);
    assert_int_equal(c.rpcport, 9001);         /* command line wins */
    assert_int_equal(c.node.blockmaxtxs, 500); /* file over default */
    assert_string_equal(c.rpcbind, "0.0.0.0");
    assert_int_equal(c.printtoconsole, 0);
    sbxd_config_release(&c);

    /* The command line wins even when it gives the default value. */
    assert_int_equal(load(&c, &err, f->dd_arg, "-blockmaxtxs=10000", NULL), SBX_OK);
    assert_int_equal(c.node.blockmaxtxs, 10000);
    sbxd_config_release(&c);
}

static void
test_devnet_section(void **state)
{
    struct fixture *f = *state;
    struct sbxd_config c;
    struct sbx_err err;

    write_file(f->datadir, "sbx.conf",
               "rpcport = 9000\n"
               "blockmaxms = 20\n"
               "[devnet]\n"
               "rpcport = 19000\n"
               "blockmaxms = 5\n");
    /* Without -devnet the section is ignored. */
    assert_int_equal(load(&c, &err, f->dd_arg, NULL), SBX_OK);
    assert_int_equal(c.rpcport, 9000);
    assert_int_equal(c.node.blockmaxms, 20);
    assert_int_equal(c.port, 8646);
    sbxd_config_release(&c);
    /* With -devnet it wins over the top level, and the command line over it. */
    assert_int_equal(load(&c, &err, f->dd_arg, "-devnet", NULL), SBX_OK);
    assert_int_equal(c.rpcport, 19000);
    assert_int_equal(c.node.blockmaxms, 5);
    assert_int_equal(c.port, 18646);
    sbxd_config_release(&c);
    assert_int_equal(load(&c, &err, f->dd_arg, "-devnet", "-blockmaxms=7", NULL), SBX_OK);
    assert_int_equal(c.node.blockmaxms, 7);
    sbxd_config_release(&c);
    /* -devnet=0 on the command line wins over devnet = 1 in the file. */
    write_file(f->datadir, "sbx.conf", "devnet = 1\n[devnet]\nrpcport = 19000\n");
    assert_int_equal(load(&c, &err, f->dd_arg, NULL), SBX_OK);
    assert_int_equal(c.devnet, 1);
    assert_int_equal(c.rpcport, 19000);
    assert_string_equal(c.datadir, f->datadir);
    sbxd_config_release(&c);
    assert_int_equal(load(&c, &err, f->dd_arg, "-devnet=0", NULL), SBX_OK);
    assert_int_equal(c.devnet, 0);
    assert_int_equal(c.rpcport, 8645);
    sbxd_config_release(&c);
    /* devnet inside [devnet] means nothing: refused. */
    write_file(f->datadir, "sbx.conf", "[devnet]\ndevnet = 1\n");
    assert_int_equal(load(&c, &err, f->dd_arg, NULL), SBX_EINVAL);
    assert_msg_has(&err, "sbx.conf:2: devnet");
    /* The section's names are checked even when it does not apply. */
    write_file(f->datadir, "sbx.conf", "[devnet]\nrpcprot = 1\n");
    assert_int_equal(load(&c, &err, f->dd_arg, NULL), SBX_EINVAL);
    assert_msg_has(&err, "sbx.conf:2: rpcprot: unknown option");
}

static void
test_unknown_option(void **state)
{
    struct fixture *f = *state;
    struct sbxd_config c;
    struct sbx_err err;

    assert_int_equal(load(&c, &err, f->dd_arg, "-rpcprot=1", NULL), SBX_EINVAL);
    assert_string_equal(err.msg, "-rpcprot: unknown option");
    assert_int_equal(load(&c, &err, f->dd_arg, "rpcport=1", NULL), SBX_EINVAL);
    assert_msg_has(&err, "unexpected argument 'rpcport=1'");
    assert_int_equal(load(&c, &err, f->dd_arg, "-", NULL), SBX_EINVAL);
    assert_int_equal(load(&c, &err, f->dd_arg, "-=1", NULL), SBX_EINVAL);

    write_file(f->datadir, "sbx.conf", "rpcport = 9000\nrpcprot = 9001\n");
    assert_int_equal(load(&c, &err, f->dd_arg, NULL), SBX_EINVAL);
    assert_msg_has(&err, "sbx.conf:2: rpcprot: unknown option");
    write_file(f->datadir, "sbx.conf", "[main]\nrpcport = 9000\n");
    assert_int_equal(load(&c, &err, f->dd_arg, NULL), SBX_EINVAL);
    assert_msg_has(&err, "unknown section [main]");
    /* Syntax errors name their line. */
    write_file(f->datadir, "sbx.conf", "rpcport = 9000\n\njust words\n");
    assert_int_equal(load(&c, &err, f->dd_arg, NULL), SBX_EINVAL);
    assert_msg_has(&err, "sbx.conf:3: syntax error");
    /* -conf only on the command line; datadir not in the datadir's own file. */
    write_file(f->datadir, "sbx.conf", "conf = /etc/other.conf\n");
    assert_int_equal(load(&c, &err, f->dd_arg, NULL), SBX_EINVAL);
    assert_msg_has(&err, "conf: only on the command line");
    write_file(f->datadir, "sbx.conf", "datadir = /elsewhere\n");
    assert_int_equal(load(&c, &err, f->dd_arg, NULL), SBX_EINVAL);
    assert_msg_has(&err, "sbx.conf:1: datadir");
}

static void
test_bad_values(void **state)
{
    struct fixture *f = *state;
    struct sbxd_config c;
    struct sbx_err err;
    static const struct {
        const char *arg;
        int rc;
    } cases[] = {
        {"-rpcport=abc", SBX_EINVAL},
        {"-rpcport=65535", SBX_OK},
        {"-rpcport=65536", SBX_EINVAL},
        {"-rpcport=0", SBX_OK},
        {"-rpcport=-1", SBX_EINVAL},
        {"-rpcport=", SBX_EINVAL},
        {"-rpcport", SBX_EINVAL},
        {"-rpcport= 80", SBX_EINVAL},
        {"-rpcport=+80", SBX_EINVAL},
        {"-rpcport=80x", SBX_EINVAL},
        {"-blockmaxtxs=0", SBX_EINVAL},
        {"-blockmaxtxs=1", SBX_OK},
        {"-blockmaxtxs=100000", SBX_OK},
        {"-blockmaxtxs=100001", SBX_EINVAL},
        {"-blockmaxtxs=99999999999999999999", SBX_EINVAL},
        {"-blockmaxtxs=-9223372036854775808", SBX_EINVAL},
        {"-blockmaxms=0", SBX_EINVAL},
        {"-blockmaxms=10000", SBX_OK},
        {"-blockmaxms=10001", SBX_EINVAL},
        {"-rpcmaxbody=1023", SBX_EINVAL},
        {"-rpcmaxbody=1024", SBX_OK},
        {"-rpcmaxbatch=0", SBX_EINVAL},
        {"-workers=-1", SBX_EINVAL},
        {"-devnet=2", SBX_EINVAL},
        {"-devnet=yes", SBX_EINVAL},
        {"-reindex=1", SBX_OK},
        {"-debug=rpc,nosuch", SBX_EINVAL},
        {"-debug=none", SBX_OK},
        {"-rpcbind=", SBX_EINVAL},
        {"-connect=", SBX_EINVAL},
        {"-connect=10.0.0.2:8646", SBX_OK},
        {"-peerhandshaketimeout=99", SBX_EINVAL},
        {"-peerhandshaketimeout=100", SBX_OK},
        {"-peerhandshaketimeout=600000", SBX_OK},
        {"-peerhandshaketimeout=600001", SBX_EINVAL},
        {"-peermaxinbound=0", SBX_EINVAL},
        {"-peermaxhandshakes=0", SBX_EINVAL},
        {"-peeraddrlinks=0", SBX_EINVAL},
        {"-peeraddrhandshakes=0", SBX_EINVAL},
        {"-peeraddrhandshakes=1", SBX_OK},
        {"-peeraddrhandshakes=65536", SBX_OK},
        {"-peeraddrhandshakes=65537", SBX_EINVAL},
    };

    for (size_t i = 0; i < SBX_ARRAY_LEN(cases); i++) {
        int rc = load(&c, &err, f->dd_arg, cases[i].arg, NULL);

        if (rc != cases[i].rc)
            fail_msg("%s: got %d, want %d (%s)", cases[i].arg, rc, cases[i].rc, err.msg);
        if (rc == SBX_OK)
            sbxd_config_release(&c);
    }
    assert_int_equal(load(&c, &err, f->dd_arg, "-rpcport=abc", NULL), SBX_EINVAL);
    assert_string_equal(err.msg, "-rpcport: not a port number: 'abc'");
    assert_int_equal(load(&c, &err, f->dd_arg, "-blockmaxtxs=100001", NULL), SBX_EINVAL);
    assert_string_equal(err.msg, "-blockmaxtxs: out of range 1..100000: 100001");

    /* In the file, the message names the file and line. */
    write_file(f->datadir, "sbx.conf", "\nblockmaxms = fast\n");
    assert_int_equal(load(&c, &err, f->dd_arg, NULL), SBX_EINVAL);
    assert_msg_has(&err, "sbx.conf:2: blockmaxms: not an integer: 'fast'");
    /* A bad value in [devnet] counts only with -devnet. */
    write_file(f->datadir, "sbx.conf", "[devnet]\nblockmaxms = 0\n");
    assert_int_equal(load(&c, &err, f->dd_arg, NULL), SBX_OK);
    sbxd_config_release(&c);
    assert_int_equal(load(&c, &err, f->dd_arg, "-devnet", NULL), SBX_EINVAL);
    assert_msg_has(&err, "sbx.conf:2: blockmaxms: out of range");
}

static void
test_conf_file(void **state)
{
    struct fixture *f = *state;
    struct sbxd_config c;
    struct sbx_err err;
    char arg[700], other[600], path[700], text[700];
    char line[400];

    /* An explicit -conf that is missing is an error; a missing default is not. */
    snprintf(arg, sizeof(arg), "-conf=%s/missing.conf", f->home);
    assert_int_equal(load(&c, &err, f->dd_arg, arg, NULL), SBX_EINVAL);
    assert_msg_has(&err, "-conf: cannot open");
    assert_int_equal(load(&c, &err, f->dd_arg, NULL), SBX_OK);
    assert_string_equal(c.conf, "");
    sbxd_config_release(&c);

    /* An explicit file may set the datadir; -datadir on the command line wins over it. */
    snprintf(other, sizeof(other), "%s/other", f->home);
    snprintf(text, sizeof(text), "datadir = %s\nrpcport = 9100\n", other);
    write_file(f->home, "explicit.conf", text);
    snprintf(arg, sizeof(arg), "-conf=%s/explicit.conf", f->home);
    assert_int_equal(load(&c, &err, arg, NULL), SBX_OK);
    assert_string_equal(c.datadir, other);
    snprintf(path, sizeof(path), "%s/explicit.conf", f->home);
    assert_string_equal(c.conf, path);
    assert_int_equal(c.rpcport, 9100);
    sbxd_config_release(&c);
    assert_int_equal(load(&c, &err, arg, f->dd_arg, NULL), SBX_OK);
    assert_string_equal(c.datadir, f->datadir);
    sbxd_config_release(&c);

    /* The default file of the default datadir is read. */
    snprintf(path, sizeof(path), "%s/.sbx", f->home);
    assert_int_equal(mkdir(path, 0700), 0);
    write_file(path, "sbx.conf", "rpcport = 9200\n");
    assert_int_equal(load(&c, &err, NULL), SBX_OK);
    assert_int_equal(c.rpcport, 9200);
    sbxd_config_release(&c);
    write_file(path, "sbx.conf", "");

    /* A line longer than inih's buffer is refused, not split. */
    memset(line, 'x', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\0';
    memcpy(line, "bind = ", 7);
    line[sizeof(line) - 2] = '\n';
    write_file(f->datadir, "sbx.conf", line);
    assert_int_equal(load(&c, &err, f->dd_arg, NULL), SBX_EINVAL);
    assert_msg_has(&err, "sbx.conf:1: line longer than");
}

static void
test_rpcauth_list(void **state)
{
    struct fixture *f = *state;
    struct sbxd_config c;
    struct sbx_err err;
    char *argv[SBXD_MAX_RPCAUTH + 3];
    char args[SBXD_MAX_RPCAUTH + 1][160];
    char text[512];
    int argc = 0;

    /* The file's lines first, then the command line's. */
    snprintf(text, sizeof(text), "rpcauth = %s\n[devnet]\nrpcauth = %s\n",
             AUTH("filer", "supervisor"), AUTH("devnetter", "operator"));
    write_file(f->datadir, "sbx.conf", text);
    assert_int_equal(load(&c, &err, f->dd_arg, "-rpcauth=" AUTH("alice", "operator"),
                          "-rpcauth=" AUTH("bob", "admin"), NULL),
                     SBX_OK);
    assert_int_equal(c.nrpcauth, 3);
    assert_string_equal(c.rpcauth[0], AUTH("filer", "supervisor"));
    assert_string_equal(c.rpcauth[1], AUTH("alice", "operator"));
    assert_string_equal(c.rpcauth[2], AUTH("bob", "admin"));
    sbxd_config_release(&c);
    assert_int_equal(c.nrpcauth, 0);
    assert_int_equal(load(&c, &err, f->dd_arg, "-devnet", NULL), SBX_OK);
    assert_int_equal(c.nrpcauth, 2);
    assert_string_equal(c.rpcauth[1], AUTH("devnetter", "operator"));
    sbxd_config_release(&c);
    write_file(f->datadir, "sbx.conf", "");

    /* Malformed lines; the message does not quote the line back. */
    assert_int_equal(load(&c, &err, f->dd_arg, "-rpcauth=" AUTH("eve", "root"), NULL), SBX_EINVAL);
    assert_msg_has(&err, "-rpcauth: not NAME:SALT$HASH:ROLE");
    assert_null(strstr(err.msg, "eve"));
    assert_int_equal(load(&c, &err, f->dd_arg, "-rpcauth=" AUTH("__cookie__", "admin"), NULL),
                     SBX_EINVAL);
    assert_int_equal(load(&c, &err, f->dd_arg, "-rpcauth=alice:salt$abc:admin", NULL), SBX_EINVAL);
    assert_int_equal(load(&c, &err, f->dd_arg,
                          "-rpcauth=alice:$"
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:admin",
                          NULL),
                     SBX_EINVAL);
    assert_int_equal(load(&c, &err, f->dd_arg, "-rpcauth", NULL), SBX_EINVAL);

    /* Exactly SBXD_MAX_RPCAUTH lines, then one more. */
    argv[argc++] = "sbxd";
    argv[argc++] = f->dd_arg;
    for (int i = 0; i <= SBXD_MAX_RPCAUTH; i++) {
        snprintf(args[i], sizeof(args[i]), "-rpcauth=" AUTH("u%d", "operator"), i);
        argv[argc++] = args[i];
    }
    assert_int_equal(sbxd_config_load(&c, argc - 1, argv, &err), SBX_OK);
    assert_int_equal(c.nrpcauth, SBXD_MAX_RPCAUTH);
    sbxd_config_release(&c);
    assert_int_equal(sbxd_config_load(&c, argc, argv, &err), SBX_EINVAL);
    assert_msg_has(&err, "-rpcauth: more than 64 values");
}

/* test_node_decode.c */
void test_frame_decode(void **state);
void test_hello_getblocks_decode(void **state);

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proposals_distinct_signers),
        cmocka_unit_test(test_proposals_regulators_only),
        cmocka_unit_test(test_proposals_expiry),
        cmocka_unit_test(test_proposals_cap),
        cmocka_unit_test(test_frame_decode),
        cmocka_unit_test(test_hello_getblocks_decode),
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rpctls_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_option_spellings, setup, teardown),
        cmocka_unit_test(test_option_docs),
        cmocka_unit_test_setup_teardown(test_key_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cmdline_over_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devnet_section, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_option, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conf_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rpcauth_list, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
