/* Time helpers; see time.h. Civil-date arithmetic follows the well-known days-from-civil
 * algorithm on 400-year eras (public-domain description by H. Hinnant). */
#include "util/time.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t
time_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
time_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
time_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

int64_t
time_local_day(int64_t ms, int offset_min)
{
    return time_floor_div(ms + (int64_t)offset_min * 60000, SBX_MS_PER_DAY);
}

int64_t
time_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = time_floor_div(y, 400);
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void
time_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era;
    unsigned doe, yoe, doy, mp;

    z += 719468;
    era = time_floor_div(z, 146097);
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int64_t
time_local_month(int64_t ms, int offset_min)
{
    int64_t y;
    unsigned m, d;

    time_civil_from_days(time_local_day(ms, offset_min), &y, &m, &d);
    return y * 12 + (m - 1);
}

int
time_local_minute_of_day(int64_t ms, int offset_min)
{
    int64_t local = ms + (int64_t)offset_min * 60000;

    return (int)((local - time_floor_div(local, SBX_MS_PER_DAY) * SBX_MS_PER_DAY) / 60000);
}

int64_t
time_local_day_start_ms(int64_t day, int offset_min)
{
    return day * SBX_MS_PER_DAY - (int64_t)offset_min * 60000;
}

int64_t
time_local_month_start_ms(int64_t month, int offset_min)
{
    int64_t y = time_floor_div(month, 12);
    unsigned m = (unsigned)(month - y * 12) + 1;

    return time_local_day_start_ms(time_days_from_civil(y, m, 1), offset_min);
}

void
time_format_day(char out[static 11], int64_t day)
{
    int64_t y;
    unsigned m, d;

    char tmp[64];

    time_civil_from_days(day, &y, &m, &d);
    snprintf(tmp, sizeof(tmp), "%04lld-%02u-%02u", (long long)(y % 10000 + (y < 0 ? 10000 : 0)),
             m % 100, d % 100);
    memcpy(out, tmp, 10);
    out[10] = '\0';
}

int
time_parse_day(const char *s, int64_t *day)
{
    unsigned y, m, d;
    int64_t yy;
    unsigned m2, d2;

    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    y = (unsigned)((s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0'));
    m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
    if (m < 1 || m > 12 || d < 1 || d > 31)
        return -1;
    *day = time_days_from_civil(y, m, d);
    time_civil_from_days(*day, &yy, &m2, &d2);
    if (yy != (int64_t)y || m2 != m || d2 != d)
        return -1; /* e.g. 2026-02-30 */
    return 0;
}

/* The value of `n` decimal digits at s, or -1 if one is not a digit. */
static int
digits(const char *s, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int
time_parse_rfc3339(const char *s, int64_t *ms)
{
    char date[11];
    int64_t day, frac = 0;
    int h, mi, sec, oh, om, sign, nfrac = 0;
    const char *p;

    if (strnlen(s, 20) < 20 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
        s[16] != ':')
        return -1;
    memcpy(date, s, 10);
    date[10] = '\0';
    h = digits(s + 11, 2);
    mi = digits(s + 14, 2);
    sec = digits(s + 17, 2);
    if (time_parse_day(date, &day) != 0 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 ||
        sec > 59)
        return -1;
    p = s + 19;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, nfrac++) {
            if (nfrac == 3)
                return -1;
            frac = frac * 10 + (*p - '0');
        }
        if (nfrac == 0)
            return -1;
        for (int i = nfrac; i < 3; i++)
            frac *= 10;
    }
    if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0') {
        oh = om = 0;
        sign = 1;
    } else {
        if ((p[0] != '+' && p[0] != '-') || strlen(p) != 6 || p[3] != ':')
            return -1;
        sign = p[0] == '-' ? -1 : 1;
        oh = digits(p + 1, 2);
        om = digits(p + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -1;
    }
    *ms = day * SBX_MS_PER_DAY + ((int64_t)h * 3600 + mi * 60 + sec) * 1000 + frac -
          sign * ((int64_t)oh * 60 + om) * 60000;
    return 0;
}
