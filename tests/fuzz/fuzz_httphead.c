/* libFuzzer target: the raw header of a request as the RPC front door reads it before evhttp
 * (rpc/http_head.c). The input is the bytes a client sends. rpc_http_head_end is asked from
 * several offsets and, as the door asks it, piece by piece while the bytes arrive (the pieces'
 * sizes come from the input): each answer is 0 or the index just after the first "\n\n" or
 * "\n\r\n" at or after the offset, and the door's answer is the one for the whole input. The
 * header (or the whole input when it has no end) is parsed in a copy without and with `strip`:
 * the path and the Authorization value lie in their lines and are what this file reads there
 * too; `body` is set exactly when a Content-Length other than "0" or a Transfer-Encoding is
 * there; without `strip` no byte changes; with it only the first letter of each such line
 * becomes 'X', and no line is such a line any more. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rpc/http_head.h"
#include "tests/fuzz/fuzz_common.h"

/* Whether a pattern of the header's end starts at p[i]. */
static int
end_at(const char *p, size_t n, size_t i)
{
    return p[i] == '\n' &&
           ((i + 1 < n && p[i + 1] == '\n') || (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n'));
}

/* Abort unless `r` is rpc_http_head_end's right answer for p[0..n) from `from`. */
static void
check_end(const char *p, size_t n, size_t from, size_t r)
{
    size_t s = n;

    if (r != 0) {
        if (r > n || r < 2 || p[r - 1] != '\n')
            abort();
        if (r < 3 && p[r - 2] != '\n')
            abort();
        s = p[r - 2] == '\n' ? r - 2 : r - 3; /* where its pattern starts */
        if (s < from || !end_at(p, n, s) || r != s + (p[s + 1] == '\n' ? 2 : 3))
            abort();
    }
    for (size_t i = from; i < s; i++)
        if (end_at(p, n, i))
            abort(); /* an earlier end was missed */
}

/* The door's way: search each piece as it arrives, from two bytes before the end of the last
 * search. The piece sizes are 1 to 16 bytes, from the input's bytes. */
static size_t
end_by_pieces(const char *p, size_t n)
{
    size_t take = 0, scanned = 0, end = 0, k = 0;

    while (take < n && end == 0) {
        take += 1 + ((unsigned char)p[k++ % n] & 15);
        if (take > n)
            take = n;
        end = rpc_http_head_end(p, take, scanned);
        scanned = take > 2 ? take - 2 : 0;
    }
    return end;
}

static int
name_is(const char *line, const char *colon, const char *name)
{
    size_t len = strlen(name);

    return (size_t)(colon - line) == len && strncasecmp(line, name, len) == 0;
}

/* Whether the line at `line` (its '\n' at `nl`) is a body header: Content-Length or
 * Transfer-Encoding, matched as the parser matches names. */
static int
body_line(const char *line, const char *nl)
{
    const char *colon = memchr(line, ':', (size_t)(nl - line));

    return colon != NULL && line[0] != ' ' && line[0] != '\t' &&
           (name_is(line, colon, "Content-Length") || name_is(line, colon, "Transfer-Encoding"));
}

/* The value of the header line at `line` (its '\n' at `nl`), trimmed as the parser trims it. */
static const char *
value_of(const char *line, const char *nl, size_t *len)
{
    const char *v = (const char *)memchr(line, ':', (size_t)(nl - line)) + 1, *ve = nl;

    while (v < ve && (*v == ' ' || *v == '\t'))
        v++;
    while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    *len = (size_t)(ve - v);
    return v;
}

/* Abort unless `h` is what the header in `orig` holds and `q` (the same header after
 * rpc_http_head_parse with `strip`) differs from it as it must. */
static void
check_head(const struct rpc_http_head *h, const char *orig, const char *q, size_t n, int strip)
{
    const char *end = orig + n, *line = orig, *nl = memchr(orig, '\n', n), *auth = NULL, *sp;
    size_t authlen = 0, vlen;
    int body = 0;

    if (nl == NULL) {
        if (h->path != NULL || h->auth != NULL || h->body || memcmp(orig, q, n) != 0)
            abort();
        return;
    }
    if (memcmp(orig, q, (size_t)(nl - orig) + 1) != 0)
        abort(); /* the request line changed */
    sp = memchr(orig, ' ', (size_t)(nl - orig));
    if (sp == NULL ? h->path != NULL : h->path != q + (sp + 1 - orig))
        abort();
    if (sp != NULL) { /* the path: up to the first ' ', '?', '\r' or '\n' (or NUL) */
        const char *pe = h->path + h->pathlen;

        if (pe > q + (nl - orig) || strchr(" ?\r\n", *pe) == NULL)
            abort();
        for (const char *c = h->path; c < pe; c++)
            if (strchr(" ?\r\n", *c) != NULL) /* NUL included */
                abort();
    }
    for (line = nl + 1; line < end && (nl = memchr(line, '\n', (size_t)(end - line))) != NULL;
         line = nl + 1) {
        const char *colon = memchr(line, ':', (size_t)(nl - line));
        const char *ql = q + (line - orig);
        int is_body = body_line(line, nl);

        if (is_body) {
            const char *v = value_of(line, nl, &vlen);

            body |= !(vlen == 1 && v[0] == '0');
        } else if (auth == NULL && colon != NULL && line[0] != ' ' && line[0] != '\t' &&
                   name_is(line, colon, "Authorization")) {
            auth = value_of(line, nl, &authlen);
        }
        if (strip && is_body) {
            if (ql[0] != 'X' || memcmp(ql + 1, line + 1, (size_t)(nl - line)) != 0)
                abort(); /* not renamed, or more than its first letter changed */
        } else if (memcmp(ql, line, (size_t)(nl - line) + 1) != 0) {
            abort(); /* a line changed that had to stay */
        }
        if (body_line(ql, q + (nl - orig)) && strip)
            abort(); /* still a body header */
    }
    if (line < end && memcmp(q + (line - orig), line, (size_t)(end - line)) != 0)
        abort(); /* the unfinished last line changed */
    if (h->body != body || (auth == NULL ? h->auth != NULL : h->auth != q + (auth - orig)) ||
        h->authlen != authlen || (h->auth != NULL && h->auth + h->authlen > q + n))
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = fuzz_copy_input(data, size), *parsed;
    const char *p = (const char *)copy;
    size_t froms[] = {0, 1, 2, size / 3, size / 2, size > 3 ? size - 3 : 0, size, size + 1};
    size_t r, len;
    struct rpc_http_head h0, h1;

    if (copy == NULL)
        return 0;
    for (size_t i = 0; i < sizeof(froms) / sizeof(froms[0]); i++)
        check_end(p, size, froms[i], rpc_http_head_end(p, size, froms[i]));
    r = rpc_http_head_end(p, size, 0);
    if (size > 0 && end_by_pieces(p, size) != r)
        abort(); /* the door, searching piece by piece, would see another end */
    len = r != 0 ? r : size;
    parsed = malloc(len ? len : 1);
    if (parsed == NULL) {
        free(copy);
        return 0;
    }
    if (len > 0)
        memcpy(parsed, copy, len);
    rpc_http_head_parse(&h0, (char *)parsed, len, 0);
    check_head(&h0, p, (const char *)parsed, len, 0);
    rpc_http_head_parse(&h1, (char *)parsed, len, 1);
    check_head(&h1, p, (const char *)parsed, len, 1);
    if (h0.path != h1.path || h0.pathlen != h1.pathlen || h0.auth != h1.auth ||
        h0.authlen != h1.authlen || h0.body != h1.body)
        abort(); /* renaming the body headers changed what the door reads */
    free(parsed);
    free(copy);
    return 0;
}
