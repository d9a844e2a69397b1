/* sbx-cli: send one JSON-RPC request to sbxd and print the answer.
 *
 *   sbx-cli [options] METHOD [name=value ...]
 *   sbx-cli verifytxproof PROOF [GENESIS]     (no node: rpc/cli_proof.c)
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
 * Credentials: -rpcuser/-rpcpassword, else the cookie <datadir>/.cookie that sbxd writes at
 * start-up. The port: -rpcport, else (without -rpcconnect) <datadir>/.rpcport, which sbxd
 * writes while it runs, else the default. -rpctls speaks HTTPS, checking the certificate against
 * the system's authorities, or only its fingerprint with -rpcfingerprint (rpc/tls.c); the check
 * is made in the handshake, before the request is sent. Exit status: 0 result printed; 1 the server
 * answered with an error; 2 usage; 3 no connection, timeout or authentication failure. The cookie
 * and the password are never printed.
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

#define RPCPORT_MAIN 8645
#define RPCPORT_DEVNET 18645
#define WAIT_SECONDS 30           /* -rpcwait gives up after this long */
#define WAIT_STEP_MS 250          /* ... trying again this often */
#define TIMEOUT_DEFAULT 900       /* seconds for one request (verifychain can take long) */
#define COOKIE_MAX 1024           /* bytes read from the cookie file at most */
#define RESPONSE_MAX (256u << 20) /* bytes of response body at most */
#define MAX_PARAMS 256

/* Parameters whose values are integers on the wire (doc/rpc.md). */
static const char *const int_params[] = {
    "height", "limit", "kyc_tier", "executed_at", "from", "to", "score", "valid_to", "value",
};

static const char usage_text[] =
    "Usage: sbx-cli [options] METHOD [name=value ...]\n"
    "       sbx-cli verifytxproof PROOF [GENESIS]\n"
    "\n"
    "Send one JSON-RPC request to sbxd and print the result as indented JSON (a result\n"
    "with a member csv, getreport format=csv, as that text).\n"
    "\n"
    "Options:\n"
    "  -help                 print this text and exit\n"
    "  -devnet               use the devnet defaults (datadir ~/.sbx/devnet, port 18645)\n"
    "  -datadir=DIR          where to find the cookie (default ~/.sbx, or ~/.sbx/devnet)\n"
    "  -rpcconnect=HOST      server address (default 127.0.0.1)\n"
    "  -rpcport=PORT         server port (default: the port the node in the datadir\n"
    "                        listens on, from <datadir>/.rpcport; else 8645, devnet 18645)\n"
    "  -rpcuser=USER         user of an rpcauth line (with -rpcpassword); default: the\n"
    "  -rpcpassword=PASS     cookie file <datadir>/.cookie (role admin)\n"
    "  -rpctls               speak HTTPS (the node's rpctls=1); the certificate must be\n"
    "                        signed by a certificate authority this system trusts for the\n"
    "                        -rpcconnect name, unless pinned:\n"
    "  -rpcfingerprint=SHA256  accept only the certificate with this SHA-256 fingerprint\n"
    "                        (64 hex, or OpenSSL's AB:CD:... form; sbxd logs it); implies\n"
    "                        -rpctls\n"
    "  -rpcsource=ADDR       connect from this local address (a host with several)\n"
    "  -rpcwait              wait up to 30 s for the server to start\n"
    "  -rpcclienttimeout=S   seconds to wait for an answer (default 900, 0 = forever)\n"
    "\n"
    "Parameters are named. Values are sent as JSON strings (amounts stay exact: \"0.5\"),\n"
    "except true/false (booleans), values starting with { or [ (parsed as JSON), and\n"
    "integers for height, limit, kyc_tier, executed_at, from, to, score, valid_to, value.\n"
    "name:=JSON sends any JSON value as it is (e.g. cursor:=42).\n"
    "\n"
    "Examples:\n"
    "  sbx-cli -devnet getinfo\n"
    "  sbx-cli getblock height=12 verbose=true\n"
    "  sbx-cli submittrade trade_id=T1 buyer=alice seller=bob asset=BTC quantity=0.5 \\\n"
    "      price=2450000000 executed_at=$(date +%s000)\n"
    "\n"
    "Exit status: 0 success, 1 error from the server, 2 usage, 3 connection or\n"
    "authentication failure.\n"
    "\n"
    "Commands that need no node:\n";

struct cli {
    int devnet;
    const char *datadir; /* NULL: default */
    const char *host;
    int host_given;
    int port; /* 0: not given */
    int port_given;
    const char *user;
    const char *password;
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

/* Parse the options; returns -1 to go on, else an exit status. */
static int
parse_args(struct cli *c, int argc, char **argv)
{
    const char *v;
    long long n;
    int i;

    c->host = "127.0.0.1";
    c->timeout_s = TIMEOUT_DEFAULT;
    for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *a = argv[i];

        if (opt_is(a, "help", &v) || opt_is(a, "h", &v) || opt_is(a, "?", &v)) {
            fputs(usage_text, stdout);
            fputs(rpc_cli_proof_usage, stdout);
            return 0;
        } else if (opt_is(a, "devnet", &v)) {
            if (v != NULL && strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
                goto bad_value;
            c->devnet = v == NULL || v[0] == '1';
        } else if (opt_is(a, "rpcwait", &v)) {
            if (v != NULL && strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
                goto bad_value;
            c->wait = v == NULL || v[0] == '1';
        } else if (opt_is(a, "datadir", &v)) {
            if (v == NULL || v[0] == '\0')
                goto bad_value;
            c->datadir = v;
        } else if (opt_is(a, "rpcconnect", &v)) {
            if (v == NULL || v[0] == '\0' || strlen(v) > 255)
                goto bad_value;
            c->host = v;
            c->host_given = 1;
        } else if (opt_is(a, "rpcport", &v)) {
            if (v == NULL || !num_parse_int(v, 1, 65535, &n)) {
                say("-rpcport: not a port number: '%.64s'", v != NULL ? v : "");
                return EXIT_USAGE;
            }
            c->port = (int)n;
            c->port_given = 1;
        } else if (opt_is(a, "rpcclienttimeout", &v)) {
            if (v == NULL || !num_parse_int(v, 0, 86400 * 365, &n))
                goto bad_value;
            c->timeout_s = (int)n;
        } else if (opt_is(a, "rpcuser", &v)) {
            if (v == NULL || v[0] == '\0' || strchr(v, ':') != NULL)
                goto bad_value;
            c->user = v;
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
        } else if (opt_is(a, "rpcpassword", &v)) {
            if (v == NULL)
                goto bad_value;
            c->password = v;
        } else {
            say("%.64s: unknown option (sbx-cli -help lists them)", a);
            return EXIT_USAGE;
        }
        continue;
    bad_value:
        /* The value is not echoed: it may be a password. */
        say("%.*s: bad or missing value", (int)strcspn(a, "="), a);
        return EXIT_USAGE;
    }
    if ((c->user == NULL) != (c->password == NULL)) {
        say("-rpcuser and -rpcpassword go together");
        return EXIT_USAGE;
    }
    c->tls = c->tls || c->pinned;
    if (i >= argc) {
        fputs(usage_text, stderr);
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
default_datadir(char *out, size_t size, int devnet)
{
    const char *home = getenv("HOME");
    struct passwd *pw;

    if (home == NULL || home[0] == '\0') {
        pw = getpwuid(getuid());
        home = pw != NULL ? pw->pw_dir : "";
    }
    snprintf(out, size, "%s/.sbx%s", home, devnet ? "/devnet" : "");
}

/* Read "user:password" from the cookie file into `out`. 0 on success, -1 if absent (errno
 * says why), -2 if malformed. */
static int
read_cookie(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "r");
    size_t n;
    int rc = -2;

    if (f == NULL)
        return -1;
    n = fread(out, 1, size - 1, f);
    out[n] = '\0';
    /* A cookie is one line; anything after it (or a file too long) is not a cookie. */
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    if (n > 0 && !ferror(f) && feof(f) && strchr(out, ':') != NULL && strchr(out, '\n') == NULL)
        rc = 0;
    fclose(f);
    return rc;
}

/* The port in <datadir>/.rpcport (written by sbxd while it runs), or 0. */
static int
read_port_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char buf[16];
    size_t n;
    long long port = 0;

    if (f == NULL)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n')
        buf[n - 1] = '\0';
    if (!num_parse_int(buf, 1, 65535, &port))
        return 0;
    return (int)port;
}

/* "Basic " + base64(user:password) into `out` (size at least 4 * (len + 2) / 3 + 8). */
static void
basic_auth(char *out, size_t size, const char *cred)
{
    size_t len = strlen(cred);

    if (size < 6 + 4 * ((len + 2) / 3) + 1) {
        out[0] = '\0';
        return;
    }
    memcpy(out, "Basic ", 6);
    EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)cred, (int)len);
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
        struct bufferevent *bev = rpc_tls_client_bev(c->ctx, base, c->host);

        /* the connection owns the bufferevent */
        conn = bev == NULL ? NULL
                           : evhttp_connection_base_bufferevent_new(base, NULL, bev, c->host,
                                                                    (unsigned short)c->port);
        if (conn == NULL && bev != NULL)
            bufferevent_free(bev);
    } else {
        conn = evhttp_connection_base_new(base, NULL, c->host, (unsigned short)c->port);
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
    snprintf(port_host, sizeof(port_host), "%s:%d", c->host, c->port);
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

/* -rpctls without -rpcfingerprint for the node in `datadir`: pin <datadir>/rpc.crt, the pair
 * sbxd makes when rpctls=1 has no rpctlscert; without that file, leave the certificate to the
 * system's authorities. SBX_EIO after a message when the file is there but unreadable. */
static int
local_pin(struct cli *c, const char *datadir)
{
    char path[1100];
    struct sbx_err err;

    if ((size_t)snprintf(path, sizeof(path), "%s/rpc.crt", datadir) >= sizeof(path) ||
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

/* Print the answer in `r`; returns the exit status. */
static int
print_reply(const struct cli *c, const struct reply *r)
{
    json_t *resp = NULL, *result, *error, *code, *msg, *data, *csv;
    json_error_t je;
    char *text;
    int status = EXIT_RPC_ERROR;

    if (r->status == 401) {
        say("authorization failed: %s", c->user != NULL
                                            ? "wrong -rpcuser or -rpcpassword"
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
    if (json_is_string(csv)) {
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

int
main(int argc, char **argv)
{
    struct cli c;
    struct reply r = {0};
    char datadir[1024], cookie_path[1100], port_path[1100];
    char cred[COOKIE_MAX + 1];
    char auth[2 * COOKIE_MAX + 16];
    char *body = NULL, seen[TLS_FINGERPRINT_HEX];
    struct sbx_err err;
    double deadline;
    int status, n;

    memset(&c, 0, sizeof(c));
    status = parse_args(&c, argc, argv);
    if (status >= 0)
        return status;
    if (strcmp(c.method, "verifytxproof") == 0)
        return rpc_cli_proof_main(c.nparams, c.params);
    status = EXIT_USAGE;
    body = build_request(&c);
    if (body == NULL)
        goto out;

    if (c.datadir != NULL)
        snprintf(datadir, sizeof(datadir), "%s", c.datadir);
    else
        default_datadir(datadir, sizeof(datadir), c.devnet);
    n = snprintf(cookie_path, sizeof(cookie_path), "%s/.cookie",
                 c.datadir != NULL ? c.datadir : datadir);
    if (n < 0 || (size_t)n >= sizeof(cookie_path)) {
        say("-datadir: path too long");
        goto out;
    }
    snprintf(port_path, sizeof(port_path), "%s/.rpcport", c.datadir != NULL ? c.datadir : datadir);
    /* the local node (no -rpcconnect): its own certificate in the datadir is the pin */
    if (c.tls && !c.pinned && !c.host_given && local_pin(&c, datadir) != SBX_OK)
        goto out;
    if (c.tls && rpc_tls_client_new(&c.ctx, c.pinned ? c.pin : NULL, &err) != SBX_OK) {
        say("%s", err.msg);
        status = EXIT_CONNECT;
        goto out;
    }

    deadline = now_s() + WAIT_SECONDS;
    for (;;) {
        status = EXIT_CONNECT;
        if (c.user != NULL) {
            n = snprintf(cred, sizeof(cred), "%s:%s", c.user, c.password);
            if (n < 0 || (size_t)n >= sizeof(cred)) {
                say("-rpcuser/-rpcpassword: too long");
                status = EXIT_USAGE;
                goto out;
            }
        } else {
            n = read_cookie(cookie_path, cred, sizeof(cred));
            if (n == -2) {
                say("%s is not a cookie file", cookie_path);
                goto out;
            }
            if (n == -1) {
                if (c.wait && now_s() < deadline) {
                    sleep_ms(WAIT_STEP_MS);
                    continue;
                }
                say("cannot read %s: %s (is sbxd running with this -datadir%s? or give "
                    "-rpcuser and -rpcpassword)",
                    cookie_path, strerror(errno), c.devnet ? "" : ", or -devnet");
                goto out;
            }
        }
        /* The port: -rpcport; else, for the local node, the one it says it listens on; else
         * the default. Read at each attempt: -rpcwait may see the node start. */
        if (!c.port_given) {
            c.port = c.host_given ? 0 : read_port_file(port_path);
            if (c.port == 0)
                c.port = c.devnet ? RPCPORT_DEVNET : RPCPORT_MAIN;
        }
        basic_auth(auth, sizeof(auth), cred);
        OPENSSL_cleanse(cred, sizeof(cred));
        http_post(&c, auth, body, &r);
        OPENSSL_cleanse(auth, sizeof(auth));
        if (r.status != 0)
            break;
        if (r.error == EVREQ_HTTP_DATA_TOO_LONG) {
            say("the answer is larger than %u bytes", RESPONSE_MAX);
            status = EXIT_RPC_ERROR;
            goto out;
        }
        if (r.error == EVREQ_HTTP_TIMEOUT) {
            say("no answer from %s:%d within %d s", c.host, c.port, c.timeout_s);
            goto out;
        }
        if (c.tls && rpc_tls_client_refused(c.ctx, seen)) {
            say("%s:%d: the server's TLS certificate (SHA-256 fingerprint %s) is %s", c.host,
                c.port, seen,
                c.pinned ? "not the one pinned with -rpcfingerprint"
                         : "not trusted (give its fingerprint with -rpcfingerprint)");
            goto out;
        }
        if (!c.wait || now_s() >= deadline) {
            say("cannot connect to %s:%d (is sbxd running?%s)", c.host, c.port,
                c.tls ? "" : " if it has rpctls=1, add -rpctls");
            goto out;
        }
        free(r.body);
        r.body = NULL;
        sleep_ms(WAIT_STEP_MS);
    }
    status = print_reply(&c, &r);
out:
    rpc_tls_free(c.ctx);
    free(r.body);
    free(body);
    return status;
}
