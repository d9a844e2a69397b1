/* How a client program finds a node and authenticates to it (rpc/client.h): the connection
 * options, the node's configuration file, the port file, the cookie and the password.
 *
 * Linked into sbx-cli and sbx-bench (not into sbxd): it needs only util/, inih and OpenSSL's
 * base64. Everything runs on the program's one thread, before and between its requests.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "rpc/client.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "util/datadir.h"
#include "util/num.h"

/* Bits of `given`: what the command line set (the file does not override these). */
enum {
    GIVEN_DEVNET = 1 << 0,
    GIVEN_DATADIR = 1 << 1,
    GIVEN_HOST = 1 << 2,
    GIVEN_PORT = 1 << 3,
    GIVEN_USER = 1 << 4,
    GIVEN_PASSWORD = 1 << 5,
    GIVEN_PWFILE = 1 << 6,
    GIVEN_CONF = 1 << 7,
    FILE_HOST = 1 << 8, /* rpcconnect came from the file */
};

#define CRED_MAX 1024 /* bytes of "user:password" (or of a cookie file) at most */

const char rpc_client_usage[] =
    "  -devnet               use the devnet defaults (datadir ~/.sbx/devnet, port 18645)\n"
    "  -datadir=DIR          the node's datadir: its cookie, port file and sbx.conf\n"
    "                        (default ~/.sbx, or ~/.sbx/devnet)\n"
    "  -conf=FILE            the configuration file to read (default <datadir>/sbx.conf if\n"
    "                        it exists): devnet, rpcconnect, rpcport, rpcuser and\n"
    "                        rpcpasswordfile; the command line wins\n"
    "  -rpcconnect=HOST      server address (default 127.0.0.1)\n"
    "  -rpcport=PORT         server port (default: the port the node in the datadir\n"
    "                        listens on, from <datadir>/.rpcport; else the file's rpcport;\n"
    "                        else 8645, devnet 18645)\n"
    "  -rpcuser=USER         user of an rpcauth line, with its password from one of:\n"
    "  -stdinrpcpass           the first line of standard input (not echoed anywhere)\n"
    "  -rpcpasswordfile=FILE   the first line of FILE\n"
    "  -rpcpassword=PASS       the command line (visible to other users in ps)\n"
    "                        without -rpcuser: the cookie <datadir>/.cookie (role admin)\n";

void
rpc_client_init(struct rpc_client *c)
{
    memset(c, 0, sizeof(*c));
    memcpy(c->host, "127.0.0.1", sizeof("127.0.0.1"));
}

/* Copy `value` into `dst` (cap bytes); 0 if it does not fit or is empty. */
static int
copy_value(char *dst, size_t cap, const char *value)
{
    size_t n = value != NULL ? strlen(value) : 0;

    if (n == 0 || n >= cap)
        return 0;
    memcpy(dst, value, n + 1);
    return 1;
}

static int
parse_bool(const char *value, int *out)
{
    if (value == NULL || strcmp(value, "1") == 0)
        *out = 1;
    else if (strcmp(value, "0") == 0)
        *out = 0;
    else
        return 0;
    return 1;
}

/* Set the option `name` from the command line (`from_file` 0) or the file. SBX_ENOTFOUND for
 * a name that is not a connection option; 0 from `*ok` for a bad value. */
static int
set_option(struct rpc_client *c, const char *name, const char *value, int from_file, int *ok)
{
    long long n = 0;

    *ok = 1;
    if (strcmp(name, "devnet") == 0) {
        *ok = parse_bool(value, &c->devnet);
        c->given |= from_file ? 0 : GIVEN_DEVNET;
    } else if (strcmp(name, "datadir") == 0) {
        *ok = copy_value(c->datadir, sizeof(c->datadir), value);
        c->given |= GIVEN_DATADIR;
    } else if (strcmp(name, "conf") == 0 && !from_file) {
        *ok = copy_value(c->conf, sizeof(c->conf), value);
        c->given |= GIVEN_CONF;
    } else if (strcmp(name, "rpcconnect") == 0) {
        *ok = copy_value(c->host, sizeof(c->host), value);
        c->given |= from_file ? FILE_HOST : GIVEN_HOST;
    } else if (strcmp(name, "rpcport") == 0) {
        *ok = value != NULL && num_parse_int(value, from_file ? 0 : 1, 65535, &n);
        c->port = (int)n;
        c->given |= from_file ? 0 : GIVEN_PORT;
    } else if (strcmp(name, "rpcuser") == 0) {
        *ok = copy_value(c->user, sizeof(c->user), value) && strchr(value, ':') == NULL;
        c->given |= from_file ? 0 : GIVEN_USER;
    } else if (strcmp(name, "rpcpasswordfile") == 0) {
        *ok = copy_value(c->passwordfile, sizeof(c->passwordfile), value);
        c->given |= from_file ? 0 : GIVEN_PWFILE;
    } else if (strcmp(name, "rpcpassword") == 0 && !from_file) {
        *ok = value != NULL && strlen(value) < sizeof(c->password);
        if (*ok)
            memcpy(c->password, value, strlen(value) + 1);
        c->given |= GIVEN_PASSWORD;
    } else if (strcmp(name, "stdinrpcpass") == 0 && !from_file) {
        *ok = parse_bool(value, &c->stdinpass);
    } else {
        return SBX_ENOTFOUND;
    }
    return SBX_OK;
}

int
rpc_client_option(struct rpc_client *c, const char *name, const char *value, struct sbx_err *err)
{
    int ok, rc = set_option(c, name, value, 0, &ok);

    if (rc)
        return rc;
    if (!ok) /* the value is not quoted: it may be a password */
        return sbx_err_set(err, SBX_EINVAL, "-%s: bad or missing value", name);
    return SBX_OK;
}

/* Which command-line bit protects each option the file may set. */
static unsigned
given_bit(const char *name)
{
    static const struct {
        const char *name;
        unsigned bit;
    } bits[] = {
        {"devnet", GIVEN_DEVNET}, {"datadir", GIVEN_DATADIR}, {"rpcconnect", GIVEN_HOST},
        {"rpcport", GIVEN_PORT},  {"rpcuser", GIVEN_USER},    {"rpcpasswordfile", GIVEN_PWFILE},
    };

    for (size_t i = 0; i < SBX_ARRAY_LEN(bits); i++)
        if (strcmp(bits[i].name, name) == 0)
            return bits[i].bit;
    return 0;
}

struct conf_read {
    struct rpc_client *c;
    int bad_line; /* the first line with a bad value, 0 if none */
    int line;
    char bad_name[64];
};

/* inih's handler: the options a client takes, under the command line's; the rest is sbxd's. */
static int
conf_entry(void *arg, const char *section, const char *name, const char *value)
{
    struct conf_read *r = arg;
    unsigned bit = given_bit(name);
    int ok;

    if (bit == 0 || (r->c->given & bit) != 0)
        return 1;
    if (section[0] != '\0' && !(strcmp(section, "devnet") == 0 && r->c->devnet))
        return 1;
    if (strcmp(name, "datadir") == 0 && !(r->c->given & GIVEN_CONF))
        return 1; /* a file inside the datadir cannot move it (as for sbxd) */
    if (set_option(r->c, name, value, 1, &ok) == SBX_OK && !ok && r->bad_name[0] == '\0')
        snprintf(r->bad_name, sizeof(r->bad_name), "%s", name);
    return 1;
}

/* Read -conf, else <datadir>/sbx.conf if it exists. */
static int
read_conf(struct rpc_client *c, struct sbx_err *err)
{
    struct conf_read r = {c, 0, 0, ""};
    char path[1100];
    FILE *f;
    int line, n;

    if (c->conf[0] != '\0')
        n = snprintf(path, sizeof(path), "%s", c->conf);
    else
        n = snprintf(path, sizeof(path), "%s/sbx.conf", c->datadir);
    if (n < 0 || (size_t)n >= sizeof(path))
        return sbx_err_set(err, SBX_EINVAL, "-datadir: path too long");
    f = fopen(path, "r");
    if (f == NULL) {
        if (c->conf[0] == '\0' && errno == ENOENT)
            return SBX_OK;
        return sbx_err_set(err, SBX_EIO, "cannot read %s: %s", path, strerror(errno));
    }
    line = ini_parse_file(f, conf_entry, &r);
    fclose(f);
    if (line != 0)
        return sbx_err_set(err, SBX_EINVAL, "%s:%d: not a configuration line", path, line);
    if (r.bad_name[0] != '\0')
        return sbx_err_set(err, SBX_EINVAL, "%s: %s: bad value", path, r.bad_name);
    return SBX_OK;
}

/* The first line of `f` into c->password, without its line end. */
static int
read_password(struct rpc_client *c, FILE *f, const char *what, struct sbx_err *err)
{
    size_t n;

    if (fgets(c->password, sizeof(c->password), f) == NULL)
        return sbx_err_set(err, SBX_EINVAL, "%s: no password", what);
    n = strlen(c->password);
    if (n > 0 && c->password[n - 1] != '\n' && !feof(f)) {
        OPENSSL_cleanse(c->password, sizeof(c->password));
        return sbx_err_set(err, SBX_EINVAL, "%s: password too long", what);
    }
    while (n > 0 && (c->password[n - 1] == '\n' || c->password[n - 1] == '\r'))
        c->password[--n] = '\0';
    if (n == 0)
        return sbx_err_set(err, SBX_EINVAL, "%s: empty password", what);
    return SBX_OK;
}

static int
resolve_password(struct rpc_client *c, struct sbx_err *err)
{
    FILE *f;
    int rc;

    if (c->stdinpass + !!(c->given & GIVEN_PASSWORD) + !!(c->given & GIVEN_PWFILE) > 1)
        return sbx_err_set(err, SBX_EINVAL,
                           "-stdinrpcpass, -rpcpasswordfile and -rpcpassword: give one");
    if (c->stdinpass)
        return read_password(c, stdin, "-stdinrpcpass", err);
    if (c->given & GIVEN_PASSWORD)
        return SBX_OK;
    if (c->passwordfile[0] == '\0' || c->user[0] == '\0')
        return SBX_OK;
    f = fopen(c->passwordfile, "r");
    if (f == NULL)
        return sbx_err_set(err, SBX_EIO, "cannot read the password file %s: %s", c->passwordfile,
                           strerror(errno));
    rc = read_password(c, f, "-rpcpasswordfile", err);
    fclose(f);
    return rc;
}

int
rpc_client_resolve(struct rpc_client *c, struct sbx_err *err)
{
    int rc;

    if (!(c->given & GIVEN_DATADIR)) {
        rc = datadir_default(c->datadir, sizeof(c->datadir), c->devnet, err);
        if (rc)
            return rc;
    }
    rc = read_conf(c, err);
    if (rc)
        return rc;
    if (!(c->given & GIVEN_DATADIR) && c->datadir[0] != '\0') {
        /* The file may have set devnet (or, with -conf, the datadir). */
        rc = datadir_default(c->datadir, sizeof(c->datadir), c->devnet, err);
        if (rc)
            return rc;
    }
    rc = resolve_password(c, err);
    if (rc)
        return rc;
    if (c->user[0] == '\0' && c->password[0] != '\0')
        return sbx_err_set(err, SBX_EINVAL, "a password without -rpcuser");
    if (c->user[0] != '\0' && c->password[0] == '\0')
        return sbx_err_set(err, SBX_EINVAL,
                           "-rpcuser needs a password: -stdinrpcpass, -rpcpasswordfile or "
                           "-rpcpassword");
    return SBX_OK;
}

/* The port in <datadir>/.rpcport (written by sbxd while it runs), or 0. */
static int
read_port_file(const struct rpc_client *c)
{
    char path[1100], buf[16];
    long long port = 0;
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/.rpcport", c->datadir);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n')
        buf[n - 1] = '\0';
    if (!num_parse_int(buf, 1, 65535, &port))
        return 0;
    return (int)port;
}

int
rpc_client_is_local(const struct rpc_client *c)
{
    return !(c->given & (GIVEN_HOST | FILE_HOST));
}

int
rpc_client_port(const struct rpc_client *c)
{
    int port;

    if (c->given & GIVEN_PORT)
        return c->port;
    if (rpc_client_is_local(c)) {
        port = read_port_file(c);
        if (port != 0)
            return port;
    }
    if (c->port != 0)
        return c->port;
    return c->devnet ? RPC_CLIENT_PORT_DEVNET : RPC_CLIENT_PORT_MAIN;
}

/* "user:password" from the cookie file into `out`. */
static int
read_cookie(const struct rpc_client *c, char *out, size_t size, struct sbx_err *err)
{
    char path[1100];
    size_t n;
    FILE *f;
    int ok;

    snprintf(path, sizeof(path), "%s/.cookie", c->datadir);
    f = fopen(path, "r");
    if (f == NULL)
        return sbx_err_set(err, SBX_ENOTFOUND,
                           "cannot read %s: %s (is sbxd running with this -datadir%s? or give "
                           "-rpcuser and a password)",
                           path, strerror(errno), c->devnet ? "" : ", or -devnet");
    n = fread(out, 1, size - 1, f);
    out[n] = '\0';
    /* A cookie is one line; anything after it (or a file too long) is not a cookie. */
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    ok = n > 0 && !ferror(f) && feof(f) && strchr(out, ':') != NULL && strchr(out, '\n') == NULL;
    fclose(f);
    if (!ok)
        return sbx_err_set(err, SBX_EINVAL, "%s is not a cookie file", path);
    return SBX_OK;
}

int
rpc_client_auth(const struct rpc_client *c, char *out, size_t size, struct sbx_err *err)
{
    char cred[CRED_MAX + 1];
    size_t len;
    int n, rc;

    out[0] = '\0';
    if (c->user[0] != '\0') {
        n = snprintf(cred, sizeof(cred), "%s:%s", c->user, c->password);
        rc = n < 0 || (size_t)n >= sizeof(cred)
                 ? sbx_err_set(err, SBX_EINVAL, "-rpcuser and its password: too long")
                 : SBX_OK;
    } else {
        rc = read_cookie(c, cred, sizeof(cred), err);
    }
    if (rc)
        goto out;
    len = strlen(cred);
    if (size < 6 + 4 * ((len + 2) / 3) + 1) {
        rc = sbx_err_set(err, SBX_EINVAL, "credentials too long");
        goto out;
    }
    memcpy(out, "Basic ", 6);
    EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)cred, (int)len);
    rc = SBX_OK;
out:
    OPENSSL_cleanse(cred, sizeof(cred));
    return rc;
}

void
rpc_client_release(struct rpc_client *c)
{
    OPENSSL_cleanse(c->password, sizeof(c->password));
}
