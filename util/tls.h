/* TLS key pairs on disk and certificate fingerprints, for the peer links (node/p2p_tls.c), the
 * RPC server and sbx-cli (rpc/tls.c). Only libcrypto: the SSL contexts stay with their users.
 *
 * A pair is two PEM files: a P-256 private key (mode 0600, refused when group or others can
 * access it) and a self-signed certificate for it. A fingerprint is the SHA-256 of the
 * certificate's DER encoding, written as 64 lowercase hex digits; `openssl x509 -noout
 * -fingerprint -sha256` prints the same bytes as uppercase pairs with colons, which
 * tls_fingerprint_parse accepts too.
 */
#ifndef SBX_UTIL_TLS_H
#define SBX_UTIL_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "util/err.h"

#define TLS_FINGERPRINT_HEX 65 /* 64 hex digits and a NUL */

/* The first OpenSSL error of this thread's queue as text (or `fallback`); empties the queue. */
void tls_error_text(char *out, size_t n, const char *fallback);

/* Open the pair keypath/certpath into *key and *cert (the caller frees them). With `make` 1,
 * a pair of which either file is missing is made first (a fresh key, a self-signed certificate
 * with common name `cn`, valid for 100 years) and *made is set to 1. SBX_EIO: a file missing
 * (with `make` 0), unreadable, unwritable or not matching the other; SBX_EDENIED: the key file
 * is accessible by group or others; SBX_EINTERNAL: OpenSSL failed to make the pair. */
int tls_pair_open(EVP_PKEY **key, X509 **cert, int *made, const char *keypath, const char *certpath,
                  const char *cn, int make, struct sbx_err *err) SBX_WARN_UNUSED;

/* The SHA-256 of `cert`'s DER encoding into out. SBX_EINTERNAL if OpenSSL fails. */
int tls_fingerprint(uint8_t out[static 32], const X509 *cert) SBX_WARN_UNUSED;

/* The fingerprint of the certificate in the PEM file `path` (its first). SBX_EIO when the file
 * cannot be read or holds no certificate. */
int tls_fingerprint_file(uint8_t out[static 32], const char *path,
                         struct sbx_err *err) SBX_WARN_UNUSED;

/* A fingerprint as 64 lowercase hex digits. */
void tls_fingerprint_hex(char out[static TLS_FINGERPRINT_HEX], const uint8_t fp[static 32]);

/* Read a fingerprint written as 64 hex digits, either case, optionally in pairs separated by
 * colons (OpenSSL's form) and optionally after "sha256:" or "SHA256 Fingerprint=". 1 if `text`
 * is one, else 0 (out is then zeroed). */
int tls_fingerprint_parse(uint8_t out[static 32], const char *text) SBX_WARN_UNUSED;

#endif
