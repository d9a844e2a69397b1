/* Category logger: lines to stderr and, once opened, to a log file.
 *
 * Each line: "2026-11-28T10:00:00.123Z [category] level: message". Debug lines are printed
 * only for categories switched on with log_enable() (the -debug=rpc,p2p option). Repeated lines
 * are rate-limited per call site (log_set_rate). Thread-safe.
 * Never pass keys, passwords or cookies to these functions.
 */
#ifndef SBX_UTIL_LOG_H
#define SBX_UTIL_LOG_H

#include "util/err.h"

enum log_category {
    LOG_NODE = 1 << 0,
    LOG_RPC = 1 << 1,
    LOG_P2P = 1 << 2,
    LOG_COMPLIANCE = 1 << 3,
    LOG_STORE = 1 << 4,
    LOG_BENCH = 1 << 5,
    LOG_ALL = 0x3f,
};

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* Open (append) `path` as the log file; NULL closes it. Keeps the previous file on failure. */
int log_open(const char *path) SBX_WARN_UNUSED;
/* Reopen the same path (after log rotation: SIGHUP). */
int log_reopen(void) SBX_WARN_UNUSED;
void log_close(void);
/* Write to stderr too (default on). */
void log_set_stderr(int on);
/* Switch debug output on for a comma-separated list ("rpc,p2p", "all", "1", "0" = none).
 * SBX_EINVAL names an unknown category in `err`. */
int log_enable(const char *list, struct sbx_err *err) SBX_WARN_UNUSED;
int log_enabled(enum log_category cat);

/* Every call site (format string) writes at most LOG_RATE_BURST lines per
 * LOG_RATE_INTERVAL_MS; the lines over that are counted, and one line then says how many were
 * suppressed. `burst` 0: no limit. For tests and tools; the defaults suit the daemon. */
#define LOG_RATE_BURST 20
#define LOG_RATE_INTERVAL_MS 10000
void log_set_rate(unsigned burst, int interval_ms);

/* Write one line (rate-limited per call site: see log_set_rate). `fmt` must be a literal (its
 * address names the call site). */
void log_write(enum log_category cat, enum log_level level, const char *fmt, ...) SBX_PRINTF(3, 4);

#define LOG_DEBUG(cat, ...)                                                                        \
    do {                                                                                           \
        if (log_enabled(cat))                                                                      \
            log_write((cat), LOG_LEVEL_DEBUG, __VA_ARGS__);                                        \
    } while (0)
#define LOG_INFO(cat, ...) log_write((cat), LOG_LEVEL_INFO, __VA_ARGS__)
#define LOG_WARN(cat, ...) log_write((cat), LOG_LEVEL_WARN, __VA_ARGS__)
#define LOG_ERROR(cat, ...) log_write((cat), LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
