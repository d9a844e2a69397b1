/* IP address ranges in CIDR notation (-rpcallowip) and the loopback test of an address.
 *
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a socket bound to "::" sees of an IPv4
 * client) is matched as the IPv4 address it carries, so one IPv4 range covers both listeners.
 */
#ifndef SBX_UTIL_CIDR_H
#define SBX_UTIL_CIDR_H

#include <stdint.h>
#include <sys/socket.h>

#include "util/err.h"

struct cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    int bits; /* prefix length: 0..32 or 0..128 */
};

/* Parse "ADDR/BITS" or a bare ADDR (all its bits): IPv4 dotted or IPv6 text. The host bits
 * below the prefix must be zero ("10.1.2.3/8" is refused: say 10.0.0.0/8). 1 if `text` is one,
 * else 0. */
int cidr_parse(struct cidr *out, const char *text) SBX_WARN_UNUSED;

/* 1 if `sa` (AF_INET or AF_INET6) lies in `c`, else 0. */
int cidr_match(const struct cidr *c, const struct sockaddr *sa);

/* 1 if `sa` is a loopback address (127.0.0.0/8, ::1, or ::ffff:127.x.y.z), else 0. */
int cidr_is_loopback(const struct sockaddr *sa);

#endif
