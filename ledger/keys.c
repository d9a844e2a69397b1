/* Keys and BIP340 Schnorr signatures over libsecp256k1; see keys.h.
 *
 * One context serves the whole process: it is created and randomised (blinding against side
 * channels) once under pthread_once and is only read afterwards, which libsecp256k1 allows
 * from many threads at once. Secret material lives in `struct ledger_key` and in short-lived
 * stack copies, each wiped with OPENSSL_cleanse before it goes out of scope. Key files hold the
 * secret as 64 lowercase hex digits and a newline, readable by the owner only.
 */
#include "ledger/keys.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

#include "util/datadir.h"
#include "util/hex.h"

static_assert(sizeof(secp256k1_keypair) == sizeof(((struct ledger_key *)0)->keypair),
              "struct ledger_key.keypair must hold a secp256k1_keypair");

#define KEYFILE_LEN 65 /* 64 hex digits and a newline */

static secp256k1_context *g_ctx;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void
global_init_once(void)
{
    uint8_t seed[32];
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);

    if (ctx == NULL)
        return;
    if (RAND_bytes(seed, sizeof(seed)) != 1 || !secp256k1_context_randomize(ctx, seed)) {
        secp256k1_context_destroy(ctx);
        goto out;
    }
    g_ctx = ctx;
out:
    OPENSSL_cleanse(seed, sizeof(seed));
}

int
ledger_keys_global_init(void)
{
    pthread_once(&g_once, global_init_once);
    return g_ctx != NULL ? SBX_OK : SBX_EINTERNAL;
}

/* The context, or NULL if it could not be created. */
static const secp256k1_context *
ctx(void)
{
    if (ledger_keys_global_init() != SBX_OK)
        return NULL;
    return g_ctx;
}

void
ledger_keys_wipe(struct ledger_key *k)
{
    if (k != NULL)
        OPENSSL_cleanse(k, sizeof(*k));
}

int
ledger_keys_from_secret(struct ledger_key *k, const uint8_t secret[static 32])
{
    const secp256k1_context *c = ctx();
    secp256k1_keypair kp;
    secp256k1_xonly_pubkey xpub;
    int rc = SBX_EINVAL;

    memset(k, 0, sizeof(*k));
    if (c == NULL)
        return SBX_EINTERNAL;
    if (!secp256k1_keypair_create(c, &kp, secret))
        goto out;
    if (!secp256k1_keypair_xonly_pub(c, &xpub, NULL, &kp) ||
        !secp256k1_xonly_pubkey_serialize(c, k->pubkey, &xpub)) {
        rc = SBX_EINTERNAL;
        goto out;
    }
    memcpy(k->secret, secret, 32);
    memcpy(k->keypair, &kp, sizeof(kp));
    rc = SBX_OK;
out:
    OPENSSL_cleanse(&kp, sizeof(kp));
    if (rc)
        ledger_keys_wipe(k);
    return rc;
}

int
ledger_keys_generate(struct ledger_key *k)
{
    uint8_t secret[32];
    int rc = SBX_EINTERNAL;

    memset(k, 0, sizeof(*k));
    /* A random 32-byte string is not a valid secret with probability ~2^-128; retry a few
     * times anyway rather than treat it as impossible. */
    for (int tries = 0; tries < 8; tries++) {
        if (RAND_bytes(secret, sizeof(secret)) != 1) {
            rc = SBX_EINTERNAL;
            break;
        }
        rc = ledger_keys_from_secret(k, secret);
        if (rc != SBX_EINVAL)
            break;
    }
    OPENSSL_cleanse(secret, sizeof(secret));
    return rc;
}

/* The parsed form of the x-only key `pub`, NULL if it is not on the curve. Nearly every key
 * a ledger names is one key (the operator's: every block's producer, the signer of every
 * transaction it builds), and parsing one costs a square root (several microseconds, twice
 * per transaction a follower decodes and checks): keep the last key parsed, per thread. */
static const secp256k1_xonly_pubkey *
parsed_key(const secp256k1_context *c, const uint8_t pub[static 32])
{
    static __thread struct {
        int valid;
        uint8_t raw[32];
        secp256k1_xonly_pubkey x;
    } last;

    if (!last.valid || memcmp(last.raw, pub, 32) != 0) {
        last.valid = 0;
        if (!secp256k1_xonly_pubkey_parse(c, &last.x, pub))
            return NULL;
        memcpy(last.raw, pub, 32);
        last.valid = 1;
    }
    return &last.x;
}

int
ledger_keys_pubkey_valid(const uint8_t pub[static 32])
{
    const secp256k1_context *c = ctx();

    return c != NULL && parsed_key(c, pub) != NULL;
}

int
ledger_keys_sign(const struct ledger_key *k, const uint8_t msg[static 32], uint8_t sig[static 64])
{
    const secp256k1_context *c = ctx();
    secp256k1_keypair kp;
    uint8_t aux[32];
    int rc = SBX_EINTERNAL;

    memset(sig, 0, 64);
    if (c == NULL)
        return SBX_EINTERNAL;
    memcpy(&kp, k->keypair, sizeof(kp));
    if (RAND_bytes(aux, sizeof(aux)) != 1)
        goto out;
    if (!secp256k1_schnorrsig_sign32(c, sig, msg, &kp, aux)) {
        memset(sig, 0, 64);
        goto out;
    }
    rc = SBX_OK;
out:
    OPENSSL_cleanse(&kp, sizeof(kp));
    OPENSSL_cleanse(aux, sizeof(aux));
    return rc;
}

int
ledger_keys_verify(const uint8_t pub[static 32], const uint8_t msg[static 32],
                   const uint8_t sig[static 64])
{
    const secp256k1_context *c = ctx();
    const secp256k1_xonly_pubkey *x;

    if (c == NULL)
        return SBX_EINTERNAL;
    x = parsed_key(c, pub);
    if (x == NULL)
        return SBX_EPUBKEY;
    if (!secp256k1_schnorrsig_verify(c, sig, msg, 32, x))
        return SBX_EBADSIG;
    return SBX_OK;
}

/* ---- key files ------------------------------------------------------------------------ */

static int
write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int
ledger_keys_save(const struct ledger_key *k, const char *path, struct sbx_err *err)
{
    char text[KEYFILE_LEN + 1];
    int fd, rc = SBX_EIO;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return sbx_err_set(err, SBX_ECONFLICT, "%s: key file exists; not overwriting it", path);
        return sbx_err_set(err, SBX_EIO, "%s: cannot create key file: %s", path, strerror(errno));
    }
    hex_encode(text, k->secret, 32);
    text[64] = '\n';
    text[65] = '\0';
    if (write_all(fd, (const uint8_t *)text, KEYFILE_LEN) != 0 || fsync(fd) != 0) {
        sbx_err_set(err, SBX_EIO, "%s: cannot write key file: %s", path, strerror(errno));
        goto out;
    }
    /* the file's name too: a genesis signed with a key that a power cut then loses */
    rc = datadir_sync_parent(path, err);
    if (rc)
        goto out;
    rc = SBX_OK;
out:
    OPENSSL_cleanse(text, sizeof(text));
    if (close(fd) != 0 && rc == SBX_OK)
        rc = sbx_err_set(err, SBX_EIO, "%s: cannot write key file: %s", path, strerror(errno));
    if (rc)
        unlink(path); /* never leave a partial key behind */
    return rc;
}

int
ledger_keys_load(struct ledger_key *k, const char *path, struct sbx_err *err)
{
    char text[KEYFILE_LEN + 1];
    uint8_t secret[32];
    struct stat st;
    size_t n = 0;
    int fd, rc;

    memset(k, 0, sizeof(*k));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return sbx_err_set(err, SBX_ENOTFOUND, "%s: no such key file", path);
        return sbx_err_set(err, SBX_EIO, "%s: cannot open key file: %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        rc = sbx_err_set(err, SBX_EIO, "%s: cannot stat key file: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = sbx_err_set(err, SBX_EINVAL, "%s: key file is not a regular file", path);
        goto out;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        rc = sbx_err_set(err, SBX_EDENIED,
                         "%s: key file is accessible by group or others (mode %03o); run "
                         "chmod 600 %s",
                         path, (unsigned)(st.st_mode & 0777), path);
        goto out;
    }
    /* Read one byte more than a key file holds, to notice anything after it. */
    while (n < sizeof(text)) {
        ssize_t r = read(fd, text + n, sizeof(text) - n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = sbx_err_set(err, SBX_EIO, "%s: cannot read key file: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n != KEYFILE_LEN || text[64] != '\n' || hex_decode(secret, 32, text, 64) != SBX_OK) {
        rc = sbx_err_set(err, SBX_EINVAL,
                         "%s: malformed key file (want 64 lowercase hex digits and a newline)",
                         path);
        goto out;
    }
    rc = ledger_keys_from_secret(k, secret);
    if (rc == SBX_EINVAL)
        sbx_err_set(err, rc, "%s: not a valid secp256k1 secret key", path);
    else if (rc)
        sbx_err_set(err, rc, "%s: cannot derive the key", path);
out:
    OPENSSL_cleanse(text, sizeof(text));
    OPENSSL_cleanse(secret, sizeof(secret));
    close(fd);
    return rc;
}

int
ledger_keys_load_or_make(struct ledger_key *k, const char *dir, const char *path, int make,
                         struct sbx_err *err)
{
    struct stat st;
    int rc;

    if (stat(path, &st) == 0)
        return ledger_keys_load(k, path, err);
    if (!make)
        return SBX_ENOTFOUND;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return sbx_err_set(err, SBX_EIO, "cannot create %s: %s", dir, strerror(errno));
    rc = ledger_keys_generate(k);
    return rc ? sbx_err_set(err, rc, "cannot generate a key") : ledger_keys_save(k, path, err);
}
