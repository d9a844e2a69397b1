/* The licence file of a new network (`sbxd -init=LICENCE.json`): what an exchange's licence
 * says, read and checked field by field before anything is created.
 *
 * The file is a JSON object (contrib/licence.example.json, doc/operations.md "Starting a
 * production network"):
 *   network, licence_id, house_account       text
 *   valid_from, valid_to                      RFC 3339 with an offset; valid_to is exclusive
 *   regulators: [{"name", "key"}]             keys from `sbxd -genkey`; names are labels for
 *                                             people and messages, not stored on the chain
 *   directive_quorum, attestation_quorum      1..number of regulators
 *   assets: [{"symbol", "decimals", "ref_price_vnd"}]   VND is implicit (the first asset)
 *   params: {name: integer}                   licence parameters (compliance/params.h); those
 *                                             of CMP_PARAMS_REQUIRED must be there
 * Every field is required except params' optional parameters. A bad file gets SBX_EINVAL and
 * one message naming the field: missing, unknown, wrong type, out of range, valid_to not after
 * valid_from, a quorum above the number of regulators, a duplicate asset, regulator key or
 * name.
 */
#ifndef SBX_COMPLIANCE_LICENCE_FILE_H
#define SBX_COMPLIANCE_LICENCE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/tx.h"
#include "util/err.h"

/* The largest licence file read (a cap on memory; a genesis document is at most 64 KiB). */
#define CMP_LICENCE_FILE_MAX (256 * 1024)

struct cmp_licence_file {
    char network[SBX_NETWORK_MAX + 1];
    size_t nregulators;
    uint8_t regulator_keys[SBX_MAX_REGULATORS][32];
    char regulator_names[SBX_MAX_REGULATORS][SBX_ID_MAX + 1];
    int directive_quorum;
    int attestation_quorum;
    size_t nassets;                                 /* VND included */
    struct ledger_asset_def assets[SBX_MAX_ASSETS]; /* [0] is VND */
    int64_t valid_from, valid_to;                   /* ms since the epoch */
    char *licence_json; /* the genesis licence document (compliance/params.h), canonical;
                         * malloc'd, owned */
};

/* Parse and check the `len` bytes of a licence file into `lf` (cleared first; release it
 * whatever the result). SBX_EINVAL with the field named in `err` ("regulators[1].key: ...");
 * SBX_ENOMEM. */
int cmp_licence_file_parse(struct cmp_licence_file *lf, const char *json, size_t len,
                           struct sbx_err *err) SBX_WARN_UNUSED;
/* The same from the file at `path` (at most CMP_LICENCE_FILE_MAX bytes): SBX_EIO when it
 * cannot be read; every message starts with the path. */
int cmp_licence_file_read(struct cmp_licence_file *lf, const char *path,
                          struct sbx_err *err) SBX_WARN_UNUSED;
/* Free what `lf` owns; a released or cleared `lf` is a no-op. */
void cmp_licence_file_release(struct cmp_licence_file *lf);

#endif
