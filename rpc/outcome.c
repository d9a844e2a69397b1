/* Outcomes of JSON-RPC calls and the one table from sbx return codes to JSON-RPC codes; see
 * outcome.h. Event-loop thread.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "rpc/outcome.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* ------------------------------------------------------------------ error codes */

/* The one table from sbx return codes to JSON-RPC codes (doc/rpc.md). Anything not listed is
 * an internal error (-32603): the client gets a generic message, the log gets the details. */
static const struct {
    int rc;
    int code;
} code_table[] = {
    {SBX_EINVAL, RPC_INVALID_PARAMS},    {SBX_ETRUNCATED, RPC_INVALID_PARAMS},
    {SBX_ETRAILING, RPC_INVALID_PARAMS}, {SBX_ETOOLONG, RPC_INVALID_PARAMS},
    {SBX_EVERSION, RPC_INVALID_PARAMS},  {SBX_ETYPE, RPC_INVALID_PARAMS},
    {SBX_EPUBKEY, RPC_INVALID_PARAMS},   {SBX_EOVERFLOW, RPC_INVALID_PARAMS},
    {SBX_ENONCANON, RPC_INVALID_PARAMS}, {SBX_ENOTFOUND, RPC_NOT_FOUND},
    {SBX_EDENIED, RPC_FORBIDDEN},        {SBX_ECONFLICT, RPC_CONFLICT},
    {SBX_EUNAVAIL, RPC_UNAVAILABLE},     {SBX_EBADSIG, RPC_BAD_SIGNATURE},
    {SBX_EOVERLOAD, RPC_OVERLOADED},     {SBX_EREJECTED, RPC_REJECTED},
};

int
rpc_outcome_code(int rc)
{
    if (rc == SBX_OK)
        return 0;
    for (size_t i = 0; i < SBX_ARRAY_LEN(code_table); i++) {
        if (code_table[i].rc == rc)
            return code_table[i].code;
    }
    return RPC_INTERNAL_ERROR;
}

/* ------------------------------------------------------------------ outcomes */

void
rpc_outcome_init(struct rpc_outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->kind = RPC_OUT_RESULT;
}

/* Drop whatever the outcome holds, keeping the stop mark. */
static void
clear_payload(struct rpc_outcome *o)
{
    json_decref(o->result);
    o->result = NULL;
    o->has_receipt = 0;
    json_decref(o->data);
    o->data = NULL;
    free(o->tx);
    o->tx = NULL;
    free(o->raw);
    o->raw = NULL;
    o->rawlen = 0;
    if (o->job != NULL)
        o->job->release(o->job);
    o->job = NULL;
    o->code = 0;
    o->message[0] = '\0';
}

void
rpc_outcome_release(struct rpc_outcome *o)
{
    clear_payload(o);
    rpc_outcome_init(o);
}

void
rpc_outcome_error(struct rpc_outcome *o, int code, const char *fmt, ...)
{
    va_list ap;

    clear_payload(o);
    o->kind = RPC_OUT_ERROR;
    o->code = code;
    va_start(ap, fmt);
    vsnprintf(o->message, sizeof(o->message), fmt, ap);
    va_end(ap);
}

void
rpc_outcome_fail(struct rpc_outcome *o, int rc, const char *message)
{
    int code = rpc_outcome_code(rc);
    const char *m = message != NULL && message[0] != '\0' ? message : sbx_rc_name(rc);

    if (code == RPC_INTERNAL_ERROR || code == 0) {
        LOG_ERROR(LOG_RPC, "internal error (%s): %s", sbx_rc_name(rc), m);
        rpc_outcome_error(o, RPC_INTERNAL_ERROR, "internal error");
        return;
    }
    rpc_outcome_error(o, code, "%s", m);
}

int
rpc_outcome_result(struct rpc_outcome *o, json_t *r, struct sbx_err *err)
{
    if (r == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory building a result");
    clear_payload(o);
    o->kind = RPC_OUT_RESULT;
    o->result = r;
    return SBX_OK;
}

void
rpc_outcome_receipt(struct rpc_outcome *o, const struct rpc_receipt *r)
{
    clear_payload(o);
    o->kind = RPC_OUT_RESULT;
    o->has_receipt = 1;
    o->receipt = *r;
}

void
rpc_outcome_submit(struct rpc_outcome *o, struct ledger_tx *tx)
{
    clear_payload(o);
    o->kind = RPC_OUT_SUBMIT;
    o->tx = tx;
}

void
rpc_outcome_submit_raw(struct rpc_outcome *o, uint8_t *raw, size_t rawlen)
{
    clear_payload(o);
    o->kind = RPC_OUT_SUBMIT_RAW;
    o->raw = raw;
    o->rawlen = rawlen;
}

void
rpc_outcome_job(struct rpc_outcome *o, struct rpc_job *j)
{
    clear_payload(o);
    o->kind = RPC_OUT_JOB;
    o->job = j;
}

void
rpc_outcome_job_done(struct rpc_outcome *o, int rc, const struct sbx_err *err)
{
    struct rpc_job *j = o->job;
    struct sbx_err e = *err;

    o->job = NULL;
    o->kind = RPC_OUT_RESULT;
    rc = j->finish(j, o, rc, &e);
    if (rc)
        rpc_outcome_fail(o, rc, e.msg);
    j->release(j);
}
