/* sbxd: the daemon entry point.
 *
 * Reads the configuration, makes the datadir, takes its lock, opens the log, then opens the
 * node and its JSON-RPC server on one libevent loop and runs it until SIGTERM, SIGINT or the
 * `stop` RPC. Every process-wide change (signal dispositions, umask, libevent's threading, the
 * log, the key context) is made here and nowhere else.
 *
 * Shutdown is one path whatever asked for it: the request is turned into an event on the loop
 * (never run inside the RPC server's own callback, which the shutdown frees), which frees the
 * RPC server (no new requests; cookie, .rpcport and the pid file removed), closes the node (the
 * block in flight is finished and synced) and leaves the loop. Exit status: 0 after a clean stop, 1
 * on any start-up failure.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "compliance/licence_file.h"
#include "ledger/keys.h"
#include "node/ceremony.h"
#include "node/config.h"
#include "node/net.h"
#include "node/node.h"
#include "rpc/server.h"
#include "util/err.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/par.h"
#include "util/time.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* Longest path built under the datadir ("/.cookie", "/debug.log", "/.lock"). */
#define PATH_SIZE 1100

struct daemon {
    struct sbxd_config cfg;
    struct event_base *base;
    struct node *node;
    struct node_net *net;
    struct rpc_server *rpc;
    struct event *sig_term, *sig_int, *sig_hup;
    struct event *stop_ev; /* made active to shut down from the loop */
    int lock_fd;
    char port_path[PATH_SIZE];     /* <datadir>/.rpcport once written, else "" */
    char p2p_port_path[PATH_SIZE]; /* <datadir>/.p2pport once written, else "" */
    char pid_path[PATH_SIZE];      /* the -pid file once written, else "" */
    int stopping;
    int stopped; /* the shutdown path ran to its end */
};

/* A start-up failure: to the log, and to stderr too when the log does not already go there
 * (a user who starts sbxd by hand must see why it did not start). */
static void SBX_PRINTF(2, 3) startup_error(const struct daemon *d, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    LOG_ERROR(LOG_NODE, "%s", msg);
    if (!d->cfg.printtoconsole)
        fprintf(stderr, "sbxd: %s\n", msg);
}

static int
path_join(char *out, size_t size, const char *dir, const char *name)
{
    int n = snprintf(out, size, "%s/%s", dir, name);

    return n >= 0 && (size_t)n < size ? SBX_OK : SBX_EINVAL;
}

/* mkdir -p with mode 0700 for each directory it creates. */
static int
make_dirs(const char *path, struct sbx_err *err)
{
    char buf[sizeof(((struct sbxd_config *)0)->datadir)];
    struct stat st;
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(buf))
        return sbx_err_set(err, SBX_EINVAL, "datadir: bad path");
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return sbx_err_set(err, SBX_EIO, "cannot create %s: %s", buf, strerror(errno));
        buf[i] = path[i];
    }
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return sbx_err_set(err, SBX_EIO, "%s is not a directory", path);
    return SBX_OK;
}

/* Take <datadir>/.lock with a POSIX record lock, held until the process ends. The file keeps
 * the pid of the holder, for operators; it is never removed (removal would race a starter). */
static int
take_lock(struct daemon *d, struct sbx_err *err)
{
    char path[PATH_SIZE];
    struct flock fl;
    int fd;

    if (path_join(path, sizeof(path), d->cfg.datadir, ".lock") != SBX_OK)
        return sbx_err_set(err, SBX_EINVAL, "datadir: path too long");
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return sbx_err_set(err, SBX_EIO, "cannot open %s: %s", path, strerror(errno));
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        int e = errno;

        close(fd);
        if (e == EACCES || e == EAGAIN)
            return sbx_err_set(err, SBX_EUNAVAIL, "another sbxd is using %s", d->cfg.datadir);
        return sbx_err_set(err, SBX_EIO, "cannot lock %s: %s", path, strerror(e));
    }
    if (ftruncate(fd, 0) == 0)
        dprintf(fd, "%ld\n", (long)getpid());
    d->lock_fd = fd;
    return SBX_OK;
}

/* Write `value` and a newline to `path`: aside and renamed, so that a reader never sees half a
 * number. -1 with errno on failure (nothing left behind). */
static int
write_number_file(const char *path, long value)
{
    char tmp[PATH_SIZE + 16];
    int fd, ok, n, e;

    n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    ok = dprintf(fd, "%ld\n", value) > 0;
    ok = close(fd) == 0 && ok;
    if (ok && rename(tmp, path) == 0)
        return 0;
    e = errno;
    unlink(tmp);
    errno = e;
    return -1;
}

/* Write a port we listen on to <datadir>/NAME (.rpcport, .p2pport), so that `sbx-cli
 * -datadir=DIR` and scripts find a node started with -devnet or port 0 without being told the
 * port. Removed at stop. Not fatal: without it sbx-cli falls back to the default port. */
static void
write_port_file(struct daemon *d, const char *name, int port, char *path, size_t size)
{
    if (path_join(path, size, d->cfg.datadir, name) == SBX_OK && write_number_file(path, port) == 0)
        return;
    LOG_WARN(LOG_NODE, "cannot write %s/%s", d->cfg.datadir, name);
    path[0] = '\0';
}

/* Write the pid file (-pid, default <datadir>/sbxd.pid; a relative path is in the datadir),
 * which logrotate and init scripts signal; removed at stop (remove_port_files). Unlike .lock,
 * it is never left behind by a clean stop, so a stale pid is not signalled. Fatal if it cannot
 * be written: a supervisor relying on it would signal nothing. */
static int
write_pid_file(struct daemon *d, struct sbx_err *err)
{
    const char *name = d->cfg.pid[0] != '\0' ? d->cfg.pid : "sbxd.pid";
    int n;

    if (name[0] == '/')
        n = snprintf(d->pid_path, sizeof(d->pid_path), "%s", name);
    else
        n = snprintf(d->pid_path, sizeof(d->pid_path), "%s/%s", d->cfg.datadir, name);
    if (n < 0 || (size_t)n >= sizeof(d->pid_path)) {
        d->pid_path[0] = '\0';
        return sbx_err_set(err, SBX_EINVAL, "-pid: path too long");
    }
    if (write_number_file(d->pid_path, (long)getpid()) != 0) {
        int e = errno;

        d->pid_path[0] = '\0';
        return sbx_err_set(err, SBX_EIO, "cannot write the pid file %s: %s", name, strerror(e));
    }
    return SBX_OK;
}

/* Remove the port files and the pid file (at stop, and after a failed start). */
static void
remove_port_files(struct daemon *d)
{
    if (d->port_path[0] != '\0')
        unlink(d->port_path);
    d->port_path[0] = '\0';
    if (d->p2p_port_path[0] != '\0')
        unlink(d->p2p_port_path);
    d->p2p_port_path[0] = '\0';
    if (d->pid_path[0] != '\0')
        unlink(d->pid_path);
    d->pid_path[0] = '\0';
}

/* The one shutdown path (see the top of the file). Runs once. */
static void
on_stop_event(evutil_socket_t fd, short what, void *arg)
{
    struct daemon *d = arg;

    LOG_INFO(LOG_NODE, "shutting down");
    /* The RPC loops beside this one first (no new request from them), then the peer links
     * (nothing new arrives from peers), then the node: it finishes the blocks in flight and
     * hands every outstanding result to the RPC server's sinks (node.h), which must still
     * exist; then the server, which delivers them. */
    rpc_server_stop(d->rpc);
    node_net_free(d->net);
    d->net = NULL;
    node_close(d->node);
    d->node = NULL;
    rpc_server_free(d->rpc);
    d->rpc = NULL;
    remove_port_files(d);
    d->stopped = 1;
    event_base_loopexit(d->base, NULL);
}

static void
request_stop(struct daemon *d, const char *why)
{
    if (d->stopping)
        return;
    d->stopping = 1;
    LOG_INFO(LOG_NODE, "stop requested (%s)", why);
    event_active(d->stop_ev, EV_TIMEOUT, 0);
}

static void
on_rpc_stop(void *arg)
{
    request_stop(arg, "stop RPC");
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *d = arg;

    if (sig == SIGHUP) {
        if (log_reopen() != SBX_OK)
            LOG_WARN(LOG_NODE, "SIGHUP: cannot reopen the log file; still writing the old one");
        else
            LOG_INFO(LOG_NODE, "SIGHUP: log file reopened");
        return;
    }
    request_stop(d, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

static int
add_signal(struct daemon *d, struct event **ev, int sig)
{
    *ev = evsignal_new(d->base, sig, on_signal, d);
    if (*ev == NULL || evsignal_add(*ev, NULL) != 0)
        return SBX_EINTERNAL;
    return SBX_OK;
}

/* rpctls: the certificate and key files into `rc` (both given, as the configuration checked, or
 * <datadir>/rpc.crt and rpc.key, made if missing); nothing without rpctls. */
static int
rpc_tls_files(const struct daemon *d, char cert[static PATH_SIZE], char key[static PATH_SIZE],
              struct rpc_config *rc, struct sbx_err *err)
{
    const struct sbxd_config *c = &d->cfg;

    if (!c->rpctls)
        return SBX_OK;
    if (c->rpctlscert[0] != '\0') {
        snprintf(cert, PATH_SIZE, "%s", c->rpctlscert);
        snprintf(key, PATH_SIZE, "%s", c->rpctlskey);
    } else if (path_join(cert, PATH_SIZE, c->datadir, "rpc.crt") != SBX_OK ||
               path_join(key, PATH_SIZE, c->datadir, "rpc.key") != SBX_OK) {
        return sbx_err_set(err, SBX_EINVAL, "datadir: path too long");
    } else {
        rc->tls_make = 1;
    }
    rc->tls_cert = cert;
    rc->tls_key = key;
    return SBX_OK;
}

/* Open the node and the RPC server and hook up the stop paths. */
static int
start(struct daemon *d, struct sbx_err *err)
{
    struct rpc_config rc;
    char cookie[PATH_SIZE], tls_cert[PATH_SIZE], tls_key[PATH_SIZE];
    int rc_;

    if (path_join(cookie, sizeof(cookie), d->cfg.datadir, ".cookie") != SBX_OK)
        return sbx_err_set(err, SBX_EINVAL, "datadir: path too long");
    if (ledger_keys_global_init() != SBX_OK)
        return sbx_err_set(err, SBX_EINTERNAL, "cannot create the signature context");
    d->base = event_base_new();
    if (d->base == NULL)
        return sbx_err_set(err, SBX_EINTERNAL, "cannot create the event loop");
    d->stop_ev = event_new(d->base, -1, 0, on_stop_event, d);
    if (d->stop_ev == NULL)
        return sbx_err_set(err, SBX_ENOMEM, "out of memory");
    if (add_signal(d, &d->sig_term, SIGTERM) != SBX_OK ||
        add_signal(d, &d->sig_int, SIGINT) != SBX_OK ||
        add_signal(d, &d->sig_hup, SIGHUP) != SBX_OK)
        return sbx_err_set(err, SBX_EINTERNAL, "cannot install the signal handlers");

    rc_ = node_open(&d->node, &d->cfg.node, d->base, err);
    if (rc_ != SBX_OK)
        return rc_;
    {
        struct node_net_config nc;
        char certdir[PATH_SIZE];

        if (path_join(certdir, sizeof(certdir), d->cfg.datadir, "p2p") != SBX_OK)
            return sbx_err_set(err, SBX_EINVAL, "datadir: path too long");
        memset(&nc, 0, sizeof(nc));
        nc.bind = d->cfg.bind[0] ? d->cfg.bind : NULL;
        nc.port = d->cfg.port;
        nc.listen = d->cfg.listen;
        nc.connect = (const char *const *)d->cfg.connect;
        nc.nconnect = d->cfg.nconnect;
        nc.certdir = certdir;
        nc.observers = (const uint8_t(*)[32])d->cfg.observers;
        nc.nobservers = d->cfg.nobservers;
        nc.limits = d->cfg.peerlimits;
        rc_ = node_net_open(&d->net, d->node, d->base, &nc, err);
        if (rc_ != SBX_OK)
            return rc_;
    }

    rpc_config_defaults(&rc);
    rc_ = rpc_tls_files(d, tls_cert, tls_key, &rc, err);
    if (rc_ != SBX_OK)
        return rc_;
    rc.allow = d->cfg.rpcallowip;
    rc.nallow = d->cfg.nrpcallowip;
    rc.bind = d->cfg.rpcbind;
    rc.port = d->cfg.rpcport;
    rc.rpcauth = (const char *const *)d->cfg.rpcauth;
    rc.nrpcauth = d->cfg.nrpcauth;
    rc.cookie_path = cookie;
    rc.max_body = d->cfg.rpcmaxbody;
    rc.max_batch = d->cfg.rpcmaxbatch;
    rc.max_conns = d->cfg.rpcmaxconns;
    rc.max_conns_per_addr = d->cfg.rpcmaxconnsperip;
    rc.max_unauth_per_addr = d->cfg.rpcmaxunauthperip;
    rc.reserve = d->cfg.rpcreserve;
    rc.header_timeout_ms = d->cfg.rpcheadertimeout;
    rc.body_timeout_ms = d->cfg.rpcbodytimeout;
    rc.events_max_queue = d->cfg.eventsmaxqueue;
    rc.threads = d->cfg.rpcthreads > 0 ? d->cfg.rpcthreads : rpc_config_default_threads();
    rc.net = d->net;
    rc_ = rpc_server_new(&d->rpc, d->base, d->node, &rc, err);
    if (rc_ != SBX_OK)
        return rc_;
    rpc_server_on_stop(d->rpc, on_rpc_stop, d);
    write_port_file(d, ".rpcport", rpc_server_port(d->rpc), d->port_path, sizeof(d->port_path));
    if (d->cfg.listen)
        write_port_file(d, ".p2pport", node_net_port(d->net), d->p2p_port_path,
                        sizeof(d->p2p_port_path));
    return SBX_OK;
}

static void
cleanup(struct daemon *d)
{
    rpc_server_stop(d->rpc);
    node_net_free(d->net);
    d->net = NULL;
    if (d->node != NULL)
        node_close(d->node); /* before the RPC server: see on_stop_event */
    d->node = NULL;
    rpc_server_free(d->rpc);
    d->rpc = NULL;
    remove_port_files(d);
    if (d->sig_term != NULL)
        event_free(d->sig_term);
    if (d->sig_int != NULL)
        event_free(d->sig_int);
    if (d->sig_hup != NULL)
        event_free(d->sig_hup);
    if (d->stop_ev != NULL)
        event_free(d->stop_ev);
    if (d->base != NULL)
        event_base_free(d->base);
    d->base = NULL;
    log_close();
    if (d->lock_fd >= 0)
        close(d->lock_fd); /* releases the lock */
    d->lock_fd = -1;
    sbxd_config_release(&d->cfg);
}

/* `sbxd -init=LICENCE.json`: the licence file checked first (a bad one creates nothing), then
 * the datadir, the operator key, the chain and genesis.hex (node/ceremony.c). Exit status. */
static int
run_init(const struct sbxd_config *cfg)
{
    struct cmp_licence_file lf;
    struct sbx_err err;
    uint8_t id[32], op[32];
    char hex[65];
    int rc;

    umask(077);
    log_set_stderr(cfg->printtoconsole);
    if (cfg->devnet) {
        fprintf(stderr, "sbxd: -init: not with -devnet\n");
        return 1;
    }
    rc = cmp_licence_file_read(&lf, cfg->init, &err);
    rc = rc ? rc : make_dirs(cfg->datadir, &err);
    rc = rc ? rc : node_ceremony_run(cfg->datadir, &lf, time_now_ms(), id, op, &err);
    cmp_licence_file_release(&lf);
    if (rc) {
        fprintf(stderr, "sbxd: -init: %s\n", err.msg);
        return 1;
    }
    hex_encode(hex, id, 32);
    printf("network id: %s\n", hex);
    hex_encode(hex, op, 32);
    printf("operator key: %s\ngenesis block: %s/%s\n", hex, cfg->datadir,
           NODE_CEREMONY_GENESIS_FILE);
    return 0;
}

int
main(int argc, char **argv)
{
    static struct daemon d; /* static: the config holds several KiB of paths */
    struct sigaction sa;
    struct sbx_err err;
    char path[PATH_SIZE], fp[TLS_FINGERPRINT_HEX];
    int status = 1;

    d.lock_fd = -1;
    if (sbxd_config_load(&d.cfg, argc, argv, &err) != SBX_OK) {
        fprintf(stderr, "sbxd: %s\n", err.msg);
        sbxd_config_release(&d.cfg);
        return 1;
    }
    if (d.cfg.daemon_help || d.cfg.daemon_version) {
        if (d.cfg.daemon_help)
            fputs(sbxd_config_help(), stdout);
        else
            printf("sbxd version %s\n", PACKAGE_VERSION);
        sbxd_config_release(&d.cfg);
        return 0;
    }

    if (d.cfg.init[0] != '\0') {
        status = run_init(&d.cfg);
        sbxd_config_release(&d.cfg);
        return status;
    }
    if (d.cfg.genkey) {
        uint8_t pub[32];
        char hex[65];

        umask(077);
        if (make_dirs(d.cfg.datadir, &err) != SBX_OK || node_genkey(d.cfg.datadir, pub, &err)) {
            fprintf(stderr, "sbxd: -genkey: %s\n", err.msg);
            sbxd_config_release(&d.cfg);
            return 1;
        }
        hex_encode(hex, pub, 32);
        printf("%s\n", hex);
        sbxd_config_release(&d.cfg);
        return 0;
    }
    /* Process-wide settings. Files we make (log, ledger, keys, cookie) are the owner's only;
     * a peer or client that goes away must not kill us with SIGPIPE. */
    umask(077);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
    if (evthread_use_pthreads() != 0) {
        fprintf(stderr, "sbxd: libevent has no pthreads support\n");
        goto out;
    }

    if (make_dirs(d.cfg.datadir, &err) != SBX_OK || take_lock(&d, &err) != SBX_OK ||
        write_pid_file(&d, &err) != SBX_OK) {
        fprintf(stderr, "sbxd: %s\n", err.msg);
        goto out;
    }
    log_set_stderr(d.cfg.printtoconsole);
    if (log_enable(d.cfg.debug, &err) != SBX_OK) {
        fprintf(stderr, "sbxd: -%s\n", err.msg);
        goto out;
    }
    if (path_join(path, sizeof(path), d.cfg.datadir, "debug.log") != SBX_OK ||
        log_open(path) != SBX_OK) {
        fprintf(stderr, "sbxd: cannot open %s/debug.log: %s\n", d.cfg.datadir, strerror(errno));
        goto out;
    }

    LOG_INFO(LOG_NODE, "sbxd %s starting (pid %ld)", PACKAGE_VERSION, (long)getpid());
    LOG_INFO(LOG_NODE, "datadir: %s", d.cfg.datadir);
    LOG_INFO(LOG_NODE, "config file: %s", d.cfg.conf[0] != '\0' ? d.cfg.conf : "(none)");
    if (start(&d, &err) != SBX_OK) {
        startup_error(&d, "cannot start: %s", err.msg);
        goto out;
    }
    /* Names and counts only: never a key, a password, an rpcauth line or the cookie. */
    LOG_INFO(LOG_NODE, "network: %s", node_network(d.node));
    LOG_INFO(LOG_RPC,
             "JSON-RPC listening on %s:%d over %s (%zu rpcauth user%s, cookie %s/.cookie, %zu "
             "rpcallowip range%s)",
             d.cfg.rpcbind, rpc_server_port(d.rpc), d.cfg.rpctls ? "HTTPS" : "HTTP", d.cfg.nrpcauth,
             d.cfg.nrpcauth == 1 ? "" : "s", d.cfg.datadir, d.cfg.nrpcallowip,
             d.cfg.nrpcallowip == 1 ? "" : "s");
    /* a new pair (first start): printed for the operator to hand to the supervisors */
    if (rpc_server_tls(d.rpc, fp) == 2) {
        printf("RPC TLS certificate fingerprint (SHA-256): %s\n", fp);
        fflush(stdout);
    }
    if (d.cfg.listen)
        LOG_INFO(LOG_P2P, "peer links: listening on port %d, %zu -connect peer%s",
                 node_net_port(d.net), d.cfg.nconnect, d.cfg.nconnect == 1 ? "" : "s");
    else
        LOG_INFO(LOG_P2P, "peer links: not listening, %zu -connect peer%s", d.cfg.nconnect,
                 d.cfg.nconnect == 1 ? "" : "s");

    /* the node's own loop is also RPC loop 0; every other thread is started by now (those
     * started later, the background job's, inherit it) */
    par_thread_batch();
    if (event_base_dispatch(d.base) != 0) {
        LOG_ERROR(LOG_NODE, "event loop failed");
        goto out;
    }
    if (!d.stopped) {
        LOG_ERROR(LOG_NODE, "event loop ended without a stop request");
        goto out;
    }
    LOG_INFO(LOG_NODE, "sbxd stopped");
    status = 0;
out:
    cleanup(&d);
    return status;
}
