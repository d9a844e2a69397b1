/* Category logger; see log.h. One mutex serialises lines so that threads do not interleave.
 *
 * Rate limit: each call site (its format string, a literal: one address per site) may write
 * g_burst lines per g_interval_ms; more are counted, not written, and once the interval is
 * over one line says how many were suppressed (at that site's next line, or at any line
 * written once the interval is over). The sites are kept in a small table; when it is full,
 * new sites share one overflow entry (limited together), so a flood of lines of any kind stays
 * bounded. */
#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *g_file;
static char *g_path;
static int g_stderr = 1;
static volatile int g_debug_mask;

/* One call site's window (g_lock). */
struct rate {
    const char *fmt; /* NULL: free */
    enum log_category cat;
    enum log_level level;
    int64_t start_ms; /* its window began */
    unsigned n;       /* lines written in it */
    unsigned suppressed;
};
#define RATE_SLOTS 256
static struct rate g_rate[RATE_SLOTS + 1]; /* the last one: overflow */
static unsigned g_burst = LOG_RATE_BURST;
static int64_t g_interval_ms = LOG_RATE_INTERVAL_MS;
static unsigned g_pending; /* sites with suppressed lines not yet reported */
static const char *const levels[] = {"debug", "info", "warning", "error"};

static const struct {
    const char *name;
    enum log_category cat;
} categories[] = {
    {"node", LOG_NODE},   {"rpc", LOG_RPC},     {"p2p", LOG_P2P}, {"compliance", LOG_COMPLIANCE},
    {"store", LOG_STORE}, {"bench", LOG_BENCH},
};

static const char *
cat_name(enum log_category cat)
{
    for (size_t i = 0; i < SBX_ARRAY_LEN(categories); i++)
        if (categories[i].cat == cat)
            return categories[i].name;
    return "misc";
}

int
log_open(const char *path)
{
    FILE *f = NULL;
    char *p = NULL;

    if (path != NULL) {
        f = fopen(path, "a");
        p = strdup(path);
        if (f == NULL || p == NULL) {
            if (f)
                fclose(f);
            free(p);
            return SBX_EIO;
        }
        setvbuf(f, NULL, _IOLBF, 0);
    }
    pthread_mutex_lock(&g_lock);
    if (g_file)
        fclose(g_file);
    free(g_path);
    g_file = f;
    g_path = p;
    pthread_mutex_unlock(&g_lock);
    return SBX_OK;
}

int
log_reopen(void)
{
    FILE *f;
    int rc = SBX_OK;

    pthread_mutex_lock(&g_lock);
    if (g_path != NULL) {
        f = fopen(g_path, "a");
        if (f == NULL) {
            rc = SBX_EIO;
        } else {
            setvbuf(f, NULL, _IOLBF, 0);
            if (g_file)
                fclose(g_file);
            g_file = f;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

void
log_close(void)
{
    pthread_mutex_lock(&g_lock);
    if (g_file)
        fclose(g_file);
    free(g_path);
    g_file = NULL;
    g_path = NULL;
    pthread_mutex_unlock(&g_lock);
}

void
log_set_stderr(int on)
{
    g_stderr = on;
}

int
log_enable(const char *list, struct sbx_err *err)
{
    int mask = 0;
    const char *p = list;

    if (strcmp(list, "1") == 0 || strcmp(list, "all") == 0) {
        g_debug_mask = LOG_ALL;
        return SBX_OK;
    }
    if (strcmp(list, "0") == 0 || strcmp(list, "none") == 0 || list[0] == '\0') {
        g_debug_mask = 0;
        return SBX_OK;
    }
    while (*p) {
        size_t n = strcspn(p, ",");
        int found = 0;

        for (size_t i = 0; i < SBX_ARRAY_LEN(categories); i++) {
            if (strlen(categories[i].name) == n && strncmp(categories[i].name, p, n) == 0) {
                mask |= categories[i].cat;
                found = 1;
            }
        }
        if (!found)
            return sbx_err_set(err, SBX_EINVAL, "debug: unknown category '%.*s'", (int)n, p);
        p += n;
        if (*p == ',')
            p++;
    }
    g_debug_mask = mask;
    return SBX_OK;
}

int
log_enabled(enum log_category cat)
{
    return (g_debug_mask & (int)cat) != 0;
}

void
log_set_rate(unsigned burst, int interval_ms)
{
    pthread_mutex_lock(&g_lock);
    g_burst = burst;
    g_interval_ms = interval_ms > 0 ? interval_ms : LOG_RATE_INTERVAL_MS;
    pthread_mutex_unlock(&g_lock);
}

/* Write one line to stderr and the file. Under g_lock. */
static void
emit(enum log_category cat, enum log_level level, const char *line)
{
    char stamp[32];
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    if (g_stderr)
        fprintf(stderr, "%s.%03ldZ [%s] %s: %s\n", stamp, ts.tv_nsec / 1000000, cat_name(cat),
                levels[level], line);
    if (g_file)
        fprintf(g_file, "%s.%03ldZ [%s] %s: %s\n", stamp, ts.tv_nsec / 1000000, cat_name(cat),
                levels[level], line);
}

/* Start a new window for `r` at `now_ms`, reporting what the last one suppressed. Under
 * g_lock. */
static void
rate_roll(struct rate *r, int64_t now_ms)
{
    char line[160];

    if (r->suppressed > 0) {
        snprintf(line, sizeof(line), "... %u similar lines suppressed in %lld s (\"%.80s\")",
                 r->suppressed, (long long)((now_ms - r->start_ms + 999) / 1000),
                 r == &g_rate[RATE_SLOTS] ? "various" : r->fmt);
        emit(r->cat, r->level, line);
        g_pending--;
    }
    r->start_ms = now_ms;
    r->n = 0;
    r->suppressed = 0;
}

/* The window of call site `fmt` (made if new). Under g_lock. */
static struct rate *
rate_of(const char *fmt, enum log_category cat, enum log_level level, int64_t now_ms)
{
    size_t h = ((uintptr_t)fmt >> 3) % RATE_SLOTS;

    for (size_t i = 0; i < RATE_SLOTS; i++) {
        struct rate *r = &g_rate[(h + i) % RATE_SLOTS];

        if (r->fmt == fmt)
            return r;
        if (r->fmt == NULL) {
            *r = (struct rate){fmt, cat, level, now_ms, 0, 0};
            return r;
        }
    }
    g_rate[RATE_SLOTS].fmt = fmt;
    g_rate[RATE_SLOTS].cat = cat;
    g_rate[RATE_SLOTS].level = level;
    return &g_rate[RATE_SLOTS];
}

/* 1 if a line of call site `fmt` may be written now; report the windows that are over. Under
 * g_lock. */
static int
rate_allow(const char *fmt, enum log_category cat, enum log_level level)
{
    struct timespec ts;
    int64_t now;
    struct rate *r;

    if (g_burst == 0)
        return 1;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    for (size_t i = 0; g_pending > 0 && i <= RATE_SLOTS; i++)
        if (g_rate[i].suppressed > 0 && now - g_rate[i].start_ms >= g_interval_ms)
            rate_roll(&g_rate[i], now);
    r = rate_of(fmt, cat, level, now);
    if (now - r->start_ms >= g_interval_ms)
        rate_roll(r, now);
    if (r->n < g_burst) {
        r->n++;
        return 1;
    }
    if (r->suppressed++ == 0)
        g_pending++;
    return 0;
}

void
log_write(enum log_category cat, enum log_level level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    pthread_mutex_lock(&g_lock);
    if (!rate_allow(fmt, cat, level)) {
        pthread_mutex_unlock(&g_lock);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    emit(cat, level, line);
    pthread_mutex_unlock(&g_lock);
}
