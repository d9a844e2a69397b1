/* failio: an LD_PRELOAD shim that makes file writes fail, so that the functional tests can
 * watch sbxd meet a full disk or a failing one at a chosen moment (tests/functional/
 * test_diskfull.py). Never linked into anything; built as tests/shim/failio.so in the
 * test-hooks build.
 *
 * It counts the calls of write, pwrite, writev, pwritev, fsync and fdatasync on regular files
 * and directories (never on sockets, pipes or terminals: the RPC replies and the event loops'
 * wake-ups go on) whose path starts with SBX_FAILIO_PATH (every file when unset). The first
 * SBX_FAILIO_AFTER such calls (default 0) go through; the next SBX_FAILIO_COUNT (default: all
 * of them) fail with SBX_FAILIO_ERRNO ("ENOSPC", the default, or "EIO") and write nothing;
 * those after them go through again, as when space comes back. When SBX_FAILIO_LOG names a
 * file, the first failure appends a line to it (the call and the path), so that a test knows
 * the fault was reached, and the process's exit appends "calls N", the number counted.
 *
 * stdio's own writes (fwrite, fprintf) go through libc's internal calls and are not seen.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static long long after, count = -1; /* count < 0: every call after `after` fails */
static int fail_errno = ENOSPC;
static const char *prefix, *logpath;
static atomic_llong calls;
static atomic_int logged;

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);

static long long
env_num(const char *name, long long dflt)
{
    const char *v = getenv(name);
    char *end;
    long long x;

    if (v == NULL || *v == '\0')
        return dflt;
    errno = 0;
    x = strtoll(v, &end, 10);
    return errno == 0 && *end == '\0' && x >= 0 ? x : dflt;
}

static void
init(void)
{
    const char *e = getenv("SBX_FAILIO_ERRNO");

    real_write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    real_pwrite = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    real_pwrite64 = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
    real_writev = (ssize_t(*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
    real_pwritev = (ssize_t(*)(int, const struct iovec *, int, off_t))dlsym(RTLD_NEXT, "pwritev");
    real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    after = env_num("SBX_FAILIO_AFTER", 0);
    count = env_num("SBX_FAILIO_COUNT", -1);
    if (e != NULL && strcmp(e, "EIO") == 0)
        fail_errno = EIO;
    prefix = getenv("SBX_FAILIO_PATH");
    logpath = getenv("SBX_FAILIO_LOG");
}

/* The path of `fd` when it is a regular file or a directory, else 0. */
static int
file_path(int fd, char *path, size_t len)
{
    char link[64];
    struct stat st;
    ssize_t n;

    if (fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
        return 0;
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, path, len - 1);
    if (n < 0)
        return 0;
    path[n] = '\0';
    return 1;
}

/* Whether this call on `fd` fails (then errno is set). */
static int
fails(int fd, const char *call)
{
    char path[PATH_MAX];
    long long k;
    int saved = errno;

    pthread_once(&once, init);
    if (!file_path(fd, path, sizeof(path)) ||
        (prefix != NULL && strncmp(path, prefix, strlen(prefix)) != 0)) {
        errno = saved;
        return 0;
    }
    k = atomic_fetch_add(&calls, 1);
    if (k < after || (count >= 0 && k >= after + count)) {
        errno = saved;
        return 0;
    }
    if (logpath != NULL && atomic_exchange(&logged, 1) == 0) {
        int lfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

        if (lfd >= 0) {
            char line[PATH_MAX + 64];
            int m = snprintf(line, sizeof(line), "failed %s %s after %lld calls\n", call, path, k);

            if (m > 0)
                (void)!real_write(lfd, line, (size_t)m < sizeof(line) ? (size_t)m : sizeof(line));
            close(lfd); /* the log is outside SBX_FAILIO_PATH in the tests */
        }
    }
    errno = fail_errno;
    return 1;
}

/* At exit, the number of calls counted, to SBX_FAILIO_LOG: how a test learns how many calls a
 * start and a load make, to spread its values of SBX_FAILIO_AFTER over them. */
__attribute__((destructor)) static void
report(void)
{
    char line[64];
    int lfd, m;

    if (logpath == NULL || real_write == NULL)
        return;
    lfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (lfd < 0)
        return;
    m = snprintf(line, sizeof(line), "calls %lld\n", (long long)atomic_load(&calls));
    if (m > 0)
        (void)!real_write(lfd, line, (size_t)m);
    close(lfd);
}

ssize_t
write(int fd, const void *buf, size_t n)
{
    if (fails(fd, "write"))
        return -1;
    return real_write(fd, buf, n);
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (fails(fd, "pwrite"))
        return -1;
    return real_pwrite(fd, buf, n, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    if (fails(fd, "pwrite64"))
        return -1;
    return real_pwrite64(fd, buf, n, off);
}

ssize_t
writev(int fd, const struct iovec *iov, int iovcnt)
{
    if (fails(fd, "writev"))
        return -1;
    return real_writev(fd, iov, iovcnt);
}

ssize_t
pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    if (fails(fd, "pwritev"))
        return -1;
    return real_pwritev(fd, iov, iovcnt, off);
}

int
fsync(int fd)
{
    if (fails(fd, "fsync"))
        return -1;
    return real_fsync(fd);
}

int
fdatasync(int fd)
{
    if (fails(fd, "fdatasync"))
        return -1;
    return real_fdatasync(fd);
}
