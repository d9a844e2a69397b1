/* Where a node keeps its data when no -datadir says: one answer for sbxd and its clients; and
 * how a new entry of the datadir is made to survive a power cut. */
#ifndef SBX_UTIL_DATADIR_H
#define SBX_UTIL_DATADIR_H

#include <stddef.h>

#include "util/err.h"

/* The default datadir, ~/.sbx or (devnet) ~/.sbx/devnet, into `out` (`size` bytes); the home
 * directory is $HOME, else the user's from the password database. SBX_EINVAL if there is none
 * or the path does not fit. */
int datadir_default(char *out, size_t size, int devnet, struct sbx_err *err) SBX_WARN_UNUSED;

/* fsync the directory that holds `path` (the part before its last '/', or "." if it has none),
 * so that the entries made in it (a new file or directory, a rename) survive a power cut: a
 * file's own fsync does not cover its name (POSIX). SBX_EIO, logged, if it fails. */
int datadir_sync_parent(const char *path, struct sbx_err *err) SBX_WARN_UNUSED;

#endif
