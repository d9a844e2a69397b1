/* Internal to node/p2p.c and its unit test: hooks that make a p2p behave as no correct peer
 * does, so that the test can check the other side refuses it. Not part of the API of node/;
 * nothing but tests/unit/test_p2p.c includes this file. */
#ifndef SBX_NODE_P2P_INTERNAL_H
#define SBX_NODE_P2P_INTERNAL_H

#include "node/p2p.h"

/* While `on` is set, every AUTH frame this p2p sends carries a signature with one bit flipped. */
void p2p_test_corrupt_auth(struct p2p *p, int on);
/* Links started from now on must finish TLS and AUTH within `ms` (instead of
 * P2P_HANDSHAKE_TIMEOUT_MS). */
void p2p_test_handshake_timeout(struct p2p *p, int ms);

/* Links that get to AUTH from now on close when queued output makes no progress for `ms`
 * (instead of P2P_WRITE_TIMEOUT_MS). */
void p2p_test_write_timeout(struct p2p *p, int ms);

#endif
