/* RPC authentication: rpcauth entries, the cookie, HTTP Basic; see auth.h.
 *
 * Optimised for the check on every request: the HMAC is fetched once per server (EVP_MAC), so a
 * check costs one HMAC-SHA256 per entry with the user's name (about a microsecond). Nothing here
 * logs a password, a cookie or a hash.
 */
#include "rpc/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "util/hex.h"

#define COOKIE_BYTES 32

struct rpc_auth {
    struct rpc_auth_entry *entries;
    size_t n;
    EVP_MAC *mac;
    int has_cookie;
    char cookie[2 * COOKIE_BYTES + 1];
    char *cookie_path; /* set once the file is written: removed at free */
};

#define ROLE_ENTRY(e, n, s) {n, s},
static const struct {
    int role;
    const char *name;
} role_names[] = {RPC_ROLES(ROLE_ENTRY)};

const char *
rpc_auth_role_name(int role)
{
    for (size_t i = 0; i < SBX_ARRAY_LEN(role_names); i++) {
        if (role_names[i].role == role)
            return role_names[i].name;
    }
    return NULL;
}

int
rpc_auth_role_parse(const char *s)
{
    for (size_t i = 0; i < SBX_ARRAY_LEN(role_names); i++) {
        if (strcmp(role_names[i].name, s) == 0)
            return role_names[i].role;
    }
    return 0;
}

/* 1 if a field of an rpcauth line, s[0..n), holds 1..max printable ASCII characters without
 * spaces and without `stop`. */
static int
field_ok(const char *s, size_t n, size_t max, char stop)
{
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x21 || c > 0x7e || c == (unsigned char)stop)
            return 0;
    }
    return 1;
}

/* The refusal of a field that is not field_ok. */
static int
field_error(const char *what, int max, const char *nor, struct sbx_err *err)
{
    return sbx_err_set(err, SBX_EINVAL, "%s must be 1..%d printable characters without spaces%s",
                       what, max, nor);
}

int
rpc_auth_parse_line(const char *line, struct rpc_auth_entry *out, struct sbx_err *err)
{
    const char *colon1, *colon2, *dollar, *salt, *hash, *role;
    size_t nlen, slen, hlen;
    char rolebuf[16];

    memset(out, 0, sizeof(*out));
    colon1 = strchr(line, ':');
    colon2 = strrchr(line, ':');
    if (colon1 == NULL || colon2 == colon1)
        return sbx_err_set(err, SBX_EINVAL, "expected NAME:SALT$HASH:ROLE");
    nlen = (size_t)(colon1 - line);
    if (!field_ok(line, nlen, RPC_AUTH_NAME_MAX, ':'))
        return field_error("NAME", RPC_AUTH_NAME_MAX, "", err);
    salt = colon1 + 1;
    dollar = memchr(salt, '$', (size_t)(colon2 - salt));
    if (dollar == NULL)
        return sbx_err_set(err, SBX_EINVAL, "expected NAME:SALT$HASH:ROLE (no '$')");
    slen = (size_t)(dollar - salt);
    if (!field_ok(salt, slen, RPC_AUTH_SALT_MAX, '$'))
        return field_error("SALT", RPC_AUTH_SALT_MAX, " or '$'", err);
    hash = dollar + 1;
    hlen = (size_t)(colon2 - hash);
    if (hex_decode(out->hash, sizeof(out->hash), hash, hlen) != SBX_OK)
        return sbx_err_set(err, SBX_EINVAL, "HASH must be 64 lowercase hex characters");
    role = colon2 + 1;
    if (strlen(role) >= sizeof(rolebuf))
        return sbx_err_set(err, SBX_EINVAL, "ROLE must be operator, supervisor or admin");
    memcpy(rolebuf, role, strlen(role) + 1);
    out->role = rpc_auth_role_parse(rolebuf);
    if (out->role == 0)
        return sbx_err_set(err, SBX_EINVAL, "ROLE must be operator, supervisor or admin");
    memcpy(out->name, line, nlen);
    out->name[nlen] = '\0';
    if (strcmp(out->name, RPC_AUTH_COOKIE_USER) == 0)
        return sbx_err_set(err, SBX_EINVAL, "NAME %s is reserved for the cookie",
                           RPC_AUTH_COOKIE_USER);
    memcpy(out->salt, salt, slen);
    out->salt[slen] = '\0';
    return SBX_OK;
}

/* HMAC-SHA256 with an already fetched EVP_MAC (NULL: fetch one for this call). */
static int
hmac_with(EVP_MAC *mac, const char *salt, const void *pass, size_t passlen, uint8_t out[static 32])
{
    char digest[] = "SHA256";
    OSSL_PARAM params[2];
    EVP_MAC *own = NULL;
    EVP_MAC_CTX *ctx = NULL;
    size_t outlen = 0;
    int rc = SBX_EINTERNAL;

    if (mac == NULL) {
        own = EVP_MAC_fetch(NULL, "HMAC", NULL);
        if (own == NULL)
            goto out;
        mac = own;
    }
    ctx = EVP_MAC_CTX_new(mac);
    if (ctx == NULL)
        goto out;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_init(ctx, (const unsigned char *)salt, strlen(salt), params) != 1)
        goto out;
    if (EVP_MAC_update(ctx, pass, passlen) != 1)
        goto out;
    if (EVP_MAC_final(ctx, out, &outlen, 32) != 1 || outlen != 32)
        goto out;
    rc = SBX_OK;
out:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(own);
    return rc;
}

int
rpc_auth_hmac(const char *salt, const void *pass, size_t passlen, uint8_t out[static 32])
{
    return hmac_with(NULL, salt, pass, passlen, out);
}

/* Write `__cookie__:PASSWORD` to `path`, owner read/write only. */
static int
write_cookie(const char *path, const char *password, struct sbx_err *err)
{
    char line[sizeof(RPC_AUTH_COOKIE_USER) + 2 * COOKIE_BYTES + 1];
    size_t len, done = 0;
    int fd, rc = SBX_OK;

    len = (size_t)snprintf(line, sizeof(line), "%s:%s", RPC_AUTH_COOKIE_USER, password);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return sbx_err_set(err, SBX_EIO, "cookie file %s: %s", path, strerror(errno));
    /* an existing file keeps its mode through O_TRUNC: set it */
    if (fchmod(fd, 0600) != 0) {
        rc = sbx_err_set(err, SBX_EIO, "cookie file %s: chmod: %s", path, strerror(errno));
        goto out;
    }
    while (done < len) {
        ssize_t w = write(fd, line + done, len - done);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = sbx_err_set(err, SBX_EIO, "cookie file %s: write: %s", path, strerror(errno));
            goto out;
        }
        done += (size_t)w;
    }
out:
    OPENSSL_cleanse(line, sizeof(line));
    if (close(fd) != 0 && rc == SBX_OK)
        rc = sbx_err_set(err, SBX_EIO, "cookie file %s: close: %s", path, strerror(errno));
    if (rc != SBX_OK)
        unlink(path);
    return rc;
}

int
rpc_auth_new(struct rpc_auth **out, const char *const *lines, size_t n, const char *cookie_path,
             struct sbx_err *err)
{
    struct rpc_auth *a;
    uint8_t rnd[COOKIE_BYTES];
    int rc;

    *out = NULL;
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    if (n > 0) {
        a->entries = calloc(n, sizeof(a->entries[0]));
        if (a->entries == NULL) {
            rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct sbx_err e;

        sbx_err_clear(&e);
        rc = rpc_auth_parse_line(lines[i] ? lines[i] : "", &a->entries[i], &e);
        if (rc) {
            rc = sbx_err_set(err, SBX_EINVAL, "rpcauth line %zu: %s", i + 1, e.msg);
            goto out;
        }
        a->n++;
    }
    a->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (a->mac == NULL) {
        rc = sbx_err_set(err, SBX_EINTERNAL, "OpenSSL has no HMAC");
        goto out;
    }
    if (cookie_path != NULL) {
        if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
            rc = sbx_err_set(err, SBX_EINTERNAL, "OpenSSL's random generator failed");
            goto out;
        }
        hex_encode(a->cookie, rnd, sizeof(rnd));
        OPENSSL_cleanse(rnd, sizeof(rnd));
        a->cookie_path = strdup(cookie_path);
        if (a->cookie_path == NULL) {
            rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
            goto out;
        }
        rc = write_cookie(cookie_path, a->cookie, err);
        if (rc) {
            free(a->cookie_path);
            a->cookie_path = NULL;
            goto out;
        }
        a->has_cookie = 1;
    }
    *out = a;
    a = NULL;
    rc = SBX_OK;
out:
    rpc_auth_free(a);
    return rc;
}

void
rpc_auth_free(struct rpc_auth *a)
{
    if (a == NULL)
        return;
    if (a->cookie_path != NULL) {
        unlink(a->cookie_path);
        free(a->cookie_path);
    }
    if (a->entries != NULL) {
        OPENSSL_cleanse(a->entries, a->n * sizeof(a->entries[0]));
        free(a->entries);
    }
    EVP_MAC_free(a->mac);
    OPENSSL_cleanse(a, sizeof(*a));
    free(a);
}

int
rpc_auth_check(const struct rpc_auth *a, const char *user, const void *pass, size_t passlen)
{
    uint8_t h[32];
    int role = 0;

    if (a->has_cookie && strcmp(user, RPC_AUTH_COOKIE_USER) == 0) {
        if (passlen == 2 * COOKIE_BYTES && CRYPTO_memcmp(pass, a->cookie, passlen) == 0)
            return RPC_ROLE_ADMIN;
        return 0;
    }
    /* every entry with this name is tried (a user may have several passwords) */
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->entries[i].name, user) != 0)
            continue;
        if (hmac_with(a->mac, a->entries[i].salt, pass, passlen, h) != SBX_OK)
            continue;
        if (CRYPTO_memcmp(h, a->entries[i].hash, 32) == 0 && role == 0)
            role = a->entries[i].role;
    }
    OPENSSL_cleanse(h, sizeof(h));
    return role;
}

int
rpc_auth_check_header(const struct rpc_auth *a, const char *header, char *user_out)
{
    unsigned char dec[RPC_AUTH_HEADER_MAX];
    const char *b64;
    char user[RPC_AUTH_NAME_MAX + 1];
    size_t len, pad = 0, dlen, ulen;
    const unsigned char *colon;
    int n, role = 0;

    if (header == NULL || strncasecmp(header, "Basic ", 6) != 0)
        return 0;
    b64 = header + 6;
    while (*b64 == ' ')
        b64++;
    len = strlen(b64);
    while (len > 0 && b64[len - 1] == ' ')
        len--;
    /* base64 of at most RPC_AUTH_HEADER_MAX decoded bytes, padded to a multiple of 4 */
    if (len == 0 || len % 4 != 0 || len / 4 * 3 > sizeof(dec))
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)b64[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || (c == '=' && i >= len - 2)))
            return 0;
    }
    if (b64[len - 1] == '=')
        pad = b64[len - 2] == '=' ? 2 : 1;
    n = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)len);
    if (n < 0 || (size_t)n < pad)
        goto out;
    dlen = (size_t)n - pad;
    if (memchr(dec, '\0', dlen) != NULL)
        goto out;
    colon = memchr(dec, ':', dlen);
    if (colon == NULL)
        goto out;
    ulen = (size_t)(colon - dec);
    if (ulen == 0 || ulen > RPC_AUTH_NAME_MAX)
        goto out;
    if (dlen - ulen - 1 > RPC_AUTH_PASS_MAX)
        goto out;
    memcpy(user, dec, ulen);
    user[ulen] = '\0';
    role = rpc_auth_check(a, user, colon + 1, dlen - ulen - 1);
    if (role != 0 && user_out != NULL)
        memcpy(user_out, user, ulen + 1);
out:
    OPENSSL_cleanse(dec, sizeof(dec));
    return role;
}
