/* The `help` method: what the method table says about each method, for people. The names of a
 * method's parameters and whether each is required come from the method's spec in the table of
 * rpc/methods.c, the one the dispatcher checks calls against; this file adds what a spec cannot
 * say: a line on what the method does and, per parameter, its type and meaning.
 */
#ifndef SBX_RPC_HELP_H
#define SBX_RPC_HELP_H

#include "rpc/outcome.h"

/* What the help of a parameter says about it. */
struct rpc_help_param {
    const char *method;  /* NULL: every method that has a parameter of this name */
    const char *name;    /* the parameter's name, as in the specs */
    const char *type;    /* its type as doc/rpc.md names it: id, hex, integer, amount, ... */
    const char *meaning; /* one line */
};

/* The help method's answer from the method table `table` (`n` rows; rpc/methods.c passes its
 * own, so that this file needs no link back to it): without `method`, the methods the caller's
 * role may call (name, summary, usage); with `method`, that method's roles, summary and
 * parameters (name, type, required, meaning). -32602 for a method name not in the table. Any
 * thread. */
int rpc_help_answer(const struct rpc_env *env, const struct rpc_method *table, size_t n,
                    json_t *params, struct rpc_outcome *out, struct sbx_err *err);

/* The one line that says what `method` does, or NULL if it has none. */
const char *rpc_help_summary(const char *method);
/* The help of parameter `name` of `method`, or NULL if it has none. */
const struct rpc_help_param *rpc_help_param(const char *method, const char *name);

#endif
