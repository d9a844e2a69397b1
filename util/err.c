/* Return codes and error messages; see err.h. */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
sbx_err_set(struct sbx_err *err, int code, const char *fmt, ...)
{
    char msg[SBX_ERR_MSG_MAX];
    va_list ap;

    if (err == NULL)
        return code;
    /* Format aside first: callers wrap an earlier message (`"block 7: %s", err->msg`), and
     * vsnprintf into a buffer that is also one of its arguments is undefined. */
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    err->code = code;
    memcpy(err->msg, msg, sizeof(msg));
    return code;
}

void
sbx_err_clear(struct sbx_err *err)
{
    if (err == NULL)
        return;
    err->code = SBX_OK;
    err->msg[0] = '\0';
}

const char *
sbx_rc_name(int code)
{
    switch (code) {
    case SBX_OK:
        return "OK";
    case SBX_EINVAL:
        return "EINVAL";
    case SBX_ENOTFOUND:
        return "ENOTFOUND";
    case SBX_ECONFLICT:
        return "ECONFLICT";
    case SBX_EDENIED:
        return "EDENIED";
    case SBX_EUNAVAIL:
        return "EUNAVAIL";
    case SBX_EIO:
        return "EIO";
    case SBX_ENOMEM:
        return "ENOMEM";
    case SBX_EBADSIG:
        return "EBADSIG";
    case SBX_EREJECTED:
        return "EREJECTED";
    case SBX_EOVERLOAD:
        return "EOVERLOAD";
    case SBX_EINTERNAL:
        return "EINTERNAL";
    case SBX_ETRUNCATED:
        return "ETRUNCATED";
    case SBX_ETRAILING:
        return "ETRAILING";
    case SBX_ETOOLONG:
        return "ETOOLONG";
    case SBX_EVERSION:
        return "EVERSION";
    case SBX_ETYPE:
        return "ETYPE";
    case SBX_EPUBKEY:
        return "EPUBKEY";
    case SBX_EOVERFLOW:
        return "EOVERFLOW";
    case SBX_ENONCANON:
        return "ENONCANON";
    case SBX_ECORRUPT:
        return "ECORRUPT";
    }
    return "EUNKNOWN";
}

void
sbx_bug(const char *file, int line, const char *what)
{
    fprintf(stderr, "sbx: internal error at %s:%d: %s\n", file, line, what);
    fflush(stderr);
    abort();
}
