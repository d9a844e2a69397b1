/* The event stream: `GET /events`, Server-Sent Events of what the ledger records (blocks,
 * transactions, rejections, compliance alerts, directives, attestations) and of this node's node
 * alerts, with ids derived from the ledger so that any node gives the same event the same id, a
 * replay from the store by id (`?from=`, `Last-Event-ID`), topics, heartbeats and a cap on what
 * a stream may hold queued. doc/rpc.md "Event stream" is the contract.
 *
 * Threads: every function runs on the thread of the hub's loop, but see rpc_events_new and
 * rpc_events_free.
 */
#ifndef SBX_RPC_EVENTS_H
#define SBX_RPC_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/tx.h"
#include "util/err.h"

struct event_base;
struct evhttp_connection;
struct evhttp_request;
struct node;
struct rpc_events;

/* Ids: a ledger event's id is height * 2^RPC_EVENTS_SHIFT + its place in the block's list. */
#define RPC_EVENTS_SHIFT 20
#define RPC_EVENTS_MAX_STREAMS 64 /* open streams of all loops; then HTTP 503 */
#define RPC_EVENTS_DEFAULT_MAX_QUEUE (4u * 1024 * 1024) /* bytes queued on one stream */

/* Make the streams' hub of `node` for the loop of `base` (it watches the node's tip and node
 * alerts; `foreign`: `base` is not the node's loop, so the watch wakes the hub by an event).
 * Call it on the node's loop thread, before `base` runs. `nstreams_all` counts the open
 * streams of every hub that shares it (RPC_EVENTS_MAX_STREAMS caps them all). `assets` are
 * the genesis assets (amounts are rendered with their decimals; copied). `max_queue`: the bytes
 * a live stream may hold queued before it is disconnected (0: the default). */
int rpc_events_new(struct rpc_events **out, struct event_base *base, struct node *node, int foreign,
                   _Atomic size_t *nstreams_all, const struct ledger_asset_def *assets,
                   size_t nassets, size_t max_queue, struct sbx_err *err) SBX_WARN_UNUSED;
/* Stop the heartbeat and forget the node. Call it after evhttp_free (which closes every stream
 * through rpc_events_closed). NULL is a no-op. */
void rpc_events_free(struct rpc_events *ev);
/* Serve `GET /events` on `req`, whose credentials were checked (any role may read): 0 when it
 * is a stream (HTTP 200, chunked; the request is the stream's now), else the HTTP status the
 * caller answers with, `*why` the body: 400 for a malformed query or Last-Event-ID, 503 past
 * the stream cap, 500 out of memory. */
int rpc_events_serve(struct rpc_events *ev, struct evhttp_request *req,
                     const char **why) SBX_WARN_UNUSED;
/* The connection `evcon` is closing (its close callback): if it carries a stream, forget it
 * (and free its request if libevent detached it). */
void rpc_events_closed(struct rpc_events *ev, struct evhttp_connection *evcon);
/* An event id as a client gives it back (Last-Event-ID): "L", a ledger id or -1, or "L:N", a
 * node alert's id. SBX_OK with `*next` = L + 1 (the first ledger id after it) and, for "L:N",
 * `*nalerts` = N (else left alone); SBX_EINVAL for anything else (nothing set then is
 * meaningful). */
int rpc_events_parse_id(const char *s, uint64_t *next, uint64_t *nalerts) SBX_WARN_UNUSED;
/* `?topics=`: a comma-separated list of event types into one bit per type (bit i: the i-th of
 * block, tx, rejection, alert, directive, attestation, node_alert). SBX_EINVAL for an unknown
 * type or an empty list. */
int rpc_events_parse_topics(const char *s, unsigned *out) SBX_WARN_UNUSED;
/* Number of open streams. */
size_t rpc_events_count(const struct rpc_events *ev);

#endif
