/* The default datadir (util/datadir.h): shared by sbxd's configuration and the client programs
 * (rpc/client.c), so that both look in the same place.
 */
#include "util/datadir.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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
