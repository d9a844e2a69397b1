/* The fixture of the node/p2p unit tests (test_p2p*.c): p2p instances in one event loop on
 * loopback as the test sees them (struct inst, whose callbacks record what happened), a
 * hand-made client that speaks (or breaks) the protocol, and the log in which every close is
 * recorded with its reason.
 */
#ifndef SBX_TEST_P2P_H
#define SBX_TEST_P2P_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "ledger/keys.h"
#include "node/p2p.h"
#include "util/time.h"

#define MAX_FRAME (2u * 1024u * 1024u + 64u) /* small enough to test the limit quickly */
#define ONE_MB (1024u * 1024u)
#define WAIT_MS 5000 /* generous: a wait ends as soon as its condition holds */
#define ROLE_OPERATOR 1
#define ROLE_REGULATOR 2

extern struct ledger_key key_a, key_b, key_c;
extern uint8_t net1[32], net2[32];
extern char log_path[512];
extern SSL_CTX *cli_ssl;

/* Per test. */
extern struct event_base *g_base;
extern char *g_tmp;

/* Run the event loop for `ms` milliseconds. */
void spin(int ms);

/* Run the loop until `cond` holds or `ms` pass; the caller asserts `cond` afterwards. */
#define WAIT_UNTIL(cond, ms)                                                                       \
    do {                                                                                           \
        int64_t until_ = time_mono_us() + (int64_t)(ms)*1000;                                      \
        while (!(cond) && time_mono_us() < until_)                                                 \
            spin(5);                                                                               \
    } while (0)

/* Remember where the log ends now. */
void log_mark(void);
/* 1 if a line logged since log_mark() contains `needle`. */
int log_has(const char *needle);
/* How many lines logged since log_mark() contain `needle` (at `level`, "warn" or "debug", if
 * it is not NULL). */
int log_count(const char *needle, const char *level);

/* ------------------------------------------------------------------ a node as the test sees it */

struct inst {
    struct p2p *p;
    const uint8_t *allow[4];
    int allow_role[4];
    size_t nallow;
    int connects, disconnects, nmsg;
    struct p2p_peer *peer; /* the last peer connected and not yet disconnected */
    uint8_t peer_key[32];
    int peer_role, peer_inbound;
    char peer_addr[P2P_ADDR_MAX];
    char reason[200];
    uint8_t type;
    uint8_t *msg;
    size_t msglen;
    int bad_data;     /* on_disconnect saw a peer whose data pointer was not ours */
    int close_on_msg; /* on_message closes the peer (re-entrancy) */
};

/* The callbacks of every struct inst (ctx is the inst). */
extern const struct p2p_callbacks callbacks;

/* Let `in` accept key k with role `role`. */
void allow(struct inst *in, const struct ledger_key *k, int role);
/* A config for `key` with its own certdir under the test's directory. */
void config(struct p2p_config *cfg, const struct ledger_key *key, const char *name);
/* Start `in` with `cfg` (asserts success). */
void start(struct inst *in, const struct p2p_config *cfg);
/* A listener B (cfg_b_in, or a default listening config) on an any port and a connector A to
 * it; `target` receives B's address. */
void start_pair(struct inst *a, struct inst *b, const struct p2p_config *cfg_b_in, char *target,
                size_t target_cap);
/* A (key_a) allows B's key as operator, B (key_b) allows A's key as regulator. */
void allow_each_other(struct inst *a, struct inst *b);
/* allow_each_other, then start_pair with the default listener. */
void start_allowed_pair(struct inst *a, struct inst *b, char *target, size_t target_cap);
void inst_free(struct inst *in);

struct cli {
    struct bufferevent *bev;
    int tls;
    int connected, closed;
    size_t nread;
    uint8_t exporter[32];
};
/* Connect to 127.0.0.1:port, with TLS or plain TCP; waits until connected. */
void cli_open(struct cli *c, int port, int tls);
/* Connect over plain TCP from another loopback address `src` ("127.0.0.2"); waits until
 * connected. */
void cli_open_from(struct cli *c, int port, const char *src);
void cli_close(struct cli *c);
void cli_write(struct cli *c, const void *data, size_t len);
/* Send a frame header (length, type) and `len` bytes of payload. */
void cli_frame(struct cli *c, uint32_t length, uint8_t type, const uint8_t *payload, size_t len);
/* The digest an AUTH frame signs, written from the description in doc/protocol.md (not from
 * p2p.c): tagged("sbx/peer", exporter | network id | key | direction). */
void auth_digest(uint8_t out[32], const uint8_t exporter[32], const uint8_t net[32],
                 const uint8_t key[32], uint8_t dir);
/* An AUTH payload for `k` on `net`, signed over `exporter` with direction byte `dir`. */
void make_auth(uint8_t out[128], const struct ledger_key *k, const uint8_t net[32],
               const uint8_t exporter[32], uint8_t dir);
/* Send an AUTH frame for `k` on net1. */
void cli_auth(struct cli *c, const struct ledger_key *k, const uint8_t exporter[32], uint8_t dir);

/* cmocka set-up and tear-down of each test: a fresh event base and temporary directory. */
int p2p_fx_setup(void **state);
int p2p_fx_teardown(void **state);

/* n pseudo-random bytes from `seed`. */
void fill(uint8_t *p, size_t n, uint32_t seed);
/* A p2p_foreach_peer callback that counts into the int at ctx. */
void count_peer(void *ctx, struct p2p_peer *peer);

/* The tests, by file. */
/* test_p2p_link.c */
void test_connect_and_messages(void **state);
void test_unknown_key(void **state);
void test_wrong_network_id(void **state);
void test_forged_signature(void **state);
void test_auth_digest_vector(void **state);
void test_auth_reflect_replay(void **state);
void test_close_from_callback(void **state);
/* test_p2p_limits.c */
void test_malformed_frames(void **state);
void test_garbage_tcp(void **state);
void test_handshake_timeout(void **state);
void test_reconnect_after_restart(void **state);
void test_send_queue_full(void **state);
void test_write_timeout(void **state);
void test_connect_to_self(void **state);
void test_certdir(void **state);
void test_config_errors(void **state);
/* test_p2p_door.c */
void test_door_addr_handshakes(void **state);
void test_door_addr_links(void **state);
void test_door_known_key_gets_in(void **state);
void test_door_all_authenticated(void **state);
void test_door_deadline(void **state);
void test_door_accept_error(void **state);
void test_door_quiet(void **state);
void test_door_groups(void **state);
void test_door_config(void **state);

#endif
