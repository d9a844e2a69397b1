/* node/p2p unit tests of the front door (struct p2p_limits): the per-address caps on
 * handshakes and on links, exactly at the cap and one over; a known key that gets in while
 * strangers hold every handshake slot (the oldest is dropped); refusal when every inbound link
 * is authenticated; the handshake deadline against clients that trickle bytes (of a TLS
 * ClientHello, and of an AUTH frame after TLS); the quieted log lines (their window and count);
 * accept() failing at the file limit (a pause that grows, no spin, one warning line); what the
 * door counts by (an IPv4 address, an IPv6 /64); the limits' configuration.
 *
 * Strangers connect from other loopback addresses (127.0.0.2, ...) so that the per-address
 * caps of 127.0.0.1, where the known peers connect from, stay apart.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_p2p.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "node/p2p_internal.h"
#include "util/buf.h"

/* B, listening with `lim` (zero fields: the defaults), allowing key_a and key_c. */
static void
start_door(struct inst *b, const struct p2p_limits *lim)
{
    struct p2p_config cb;

    allow(b, &key_a, ROLE_REGULATOR);
    allow(b, &key_c, ROLE_REGULATOR);
    config(&cb, &key_b, "b");
    cb.listen = 1;
    if (lim != NULL)
        cb.limits = *lim;
    start(b, &cb);
}

/* A (key_a, allowing key_b) linking to B from 127.0.0.1. */
static void
start_connector(struct inst *a, const struct inst *b)
{
    struct p2p_config ca;
    const char *targets[1];
    char target[64];

    snprintf(target, sizeof(target), "127.0.0.1:%d", p2p_port(b->p));
    targets[0] = target; /* copied by p2p_new */
    allow(a, &key_b, ROLE_OPERATOR);
    config(&ca, &key_a, "a");
    ca.connect = targets;
    ca.nconnect = 1;
    start(a, &ca);
}

/* A hand-made client from 127.0.0.1 that authenticates with key_c: B's first open link. */
static void
open_link(struct cli *c, struct inst *b)
{
    cli_open(c, p2p_port(b->p), 1);
    cli_auth(c, &key_c, c->exporter, 0);
    WAIT_UNTIL(b->connects == 1, WAIT_MS);
    assert_int_equal(b->connects, 1);
}

/* Exactly addr_handshakes silent connections from one address come in, the next is refused;
 * another address still comes in. Refusals beyond the burst are logged at debug level. */
void
test_door_addr_handshakes(void **state)
{
    struct inst b = {0};
    struct cli c[P2P_DEFAULT_ADDR_HANDSHAKES + P2P_DOOR_LOG_BURST + 2], other;
    size_t cap = P2P_DEFAULT_ADDR_HANDSHAKES, over = SBX_ARRAY_LEN(c) - cap;

    (void)state;
    start_door(&b, NULL);
    for (size_t i = 0; i < cap; i++)
        cli_open_from(&c[i], p2p_port(b.p), "127.0.0.2");
    spin(50);
    assert_false(log_has("refused"));
    for (size_t i = cap; i < SBX_ARRAY_LEN(c); i++) {
        cli_open_from(&c[i], p2p_port(b.p), "127.0.0.2");
        WAIT_UNTIL(c[i].closed, WAIT_MS);
        assert_true(c[i].closed);
    }
    assert_int_equal(log_count("(inbound): refused: too many handshakes from this address", NULL),
                     (int)over);
    assert_int_equal(log_count("(inbound): refused: too many handshakes", "warning"),
                     P2P_DOOR_LOG_BURST);
    cli_open_from(&other, p2p_port(b.p), "127.0.0.3");
    spin(100);
    assert_false(other.closed);
    for (size_t i = 0; i < cap; i++)
        assert_false(c[i].closed);
    for (size_t i = 0; i < SBX_ARRAY_LEN(c); i++)
        cli_close(&c[i]);
    cli_close(&other);
    inst_free(&b);
}

/* addr_links counts authenticated links too: one open link and one handshake from 127.0.0.1
 * fill a cap of 2, the next connection from there is refused. */
void
test_door_addr_links(void **state)
{
    struct inst b = {0};
    struct p2p_limits lim = {.addr_links = 2};
    struct cli open, hs, over;

    (void)state;
    start_door(&b, &lim);
    open_link(&open, &b);
    cli_open(&hs, p2p_port(b.p), 0);
    spin(50);
    assert_false(hs.closed);
    cli_open(&over, p2p_port(b.p), 0);
    WAIT_UNTIL(over.closed, WAIT_MS);
    assert_true(over.closed);
    assert_true(log_has("(inbound): refused: too many links from this address"));
    assert_false(open.closed);
    assert_false(hs.closed);
    cli_close(&open);
    cli_close(&hs);
    cli_close(&over);
    inst_free(&b);
}

/* Strangers from two addresses hold every handshake slot; a known key still links at once
 * (the oldest stranger is dropped for it), and more strangers cannot push its link out. */
void
test_door_known_key_gets_in(void **state)
{
    struct inst a = {0}, b = {0};
    struct p2p_limits lim = {.max_handshaking = 4, .addr_handshakes = 2};
    struct cli c[6];

    (void)state;
    start_door(&b, &lim);
    for (size_t i = 0; i < 4; i++)
        cli_open_from(&c[i], p2p_port(b.p), i < 2 ? "127.0.0.2" : "127.0.0.3");
    spin(50);
    for (size_t i = 0; i < 4; i++)
        assert_false(c[i].closed);

    start_connector(&a, &b);
    WAIT_UNTIL(a.connects == 1 && b.connects == 1, WAIT_MS);
    assert_int_equal(b.connects, 1);
    assert_true(c[0].closed); /* the oldest */
    for (size_t i = 1; i < 4; i++)
        assert_false(c[i].closed);
    assert_true(log_has("closed: dropped for a newer connection (handshake slots full)"));

    /* Three handshakes are left: one more stranger fills the slots again, the next pushes out
     * the oldest stranger, never the open link. */
    cli_open_from(&c[4], p2p_port(b.p), "127.0.0.4");
    spin(50);
    assert_false(c[1].closed);
    cli_open_from(&c[5], p2p_port(b.p), "127.0.0.4");
    WAIT_UNTIL(c[1].closed, WAIT_MS);
    assert_true(c[1].closed);
    assert_false(c[2].closed);
    assert_false(c[3].closed);
    assert_false(c[4].closed);
    spin(50);
    assert_int_equal(b.disconnects, 0);
    assert_int_equal(p2p_peer_count(b.p), 1);
    for (size_t i = 0; i < SBX_ARRAY_LEN(c); i++)
        cli_close(&c[i]);
    inst_free(&a);
    inst_free(&b);
}

/* When every inbound link is authenticated there is no handshake to drop: a stranger is
 * refused. */
void
test_door_all_authenticated(void **state)
{
    struct inst b = {0};
    struct p2p_limits lim = {.max_inbound = 1};
    struct cli open, stranger;

    (void)state;
    start_door(&b, &lim);
    open_link(&open, &b);
    cli_open_from(&stranger, p2p_port(b.p), "127.0.0.2");
    WAIT_UNTIL(stranger.closed, WAIT_MS);
    assert_true(stranger.closed);
    assert_true(log_has("(inbound): refused: too many inbound connections"));
    assert_false(open.closed);
    cli_close(&open);
    cli_close(&stranger);
    inst_free(&b);
}

/* The deadline counts from accept: a client that trickles a TLS ClientHello one byte every
 * 40 ms, and one that finishes TLS and then trickles its AUTH frame, are both closed when it
 * passes, however recently they sent a byte. */
void
test_door_deadline(void **state)
{
    struct inst b = {0};
    struct p2p_limits lim = {.handshake_timeout_ms = 600};
    /* a TLS record header announcing a 512-byte handshake message, then its first bytes */
    static const uint8_t hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc,
                                    0x03, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    uint8_t auth[FRAME_HDR + AUTH_FRAME_LEN];
    struct cli tcp, tls;
    int64_t t0, closed_tcp = 0, closed_tls = 0;
    size_t i = 0;

    (void)state;
    start_door(&b, &lim);
    t0 = time_mono_us(); /* before both accepts: a lower bound of the time since each */
    cli_open_from(&tcp, p2p_port(b.p), "127.0.0.2");
    cli_open(&tls, p2p_port(b.p), 1);
    buf_store_u32(auth, AUTH_FRAME_LEN);
    auth[FRAME_HDR] = P2P_MSG_AUTH;
    make_auth(auth + FRAME_HDR + 1, &key_c, net1, tls.exporter, 0);
    while ((!tcp.closed || !tls.closed) && time_mono_us() - t0 < (int64_t)WAIT_MS * 1000) {
        if (!tcp.closed && i < sizeof(hello))
            cli_write(&tcp, &hello[i], 1);
        if (!tls.closed && i < sizeof(auth) - 1) /* never the last byte */
            cli_write(&tls, &auth[i], 1);
        i++;
        spin(40);
        if (tcp.closed && closed_tcp == 0)
            closed_tcp = time_mono_us() - t0;
        if (tls.closed && closed_tls == 0)
            closed_tls = time_mono_us() - t0;
    }
    assert_true(tcp.closed);
    assert_true(tls.closed);
    assert_true(i >= 10); /* bytes kept coming until the end */
    assert_true(closed_tcp >= 600 * 1000);
    assert_true(closed_tls >= 600 * 1000);
    assert_int_equal(log_count("(inbound): closed: handshake timeout", NULL), 2);
    assert_int_equal(b.connects, 0);
    cli_close(&tcp);
    cli_close(&tls);
    inst_free(&b);
}

/* The lowest file descriptor free now. */
static int
lowest_free_fd(void)
{
    int fd = dup(0);

    assert_true(fd >= 0);
    close(fd);
    return fd;
}

static double
cpu_seconds(void)
{
    struct rusage ru;

    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

/* At the file limit accept() fails: the listener pauses (longer each time) instead of spinning
 * on the ready socket, one warning line says so, and it serves peers again once descriptors are
 * free. */
void
test_door_accept_error(void **state)
{
    struct inst a = {0}, b = {0};
    struct rlimit old, low;
    int fds[32];
    size_t n = 0;
    struct sockaddr_in sin;
    double cpu;

    (void)state;
    start_door(&b, NULL);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)lowest_free_fd() + 6;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)p2p_port(b.p));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* Every descriptor left goes to a client; their connections wait in the backlog. */
    while (n < SBX_ARRAY_LEN(fds)) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        if (fd < 0) {
            assert_int_equal(errno, EMFILE);
            break;
        }
        fds[n++] = fd;
        assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    }
    assert_true(n > 0 && n < SBX_ARRAY_LEN(fds));
    cpu = cpu_seconds();
    spin(1000);
    cpu = cpu_seconds() - cpu;
    for (size_t i = 0; i < n; i++)
        close(fds[i]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0); /* before reading the log */
    assert_int_equal(log_count("accepting peers failed", "warning"), 1);
    assert_true(log_count("accepting peers failed", NULL) >= 2); /* it tried again, quietly */
    assert_true(log_count("accepting peers failed", NULL) <= 5); /* 100, 200, 400 ms, ... */
    assert_true(cpu < 0.5);
    start_connector(&a, &b);
    WAIT_UNTIL(a.connects == 1 && b.connects == 1, 3 * WAIT_MS);
    assert_int_equal(b.connects, 1);
    inst_free(&a);
    inst_free(&b);
}

/* A quieted line: `burst` a window at warning level, the rest at debug level, and the count of
 * those in the next window's first warning line. */
void
test_door_quiet(void **state)
{
    struct p2p_quiet q = {0};

    (void)state;
    for (int i = 0; i < 5; i++)
        p2p_conn_quiet(&q, 2, 200, "door line %d", i);
    assert_int_equal(log_count("door line", "warning"), 2);
    assert_int_equal(log_count("door line", "debug"), 3);
    assert_false(log_has("similar lines"));
    usleep(250 * 1000);
    p2p_conn_quiet(&q, 2, 200, "door line %d", 5);
    assert_int_equal(log_count("door line 5 (and 3 similar lines at debug level", "warning"), 1);
    p2p_conn_quiet(&q, 2, 200, "door line %d", 6);
    assert_int_equal(log_count("door line 6", "warning"), 1);
    assert_int_equal(log_count("similar lines", NULL), 1); /* the count was reset */
}

/* The address group of `text` (an IPv4 or IPv6 address) at `port` into `group`, its text
 * into `addr`. */
static void
group_of(const char *text, int port, char group[static P2P_GROUP_MAX],
         char addr[static P2P_ADDR_MAX])
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    if (strchr(text, ':') != NULL) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET, text, &in->sin_addr), 1);
    }
    p2p_conn_addr((struct sockaddr *)&ss, group, addr);
}

/* What the door counts by: an IPv4 address, the same for its IPv4-mapped IPv6 form, and the
 * /64 of an IPv6 address (two hosts of one /64 are one group, the next /64 is another). */
void
test_door_groups(void **state)
{
    char group[P2P_GROUP_MAX], addr[P2P_ADDR_MAX];
    struct sockaddr unix_sa = {.sa_family = AF_UNIX};

    (void)state;
    group_of("192.0.2.7", 50412, group, addr);
    assert_string_equal(group, "192.0.2.7");
    assert_string_equal(addr, "192.0.2.7:50412");
    group_of("::ffff:192.0.2.7", 50412, group, addr);
    assert_string_equal(group, "192.0.2.7");
    assert_string_equal(addr, "[::ffff:192.0.2.7]:50412");
    group_of("2001:db8:1:2::5", 8646, group, addr);
    assert_string_equal(group, "2001:db8:1:2::/64");
    assert_string_equal(addr, "[2001:db8:1:2::5]:8646");
    group_of("2001:db8:1:2:ffff:ffff:ffff:ffff", 1, group, addr);
    assert_string_equal(group, "2001:db8:1:2::/64");
    group_of("2001:db8:1:3::5", 1, group, addr);
    assert_string_equal(group, "2001:db8:1:3::/64");
    group_of("::1", 1, group, addr);
    assert_string_equal(group, "::/64");
    p2p_conn_addr(&unix_sa, group, addr);
    assert_string_equal(group, "unknown");
    assert_string_equal(addr, "unknown");
}

/* Each limit at 0 takes its default; a negative one is refused, naming the field. */
void
test_door_config(void **state)
{
    struct inst b = {0};
    struct p2p_config cfg;
    struct sbx_err err;
    struct p2p *p = NULL;

    (void)state;
    config(&cfg, &key_b, "b");
    cfg.limits.addr_handshakes = -1;
    assert_int_equal(p2p_new(&p, g_base, &cfg, &callbacks, &b, &err), SBX_EINVAL);
    assert_null(p);
    assert_non_null(strstr(err.msg, "limits.addr_handshakes"));
    config(&cfg, &key_b, "b");
    cfg.limits.handshake_timeout_ms = 3600 * 1000 + 1;
    assert_int_equal(p2p_new(&p, g_base, &cfg, &callbacks, &b, &err), SBX_EINVAL);
    assert_non_null(strstr(err.msg, "limits.handshake_timeout_ms"));
    config(&cfg, &key_b, "b");
    cfg.limits.handshake_timeout_ms = 3600 * 1000;
    start(&b, &cfg);
    assert_int_equal(b.p->lim.handshake_timeout_ms, 3600 * 1000);
    assert_int_equal(b.p->lim.max_inbound, P2P_DEFAULT_MAX_INBOUND);
    assert_int_equal(b.p->lim.max_handshaking, P2P_DEFAULT_MAX_HANDSHAKING);
    assert_int_equal(b.p->lim.addr_links, P2P_DEFAULT_ADDR_LINKS);
    assert_int_equal(b.p->lim.addr_handshakes, P2P_DEFAULT_ADDR_HANDSHAKES);
    inst_free(&b);
}
