/* rpc/ unit tests of rpc/http_head.c, the raw header the front door reads: where it ends (at the
 * last byte, one byte short, its "\r\n\r\n" split across the offset the door searches from) and
 * what is read from it (path, Authorization value, body headers and their renaming).
 * tests/fuzz/fuzz_httphead.c feeds them everything else. */
#include "tests/unit/test_common.h"
#include "tests/unit/test_rpc.h"

#include <string.h>

#include "rpc/http_head.h"

void
test_http_head_end(void **state)
{
    const char *crlf = "GET / HTTP/1.1\r\n\r\n", *lf = "GET / HTTP/1.1\n\n";
    const char *two = "GET / HTTP/1.1\nA: b\n\nGET / HTTP/1.1\n\n";
    size_t n = strlen(crlf);

    (void)state;
    /* the header ends at the last byte; one byte short, it does not end yet */
    assert_int_equal(rpc_http_head_end(crlf, n, 0), n);
    assert_int_equal(rpc_http_head_end(crlf, n - 1, 0), 0);
    assert_int_equal(rpc_http_head_end(lf, strlen(lf), 0), strlen(lf));
    assert_int_equal(rpc_http_head_end(lf, strlen(lf) - 1, 0), 0);
    /* "\r\n\r\n" split across `from`: the door searched n - 1 bytes and searches again from two
     * bytes before their end, the first '\n'; one byte later it would miss the end */
    assert_int_equal(rpc_http_head_end(crlf, n, n - 3), n);
    assert_int_equal(rpc_http_head_end(crlf, n, n - 2), 0);
    assert_int_equal(rpc_http_head_end(lf, strlen(lf), strlen(lf) - 2), strlen(lf));
    assert_int_equal(rpc_http_head_end(lf, strlen(lf), strlen(lf) - 1), 0);
    /* the first end, not a later one; from the end or past it, none */
    assert_int_equal(rpc_http_head_end(two, strlen(two), 0), 21);
    assert_int_equal(rpc_http_head_end(two, strlen(two), 21), strlen(two));
    assert_int_equal(rpc_http_head_end(crlf, n, n), 0);
    assert_int_equal(rpc_http_head_end(crlf, n, n + 1), 0);
    assert_int_equal(rpc_http_head_end("", 0, 0), 0);
    /* "\r\n" alone is not an empty line, nor is "\r\r" */
    assert_int_equal(rpc_http_head_end("GET / HTTP/1.1\r\n\r\r\n", 19, 0), 0);
}

void
test_http_head_parse(void **state)
{
    char req[] = "POST /health?x=1 HTTP/1.1\r\n"
                 "authorization:  \tBasic dTpw \t\r\n"
                 "Authorization: Basic second\r\n"
                 "Content-Length: 5\r\n"
                 "content-length:0\r\n"
                 " Content-Length: 7\r\n"
                 "Content-Length : 8\r\n"
                 "X-Content-Length: 9\r\n"
                 "TRANSFER-ENCODING: chunked\n"
                 "\r\n";
    const char *want = "POST /health?x=1 HTTP/1.1\r\n"
                       "authorization:  \tBasic dTpw \t\r\n"
                       "Authorization: Basic second\r\n"
                       "Xontent-Length: 5\r\n"
                       "Xontent-length:0\r\n"
                       " Content-Length: 7\r\n"
                       "Content-Length : 8\r\n"
                       "X-Content-Length: 9\r\n"
                       "XRANSFER-ENCODING: chunked\n"
                       "\r\n";
    char zero[] = "POST / HTTP/1.1\r\nContent-Length:  0 \r\n\r\n";
    char two[] = "GET / HTTP/1.1\r\nContent-Length: 00\r\n\r\n";
    char none[] = "GARBAGE\r\nFolded: a\r\n Content-Length: 3\r\n\r\n";
    struct rpc_http_head h;

    (void)state;
    rpc_http_head_parse(&h, req, strlen(req), 0);
    assert_int_equal(h.pathlen, 7);
    assert_memory_equal(h.path, "/health", 7);
    assert_int_equal(h.authlen, 10); /* the first one, trimmed */
    assert_memory_equal(h.auth, "Basic dTpw", 10);
    assert_int_equal(h.body, 1);
    rpc_http_head_parse(&h, req, strlen(req), 1);
    assert_string_equal(req, want); /* only the first letter of each body header */
    assert_memory_equal(h.auth, "Basic dTpw", 10);
    assert_int_equal(h.body, 1);
    /* renamed, they are body headers no more */
    rpc_http_head_parse(&h, req, strlen(req), 0);
    assert_int_equal(h.body, 0);
    /* "0" (trimmed) is no body; "00" is one */
    rpc_http_head_parse(&h, zero, strlen(zero), 1);
    assert_int_equal(h.body, 0);
    assert_memory_equal(zero + 17, "Xontent", 7);
    rpc_http_head_parse(&h, two, strlen(two), 0);
    assert_int_equal(h.body, 1);
    /* no space in the request line: no path; a folded line is no header */
    rpc_http_head_parse(&h, none, strlen(none), 1);
    assert_null(h.path);
    assert_null(h.auth);
    assert_int_equal(h.body, 0);
    assert_string_equal(none, "GARBAGE\r\nFolded: a\r\n Content-Length: 3\r\n\r\n");
}
