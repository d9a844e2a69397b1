/* Lowercase hexadecimal encoding and strict decoding, and hex as a JSON string. */
#ifndef SBX_UTIL_HEX_H
#define SBX_UTIL_HEX_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/err.h"

/* Write 2*len lowercase hex digits and a NUL to `out` (which holds 2*len+1 bytes). */
void hex_encode(char *out, const uint8_t *in, size_t len);

/* Decode exactly `outlen` bytes from `in` (`inlen` characters). Uppercase digits are refused so
 * that every value has one spelling. SBX_EINVAL on a wrong length or a non-hex character. */
int hex_decode(uint8_t *out, size_t outlen, const char *in, size_t inlen) SBX_WARN_UNUSED;

/* Decode a variable-length hex string into at most `cap` bytes; `*outlen` gets the length. */
int hex_decode_var(uint8_t *out, size_t cap, size_t *outlen, const char *in,
                   size_t inlen) SBX_WARN_UNUSED;

/* A new JSON string of the 2*n lowercase hex digits of `p`, or NULL when out of memory. */
json_t *hex_json(const uint8_t *p, size_t n);

#endif
