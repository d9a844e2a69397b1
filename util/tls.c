/* TLS key pairs on disk and certificate fingerprints (see util/tls.h).
 *
 * Files are written through a temporary file renamed into place (a crash never leaves half a
 * file), mode 0600. Any thread may call these; nothing here is shared.
 */
#include "util/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "util/buf.h"
#include "util/datadir.h"
#include "util/hex.h"

#define CERT_DAYS 36500 /* pinned or unchecked: it should never expire */

void
tls_error_text(char *out, size_t n, const char *fallback)
{
    unsigned long e = ERR_get_error();

    if (e == 0)
        snprintf(out, n, "%s", fallback);
    else
        ERR_error_string_n(e, out, n);
    ERR_clear_error();
}

/* Write `pkey` (if not NULL) or `cert` as PEM to `path`, mode 0600, through a temporary file
 * renamed into place so that a crash never leaves half a file. */
static int
write_pem(const char *path, EVP_PKEY *pkey, X509 *cert, struct sbx_err *err)
{
    char tmp[PATH_MAX];
    FILE *f = NULL;
    int fd = -1, ok, rc = SBX_EIO;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        rc = sbx_err_set(err, SBX_EINVAL, "%s: path too long", path);
        goto out;
    }
    unlink(tmp); /* left over from a crash */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        sbx_err_set(err, SBX_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        goto out;
    }
    f = fdopen(fd, "w");
    if (f == NULL) {
        sbx_err_set(err, SBX_EIO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (pkey != NULL)
        ok = PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
    else
        ok = PEM_write_X509(f, cert);
    if (ok != 1 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        sbx_err_set(err, SBX_EIO, "%s: cannot write", tmp);
        goto out;
    }
    ok = fclose(f);
    f = NULL;
    if (ok != 0 || rename(tmp, path) != 0) {
        sbx_err_set(err, SBX_EIO, "%s: cannot write: %s", path, strerror(errno));
        goto out;
    }
    /* the rename too: clients pin the certificate (-rpcfingerprint) */
    rc = datadir_sync_parent(path, err);
    if (rc)
        goto out;
    rc = SBX_OK;
out:
    if (f != NULL)
        fclose(f);
    if (fd >= 0)
        close(fd);
    if (rc != SBX_OK)
        unlink(tmp);
    ERR_clear_error();
    return rc;
}

/* Make a fresh P-256 key and a self-signed certificate for it into the two files. */
static int
pair_make(const char *keypath, const char *certpath, const char *cn, struct sbx_err *err)
{
    EVP_PKEY *pkey = NULL;
    X509 *x = NULL;
    X509_NAME *name;
    uint8_t serial[8];
    int64_t sn;
    int rc = SBX_EINTERNAL;

    pkey = EVP_EC_gen("P-256");
    x = X509_new();
    if (pkey == NULL || x == NULL || RAND_bytes(serial, sizeof(serial)) != 1)
        goto fail;
    serial[0] &= 0x7f; /* a positive serial number */
    sn = (int64_t)buf_load_u64(serial);
    name = X509_get_subject_name(x);
    if (X509_set_version(x, X509_VERSION_3) != 1 ||
        ASN1_INTEGER_set_int64(X509_get_serialNumber(x), sn) != 1 ||
        X509_gmtime_adj(X509_getm_notBefore(x), -86400) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(x), CERT_DAYS, 0, NULL) == NULL ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, pkey) != 1 ||
        X509_sign(x, pkey, EVP_sha256()) <= 0)
        goto fail;
    rc = write_pem(keypath, pkey, NULL, err);
    if (rc != SBX_OK)
        goto out;
    rc = write_pem(certpath, NULL, x, err);
    goto out;
fail : {
    char e[200];
    tls_error_text(e, sizeof(e), "unknown error");
    rc = sbx_err_set(err, SBX_EINTERNAL, "cannot make the TLS certificate: %s", e);
}
out:
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}

/* Read one PEM file: a private key (`want_key`) or a certificate. */
static int
read_pem(const char *path, int want_key, EVP_PKEY **key, X509 **cert, struct sbx_err *err)
{
    FILE *f = fopen(path, "r");
    char e[200];

    if (f == NULL)
        return sbx_err_set(err, SBX_EIO, "%s: %s", path, strerror(errno));
    if (want_key)
        *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    else
        *cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (want_key ? *key == NULL : *cert == NULL) {
        tls_error_text(e, sizeof(e), "unreadable");
        return sbx_err_set(err, SBX_EIO, "%s: %s", path, e);
    }
    return SBX_OK;
}

int
tls_pair_open(EVP_PKEY **key, X509 **cert, int *made, const char *keypath, const char *certpath,
              const char *cn, int make, struct sbx_err *err)
{
    struct stat st;
    int rc;

    *key = NULL;
    *cert = NULL;
    *made = 0;
    if (make && (stat(keypath, &st) != 0 || access(certpath, F_OK) != 0)) {
        rc = pair_make(keypath, certpath, cn, err);
        if (rc != SBX_OK)
            return rc;
        *made = 1;
    }
    if (stat(keypath, &st) != 0)
        return sbx_err_set(err, SBX_EIO, "%s: %s", keypath, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return sbx_err_set(err, SBX_EINVAL, "%s: not a regular file", keypath);
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        return sbx_err_set(err, SBX_EDENIED,
                           "%s: key file is accessible by group or others (mode %03o); run "
                           "chmod 600 %s",
                           keypath, (unsigned)(st.st_mode & 0777), keypath);
    rc = read_pem(certpath, 0, key, cert, err);
    if (rc == SBX_OK)
        rc = read_pem(keypath, 1, key, cert, err);
    if (rc == SBX_OK && X509_check_private_key(*cert, *key) != 1) {
        ERR_clear_error();
        rc = sbx_err_set(err, SBX_EIO, "%s: does not match the certificate %s", keypath, certpath);
    }
    if (rc != SBX_OK) {
        EVP_PKEY_free(*key);
        X509_free(*cert);
        *key = NULL;
        *cert = NULL;
    }
    return rc;
}

int
tls_fingerprint(uint8_t out[static 32], const X509 *cert)
{
    unsigned int len = 0;

    if (X509_digest(cert, EVP_sha256(), out, &len) != 1 || len != 32) {
        ERR_clear_error();
        memset(out, 0, 32);
        return SBX_EINTERNAL;
    }
    return SBX_OK;
}

int
tls_fingerprint_file(uint8_t out[static 32], const char *path, struct sbx_err *err)
{
    X509 *cert = NULL;
    int rc = read_pem(path, 0, NULL, &cert, err);

    memset(out, 0, 32);
    if (rc == SBX_OK)
        rc = tls_fingerprint(out, cert);
    X509_free(cert);
    return rc;
}

void
tls_fingerprint_hex(char out[static TLS_FINGERPRINT_HEX], const uint8_t fp[static 32])
{
    hex_encode(out, fp, 32);
}

int
tls_fingerprint_parse(uint8_t out[static 32], const char *text)
{
    static const char *const prefixes[] = {"sha256:", "SHA256 Fingerprint=", "sha256 Fingerprint="};
    char digits[65];
    size_t n = 0;

    memset(out, 0, 32);
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (strncmp(text, prefixes[i], strlen(prefixes[i])) == 0) {
            text += strlen(prefixes[i]);
            break;
        }
    /* either 64 digits, or 32 pairs with a colon between each two */
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == ':' && p > text && (p - text) % 3 == 2 && p[1] != '\0')
            continue;
        if (n >= 64 || strchr("0123456789abcdefABCDEF", *p) == NULL)
            return 0;
        digits[n++] = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
    }
    if (n != 64 || (strchr(text, ':') != NULL && strlen(text) != 95))
        return 0;
    digits[64] = '\0';
    return hex_decode(out, 32, digits, 64) == SBX_OK;
}
