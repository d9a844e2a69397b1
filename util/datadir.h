/* Where a node keeps its data when no -datadir says: one answer for sbxd and its clients. */
#ifndef SBX_UTIL_DATADIR_H
#define SBX_UTIL_DATADIR_H

#include <stddef.h>

#include "util/err.h"

/* The default datadir, ~/.sbx or (devnet) ~/.sbx/devnet, into `out` (`size` bytes); the home
 * directory is $HOME, else the user's from the password database. SBX_EINVAL if there is none
 * or the path does not fit. */
int datadir_default(char *out, size_t size, int devnet, struct sbx_err *err) SBX_WARN_UNUSED;

#endif
