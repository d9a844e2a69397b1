/* Millisecond time and local-calendar helpers.
 *
 * The ledger counts time in milliseconds since the Unix epoch (UTC). Calendar periods for
 * limits (day, month) are in a fixed local offset, Vietnam time being UTC+7 (offset 420
 * minutes, no daylight saving). Every function here is a pure function of its arguments except
 * the two clocks, which compliance code never calls.
 */
#ifndef SBX_UTIL_TIME_H
#define SBX_UTIL_TIME_H

#include <stdint.h>

#define SBX_MS_PER_DAY INT64_C(86400000)
#define SBX_MS_PER_HOUR INT64_C(3600000)

/* Wall clock, ms since the epoch. */
int64_t time_now_ms(void);
/* Monotonic clock in microseconds (for measuring durations only). */
int64_t time_mono_us(void);

/* Floor division (rounds toward minus infinity, unlike C's `/`). */
int64_t time_floor_div(int64_t a, int64_t b);

/* Local day number (days since 1970-01-01 local) of instant `ms` at `offset_min` east of UTC. */
int64_t time_local_day(int64_t ms, int offset_min);
/* Local month number: year * 12 + (month - 1). */
int64_t time_local_month(int64_t ms, int offset_min);
/* Local minute of the day, 0..1439. */
int time_local_minute_of_day(int64_t ms, int offset_min);
/* The first millisecond (UTC instant) of local day `day`. */
int64_t time_local_day_start_ms(int64_t day, int offset_min);
/* The first millisecond of local month `month` (year * 12 + month - 1). */
int64_t time_local_month_start_ms(int64_t month, int offset_min);

/* Proleptic Gregorian conversions between day numbers and civil dates. */
int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d);
void time_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

/* "YYYY-MM-DD" of local day `day` into out[11]. */
void time_format_day(char out[static 11], int64_t day);
/* Parse "YYYY-MM-DD" (a valid date) into a day number; 0 on success, -1 otherwise. */
int time_parse_day(const char *s, int64_t *day);
/* Parse an RFC 3339 date-time with its offset, "YYYY-MM-DDTHH:MM:SS[.f]+HH:MM" (or "Z"; "T"
 * also "t" or " "; up to 3 fraction digits, the ledger's resolution) into ms since the epoch;
 * 0 on success, -1 otherwise (a leap second :60 is refused: the ledger has none). */
int time_parse_rfc3339(const char *s, int64_t *ms);

#endif
