/* The single-node development network: what `sbxd -devnet` creates on first start.
 *
 * Fresh operator key, an embedded regulator key (its secret is public: devnet only, so that
 * directives can be tried), assets VND, BTC (8 decimals, reference price 2,500,000,000 VND) and
 * ETH (8 decimals, 90,000,000 VND), a licence valid from now for three years with the default
 * limits of doc/compliance.md, `supervision.max_lag_s` 0 (no regulator node runs), and the
 * operator's house account "HOUSE".
 */
#ifndef SBX_NODE_DEVNET_H
#define SBX_NODE_DEVNET_H

#include <stdint.h>

#include "ledger/keys.h"
#include "util/err.h"

#define NODE_DEVNET_NETWORK "sbx-devnet"
#define NODE_DEVNET_HOUSE "HOUSE"

/* The devnet's embedded regulator key. */
int node_devnet_regulator_key(struct ledger_key *k) SBX_WARN_UNUSED;

/* The devnet licence document for a network started at `now_ms` (malloc'd JSON). */
char *node_devnet_licence(int64_t now_ms);

/* In `datadir`: create keys/ with operator.key (new) and regulator.key (embedded), and the
 * chain in ledger/ with the devnet genesis at `now_ms`, unless a chain is already there. With
 * `nregulators` > 0 the genesis lists those regulator keys (a multi-node devnet: directive
 * quorum `quorum`, 0 meaning 1, at most `nregulators`; attestation quorum half of them rounded
 * up) and no regulator.key is made. */
int node_devnet_init(const char *datadir, int64_t now_ms, const uint8_t (*regulators)[32],
                     size_t nregulators, int quorum, struct sbx_err *err) SBX_WARN_UNUSED;

#endif
