/* sbx-cli: send one JSON-RPC request to sbxd and print the answer.
 *
 *   sbx-cli [options] METHOD [name=value ...]
 *   sbx-cli verifytxproof PROOF [GENESIS]     (no node: rpc/cli_proof.c)
 *   sbx-cli verifyliabilityproof PROOF [GENESIS]  (no node: rpc/cli_proof.c)
 *
 * Parameters are named. A value is sent as a JSON string, which is what amounts, quantities,
 * prices and ids must be (doc/rpc.md: "0.5" stays "0.5"), except: true and false are
 * booleans; a value that starts with '{' or '[' is parsed as JSON; an integer without leading
 * zeros is a number for the parameters that take integers (height, limit, ...); and
 * `name:=JSON` sends any JSON value as it is.
 *
 * The result is printed as indented JSON, but a result object with a string member `csv`
 * (getreport format=csv) is printed as that text, raw, so that `> file.csv` makes a CSV file.
 *
 * `sbx-cli help [METHOD]` asks the node's help method and prints its answer as text.
 *
 * The node, the port and the credentials are found by rpc/client.c (the datadir, sbx.conf or
 * -conf, .rpcport, the cookie, -rpcuser with its password), as sbx-bench finds them. -rpctls
 * speaks HTTPS, checking the certificate against the system's authorities, or only its
 * fingerprint with -rpcfingerprint (rpc/tls.c); the check is made in the handshake, before the
 * request is sent. Exit status: 0 result printed; 1 the server answered with an error; 2 usage;
 * 3 no connection, timeout or authentication failure. The cookie and the password are never
 * printed.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "rpc/cli_proof.h"
#include "rpc/client.h"
#include "rpc/tls.h"
#include "util/num.h"
#include "util/err.h"
#include "util/tls.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

enum {
    EXIT_RPC_ERROR = 1,
    EXIT_USAGE = 2,
    EXIT_CONNECT = 3,
};

#define WAIT_SECONDS 30           /* -rpcwait gives up after this long */
#define WAIT_STEP_MS 250          /* ... trying again this often */
#define TIMEOUT_DEFAULT 900       /* seconds for one request (verifychain can take long) */
#define RESPONSE_MAX (256u << 20) /* bytes of response body at most */
#define MAX_PARAMS 256

/* Parameters whose values are integers on the wire (doc/rpc.md). */
static const char *const int_params[] = {
    "height", "limit", "kyc_tier", "executed_at", "from",
    "to",     "score", "valid_to", "value",       "time",
};

static const char usage_text[] =
    "Usage: sbx-cli [options] METHOD [name=value ...]\n"
    "       sbx-cli help [METHOD]\n"
    "       sbx-cli verifytxproof PROOF [GENESIS]\n"
    "       sbx-cli verifyliabilityproof PROOF [GENESIS]\n"
    "\n"
    "Send one JSON-RPC request to sbxd and print the result as indented JSON (a result\n"
    "with a member csv, getreport format=csv, as that text).\n"
    "\n"
    "Options:\n"
    "  -help                 print this text and exit\n"
    "  -version              print the version and exit\n"
    "  -rpcwait              wait up to 30 s for the server to start\n"
    "  -rpcclienttimeout=S   seconds to wait for an answer (default 900, 0 = forever)\n"
    "  -rpctls               speak HTTPS (the node's rpctls=1); the certificate must be\n"
    "                        signed by a certificate authority this system trusts for the\n"
    "                        -rpcconnect name, unless pinned (without -rpcconnect, the\n"
    "                        node's own <datadir>/rpc.crt is the pin):\n"
    "  -rpcfingerprint=SHA256  accept only the certificate with this SHA-256 fingerprint\n"
    "                        (64 hex, or OpenSSL's AB:CD:... form; sbxd logs it); implies\n"
    "                        -rpctls\n"
    "  -rpcsource=ADDR       connect from this local address (a host with several)\n"
    "\n"
    "Parameters are named. Values are sent as JSON strings (amounts stay exact: \"0.5\"),\n"
    "except true/false (booleans), values starting with { or [ (parsed as JSON), and\n"
    "integers for height, limit, kyc_tier, executed_at, from, to, score, valid_to, value,\n"
    "time.\n"
    "name:=JSON sends any JSON value as it is (e.g. cursor:=42).\n"
    "\n"
    "Examples:\n"
    "  sbx-cli -devnet getinfo\n"
    "  sbx-cli help submittrade\n"
    "  sbx-cli getblock height=12 verbose=true\n"
    "  sbx-cli submittrade trade_id=T1 buyer=alice seller=bob asset=BTC quantity=0.5 \\\n"
    "      price=2450000000 executed_at=$(date +%s000)\n"
    "\n"
    "Connection options (shared with sbx-bench):\n";

static const char usage_tail[] =
    "\n"
    "Exit status: 0 success, 1 error from the server, 2 usage, 3 connection or\n"
    "authentication failure.\n"
    "\n"
    "Commands that need no node:\n";

struct cli {
    struct rpc_client conn;
    int port; /* of this attempt */
    int tls;
    int pinned;
    uint8_t pin[32];     /* -rpcfingerprint */
    const char *source;  /* -rpcsource: the local address; NULL: the system's choice */
    struct rpc_tls *ctx; /* with tls: the client's TLS context */
    int wait;
    int timeout_s;
    const char *method;
    char **params;
    int nparams;
};

/* One HTTP exchange. */
struct reply {
    struct event_base *base;
    int status; /* HTTP status; 0: no answer */
    int error;  /* the libevent error, if any (-1: none) */
    char *body; /* NUL-terminated, malloc'd */
    size_t len;
};

static void SBX_PRINTF(1, 2) say(const char *fmt, ...)
{
    va_list ap;

    fputs("sbx-cli: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* "-name=value" or "-name": 1 and *value (NULL if no '=') if arg is -name, else 0. */
static int
opt_is(const char *arg, const char *name, const char **value)
{
    size_t n = strlen(name);

    arg += arg[1] == '-' ? 2 : 1;
    if (strncmp(arg, name, n) != 0 || (arg[n] != '\0' && arg[n] != '='))
        return 0;
    *value = arg[n] == '=' ? arg + n + 1 : NULL;
    return 1;
}

static void
usage(FILE *f)
{
    fputs(usage_text, f);
    fputs(rpc_client_usage, f);
    fputs(usage_tail, f);
    if (f == stdout) {
        fputs(rpc_cli_proof_usage, f);
        fputs(rpc_cli_liab_usage, f);
    }
}

/* One option of sbx-cli's own (not a connection option); returns -1 to go on, else an exit
 * status. */
static int
own_option(struct cli *c, const char *a)
{
    const char *v;
    long long n;

    if (opt_is(a, "help", &v) || opt_is(a, "h", &v) || opt_is(a, "?", &v)) {
        usage(stdout);
        return 0;
    } else if (opt_is(a, "version", &v)) {
        printf("sbx-cli version %s\n", PACKAGE_VERSION);
        return 0;
    } else if (opt_is(a, "rpcwait", &v)) {
        if (v != NULL && strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
            goto bad_value;
        c->wait = v == NULL || v[0] == '1';
    } else if (opt_is(a, "rpcclienttimeout", &v)) {
        if (v == NULL || !num_parse_int(v, 0, 86400 * 365, &n))
            goto bad_value;
        c->timeout_s = (int)n;
    } else if (opt_is(a, "rpctls", &v)) {
        if (v != NULL && strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
            goto bad_value;
        c->tls = v == NULL || v[0] == '1';
    } else if (opt_is(a, "rpcfingerprint", &v)) {
        if (v == NULL || !tls_fingerprint_parse(c->pin, v)) {
            say("-rpcfingerprint: not a SHA-256 fingerprint (64 hex digits): '%.100s'",
                v != NULL ? v : "");
            return EXIT_USAGE;
        }
        c->pinned = 1;
    } else if (opt_is(a, "rpcsource", &v)) {
        if (v == NULL || v[0] == '\0' || strlen(v) > 255)
            goto bad_value;
        c->source = v;
    } else {
        say("%.64s: unknown option (sbx-cli -help lists them)", a);
        return EXIT_USAGE;
    }
    return -1;
bad_value:
    say("%.*s: bad or missing value", (int)strcspn(a, "="), a);
    return EXIT_USAGE;
}

/* Parse the options; returns -1 to go on, else an exit status. */
static int
parse_args(struct cli *c, int argc, char **argv)
{
    struct sbx_err err;
    char name[64];
    int i, rc, status;

    rpc_client_init(&c->conn);
    c->timeout_s = TIMEOUT_DEFAULT;
    for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *a = argv[i] + (argv[i][1] == '-' ? 2 : 1);
        size_t len = strcspn(a, "=");

        snprintf(name, sizeof(name), "%.*s", (int)(len < sizeof(name) ? len : 0), a);
        rc = rpc_client_option(&c->conn, name, a[len] == '=' ? a + len + 1 : NULL, &err);
        if (rc == SBX_OK)
            continue;
        if (rc != SBX_ENOTFOUND) {
            say("%s", err.msg);
            return EXIT_USAGE;
        }
        status = own_option(c, argv[i]);
        if (status >= 0)
            return status;
    }
    c->tls = c->tls || c->pinned;
    if (i >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    c->method = argv[i++];
    c->params = argv + i;
    c->nparams = argc - i;
    if (c->nparams > MAX_PARAMS) {
        say("more than %d parameters", MAX_PARAMS);
        return EXIT_USAGE;
    }
    return -1;
}

static int
is_int_param(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(int_params) / sizeof(int_params[0]); i++)
        if (strlen(int_params[i]) == len && strncmp(int_params[i], name, len) == 0)
            return 1;
    return 0;
}

/* An integer as JSON spells it, without leading zeros ("0", "-12", not "012" or "+1"). */
static int
is_plain_integer(const char *s)
{
    if (*s == '-')
        s++;
    if (s[0] == '0')
        return s[1] == '\0';
    if (s[0] < '1' || s[0] > '9')
        return 0;
    return strspn(s, "0123456789") == strlen(s);
}

/* The JSON value for one `name=value` (or `name:=JSON`) argument; NULL after a message. */
static json_t *
param_value(const char *arg, const char *name, size_t name_len, const char *value, int raw)
{
    json_error_t je;
    json_t *j;
    long long n;

    if (raw || value[0] == '{' || value[0] == '[') {
        j = json_loads(value, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
        if (j == NULL)
            say("%.*s: not valid JSON: %s", (int)name_len, name, je.text);
        return j;
    }
    if (strcmp(value, "true") == 0)
        return json_true();
    if (strcmp(value, "false") == 0)
        return json_false();
    if (is_int_param(name, name_len) && is_plain_integer(value)) {
        if (!num_parse_int(value, INT64_MIN, INT64_MAX, &n)) {
            say("%.*s: integer out of range", (int)name_len, name);
            return NULL;
        }
        return json_integer((json_int_t)n);
    }
    j = json_string(value);
    if (j == NULL)
        say("%s: not UTF-8 text", arg);
    return j;
}

/* The request body, or NULL after a message (a usage error). */
static char *
build_request(const struct cli *c)
{
    json_t *req = NULL, *params = NULL, *v;
    char *body = NULL;
    char name[128];

    params = json_object();
    if (params == NULL)
        goto out;
    for (int i = 0; i < c->nparams; i++) {
        const char *arg = c->params[i];
        const char *eq = strchr(arg, '=');
        size_t len;
        int raw;

        if (eq == NULL || eq == arg) {
            say("'%.64s': parameters are name=value", arg);
            goto out;
        }
        raw = eq[-1] == ':';
        len = (size_t)(eq - arg) - (raw ? 1 : 0);
        if (len == 0 || len >= sizeof(name)) {
            say("'%.64s': bad parameter name", arg);
            goto out;
        }
        memcpy(name, arg, len);
        name[len] = '\0';
        if (json_object_get(params, name) != NULL) {
            say("%s: given twice", name);
            goto out;
        }
        v = param_value(arg, name, len, eq + 1, raw);
        if (v == NULL || json_object_set_new(params, name, v) != 0)
            goto out;
    }
    req = json_pack("{s:s, s:i, s:s, s:O}", "jsonrpc", "2.0", "id", 1, "method", c->method,
                    "params", params);
    if (req == NULL) {
        say("%.64s: the method name is not UTF-8 text", c->method);
        goto out;
    }
    body = json_dumps(req, JSON_COMPACT);
out:
    json_decref(params);
    json_decref(req);
    return body;
}

static void
on_error(enum evhttp_request_error e, void *arg)
{
    struct reply *r = arg;

    r->error = (int)e;
}

static void
on_response(struct evhttp_request *req, void *arg)
{
    struct reply *r = arg;
    struct evbuffer *in;
    size_t len;

    if (req == NULL || evhttp_request_get_response_code(req) == 0)
        goto out;
    r->status = evhttp_request_get_response_code(req);
    in = evhttp_request_get_input_buffer(req);
    len = evbuffer_get_length(in);
    r->body = malloc(len + 1);
    if (r->body == NULL)
        goto out;
    r->len = (size_t)evbuffer_remove(in, r->body, len);
    r->body[r->len] = '\0';
out:
    /* Do not wait for a kept-alive connection to close. */
    event_base_loopbreak(r->base);
}

/* POST `body` to / with `auth`. The outcome is in `r` (status 0: no answer). */
static void
http_post(const struct cli *c, const char *auth, const char *body, struct reply *r)
{
    struct event_base *base = NULL;
    struct evhttp_connection *conn = NULL;
    struct evhttp_request *req;
    struct evkeyvalq *h;
    char port_host[300];

    memset(r, 0, sizeof(*r));
    r->error = -1;
    base = event_base_new();
    if (base == NULL)
        goto out;
    r->base = base;
    if (c->tls) {
        struct bufferevent *bev = rpc_tls_client_bev(c->ctx, base, c->conn.host);

        /* the connection owns the bufferevent */
        conn = bev == NULL ? NULL
                           : evhttp_connection_base_bufferevent_new(base, NULL, bev, c->conn.host,
                                                                    (unsigned short)c->port);
        if (conn == NULL && bev != NULL)
            bufferevent_free(bev);
    } else {
        conn = evhttp_connection_base_new(base, NULL, c->conn.host, (unsigned short)c->port);
    }
    if (conn == NULL)
        goto out;
    if (c->source != NULL)
        evhttp_connection_set_local_address(conn, c->source);
    if (c->timeout_s > 0)
        evhttp_connection_set_timeout(conn, c->timeout_s);
    evhttp_connection_set_max_body_size(conn, RESPONSE_MAX);
    req = evhttp_request_new(on_response, r);
    if (req == NULL)
        goto out;
    evhttp_request_set_error_cb(req, on_error);
    h = evhttp_request_get_output_headers(req);
    snprintf(port_host, sizeof(port_host), "%s:%d", c->conn.host, c->port);
    evhttp_add_header(h, "Host", port_host);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Connection", "close");
    evhttp_add_header(h, "Authorization", auth);
    evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    /* The connection owns the request from here on, whether this succeeds or not. */
    if (evhttp_make_request(conn, req, EVHTTP_REQ_POST, "/") != 0)
        goto out;
    event_base_dispatch(base);
out:
    if (conn != NULL)
        evhttp_connection_free(conn);
    if (base != NULL)
        event_base_free(base);
}

/* -rpctls without -rpcfingerprint for the node in the datadir (no -rpcconnect): pin
 * <datadir>/rpc.crt, the pair sbxd makes when rpctls=1 has no rpctlscert; without that file,
 * leave the certificate to the system's authorities. SBX_EIO after a message when the file is
 * there but unreadable. */
static int
local_pin(struct cli *c)
{
    char path[1100];
    struct sbx_err err;

    if ((size_t)snprintf(path, sizeof(path), "%s/rpc.crt", c->conn.datadir) >= sizeof(path) ||
        access(path, F_OK) != 0)
        return SBX_OK;
    if (tls_fingerprint_file(c->pin, path, &err) != SBX_OK) {
        say("%s", err.msg);
        return SBX_EIO;
    }
    c->pinned = 1;
    return SBX_OK;
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The help method's result as text: the list of methods, or one method's parameters. */
static void
print_help(const json_t *result)
{
    const json_t *v, *p;
    size_t i;

    if (json_is_array(result)) {
        json_array_foreach(result, i, v)
        {
            printf("%s\n    %s\n", json_string_value(json_object_get(v, "usage")),
                   json_string_value(json_object_get(v, "summary")));
        }
        printf("\nsbx-cli help METHOD describes one.\n");
        return;
    }
    printf("%s\n%s\nRoles:", json_string_value(json_object_get(result, "usage")),
           json_string_value(json_object_get(result, "summary")));
    json_array_foreach(json_object_get(result, "roles"), i, v) printf(" %s", json_string_value(v));
    printf("\n");
    if (json_array_size(json_object_get(result, "params")) == 0) {
        printf("\nNo parameters.\n");
        return;
    }
    printf("\nParameters:\n");
    json_array_foreach(json_object_get(result, "params"), i, p)
    {
        printf("  %-16s %-8s %-9s %s\n", json_string_value(json_object_get(p, "name")),
               json_string_value(json_object_get(p, "type")),
               json_is_true(json_object_get(p, "required")) ? "required" : "optional",
               json_string_value(json_object_get(p, "meaning")));
    }
}

/* Print the answer in `r`; returns the exit status. */
static int
print_reply(const struct cli *c, const struct reply *r)
{
    json_t *resp = NULL, *result, *error, *code, *msg, *data, *csv;
    json_error_t je;
    char *text;
    int status = EXIT_RPC_ERROR;

    if (r->status == 401) {
        say("authorization failed: %s", c->conn.user[0] != '\0'
                                            ? "wrong -rpcuser or password"
                                            : "the cookie is stale (was sbxd restarted?)");
        return EXIT_CONNECT;
    }
    if (r->status == 403) {
        say("forbidden: this client's address is not in the node's rpcallowip");
        return EXIT_CONNECT;
    }
    if (r->status == 413) {
        say("the request is larger than the server's -rpcmaxbody");
        return EXIT_RPC_ERROR;
    }
    if (r->len > 0)
        resp = json_loadb(r->body, r->len, 0, &je);
    if (!json_is_object(resp)) {
        say("HTTP status %d and no JSON-RPC answer", r->status);
        goto out;
    }
    error = json_object_get(resp, "error");
    result = json_object_get(resp, "result");
    if (error != NULL && !json_is_null(error)) {
        code = json_object_get(error, "code");
        msg = json_object_get(error, "message");
        data = json_object_get(error, "data");
        if (json_is_integer(code) && json_is_string(msg)) {
            fprintf(stderr, "error code %" JSON_INTEGER_FORMAT ": %s\n", json_integer_value(code),
                    json_string_value(msg));
        } else {
            text = json_dumps(error, JSON_INDENT(2) | JSON_ENCODE_ANY);
            fprintf(stderr, "error: %s\n", text != NULL ? text : "(unprintable)");
            free(text);
            data = NULL;
        }
        if (data != NULL && !json_is_null(data)) {
            text = json_dumps(data, JSON_INDENT(2) | JSON_ENCODE_ANY);
            if (text != NULL)
                fprintf(stderr, "%s\n", text);
            free(text);
        }
        goto out;
    }
    if (result == NULL) {
        say("the answer has neither result nor error");
        goto out;
    }
    csv = json_object_get(result, "csv");
    if (strcmp(c->method, "help") == 0 && (json_is_array(result) || json_is_object(result))) {
        print_help(result);
    } else if (json_is_string(csv)) {
        /* getreport format=csv: the CSV text itself, so that `> file.csv` gives a CSV file */
        fputs(json_string_value(csv), stdout);
    } else if (json_is_string(result)) {
        printf("%s\n", json_string_value(result));
    } else if (!json_is_null(result)) {
        text = json_dumps(result, JSON_INDENT(2) | JSON_ENCODE_ANY);
        if (text == NULL) {
            say("out of memory");
            goto out;
        }
        printf("%s\n", text);
        free(text);
    }
    status = fflush(stdout) == 0 ? 0 : EXIT_RPC_ERROR;
out:
    json_decref(resp);
    return status;
}

/* "help METHOD": the bare word after help is the method to describe. */
static void
help_positional(struct cli *c)
{
    static char arg[80];

    if (strcmp(c->method, "help") == 0 && c->nparams == 1 && strchr(c->params[0], '=') == NULL) {
        snprintf(arg, sizeof(arg), "method=%.64s", c->params[0]);
        c->params[0] = arg;
    }
}

/* POST the request until an answer comes (or, with -rpcwait, 30 s pass); the exit status to
 * go on with (-1), or the one to exit with. */
static int
exchange(struct cli *c, const char *body, struct reply *r)
{
    char auth[RPC_CLIENT_AUTH_MAX], seen[TLS_FINGERPRINT_HEX];
    double deadline = now_s() + WAIT_SECONDS;
    struct sbx_err err;
    int rc;

    for (;;) {
        rc = rpc_client_auth(&c->conn, auth, sizeof(auth), &err);
        if (rc == SBX_ENOTFOUND && c->wait && now_s() < deadline) {
            sleep_ms(WAIT_STEP_MS);
            continue;
        }
        if (rc) {
            say("%s", err.msg);
            return EXIT_CONNECT;
        }
        /* Read at each attempt: -rpcwait may see the node start. */
        c->port = rpc_client_port(&c->conn);
        http_post(c, auth, body, r);
        OPENSSL_cleanse(auth, sizeof(auth));
        if (r->status != 0)
            return -1;
        if (r->error == EVREQ_HTTP_DATA_TOO_LONG) {
            say("the answer is larger than %u bytes", RESPONSE_MAX);
            return EXIT_RPC_ERROR;
        }
        if (r->error == EVREQ_HTTP_TIMEOUT) {
            say("no answer from %s:%d within %d s", c->conn.host, c->port, c->timeout_s);
            return EXIT_CONNECT;
        }
        if (c->tls && rpc_tls_client_refused(c->ctx, seen)) {
            say("%s:%d: the server's TLS certificate (SHA-256 fingerprint %s) is %s", c->conn.host,
                c->port, seen,
                c->pinned ? "not the one pinned with -rpcfingerprint"
                          : "not trusted (give its fingerprint with -rpcfingerprint)");
            return EXIT_CONNECT;
        }
        if (!c->wait || now_s() >= deadline) {
            say("cannot connect to %s:%d (is sbxd running?%s)", c->conn.host, c->port,
                c->tls ? "" : " if it has rpctls=1, add -rpctls");
            return EXIT_CONNECT;
        }
        free(r->body);
        r->body = NULL;
        sleep_ms(WAIT_STEP_MS);
    }
}

int
main(int argc, char **argv)
{
    struct cli c;
    struct reply r = {0};
    struct sbx_err err;
    char *body = NULL;
    int status;

    memset(&c, 0, sizeof(c));
    status = parse_args(&c, argc, argv);
    if (status >= 0)
        goto out;
    if (strcmp(c.method, "verifytxproof") == 0) {
        status = rpc_cli_proof_main(c.nparams, c.params);
        goto out;
    }
    if (strcmp(c.method, "verifyliabilityproof") == 0) {
        status = rpc_cli_liab_main(c.nparams, c.params);
        goto out;
    }
    status = EXIT_USAGE;
    help_positional(&c);
    body = build_request(&c);
    if (body == NULL)
        goto out;
    if (rpc_client_resolve(&c.conn, &err) != SBX_OK) {
        say("%s", err.msg);
        goto out;
    }
    /* the local node (no -rpcconnect): its own certificate in the datadir is the pin */
    if (c.tls && !c.pinned && rpc_client_is_local(&c.conn) && local_pin(&c) != SBX_OK)
        goto out;
    if (c.tls && rpc_tls_client_new(&c.ctx, c.pinned ? c.pin : NULL, &err) != SBX_OK) {
        say("%s", err.msg);
        status = EXIT_CONNECT;
        goto out;
    }
    status = exchange(&c, body, &r);
    if (status < 0)
        status = print_reply(&c, &r);
out:
    rpc_tls_free(c.ctx);
    rpc_client_release(&c.conn);
    free(r.body);
    free(body);
    return status;
}
