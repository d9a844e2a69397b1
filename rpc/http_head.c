/* The raw header of an HTTP request, as the RPC front door reads it (see rpc/http_head.h). No
 * I/O, no state, any thread. */
#include "rpc/http_head.h"

#include <string.h>
#include <strings.h>

size_t
rpc_http_head_end(const char *p, size_t n, size_t from)
{
    for (size_t i = from; i < n; i++) {
        if (p[i] != '\n')
            continue;
        if (i + 1 < n && p[i + 1] == '\n')
            return i + 2;
        if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

static int
name_is(const char *line, size_t namelen, const char *name)
{
    return namelen == strlen(name) && strncasecmp(line, name, namelen) == 0;
}

void
rpc_http_head_parse(struct rpc_http_head *h, char *p, size_t n, int strip)
{
    char *line = p, *end = p + n, *nl;

    memset(h, 0, sizeof(*h));
    nl = memchr(line, '\n', (size_t)(end - line));
    if (nl != NULL) {
        char *sp = memchr(line, ' ', (size_t)(nl - line));

        if (sp != NULL) {
            h->path = sp + 1;
            h->pathlen = strcspn(h->path, " ?\r\n");
        }
        line = nl + 1;
    }
    while (line < end && (nl = memchr(line, '\n', (size_t)(end - line))) != NULL) {
        char *colon = memchr(line, ':', (size_t)(nl - line));
        size_t namelen = colon != NULL ? (size_t)(colon - line) : 0;

        if (colon != NULL && line[0] != ' ' && line[0] != '\t') {
            const char *v = colon + 1, *ve = nl;

            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if (name_is(line, namelen, "Authorization") && h->auth == NULL) {
                h->auth = v;
                h->authlen = (size_t)(ve - v);
            } else if (name_is(line, namelen, "Content-Length") ||
                       name_is(line, namelen, "Transfer-Encoding")) {
                h->body |= !(ve - v == 1 && *v == '0');
                if (strip)
                    line[0] = 'X';
            }
        }
        line = nl + 1;
    }
}
