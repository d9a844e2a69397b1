/* Supervisory reports (getreport): a daily or monthly summary of what the ledger recorded in a
 * period, as JSON or as CSV text. See doc/rpc.md "getreport" for every field.
 *
 * A report is a pure function of the stored chain up to the period's last block: report.c
 * takes the state before the period from the store's history (node_asof_engine, never the
 * node's engine), replays the period's blocks through that engine of its own and aggregates
 * them, so that the operator and every regulator node at the same height give the same bytes
 * and the same report_hash. report_csv.c turns the JSON into CSV.
 */
#ifndef SBX_RPC_REPORT_H
#define SBX_RPC_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rpc/outcome.h"
#include "util/buf.h"
#include "util/err.h"

enum rpc_report_kind {
    RPC_REPORT_DAILY = 1,
    RPC_REPORT_MONTHLY = 2,
};

/* The period [*from, *to) in ms of a daily report for local day `s` ("YYYY-MM-DD") or of a
 * monthly report for local month `s` ("YYYY-MM"), at `offset_min` minutes east of UTC. Years
 * 1970..2199 only. SBX_EINVAL naming `field` for anything else. */
int rpc_report_period(enum rpc_report_kind kind, const char *s, int offset_min, int64_t *from,
                      int64_t *to, const char *field, struct sbx_err *err) SBX_WARN_UNUSED;

/* Build the report of `kind` for period label `label` (the date or month as given) from the
 * store of env->node, replaying the period's blocks up to `tip` (the durable tip, read by the
 * caller) from the state the block before the period left. `*out` gets the report object,
 * report_hash included. SBX_EINVAL for a bad label, SBX_ECORRUPT if the stored chain does not
 * replay, SBX_EIO, SBX_EOVERFLOW (a sum beyond int64), SBX_ENOMEM, SBX_EUNAVAIL if
 * node_job_stopping says to stop (checked between blocks) or the store keeps no history. Costs
 * one pass over the state's history keys, then one decode and one evaluation per transaction of
 * the period. Runs on the node's job thread (rpc/m_supervise.c): it reads only the store, env's
 * assets and memory of its own. */
int rpc_report_build(const struct rpc_env *env, uint64_t tip, enum rpc_report_kind kind,
                     const char *label, json_t **out, struct sbx_err *err) SBX_WARN_UNUSED;

/* SHA-256 (hex, 64 characters and a NUL) of the canonical JSON of `report` without its
 * report_hash member: json_dumps with JSON_COMPACT | JSON_SORT_KEYS. SBX_ENOMEM. */
int rpc_report_hash(const json_t *report, char hex[static 65]) SBX_WARN_UNUSED;

/* The CSV text of a report made by rpc_report_build (report_csv.c): one table per section, each
 * introduced by a line "# <section>" and a header row, tables separated by an empty line; CRLF
 * line ends are not used (LF). Appends to `out`. SBX_ENOMEM / SBX_ETOOLONG past the cap. */
int rpc_report_csv(const json_t *report, struct buf *out) SBX_WARN_UNUSED;

/* Append one CSV field to `out`: as is, or in double quotes (with quotes doubled) when it holds
 * a comma, a double quote, CR or LF. */
int rpc_report_csv_field(struct buf *out, const char *s) SBX_WARN_UNUSED;

#endif
