/* JSON-RPC over TLS (rpctls=1): the server's TLS context, shared by every RPC loop, and the
 * client's (sbx-cli -rpctls), which pins the server's certificate by its fingerprint or checks
 * it against the system's certificate authorities.
 *
 * Threads: rpc_tls_server_new and rpc_tls_free on the thread that starts or stops the server;
 * rpc_tls_server_bev on any RPC loop at once (each call makes its own SSL from the shared
 * context, which OpenSSL allows). The client's functions on sbx-cli's one thread.
 */
#ifndef SBX_RPC_TLS_H
#define SBX_RPC_TLS_H

#include <stdint.h>

#include "util/err.h"
#include "util/tls.h"

struct bufferevent;
struct event_base;
struct rpc_tls;

/* The server's context from the pair keypath/certpath; with `make` 1 the pair is made first
 * if either file is missing (*made is then 1). `fp` gets the certificate's fingerprint. Errors
 * as tls_pair_open (util/tls.h). */
int rpc_tls_server_new(struct rpc_tls **out, uint8_t fp[static 32], int *made, const char *keypath,
                       const char *certpath, int make, struct sbx_err *err) SBX_WARN_UNUSED;

/* A new server-side TLS bufferevent on `base` with no socket yet (evhttp sets it), for
 * evhttp_set_bevcb; NULL when out of memory. */
struct bufferevent *rpc_tls_server_bev(struct rpc_tls *t, struct event_base *base);

/* The client's context. `pin` (32 bytes) accepts exactly the certificate with that
 * fingerprint, whoever signed it; NULL checks the chain against the system's certificate
 * authorities and the name against the host connected to. SBX_EINTERNAL. */
int rpc_tls_client_new(struct rpc_tls **out, const uint8_t *pin,
                       struct sbx_err *err) SBX_WARN_UNUSED;

/* A new client-side TLS bufferevent on `base` for `host`, connecting, for
 * evhttp_connection_base_bufferevent_new; NULL on failure. */
struct bufferevent *rpc_tls_client_bev(struct rpc_tls *t, struct event_base *base,
                                       const char *host);

/* After a failed exchange: 1 if the server's certificate was refused (pin mismatch, or not
 * trusted without a pin) and `seen` then holds its fingerprint; else 0. */
int rpc_tls_client_refused(const struct rpc_tls *t, char seen[static TLS_FINGERPRINT_HEX]);

/* NULL is a no-op. */
void rpc_tls_free(struct rpc_tls *t);

#endif
