/* Category logger; see log.h. One mutex serialises lines so that threads do not interleave. */
#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *g_file;
static char *g_path;
static int g_stderr = 1;
static volatile int g_debug_mask;

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
log_write(enum log_category cat, enum log_level level, const char *fmt, ...)
{
    static const char *levels[] = {"debug", "info", "warning", "error"};
    char line[1024], stamp[32];
    struct timespec ts;
    struct tm tm;
    va_list ap;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);

    pthread_mutex_lock(&g_lock);
    if (g_stderr)
        fprintf(stderr, "%s.%03ldZ [%s] %s: %s\n", stamp, ts.tv_nsec / 1000000, cat_name(cat),
                levels[level], line);
    if (g_file)
        fprintf(g_file, "%s.%03ldZ [%s] %s: %s\n", stamp, ts.tv_nsec / 1000000, cat_name(cat),
                levels[level], line);
    pthread_mutex_unlock(&g_lock);
}
