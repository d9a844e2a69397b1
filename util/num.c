/* Strict decimal integers; see num.h. */
#include "util/num.h"

#include <errno.h>
#include <stdlib.h>

int
num_parse_int(const char *s, long long min, long long max, long long *out)
{
    const char *p = s[0] == '-' ? s + 1 : s;
    char *end = NULL;
    long long v;

    if (*p < '0' || *p > '9')
        return 0;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return 0;
    *out = v;
    return 1;
}
