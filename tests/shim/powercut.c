/* Power-loss simulation for the functional tests (tests/functional/test_powerloss.py): an
 * LD_PRELOAD shim for sbxd that records, beside each change the process makes under one
 * directory (the datadir), what it would take to undo that change, and kills the process at a
 * chosen moment. kill -9 alone leaves the page cache behind, so it cannot show a missing
 * sync; the journal this shim keeps lets a restore step throw away everything a power cut
 * would have lost before the node starts again on what remains.
 *
 * Environment (the shim does nothing unless the first three are set):
 *   POWERCUT_ROOT     absolute path of the directory whose changes are recorded
 *   POWERCUT_JOURNAL  the journal file (outside ROOT), appended to
 *   POWERCUT_SIDE     a directory on ROOT's filesystem (outside ROOT) where the shim keeps a
 *                     hard link to each file it sees removed or replaced, so that a restore
 *                     can bring back a removal that was not durable
 *   POWERCUT_AT       N > 0: SIGKILL the process just before the Nth event (a write, truncate,
 *                     sync, create, rename, unlink, mkdir or rmdir under ROOT); 0 or unset: never
 *
 * Journal, one line per record, each starting with the event's number (SEQ):
 *   SEQ T DEV:INO SIZE      first change of a file since its last sync: SIZE is what survives
 *   SEQ D DEV:INO OFF HEX   bytes at OFF, about to be overwritten, that were synced before
 *   SEQ S DEV:INO           fsync/fdatasync of a file: its changes up to here are durable
 *   SEQ Y PATH              fsync/fdatasync of a directory: its entries up to here are durable
 *   SEQ C DEV:INO PATH      open() created PATH
 *   SEQ R FROM TO SAVED     rename(FROM, TO); SAVED is the side link of the TO it replaced, or -
 *   SEQ U PATH SAVED        unlink(PATH); SAVED is the side link of the file
 *   SEQ M PATH / SEQ X PATH mkdir / rmdir
 *   SEQ W DEV:INO OFF LEN   a write or truncation of LEN bytes at OFF is about to run
 *   SEQ F ERRNO             the event's call failed (it changed nothing)
 *   SEQ K                   the cut: the process kills itself here
 * Every event has at least one record, so the last SEQ of a journal counts them.
 * Only bytes below the size a file had at its last sync are saved (D): bytes above it are cut
 * off by the restore anyway, so an append-only file (LevelDB's log and tables) costs a T line
 * per sync and a W line per write. The restore (test_powerloss.py) applies the model: what a sync
 * did not cover is undone, newest first.
 *
 * What it sees: calls that go through the dynamic linker (open, openat, creat, write, pwrite,
 * writev, pwritev, ftruncate, truncate, fsync, fdatasync, rename, renameat, unlink, unlinkat,
 * mkdir, rmdir, close), which is every call LevelDB and sbxd's own file code make. Writes that
 * glibc's stdio makes internally (fprintf to debug.log, the PEM files of util/tls.c) are not
 * seen, nor writes through a shared mapping (LevelDB maps its tables only to read them); a file
 * opened with open() and written with stdio still has its creation, truncation and syncs
 * recorded, which is what its undo needs. sync, syncfs and sync_file_range are not interposed:
 * nothing in sbxd calls them, and the model counts them as syncing nothing (stricter, never
 * laxer). Every recorded call runs under one mutex, so the journal's order is the order of the
 * calls; that serialises the process's file I/O, which a test can afford. Any thread of the
 * process may call any of these functions. The shim exports the C library's names, which is
 * the point of it; everything else is static.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FDS 65536
#define MAX_FILES 1024
#define LINE_MAX_BYTES 8192
#define CHUNK 2048

/* An open descriptor of something under ROOT; `used` is read without the mutex (a write to a
 * socket must not wait for a sync), set and cleared under it. */
struct pc_fd {
    int used;
    int isdir;
    dev_t dev;
    ino_t ino;
    char *path; /* a directory's, for its Y records */
};

/* A file changed since its last sync: `base` is its size at that sync (what survives a cut). */
struct pc_file {
    int used;
    dev_t dev;
    ino_t ino;
    off_t base;
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static struct {
    int on;
    int jfd;
    char root[PATH_MAX];
    size_t rootlen;
    char side[PATH_MAX];
    unsigned long long seq, cut_at, saved;
    struct pc_fd fds[MAX_FDS];
    struct pc_file files[MAX_FILES];
} g;

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static int (*real_ftruncate)(int, off_t);
static int (*real_truncate)(const char *, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_unlink)(const char *);
static int (*real_unlinkat)(int, const char *, int);
static int (*real_mkdir)(const char *, mode_t);
static int (*real_rmdir)(const char *);
static int (*real_close)(int);

#define RESOLVE(name) real_##name = dlsym(RTLD_NEXT, #name)

static void
init(void)
{
    const char *root = getenv("POWERCUT_ROOT"), *journal = getenv("POWERCUT_JOURNAL");
    const char *side = getenv("POWERCUT_SIDE"), *at = getenv("POWERCUT_AT");

    RESOLVE(open);
    RESOLVE(openat);
    RESOLVE(write);
    RESOLVE(pwrite);
    RESOLVE(writev);
    RESOLVE(pwritev);
    RESOLVE(ftruncate);
    RESOLVE(truncate);
    RESOLVE(fsync);
    RESOLVE(fdatasync);
    RESOLVE(rename);
    RESOLVE(renameat);
    RESOLVE(unlink);
    RESOLVE(unlinkat);
    RESOLVE(mkdir);
    RESOLVE(rmdir);
    RESOLVE(close);
    if (root == NULL || journal == NULL || side == NULL || root[0] != '/' ||
        strlen(root) >= sizeof(g.root) || strlen(side) >= sizeof(g.side))
        return;
    g.rootlen = (size_t)snprintf(g.root, sizeof(g.root), "%s", root);
    while (g.rootlen > 1 && g.root[g.rootlen - 1] == '/')
        g.root[--g.rootlen] = '\0';
    snprintf(g.side, sizeof(g.side), "%s", side);
    g.cut_at = at != NULL ? strtoull(at, NULL, 10) : 0;
    g.jfd = real_open(journal, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (g.jfd < 0) {
        fprintf(stderr, "powercut: cannot open %s: %s\n", journal, strerror(errno));
        abort();
    }
    g.on = 1;
}

static void
setup(void)
{
    pthread_once(&g_once, init);
}

/* Anything the shim cannot record makes the run worthless: stop loudly. */
static void
die(const char *what)
{
    fprintf(stderr, "powercut: %s: %s\n", what, strerror(errno));
    abort();
}

static void
jwrite(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = real_write(g.jfd, s, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("journal write");
        s += w;
        n -= (size_t)w;
    }
}

/* Count an event; at POWERCUT_AT, record the cut and kill the process before the call runs.
 * Returns the event's number. Under g_mu. */
static unsigned long long
event(void)
{
    char line[64];
    int n;

    g.seq++;
    if (g.cut_at != 0 && g.seq >= g.cut_at) {
        n = snprintf(line, sizeof(line), "%llu K\n", g.seq);
        jwrite(line, (size_t)n);
        kill(getpid(), SIGKILL);
        for (;;)
            pause();
    }
    return g.seq;
}

/* One journal record: "SEQ " then the formatted rest and a newline. Under g_mu. */
static void record(unsigned long long seq, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
record(unsigned long long seq, const char *fmt, ...)
{
    char line[LINE_MAX_BYTES];
    va_list ap;
    int n, m;

    n = snprintf(line, sizeof(line), "%llu ", seq);
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0 || (size_t)(n + m) >= sizeof(line) - 1) {
        errno = ENAMETOOLONG;
        die("journal record too long");
    }
    n += m;
    line[n++] = '\n';
    jwrite(line, (size_t)n);
}

/* The absolute form of `path` (relative to the working directory) if it is ROOT or under it. */
static int
under_root(const char *path, char *abs, size_t size)
{
    int n;

    if (!g.on || path == NULL)
        return 0;
    if (path[0] == '/') {
        n = snprintf(abs, size, "%s", path);
    } else {
        char cwd[PATH_MAX];

        if (getcwd(cwd, sizeof(cwd)) == NULL)
            return 0;
        n = snprintf(abs, size, "%s/%s", cwd, path);
    }
    if (n < 0 || (size_t)n >= size)
        return 0;
    return strncmp(abs, g.root, g.rootlen) == 0 &&
           (abs[g.rootlen] == '/' || abs[g.rootlen] == '\0');
}

/* Whether a descriptor may be one of ours: the fast test, without the mutex. */
static int
maybe_tracked(int fd)
{
    return g.on && fd >= 0 && fd < MAX_FDS && __atomic_load_n(&g.fds[fd].used, __ATOMIC_ACQUIRE);
}

static struct pc_fd *
tracked(int fd)
{
    struct stat st;
    struct pc_fd *t;

    if (!maybe_tracked(fd))
        return NULL;
    t = &g.fds[fd];
    /* a descriptor closed behind the shim's back (fclose) and reused is not ours any more */
    if (fstat(fd, &st) != 0 || st.st_dev != t->dev || st.st_ino != t->ino) {
        __atomic_store_n(&t->used, 0, __ATOMIC_RELEASE);
        return NULL;
    }
    return t;
}

static struct pc_file *
file_find(dev_t dev, ino_t ino)
{
    for (int i = 0; i < MAX_FILES; i++)
        if (g.files[i].used && g.files[i].dev == dev && g.files[i].ino == ino)
            return &g.files[i];
    return NULL;
}

/* The file's state, recording its size (T) at its first change since its last sync. */
static struct pc_file *
file_touch(unsigned long long seq, int fd, const struct pc_fd *t)
{
    struct pc_file *f = file_find(t->dev, t->ino);
    struct stat st;

    if (f != NULL)
        return f;
    for (int i = 0; i < MAX_FILES && f == NULL; i++)
        if (!g.files[i].used)
            f = &g.files[i];
    if (f == NULL) {
        errno = EMFILE;
        die("too many unsynced files");
    }
    if (fstat(fd, &st) != 0)
        die("fstat");
    f->used = 1;
    f->dev = t->dev;
    f->ino = t->ino;
    f->base = st.st_size;
    record(seq, "T %ju:%ju %jd", (uintmax_t)t->dev, (uintmax_t)t->ino, (intmax_t)st.st_size);
    return f;
}

/* Save the synced bytes in [off, off + len) of the file before they change (D records). */
static void
save_range(unsigned long long seq, int fd, const struct pc_fd *t, off_t off, off_t len)
{
    struct pc_file *f = file_touch(seq, fd, t);
    off_t start = off;
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[CHUNK];
    char text[2 * CHUNK + 1];
    off_t end = off + len < f->base ? off + len : f->base;

    while (off < end) {
        size_t want = (size_t)(end - off < CHUNK ? end - off : CHUNK);
        ssize_t r = pread(fd, buf, want, off);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            die("pread");
        if (r == 0)
            break;
        for (ssize_t i = 0; i < r; i++) {
            text[2 * i] = hex[buf[i] >> 4];
            text[2 * i + 1] = hex[buf[i] & 15];
        }
        text[2 * r] = '\0';
        record(seq, "D %ju:%ju %jd %s", (uintmax_t)t->dev, (uintmax_t)t->ino, (intmax_t)off, text);
        off += r;
    }
    record(seq, "W %ju:%ju %jd %jd", (uintmax_t)t->dev, (uintmax_t)t->ino, (intmax_t)start,
           (intmax_t)len);
}

/* Before a write of `len` bytes at the descriptor's offset (or `off` if >= 0). */
static void
before_write(int fd, const struct pc_fd *t, off_t off, size_t len)
{
    unsigned long long seq = event();

    if (off < 0) {
        int fl = fcntl(fd, F_GETFL);
        struct stat st;

        if (fl >= 0 && (fl & O_APPEND) && fstat(fd, &st) == 0)
            off = st.st_size;
        else
            off = lseek(fd, 0, SEEK_CUR);
    }
    save_range(seq, fd, t, off < 0 ? 0 : off, (off_t)len);
}

/* Remember an open descriptor of `abs` (under ROOT). Under g_mu. */
static struct pc_fd *
fd_track(int fd, const char *abs)
{
    struct pc_fd *t;
    struct stat st;

    if (fd >= MAX_FDS) {
        errno = EMFILE;
        die("descriptor number too high to track");
    }
    if (fstat(fd, &st) != 0)
        die("fstat");
    t = &g.fds[fd];
    t->isdir = S_ISDIR(st.st_mode);
    t->dev = st.st_dev;
    t->ino = st.st_ino;
    free(t->path);
    t->path = t->isdir ? strdup(abs) : NULL;
    if (t->isdir && t->path == NULL)
        die("strdup");
    __atomic_store_n(&t->used, 1, __ATOMIC_RELEASE);
    return t;
}

/* A hard link to `abs` in the side directory; its name, or "-" if there is no such file. */
static void
save_link(const char *abs, char *name, size_t size)
{
    char dst[PATH_MAX + 32];

    snprintf(name, size, "%ld.%llu", (long)getpid(), ++g.saved); /* unique across starts */
    snprintf(dst, sizeof(dst), "%s/%s", g.side, name);
    if (link(abs, dst) != 0) {
        if (errno != ENOENT && errno != EISDIR && errno != EPERM)
            die("link to the side directory");
        snprintf(name, size, "-");
    }
}

static int
do_open(int dirfd, const char *path, int flags, mode_t mode)
{
    char abs[PATH_MAX];
    struct stat st;
    int fd, existed, e;

    setup();
    if ((dirfd != AT_FDCWD && path[0] != '/') || !under_root(path, abs, sizeof(abs)))
        return real_openat(dirfd, path, flags, mode);
    pthread_mutex_lock(&g_mu);
    existed = stat(abs, &st) == 0;
    if ((flags & O_CREAT) && !existed) {
        unsigned long long seq = event();

        fd = real_openat(dirfd, path, flags, mode);
        if (fd >= 0) {
            struct pc_fd *t = fd_track(fd, abs);

            record(seq, "C %ju:%ju %s", (uintmax_t)t->dev, (uintmax_t)t->ino, abs);
            file_touch(seq, fd, t);
        } else {
            record(seq, "F %d", errno);
        }
    } else if ((flags & O_TRUNC) && existed && S_ISREG(st.st_mode) && (flags & O_ACCMODE)) {
        /* open it first without O_TRUNC to save what the truncation loses */
        fd = real_openat(dirfd, path, flags & ~O_TRUNC, mode);
        if (fd >= 0) {
            struct pc_fd *t = fd_track(fd, abs);

            save_range(event(), fd, t, 0, st.st_size);
            if (real_ftruncate(fd, 0) != 0)
                die("ftruncate for O_TRUNC");
        }
    } else {
        fd = real_openat(dirfd, path, flags, mode);
        if (fd >= 0)
            fd_track(fd, abs);
    }
    e = errno;
    pthread_mutex_unlock(&g_mu);
    errno = e;
    return fd;
}

static mode_t
mode_arg(int flags, va_list ap)
{
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int
open(const char *path, int flags, ...)
{
    va_list ap;
    mode_t mode;

    va_start(ap, flags);
    mode = mode_arg(flags, ap);
    va_end(ap);
    return do_open(AT_FDCWD, path, flags, mode);
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int
openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    mode_t mode;

    va_start(ap, flags);
    mode = mode_arg(flags, ap);
    va_end(ap);
    return do_open(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

int
creat(const char *path, mode_t mode)
{
    return do_open(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

int
__open_2(const char *path, int flags)
{
    return do_open(AT_FDCWD, path, flags, 0);
}

int
__open64_2(const char *path, int flags)
{
    return do_open(AT_FDCWD, path, flags, 0);
}

/* The write calls: record, then write, under the mutex so that the journal keeps their order. */
#define WRAP_WRITE(call, off, len)                                                                 \
    do {                                                                                           \
        struct pc_fd *t;                                                                           \
        ssize_t r;                                                                                 \
        int e;                                                                                     \
        setup();                                                                                   \
        if (!maybe_tracked(fd))                                                                    \
            return call;                                                                           \
        pthread_mutex_lock(&g_mu);                                                                 \
        t = tracked(fd);                                                                           \
        if (t != NULL && !t->isdir)                                                                \
            before_write(fd, t, (off), (len));                                                     \
        r = call;                                                                                  \
        e = errno;                                                                                 \
        pthread_mutex_unlock(&g_mu);                                                               \
        errno = e;                                                                                 \
        return r;                                                                                  \
    } while (0)

static size_t
iov_len(const struct iovec *iov, int n)
{
    size_t len = 0;

    for (int i = 0; i < n; i++)
        len += iov[i].iov_len;
    return len;
}

ssize_t
write(int fd, const void *buf, size_t n)
{
    WRAP_WRITE(real_write(fd, buf, n), -1, n);
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
    WRAP_WRITE(real_pwrite(fd, buf, n, off), off, n);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) __attribute__((alias("pwrite")));

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
    WRAP_WRITE(real_writev(fd, iov, cnt), -1, iov_len(iov, cnt));
}

ssize_t
pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    WRAP_WRITE(real_pwritev(fd, iov, cnt, off), off, iov_len(iov, cnt));
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
    __attribute__((alias("pwritev")));

int
ftruncate(int fd, off_t len)
{
    struct pc_fd *t;
    struct stat st;
    int r, e;

    setup();
    if (!maybe_tracked(fd))
        return real_ftruncate(fd, len);
    pthread_mutex_lock(&g_mu);
    t = tracked(fd);
    if (t != NULL && fstat(fd, &st) == 0)
        save_range(event(), fd, t, len, st.st_size > len ? st.st_size - len : 0);
    r = real_ftruncate(fd, len);
    e = errno;
    pthread_mutex_unlock(&g_mu);
    errno = e;
    return r;
}

int ftruncate64(int fd, off_t len) __attribute__((alias("ftruncate")));

int
truncate(const char *path, off_t len)
{
    int fd, r, e;

    setup();
    if (!g.on)
        return real_truncate(path, len);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    r = ftruncate(fd, len);
    e = errno;
    close(fd);
    errno = e;
    return r;
}

/* fsync and fdatasync: the file's changes (or a directory's entries) become durable once the
 * call returns 0. */
static int
do_sync(int fd, int (*call)(int))
{
    struct pc_fd *t;
    struct pc_file *f;
    unsigned long long seq;
    int r, e;

    setup();
    if (!maybe_tracked(fd))
        return call(fd);
    pthread_mutex_lock(&g_mu);
    t = tracked(fd);
    if (t == NULL) {
        r = call(fd);
        e = errno;
        goto out;
    }
    seq = event();
    r = call(fd);
    e = errno;
    if (r == 0 && t->isdir) {
        record(seq, "Y %s", t->path);
    } else if (r == 0) {
        record(seq, "S %ju:%ju", (uintmax_t)t->dev, (uintmax_t)t->ino);
        f = file_find(t->dev, t->ino);
        if (f != NULL)
            f->used = 0;
    } else {
        record(seq, "F %d", e);
    }
out:
    pthread_mutex_unlock(&g_mu);
    errno = e;
    return r;
}

int
fsync(int fd)
{
    return do_sync(fd, real_fsync);
}

int
fdatasync(int fd)
{
    return do_sync(fd, real_fdatasync);
}

int
close(int fd)
{
    setup();
    if (maybe_tracked(fd)) {
        pthread_mutex_lock(&g_mu);
        __atomic_store_n(&g.fds[fd].used, 0, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&g_mu);
    }
    return real_close(fd);
}

/* The calls that change a name. */
enum name_op { N_RENAME, N_UNLINK, N_RMDIR, N_MKDIR };

static int
name_call(enum name_op op, const char *path, const char *to, mode_t mode)
{
    switch (op) {
    case N_RENAME:
        return real_rename(path, to);
    case N_UNLINK:
        return real_unlink(path);
    case N_RMDIR:
        return real_rmdir(path);
    default:
        return real_mkdir(path, mode);
    }
}

/* A change of a name under ROOT, recorded after it ran (R, U, X, M; F if it failed) with the side
 * link of the file it removed or replaced. */
static int
name_change(enum name_op op, const char *path, const char *to, mode_t mode)
{
    char abs[PATH_MAX], ato[PATH_MAX], saved[64] = "-";
    int r, e;

    setup();
    if (!under_root(path, abs, sizeof(abs)) ||
        (op == N_RENAME && !under_root(to, ato, sizeof(ato))))
        return name_call(op, path, to, mode);
    pthread_mutex_lock(&g_mu);
    event();
    if (op == N_RENAME || op == N_UNLINK)
        save_link(op == N_RENAME ? ato : abs, saved, sizeof(saved));
    r = name_call(op, path, to, mode);
    e = errno;
    if (r != 0)
        record(g.seq, "F %d", e);
    else if (op == N_RENAME)
        record(g.seq, "R %s %s %s", abs, ato, saved);
    else if (op == N_UNLINK)
        record(g.seq, "U %s %s", abs, saved);
    else
        record(g.seq, "%c %s", op == N_RMDIR ? 'X' : 'M', abs);
    pthread_mutex_unlock(&g_mu);
    errno = e;
    return r;
}

int
rename(const char *from, const char *to)
{
    return name_change(N_RENAME, from, to, 0);
}

int
renameat(int fromfd, const char *from, int tofd, const char *to)
{
    if ((fromfd == AT_FDCWD || from[0] == '/') && (tofd == AT_FDCWD || to[0] == '/'))
        return rename(from, to);
    setup();
    return real_renameat(fromfd, from, tofd, to);
}

int
unlink(const char *path)
{
    return name_change(N_UNLINK, path, NULL, 0);
}

int
rmdir(const char *path)
{
    return name_change(N_RMDIR, path, NULL, 0);
}

int
unlinkat(int dirfd, const char *path, int flags)
{
    if (dirfd == AT_FDCWD || path[0] == '/')
        return (flags & AT_REMOVEDIR) ? rmdir(path) : unlink(path);
    setup();
    return real_unlinkat(dirfd, path, flags);
}

int
mkdir(const char *path, mode_t mode)
{
    return name_change(N_MKDIR, path, NULL, mode);
}
