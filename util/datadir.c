/* The default datadir (util/datadir.h): shared by sbxd's configuration and the client programs
 * (rpc/client.c), so that both look in the same place. And datadir_sync_parent, which the code
 * that makes the datadir's durable entries (the key files, the TLS pairs, the ledger store) calls
 * after making one (tests/functional/test_powerloss.py shows what is lost without it).
 */
#include "util/datadir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

int
datadir_default(char *out, size_t size, int devnet, struct sbx_err *err)
{
    const char *home = getenv("HOME");
    struct passwd *pw;
    int n;

    if (home == NULL || home[0] == '\0') {
        pw = getpwuid(getuid());
        home = pw != NULL ? pw->pw_dir : NULL;
    }
    if (home == NULL || home[0] == '\0')
        return sbx_err_set(err, SBX_EINVAL, "-datadir: no home directory; give -datadir=DIR");
    n = snprintf(out, size, "%s/.sbx%s", home, devnet ? "/devnet" : "");
    if (n < 0 || (size_t)n >= size)
        return sbx_err_set(err, SBX_EINVAL, "-datadir: home directory path too long");
    return SBX_OK;
}

int
datadir_sync_parent(const char *path, struct sbx_err *err)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t len = slash == NULL ? 0 : (size_t)(slash - path);
    int fd, rc = SBX_OK;

    if (len >= sizeof(dir))
        return sbx_err_set(err, SBX_ETOOLONG, "%s: path too long", path);
    if (slash == NULL)
        memcpy(dir, ".", 2);
    else if (len == 0)
        memcpy(dir, "/", 2);
    else {
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        LOG_ERROR(LOG_STORE, "cannot sync the directory %s: %s", dir, strerror(errno));
        rc = sbx_err_set(err, SBX_EIO, "cannot sync the directory %s", dir);
    }
    if (fd >= 0)
        close(fd);
    return rc;
}
