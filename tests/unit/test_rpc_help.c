/* rpc/ unit tests of what a person or a client program sees before any call: the help method
 * (its tables cover the method table; what it lists for a role and says of one method), and how
 * sbx-cli and sbx-bench find a node (rpc/client.c: the command line over sbx.conf, its [devnet]
 * section, the port file, the password file, credentials that do not go together).
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rpc/client.h"
#include "rpc/help.h"
#include "rpc/methods.h"
#include "rpc/params.h"
#include "util/err.h"

/* help cannot drift from the table: every method has a summary, every parameter of every spec
 * a type and a meaning; the call lists what the role may call and describes one method. */
void
test_help(void **state)
{
    struct rpc_env env = {NULL, RPC_ROLE_OPERATOR, 0, NULL, 0, NULL, NULL, NULL};
    const struct rpc_method *t;
    struct rpc_outcome o;
    json_t *p, *v;
    size_t n, i;
    int seen_trade = 0;

    (void)state;
    t = rpc_methods_table(&n);
    for (i = 0; i < n; i++) {
        const char *s = t[i].params, *start;
        char name[64];
        size_t len;
        int optional;

        assert_non_null(rpc_help_summary(t[i].name));
        while (rpc_params_spec_next(&s, &start, &len, &optional)) {
            snprintf(name, sizeof(name), "%.*s", (int)len, start);
            if (rpc_help_param(t[i].name, name) == NULL)
                fail_msg("%s: parameter %s has no help", t[i].name, name);
        }
    }
    /* a method's own row wins over the generic one */
    assert_string_equal(rpc_help_param("submitrawtx", "hex")->type, "hex");
    assert_string_equal(rpc_help_param("getblock", "hex")->type, "boolean");
    assert_null(rpc_help_param("getinfo", "nosuch"));

    rpc_outcome_init(&o);
    rpc_methods_call(&env, "help", NULL, &o);
    assert_int_equal(o.kind, RPC_OUT_RESULT);
    json_array_foreach(o.result, i, v)
    {
        const char *m = json_string_value(json_object_get(v, "method"));

        assert_true(rpc_methods_find(m)->roles & RPC_ROLE_OPERATOR);
        seen_trade |= strcmp(m, "submittrade") == 0;
        assert_string_not_equal(m, "submitdirective");
        assert_string_not_equal(m, "stop");
    }
    assert_true(seen_trade);
    p = json_pack("{s:s}", "method", "updateaccount");
    rpc_methods_call(&env, "help", p, &o);
    json_decref(p);
    assert_int_equal(o.kind, RPC_OUT_RESULT);
    assert_string_equal(json_string_value(json_object_get(o.result, "usage")),
                        "updateaccount account [kyc_tier] [status]");
    v = json_object_get(o.result, "params");
    assert_int_equal(json_array_size(v), 3);
    assert_true(json_is_true(json_object_get(json_array_get(v, 0), "required")));
    assert_true(json_is_false(json_object_get(json_array_get(v, 1), "required")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 1), "type")),
                        "integer");
    p = json_pack("{s:s}", "method", "nosuch");
    rpc_methods_call(&env, "help", p, &o);
    json_decref(p);
    assert_int_equal(o.code, RPC_INVALID_PARAMS);
    rpc_outcome_release(&o);
}

static void
write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* rpc/client.c: the command line over sbx.conf, [devnet], the port file, the password file. */
void
test_client_conf(void **state)
{
    char *dir = test_tmpdir();
    char path[600], conf[1200], auth[RPC_CLIENT_AUTH_MAX];
    struct rpc_client c;
    struct sbx_err err;

    (void)state;
    snprintf(path, sizeof(path), "%s/pw", dir);
    write_text(path, "s3cret\n");
    snprintf(conf, sizeof(conf),
             "rpcthreads=4\nrpcport=9000\nrpcuser=alice\nrpcpasswordfile=%s\n"
             "[devnet]\nrpcport=9100\n",
             path);
    snprintf(path, sizeof(path), "%s/sbx.conf", dir);
    write_text(path, conf);

    /* the datadir's file: sbxd's options skipped, its user and password file taken */
    rpc_client_init(&c);
    assert_int_equal(rpc_client_option(&c, "datadir", dir, &err), SBX_OK);
    assert_int_equal(rpc_client_option(&c, "accounts", "1", &err), SBX_ENOTFOUND);
    assert_int_equal(rpc_client_resolve(&c, &err), SBX_OK);
    assert_string_equal(c.user, "alice");
    assert_string_equal(c.password, "s3cret");
    assert_int_equal(rpc_client_port(&c), 9000);
    assert_int_equal(rpc_client_auth(&c, auth, sizeof(auth), &err), SBX_OK);
    assert_string_equal(auth, "Basic YWxpY2U6czNjcmV0"); /* alice:s3cret */
    /* the node's port file wins over the file's rpcport for a local node */
    snprintf(path, sizeof(path), "%s/.rpcport", dir);
    write_text(path, "9200\n");
    assert_int_equal(rpc_client_port(&c), 9200);
    rpc_client_release(&c);
    assert_int_equal(c.password[0], '\0');

    /* -devnet: the [devnet] section; -rpcconnect: no port file; -rpcport wins */
    rpc_client_init(&c);
    assert_int_equal(rpc_client_option(&c, "datadir", dir, &err), SBX_OK);
    assert_int_equal(rpc_client_option(&c, "devnet", NULL, &err), SBX_OK);
    assert_int_equal(rpc_client_option(&c, "rpcconnect", "10.0.0.1", &err), SBX_OK);
    assert_int_equal(rpc_client_option(&c, "rpcuser", "bob", &err), SBX_OK);
    assert_int_equal(rpc_client_option(&c, "rpcpassword", "pw", &err), SBX_OK);
    assert_int_equal(rpc_client_resolve(&c, &err), SBX_OK);
    assert_string_equal(c.user, "bob");
    assert_string_equal(c.password, "pw");
    assert_int_equal(rpc_client_port(&c), 9100);
    assert_int_equal(rpc_client_option(&c, "rpcport", "1234", &err), SBX_OK);
    assert_int_equal(rpc_client_port(&c), 1234);
    rpc_client_release(&c);

    /* bad values and credentials that do not go together */
    rpc_client_init(&c);
    assert_int_equal(rpc_client_option(&c, "rpcport", "0", &err), SBX_EINVAL);
    assert_int_equal(rpc_client_option(&c, "rpcuser", "a:b", &err), SBX_EINVAL);
    assert_int_equal(rpc_client_option(&c, "conf", "/nonexistent/sbx.conf", &err), SBX_OK);
    assert_int_equal(rpc_client_resolve(&c, &err), SBX_EIO);
    rpc_client_init(&c);
    assert_int_equal(rpc_client_option(&c, "datadir", "/nonexistent", &err), SBX_OK);
    assert_int_equal(rpc_client_option(&c, "rpcpassword", "pw", &err), SBX_OK);
    assert_int_equal(rpc_client_resolve(&c, &err), SBX_EINVAL); /* no user */
    rpc_client_init(&c);
    assert_int_equal(rpc_client_option(&c, "datadir", "/nonexistent", &err), SBX_OK);
    assert_int_equal(rpc_client_option(&c, "rpcuser", "u", &err), SBX_OK);
    assert_int_equal(rpc_client_resolve(&c, &err), SBX_EINVAL); /* no password */
    /* no cookie: not found (sbx-cli -rpcwait waits for it) */
    rpc_client_init(&c);
    assert_int_equal(rpc_client_option(&c, "datadir", "/nonexistent", &err), SBX_OK);
    assert_int_equal(rpc_client_resolve(&c, &err), SBX_OK);
    assert_int_equal(rpc_client_auth(&c, auth, sizeof(auth), &err), SBX_ENOTFOUND);
    assert_int_equal(rpc_client_port(&c), RPC_CLIENT_PORT_MAIN);
    test_rmtree(dir);
    free(dir);
}
