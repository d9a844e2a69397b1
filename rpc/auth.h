/* RPC authentication: rpcauth lines, HTTP Basic credentials, roles and the cookie file.
 *
 * An rpcauth line is NAME:SALT$HASH:ROLE, where HASH is the lowercase hex HMAC-SHA256 keyed with
 * the SALT string over the password (as Bitcoin Core's rpcauth; the password is never stored)
 * and ROLE is operator, supervisor or admin. The cookie (user `__cookie__`, a random password
 * made at each start and written to a file readable by the owner only) has the role admin.
 * Every comparison of secrets is constant-time (CRYPTO_memcmp).
 */
#ifndef SBX_RPC_AUTH_H
#define SBX_RPC_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* The roles, X(enum, bit, "name"): bits, so that a method can name the set of roles allowed to
 * call it. */
#define RPC_ROLES(X)                                                                               \
    X(RPC_ROLE_OPERATOR, 1, "operator")                                                            \
    X(RPC_ROLE_SUPERVISOR, 2, "supervisor")                                                        \
    X(RPC_ROLE_ADMIN, 4, "admin")
#define RPC_ROLE_CONSTANT(e, n, s) e = n,

enum rpc_role { RPC_ROLES(RPC_ROLE_CONSTANT) };
#define RPC_ROLES_ANY (RPC_ROLE_OPERATOR | RPC_ROLE_SUPERVISOR | RPC_ROLE_ADMIN)

#define RPC_AUTH_COOKIE_USER "__cookie__"
#define RPC_AUTH_NAME_MAX 64
#define RPC_AUTH_SALT_MAX 128
#define RPC_AUTH_PASS_MAX 256   /* longest password accepted in a request */
#define RPC_AUTH_HEADER_MAX 600 /* longest Authorization header accepted */

/* One parsed rpcauth line. */
struct rpc_auth_entry {
    char name[RPC_AUTH_NAME_MAX + 1];
    char salt[RPC_AUTH_SALT_MAX + 1];
    uint8_t hash[32];
    int role; /* one RPC_ROLE_* */
};

/* "operator" for RPC_ROLE_OPERATOR...; NULL for anything else. And the reverse (0 if unknown). */
const char *rpc_auth_role_name(int role);
int rpc_auth_role_parse(const char *s);

/* Parse NAME:SALT$HASH:ROLE. SBX_EINVAL with a message naming what is wrong (the caller adds
 * the line number). NAME: 1..64 printable characters without ':' or spaces, not `__cookie__`;
 * SALT: 1..128 printable characters without '$' or spaces; HASH: 64 lowercase hex. */
int rpc_auth_parse_line(const char *line, struct rpc_auth_entry *out,
                        struct sbx_err *err) SBX_WARN_UNUSED;

/* out = HMAC-SHA256(key = salt, message = pass[0..passlen)). SBX_EINTERNAL if OpenSSL fails. */
int rpc_auth_hmac(const char *salt, const void *pass, size_t passlen,
                  uint8_t out[static 32]) SBX_WARN_UNUSED;

struct rpc_auth;

/* Parse `n` rpcauth lines (SBX_EINVAL naming the 1-based line number of the first bad one) and,
 * if `cookie_path` is not NULL, make a cookie (32 random bytes as hex) and write
 * `__cookie__:PASSWORD` to that file with mode 0600 (SBX_EIO naming the path on failure). */
int rpc_auth_new(struct rpc_auth **out, const char *const *lines, size_t n, const char *cookie_path,
                 struct sbx_err *err) SBX_WARN_UNUSED;
/* Remove the cookie file (if one was written), wipe the secrets and free. NULL is a no-op. */
void rpc_auth_free(struct rpc_auth *a);

/* The role of user/password, or 0 if they do not match any entry or the cookie. */
int rpc_auth_check(const struct rpc_auth *a, const char *user, const void *pass, size_t passlen);
/* The role for an HTTP `Authorization` header value ("Basic base64(user:password)"), or 0 for a
 * missing, malformed or wrong one. `user_out` (may be NULL, RPC_AUTH_NAME_MAX + 1 bytes) gets the
 * user name on success, for logs. */
int rpc_auth_check_header(const struct rpc_auth *a, const char *header, char *user_out);

#endif
