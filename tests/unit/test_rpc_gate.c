/* rpc/gate.c: the front door's book of client addresses, each cap at its limit and one over,
 * and the failed-login lock doubling to its ceiling and forgotten after a quiet spell. */
#include "tests/unit/test_common.h"
#include "tests/unit/test_rpc.h"

#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "rpc/gate.h"

static void
addr4(struct rpc_gate_addr *a, const char *ip)
{
    struct sockaddr_in sin;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
    rpc_gate_addr_of(a, (struct sockaddr *)&sin);
}

void
test_gate_caps(void **state)
{
    struct rpc_gate_limits lim = {.max_conns = 6,
                                  .reserve = 2,
                                  .max_per_addr = 4,
                                  .max_unauth = 2,
                                  .fail_delay_ms = 100,
                                  .fail_delay_max_ms = 500};
    struct rpc_gate *g;
    struct rpc_gate_addr a, b, c, mapped;
    struct sockaddr_in6 sin6;
    struct rpc_gate_stats st;

    (void)state;
    addr4(&a, "10.0.0.1");
    addr4(&b, "10.0.0.2");
    addr4(&c, "10.0.0.3");
    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, "::ffff:10.0.0.1", &sin6.sin6_addr), 1);
    rpc_gate_addr_of(&mapped, (struct sockaddr *)&sin6);
    assert_memory_equal(&a, &mapped, sizeof(a)); /* an IPv4-mapped address is its IPv4 one */
    assert_int_equal(rpc_gate_new(&g, &lim), SBX_OK);
    /* unauthenticated per address: exactly 2; the third is counted in, over the soft cap */
    assert_int_equal(rpc_gate_open(g, &a, 0), RPC_GATE_IN);
    assert_int_equal(rpc_gate_open(g, &a, 0), RPC_GATE_IN);
    assert_int_equal(rpc_gate_open(g, &a, 0), RPC_GATE_EVICT_STALE);
    rpc_gate_close(g, &a, 0); /* as if it were the one evicted */
    /* one authenticates: room for one more unauthenticated */
    rpc_gate_authenticated(g, &a);
    assert_int_equal(rpc_gate_open(g, &a, 0), RPC_GATE_IN); /* a: 3, 2 unauthenticated */
    /* unauthenticated in all: 6 - 2 reserved = 4 (a holds 2, b takes 2), the 5th evicts */
    assert_int_equal(rpc_gate_open(g, &b, 0), RPC_GATE_IN);
    assert_int_equal(rpc_gate_open(g, &b, 0), RPC_GATE_IN);
    assert_int_equal(rpc_gate_open(g, &c, 0), RPC_GATE_EVICT_ANY);
    rpc_gate_close(g, &c, 0);
    /* the reserved slots go to authenticated clients */
    rpc_gate_authenticated(g, &b);
    assert_int_equal(rpc_gate_open(g, &c, 0), RPC_GATE_IN); /* 6 open: 2 authed, 4 not */
    assert_int_equal(rpc_gate_open(g, &c, 0), RPC_GATE_EVICT_ANY);
    rpc_gate_close(g, &c, 0);
    /* per address in all: a's 4th is in; its 5th is over every cap */
    rpc_gate_close(g, &c, 0);
    rpc_gate_authenticated(g, &a);
    assert_int_equal(rpc_gate_open(g, &a, 0), RPC_GATE_IN); /* a: 4, of which 2 authed */
    assert_int_equal(rpc_gate_open(g, &a, 0),
                     RPC_GATE_EVICT_SAME | RPC_GATE_EVICT_ANY | RPC_GATE_EVICT_STALE);
    rpc_gate_close(g, &a, 0);
    rpc_gate_authenticated(g, &a);
    rpc_gate_authenticated(g, &a);
    rpc_gate_close(g, &b, 0);
    assert_int_equal(rpc_gate_open(g, &a, 0), RPC_GATE_FULL); /* a: 4 authed, at its cap */
    assert_int_equal(rpc_gate_open(g, &c, 0), RPC_GATE_IN);   /* 6 open */
    /* every slot authenticated: nothing to evict, refused */
    rpc_gate_authenticated(g, &c);
    assert_int_equal(rpc_gate_open(g, &b, 0), RPC_GATE_FULL);
    rpc_gate_stats(g, &st);
    assert_int_equal(st.refused, 2);
    rpc_gate_free(g);
}

void
test_gate_failed_logins(void **state)
{
    struct rpc_gate_limits lim = {.max_conns = 4,
                                  .reserve = 1,
                                  .max_per_addr = 4,
                                  .max_unauth = 4,
                                  .fail_delay_ms = 100,
                                  .fail_delay_max_ms = 500};
    struct rpc_gate *g;
    struct rpc_gate_addr a, b;
    unsigned n = 0;
    int64_t t = 1000000;

    (void)state;
    addr4(&a, "192.0.2.7");
    addr4(&b, "192.0.2.8");
    assert_int_equal(rpc_gate_new(&g, &lim), SBX_OK);
    assert_int_equal(rpc_gate_locked_ms(g, &a, t), 0);
    /* each failure doubles the lock: 100, 200, 400, then the ceiling 500 */
    assert_int_equal(rpc_gate_failed(g, &a, t, &n), 100);
    assert_int_equal(n, 1);
    assert_int_equal(rpc_gate_locked_ms(g, &a, t + 99), 1);
    assert_int_equal(rpc_gate_locked_ms(g, &a, t + 100), 0); /* exactly at its end: free */
    assert_int_equal(rpc_gate_locked_ms(g, &b, t), 0);       /* another address is not locked */
    assert_int_equal(rpc_gate_failed(g, &a, t + 100, NULL), 200);
    assert_int_equal(rpc_gate_failed(g, &a, t + 300, NULL), 400);
    assert_int_equal(rpc_gate_failed(g, &a, t + 700, &n), 500);
    assert_int_equal(rpc_gate_failed(g, &a, t + 1200, &n), 500);
    assert_int_equal(n, 5);
    /* a connection coming and going keeps the memory of the failures */
    assert_int_equal(rpc_gate_open(g, &a, t + 1300), RPC_GATE_IN);
    rpc_gate_close(g, &a, 0);
    assert_int_equal(rpc_gate_failed(g, &a, t + 1800, &n), 500);
    assert_int_equal(n, 6);
    /* remembered exactly RPC_GATE_FORGET_MS after the last one, forgotten one ms later */
    assert_int_equal(rpc_gate_failed(g, &a, t + 1800 + RPC_GATE_FORGET_MS, &n), 500);
    assert_int_equal(n, 7);
    assert_int_equal(rpc_gate_failed(g, &a, t + 1801 + 2 * RPC_GATE_FORGET_MS, &n), 100);
    assert_int_equal(n, 1);
    rpc_gate_free(g);
}
