/* sbx project-wide return codes and error details.
 *
 * Every function that can fail for the caller's reasons returns an int: SBX_OK (0) or one of
 * the negative codes below, and fills an optional `struct sbx_err *` with a human message that
 * names the offending field. The codes are stable: rpc/ maps them to JSON-RPC codes through one
 * table, tests assert on them, and they never change meaning once released.
 */
#ifndef SBX_UTIL_ERR_H
#define SBX_UTIL_ERR_H

#include <stddef.h>

#if defined(__GNUC__)
#define SBX_WARN_UNUSED __attribute__((warn_unused_result))
#define SBX_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define SBX_NORETURN __attribute__((noreturn))
#else
#define SBX_WARN_UNUSED
#define SBX_PRINTF(a, b)
#define SBX_NORETURN
#endif

enum sbx_rc {
    SBX_OK = 0,
    /* generic kinds of failure */
    SBX_EINVAL = -1,     /* invalid input (a field out of range, bad format) */
    SBX_ENOTFOUND = -2,  /* no such object */
    SBX_ECONFLICT = -3,  /* same id, different content */
    SBX_EDENIED = -4,    /* not allowed for this caller or key */
    SBX_EUNAVAIL = -5,   /* not now: licence inactive, syncing, shutting down */
    SBX_EIO = -6,        /* disk or network I/O failed */
    SBX_ENOMEM = -7,     /* allocation failed */
    SBX_EBADSIG = -8,    /* a signature does not verify */
    SBX_EREJECTED = -9,  /* a compliance rule rejects the transaction */
    SBX_EOVERLOAD = -10, /* a queue is full; retry later */
    SBX_EINTERNAL = -11, /* an internal failure; details in the log */
    /* decoding: each kind of malformed input has its own code */
    SBX_ETRUNCATED = -20, /* input ends before the structure does */
    SBX_ETRAILING = -21,  /* bytes left over after the structure */
    SBX_ETOOLONG = -22,   /* a length over its named maximum */
    SBX_EVERSION = -23,   /* unknown version */
    SBX_ETYPE = -24,      /* unknown type or enumeration value */
    SBX_EPUBKEY = -25,    /* not a valid x-only public key */
    SBX_EOVERFLOW = -26,  /* an amount or a product of amounts overflows */
    SBX_ENONCANON = -27,  /* a valid but non-canonical encoding (e.g. unused field set) */
    SBX_ECORRUPT = -28,   /* stored data fails its own checks */
};

#define SBX_ERR_MSG_MAX 256

/* A filled-in error: the code and a message that names the field. */
struct sbx_err {
    int code;
    char msg[SBX_ERR_MSG_MAX];
};

/* Set `err` (which may be NULL) to `code` with a printf-style message; returns `code` so that
 * callers can write `return sbx_err_set(err, SBX_EINVAL, "amount: ...")`. The arguments may
 * include err->msg itself, to wrap an earlier message. */
int sbx_err_set(struct sbx_err *err, int code, const char *fmt, ...) SBX_PRINTF(3, 4);

/* Clear `err` (may be NULL) to SBX_OK with an empty message. */
void sbx_err_clear(struct sbx_err *err);

/* A stable short name for a return code ("EINVAL", "ETRUNCATED", ...). Never NULL. */
const char *sbx_rc_name(int code);

/* Report an impossible internal state and abort. Only for states no input can cause. */
SBX_NORETURN void sbx_bug(const char *file, int line, const char *what);
#define SBX_BUG(what) sbx_bug(__FILE__, __LINE__, (what))

#define SBX_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
