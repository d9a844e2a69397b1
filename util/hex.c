/* Hex encoding; see hex.h. */
#include "util/hex.h"

#include <stdlib.h>

static const char hexdigits[] = "0123456789abcdef";

void
hex_encode(char *out, const uint8_t *in, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hexdigits[in[i] >> 4];
        out[2 * i + 1] = hexdigits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int
nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int
hex_decode(uint8_t *out, size_t outlen, const char *in, size_t inlen)
{
    if (inlen != 2 * outlen)
        return SBX_EINVAL;
    for (size_t i = 0; i < outlen; i++) {
        int hi = nibble(in[2 * i]), lo = nibble(in[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return SBX_EINVAL;
        out[i] = (uint8_t)((hi << 4) | lo);
    }
    return SBX_OK;
}

int
hex_decode_var(uint8_t *out, size_t cap, size_t *outlen, const char *in, size_t inlen)
{
    *outlen = 0;
    if (inlen % 2 != 0 || inlen / 2 > cap)
        return inlen % 2 ? SBX_EINVAL : SBX_ETOOLONG;
    if (hex_decode(out, inlen / 2, in, inlen) != SBX_OK)
        return SBX_EINVAL;
    *outlen = inlen / 2;
    return SBX_OK;
}

json_t *
hex_json(const uint8_t *p, size_t n)
{
    char small[2 * 64 + 1], *s = small;
    json_t *j;

    /* hashes and keys (the common case) need no allocation */
    if (n > 64) {
        s = malloc(2 * n + 1);
        if (s == NULL)
            return NULL;
    }
    hex_encode(s, p, n);
    j = json_stringn_nocheck(s, 2 * n);
    if (s != small)
        free(s);
    return j;
}
