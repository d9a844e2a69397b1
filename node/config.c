/* sbxd configuration: defaults, the INI config file (inih) and the command line.
 *
 * Every option is one row of `options` below: its name, the kind of value it takes and where
 * that value goes in struct sbxd_config. The same row serves the command line (-name=value,
 * --name=value, or -name for a boolean) and the file (name = value), so the two cannot drift
 * apart. Values are checked as they are applied, and every error names the option and, for
 * the file, the file and line.
 *
 * Order of precedence, lowest first: built-in defaults (some depend on -devnet), the file's
 * top-level entries, its [devnet] entries (only with -devnet), the command line. -devnet,
 * -datadir and -conf are looked at first because they decide which file is read; -conf is
 * command-line only, and datadir may be set in the file only when the file was named with
 * -conf (a file inside the datadir cannot move the datadir).
 */
#include "node/config.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/array.h"
#include "util/datadir.h"
#include "util/hex.h"
#include "util/num.h"
#include "util/log.h"

#define RPCPORT_MAIN 8645
#define RPCPORT_DEVNET 18645
#define P2PPORT_MAIN 8646
#define P2PPORT_DEVNET 18646

/* A config file holds at most this many entries (a cap on memory, not a practical limit). */
#define CONF_MAX_ENTRIES 4096
/* Values are quoted in error messages up to this many characters. */
#define QUOTE_MAX 64

enum opt_kind {
    K_HELP,    /* -help, -version: the int at off becomes 1 */
    K_CLIENT,  /* read by sbx-cli and sbx-bench from the same file (rpc/client.c); ignored */
    K_BOOL,    /* int: 0 or 1; "-name" alone means 1 */
    K_INT,     /* int in [min, max] */
    K_PORT,    /* int in [0, 65535] */
    K_SIZE,    /* size_t in [min, max] */
    K_STR,     /* char[size], not empty */
    K_DEBUG,   /* char[size], categories checked with log_enable(); "-debug" alone means all */
    K_RPCAUTH, /* appended to rpcauth[] */
    K_CONNECT, /* appended to connect[] */
    K_KEY,     /* 64 hex, appended to the key array at off (count at off2) */
    K_CIDR,    /* ADDR[/BITS], appended to the range array at off (count at size), max of them */
};

enum {
    F_CMDLINE = 1 << 0, /* only on the command line */
    F_NOSECT = 1 << 1,  /* not in the [devnet] section */
};

/* Headings of the option list, in the order -help and the man pages show them. */
enum opt_group {
    G_GENERAL,
    G_RPC,
    G_BLOCKS,
    G_PEER,
    G_FOLLOWER,
    G_COUNT,
};

static const char *const group_names[G_COUNT] = {
    [G_GENERAL] = "General",
    [G_RPC] = "JSON-RPC",
    [G_BLOCKS] = "Blocks and the pipeline",
    [G_PEER] = "Peer links (TLS 1.3; see doc/protocol.md)",
    [G_FOLLOWER] = "Regulator and observer nodes",
};

struct opt {
    const char *name;
    enum opt_kind kind;
    int flags;
    size_t off;  /* offset in struct sbxd_config */
    size_t size; /* K_STR, K_DEBUG: size of the char array; K_KEY: offset of the count */
    long long min, max;
    enum opt_group group;
    const char *arg;  /* the value's placeholder in the help ("DIR"), NULL for a flag */
    const char *help; /* one paragraph: -help, sbxd(1) and sbx.conf(5) show it */
};

#define AT(field) offsetof(struct sbxd_config, field)
#define STR(field) AT(field), sizeof(((struct sbxd_config *)0)->field)

static const struct opt options[] = {
    {"help", K_HELP, F_CMDLINE, AT(daemon_help), 0, 0, 0, G_GENERAL, NULL,
     "print the list of options and exit"},
    {"version", K_HELP, F_CMDLINE, AT(daemon_version), 0, 0, 0, G_GENERAL, NULL,
     "print the version and exit"},
    {"datadir", K_STR, F_NOSECT, STR(datadir), 0, 0, G_GENERAL, "DIR",
     "data directory (default ~/.sbx, or ~/.sbx/devnet with -devnet); created with mode 0700 "
     "if missing"},
    {"conf", K_STR, F_CMDLINE, STR(conf), 0, 0, G_GENERAL, "FILE",
     "config file (default <datadir>/sbx.conf if it exists); command line only"},
    {"devnet", K_BOOL, F_NOSECT, AT(devnet), 0, 0, 1, G_GENERAL, NULL,
     "run a local development network with embedded defaults; the file's [devnet] section "
     "applies only then"},
    {"debug", K_DEBUG, 0, STR(debug), 0, 0, G_GENERAL, "LIST",
     "debug log categories: node,rpc,p2p,compliance,store,bench, all (or -debug alone), none "
     "(default none)"},
    {"printtoconsole", K_BOOL, 0, AT(printtoconsole), 0, 0, 1, G_GENERAL, "0|1",
     "log to stderr as well as <datadir>/debug.log (default 1)"},
    {"pid", K_STR, 0, STR(pid), 0, 0, G_GENERAL, "FILE",
     "write the daemon's process id to FILE while it runs, removed at stop (default "
     "<datadir>/sbxd.pid; a relative path is taken in the datadir)"},
    {"init", K_STR, F_CMDLINE, STR(init), 0, 0, G_GENERAL, "LICENCE.json",
     "make a new chain in an empty datadir from a licence file (see "
     "contrib/licence.example.json), keys/operator.key if missing, and <datadir>/genesis.hex "
     "for the regulators; print the network id and exit"},
    {"rpcbind", K_STR, 0, STR(rpcbind), 0, 0, G_RPC, "ADDR",
     "address to listen on (default 127.0.0.1)"},
    {"rpcport", K_PORT, 0, AT(rpcport), 0, 0, 65535, G_RPC, "PORT",
     "port (default 8645, devnet 18645; 0 = any free port)"},
    {"rpcauth", K_RPCAUTH, 0, 0, 0, 0, 0, G_RPC, "NAME:SALT$HASH:ROLE",
     "a user (repeatable, up to 64; sbx-rpcauth makes the line); ROLE is operator, supervisor "
     "or admin"},
    {"rpcmaxbody", K_SIZE, 0, AT(rpcmaxbody), 0, 1024, 1073741824, G_RPC, "BYTES",
     "largest request body (default 1048576)"},
    {"rpcmaxbatch", K_INT, 0, AT(rpcmaxbatch), 0, 1, 100000, G_RPC, "N",
     "most requests in one batch (default 1000)"},
    {"rpcmaxconns", K_INT, 0, AT(rpcmaxconns), 0, 1, 65536, G_RPC, "N",
     "most open connections (default 512)"},
    {"rpcmaxconnsperip", K_INT, 0, AT(rpcmaxconnsperip), 0, 1, 65536, G_RPC, "N",
     "most open connections from one client address (default 256)"},
    {"rpcmaxunauthperip", K_INT, 0, AT(rpcmaxunauthperip), 0, 1, 65536, G_RPC, "N",
     "most connections from one address not yet authenticated; over it, its oldest such "
     "connection open for over a second is closed (default 32)"},
    {"rpcreserve", K_INT, 0, AT(rpcreserve), 0, 0, 65535, G_RPC, "N",
     "connection slots that only authenticated clients may hold (default a quarter of "
     "rpcmaxconns)"},
    {"rpcheadertimeout", K_INT, 0, AT(rpcheadertimeout), 0, 100, 3600000, G_RPC, "MS",
     "a connection's first request must send its whole header within MS of the connection "
     "(default 10000)"},
    {"rpcbodytimeout", K_INT, 0, AT(rpcbodytimeout), 0, 100, 3600000, G_RPC, "MS",
     "... and then its whole body within MS (default 60000)"},
    {"rpcthreads", K_INT, 0, AT(rpcthreads), 0, 0, 64, G_RPC, "N",
     "event loops serving RPC, 1..64 (default 0 = one per core)"},
    {"rpctls", K_BOOL, 0, AT(rpctls), 0, 0, 1, G_RPC, "0|1",
     "serve HTTPS instead of HTTP (default 0); the SHA-256 fingerprint of the certificate is "
     "logged at every start, for sbx-cli -rpcfingerprint"},
    {"rpctlscert", K_STR, 0, STR(rpctlscert), 0, 0, G_RPC, "FILE",
     "its certificate (PEM; default <datadir>/rpc.crt, made with a new key <datadir>/rpc.key on "
     "first start); give both -rpctlscert and -rpctlskey or neither"},
    {"rpctlskey", K_STR, 0, STR(rpctlskey), 0, 0, G_RPC, "FILE",
     "the certificate's private key (PEM; default <datadir>/rpc.key)"},
    {"rpcallowip", K_CIDR, 0, AT(rpcallowip), AT(nrpcallowip), 0, SBXD_MAX_ALLOWIP, G_RPC,
     "ADDR[/BITS]",
     "serve only clients in this range (repeatable, up to 64; loopback is not implied); others "
     "get HTTP 403 (default: every address)"},
    {"eventsmaxqueue", K_SIZE, 0, AT(eventsmaxqueue), 0, 1024, 1073741824, G_RPC, "BYTES",
     "most bytes queued on one /events stream (default 4194304)"},
    {"rpcconnect", K_CLIENT, 0, 0, 0, 0, 0, G_RPC, "HOST",
     "for sbx-cli and sbx-bench, which read this file too: the node's address; sbxd ignores it"},
    {"rpcuser", K_CLIENT, 0, 0, 0, 0, 0, G_RPC, "USER",
     "for sbx-cli and sbx-bench: the rpcauth user to call as; sbxd ignores it"},
    {"rpcpasswordfile", K_CLIENT, 0, 0, 0, 0, 0, G_RPC, "FILE",
     "for sbx-cli and sbx-bench: a file holding that user's password; sbxd ignores it"},
    {"blockmaxtxs", K_INT, 0, AT(node.blockmaxtxs), 0, 1, 100000, G_BLOCKS, "N",
     "close a block at N transactions (default 10000, 1..100000)"},
    {"blockmaxms", K_INT, 0, AT(node.blockmaxms), 0, 1, 10000, G_BLOCKS, "MS",
     "... or MS milliseconds after its first one (default 50, 1..10000)"},
    {"queuemax", K_INT, 0, AT(node.queue_max), 0, 1, 10000000, G_BLOCKS, "N",
     "submissions waiting at most before `overloaded` (default 100000)"},
    {"workers", K_INT, 0, AT(node.workers), 0, 0, 256, G_BLOCKS, "N",
     "signature threads (default 0 = one per core)"},
    {"checkblocks", K_INT, 0, AT(node.checkblocks), 0, 0, 1000000000, G_BLOCKS, "N",
     "blocks re-verified at start-up (default 6)"},
    {"alertnotify", K_STR, 0, STR(alertnotify), 0, 0, G_BLOCKS, "CMD",
     "run CMD (through /bin/sh) for every alert and node alert; %s in it becomes a one-line "
     "summary in single quotes"},
    {"alertnotifyrate", K_INT, 0, AT(node.alertnotify_rate), 0, 1, 10000, G_BLOCKS, "N",
     "start at most N such commands a second (default 10)"},
    {"reindex", K_BOOL, 0, AT(node.reindex), 0, 0, 1, G_BLOCKS, NULL,
     "rebuild all state from the stored blocks"},
    {"port", K_PORT, 0, AT(port), 0, 0, 65535, G_PEER, "PORT",
     "peer port (default 8646, devnet 18646; 0 = any free port)"},
    {"bind", K_STR, 0, STR(bind), 0, 0, G_PEER, "ADDR", "peer address to listen on (default all)"},
    {"connect", K_CONNECT, 0, 0, 0, 0, 0, G_PEER, "HOST:PORT",
     "a peer to connect to and follow (repeatable)"},
    {"listen", K_BOOL, 0, AT(listen), 0, 0, 1, G_PEER, "0|1",
     "accept peer connections (default 1)"},
    {"peerhandshaketimeout", K_INT, 0, AT(peerlimits.handshake_timeout_ms), 0, 100, 600000, G_PEER,
     "MS",
     "a peer link must finish its TLS and AUTH handshake within MS milliseconds of its accept "
     "(a deadline: bytes that trickle in do not extend it; default 10000)"},
    {"peermaxinbound", K_INT, 0, AT(peerlimits.max_inbound), 0, 1, 65536, G_PEER, "N",
     "most links that peers open (default 64)"},
    {"peermaxhandshakes", K_INT, 0, AT(peerlimits.max_handshaking), 0, 1, 65536, G_PEER, "N",
     "most of them still in the handshake; when full, the oldest of those is dropped to make "
     "room (default 16)"},
    {"peeraddrlinks", K_INT, 0, AT(peerlimits.addr_links), 0, 1, 65536, G_PEER, "N",
     "most links that one IP address (an IPv6 /64) opens; more are refused (default 16)"},
    {"peeraddrhandshakes", K_INT, 0, AT(peerlimits.addr_handshakes), 0, 1, 65536, G_PEER, "N",
     "most of them still in the handshake; more are refused (default 4)"},
    {"observer", K_KEY, 0, AT(observers), AT(nobservers), 0, SBXD_MAX_KEYS, G_PEER, "HEX",
     "an observer node key this node accepts (repeatable)"},
    {"genesis", K_STR, 0, STR(genesis), 0, 0, G_FOLLOWER, "FILE",
     "first start of a follower: make the chain from the network's genesis block (hex, as "
     "getblock height=0 hex=true gives it)"},
    {"genkey", K_BOOL, F_CMDLINE, AT(genkey), 0, 0, 1, G_FOLLOWER, NULL,
     "make <datadir>/keys/regulator.key if missing, print its public key and exit (the "
     "operator lists it in the genesis block)"},
    {"devnetregulator", K_KEY, 0, AT(devnet_regulators), AT(ndevnet_regulators), 0, 16, G_FOLLOWER,
     "HEX",
     "with -devnet, first start: the devnet genesis lists this regulator key instead of the "
     "embedded one (repeatable)"},
    {"devnetquorum", K_INT, 0, AT(node.devnet_quorum), 0, 1, 16, G_FOLLOWER, "K",
     "with -devnet and -devnetregulator, first start: the devnet genesis's directive_quorum, "
     "the distinct regulator signatures a directive needs (default 1; at most the number of "
     "-devnetregulator keys)"},
};

/* Where a value comes from, for error messages. */
struct where {
    const char *file; /* NULL: the command line */
    int line;
};

/* One `name = value` line of the config file, kept until the command line has been read. */
struct entry {
    const struct opt *opt;
    char *value;
    int line;
    int devnet_section;
};

/* State of one config file read (the inih reader and handler share it). */
struct conf_read {
    FILE *f;
    const char *path;
    int explicit_conf; /* the file was named with -conf */
    int line;          /* lines read so far */
    struct entry *v;
    size_t n, alloc;
    int rc;       /* first error found by the reader or the handler */
    int err_line; /* ... and its line */
    struct sbx_err *err;
};

/* ------------------------------------------------------------------ the help text */

#define HELP_WIDTH 92  /* columns of the -help text */
#define HELP_INDENT 24 /* where an option's description starts */

static const char help_head[] =
    "Usage: sbxd [options]\n"
    "\n"
    "Options are -name=value (or --name=value; a boolean alone, -name, means 1). The config\n"
    "file takes the same names without the dash, one `name = value` a line; the command line\n"
    "wins over it. See sbxd(1), sbx.conf(5) and doc/operations.md.\n";

/* A text being built in a fixed buffer; what does not fit is cut (the buffer is sized for the
 * table with room to spare, and a unit test checks the last option is there). */
struct text {
    char *p;
    size_t len, cap;
};

static void SBX_PRINTF(2, 3) text_add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->len + 1 >= t->cap)
        return;
    va_start(ap, fmt);
    n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len = (size_t)n < t->cap - t->len ? t->len + (size_t)n : t->cap - 1;
}

/* `words` wrapped to HELP_WIDTH, every line after the first indented by HELP_INDENT; `col` is
 * the column the first word starts at. */
static void
text_wrap(struct text *t, const char *words, size_t col)
{
    const char *w = words;
    int first = 1;

    while (*w != '\0') {
        size_t n;

        w += strspn(w, " ");
        n = strcspn(w, " ");
        if (n == 0)
            break;
        if (!first && col + 1 + n > HELP_WIDTH) {
            text_add(t, "\n%*s", HELP_INDENT, "");
            col = HELP_INDENT;
        } else if (!first) {
            text_add(t, " ");
            col++;
        }
        text_add(t, "%.*s", (int)n, w);
        col += n;
        w += n;
        first = 0;
    }
    text_add(t, "\n");
}

/* The options in the order -help shows them: by group, then as in the table. */
static const struct opt *
opt_nth(size_t i)
{
    for (int g = 0; g < G_COUNT; g++) {
        for (size_t k = 0; k < SBX_ARRAY_LEN(options); k++) {
            if (options[k].group == (enum opt_group)g && i-- == 0)
                return &options[k];
        }
    }
    return NULL;
}

const char *
sbxd_config_help(void)
{
    static char buf[16384];
    struct text t = {buf, 0, sizeof(buf)};
    const struct opt *o;
    int group = -1;

    if (buf[0] != '\0')
        return buf;
    text_add(&t, "%s", help_head);
    for (size_t i = 0; (o = opt_nth(i)) != NULL; i++) {
        char head[64];
        int n;

        if ((int)o->group != group) {
            group = (int)o->group;
            text_add(&t, "\n%s:\n", group_names[group]);
        }
        n = snprintf(head, sizeof(head), "  -%s%s%s", o->name, o->arg ? "=" : "",
                     o->arg ? o->arg : "");
        if (n < 0)
            continue;
        if ((size_t)n >= HELP_INDENT - 1) {
            text_add(&t, "%s\n%*s", head, HELP_INDENT, "");
        } else {
            text_add(&t, "%-*s", HELP_INDENT, head);
        }
        text_wrap(&t, o->help ? o->help : "", HELP_INDENT);
    }
    return buf;
}

int
sbxd_config_doc(size_t i, struct sbxd_config_doc *d)
{
    const struct opt *o = opt_nth(i);

    memset(d, 0, sizeof(*d));
    if (o == NULL)
        return 0;
    d->name = o->name;
    d->arg = o->arg;
    d->help = o->help;
    d->group = group_names[o->group];
    d->cmdline_only = (o->flags & F_CMDLINE) != 0;
    d->not_in_section = (o->flags & F_NOSECT) != 0;
    return 1;
}

static int
is_opt(const struct opt *o, const char *name)
{
    return strcmp(o->name, name) == 0;
}

static const struct opt *
opt_find(const char *name, size_t len)
{
    for (size_t i = 0; i < SBX_ARRAY_LEN(options); i++)
        if (strlen(options[i].name) == len && strncmp(options[i].name, name, len) == 0)
            return &options[i];
    return NULL;
}

/* Set `err` to SBX_EINVAL with the option named as its source spells it: "-rpcport: ..." on
 * the command line, "FILE:LINE: rpcport: ..." in the file. */
static int SBX_PRINTF(4, 5)
    opt_fail(struct sbx_err *err, const struct where *w, const char *name, const char *fmt, ...)
{
    char msg[SBX_ERR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (w->file == NULL)
        return sbx_err_set(err, SBX_EINVAL, "-%s: %s", name, msg);
    return sbx_err_set(err, SBX_EINVAL, "%s:%d: %s: %s", w->file, w->line, name, msg);
}

/* 1 if `line` has the shape NAME:SALT$HASH:ROLE (HASH 64 lowercase hex characters, ROLE
 * operator, supervisor or admin, NAME not the cookie's), else 0. rpc/auth checks it again. */
static int
rpcauth_valid(const char *line)
{
    const char *c1 = strchr(line, ':');
    const char *c2 = strrchr(line, ':');
    const char *dollar;
    const char *role;
    size_t hash_len;

    if (c1 == NULL || c1 == line || c2 == c1)
        return 0;
    if ((size_t)(c1 - line) == strlen("__cookie__") && strncmp(line, "__cookie__", 10) == 0)
        return 0;
    dollar = memchr(c1 + 1, '$', (size_t)(c2 - c1 - 1));
    if (dollar == NULL || dollar == c1 + 1)
        return 0;
    hash_len = (size_t)(c2 - dollar - 1);
    if (hash_len != 64 || strspn(dollar + 1, "0123456789abcdef") < 64)
        return 0;
    role = c2 + 1;
    return strcmp(role, "operator") == 0 || strcmp(role, "supervisor") == 0 ||
           strcmp(role, "admin") == 0;
}

/* Append a copy of `value` to a list of at most `max` strings. */
static int
list_add(char **list, size_t *n, size_t max, const char *value, const struct where *w,
         const char *name, struct sbx_err *err)
{
    char *copy;

    if (*n >= max)
        return opt_fail(err, w, name, "more than %zu values", max);
    copy = strdup(value);
    if (copy == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "-%s: out of memory", name);
    list[(*n)++] = copy;
    return SBX_OK;
}

/* Check `value` (NULL: the option was given without '=') and store it in `c`. */
static int
opt_apply(struct sbxd_config *c, const struct opt *o, const char *value, const struct where *w,
          struct sbx_err *err)
{
    char *base = (char *)c;
    long long v = 0;
    struct sbx_err e;

    if (value == NULL) {
        if (o->kind == K_BOOL)
            value = "1";
        else if (o->kind == K_DEBUG)
            value = "all";
        else if (o->kind == K_HELP)
            value = "";
        else
            return opt_fail(err, w, o->name, "needs a value (-%s=...)", o->name);
    }
    switch (o->kind) {
    case K_HELP:
        *(int *)(void *)(base + o->off) = 1;
        return SBX_OK;
    case K_CLIENT:
        return SBX_OK;
    case K_BOOL:
        if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0)
            return opt_fail(err, w, o->name, "not 0 or 1: '%.*s'", QUOTE_MAX, value);
        *(int *)(void *)(base + o->off) = value[0] == '1';
        return SBX_OK;
    case K_PORT:
        if (!num_parse_int(value, o->min, o->max, &v))
            return opt_fail(err, w, o->name, "not a port number: '%.*s'", QUOTE_MAX, value);
        *(int *)(void *)(base + o->off) = (int)v;
        return SBX_OK;
    case K_INT:
    case K_SIZE:
        if (!num_parse_int(value, LLONG_MIN, LLONG_MAX, &v))
            return opt_fail(err, w, o->name, "not an integer: '%.*s'", QUOTE_MAX, value);
        if (v < o->min || v > o->max)
            return opt_fail(err, w, o->name, "out of range %lld..%lld: %lld", o->min, o->max, v);
        if (o->kind == K_INT)
            *(int *)(void *)(base + o->off) = (int)v;
        else
            *(size_t *)(void *)(base + o->off) = (size_t)v;
        return SBX_OK;
    case K_STR:
    case K_DEBUG:
        if (o->kind == K_STR && value[0] == '\0')
            return opt_fail(err, w, o->name, "empty value");
        if (strlen(value) >= o->size)
            return opt_fail(err, w, o->name, "longer than %zu characters", o->size - 1);
        if (o->kind == K_DEBUG && log_enable(value, &e) != SBX_OK)
            return opt_fail(err, w, o->name,
                            "unknown category in '%.*s' (known: node, rpc, p2p, compliance, "
                            "store, bench, all, none)",
                            QUOTE_MAX, value);
        memcpy(base + o->off, value, strlen(value) + 1);
        return SBX_OK;
    case K_RPCAUTH:
        /* The line is not quoted back: it is a credential, if a hashed one. */
        if (!rpcauth_valid(value))
            return opt_fail(err, w, o->name,
                            "not NAME:SALT$HASH:ROLE (HASH 64 hex, ROLE operator, "
                            "supervisor or admin; see contrib/rpcauth)");
        return list_add(c->rpcauth, &c->nrpcauth, SBXD_MAX_RPCAUTH, value, w, o->name, err);
    case K_CONNECT:
        if (value[0] == '\0' || strlen(value) > 255)
            return opt_fail(err, w, o->name, "not HOST[:PORT]: '%.*s'", QUOTE_MAX, value);
        return list_add(c->connect, &c->nconnect, SBXD_MAX_CONNECT, value, w, o->name, err);
    case K_KEY: {
        uint8_t(*keys)[32] = (uint8_t(*)[32])(void *)(base + o->off);
        size_t *n = (size_t *)(void *)(base + o->size);
        uint8_t key[32];

        if (strlen(value) != 64 || hex_decode(key, 32, value, 64) != SBX_OK)
            return opt_fail(err, w, o->name, "not a public key (64 hex characters): '%.*s'",
                            QUOTE_MAX, value);
        if (*n >= (size_t)o->max)
            return opt_fail(err, w, o->name, "at most %lld keys", o->max);
        memcpy(keys[(*n)++], key, 32);
        return SBX_OK;
    }
    case K_CIDR: {
        struct cidr *ranges = (struct cidr *)(void *)(base + o->off);
        size_t *n = (size_t *)(void *)(base + o->size);

        if (!cidr_parse(&ranges[*n < (size_t)o->max ? *n : 0], value))
            return opt_fail(err, w, o->name,
                            "not an address or ADDR/BITS range with zero host bits: '%.*s'",
                            QUOTE_MAX, value);
        if (*n >= (size_t)o->max)
            return opt_fail(err, w, o->name, "at most %lld ranges", o->max);
        (*n)++;
        return SBX_OK;
    }
    }
    SBX_BUG("config: unknown option kind");
}

/* Split one argument into its option and value (NULL if it has no '='). */
static int
arg_split(const char *arg, const struct opt **out, const char **value, struct sbx_err *err)
{
    const char *name = arg;
    const char *eq;
    size_t len;

    *out = NULL;
    *value = NULL;
    if (name[0] != '-')
        return sbx_err_set(err, SBX_EINVAL, "unexpected argument '%.*s' (options are -name=value)",
                           QUOTE_MAX, arg);
    name += name[1] == '-' ? 2 : 1;
    eq = strchr(name, '=');
    len = eq != NULL ? (size_t)(eq - name) : strlen(name);
    if (len == 0)
        return sbx_err_set(err, SBX_EINVAL, "unexpected argument '%.*s'", QUOTE_MAX, arg);
    /* The usual spellings of help, so that `sbxd -h` does what its user means. */
    if ((len == 1 && (name[0] == 'h' || name[0] == '?')) && eq == NULL)
        len = 0;
    *out = len == 0 ? opt_find("help", 4) : opt_find(name, len);
    if (*out == NULL)
        return sbx_err_set(err, SBX_EINVAL, "-%.*s: unknown option", (int)len, name);
    if (eq != NULL)
        *value = eq + 1;
    return SBX_OK;
}

/* Record the first error of a file read. */
static int SBX_PRINTF(3, 4) conf_fail(struct conf_read *r, int code, const char *fmt, ...)
{
    char msg[SBX_ERR_MSG_MAX];
    va_list ap;

    if (r->rc != SBX_OK)
        return 0;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r->rc = sbx_err_set(r->err, code, "%s:%d: %s", r->path, r->line, msg);
    r->err_line = r->line;
    return 0;
}

/* inih reader: fgets that counts lines (so the handler knows its line) and refuses a line
 * longer than inih's buffer instead of letting inih split it in two. */
static char *
conf_reader(char *str, int num, void *stream)
{
    struct conf_read *r = stream;
    size_t len;

    if (fgets(str, num, r->f) == NULL)
        return NULL;
    r->line++;
    len = strlen(str);
    if (len > 0 && str[len - 1] != '\n' && !feof(r->f)) {
        conf_fail(r, SBX_EINVAL, "line longer than %d characters", num - 2);
        return NULL;
    }
    return str;
}

/* inih handler: check the name and section, keep the entry. Values are checked when applied. */
static int
conf_handler(void *user, const char *section, const char *name, const char *value)
{
    struct conf_read *r = user;
    const struct opt *o = opt_find(name, strlen(name));
    int devnet_section = strcmp(section, "devnet") == 0;
    char *copy;

    if (r->rc != SBX_OK)
        return 0;
    if (section[0] != '\0' && !devnet_section)
        return conf_fail(r, SBX_EINVAL, "unknown section [%.*s]", QUOTE_MAX, section);
    if (o == NULL)
        return conf_fail(r, SBX_EINVAL, "%.*s: unknown option", QUOTE_MAX, name);
    if (o->flags & F_CMDLINE)
        return conf_fail(r, SBX_EINVAL, "%s: only on the command line", name);
    if (devnet_section && (o->flags & F_NOSECT))
        return conf_fail(r, SBX_EINVAL, "%s: not in the [devnet] section", name);
    if (is_opt(o, "datadir") && !r->explicit_conf)
        return conf_fail(r, SBX_EINVAL, "datadir: only in a file given with -conf");
    if (r->n >= CONF_MAX_ENTRIES)
        return conf_fail(r, SBX_EINVAL, "more than %d entries", CONF_MAX_ENTRIES);
    if (array_reserve(&r->v, r->n + 1, &r->alloc, sizeof(*r->v), 64) != SBX_OK)
        return conf_fail(r, SBX_ENOMEM, "out of memory");
    copy = strdup(value);
    if (copy == NULL)
        return conf_fail(r, SBX_ENOMEM, "out of memory");
    r->v[r->n].opt = o;
    r->v[r->n].value = copy;
    r->v[r->n].line = r->line;
    r->v[r->n].devnet_section = devnet_section;
    r->n++;
    return 1;
}

static void
conf_read_release(struct conf_read *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].value);
    free(r->v);
    r->v = NULL;
    r->n = 0;
    if (r->f != NULL)
        fclose(r->f);
    r->f = NULL;
}

/* Read the config file `c->conf` into `r` (entries not yet applied). A missing default file
 * is no error: c->conf becomes "". */
static int
conf_read(struct sbxd_config *c, int explicit_conf, struct conf_read *r, struct sbx_err *err)
{
    int line;

    r->path = c->conf;
    r->explicit_conf = explicit_conf;
    r->err = err;
    r->f = fopen(c->conf, "r");
    if (r->f == NULL) {
        if (explicit_conf)
            return sbx_err_set(err, SBX_EINVAL, "-conf: cannot open '%s': %s", c->conf,
                               strerror(errno));
        if (errno == ENOENT) {
            c->conf[0] = '\0';
            return SBX_OK;
        }
        return sbx_err_set(err, SBX_EIO, "%s: cannot open: %s", c->conf, strerror(errno));
    }
    line = ini_parse_stream(conf_reader, r, conf_handler, r);
    if (line > 0 && (r->rc == SBX_OK || line < r->err_line))
        return sbx_err_set(err, SBX_EINVAL, "%s:%d: syntax error (expected name = value)", c->conf,
                           line);
    if (r->rc != SBX_OK)
        return r->rc;
    if (line < 0)
        return sbx_err_set(err, SBX_ENOMEM, "%s: out of memory", c->conf);
    if (ferror(r->f))
        return sbx_err_set(err, SBX_EIO, "%s: read error", c->conf);
    return SBX_OK;
}

static void
config_defaults(struct sbxd_config *c)
{
    memset(c, 0, sizeof(*c));
    c->printtoconsole = 1;
    memcpy(c->rpcbind, "127.0.0.1", sizeof("127.0.0.1"));
    c->rpcport = RPCPORT_MAIN;
    c->rpcmaxbody = 1048576;
    c->rpcmaxbatch = 1000;
    c->rpcmaxconns = 512;
    c->rpcmaxconnsperip = 256;
    c->rpcmaxunauthperip = 32;
    c->rpcreserve = -1; /* a quarter of rpcmaxconns */
    c->rpcheadertimeout = 10000;
    c->rpcbodytimeout = 60000;
    c->eventsmaxqueue = 4194304;
    c->port = P2PPORT_MAIN;
    c->listen = 1;
    c->peerlimits.handshake_timeout_ms = P2P_DEFAULT_HANDSHAKE_TIMEOUT_MS;
    c->peerlimits.max_inbound = P2P_DEFAULT_MAX_INBOUND;
    c->peerlimits.max_handshaking = P2P_DEFAULT_MAX_HANDSHAKING;
    c->peerlimits.addr_links = P2P_DEFAULT_ADDR_LINKS;
    c->peerlimits.addr_handshakes = P2P_DEFAULT_ADDR_HANDSHAKES;
    node_config_defaults(&c->node);
}

/* What is checked once every source is applied (options that go together), the log
 * categories in force, and the node's view of the settings. */
static int
config_finish(struct sbxd_config *c, struct sbx_err *err)
{
    if (c->datadir[0] == '\0')
        return sbx_err_set(err, SBX_EINVAL, "-datadir: empty value");
    /* rpctls's files: both or neither, and only with rpctls (sbxd makes its own pair) */
    if ((c->rpctlscert[0] != '\0') != (c->rpctlskey[0] != '\0'))
        return sbx_err_set(err, SBX_EINVAL, "-rpctlscert and -rpctlskey go together");
    if (c->rpctlscert[0] != '\0' && !c->rpctls)
        return sbx_err_set(err, SBX_EINVAL, "-rpctlscert and -rpctlskey need -rpctls=1");
    c->node.datadir = c->datadir;
    c->node.devnet = c->devnet;
    c->node.devnet_regulators = (const uint8_t(*)[32])c->devnet_regulators;
    c->node.ndevnet_regulators = c->ndevnet_regulators;
    c->node.genesis_path = c->genesis[0] ? c->genesis : NULL;
    c->node.alertnotify = c->alertnotify[0] ? c->alertnotify : NULL;
    /* The last -debug given is the one in force (each was checked as it was applied). */
    return log_enable(c->debug, err);
}

int
sbxd_config_load(struct sbxd_config *c, int argc, char **argv, struct sbx_err *err)
{
    struct conf_read r = {0};
    struct where w = {NULL, 0};
    const struct opt *o;
    const char *value;
    int devnet_set = 0, datadir_set = 0, conf_set = 0, n;
    int rc;

    config_defaults(c);
    sbx_err_clear(err);

    /* -help wins over everything else, even over a bad option beside it. */
    for (int i = 1; i < argc; i++) {
        if (arg_split(argv[i], &o, &value, NULL) == SBX_OK && o->kind == K_HELP) {
            *(int *)(void *)((char *)c + o->off) = 1;
            return SBX_OK;
        }
    }
    /* First pass: check every argument's name; apply what decides which file is read. */
    for (int i = 1; i < argc; i++) {
        rc = arg_split(argv[i], &o, &value, err);
        if (rc != SBX_OK)
            goto out;
        if (!is_opt(o, "devnet") && !is_opt(o, "datadir") && !is_opt(o, "conf"))
            continue;
        rc = opt_apply(c, o, value, &w, err);
        if (rc != SBX_OK)
            goto out;
        devnet_set |= is_opt(o, "devnet");
        datadir_set |= is_opt(o, "datadir");
        conf_set |= is_opt(o, "conf");
    }
    if (!datadir_set) {
        rc = datadir_default(c->datadir, sizeof(c->datadir), c->devnet, err);
        if (rc != SBX_OK)
            goto out;
    }
    if (!conf_set) {
        n = snprintf(c->conf, sizeof(c->conf), "%s/sbx.conf", c->datadir);
        if (n < 0 || (size_t)n >= sizeof(c->conf)) {
            rc = sbx_err_set(err, SBX_EINVAL, "-datadir: path too long");
            goto out;
        }
    }
    rc = conf_read(c, conf_set, &r, err);
    if (rc != SBX_OK)
        goto out;

    /* -devnet on the command line wins; else the file's top level may set it. */
    w.file = c->conf;
    if (!devnet_set) {
        for (size_t i = 0; i < r.n; i++) {
            if (!is_opt(r.v[i].opt, "devnet"))
                continue;
            w.line = r.v[i].line;
            rc = opt_apply(c, r.v[i].opt, r.v[i].value, &w, err);
            if (rc != SBX_OK)
                goto out;
        }
    }
    if (c->devnet) {
        c->rpcport = RPCPORT_DEVNET;
        c->port = P2PPORT_DEVNET;
        if (!datadir_set) {
            rc = datadir_default(c->datadir, sizeof(c->datadir), 1, err);
            if (rc != SBX_OK)
                goto out;
        }
    }
    /* The file: top level, then [devnet] if it applies (devnet itself is settled above). */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < r.n; i++) {
            if (r.v[i].devnet_section != pass || (pass == 1 && !c->devnet) ||
                is_opt(r.v[i].opt, "devnet"))
                continue;
            w.line = r.v[i].line;
            rc = opt_apply(c, r.v[i].opt, r.v[i].value, &w, err);
            if (rc != SBX_OK)
                goto out;
        }
    }
    /* The command line, last so that it wins. */
    w.file = NULL;
    w.line = 0;
    for (int i = 1; i < argc; i++) {
        rc = arg_split(argv[i], &o, &value, err);
        if (rc != SBX_OK)
            goto out;
        rc = opt_apply(c, o, value, &w, err);
        if (rc != SBX_OK)
            goto out;
    }
    rc = config_finish(c, err);
out:
    conf_read_release(&r);
    if (rc != SBX_OK)
        sbxd_config_release(c);
    return rc;
}

void
sbxd_config_release(struct sbxd_config *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nrpcauth; i++)
        free(c->rpcauth[i]);
    c->nrpcauth = 0;
    for (size_t i = 0; i < c->nconnect; i++)
        free(c->connect[i]);
    c->nconnect = 0;
}
