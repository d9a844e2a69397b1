/* How a client program finds a node and authenticates to it: the one implementation that
 * sbx-cli and sbx-bench share, so that both find a node the same way.
 *
 * The connection options (-devnet, -datadir, -conf, -rpcconnect, -rpcport, -rpcuser,
 * -rpcpassword, -rpcpasswordfile, -stdinrpcpass) come from the command line, then from the
 * node's configuration file (-conf, else <datadir>/sbx.conf if it exists: its devnet,
 * rpcconnect, rpcport, rpcuser and rpcpasswordfile, and with devnet its [devnet] section; the
 * command line wins, sbxd's other options are skipped). The port is -rpcport; else, for a
 * node on this machine (no rpcconnect), the one it listens on (<datadir>/.rpcport, written
 * while it runs); else the file's rpcport; else 8645 (devnet 18645). The credentials are
 * -rpcuser with its password (from the command line, the first line of stdin with
 * -stdinrpcpass, or the first line of a password file), else the cookie <datadir>/.cookie.
 * Secrets are wiped by rpc_client_release and never appear in messages.
 */
#ifndef SBX_RPC_CLIENT_H
#define SBX_RPC_CLIENT_H

#include <stddef.h>

#include "util/err.h"

#define RPC_CLIENT_PORT_MAIN 8645
#define RPC_CLIENT_PORT_DEVNET 18645
#define RPC_CLIENT_AUTH_MAX 2200 /* bytes of "Basic ..." with its NUL, at most */

struct rpc_client {
    int devnet;
    char datadir[1024];
    char conf[1024]; /* -conf; "" for <datadir>/sbx.conf */
    char host[256];
    int port; /* 0: none given */
    char user[256];
    char password[512]; /* secret */
    char passwordfile[1024];
    int stdinpass;
    unsigned given; /* which options the command line gave (client.c's GIVEN_* bits) */
};

/* The lines of the connection options for a program's -help text. */
extern const char rpc_client_usage[];

/* Set `c` to the defaults (no option given). */
void rpc_client_init(struct rpc_client *c);
/* Apply the command-line option `name` (without its dash) with `value` (NULL if it had no
 * '='). SBX_ENOTFOUND, with no message, if `name` is not a connection option; SBX_EINVAL naming
 * the option (never quoting the value) for a bad value. */
int rpc_client_option(struct rpc_client *c, const char *name, const char *value,
                      struct sbx_err *err) SBX_WARN_UNUSED;
/* Once the command line is read: the default datadir, the configuration file, the password
 * (stdin or file). SBX_EIO for a -conf or password file that cannot be read, SBX_EINVAL for a
 * bad line of the file or credentials that do not go together. */
int rpc_client_resolve(struct rpc_client *c, struct sbx_err *err) SBX_WARN_UNUSED;
/* 1 if no address was given (command line or file): the node of the datadir. */
int rpc_client_is_local(const struct rpc_client *c);
/* The port to connect to now (the node may have started since the last call). */
int rpc_client_port(const struct rpc_client *c);
/* The Authorization header ("Basic ...") into `out` (RPC_CLIENT_AUTH_MAX bytes). SBX_ENOTFOUND
 * when the cookie file is absent (the node is not running, or not yet), SBX_EINVAL when it is
 * not a cookie. */
int rpc_client_auth(const struct rpc_client *c, char *out, size_t size,
                    struct sbx_err *err) SBX_WARN_UNUSED;
/* Wipe the password. */
void rpc_client_release(struct rpc_client *c);

#endif
