/* The chain: store + compliance engine (see chain.h). This file holds the chain object's life:
 * create, open (with -reindex, or loading the last state checkpoint and replaying the blocks
 * after it), reload after a refused block, close; the replay check of verifychain; and the
 * accessors. Building a block is in chain_build.c, following in chain_apply.c, the other
 * parts are listed in chain_internal.h.
 *
 * Threads: open/create/close on the thread that starts or stops the node; reload and the
 * accessors of the engine, store and tip on the sequencer; node_chain_replay_check on the
 * verifychain thread (it reads the store, which is thread-safe, and the pool);
 * node_chain_last_substantive on any thread.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/locate.h"
#include "node/chain_internal.h"
#include "util/datadir.h"
#include "util/log.h"
#include "util/par.h"

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* Remove a scratch directory tree (verifychain's replay store). */
static void
rmtree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int
node_chain_stored_header(struct node_chain *c, uint64_t height, struct ledger_block_header *h,
                         struct sbx_err *err)
{
    return ledger_locate_header(c->store, height, h, err);
}

int
node_chain_hash_lookup(void *ctx, uint64_t height, uint8_t hash[32])
{
    struct node_chain *c = ctx;
    struct ledger_block_header h;

    if (c->tip.height == UINT64_MAX || height > c->tip.height)
        return 0;
    if (c->recent[height % RECENT_HASHES].height1 == height + 1) {
        memcpy(hash, c->recent[height % RECENT_HASHES].hash, 32);
        return 1;
    }
    if (node_chain_stored_header(c, height, &h, NULL) != SBX_OK)
        return 0;
    ledger_block_hash(&h, hash);
    return 1;
}

static void
chain_free(struct node_chain *c)
{
    if (c == NULL)
        return;
    cmp_engine_free(c->eng);
    ledger_store_close(c->store);
    ledger_tx_release(&c->genesis);
    buf_release(&c->txs);
    free(c->e);
    free(c->txids);
    free(c->balerts);
    ledger_store_batch_free(c->batch);
    node_chain_ids_release(c);
    node_chain_checkpoint_release(c);
    free(c->dir);
    free(c);
}

void
node_chain_close(struct node_chain *c)
{
    chain_free(c);
}

struct node_chain *
node_chain_alloc(const char *dir)
{
    struct node_chain *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->dir = strdup(dir);
    if (c->dir == NULL) {
        free(c);
        return NULL;
    }
    node_chain_ids_init(c);
    node_chain_checkpoint_init(c);
    c->sync_writes = 1;
    buf_init(&c->txs, LEDGER_BLOCK_MAX_SIZE);
    return c;
}

static int replay_after_checkpoint(struct node_chain *c, struct sbx_err *err);

/* Make the chain in `dir` from the genesis block; `dir` may exist without a chain. */
static int
create_in(const char *dir, const uint8_t *genesis_block, size_t len, struct sbx_err *err)
{
    struct node_chain *c = node_chain_alloc(dir);
    struct ledger_tip tip;
    int rc;

    if (c == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    rc = ledger_store_open(&c->store, dir, 1, err);
    if (rc)
        goto out;
    if (ledger_store_tip(c->store, &tip, NULL) == SBX_OK) {
        rc = sbx_err_set(err, SBX_ECONFLICT, "%s already holds a chain", dir);
        goto out;
    }
    c->tip.height = UINT64_MAX; /* "before genesis" for node_chain_apply */
    rc = node_chain_apply(c, genesis_block, len, NULL, err);
    if (rc)
        goto out;
    /* LevelDB syncs the entries of its own directory, not the store's (nor the keys') entry in
     * the datadir: without this a power cut can take the whole chain away. */
    rc = datadir_sync_parent(dir, err);
out:
    chain_free(c);
    return rc;
}

/* Sync the directory that holds `path`, so that a rename into it is durable. */
static int
sync_parent(const char *path, struct sbx_err *err)
{
    char *dir = strdup(path), *slash;
    int fd, rc = SBX_OK;

    if (dir == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    fd = open(slash != NULL ? dir : ".", O_RDONLY | O_DIRECTORY);
    if (fd < 0 || fsync(fd) != 0)
        rc =
            sbx_err_set(err, SBX_EIO, "cannot sync the directory of %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(dir);
    return rc;
}

int
node_chain_create(const char *dir, const uint8_t *genesis_block, size_t len, struct sbx_err *err)
{
    struct stat st;
    size_t n = strlen(dir) + sizeof(".new");
    char *tmp;
    int rc;

    if (stat(dir, &st) == 0)
        return create_in(dir, genesis_block, len, err);
    /* Made aside and renamed once block 0 is synced: a start that fails half-way (a full disk)
     * leaves no half-made store where the next start looks for a chain; that start removes the
     * leftover and begins again. */
    tmp = malloc(n);
    if (tmp == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    snprintf(tmp, n, "%s.new", dir);
    rmtree(tmp);
    rc = create_in(tmp, genesis_block, len, err);
    if (rc == SBX_OK && rename(tmp, dir) != 0)
        rc = sbx_err_set(err, SBX_EIO, "cannot rename %s to %s: %s", tmp, dir, strerror(errno));
    rc = rc ? rc : sync_parent(dir, err);
    free(tmp);
    return rc;
}

static int
reindex(struct node_chain *c, struct sbx_err *err)
{
    const struct node_chain_replay_opts o = {
        .src = c->store, .verify = 1, .write = 1, .progress = "reindex"};
    struct ledger_tip old;
    struct buf raw;
    uint64_t failed;
    int rc;

    rc = ledger_store_tip(c->store, &old, err);
    if (rc)
        return rc;
    /* every block's batch carries the tip, so a reindex that stopped (a crash, a bad block)
     * left the tip below blocks it had not reached yet: they are the chain too */
    buf_init(&raw, LEDGER_BLOCK_MAX_SIZE);
    while (old.height < UINT64_MAX &&
           ledger_store_get_block(c->store, old.height + 1, &raw, NULL) == SBX_OK)
        old.height++;
    buf_release(&raw);
    LOG_INFO(LOG_NODE, "reindex: rebuilding the state of %llu blocks",
             (unsigned long long)old.height + 1);
    rc = node_chain_checkpoint_wipe(c->store, err);
    if (rc)
        return rc;
    c->tip.height = UINT64_MAX;
    /* unsynced until the checkpoint at the end, which syncs everything before it: a reindex
     * that does not finish is simply run again */
    c->sync_writes = 0;
    rc = node_chain_replay(c, &o, 0, old.height, &failed, err);
    c->sync_writes = 1;
    if (rc == SBX_OK)
        rc = node_chain_checkpoint(c, err);
    return rc;
}

/* The pool that -reindex and the replay at open check blocks on (the node's own pool starts
 * later, with its threads): one thread per core besides the caller. */
static struct par_pool *
open_pool(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    struct par_pool *p = NULL;

    if (cores > 1 && par_pool_new(&p, (int)cores - 1) != SBX_OK)
        p = NULL; /* the caller checks alone */
    return p;
}

int
node_chain_open(struct node_chain **out, const char *dir, int reindex_all, int checkblocks,
                struct sbx_err *err)
{
    struct node_chain *c = node_chain_alloc(dir);
    struct buf raw;
    uint64_t checked, failed;
    int rc;

    *out = NULL;
    if (c == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    buf_init(&raw, LEDGER_BLOCK_MAX_SIZE);
    rc = ledger_store_open(&c->store, dir, 0, err);
    rc = rc ? rc : ledger_store_get_block(c->store, 0, &raw, err);
    if (rc == SBX_ENOTFOUND)
        rc = sbx_err_set(err, SBX_ENOTFOUND, "%s holds no genesis block", dir);
    rc = rc ? rc : node_chain_genesis_load(c, raw.data, raw.len, err);
    if (rc)
        goto out;
    c->pool = open_pool();
    if (reindex_all) {
        rc = reindex(c, err);
        if (rc)
            goto out;
    }
    {
        struct ledger_block_header h;

        rc = ledger_store_tip(c->store, &c->tip, err);
        rc = rc ? rc : node_chain_stored_header(c, c->tip.height, &h, err);
        if (rc)
            goto out;
        c->tip_time = h.time_ms;
    }
    /* unknown after a restart: attest the tip once */
    atomic_store_explicit(&c->last_substantive, c->tip.height, memory_order_relaxed);
    if (!reindex_all) { /* after a reindex the engine holds the state already */
        rc = cmp_engine_load(c->eng, c->store, err);
        rc = rc ? rc : node_chain_checkpoint_load_tally(c, err);
        rc = rc ? rc : replay_after_checkpoint(c, err);
        if (rc)
            goto out;
    }
    if (checkblocks > 0) {
        uint64_t from =
            c->tip.height >= (uint64_t)checkblocks ? c->tip.height - checkblocks + 1 : 0;

        rc = ledger_store_verify(c->store, from, c->tip.height, &checked, &failed, err);
        if (rc)
            goto out;
        LOG_INFO(LOG_NODE, "checked blocks %llu..%llu", (unsigned long long)from,
                 (unsigned long long)c->tip.height);
    }
    *out = c;
out:
    if (c != NULL) { /* the node sets its own pool (node_chain_set_pool) */
        par_pool_free(c->pool);
        c->pool = NULL;
    }
    if (rc)
        chain_free(c);
    buf_release(&raw);
    return rc;
}

/* ------------------------------------------------------------------ accessors */

struct cmp_engine *
node_chain_engine(struct node_chain *c)
{
    return c->eng;
}

struct ledger_store *
node_chain_store(struct node_chain *c)
{
    return c->store;
}

const struct ledger_tip *
node_chain_tip(const struct node_chain *c)
{
    return &c->tip;
}

const struct ledger_genesis *
node_chain_genesis(const struct node_chain *c)
{
    return &c->genesis.u.genesis;
}

const uint8_t *
node_chain_genesis_hash(const struct node_chain *c)
{
    return c->genesis_hash;
}

void
node_chain_set_pool(struct node_chain *c, struct par_pool *pool)
{
    c->pool = pool;
}

uint64_t
node_chain_last_substantive(const struct node_chain *c)
{
    return atomic_load_explicit(&c->last_substantive, memory_order_relaxed);
}

/* The engine holds the state of the last checkpoint: apply the stored blocks after it again
 * (every verdict and state digest is checked as it was the first time), then checkpoint. */
static int
replay_after_checkpoint(struct node_chain *c, struct sbx_err *err)
{
    struct ledger_tip tip = c->tip;
    struct ledger_block_header h;
    uint64_t sh = 0, failed;
    int rc;

    rc = node_chain_checkpoint_height(c, &sh, err);
    if (rc || sh == tip.height)
        return rc;
    if (sh > tip.height)
        return sbx_err_set(err, SBX_ECORRUPT, "state checkpoint at %llu is past the tip %llu",
                           (unsigned long long)sh, (unsigned long long)tip.height);
    rc = node_chain_stored_header(c, sh, &h, err);
    if (rc)
        return rc;
    c->tip.height = sh;
    ledger_block_hash(&h, c->tip.hash);
    memcpy(c->tip.state_digest, h.state_digest, 32);
    c->tip_time = h.time_ms;
    c->no_checkpoint = 1;
    /* the blocks' signatures were checked when they were first taken */
    rc = node_chain_replay(c, &(struct node_chain_replay_opts){.src = c->store}, sh + 1, tip.height,
                           &failed, err);
    c->no_checkpoint = 0;
    if (rc)
        rc = sbx_err_set(err, SBX_ECORRUPT, "replaying block %llu after the state checkpoint: %s",
                         (unsigned long long)failed, err ? err->msg : sbx_rc_name(rc));
    if (rc == SBX_OK && memcmp(c->tip.hash, tip.hash, 32) != 0)
        rc = sbx_err_set(err, SBX_ECORRUPT,
                         "replay after the state checkpoint did not reach the tip");
    if (rc == SBX_OK) {
        LOG_INFO(LOG_NODE, "state: checkpoint at %llu, replayed blocks %llu..%llu",
                 (unsigned long long)sh, (unsigned long long)sh + 1,
                 (unsigned long long)tip.height);
        rc = node_chain_checkpoint(c, err);
    }
    return rc;
}

static int
reload_engine(struct node_chain *c, struct sbx_err *err)
{
    struct buf raw;
    int rc;

    buf_init(&raw, LEDGER_BLOCK_MAX_SIZE);
    rc = ledger_store_get_block(c->store, 0, &raw, err);
    rc = rc ? rc : node_chain_genesis_load(c, raw.data, raw.len, err);
    if (rc == SBX_OK && ledger_store_tip(c->store, &c->tip, NULL) == SBX_OK) {
        struct ledger_block_header h;

        /* the state of the last checkpoint, then the blocks after it */
        node_chain_checkpoint_clear(c);
        node_chain_ids_clear(c);
        rc = node_chain_stored_header(c, c->tip.height, &h, err);
        if (rc == SBX_OK)
            c->tip_time = h.time_ms;
        rc = rc ? rc : cmp_engine_load(c->eng, c->store, err);
        rc = rc ? rc : node_chain_checkpoint_load_tally(c, err);
        rc = rc ? rc : replay_after_checkpoint(c, err);
    }
    buf_release(&raw);
    return rc;
}

int
node_chain_reload(struct node_chain *c, struct sbx_err *err)
{
    if (!c->apply_dirty)
        return SBX_OK;
    c->apply_dirty = 0;
    /* forget the ids of a refused block, then rebuild the engine from the store */
    node_chain_ids_written(c, UINT64_MAX, (const uint8_t(*)[NODE_CHAIN_IDKEY])c->block_ids,
                           c->nblock_ids);
    c->nblock_ids = 0;
    return reload_engine(c, err);
}

/* A fresh directory under $TMPDIR (or /tmp) for a scratch store; *out to free (and remove). */
static int
scratch_dir(char **out, struct sbx_err *err)
{
    const char *base = getenv("TMPDIR");
    size_t n = strlen(base ? base : "/tmp") + 32;
    char *dir = malloc(n);

    *out = NULL;
    if (dir == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    snprintf(dir, n, "%s/sbx-verify.XXXXXX", base ? base : "/tmp");
    *out = dir;
    if (mkdtemp(dir) == NULL) {
        *out = NULL;
        free(dir);
        return sbx_err_set(err, SBX_EIO, "cannot make a scratch directory");
    }
    return SBX_OK;
}

/* An empty chain in a store of its own in a new scratch directory (*tmpdir, to remove). */
static int
scratch_chain(struct node_chain **out, char **tmpdir, struct sbx_err *err)
{
    struct node_chain *r;
    char *db;
    size_t n;
    int rc;

    *out = NULL;
    rc = scratch_dir(tmpdir, err);
    if (rc)
        return rc;
    r = node_chain_alloc(*tmpdir);
    n = strlen(*tmpdir) + 8;
    db = malloc(n);
    if (r == NULL || db == NULL) {
        chain_free(r);
        free(db);
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    }
    snprintf(db, n, "%s/db", *tmpdir);
    rc = ledger_store_open(&r->store, db, 1, err);
    free(db);
    if (rc) {
        chain_free(r);
        return rc;
    }
    *out = r;
    return SBX_OK;
}

int
node_chain_replay_check(struct node_chain *c, uint64_t from, uint64_t to, uint64_t *checked,
                        uint64_t *failed_at, const atomic_int *cancel, struct sbx_err *err)
{
    struct node_chain_replay_opts o = {.src = c->store, .verify = 1, .write = 1, .cancel = cancel};
    char *tmpdir = NULL;
    struct node_chain *r = NULL;
    struct ledger_tip tip;
    uint64_t failed;
    int rc;

    *checked = 0;
    *failed_at = 0;
    rc = ledger_store_tip(c->store, &tip, err);
    if (rc)
        goto out;
    if (to > tip.height)
        to = tip.height;
    /* a scratch chain in a temporary store, fed the stored blocks */
    rc = scratch_chain(&r, &tmpdir, err);
    if (rc)
        goto out;
    r->tip.height = UINT64_MAX;
    r->pool = c->pool;
    r->sync_writes = 0; /* a scratch store */
    rc = node_chain_replay(r, &o, 0, to, &failed, err);
    if (rc && rc != SBX_EUNAVAIL)
        *failed_at = failed;
    /* the blocks from `from` on that applied */
    if (rc == SBX_OK)
        *checked = to >= from ? to - from + 1 : 0;
    else
        *checked = failed > from ? failed - from : 0;
out:
    if (r != NULL)
        r->pool = NULL; /* the chain's */
    chain_free(r);
    if (tmpdir) {
        rmtree(tmpdir);
        free(tmpdir);
    }
    return rc;
}
