/* sbxd configuration: the INI file (key = value, optional [devnet] section) and -name=value
 * command-line options, which win over the file. See doc/operations.md for every option. */
#ifndef SBX_NODE_CONFIG_H
#define SBX_NODE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "node/node.h"
#include "node/p2p.h"
#include "util/cidr.h"
#include "util/err.h"

#define SBXD_MAX_RPCAUTH 64
#define SBXD_MAX_CONNECT 64
#define SBXD_MAX_KEYS 64
#define SBXD_MAX_ALLOWIP 64

struct sbxd_config {
    char datadir[1024];
    char conf[1024]; /* the file read; "" if none */
    char debug[256];
    int devnet;
    int printtoconsole; /* log to stderr too (default 1) */
    int daemon_help;
    int daemon_version; /* -version: print the version and exit */
    char rpcbind[256];
    int rpcport;
    char *rpcauth[SBXD_MAX_RPCAUTH]; /* owned */
    size_t nrpcauth;
    size_t rpcmaxbody;
    int rpcmaxbatch;
    int rpcmaxconns;
    int rpcmaxconnsperip;  /* connections of one client address */
    int rpcmaxunauthperip; /* ... not yet authenticated */
    int rpcreserve;        /* slots for authenticated clients; -1: rpcmaxconns / 4 */
    int rpcheadertimeout;  /* ms for a first request's header, from accept */
    int rpcbodytimeout;    /* ms for its body, after the header */
    int rpcthreads;        /* RPC event loops; 0: one per online core */
    size_t eventsmaxqueue; /* bytes queued on one /events stream */
    int rpctls;            /* HTTPS instead of HTTP */
    char rpctlscert[1024]; /* its certificate and key (PEM); "" = <datadir>/rpc.crt, rpc.key, */
    char rpctlskey[1024];  /* made on first start */
    struct cidr rpcallowip[SBXD_MAX_ALLOWIP]; /* clients served; none: every address */
    size_t nrpcallowip;
    /* Peer links. */
    int port;                        /* 8646; devnet 18646 */
    char bind[256];                  /* default "" = all addresses */
    char *connect[SBXD_MAX_CONNECT]; /* owned; "HOST:PORT" */
    size_t nconnect;
    int listen;                           /* default 1 */
    struct p2p_limits peerlimits;         /* -peerhandshaketimeout, -peermax*, -peeraddr* */
    uint8_t observers[SBXD_MAX_KEYS][32]; /* -observer: observer node keys accepted */
    size_t nobservers;
    uint8_t devnet_regulators[SBXD_MAX_KEYS][32]; /* -devnetregulator */
    size_t ndevnet_regulators;
    char genesis[1024];      /* -genesis: a follower's genesis block (hex file); "" = none */
    int genkey;              /* -genkey: print the regulator key and exit */
    char init[1024];         /* -init: a new network's licence file; make its chain and exit */
    char alertnotify[1024];  /* -alertnotify: a command run for every alert; "" = none */
    char pid[1024];          /* -pid: the pid file; "" = <datadir>/sbxd.pid */
    struct node_config node; /* node.datadir points into `datadir`: do not copy the struct */
};

/* Fill `c` from the defaults, the config file and argv (argv[0] is the program name), the
 * command line winning over the file; list options (-rpcauth, -connect) collect the file's
 * values and then the command line's. The file is -conf, else <datadir>/sbx.conf if it
 * exists; its [devnet] section applies only with -devnet. Touches no file but the config file
 * (the caller creates the datadir) and sets the log's debug categories (-debug).
 * SBX_EINVAL names an unknown option or a bad value (or rpctlscert without rpctlskey or
 * rpctls); SBX_EIO an unreadable config file.
 * `-help` (`-version`) sets daemon_help (daemon_version) and returns SBX_OK without reading
 * anything else. `conf` is the
 * file read, "" if none. sbxd_config_release() frees what `c` owns, also after a failure. */
int sbxd_config_load(struct sbxd_config *c, int argc, char **argv,
                     struct sbx_err *err) SBX_WARN_UNUSED;
void sbxd_config_release(struct sbxd_config *c);
/* The --help text, made from the option table at the first call (from one thread: the
 * entry point's). */
const char *sbxd_config_help(void);

/* One option as the documentation shows it (-help, sbxd(1), sbx.conf(5)). */
struct sbxd_config_doc {
    const char *name;   /* without the dash */
    const char *arg;    /* the value's placeholder ("DIR", "0|1"), NULL for a flag */
    const char *help;   /* one paragraph, no newline */
    const char *group;  /* the heading it is listed under */
    int cmdline_only;   /* not in the config file */
    int not_in_section; /* in the config file, only above [devnet] */
};

/* The i-th option in the order -help lists them: 1 with `d` filled, 0 past the last one.
 * Every string is static. */
int sbxd_config_doc(size_t i, struct sbxd_config_doc *d);

#endif
