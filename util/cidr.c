/* IP address ranges in CIDR notation (see util/cidr.h). Pure functions, any thread. */
#include "util/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "util/num.h"

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* 1 if the first `bits` bits of a and b are equal. */
static int
prefix_equal(const uint8_t *a, const uint8_t *b, int bits)
{
    int whole = bits / 8, rest = bits % 8;

    if (memcmp(a, b, (size_t)whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    return ((a[whole] ^ b[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

int
cidr_parse(struct cidr *out, const char *text)
{
    char addr[64];
    const char *slash = strchr(text, '/');
    size_t len = slash != NULL ? (size_t)(slash - text) : strlen(text);
    long long bits;
    struct cidr c;

    memset(out, 0, sizeof(*out));
    memset(&c, 0, sizeof(c));
    if (len == 0 || len >= sizeof(addr))
        return 0;
    memcpy(addr, text, len);
    addr[len] = '\0';
    if (inet_pton(AF_INET, addr, c.addr) == 1)
        c.family = AF_INET;
    else if (inet_pton(AF_INET6, addr, c.addr) == 1)
        c.family = AF_INET6;
    else
        return 0;
    c.bits = c.family == AF_INET ? 32 : 128;
    if (slash != NULL) {
        if (!num_parse_int(slash + 1, 0, c.bits, &bits))
            return 0;
        c.bits = (int)bits;
    }
    /* host bits must be zero: compare the address with itself cut to the prefix */
    {
        uint8_t cut[16];
        int nbytes = c.family == AF_INET ? 4 : 16;

        memcpy(cut, c.addr, sizeof(cut));
        for (int i = c.bits; i < nbytes * 8; i++)
            cut[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
        if (memcmp(cut, c.addr, (size_t)nbytes) != 0)
            return 0;
    }
    *out = c;
    return 1;
}

/* The address of `sa` as (family, bytes), an IPv4-mapped IPv6 address as IPv4. 0 if neither
 * family. */
static int
sa_bytes(const struct sockaddr *sa, uint8_t out[16])
{
    if (sa->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return AF_INET;
    }
    if (sa->sa_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;

        if (memcmp(a, v4_mapped, sizeof(v4_mapped)) == 0) {
            memcpy(out, a + 12, 4);
            return AF_INET;
        }
        memcpy(out, a, 16);
        return AF_INET6;
    }
    return 0;
}

int
cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
    uint8_t a[16];

    return sa_bytes(sa, a) == c->family && prefix_equal(a, c->addr, c->bits);
}

int
cidr_is_loopback(const struct sockaddr *sa)
{
    static const uint8_t v6_loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    uint8_t a[16];
    int family = sa_bytes(sa, a);

    if (family == AF_INET)
        return a[0] == 127;
    return family == AF_INET6 && memcmp(a, v6_loopback, 16) == 0;
}
