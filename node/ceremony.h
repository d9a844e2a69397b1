/* The genesis ceremony of a production network (`sbxd -init=LICENCE.json`): a new chain in a
 * datadir from a checked licence file (compliance/licence_file.h), its genesis block signed
 * with the operator key, and the block in hex for the regulators. doc/operations.md "Starting
 * a production network" walks through it.
 */
#ifndef SBX_NODE_CEREMONY_H
#define SBX_NODE_CEREMONY_H

#include <stdint.h>

#include "compliance/licence_file.h"
#include "util/err.h"

/* The name of the genesis block's hex file in the datadir. */
#define NODE_CEREMONY_GENESIS_FILE "genesis.hex"

/* In `datadir` (which must exist and hold no chain: SBX_ECONFLICT otherwise): load
 * keys/operator.key or make it (mode 0600), build and sign the genesis block of `lf` at
 * `now_ms`, create the chain in ledger/ and write genesis.hex (the block in hex and a newline).
 * On success `network_id` is the genesis block's hash and `operator_key` the operator's public
 * key. A licence listing the operator key as a regulator is refused (SBX_EINVAL) before the
 * chain is made. */
int node_ceremony_run(const char *datadir, const struct cmp_licence_file *lf, int64_t now_ms,
                      uint8_t network_id[static 32], uint8_t operator_key[static 32],
                      struct sbx_err *err) SBX_WARN_UNUSED;

#endif
