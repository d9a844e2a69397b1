/* The event stream (`GET /events`): Server-Sent Events read from the store.
 *
 * The ledger events of block h are a list fixed by the block alone: its `block` event first,
 * then for each transaction in block order one event (`rejection` if its verdict is rejected,
 * else `directive`, `attestation` or `tx` by its type) followed by the compliance alerts it
 * raised (sorted by kind, then alert id). Event number p of that list has the id
 * h * 2^20 + p, so every node that holds the block gives its events the same ids, and a
 * stream is a cursor: `next`, the first ledger id not yet passed. Node alerts (what this node
 * saw) are not in the ledger: their id is "L:N", where L is the last ledger id the stream had
 * passed (next - 1) and N the node alert's number on this node, so that a reconnect with that
 * id resumes both.
 *
 * A stream behind the tip replays from the store a little at a time: it fills its connection's
 * output up to FILL_MARK and continues when libevent says the output has drained. A stream that
 * has caught up is live: each new durable block is pushed to it whole, and a live stream whose
 * output still holds more than max_queue bytes when new events come (a consumer that does not
 * read), or would hold more with them (a burst of blocks, a follower catching up), is
 * disconnected; it resumes by id and replays. What one stream holds is so bounded by max_queue
 * (and one event), and so is the work of one push. The rendered events of the last few blocks are
 * cached, so that streams reading the same block render it once. A heartbeat comment goes to every
 * stream each HEARTBEAT_S.
 *
 * Threads: a hub and its streams belong to one RPC loop (rpc/loop.h) and run on its thread.
 * The node calls the watch on the node's loop: a hub on that loop pumps at once, a foreign hub
 * (another loop) only records the tip and alert count (atomics) and activates its wake event,
 * and wake_cb pumps on the hub's own thread. rpc_events_new and rpc_events_free run on the
 * node's loop thread (they add and remove the watch), the latter after the hub's loop stopped.
 */
#include "rpc/events.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "compliance/engine.h"
#include "compliance/rules.h"
#include "ledger/locate.h"
#include "ledger/store.h"
#include "node/node.h"
#include "rpc/outcome.h"
#include "rpc/render.h"
#include "util/array.h"
#include "util/buf.h"
#include "util/log.h"

#define SEQ_MASK ((UINT64_C(1) << RPC_EVENTS_SHIFT) - 1)
#define HEARTBEAT_S 15
#define FILL_MARK (64u * 1024) /* a replaying stream is filled up to this many bytes queued */
#define CACHE_BLOCKS 8
#define CACHE_BYTES (32u * 1024 * 1024) /* then only the block in use is kept */
#define BLOCKS_PER_PUMP 64              /* blocks one replay step reads at most */
#define FRAME_FMT "id: %" PRIu64 "\nevent: %s\ndata: %s\n\n"
#define RETRY_MS 2000
#define MAX_SNDBUF (1024 * 1024)
#define WRITE_TIMEOUT_S 30 /* no progress writing: closed (the server's idle timeout) */
#define READ_CAP 4096      /* what a browser waits before it reconnects */

#define EVENT_TYPES(X)                                                                             \
    X(EV_BLOCK, "block")                                                                           \
    X(EV_TX, "tx")                                                                                 \
    X(EV_REJECTION, "rejection")                                                                   \
    X(EV_ALERT, "alert")                                                                           \
    X(EV_DIRECTIVE, "directive")                                                                   \
    X(EV_ATTESTATION, "attestation")                                                               \
    X(EV_NODE_ALERT, "node_alert")
#define EVENT_TYPE_CONSTANT(e, s) e,
#define EVENT_TYPE_NAME(e, s) s,
enum ev_type { EVENT_TYPES(EVENT_TYPE_CONSTANT) EV_NTYPES };
static const char *const type_names[] = {EVENT_TYPES(EVENT_TYPE_NAME)};
#define ALL_TOPICS ((1u << EV_NTYPES) - 1)

/* One rendered event: the whole SSE frame. */
struct ev_item {
    uint64_t seq;
    uint8_t type;
    char *frame;
    size_t len;
};

/* The rendered events of one block. */
struct ev_block {
    int used;
    uint64_t height;
    uint64_t stamp; /* for eviction: the oldest goes */
    struct ev_item *items;
    size_t n, cap;
};

struct ev_stream {
    struct rpc_events *hub;
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    uint64_t next;    /* the first ledger id not yet passed */
    uint64_t nalerts; /* node alerts passed (1..nalerts) */
    unsigned topics;  /* bit per enum ev_type */
    int live;         /* caught up: new blocks are pushed */
    TAILQ_ENTRY(ev_stream) link;
};

struct rpc_events {
    struct event_base *base;
    struct node *node; /* NULL once node_close has begun */
    struct node_watch watch;
    /* a hub on another loop than the node's: the watch (node's loop) leaves what it heard here
     * and activates `wake`, which pumps on the hub's loop */
    int foreign;
    _Atomic uint64_t heard_tip, heard_alerts;
    struct event *wake;
    struct ledger_store *store;
    struct ledger_asset_def assets[SBX_MAX_ASSETS];
    size_t nassets;
    size_t max_queue;
    struct event *heartbeat;
    struct event *resume; /* replays that stopped after BLOCKS_PER_PUMP blocks continue */
    uint64_t tip;         /* the durable tip's height, as last heard */
    uint64_t nalerts;
    TAILQ_HEAD(, ev_stream) streams;
    size_t nstreams;              /* this hub's */
    _Atomic size_t *nstreams_all; /* every hub's (the cap is on them): the server's count */
    struct ev_block cache[CACHE_BLOCKS];
    uint64_t clock;
};

/* ------------------------------------------------------------------ rendering */

static void
block_clear(struct ev_block *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->items[i].frame);
    free(b->items);
    memset(b, 0, sizeof(*b));
}

/* Append the frame of `data` (stolen) as event `type` with id `seq`. */
static int
frame_add(struct ev_block *b, uint64_t seq, int type, json_t *data)
{
    char *text = data != NULL ? json_dumps(data, JSON_COMPACT) : NULL;
    struct ev_item *it;
    int len;

    json_decref(data);
    if (text == NULL ||
        array_reserve(&b->items, b->n + 1, &b->cap, sizeof(*b->items), 16) != SBX_OK) {
        free(text);
        return SBX_ENOMEM;
    }
    it = &b->items[b->n];
    len = snprintf(NULL, 0, FRAME_FMT, seq, type_names[type], text);
    it->frame = len > 0 ? malloc((size_t)len + 1) : NULL;
    if (it->frame != NULL)
        snprintf(it->frame, (size_t)len + 1, FRAME_FMT, seq, type_names[type], text);
    free(text);
    if (it->frame == NULL)
        return SBX_ENOMEM;
    it->seq = seq;
    it->type = (uint8_t)type;
    it->len = (size_t)len;
    b->n++;
    return SBX_OK;
}

/* The compliance alerts raised by the transactions of one block. */
struct block_alerts {
    struct ledger_store *st;
    int64_t last; /* the block's latest transaction time */
    struct cmp_alert *a;
    size_t n, cap;
    int rc;
};

static int
alert_scan_cb(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct block_alerts *q = ctx;
    uint8_t rkey[LEDGER_STORE_KEY_HASH_LEN];
    struct buf rec;
    struct sbx_err err;

    (void)val;
    (void)vlen;
    if (klen != LEDGER_STORE_KEY_ALERT_INDEX_LEN)
        return 0;
    if ((int64_t)buf_load_u64(key + 2) > q->last)
        return 1;
    if (array_reserve(&q->a, q->n + 1, &q->cap, sizeof(*q->a), 16) != SBX_OK) {
        q->rc = SBX_ENOMEM;
        return 1;
    }
    buf_init(&rec, 1024);
    q->rc = ledger_store_get(q->st, rkey, ledger_store_key_alert(rkey, key + 10), &rec, &err);
    if (q->rc == SBX_OK)
        q->rc = cmp_alert_decode(&q->a[q->n], rec.data, rec.len, &err);
    buf_release(&rec);
    if (q->rc == SBX_ENOTFOUND) {
        q->rc = SBX_OK; /* an index entry without its record: skipped, as listalerts does */
        return 0;
    }
    if (q->rc)
        return 1;
    q->n++;
    return 0;
}

/* By kind, then id: the order of a transaction's alerts in the list. */
static int
alert_cmp(const void *x, const void *y)
{
    const struct cmp_alert *a = x, *b = y;

    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    return memcmp(a->id, b->id, 32);
}

/* Every alert whose time lies in [first, last] (the block's transaction times: an alert is
 * dated with its transaction). */
static int
alerts_in(struct block_alerts *q, int64_t first, struct sbx_err *err)
{
    for (int k = 1; q->rc == SBX_OK && k <= CMP_ALERT_MAX; k++) {
        uint8_t prefix[LEDGER_STORE_KEY_PAIR_LEN], start[LEDGER_STORE_KEY_ALERT_INDEX_LEN];
        size_t plen = ledger_store_prefix_alert_index(prefix, (uint8_t)k);
        size_t slen = ledger_store_key_seek(start, prefix, plen, first > 0 ? (uint64_t)first : 0);
        int rc = ledger_store_scan(q->st, prefix, plen, start, slen, 0, alert_scan_cb, q, err);

        if (rc)
            return rc;
    }
    if (q->rc)
        return sbx_err_set(err, q->rc, "reading the alerts of a block failed");
    if (q->n > 1)
        qsort(q->a, q->n, sizeof(*q->a), alert_cmp);
    return SBX_OK;
}

static int
entry_type(int txtype, const struct ledger_verdict *v)
{
    if (v->status == LEDGER_VERDICT_REJECTED)
        return EV_REJECTION;
    if (txtype == LEDGER_TX_DIRECTIVE)
        return EV_DIRECTIVE;
    if (txtype == LEDGER_TX_ATTESTATION)
        return EV_ATTESTATION;
    return EV_TX;
}

/* The transactions of the block in `k` (their ids in `txids`) and their alerts, from position
 * 1 on. */
static int
render_entries(struct rpc_events *ev, const struct ledger_locate *k, const uint8_t (*txids)[32],
               const struct block_alerts *q, struct ev_block *b, struct sbx_err *err)
{
    struct rpc_env env = {.node = ev->node, .assets = ev->assets, .nassets = ev->nassets};
    uint64_t seq = (k->height << RPC_EVENTS_SHIFT) + 1;
    int rc = SBX_OK;

    for (size_t i = 0; rc == SBX_OK && i < k->b.ntx; i++) {
        int type = 0;
        json_t *j = rpc_render_entry(&env, k, i, &type, err);

        if (j == NULL)
            return err->code ? err->code : SBX_ENOMEM;
        rc = frame_add(b, seq++, entry_type(type, &k->b.entries[i].verdict), j);
        for (size_t a = 0; rc == SBX_OK && a < q->n; a++) {
            if (memcmp(q->a[a].txid, txids[i], 32) == 0)
                rc = frame_add(b, seq++, EV_ALERT, rpc_render_alert(&q->a[a]));
        }
    }
    if (rc == SBX_OK && seq - (k->height << RPC_EVENTS_SHIFT) > SEQ_MASK)
        SBX_BUG("a block has more events than an id can number");
    return rc;
}

/* The txids of the block in `k` into `txids`, and the first and last transaction times. */
static int
block_txids(const struct ledger_locate *k, uint8_t (*txids)[32], int64_t *first, int64_t *last,
            struct sbx_err *err)
{
    *first = INT64_MAX;
    *last = INT64_MIN;
    for (size_t i = 0; i < k->b.ntx; i++) {
        struct ledger_tx tx;
        int rc = ledger_locate_entry(k, i, &tx, txids[i], NULL, err);

        if (rc)
            return rc;
        *first = tx.timestamp < *first ? tx.timestamp : *first;
        *last = tx.timestamp > *last ? tx.timestamp : *last;
        ledger_tx_release(&tx);
    }
    return SBX_OK;
}

/* Render the events of block `height` into `b` (cleared first). */
static int
render_block(struct rpc_events *ev, uint64_t height, struct ev_block *b, struct sbx_err *err)
{
    struct block_alerts q = {.st = ev->store};
    struct ledger_locate k;
    uint8_t(*txids)[32] = NULL;
    int64_t first;
    int rc;

    block_clear(b);
    ledger_locate_init(&k);
    rc = ledger_locate_block(ev->store, height, &k, err);
    if (rc)
        goto out;
    txids = calloc(k.b.ntx ? k.b.ntx : 1, sizeof(*txids));
    if (txids == NULL) {
        rc = sbx_err_set(err, SBX_ENOMEM, "out of memory");
        goto out;
    }
    rc = block_txids(&k, txids, &first, &q.last, err);
    if (rc == SBX_OK && k.b.ntx > 0)
        rc = alerts_in(&q, first, err);
    rc = rc ? rc : frame_add(b, height << RPC_EVENTS_SHIFT, EV_BLOCK, rpc_render_block_header(&k));
    rc = rc ? rc : render_entries(ev, &k, (const uint8_t(*)[32])txids, &q, b, err);
    if (rc == SBX_ENOMEM)
        sbx_err_set(err, rc, "out of memory");
out:
    free(txids);
    free(q.a);
    ledger_locate_release(&k);
    if (rc) {
        block_clear(b);
        return rc;
    }
    b->used = 1;
    b->height = height;
    return SBX_OK;
}

static size_t
block_bytes(const struct ev_block *b)
{
    size_t k = 0;

    for (size_t i = 0; i < b->n; i++)
        k += b->items[i].len;
    return k;
}

/* Forget the oldest blocks but `keep` while the cache holds more than CACHE_BYTES (a few large
 * blocks would otherwise pin their text). */
static void
cache_trim(struct rpc_events *ev, const struct ev_block *keep)
{
    for (;;) {
        struct ev_block *oldest = NULL;
        size_t total = 0;

        for (size_t i = 0; i < CACHE_BLOCKS; i++) {
            struct ev_block *b = &ev->cache[i];

            total += b->used ? block_bytes(b) : 0;
            if (b->used && b != keep && (oldest == NULL || b->stamp < oldest->stamp))
                oldest = b;
        }
        if (total <= CACHE_BYTES || oldest == NULL)
            return;
        block_clear(oldest);
    }
}

/* The rendered events of block `height` (cached), or NULL with `err` set. */
static const struct ev_block *
block_get(struct rpc_events *ev, uint64_t height, struct sbx_err *err)
{
    struct ev_block *victim = &ev->cache[0];

    for (size_t i = 0; i < CACHE_BLOCKS; i++) {
        struct ev_block *b = &ev->cache[i];

        if (b->used && b->height == height) {
            b->stamp = ++ev->clock;
            return b;
        }
        if (!b->used || (victim->used && b->stamp < victim->stamp))
            victim = b;
    }
    if (render_block(ev, height, victim, err) != SBX_OK)
        return NULL;
    victim->stamp = ++ev->clock;
    cache_trim(ev, victim);
    return victim;
}
/* ------------------------------------------------------------------ streams */

static size_t
queued(const struct ev_stream *st)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(st->evcon);

    return bev != NULL ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

static void drained_cb(struct evhttp_connection *evcon, void *arg);

/* Send what `buf` holds (emptied) on the stream. */
static void
stream_send(struct ev_stream *st, struct evbuffer *buf)
{
    if (evbuffer_get_length(buf) > 0)
        evhttp_send_reply_chunk_with_cb(st->req, buf, drained_cb, st);
}

/* Close the stream's connection (its close callback frees the stream). */
static void
stream_drop(struct ev_stream *st, const char *why)
{
    LOG_INFO(LOG_RPC, "event stream closed at id %" PRIu64 ": %s", st->next, why);
    evhttp_connection_free(st->evcon);
}

/* The "L:N" id of node alert `n` on stream `st`. */
static void
alert_id(const struct ev_stream *st, uint64_t n, char *out, size_t cap)
{
    if (st->next == 0)
        snprintf(out, cap, "-1:%" PRIu64, n);
    else
        snprintf(out, cap, "%" PRIu64 ":%" PRIu64, st->next - 1, n);
}

/* Node alerts after the stream's into `buf`. */
static void
add_node_alerts(struct rpc_events *ev, struct ev_stream *st, struct evbuffer *buf)
{
    json_t *all;

    if (st->nalerts >= ev->nalerts || ev->node == NULL)
        return;
    all = node_alerts_json(ev->node);
    for (size_t i = st->nalerts; all != NULL && i < json_array_size(all); i++) {
        char id[48], *text;

        if (!(st->topics & (1u << EV_NODE_ALERT)))
            continue;
        text = json_dumps(json_array_get(all, i), JSON_COMPACT);
        if (text == NULL)
            break;
        alert_id(st, i + 1, id, sizeof(id));
        evbuffer_add_printf(buf, "id: %s\nevent: %s\ndata: %s\n\n", id, type_names[EV_NODE_ALERT],
                            text);
        free(text);
    }
    st->nalerts = all != NULL ? json_array_size(all) : st->nalerts;
    json_decref(all);
}

/* Add ledger events from the stream's cursor into `buf` until the tip, or until `limit` bytes are
 * queued (with what the connection holds; then `*full` is 1), or after BLOCKS_PER_PUMP blocks
 * (the hub's resume event continues). SBX_OK, or a code if a block cannot be read. */
static int
add_ledger(struct rpc_events *ev, struct ev_stream *st, struct evbuffer *buf, size_t limit,
           int *full)
{
    size_t base = queued(st), blocks = 0;

    *full = 1;
    while (base + evbuffer_get_length(buf) < limit) {
        uint64_t h = st->next >> RPC_EVENTS_SHIFT;
        const struct ev_block *b;
        struct sbx_err err;
        size_t i;

        *full = 0;
        if (h > ev->tip) {
            st->live = 1;
            return SBX_OK;
        }
        if (blocks++ == BLOCKS_PER_PUMP) {
            /* blocks that topics filter down to little: let the loop serve others first */
            event_active(ev->resume, EV_TIMEOUT, 0);
            return SBX_OK;
        }
        *full = 1;
        sbx_err_clear(&err);
        b = block_get(ev, h, &err);
        if (b == NULL) {
            LOG_ERROR(LOG_RPC, "event stream: block %" PRIu64 ": %s", h, err.msg);
            return err.code ? err.code : SBX_EIO;
        }
        for (i = 0; i < b->n && base + evbuffer_get_length(buf) < limit; i++) {
            if (b->items[i].seq < st->next)
                continue;
            if (st->topics & (1u << b->items[i].type))
                evbuffer_add(buf, b->items[i].frame, b->items[i].len);
            st->next = b->items[i].seq + 1;
        }
        if (i == b->n)
            st->next = (h + 1) << RPC_EVENTS_SHIFT;
    }
    if ((st->next >> RPC_EVENTS_SHIFT) > ev->tip) {
        st->live = 1; /* the last block fitted just so */
        *full = 0;
    }
    return SBX_OK;
}

/* Bring the stream forward: node alerts, then ledger events (when live, all of them, else up to
 * FILL_MARK queued). A live stream that still holds more than max_queue queued when new events
 * come, or whose new events would take it over max_queue, is dropped instead (it resumes by id
 * and replays from the store, a step at a time). */
static void
stream_pump(struct ev_stream *st)
{
    struct rpc_events *ev = st->hub;
    struct evbuffer *buf;
    int rc, full;

    if (ev->node == NULL)
        return; /* node_close has begun: the store goes with it */
    buf = evbuffer_new();
    if (buf == NULL) {
        stream_drop(st, "out of memory");
        return;
    }
    if (st->live && queued(st) > ev->max_queue) {
        evbuffer_free(buf);
        stream_drop(st, "the consumer fell behind (more than the queue cap)");
        return;
    }
    add_node_alerts(ev, st, buf);
    rc = add_ledger(ev, st, buf, st->live ? ev->max_queue : FILL_MARK, &full);
    if (rc == SBX_OK && st->live && full) {
        evbuffer_free(buf); /* the new blocks alone are more than the cap */
        stream_drop(st, "the consumer fell behind (more than the queue cap)");
        return;
    }
    stream_send(st, buf);
    evbuffer_free(buf);
    if (rc)
        stream_drop(st, "a block could not be read");
}

/* The connection wrote everything queued: a replaying stream takes the next part. */
static void
drained_cb(struct evhttp_connection *evcon, void *arg)
{
    struct ev_stream *st = arg;

    (void)evcon;
    if (!st->live)
        stream_pump(st);
}

static void
pump_all(struct rpc_events *ev)
{
    struct ev_stream *st, *next;

    for (st = TAILQ_FIRST(&ev->streams); st != NULL; st = next) {
        next = TAILQ_NEXT(st, link); /* `st` may be dropped */
        stream_pump(st);
    }
}

/* Streams that stopped after BLOCKS_PER_PUMP blocks continue (the others return at once: they
 * wait for their output to drain, or have caught up). */
static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pump_all(arg);
}

static void
heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rpc_events *ev = arg;
    struct ev_stream *st, *next;

    (void)fd;
    (void)what;
    for (st = TAILQ_FIRST(&ev->streams); st != NULL; st = next) {
        struct evbuffer *buf = evbuffer_new();

        next = TAILQ_NEXT(st, link);
        if (buf == NULL)
            continue;
        evbuffer_add(buf, ": keepalive\n\n", 13);
        stream_send(st, buf);
        evbuffer_free(buf);
        if (st->live && queued(st) > ev->max_queue)
            stream_drop(st, "the consumer fell behind (more than the queue cap)");
    }
}

/* ------------------------------------------------------------------ the node's watch */

static void
on_tip(void *ctx, const struct ledger_tip *tip, int idle)
{
    struct rpc_events *ev = ctx;

    (void)idle;
    if (ev->foreign) {
        atomic_store(&ev->heard_tip, tip->height);
        event_active(ev->wake, EV_TIMEOUT, 0); /* thread-safe: the node enables evthread */
        return;
    }
    ev->tip = tip->height;
    pump_all(ev);
}

static void
on_node_alerts(void *ctx, uint64_t count)
{
    struct rpc_events *ev = ctx;

    if (ev->foreign) {
        atomic_store(&ev->heard_alerts, count);
        event_active(ev->wake, EV_TIMEOUT, 0);
        return;
    }
    ev->nalerts = count;
    pump_all(ev);
}

/* A foreign hub, on its own loop: what the watch heard. */
static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rpc_events *ev = arg;
    uint64_t tip = atomic_load(&ev->heard_tip), nalerts = atomic_load(&ev->heard_alerts);

    (void)fd;
    (void)what;
    ev->tip = tip > ev->tip ? tip : ev->tip;
    ev->nalerts = nalerts > ev->nalerts ? nalerts : ev->nalerts;
    pump_all(ev);
}

static void
on_close(void *ctx)
{
    struct rpc_events *ev = ctx;

    ev->node = NULL;
}

/* ------------------------------------------------------------------ requests */

/* A decimal u64 (the whole of `s`); SBX_OK or SBX_EINVAL. */
static int
parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;

    if (len == 0 || len > 20)
        return SBX_EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
            return SBX_EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return SBX_OK;
}

int
rpc_events_parse_id(const char *s, uint64_t *next, uint64_t *nalerts)
{
    const char *colon = strchr(s, ':');
    size_t llen = colon != NULL ? (size_t)(colon - s) : strlen(s);
    uint64_t l;

    if (llen == 2 && strncmp(s, "-1", 2) == 0) {
        *next = 0;
    } else {
        if (parse_u64(s, llen, &l) != SBX_OK || l == UINT64_MAX)
            return SBX_EINVAL;
        *next = l + 1;
    }
    if (colon != NULL)
        return parse_u64(colon + 1, strlen(colon + 1), nalerts);
    return SBX_OK;
}

int
rpc_events_parse_topics(const char *s, unsigned *out)
{
    *out = 0;
    while (*s != '\0') {
        size_t len = strcspn(s, ",");
        int found = 0;

        for (int t = 0; t < EV_NTYPES; t++) {
            if (strlen(type_names[t]) == len && strncmp(type_names[t], s, len) == 0) {
                *out |= 1u << t;
                found = 1;
            }
        }
        if (!found)
            return SBX_EINVAL;
        s += len;
        if (*s == ',')
            s++;
    }
    return *out != 0 ? SBX_OK : SBX_EINVAL;
}

/* Keep the kernel's send buffer of the stream's socket to about the queue cap too (at most 1
 * MiB), so that a consumer that does not read is noticed after roughly twice the cap rather than
 * after the several MiB the kernel would otherwise take on. */
static void
limit_kernel_queue(struct ev_stream *st, size_t cap)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(st->evcon);
    int fd = bev != NULL ? (int)bufferevent_getfd(bev) : -1;
    int size = cap < MAX_SNDBUF ? (int)cap : MAX_SNDBUF;

    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) != 0)
        LOG_DEBUG(LOG_RPC, "event stream: SO_SNDBUF: %s", strerror(errno));
}

/* Learn at once when the client goes: the server stopped reading the connection when the
 * request came (rpc/server.c); a stream reads again, without a read timeout (a stream is quiet
 * by nature) and into at most READ_CAP bytes that nobody looks at (evhttp ignores what comes
 * while it writes a reply), so that the end of the connection reaches evhttp and its close
 * callback. Writing keeps the server's idle timeout. */
static void
watch_close(struct ev_stream *st)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(st->evcon);
    struct timeval wt = {WRITE_TIMEOUT_S, 0};

    if (bev == NULL)
        return;
    bufferevent_set_timeouts(bev, NULL, &wt);
    bufferevent_setwatermark(bev, EV_READ, 0, READ_CAP);
    bufferevent_enable(bev, EV_READ);
}

/* Where a new stream starts, from its query and Last-Event-ID. NULL, or the reason it is
 * malformed. */
static const char *
stream_start(struct rpc_events *ev, struct evhttp_request *req, struct ev_stream *st)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
    const char *last = evhttp_find_header(evhttp_request_get_input_headers(req), "Last-Event-ID");
    struct evkeyvalq q;
    const char *from, *topics, *bad = NULL;

    TAILQ_INIT(&q);
    if (query != NULL && evhttp_parse_query_str(query, &q) != 0)
        return "malformed query\n";
    from = evhttp_find_header(&q, "from");
    topics = evhttp_find_header(&q, "topics");
    st->topics = ALL_TOPICS;
    st->nalerts = ev->nalerts;
    st->next = (ev->tip + 1) << RPC_EVENTS_SHIFT;
    if (topics != NULL && rpc_events_parse_topics(topics, &st->topics) != SBX_OK)
        bad = "topics: a comma-separated list of block, tx, rejection, alert, directive, "
              "attestation, node_alert\n";
    else if (last != NULL && last[0] != '\0') {
        if (rpc_events_parse_id(last, &st->next, &st->nalerts) != SBX_OK)
            bad = "Last-Event-ID: not an id of this stream\n";
    } else if (from != NULL && parse_u64(from, strlen(from), &st->next) != SBX_OK) {
        bad = "from: an event id (a decimal integer)\n";
    }
    if (st->nalerts > ev->nalerts)
        st->nalerts = ev->nalerts; /* an id of another node, or before a wipe */
    evhttp_clear_headers(&q);
    return bad;
}

int
rpc_events_serve(struct rpc_events *ev, struct evhttp_request *req, const char **why)
{
    struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
    struct ev_stream *st;
    const char *bad;
    char retry[32];
    struct evbuffer *buf;

    *why = NULL;

    if (ev->node == NULL || atomic_fetch_add(ev->nstreams_all, 1) >= RPC_EVENTS_MAX_STREAMS) {
        if (ev->node != NULL)
            atomic_fetch_sub(ev->nstreams_all, 1);
        LOG_WARN(LOG_RPC, "event stream refused: %zu open", atomic_load(ev->nstreams_all));
        *why = "too many event streams\n";
        return 503;
    }
    st = calloc(1, sizeof(*st));
    if (st == NULL) {
        atomic_fetch_sub(ev->nstreams_all, 1);
        *why = "out of memory\n";
        return 500;
    }
    bad = stream_start(ev, req, st);
    if (bad != NULL) {
        atomic_fetch_sub(ev->nstreams_all, 1);
        free(st);
        *why = bad;
        return 400;
    }
    st->hub = ev;
    st->req = req;
    st->evcon = evhttp_request_get_connection(req);
    limit_kernel_queue(st, ev->max_queue);
    evhttp_add_header(oh, "Content-Type", "text/event-stream; charset=utf-8");
    evhttp_add_header(oh, "Cache-Control", "no-cache");
    evhttp_add_header(oh, "X-Accel-Buffering", "no");
    evhttp_send_reply_start(req, 200, "OK");
    watch_close(st);
    TAILQ_INSERT_TAIL(&ev->streams, st, link);
    ev->nstreams++;
    buf = evbuffer_new();
    if (buf != NULL) {
        snprintf(retry, sizeof(retry), "retry: %d\n\n", RETRY_MS);
        evbuffer_add(buf, retry, strlen(retry));
        stream_send(st, buf);
        evbuffer_free(buf);
    }
    stream_pump(st);
    return 0;
}

void
rpc_events_closed(struct rpc_events *ev, struct evhttp_connection *evcon)
{
    struct ev_stream *st;

    if (ev == NULL)
        return;
    TAILQ_FOREACH(st, &ev->streams, link)
    {
        if (st->evcon == evcon)
            break;
    }
    if (st == NULL)
        return;
    TAILQ_REMOVE(&ev->streams, st, link);
    ev->nstreams--;
    atomic_fetch_sub(ev->nstreams_all, 1);
    LOG_DEBUG(LOG_RPC, "event stream gone at id %" PRIu64 " (%zu open)", st->next, ev->nstreams);
    if (evhttp_request_get_connection(st->req) == NULL)
        evhttp_request_free(st->req); /* detached from the connection: ours to free */
    free(st);
}

size_t
rpc_events_count(const struct rpc_events *ev)
{
    return ev->nstreams;
}

/* ------------------------------------------------------------------ lifecycle */

int
rpc_events_new(struct rpc_events **out, struct event_base *base, struct node *node, int foreign,
               _Atomic size_t *nstreams_all, const struct ledger_asset_def *assets, size_t nassets,
               size_t max_queue, struct sbx_err *err)
{
    struct rpc_events *ev = calloc(1, sizeof(*ev));
    struct ledger_tip tip;

    *out = NULL;
    if (ev == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    TAILQ_INIT(&ev->streams);
    ev->base = base;
    ev->node = node;
    ev->store = node_store(node);
    ev->nassets = nassets < SBX_MAX_ASSETS ? nassets : SBX_MAX_ASSETS;
    memcpy(ev->assets, assets, ev->nassets * sizeof(ev->assets[0]));
    ev->max_queue = max_queue > 0 ? max_queue : RPC_EVENTS_DEFAULT_MAX_QUEUE;
    node_tip(node, &tip);
    ev->tip = tip.height;
    ev->nalerts = node_alerts_total(node);
    ev->foreign = foreign;
    ev->nstreams_all = nstreams_all;
    atomic_init(&ev->heard_tip, ev->tip);
    atomic_init(&ev->heard_alerts, ev->nalerts);
    ev->heartbeat = event_new(base, -1, EV_PERSIST, heartbeat_cb, ev);
    ev->resume = event_new(base, -1, 0, resume_cb, ev);
    ev->wake = event_new(base, -1, 0, wake_cb, ev);
    if (ev->heartbeat == NULL || ev->resume == NULL || ev->wake == NULL ||
        event_add(ev->heartbeat, &(struct timeval){HEARTBEAT_S, 0}) != 0) {
        rpc_events_free(ev);
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    }
    ev->watch.on_tip = on_tip;
    ev->watch.on_node_alerts = on_node_alerts;
    ev->watch.on_close = on_close;
    ev->watch.ctx = ev;
    node_watch_add(node, &ev->watch);
    *out = ev;
    return SBX_OK;
}

void
rpc_events_free(struct rpc_events *ev)
{
    struct ev_stream *st;

    if (ev == NULL)
        return;
    if (ev->node != NULL && ev->watch.ctx != NULL)
        node_watch_remove(ev->node, &ev->watch);
    while ((st = TAILQ_FIRST(&ev->streams)) != NULL) {
        TAILQ_REMOVE(&ev->streams, st, link);
        free(st); /* its request went with evhttp_free */
    }
    if (ev->heartbeat != NULL)
        event_free(ev->heartbeat);
    if (ev->resume != NULL)
        event_free(ev->resume);
    if (ev->wake != NULL)
        event_free(ev->wake);
    for (size_t i = 0; i < CACHE_BLOCKS; i++)
        block_clear(&ev->cache[i]);
    free(ev);
}
