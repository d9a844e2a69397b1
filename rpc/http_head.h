/* The raw header of an HTTP request as the RPC front door (rpc/server_door.c) reads it before
 * evhttp does: where it ends in the bytes received so far, its path, its Authorization value,
 * whether it announces a body, and the renaming of its body headers so that evhttp reads no
 * body. Pure functions over a buffer (no I/O, no state, any thread), shared with the fuzz target
 * tests/fuzz/fuzz_httphead.c. */
#ifndef SBX_RPC_HTTP_HEAD_H
#define SBX_RPC_HTTP_HEAD_H

#include <stddef.h>

/* The header of one request; the pointers point into the parsed buffer. */
struct rpc_http_head {
    const char *path; /* the request line's target, up to '?', ' ', '\r' or '\n'; NULL if none */
    size_t pathlen;
    const char *auth; /* the first Authorization value, trimmed; NULL if none */
    size_t authlen;
    int body; /* it has a Content-Length other than "0", or a Transfer-Encoding */
};

/* Where the header in p[0..n) ends: the index just after the first "\n\n" or "\n\r\n" whose
 * first '\n' is at or after `from`; 0 if there is none yet. A caller that receives the header
 * in pieces can search again from two bytes before the end of what it searched. */
size_t rpc_http_head_end(const char *p, size_t n, size_t from);

/* Parse the header p[0..n) (up to rpc_http_head_end's answer) into `h` (cleared first). Lines
 * end with '\n'; the first is the request line; a header line is a name, ':' and a value, and a
 * line starting with a space or tab (folded) is not one. Names are matched whole and without
 * case, as evhttp matches them. With `strip`, the first letter of every Content-Length and
 * Transfer-Encoding header line becomes 'X' (nothing else in p changes), so that evhttp reads
 * no body. */
void rpc_http_head_parse(struct rpc_http_head *h, char *p, size_t n, int strip);

#endif
