/* util/ unit tests: buffers, hex, time and the UTC+7 calendar, SHA-256, the map, errors. */
#include "tests/unit/test_common.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "util/array.h"
#include "util/cidr.h"
#include "util/datadir.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/map.h"
#include "util/num.h"
#include "util/par.h"
#include "util/sha256.h"
#include "util/time.h"
#include "util/tls.h"

#define ICT 420 /* UTC+7 in minutes */

static void
test_buf_cap(void **state)
{
    struct buf b;
    uint8_t big[100] = {0};

    (void)state;
    buf_init(&b, 10);
    assert_int_equal(buf_put(&b, big, 10), SBX_OK);
    assert_int_equal(b.len, 10);
    assert_int_equal(buf_put_u8(&b, 1), SBX_ETOOLONG);
    assert_int_equal(b.len, 10);
    buf_reset(&b);
    assert_int_equal(buf_put(&b, big, 11), SBX_ETOOLONG);
    assert_int_equal(buf_put_u64(&b, 0x0102030405060708ull), SBX_OK);
    assert_int_equal(b.data[0], 1);
    assert_int_equal(b.data[7], 8);
    buf_release(&b);
}

/* LEB128 lengths at each 7-bit edge, the largest value, and what a load refuses. */
static void
test_buf_varint(void **state)
{
    static const struct {
        uint64_t v;
        size_t len;
    } cases[] = {{0, 1}, {127, 1}, {128, 2}, {16383, 2}, {16384, 3}, {UINT64_MAX, 10}};
    uint8_t b[BUF_VARINT_MAX + 1];
    uint64_t v;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(buf_store_varint(b, cases[i].v), cases[i].len);
        assert_int_equal(buf_load_varint(b, cases[i].len, &v), cases[i].len);
        assert_true(v == cases[i].v);
        /* one byte short: no whole varint */
        assert_int_equal(buf_load_varint(b, cases[i].len - 1, &v), 0);
    }
    assert_int_equal(buf_store_varint(b, 300), 2);
    assert_memory_equal(b, "\xac\x02", 2);
    /* eleven bytes with the continuation bit: longer than any varint */
    memset(b, 0x80, sizeof(b));
    assert_int_equal(buf_load_varint(b, sizeof(b), &v), 0);
}

static void
test_buf_reader(void **state)
{
    const uint8_t in[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09};
    struct buf_reader r;
    uint64_t v64;
    uint32_t v32;
    uint16_t v16;
    uint8_t v8;

    (void)state;
    buf_reader_init(&r, in, sizeof(in));
    assert_int_equal(buf_read_u8(&r, &v8), SBX_OK);
    assert_int_equal(v8, 1);
    assert_int_equal(buf_read_u16(&r, &v16), SBX_OK);
    assert_int_equal(v16, 0x0203);
    assert_int_equal(buf_read_u32(&r, &v32), SBX_OK);
    assert_int_equal(v32, 0x04050607);
    assert_int_equal(buf_reader_left(&r), 2);
    /* not enough left: refused, position unchanged, output zeroed */
    assert_int_equal(buf_read_u64(&r, &v64), SBX_ETRUNCATED);
    assert_int_equal(v64, 0);
    assert_int_equal(buf_reader_left(&r), 2);
    assert_int_equal(buf_read_u16(&r, &v16), SBX_OK);
    assert_int_equal(v16, 0x0809);
    assert_int_equal(buf_read_u8(&r, &v8), SBX_ETRUNCATED);
}

static void
test_hex(void **state)
{
    uint8_t out[4], var[8];
    char s[9];
    size_t n;

    (void)state;
    assert_int_equal(hex_decode(out, 4, "00ff10ab", 8), SBX_OK);
    assert_int_equal(out[1], 0xff);
    hex_encode(s, out, 4);
    assert_string_equal(s, "00ff10ab");
    assert_int_equal(hex_decode(out, 4, "00FF10AB", 8), SBX_EINVAL); /* one spelling only */
    assert_int_equal(hex_decode(out, 4, "00ff10a", 7), SBX_EINVAL);
    assert_int_equal(hex_decode(out, 4, "00ff10ag", 8), SBX_EINVAL);
    assert_int_equal(hex_decode_var(var, sizeof(var), &n, "abcd", 4), SBX_OK);
    assert_int_equal(n, 2);
    assert_int_equal(hex_decode_var(var, 1, &n, "abcd", 4), SBX_ETOOLONG);
    assert_int_equal(hex_decode_var(var, 8, &n, "abc", 3), SBX_EINVAL);
}

static void
test_time_floor_div(void **state)
{
    (void)state;
    assert_int_equal(time_floor_div(7, 2), 3);
    assert_int_equal(time_floor_div(-7, 2), -4);
    assert_int_equal(time_floor_div(-8, 2), -4);
    assert_int_equal(time_floor_div(0, 5), 0);
}

static void
test_time_civil(void **state)
{
    int64_t y;
    unsigned m, d;

    (void)state;
    assert_int_equal(time_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(time_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(time_days_from_civil(1969, 12, 31), -1);
    for (int64_t day = -800000; day < 800000; day += 997) {
        time_civil_from_days(day, &y, &m, &d);
        assert_int_equal(time_days_from_civil(y, m, d), day);
    }
    time_civil_from_days(time_days_from_civil(2028, 2, 29), &y, &m, &d);
    assert_int_equal(y, 2028);
    assert_int_equal(m, 2);
    assert_int_equal(d, 29);
}

/* 23:59:59.999 and 00:00:00.000 local time (UTC+7) fall on different local days and, at the end
 * of a month, in different months. */
static void
test_time_utc7_boundaries(void **state)
{
    int64_t d = time_days_from_civil(2026, 11, 30);         /* local date of interest */
    int64_t midnight = time_local_day_start_ms(d + 1, ICT); /* 2026-12-01 00:00 local */
    int64_t last = midnight - 1;                            /* 2026-11-30 23:59:59.999 local */
    char s[11];

    (void)state;
    /* local midnight is 17:00 UTC of the day before */
    assert_int_equal(midnight, (d + 1) * SBX_MS_PER_DAY - 7 * SBX_MS_PER_HOUR);
    assert_int_equal(time_local_day(last, ICT), d);
    assert_int_equal(time_local_day(midnight, ICT), d + 1);
    assert_int_equal(time_local_month(last, ICT), 2026 * 12 + 10);
    assert_int_equal(time_local_month(midnight, ICT), 2026 * 12 + 11);
    assert_int_equal(time_local_minute_of_day(last, ICT), 1439);
    assert_int_equal(time_local_minute_of_day(midnight, ICT), 0);
    /* the same instants in UTC are the same day */
    assert_int_equal(time_local_day(last, 0), time_local_day(midnight, 0));
    /* month starts */
    assert_int_equal(time_local_month_start_ms(2026 * 12 + 11, ICT), midnight);
    /* new year */
    assert_int_equal(
        time_local_month(time_local_day_start_ms(time_days_from_civil(2027, 1, 1), ICT) - 1, ICT),
        2026 * 12 + 11);
    time_format_day(s, d);
    assert_string_equal(s, "2026-11-30");
}

static void
test_time_parse_day(void **state)
{
    int64_t day;

    (void)state;
    assert_int_equal(time_parse_day("2026-11-28", &day), 0);
    assert_int_equal(day, time_days_from_civil(2026, 11, 28));
    assert_int_equal(time_parse_day("2026-02-30", &day), -1);
    assert_int_equal(time_parse_day("2026-13-01", &day), -1);
    assert_int_equal(time_parse_day("2026-1-01", &day), -1);
    assert_int_equal(time_parse_day("2026-01-01x", &day), -1);
    assert_int_equal(time_parse_day("", &day), -1);
}

static void
test_time_parse_rfc3339(void **state)
{
    int64_t ms;

    (void)state;
    /* midnight in UTC+7 is 17:00 the day before in UTC */
    assert_int_equal(time_parse_rfc3339("2025-09-01T00:00:00+07:00", &ms), 0);
    assert_int_equal(ms, INT64_C(1756659600000));
    assert_int_equal(time_parse_rfc3339("2025-08-31T17:00:00Z", &ms), 0);
    assert_int_equal(ms, INT64_C(1756659600000));
    assert_int_equal(time_parse_rfc3339("2025-08-31T12:30:00-04:30", &ms), 0);
    assert_int_equal(ms, INT64_C(1756659600000));
    /* the last millisecond of a licence that ends at midnight UTC+7 */
    assert_int_equal(time_parse_rfc3339("2028-08-31T23:59:59.999+07:00", &ms), 0);
    assert_int_equal(ms, INT64_C(1851354000000) - 1);
    assert_int_equal(time_parse_rfc3339("2028-08-31 23:59:59.9+07:00", &ms), 0);
    assert_int_equal(ms, INT64_C(1851354000000) - 100);
    assert_int_equal(time_parse_rfc3339("2025-09-01T00:00:00", &ms), -1); /* no offset */
    assert_int_equal(time_parse_rfc3339("2025-09-01", &ms), -1);
    assert_int_equal(time_parse_rfc3339("2025-09-01T00:00:00.1234Z", &ms), -1); /* below ms */
    assert_int_equal(time_parse_rfc3339("2025-09-01T00:00:00.Z", &ms), -1);
    assert_int_equal(time_parse_rfc3339("2025-09-01T24:00:00Z", &ms), -1);
    assert_int_equal(time_parse_rfc3339("2025-09-01T23:59:60Z", &ms), -1);
    assert_int_equal(time_parse_rfc3339("2025-02-29T00:00:00Z", &ms), -1);
    assert_int_equal(time_parse_rfc3339("2025-09-01T00:00:00+0700", &ms), -1);
    assert_int_equal(time_parse_rfc3339("2025-09-01T00:00:00+07:00 ", &ms), -1);
    assert_int_equal(time_parse_rfc3339("", &ms), -1);
}

static void
test_sha256_vectors(void **state)
{
    /* FIPS 180-2 test vector: SHA-256("abc") */
    static const char abc[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    uint8_t out[32], out2[32];
    char hex[65];
    struct sha256_ctx c;

    (void)state;
    assert_int_equal(sha256_global_init(), SBX_OK);
    sha256(out, "abc", 3);
    hex_encode(hex, out, 32);
    assert_string_equal(hex, abc);
    sha256_2(out2, "a", 1, "bc", 2);
    assert_memory_equal(out, out2, 32);
    assert_int_equal(sha256_ctx_init(&c), SBX_OK);
    sha256_ctx_update(&c, "ab", 2);
    sha256_ctx_update(&c, "c", 1);
    sha256_ctx_final(&c, out2);
    assert_memory_equal(out, out2, 32);
    sha256_ctx_update(&c, "abc", 3); /* final resets for the next message */
    sha256_ctx_final(&c, out2);
    assert_memory_equal(out, out2, 32);
    sha256_ctx_release(&c);
}

static void
test_sha256_tagged(void **state)
{
    uint8_t a[32], b[32], msg[300];
    struct sha256_ctx c;

    (void)state;
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)i;
    for (size_t len = 0; len <= sizeof(msg); len += 37) {
        sha256_tagged(&SHA256_TAG_TX, a, msg, len);
        sha256_tagged_slow(b, "sbx/tx", msg, len);
        assert_memory_equal(a, b, 32);
    }
    sha256_tagged(&SHA256_TAG_BLOCK, b, msg, 100);
    sha256_tagged(&SHA256_TAG_TX, a, msg, 100);
    assert_memory_not_equal(a, b, 32);
    assert_int_equal(sha256_ctx_init(&c), SBX_OK);
    sha256_tagged_begin(&SHA256_TAG_TX, &c);
    sha256_ctx_update(&c, msg, 50);
    sha256_ctx_update(&c, msg + 50, 50);
    sha256_ctx_final(&c, b);
    assert_memory_equal(a, b, 32);
    sha256_ctx_release(&c);
}

static void
test_map(void **state)
{
    struct map m;
    char key[32];
    int vals[2000];

    (void)state;
    map_init(&m);
    assert_null(map_get(&m, "x", 1));
    for (int i = 0; i < 2000; i++) {
        vals[i] = i;
        snprintf(key, sizeof(key), "acct-%d", i);
        assert_int_equal(map_put(&m, key, strlen(key), &vals[i]), SBX_OK);
    }
    assert_int_equal(m.n, 2000);
    for (int i = 0; i < 2000; i++) {
        int *v;

        snprintf(key, sizeof(key), "acct-%d", i);
        v = map_get(&m, key, strlen(key));
        assert_non_null(v);
        assert_int_equal(*v, i);
    }
    assert_null(map_get(&m, "acct-2000", 9));
    assert_int_equal(map_put(&m, "acct-1", 6, &vals[5]), SBX_OK); /* replace */
    assert_int_equal(m.n, 2000);
    assert_int_equal(*(int *)map_get(&m, "acct-1", 6), 5);
    /* delete every other key; the rest stay reachable (backward-shift keeps probe runs whole) */
    for (int i = 0; i < 2000; i += 2) {
        snprintf(key, sizeof(key), "acct-%d", i);
        assert_int_equal(map_del(&m, key, strlen(key)), 1);
        assert_int_equal(map_del(&m, key, strlen(key)), 0);
    }
    assert_int_equal(m.n, 1000);
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "acct-%d", i);
        if (i % 2)
            assert_non_null(map_get(&m, key, strlen(key)));
        else
            assert_null(map_get(&m, key, strlen(key)));
    }
    for (int i = 0; i < 2000; i += 2) { /* reinsert */
        snprintf(key, sizeof(key), "acct-%d", i);
        assert_int_equal(map_put(&m, key, strlen(key), &vals[i]), SBX_OK);
    }
    assert_int_equal(m.n, 2000);
    assert_int_equal(*(int *)map_get(&m, "acct-1998", 9), 1998);
    map_release(&m);
}

static void
test_err(void **state)
{
    static const int codes[] = {
        SBX_OK,         SBX_EINVAL,    SBX_ENOTFOUND, SBX_ECONFLICT, SBX_EDENIED,   SBX_EUNAVAIL,
        SBX_EIO,        SBX_ENOMEM,    SBX_EBADSIG,   SBX_EREJECTED, SBX_EOVERLOAD, SBX_EINTERNAL,
        SBX_ETRUNCATED, SBX_ETRAILING, SBX_ETOOLONG,  SBX_EVERSION,  SBX_ETYPE,     SBX_EPUBKEY,
        SBX_EOVERFLOW,  SBX_ENONCANON, SBX_ECORRUPT};
    struct sbx_err e;

    (void)state;
    for (size_t i = 0; i < SBX_ARRAY_LEN(codes); i++) {
        assert_string_not_equal(sbx_rc_name(codes[i]), "EUNKNOWN");
        for (size_t j = 0; j < i; j++) {
            assert_int_not_equal(codes[i], codes[j]);
            assert_string_not_equal(sbx_rc_name(codes[i]), sbx_rc_name(codes[j]));
        }
    }
    assert_int_equal(sbx_err_set(&e, SBX_EINVAL, "amount: %s", "negative"), SBX_EINVAL);
    assert_int_equal(e.code, SBX_EINVAL);
    assert_string_equal(e.msg, "amount: negative");
    assert_int_equal(sbx_err_set(NULL, SBX_EIO, "ignored"), SBX_EIO);
    /* wrapping the message already in err (the argument aliases the buffer it is written to) */
    assert_int_equal(sbx_err_set(&e, SBX_ECORRUPT, "block %d: %s", 7, e.msg), SBX_ECORRUPT);
    assert_string_equal(e.msg, "block 7: amount: negative");
    assert_int_equal(e.code, SBX_ECORRUPT);
    sbx_err_clear(&e);
    assert_int_equal(e.code, SBX_OK);
}

/* array_reserve: doubling from `first`, a jump past twice the capacity, and the refusals that
 * leave the array as it was. */
static void
test_array_reserve(void **state)
{
    uint32_t *v = NULL;
    size_t alloc = 0;

    (void)state;
    assert_int_equal(array_reserve(&v, 0, &alloc, sizeof(*v), 4), SBX_OK);
    assert_null(v);
    assert_int_equal(alloc, 0);
    assert_int_equal(array_reserve(&v, 1, &alloc, sizeof(*v), 4), SBX_OK);
    assert_non_null(v);
    assert_int_equal(alloc, 4);
    for (uint32_t i = 0; i < 4; i++)
        v[i] = i;
    assert_int_equal(array_reserve(&v, 4, &alloc, sizeof(*v), 4), SBX_OK); /* fits: no change */
    assert_int_equal(alloc, 4);
    assert_int_equal(array_reserve(&v, 5, &alloc, sizeof(*v), 4), SBX_OK);
    assert_int_equal(alloc, 8);
    assert_int_equal(array_reserve(&v, 33, &alloc, sizeof(*v), 4),
                     SBX_OK); /* 8 -> 16 -> 32 -> 64 */
    assert_int_equal(alloc, 64);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(v[i], i); /* the contents moved with the array */
    {
        uint32_t *before = v;

        /* more elements than size_t can count in bytes: refused, nothing changed */
        assert_int_equal(array_reserve(&v, SIZE_MAX / 2, &alloc, sizeof(*v), 4), SBX_ENOMEM);
        assert_ptr_equal(v, before);
        assert_int_equal(alloc, 64);
        assert_int_equal(array_reserve(&v, SIZE_MAX, &alloc, 1, 4), SBX_ENOMEM);
        assert_int_equal(alloc, 64);
    }
    free(v);
    v = NULL;
    alloc = 0;
    assert_int_equal(array_reserve(&v, 3, &alloc, sizeof(*v), 0), SBX_OK); /* first 0: from 1 */
    assert_int_equal(alloc, 4);
    free(v);
}

static void
test_num_parse_int(void **state)
{
    long long v = 7;

    (void)state;
    assert_int_equal(num_parse_int("18645", 1, 65535, &v), 1);
    assert_int_equal(v, 18645);
    assert_int_equal(num_parse_int("65535", 1, 65535, &v), 1); /* exactly at the limit */
    assert_int_equal(num_parse_int("65536", 1, 65535, &v), 0); /* one over */
    assert_int_equal(num_parse_int("-5", -10, 10, &v), 1);
    assert_int_equal(v, -5);
    assert_int_equal(num_parse_int("9223372036854775807", 0, LLONG_MAX, &v), 1);
    assert_int_equal(num_parse_int("9223372036854775808", 0, LLONG_MAX, &v), 0);
    v = 7;
    const char *bad[] = {"", " 1", "1 ", "+1", "1x", "0x10", "-", "1e3", "abc"};
    for (size_t i = 0; i < SBX_ARRAY_LEN(bad); i++)
        assert_int_equal(num_parse_int(bad[i], LLONG_MIN, LLONG_MAX, &v), 0);
    assert_int_equal(v, 7); /* untouched on failure */
}

static void
test_log_enable(void **state)
{
    struct sbx_err e;

    (void)state;
    assert_int_equal(log_enable("rpc,store", &e), SBX_OK);
    assert_true(log_enabled(LOG_RPC));
    assert_true(log_enabled(LOG_STORE));
    assert_false(log_enabled(LOG_P2P));
    assert_int_equal(log_enable("rpc,bogus", &e), SBX_EINVAL);
    assert_non_null(strstr(e.msg, "bogus"));
    assert_int_equal(log_enable("0", &e), SBX_OK);
    assert_false(log_enabled(LOG_RPC));
}

/* How many times `needle` occurs in the file at `path`. */
static size_t
count_in_file(const char *path, const char *needle)
{
    char buf[16384];
    FILE *f = fopen(path, "r");
    size_t n = 0, len;

    assert_non_null(f);
    len = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[len] = '\0';
    for (const char *p = buf; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* A call site writes LOG_RATE_BURST lines per interval (exactly the burst, not one more); the
 * rest are counted and reported in one line once the interval is over: at its next line, or
 * at any other line. */
static void
test_log_rate(void **state)
{
    char path[] = "/tmp/sbx-test-lograte-XXXXXX";
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    log_set_stderr(0);
    assert_int_equal(log_open(path), SBX_OK);
    log_set_rate(5, 60000);
    for (int i = 0; i < 30; i++)
        LOG_WARN(LOG_RPC, "rate test line %d", i);
    LOG_WARN(LOG_RPC, "another call site %d", 1); /* not limited by the first */
    assert_int_equal(count_in_file(path, "rate test line"), 5);
    assert_int_equal(count_in_file(path, "rate test line 4\n"), 1);
    assert_int_equal(count_in_file(path, "rate test line 5\n"), 0);
    assert_int_equal(count_in_file(path, "another call site 1"), 1);
    assert_int_equal(count_in_file(path, "suppressed"), 0);
    /* the interval over: the next line of the site reports the 25 first */
    log_set_rate(5, 50);
    usleep(80 * 1000);
    LOG_WARN(LOG_RPC, "rate test line %d", 99);
    assert_int_equal(count_in_file(path, "... 25 similar lines suppressed"), 1);
    assert_int_equal(count_in_file(path, "rate test line 99"), 1);
    /* 6 more in this window (made long, so that a slow machine cannot end it early): 4
     * written, 2 suppressed, reported by a line of another site once it is over */
    log_set_rate(5, 60000);
    for (int i = 0; i < 6; i++)
        LOG_WARN(LOG_RPC, "rate test line %d", 100 + i);
    assert_int_equal(count_in_file(path, "rate test line 104"), 0);
    log_set_rate(5, 50);
    usleep(80 * 1000);
    LOG_INFO(LOG_RPC, "another call site %d", 2);
    assert_int_equal(count_in_file(path, "... 2 similar lines suppressed"), 1);
    log_set_rate(LOG_RATE_BURST, LOG_RATE_INTERVAL_MS);
    log_close();
    log_set_stderr(1);
    unlink(path);
}

struct par_count {
    unsigned char *seen;
};

static void
par_mark(void *ctx, size_t i)
{
    struct par_count *pc = ctx;

    pc->seen[i]++; /* each index is handed out once: no two threads touch one byte */
}

/* par_run (and par_start then par_wait) calls fn exactly once per index, for sizes around the
 * chunk size, many times over (a helper that wakes late must not run a finished loop again),
 * with and without helpers. */
static void
test_par_run(void **state)
{
    static const size_t sizes[] = {0, 1, 15, 16, 17, 33, 1000, 100003};
    struct par_pool *pools[3];
    struct par_count pc;

    assert_int_equal(par_pool_new(&pools[0], 0), SBX_OK);
    assert_int_equal(par_pool_new(&pools[1], 1), SBX_OK);
    assert_int_equal(par_pool_new(&pools[2], 3), SBX_OK);
    pc.seen = malloc(100003);
    assert_non_null(pc.seen);
    for (int p = 0; p < 3; p++) {
        for (int round = 0; round < 40; round++) {
            for (size_t k = 0; k < SBX_ARRAY_LEN(sizes); k++) {
                memset(pc.seen, 0, 100003);
                if (round % 2 == 0) {
                    par_run(pools[p], sizes[k], par_mark, &pc);
                } else { /* in two halves, the caller busy with other work between them */
                    volatile unsigned spin = 0;

                    par_start(pools[p], sizes[k], par_mark, &pc);
                    for (int i = 0; i < 1000 * round; i++)
                        spin += (unsigned)i;
                    par_wait(pools[p], sizes[k], par_mark, &pc);
                }
                for (size_t i = 0; i < sizes[k]; i++)
                    if (pc.seen[i] != 1)
                        fail_msg("pool %d size %zu: index %zu run %d times", p, sizes[k], i,
                                 pc.seen[i]);
                for (size_t i = sizes[k]; i < 100003; i++)
                    assert_int_equal(pc.seen[i], 0);
            }
        }
    }
    memset(pc.seen, 0, 100003);
    par_run(NULL, 100, par_mark, &pc);
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(pc.seen[i], 1);
    free(pc.seen);
    for (int p = 0; p < 3; p++)
        par_pool_free(pools[p]);
}

/* A sockaddr for `text` (IPv4 or IPv6). */
static struct sockaddr_storage
sa_of(const char *text)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, text, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ss.ss_family = AF_INET;
    } else {
        assert_int_equal(inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
        ss.ss_family = AF_INET6;
    }
    return ss;
}

static int
in_range(const char *range, const char *addr)
{
    struct cidr c;
    struct sockaddr_storage ss = sa_of(addr);

    assert_true(cidr_parse(&c, range));
    return cidr_match(&c, (struct sockaddr *)&ss);
}

static void
test_cidr(void **state)
{
    static const char *const bad[] = {
        "",       "10.0.0.0/33", "10.1.2.3/8", "10.0.0.0/",   "10.0.0.0/-1", "10.0.0/8",
        "host/8", "::1/129",     "fe80::1/10", "10.0.0.0/8x", "/8"};
    struct cidr c;
    struct sockaddr_storage ss;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(cidr_parse(&c, bad[i]));
    /* a bare address is all its bits; the edges of a prefix */
    assert_true(in_range("127.0.0.2", "127.0.0.2"));
    assert_false(in_range("127.0.0.2", "127.0.0.1"));
    assert_true(in_range("10.1.0.0/16", "10.1.255.255"));
    assert_false(in_range("10.1.0.0/16", "10.2.0.0"));
    assert_true(in_range("192.168.1.128/25", "192.168.1.128"));
    assert_false(in_range("192.168.1.128/25", "192.168.1.127"));
    assert_true(in_range("0.0.0.0/0", "203.0.113.9"));
    assert_false(in_range("0.0.0.0/0", "2001:db8::1")); /* families do not mix */
    /* an IPv4 client seen on an IPv6 socket is matched as IPv4 */
    assert_true(in_range("10.0.0.0/8", "::ffff:10.9.8.7"));
    assert_true(in_range("2001:db8::/32", "2001:db8:ffff::1"));
    assert_false(in_range("2001:db8::/33", "2001:db8:8000::1"));
    assert_true(in_range("::1", "::1"));
    ss = sa_of("127.255.0.1");
    assert_true(cidr_is_loopback((struct sockaddr *)&ss));
    ss = sa_of("::ffff:127.0.0.1");
    assert_true(cidr_is_loopback((struct sockaddr *)&ss));
    ss = sa_of("::1");
    assert_true(cidr_is_loopback((struct sockaddr *)&ss));
    ss = sa_of("0.0.0.0");
    assert_false(cidr_is_loopback((struct sockaddr *)&ss));
    ss = sa_of("::");
    assert_false(cidr_is_loopback((struct sockaddr *)&ss));
    ss = sa_of("128.0.0.1");
    assert_false(cidr_is_loopback((struct sockaddr *)&ss));
}

static void
test_tls_fingerprint_parse(void **state)
{
    const char *hex = "b7035a38b777c51888de9370342663c1ce47f5efeecb4dd198cccc93070f9962";
    const char *colons = "B7:03:5A:38:B7:77:C5:18:88:DE:93:70:34:26:63:C1:CE:47:F5:EF:EE:CB:4D:"
                         "D1:98:CC:CC:93:07:0F:99:62";
    uint8_t a[32], b[32];
    char text[TLS_FINGERPRINT_HEX], buf[200];

    (void)state;
    assert_true(tls_fingerprint_parse(a, hex));
    tls_fingerprint_hex(text, a);
    assert_string_equal(text, hex);
    assert_true(tls_fingerprint_parse(b, colons));
    assert_memory_equal(a, b, 32);
    snprintf(buf, sizeof(buf), "sha256 Fingerprint=%s", colons);
    assert_true(tls_fingerprint_parse(b, buf));
    assert_memory_equal(a, b, 32);
    snprintf(buf, sizeof(buf), "sha256:%s", hex);
    assert_true(tls_fingerprint_parse(b, buf));
    assert_memory_equal(a, b, 32);
    /* one digit short or over, a misplaced colon, a trailing colon, a non-hex digit */
    assert_false(tls_fingerprint_parse(b, hex + 1));
    snprintf(buf, sizeof(buf), "%s0", hex);
    assert_false(tls_fingerprint_parse(b, buf));
    snprintf(buf, sizeof(buf), "B:703%s", colons + 4);
    assert_false(tls_fingerprint_parse(b, buf));
    snprintf(buf, sizeof(buf), "%s:", colons);
    assert_false(tls_fingerprint_parse(b, buf));
    snprintf(buf, sizeof(buf), "%.63sg", hex);
    assert_false(tls_fingerprint_parse(b, buf));
    assert_false(tls_fingerprint_parse(b, ""));
}

/* The directory of a path is what gets synced; a directory part of PATH_MAX - 1 bytes fits, one
 * more does not. */
static void
test_datadir_sync_parent(void **state)
{
    char dir[] = "/tmp/sbx-test-dsync-XXXXXX", path[64], big[PATH_MAX + 8];

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/not-there-yet", dir);
    assert_int_equal(datadir_sync_parent(path, NULL), SBX_OK);
    assert_int_equal(datadir_sync_parent(dir, NULL), SBX_OK); /* its parent, /tmp */
    assert_int_equal(datadir_sync_parent("/etc", NULL), SBX_OK);
    assert_int_equal(datadir_sync_parent("relative", NULL), SBX_OK);
    snprintf(path, sizeof(path), "%s/missing/file", dir);
    assert_int_equal(datadir_sync_parent(path, NULL), SBX_EIO);
    memset(big, 'a', sizeof(big));
    big[0] = '/';
    big[PATH_MAX - 1] = '/';
    big[PATH_MAX] = '\0';
    assert_int_equal(datadir_sync_parent(big, NULL), SBX_EIO); /* fits; the system refuses it */
    big[PATH_MAX - 1] = 'a';
    big[PATH_MAX] = '/';
    big[PATH_MAX + 1] = '\0';
    assert_int_equal(datadir_sync_parent(big, NULL), SBX_ETOOLONG);
    assert_int_equal(rmdir(dir), 0);
}

static void
test_tls_pair_open(void **state)
{
    char dir[] = "/tmp/sbx-test-tls-XXXXXX", key[64], cert[64], key2[64], cert2[64];
    uint8_t fp1[32], fp2[32];
    EVP_PKEY *k;
    X509 *x;
    int made;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(key, sizeof(key), "%s/a.key", dir);
    snprintf(cert, sizeof(cert), "%s/a.crt", dir);
    snprintf(key2, sizeof(key2), "%s/b.key", dir);
    snprintf(cert2, sizeof(cert2), "%s/b.crt", dir);
    /* missing without `make`; made with it; the same pair the second time */
    assert_int_equal(tls_pair_open(&k, &x, &made, key, cert, "t", 0, NULL), SBX_EIO);
    assert_int_equal(tls_pair_open(&k, &x, &made, key, cert, "t", 1, NULL), SBX_OK);
    assert_int_equal(made, 1);
    assert_int_equal(tls_fingerprint(fp1, x), SBX_OK);
    EVP_PKEY_free(k);
    X509_free(x);
    assert_int_equal(tls_pair_open(&k, &x, &made, key, cert, "t", 1, NULL), SBX_OK);
    assert_int_equal(made, 0);
    assert_int_equal(tls_fingerprint(fp2, x), SBX_OK);
    assert_memory_equal(fp1, fp2, 32);
    EVP_PKEY_free(k);
    X509_free(x);
    /* a key readable by others; a key that is not the certificate's */
    assert_int_equal(chmod(key, 0640), 0);
    assert_int_equal(tls_pair_open(&k, &x, &made, key, cert, "t", 0, NULL), SBX_EDENIED);
    assert_null(k);
    assert_int_equal(chmod(key, 0600), 0);
    assert_int_equal(tls_pair_open(&k, &x, &made, key2, cert2, "t", 1, NULL), SBX_OK);
    EVP_PKEY_free(k);
    X509_free(x);
    assert_int_equal(tls_pair_open(&k, &x, &made, key2, cert, "t", 0, NULL), SBX_EIO);
    assert_null(x);
    unlink(key);
    unlink(cert);
    unlink(key2);
    unlink(cert2);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_cap),
        cmocka_unit_test(test_buf_reader),
        cmocka_unit_test(test_buf_varint),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_time_floor_div),
        cmocka_unit_test(test_time_civil),
        cmocka_unit_test(test_time_utc7_boundaries),
        cmocka_unit_test(test_time_parse_day),
        cmocka_unit_test(test_time_parse_rfc3339),
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_sha256_tagged),
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_err),
        cmocka_unit_test(test_array_reserve),
        cmocka_unit_test(test_num_parse_int),
        cmocka_unit_test(test_log_enable),
        cmocka_unit_test(test_log_rate),
        cmocka_unit_test(test_par_run),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_tls_fingerprint_parse),
        cmocka_unit_test(test_tls_pair_open),
        cmocka_unit_test(test_datadir_sync_parent),
    };

    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
