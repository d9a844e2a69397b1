/* Strict decimal integers from text (options, configuration, command lines). */
#ifndef SBX_UTIL_NUM_H
#define SBX_UTIL_NUM_H

/* Parse a whole decimal integer in [min, max]: an optional '-', digits, nothing else (strtoll
 * alone would accept leading blanks, '+' and trailing junk). 1 on success, 0 otherwise. */
int num_parse_int(const char *s, long long min, long long max, long long *out);

#endif
