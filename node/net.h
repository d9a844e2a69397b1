/* The node's network layer: what sbx nodes say to each other over peer links (doc/protocol.md).
 *
 * It sits between the transport (node/p2p*.c: TLS, node-key handshake, frames) and the node
 * (node/node.h: the chain and its pipelines, follower.c for what a follower does with blocks).
 * Every node serves blocks from its store to peers that ask (getblocks) and keeps sending each such
 * peer new blocks as they become durable. A follower (regulator or observer) asks a peer for the
 * blocks after its tip, hands them in order to the node, which re-validates each fully before
 * applying it, and watches for two different operator-signed blocks at one height. A regulator
 * attests to what it applied and relays its directives to the operator; the operator submits both
 * into its pipeline.
 *
 * Threads: everything here runs on the event loop given to node_net_open.
 */
#ifndef SBX_NODE_NET_H
#define SBX_NODE_NET_H

#include <stddef.h>
#include <stdint.h>

#include "node/node.h"
#include "node/p2p.h"
#include "util/err.h"

struct event_base;
struct node_net;

struct node_net_config {
    const char *bind; /* NULL or "" = all addresses */
    int port;         /* 0 = any free port */
    int listen;
    const char *const *connect; /* HOST:PORT peers kept linked */
    size_t nconnect;
    const char *certdir;            /* the TLS key and certificate (made on first start) */
    const uint8_t (*observers)[32]; /* observer node keys this node accepts */
    size_t nobservers;
    struct p2p_limits limits; /* the peer port's front door (zero fields: the defaults) */
};

int node_net_open(struct node_net **out, struct node *n, struct event_base *base,
                  const struct node_net_config *cfg, struct sbx_err *err) SBX_WARN_UNUSED;
/* Close every link and detach from the node. Call before node_close. */
void node_net_free(struct node_net *net);
/* The port peers connect to (0 if not listening). */
int node_net_port(const struct node_net *net);

/* The payloads of HELLO and GETBLOCKS (doc/protocol.md), decoded by their one decoder each (the
 * dispatch of received messages uses them; so do the fuzz targets). Pure functions: any thread. */
#define NODE_NET_HELLO_VERSION 1
#define NODE_NET_HELLO_SIZE (1 + 1 + 8 + 32)
struct node_net_hello {
    uint8_t role;     /* the sender's NODE_ROLE_* (not trusted: the link's key gives the role) */
    uint64_t height;  /* its tip */
    uint8_t hash[32]; /* its tip's block hash */
};
/* SBX_OK with `h` filled; SBX_ETRUNCATED or SBX_ETRAILING for another size than
 * NODE_NET_HELLO_SIZE, SBX_EVERSION for another version than NODE_NET_HELLO_VERSION. */
int node_net_hello_decode(struct node_net_hello *h, const uint8_t *in, size_t len,
                          struct sbx_err *err) SBX_WARN_UNUSED;
void node_net_hello_encode(uint8_t out[static NODE_NET_HELLO_SIZE], const struct node_net_hello *h);
/* SBX_OK with the height asked from; SBX_ETRUNCATED or SBX_ETRAILING for another size than 8. */
int node_net_getblocks_decode(uint64_t *from, const uint8_t *in, size_t len,
                              struct sbx_err *err) SBX_WARN_UNUSED;

#ifdef SBX_TEST_HOOKS
/* Test builds only: with the next block the operator writes, also send every peer a second,
 * differently timed block at the same height, signed with the operator key. */
void node_net_test_equivocate(struct node_net *net);
#endif

#endif
