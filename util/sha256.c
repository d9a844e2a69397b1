/* SHA-256 and tagged hashes over OpenSSL EVP; see sha256.h.
 *
 * Optimised for many short messages (a transaction is a few hundred bytes): the EVP_MD is
 * fetched once, each thread reuses one context found through a pthread key, and tags start
 * from a copied mid-state. Failures of OpenSSL's digest calls on a fetched SHA-256 cannot be
 * caused by input, so they are treated as impossible states.
 */
#include "util/sha256.h"

#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

static EVP_MD *g_md;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;
static int g_init_rc = SBX_EINTERNAL;

struct sha256_tag SHA256_TAG_TX, SHA256_TAG_BLOCK, SHA256_TAG_LEAF, SHA256_TAG_NODE,
    SHA256_TAG_STATE, SHA256_TAG_ATTEST, SHA256_TAG_PEER, SHA256_TAG_LIAB_SEED,
    SHA256_TAG_LIAB_SALT, SHA256_TAG_LIAB_LEAF, SHA256_TAG_LIAB_NODE;

static void
thread_ctx_free(void *p)
{
    EVP_MD_CTX_free(p);
}

static void
global_init_once(void)
{
    struct {
        struct sha256_tag *t;
        const char *name;
    } tags[] = {
        {&SHA256_TAG_TX, "sbx/tx"},
        {&SHA256_TAG_BLOCK, "sbx/block"},
        {&SHA256_TAG_LEAF, "sbx/leaf"},
        {&SHA256_TAG_NODE, "sbx/node"},
        {&SHA256_TAG_STATE, "sbx/state"},
        {&SHA256_TAG_ATTEST, "sbx/attest"},
        {&SHA256_TAG_PEER, "sbx/peer"},
        {&SHA256_TAG_LIAB_SEED, "sbx/liab/seed"},
        {&SHA256_TAG_LIAB_SALT, "sbx/liab/salt"},
        {&SHA256_TAG_LIAB_LEAF, "sbx/liab/leaf"},
        {&SHA256_TAG_LIAB_NODE, "sbx/liab/node"},
    };

    g_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (g_md == NULL)
        return;
    if (pthread_key_create(&g_key, thread_ctx_free) != 0)
        return;
    g_init_rc = SBX_OK;
    for (size_t i = 0; i < SBX_ARRAY_LEN(tags); i++) {
        if (sha256_tag_init(tags[i].t, tags[i].name) != SBX_OK) {
            g_init_rc = SBX_EINTERNAL;
            return;
        }
    }
}

int
sha256_global_init(void)
{
    pthread_once(&g_once, global_init_once);
    return g_init_rc;
}

static EVP_MD_CTX *
thread_ctx(void)
{
    EVP_MD_CTX *c;

    if (sha256_global_init() != SBX_OK)
        SBX_BUG("OpenSSL has no SHA-256");
    c = pthread_getspecific(g_key);
    if (c == NULL) {
        c = EVP_MD_CTX_new();
        if (c == NULL || pthread_setspecific(g_key, c) != 0)
            SBX_BUG("cannot allocate a SHA-256 context");
    }
    return c;
}

static void
must(int ok)
{
    if (ok != 1)
        SBX_BUG("OpenSSL digest call failed");
}

void
sha256(uint8_t out[static 32], const void *data, size_t len)
{
    sha256_2(out, data, len, NULL, 0);
}

void
sha256_2(uint8_t out[static 32], const void *a, size_t alen, const void *b, size_t blen)
{
    EVP_MD_CTX *c = thread_ctx();

    must(EVP_DigestInit_ex2(c, g_md, NULL));
    must(EVP_DigestUpdate(c, a, alen));
    if (blen)
        must(EVP_DigestUpdate(c, b, blen));
    must(EVP_DigestFinal_ex(c, out, NULL));
}

int
sha256_ctx_init(struct sha256_ctx *c)
{
    EVP_MD_CTX *e;

    c->evp = NULL;
    if (sha256_global_init() != SBX_OK)
        return SBX_EINTERNAL;
    e = EVP_MD_CTX_new();
    if (e == NULL)
        return SBX_ENOMEM;
    if (EVP_DigestInit_ex2(e, g_md, NULL) != 1) {
        EVP_MD_CTX_free(e);
        return SBX_EINTERNAL;
    }
    c->evp = e;
    return SBX_OK;
}

void
sha256_ctx_update(struct sha256_ctx *c, const void *data, size_t len)
{
    must(EVP_DigestUpdate(c->evp, data, len));
}

void
sha256_ctx_final(struct sha256_ctx *c, uint8_t out[static 32])
{
    must(EVP_DigestFinal_ex(c->evp, out, NULL));
    must(EVP_DigestInit_ex2(c->evp, g_md, NULL));
}

void
sha256_ctx_release(struct sha256_ctx *c)
{
    EVP_MD_CTX_free(c->evp);
    c->evp = NULL;
}

int
sha256_tag_init(struct sha256_tag *t, const char *tag)
{
    uint8_t th[32];
    EVP_MD_CTX *e;

    t->mid = NULL;
    if (g_md == NULL)
        return SBX_EINTERNAL;
    e = EVP_MD_CTX_new();
    if (e == NULL)
        return SBX_ENOMEM;
    /* EVP_Digest, not sha256(): this runs inside the once-initialiser that sha256() waits on */
    if (EVP_Digest(tag, strlen(tag), th, NULL, g_md, NULL) != 1 ||
        EVP_DigestInit_ex2(e, g_md, NULL) != 1 || EVP_DigestUpdate(e, th, 32) != 1 ||
        EVP_DigestUpdate(e, th, 32) != 1) {
        EVP_MD_CTX_free(e);
        return SBX_EINTERNAL;
    }
    t->mid = e;
    return SBX_OK;
}

void
sha256_tag_release(struct sha256_tag *t)
{
    EVP_MD_CTX_free(t->mid);
    t->mid = NULL;
}

void
sha256_tagged_begin(const struct sha256_tag *t, struct sha256_ctx *c)
{
    must(EVP_MD_CTX_copy_ex(c->evp, t->mid));
}

void
sha256_tagged(const struct sha256_tag *t, uint8_t out[static 32], const void *msg, size_t len)
{
    EVP_MD_CTX *c = thread_ctx();

    must(EVP_MD_CTX_copy_ex(c, t->mid));
    must(EVP_DigestUpdate(c, msg, len));
    must(EVP_DigestFinal_ex(c, out, NULL));
}

void
sha256_tagged_slow(uint8_t out[static 32], const char *tag, const void *msg, size_t len)
{
    uint8_t th[32], pre[64];
    EVP_MD_CTX *c = thread_ctx();

    sha256(th, tag, strlen(tag));
    memcpy(pre, th, 32);
    memcpy(pre + 32, th, 32);
    must(EVP_DigestInit_ex2(c, g_md, NULL));
    must(EVP_DigestUpdate(c, pre, 64));
    must(EVP_DigestUpdate(c, msg, len));
    must(EVP_DigestFinal_ex(c, out, NULL));
}
