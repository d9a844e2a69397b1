/* Parameter parsing for JSON-RPC methods: one checker for a params object against its
 * parameter spec (the spec each method names in the table of rpc/methods.c), and one parser per
 * kind of value.
 *
 * Every parser accepts a json_t that may be NULL (absent) and returns SBX_OK or an error code
 * (SBX_EINVAL, SBX_EOVERFLOW) with a message that starts with the field's name, so that the
 * client learns which parameter is wrong (doc/rpc.md: "NAME: what is wrong").
 */
#ifndef SBX_RPC_PARAMS_H
#define SBX_RPC_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ledger/store.h"
#include "ledger/tx.h"
#include "util/err.h"

#define RPC_LIST_LIMIT_DEFAULT 100
#define RPC_LIST_LIMIT_MAX 1000
/* Longest list cursor: an index key, 'X' account 0x00 u64 time 32 txid. */
#define RPC_CURSOR_MAX LEDGER_STORE_KEY_INDEX_MAX

/* 1 if `v` was given: neither absent nor JSON null (null stands for "not given"). */
int rpc_params_present(const json_t *v);

/* Check the object `params` against `spec`: the parameter names in order, separated by spaces,
 * a '?' after a name marking it optional ("account kyc_tier? status?"; "" for none). The first
 * required name that is absent gives "NAME: missing", then the first name of `params` not in
 * the spec "NAME: unknown parameter" (names prefixed with "`prefix`." unless `prefix` is "").
 * A `params` that is not an object gives "PREFIX: must be an object" ("params" for ""). */
int rpc_params_check(const json_t *params, const char *spec, const char *prefix,
                     struct sbx_err *err) SBX_WARN_UNUSED;

/* The next name of a spec at `*p` (advanced past it): its start and length (the name is not
 * NUL-terminated) and whether it is optional. 0 at the end of the spec. */
int rpc_params_spec_next(const char **p, const char **name, size_t *len, int *optional);

/* A decimal string with at most `decimals` fractional digits (ledger_amount_parse); JSON
 * numbers are refused. `positive`: 0 is refused too. */
int rpc_params_amount(const json_t *v, unsigned decimals, int positive, int64_t *out,
                      const char *field, struct sbx_err *err) SBX_WARN_UNUSED;
/* 64 lowercase hex characters. */
int rpc_params_hex32(const json_t *v, uint8_t out[static 32], const char *field,
                     struct sbx_err *err) SBX_WARN_UNUSED;
/* An identifier: 1..max bytes of printable ASCII without spaces; out holds max + 1 bytes. */
int rpc_params_id(const json_t *v, size_t max, char *out, const char *field,
                  struct sbx_err *err) SBX_WARN_UNUSED;
/* A string of 1..max (0..max with `allow_empty`) bytes; `ids` restricts it to printable ASCII
 * without spaces, else it may hold anything but control bytes. out holds max + 1 bytes. */
int rpc_params_str(const json_t *v, size_t max, int allow_empty, int ids, char *out,
                   const char *field, struct sbx_err *err) SBX_WARN_UNUSED;
/* A JSON integer (not a real) in lo..hi. */
int rpc_params_int(const json_t *v, int64_t lo, int64_t hi, int64_t *out, const char *field,
                   struct sbx_err *err) SBX_WARN_UNUSED;
/* true or false; absent is false. */
int rpc_params_bool(const json_t *v, int *out, const char *field,
                    struct sbx_err *err) SBX_WARN_UNUSED;
/* An asset symbol: 1..SBX_ASSET_MAX of A-Z and 0-9; out holds SBX_ASSET_MAX + 1 bytes. */
int rpc_params_symbol(const json_t *v, char *out, const char *field,
                      struct sbx_err *err) SBX_WARN_UNUSED;
/* A name from a fixed list: `parse` gives its number, or -1 for a name not in the list, which
 * is refused naming `allowed`. */
int rpc_params_enum(const json_t *v, int (*parse)(const char *), const char *allowed, int *out,
                    const char *field, struct sbx_err *err) SBX_WARN_UNUSED;

/* Decimals of `symbol` among the genesis assets, `unlisted` for a symbol not among them. */
unsigned rpc_params_decimals(const struct ledger_asset_def *assets, size_t n, const char *symbol,
                             unsigned unlisted);

/* The common parameters of list methods: from, to, limit, cursor. */
struct rpc_params_list {
    int64_t from, to; /* inclusive, ms */
    int has_to;
    size_t limit;
    uint8_t cursor[RPC_CURSOR_MAX];
    size_t cursor_len; /* 0: none */
};

/* Read "from", "to", "limit" and "cursor" of a list method's (checked) params object. */
int rpc_params_list(const json_t *params, struct rpc_params_list *a,
                    struct sbx_err *err) SBX_WARN_UNUSED;

#endif
