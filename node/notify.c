/* -alertnotify: a shell command run for every compliance alert of a block written (on every
 * node: the operator and each follower write the same blocks) and every node alert, as Bitcoin
 * Core's -alertnotify. `%s` in the command is replaced by a one-line summary in single quotes.
 * An account id may hold any printable character, and an operator may put `%s` inside double
 * quotes, where single quotes mean nothing: so the summary keeps only letters, digits and
 * ` .,:=_/@+-`; anything else becomes `_`. The command gets no descriptor of the node but 0, 1
 * and 2 (a peer socket held open by a long command would keep that link from closing).
 *
 * The node never waits for a command. The threads that see alerts (the committer, whichever
 * thread raises a node alert) put a summary on a bounded queue and wake the event loop, which
 * starts /bin/sh with posix_spawn; a timer on the event loop reaps finished children with
 * waitpid(WNOHANG) and ends the rate window: at most `rate` commands start in one second, and
 * the summaries over that are dropped, counted and reported in one log line a second.
 *
 * Threads: node_notify_alerts and node_notify_node_alert on any thread (they take notify_mu, a
 * leaf lock); node_notify_start, the callbacks and node_notify_free on the event loop.
 */
#define _GNU_SOURCE /* posix_spawn_file_actions_addclosefrom_np (glibc 2.34) */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "node/node_int.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/time.h"

extern char **environ;

#define DEFAULT_RATE 10
#define QUEUE_MAX 1024   /* summaries waiting for the event loop */
#define CHILDREN_MAX 256 /* commands running at once; more are dropped */
#define SUMMARY_MAX 400  /* bytes of a summary before quoting */
#define COMMAND_MAX 8192 /* bytes of the command line with the summaries in it */
#define REAP_INTERVAL_MS 250

struct note {
    STAILQ_ENTRY(note) link;
    char text[SUMMARY_MAX + 1];
};

struct node_notify {
    char *cmd;                    /* immutable after node_notify_start */
    int rate;                     /* immutable after node_notify_start */
    pthread_mutex_t mu;           /* notify_mu */
    STAILQ_HEAD(, note) queue;    /* notify_mu */
    size_t nqueued;               /* notify_mu */
    uint64_t overflow;            /* notify_mu: dropped because the queue was full */
    struct event *wake;           /* immutable; event_active from any thread */
    struct event *timer;          /* immutable */
    pid_t children[CHILDREN_MAX]; /* event-loop thread only */
    size_t nchildren;             /* event-loop thread only */
    int64_t window_ms;            /* event-loop thread only: start of the rate window */
    int started;                  /* event-loop thread only: commands in this window */
    uint64_t dropped;             /* event-loop thread only: over the rate, since reported */
};

/* Queue one summary (any thread): control characters become spaces, the length is capped. */
/* What a summary keeps of `c`: letters, digits and ` .,:=_/@+-`; anything else (quotes, `$`,
 * backquotes, control characters...) becomes `_`, so no quoting of %s can let it reach the shell
 * as syntax. */
static char
summary_char(char c)
{
    static const char keep[] = " .,:=_/@+-";

    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return c;
    return c != '\0' && strchr(keep, c) != NULL ? c : '_';
}

static void
push(struct node *n, const char *text)
{
    struct node_notify *nt = n->notify;
    struct note *e;
    size_t i;

    if (nt == NULL)
        return;
    e = malloc(sizeof(*e));
    if (e == NULL)
        return;
    for (i = 0; text[i] != '\0' && i < SUMMARY_MAX; i++)
        e->text[i] = summary_char(text[i]);
    e->text[i] = '\0';
    pthread_mutex_lock(&nt->mu);
    if (nt->nqueued >= QUEUE_MAX) {
        nt->overflow++;
        free(e);
        e = NULL;
    } else {
        STAILQ_INSERT_TAIL(&nt->queue, e, link);
        nt->nqueued++;
    }
    pthread_mutex_unlock(&nt->mu);
    if (e != NULL)
        event_active(nt->wake, EV_READ, 0);
}

void
node_notify_alerts(struct node *n, uint64_t height, const struct cmp_alert *a, size_t na)
{
    char line[SUMMARY_MAX + 1], txid[65];

    for (size_t i = 0; n->notify != NULL && i < na; i++) {
        hex_encode(txid, a[i].txid, 32);
        snprintf(line, sizeof(line), "alert %s height=%llu account=%s amount_vnd=%lld txid=%s",
                 cmp_alert_name(a[i].kind), (unsigned long long)height, a[i].account,
                 (long long)a[i].amount_vnd, txid);
        push(n, line);
    }
}

void
node_notify_node_alert(struct node *n, const char *severity, const char *kind, uint64_t height,
                       const char *msg)
{
    char line[SUMMARY_MAX + 1];

    if (n->notify == NULL)
        return;
    snprintf(line, sizeof(line), "node_alert %s %s height=%llu: %s", severity, kind,
             (unsigned long long)height, msg);
    push(n, line);
}

/* The command with every %s replaced by `summary` in single quotes (' written as '\''), into
 * `out` of `cap` bytes. 0 if it does not fit. */
static int
expand(const char *cmd, const char *summary, char *out, size_t cap)
{
    size_t o = 0;

#define PUT(ch)                                                                                    \
    do {                                                                                           \
        if (o + 1 >= cap)                                                                          \
            return 0;                                                                              \
        out[o++] = (ch);                                                                           \
    } while (0)
    for (const char *p = cmd; *p != '\0'; p++) {
        if (p[0] != '%' || p[1] != 's') {
            PUT(*p);
            continue;
        }
        p++;
        PUT('\'');
        for (const char *q = summary; *q != '\0'; q++) {
            if (*q == '\'') {
                PUT('\'');
                PUT('\\');
                PUT('\'');
            }
            PUT(*q);
        }
        PUT('\'');
    }
#undef PUT
    out[o] = '\0';
    return 1;
}

/* Start /bin/sh with `argv`, with the signals the node ignores or blocks back to their defaults
 * (a shell pipeline expects SIGPIPE). The errno-style code of posix_spawn. */
static int
spawn_shell(pid_t *pid, char *const argv[])
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, defaults;
    int rc;

    rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0)
        return rc;
    rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (rc == 0)
        rc = posix_spawnattr_init(&attr);
    if (rc != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return rc;
    }
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGCHLD);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

/* Start the command for one summary (event loop). */
static void
run_one(struct node_notify *nt, const char *summary)
{
    char line[COMMAND_MAX];
    char *argv[] = {"sh", "-c", line, NULL};
    pid_t pid;
    int rc;

    if (!expand(nt->cmd, summary, line, sizeof(line))) {
        LOG_WARN(LOG_NODE, "alertnotify: the command with its summary is too long; not run");
        return;
    }
    if (nt->nchildren >= CHILDREN_MAX) {
        nt->dropped++;
        return;
    }
    rc = spawn_shell(&pid, argv);
    if (rc != 0) {
        LOG_WARN(LOG_NODE, "alertnotify: cannot start /bin/sh: %s", strerror(rc));
        return;
    }
    nt->children[nt->nchildren++] = pid;
    nt->started++;
}

/* Event loop: start the commands of the queued summaries, within the rate. */
static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct node_notify *nt = arg;
    STAILQ_HEAD(, note) q;
    struct note *e;
    int64_t now = time_now_ms();

    (void)fd;
    (void)what;
    STAILQ_INIT(&q);
    pthread_mutex_lock(&nt->mu);
    STAILQ_CONCAT(&q, &nt->queue);
    nt->nqueued = 0;
    nt->dropped += nt->overflow;
    nt->overflow = 0;
    pthread_mutex_unlock(&nt->mu);
    if (now - nt->window_ms >= 1000) {
        nt->window_ms = now;
        nt->started = 0;
    }
    while ((e = STAILQ_FIRST(&q)) != NULL) {
        STAILQ_REMOVE_HEAD(&q, link);
        if (nt->started < nt->rate)
            run_one(nt, e->text);
        else
            nt->dropped++;
        free(e);
    }
}

/* Event loop, every REAP_INTERVAL_MS: reap finished commands, report what was dropped. */
static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct node_notify *nt = arg;
    int64_t now = time_now_ms();

    (void)fd;
    (void)what;
    for (size_t i = 0; i < nt->nchildren;) {
        int status;
        pid_t r = waitpid(nt->children[i], &status, WNOHANG);

        if (r == 0 || (r < 0 && errno == EINTR)) {
            i++;
            continue;
        }
        if (r > 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0)
            LOG_WARN(LOG_NODE, "alertnotify: the command exited with %d", WEXITSTATUS(status));
        nt->children[i] = nt->children[--nt->nchildren];
    }
    if (now - nt->window_ms >= 1000) {
        if (nt->dropped > 0)
            LOG_WARN(LOG_NODE,
                     "alertnotify: %llu notifications not run (more than %d a second, or too "
                     "many running)",
                     (unsigned long long)nt->dropped, nt->rate);
        nt->dropped = 0;
        nt->window_ms = now;
        nt->started = 0;
    }
}

int
node_notify_start(struct node *n, const char *cmd, int rate)
{
    struct node_notify *nt;
    struct timeval tv = {0, REAP_INTERVAL_MS * 1000};

    if (cmd == NULL || cmd[0] == '\0')
        return SBX_OK;
    nt = calloc(1, sizeof(*nt));
    if (nt == NULL)
        return SBX_ENOMEM;
    nt->cmd = strdup(cmd);
    nt->rate = rate > 0 ? rate : DEFAULT_RATE;
    pthread_mutex_init(&nt->mu, NULL);
    STAILQ_INIT(&nt->queue);
    nt->wake = event_new(n->base, -1, 0, wake_cb, nt);
    nt->timer = event_new(n->base, -1, EV_PERSIST, timer_cb, nt);
    nt->window_ms = time_now_ms();
    if (nt->cmd == NULL || nt->wake == NULL || nt->timer == NULL ||
        evtimer_add(nt->timer, &tv) != 0) {
        n->notify = nt;
        node_notify_free(n);
        return SBX_ENOMEM;
    }
    n->notify = nt;
    return SBX_OK;
}

void
node_notify_free(struct node *n)
{
    struct node_notify *nt = n->notify;
    struct note *e;

    if (nt == NULL)
        return;
    n->notify = NULL;
    if (nt->wake != NULL)
        event_free(nt->wake);
    if (nt->timer != NULL)
        event_free(nt->timer);
    for (size_t i = 0; i < nt->nchildren; i++)
        waitpid(nt->children[i], NULL, WNOHANG); /* the rest are reparented when we exit */
    while ((e = STAILQ_FIRST(&nt->queue)) != NULL) {
        STAILQ_REMOVE_HEAD(&nt->queue, link);
        free(e);
    }
    pthread_mutex_destroy(&nt->mu);
    free(nt->cmd);
    free(nt);
}
