/* The ledger's LevelDB store; see store.h for the key schema.
 *
 * Optimised for one synced WriteBatch per block (group commit): a 32 MiB write buffer so that a
 * block of 100,000 records does not stall on a memtable switch, a bloom filter so that the many
 * point reads of absent keys (idempotency checks, first sight of an account) rarely touch the
 * disk, and a 64 MiB block cache for the recent blocks and hot accounts. LevelDB's own error
 * text goes to the log (category "store"); callers get a generic message and SBX_EIO.
 */
#include "ledger/store.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <leveldb/c.h>

#include "ledger/block.h"
#include "ledger/tx.h"
#include "util/log.h"

#define CACHE_SIZE (64u * 1024 * 1024)
#define WRITE_BUFFER_SIZE (32u * 1024 * 1024)
#define MAX_OPEN_FILES 512
#define BLOOM_BITS 10

#define TIP_SIZE (8 + 32 + 32)
#define LOCATION_MAX (2 * BUF_VARINT_MAX) /* varint height, varint index */

struct ledger_store {
    leveldb_t *db;
    leveldb_options_t *opts;
    leveldb_cache_t *cache;
    leveldb_filterpolicy_t *filter;
    leveldb_readoptions_t *ropts;
    leveldb_readoptions_t *ropts_verify; /* checksums on, does not fill the cache */
    leveldb_writeoptions_t *wsync;
    leveldb_writeoptions_t *wnosync;
    _Atomic uint64_t written[LEDGER_STORE_KINDS]; /* bytes committed, by key kind */
    _Atomic int write_failure; /* enum write_failure of the first failed commit (any thread) */
};

/* Why a commit failed, as far as LevelDB's message tells (it names strerror's text). */
enum write_failure { WF_NONE, WF_DISK_FULL, WF_IO, WF_OTHER };
static const char *const write_failure_names[] = {NULL, "disk_full", "io_error", "write_error"};

struct ledger_store_batch {
    leveldb_writebatch_t *wb;
    uint64_t written[LEDGER_STORE_KINDS]; /* key and value bytes, by key kind */
};

/* Count one write of the batch under its key's kind. */
static void
batch_count(struct ledger_store_batch *b, const void *key, size_t klen, size_t vlen)
{
    b->written[klen > 0 ? *(const uint8_t *)key : 0] += klen + vlen;
}

/* Log LevelDB's message (then free it) and give the caller a generic one. */
static int
db_error(char *errp, const char *what, struct sbx_err *err)
{
    LOG_ERROR(LOG_STORE, "%s: %s", what, errp ? errp : "unknown LevelDB error");
    leveldb_free(errp);
    return sbx_err_set(err, SBX_EIO, "ledger store: %s failed (see the log)", what);
}

/* A point read with the given read options. SBX_ENOTFOUND if absent; `val` is reset first. */
static int
db_get(struct ledger_store *s, const leveldb_readoptions_t *ro, const void *key, size_t klen,
       struct buf *val, struct sbx_err *err)
{
    char *errp = NULL, *v;
    size_t vlen = 0;
    int rc;

    buf_reset(val);
    v = leveldb_get(s->db, ro, key, klen, &vlen, &errp);
    if (errp != NULL)
        return db_error(errp, "read", err);
    if (v == NULL)
        return sbx_err_set(err, SBX_ENOTFOUND, "ledger store: no such record");
    rc = buf_put(val, v, vlen);
    leveldb_free(v);
    if (rc)
        return sbx_err_set(err, rc, "ledger store: record of %zu bytes does not fit the buffer",
                           vlen);
    return SBX_OK;
}

/* ---- open and close ---- */

/* 1 if dir/CURRENT exists (a LevelDB database is there). */
static int
db_exists(const char *dir)
{
    struct stat st;
    size_t n = strlen(dir) + sizeof("/CURRENT");
    char *path = malloc(n);
    int r;

    if (path == NULL)
        return 0;
    snprintf(path, n, "%s/CURRENT", dir);
    r = stat(path, &st) == 0;
    free(path);
    return r;
}

/* 1 if the database holds no record at all. */
static int
db_empty(struct ledger_store *s)
{
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ropts);
    int empty;

    leveldb_iter_seek_to_first(it);
    empty = !leveldb_iter_valid(it);
    leveldb_iter_destroy(it);
    return empty;
}

/* Check the schema record; write it into a new (empty) store when `create`. */
static int
schema_check(struct ledger_store *s, const char *dir, int create, struct sbx_err *err)
{
    uint8_t v[4], key[LEDGER_STORE_KEY_META_MAX];
    size_t klen = ledger_store_key_meta_schema(key);
    struct buf val;
    char *errp = NULL;
    uint32_t version;
    int rc;

    buf_init(&val, 64);
    rc = db_get(s, s->ropts, key, klen, &val, err);
    if (rc == SBX_OK) {
        if (val.len != 4) {
            rc = sbx_err_set(err, SBX_ECORRUPT,
                             "ledger store in %s: schema record of %zu bytes, expected 4", dir,
                             val.len);
            goto out;
        }
        version = buf_load_u32(val.data);
        if (version < LEDGER_STORE_SCHEMA) {
            rc = sbx_err_set(err, SBX_ECORRUPT,
                             "ledger store in %s was made by an older version (schema %lu; this "
                             "program uses %d): delete it or run the older sbxd",
                             dir, (unsigned long)version, LEDGER_STORE_SCHEMA);
            goto out;
        }
        if (version != LEDGER_STORE_SCHEMA) {
            rc = sbx_err_set(err, SBX_ECORRUPT,
                             "ledger store in %s has schema version %lu; this program uses "
                             "version %d",
                             dir, (unsigned long)version, LEDGER_STORE_SCHEMA);
            goto out;
        }
        goto out;
    }
    if (rc != SBX_ENOTFOUND)
        goto out;
    if (!db_empty(s) || !create) {
        rc = sbx_err_set(err, SBX_ECORRUPT,
                         "ledger store in %s has no schema version record (version %d expected)",
                         dir, LEDGER_STORE_SCHEMA);
        goto out;
    }
    buf_store_u32(v, LEDGER_STORE_SCHEMA);
    leveldb_put(s->db, s->wsync, (const char *)key, klen, (const char *)v, sizeof(v), &errp);
    if (errp != NULL) {
        rc = db_error(errp, "writing the schema version", err);
        goto out;
    }
    LOG_INFO(LOG_STORE, "created ledger store in %s (schema version %d)", dir, LEDGER_STORE_SCHEMA);
    rc = SBX_OK;
out:
    buf_release(&val);
    return rc;
}

int
ledger_store_open(struct ledger_store **out, const char *dir, int create, struct sbx_err *err)
{
    struct ledger_store *s;
    char *errp = NULL;
    int rc;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "ledger store: out of memory");
    s->opts = leveldb_options_create();
    s->cache = leveldb_cache_create_lru(CACHE_SIZE);
    s->filter = leveldb_filterpolicy_create_bloom(BLOOM_BITS);
    s->ropts = leveldb_readoptions_create();
    s->ropts_verify = leveldb_readoptions_create();
    s->wsync = leveldb_writeoptions_create();
    s->wnosync = leveldb_writeoptions_create();
    leveldb_options_set_create_if_missing(s->opts, create ? 1 : 0);
    leveldb_options_set_filter_policy(s->opts, s->filter);
    leveldb_options_set_cache(s->opts, s->cache);
    leveldb_options_set_write_buffer_size(s->opts, WRITE_BUFFER_SIZE);
    leveldb_options_set_max_open_files(s->opts, MAX_OPEN_FILES);
    /* No block compression: records are hashes, signatures and integers, which Snappy barely
     * shrinks, while compressing and decompressing them in every compaction cost about 5% of
     * the node's CPU under load (perf, sbx-bench at 8,000 trades/s). */
    leveldb_options_set_compression(s->opts, leveldb_no_compression);
    leveldb_readoptions_set_verify_checksums(s->ropts_verify, 1);
    leveldb_readoptions_set_fill_cache(s->ropts_verify, 0);
    leveldb_writeoptions_set_sync(s->wsync, 1);
    leveldb_writeoptions_set_sync(s->wnosync, 0);

    s->db = leveldb_open(s->opts, dir, &errp);
    if (errp != NULL) {
        s->db = NULL;
        if (!create && !db_exists(dir)) {
            LOG_DEBUG(LOG_STORE, "opening %s: %s", dir, errp);
            rc = sbx_err_set(err, SBX_ENOTFOUND, "no ledger store in %s", dir);
        } else {
            LOG_ERROR(LOG_STORE, "opening %s: %s", dir, errp);
            rc = sbx_err_set(err, SBX_EIO, "cannot open the ledger store in %s (see the log)", dir);
        }
        leveldb_free(errp);
        goto out;
    }
    rc = schema_check(s, dir, create, err);
    if (rc)
        goto out;
    *out = s;
    rc = SBX_OK;
out:
    if (rc)
        ledger_store_close(s);
    return rc;
}

void
ledger_store_close(struct ledger_store *s)
{
    if (s == NULL)
        return;
    /* the database first: it uses the cache and the filter */
    if (s->db != NULL)
        leveldb_close(s->db);
    if (s->opts != NULL)
        leveldb_options_destroy(s->opts);
    if (s->filter != NULL)
        leveldb_filterpolicy_destroy(s->filter);
    if (s->cache != NULL)
        leveldb_cache_destroy(s->cache);
    if (s->ropts != NULL)
        leveldb_readoptions_destroy(s->ropts);
    if (s->ropts_verify != NULL)
        leveldb_readoptions_destroy(s->ropts_verify);
    if (s->wsync != NULL)
        leveldb_writeoptions_destroy(s->wsync);
    if (s->wnosync != NULL)
        leveldb_writeoptions_destroy(s->wnosync);
    free(s);
}

/* ---- tip and batches ---- */

int
ledger_store_tip(struct ledger_store *s, struct ledger_tip *tip, struct sbx_err *err)
{
    uint8_t key[LEDGER_STORE_KEY_META_MAX];
    struct buf val;
    int rc;

    memset(tip, 0, sizeof(*tip));
    buf_init(&val, TIP_SIZE);
    rc = db_get(s, s->ropts, key, ledger_store_key_meta_tip(key), &val, NULL);
    if (rc == SBX_ENOTFOUND) {
        rc = sbx_err_set(err, SBX_ENOTFOUND, "ledger store: no block yet");
        goto out;
    }
    if (rc == SBX_ETOOLONG || (rc == SBX_OK && val.len != TIP_SIZE)) {
        rc = sbx_err_set(err, SBX_ECORRUPT, "ledger store: malformed tip record");
        goto out;
    }
    if (rc) {
        rc = sbx_err_set(err, rc, "ledger store: cannot read the tip");
        goto out;
    }
    tip->height = buf_load_u64(val.data);
    memcpy(tip->hash, val.data + 8, 32);
    memcpy(tip->state_digest, val.data + 40, 32);
out:
    buf_release(&val);
    return rc;
}

struct ledger_store_batch *
ledger_store_batch_new(void)
{
    struct ledger_store_batch *b = malloc(sizeof(*b));

    if (b == NULL)
        return NULL;
    memset(b->written, 0, sizeof(b->written));
    b->wb = leveldb_writebatch_create();
    return b;
}

void
ledger_store_batch_free(struct ledger_store_batch *b)
{
    if (b == NULL)
        return;
    leveldb_writebatch_destroy(b->wb);
    free(b);
}

void
ledger_store_batch_put(struct ledger_store_batch *b, const void *key, size_t klen, const void *val,
                       size_t vlen)
{
    batch_count(b, key, klen, vlen);
    leveldb_writebatch_put(b->wb, key, klen, val, vlen);
}

void
ledger_store_batch_del(struct ledger_store_batch *b, const void *key, size_t klen)
{
    batch_count(b, key, klen, 0);
    leveldb_writebatch_delete(b->wb, key, klen);
}

/* In the set's order; LevelDB applies a batch in order, so even an unfinished set ends with the
 * last write to each key. */
void
ledger_store_batch_changes(struct ledger_store_batch *b, const struct ledger_changes *c)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct ledger_change *e = &c->v[i];

        if (e->del)
            ledger_store_batch_del(b, e->key, e->klen);
        else
            ledger_store_batch_put(b, e->key, e->klen, e->val, e->vlen);
    }
}

void
ledger_store_batch_block(struct ledger_store_batch *b, const struct ledger_tip *tip,
                         const uint8_t *block, size_t len, const uint8_t (*txids)[32], size_t ntx)
{
    uint8_t key[LEDGER_STORE_KEY_HASH_LEN], val[TIP_SIZE];
    size_t klen;

    klen = ledger_store_key_block(key, tip->height);
    ledger_store_batch_put(b, key, klen, block, len);

    klen = ledger_store_key_hash(key, tip->hash);
    buf_store_u64(val, tip->height);
    ledger_store_batch_put(b, key, klen, val, 8);

    for (size_t i = 0; i < ntx; i++) {
        size_t vlen = buf_store_varint(val, tip->height);

        vlen += buf_store_varint(val + vlen, i);
        klen = ledger_store_key_tx(key, txids[i]);
        ledger_store_batch_put(b, key, klen, val, vlen);
    }

    buf_store_u64(val, tip->height);
    memcpy(val + 8, tip->hash, 32);
    memcpy(val + 40, tip->state_digest, 32);
    klen = ledger_store_key_meta_tip(key);
    ledger_store_batch_put(b, key, klen, val, TIP_SIZE);
}

void
ledger_store_batch_append(struct ledger_store_batch *dst, const struct ledger_store_batch *src)
{
    leveldb_writebatch_append(dst->wb, src->wb);
    for (size_t i = 0; i < LEDGER_STORE_KINDS; i++)
        dst->written[i] += src->written[i];
}

/* Remember why the first commit failed (later ones keep the first cause). */
static void
note_write_failure(struct ledger_store *s, const char *msg)
{
    int kind = WF_OTHER, none = WF_NONE;

    if (strstr(msg, "No space left") != NULL || strstr(msg, "quota exceeded") != NULL)
        kind = WF_DISK_FULL;
    else if (strstr(msg, "Input/output error") != NULL)
        kind = WF_IO;
    atomic_compare_exchange_strong(&s->write_failure, &none, kind);
}

int
ledger_store_commit(struct ledger_store *s, struct ledger_store_batch *b, int sync,
                    struct sbx_err *err)
{
    char *errp = NULL;

    leveldb_write(s->db, sync ? s->wsync : s->wnosync, b->wb, &errp);
    if (errp != NULL) {
        note_write_failure(s, errp);
        return db_error(errp, "commit", err);
    }
    for (size_t i = 0; i < LEDGER_STORE_KINDS; i++)
        if (b->written[i] != 0)
            atomic_fetch_add_explicit(&s->written[i], b->written[i], memory_order_relaxed);
    return SBX_OK;
}

const char *
ledger_store_write_failure(struct ledger_store *s)
{
    return write_failure_names[atomic_load(&s->write_failure)];
}

void
ledger_store_written(struct ledger_store *s, uint64_t out[static LEDGER_STORE_KINDS])
{
    for (size_t i = 0; i < LEDGER_STORE_KINDS; i++)
        out[i] = atomic_load_explicit(&s->written[i], memory_order_relaxed);
}

/* ---- point reads ---- */

int
ledger_store_get(struct ledger_store *s, const void *key, size_t klen, struct buf *val,
                 struct sbx_err *err)
{
    return db_get(s, s->ropts, key, klen, val, err);
}

int
ledger_store_get_block(struct ledger_store *s, uint64_t height, struct buf *out,
                       struct sbx_err *err)
{
    uint8_t key[LEDGER_STORE_KEY_BLOCK_LEN];
    int rc;

    rc = db_get(s, s->ropts, key, ledger_store_key_block(key, height), out, err);
    if (rc == SBX_ENOTFOUND)
        return sbx_err_set(err, rc, "no block at height %llu", (unsigned long long)height);
    return rc;
}

/* Read a record that must be exactly `vlen` bytes into `val`: SBX_ENOTFOUND with the message
 * `absent`, SBX_ECORRUPT naming `what` if its length is wrong. */
static int
get_fixed(struct ledger_store *s, const uint8_t *key, size_t klen, uint8_t *val, size_t vlen,
          const char *absent, const char *what, struct sbx_err *err)
{
    struct buf b;
    int rc;

    buf_init(&b, 64);
    rc = db_get(s, s->ropts, key, klen, &b, err);
    if (rc == SBX_ENOTFOUND)
        rc = sbx_err_set(err, rc, "%s", absent);
    else if (rc == SBX_OK && b.len != vlen)
        rc = sbx_err_set(err, SBX_ECORRUPT, "ledger store: malformed %s record", what);
    if (rc == SBX_OK)
        memcpy(val, b.data, vlen);
    buf_release(&b);
    return rc;
}

int
ledger_store_height_of(struct ledger_store *s, const uint8_t hash[static 32], uint64_t *height,
                       struct sbx_err *err)
{
    uint8_t key[LEDGER_STORE_KEY_HASH_LEN], val[8];
    int rc = get_fixed(s, key, ledger_store_key_hash(key, hash), val, sizeof(val),
                       "no block with this hash", "block hash index", err);

    *height = rc ? 0 : buf_load_u64(val);
    return rc;
}

int
ledger_store_tx_location(struct ledger_store *s, const uint8_t txid[static 32], uint64_t *height,
                         uint32_t *index, struct sbx_err *err)
{
    uint8_t key[LEDGER_STORE_KEY_HASH_LEN];
    uint64_t h = 0, x = 0;
    size_t n = 0, m = 0;
    struct buf v;
    int rc;

    buf_init(&v, LOCATION_MAX);
    rc = db_get(s, s->ropts, key, ledger_store_key_tx(key, txid), &v, err);
    if (rc == SBX_ENOTFOUND)
        rc = sbx_err_set(err, rc, "no such transaction");
    if (rc == SBX_OK) {
        n = buf_load_varint(v.data, v.len, &h);
        m = n ? buf_load_varint(v.data + n, v.len - n, &x) : 0;
        if (m == 0 || n + m != v.len || x > UINT32_MAX)
            rc = sbx_err_set(err, SBX_ECORRUPT, "ledger store: malformed transaction index record");
    }
    buf_release(&v);
    *height = rc ? 0 : h;
    *index = rc ? 0 : (uint32_t)x;
    return rc;
}

/* ---- scans ---- */

/* Bytewise order of two keys (LevelDB's default comparator). */
static int
bytes_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int r = n ? memcmp(a, b, n) : 0;

    if (r)
        return r;
    return (alen > blen) - (alen < blen);
}

/* Where `key` lies relative to the keys that start with `prefix`: -1 before them, 0 among them,
 * 1 after them. */
static int
prefix_pos(const uint8_t *key, size_t klen, const uint8_t *prefix, size_t plen)
{
    int r;

    if (plen == 0)
        return 0;
    r = memcmp(key, prefix, klen < plen ? klen : plen);
    if (r < 0 || (r == 0 && klen < plen))
        return -1;
    return r > 0 ? 1 : 0;
}

/* The smallest key greater than every key starting with `prefix`: the prefix with its last
 * non-0xff byte incremented and what follows dropped. 0 if there is none (all 0xff). */
static size_t
prefix_successor(const uint8_t *prefix, size_t plen, uint8_t *out)
{
    size_t n = plen;

    while (n > 0 && prefix[n - 1] == 0xff)
        n--;
    if (n == 0)
        return 0;
    memcpy(out, prefix, n);
    out[n - 1]++;
    return n;
}

int
ledger_store_scan(struct ledger_store *s, const void *prefix, size_t plen, const void *start,
                  size_t slen, int reverse, ledger_store_scan_fn fn, void *ctx, struct sbx_err *err)
{
    leveldb_iterator_t *it;
    uint8_t *succ = NULL;
    const uint8_t *bound;
    size_t blen;
    char *errp = NULL;
    int rc;

    /* Begin inside the prefix's range even when `start` lies outside it. */
    it = leveldb_create_iterator(s->db, s->ropts);
    if (!reverse) {
        if (start != NULL && bytes_cmp(start, slen, prefix, plen) > 0)
            leveldb_iter_seek(it, start, slen);
        else if (plen > 0)
            leveldb_iter_seek(it, prefix, plen);
        else
            leveldb_iter_seek_to_first(it);
    } else {
        succ = malloc(plen ? plen : 1);
        if (succ == NULL) {
            rc = sbx_err_set(err, SBX_ENOMEM, "ledger store: out of memory");
            goto out;
        }
        blen = prefix_successor(prefix, plen, succ);
        bound = blen ? succ : NULL;
        if (start != NULL && (bound == NULL || bytes_cmp(start, slen, bound, blen) < 0)) {
            bound = start;
            blen = slen;
        }
        if (bound != NULL) {
            /* the last key < bound */
            leveldb_iter_seek(it, (const char *)bound, blen);
            if (leveldb_iter_valid(it))
                leveldb_iter_prev(it);
            else
                leveldb_iter_seek_to_last(it);
        } else {
            leveldb_iter_seek_to_last(it);
        }
    }
    for (; leveldb_iter_valid(it); reverse ? leveldb_iter_prev(it) : leveldb_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &klen);
        const uint8_t *v = (const uint8_t *)leveldb_iter_value(it, &vlen);
        int pos = prefix_pos(k, klen, prefix, plen);

        if (pos != 0) {
            /* before the range going forward (a start below the prefix), or after it going
             * back (a start above it): skip; past the range: done */
            if ((pos < 0) != (reverse != 0))
                continue;
            break;
        }
        if (fn(ctx, k, klen, v, vlen) != 0)
            break;
    }
    leveldb_iter_get_error(it, &errp);
    if (errp != NULL) {
        rc = db_error(errp, "scan", err);
        goto out;
    }
    rc = SBX_OK;
out:
    free(succ);
    leveldb_iter_destroy(it);
    return rc;
}

int
ledger_store_scan_kind(struct ledger_store *s, uint8_t kind, ledger_store_scan_fn fn, void *ctx,
                       struct sbx_err *err)
{
    return ledger_store_scan(s, &kind, 1, NULL, 0, 0, fn, ctx, err);
}

/* ---- verification ---- */

/* Read and decode the block at `height` (with checksums verified) into `b`, whose entries point
 * into `raw`. */
static int
verify_load(struct ledger_store *s, uint64_t height, struct buf *raw, struct ledger_block *b,
            struct sbx_err *err)
{
    uint8_t key[LEDGER_STORE_KEY_BLOCK_LEN];
    struct sbx_err e;
    int rc;

    memset(b, 0, sizeof(*b));
    rc = db_get(s, s->ropts_verify, key, ledger_store_key_block(key, height), raw, err);
    if (rc == SBX_ENOTFOUND || rc == SBX_ETOOLONG)
        return sbx_err_set(err, SBX_ECORRUPT, "block %llu: %s", (unsigned long long)height,
                           rc == SBX_ENOTFOUND ? "missing" : "over the size limit");
    if (rc)
        return rc;
    sbx_err_clear(&e);
    rc = ledger_block_decode(b, raw->data, raw->len, &e);
    if (rc)
        return sbx_err_set(err, rc == SBX_ENOMEM ? rc : SBX_ECORRUPT, "block %llu: %s (%s)",
                           (unsigned long long)height, e.msg, sbx_rc_name(rc));
    if (b->hdr.height != height) {
        ledger_block_release(b);
        return sbx_err_set(err, SBX_ECORRUPT, "block %llu: header says height %llu",
                           (unsigned long long)height, (unsigned long long)b->hdr.height);
    }
    return SBX_OK;
}

/* Every check of one stored block but the link to its parent. */
static int
verify_block(struct ledger_store *s, const struct ledger_block *b, const uint8_t hash[static 32],
             const struct ledger_tip *tip, struct sbx_err *err)
{
    unsigned long long h = (unsigned long long)b->hdr.height;
    struct sbx_err e;
    uint8_t txid[32];
    uint64_t at;
    uint32_t idx;
    int rc;

    sbx_err_clear(&e);
    rc = ledger_block_check(b, &e);
    if (rc)
        return sbx_err_set(err, rc == SBX_ENOMEM ? rc : SBX_ECORRUPT, "block %llu: %s (%s)", h,
                           e.msg, sbx_rc_name(rc));
    rc = ledger_store_height_of(s, hash, &at, &e);
    if (rc == SBX_EIO || rc == SBX_ENOMEM)
        return sbx_err_set(err, rc, "block %llu: %s", h, e.msg);
    if (rc || at != b->hdr.height)
        return sbx_err_set(err, SBX_ECORRUPT, "block %llu: hash index disagrees", h);
    if (b->hdr.height == tip->height && (memcmp(hash, tip->hash, 32) != 0 ||
                                         memcmp(b->hdr.state_digest, tip->state_digest, 32) != 0))
        return sbx_err_set(err, SBX_ECORRUPT, "block %llu: tip record disagrees", h);

    for (size_t i = 0; i < b->ntx; i++) {
        const struct ledger_block_entry *en = &b->entries[i];

        rc = ledger_tx_check_in_block(en->tx, en->tx_len, b->hdr.producer, txid, NULL, &e);
        if (rc)
            return sbx_err_set(err, rc == SBX_ENOMEM ? rc : SBX_ECORRUPT,
                               "block %llu, transaction %zu: %s (%s)", h, i, e.msg,
                               sbx_rc_name(rc));
        rc = ledger_store_tx_location(s, txid, &at, &idx, &e);
        if (rc == SBX_EIO || rc == SBX_ENOMEM)
            return sbx_err_set(err, rc, "block %llu: %s", h, e.msg);
        if (rc || at != b->hdr.height || idx != i)
            return sbx_err_set(err, SBX_ECORRUPT,
                               "block %llu, transaction %zu: transaction index disagrees", h, i);
    }
    return SBX_OK;
}

int
ledger_store_verify(struct ledger_store *s, uint64_t from, uint64_t to, uint64_t *checked,
                    uint64_t *failed_at, struct sbx_err *err)
{
    struct ledger_tip tip;
    struct ledger_block b;
    struct buf raw;
    uint8_t prev[32], hash[32];
    uint64_t h = from;
    int rc;

    *checked = 0;
    *failed_at = 0;
    memset(&b, 0, sizeof(b));
    buf_init(&raw, LEDGER_BLOCK_MAX_SIZE);
    rc = ledger_store_tip(s, &tip, err);
    if (rc == SBX_ENOTFOUND) {
        rc = SBX_OK; /* an empty store: nothing to check */
        goto out;
    }
    if (rc)
        goto out;
    if (to > tip.height)
        to = tip.height;
    if (from > to) {
        rc = SBX_OK;
        goto out;
    }
    /* the hash that block `from` must link to */
    memset(prev, 0, sizeof(prev));
    if (from > 0) {
        h = from - 1;
        rc = verify_load(s, h, &raw, &b, err);
        if (rc)
            goto out;
        ledger_block_hash(&b.hdr, prev);
        ledger_block_release(&b);
    }
    for (h = from; h <= to; h++) {
        rc = verify_load(s, h, &raw, &b, err);
        if (rc)
            goto out;
        if (memcmp(b.hdr.prev_hash, prev, 32) != 0) {
            if (h == 0)
                rc = sbx_err_set(err, SBX_ECORRUPT, "block 0: previous hash is not zero");
            else
                rc = sbx_err_set(err, SBX_ECORRUPT,
                                 "block %llu: previous hash does not match block %llu",
                                 (unsigned long long)h, (unsigned long long)(h - 1));
            goto out;
        }
        ledger_block_hash(&b.hdr, hash);
        rc = verify_block(s, &b, hash, &tip, err);
        if (rc)
            goto out;
        ledger_block_release(&b);
        memcpy(prev, hash, 32);
        (*checked)++;
        if (h == UINT64_MAX)
            break;
    }
    rc = SBX_OK;
out:
    if (rc)
        *failed_at = h;
    ledger_block_release(&b);
    buf_release(&raw);
    return rc;
}
