/* The supervisor dashboard's files, served from the binary.
 *
 * rpc/dashboard/ holds the page as ordinary files (index.html, app.js, style.css, icon.svg);
 * rpc/dashboard/embed.sh turns them into byte arrays at build time (rpc/dashboard_files.inc in
 * the build directory), which this file includes, so the binary needs nothing on disk. Every
 * answer carries a Content-Security-Policy that lets the page load, connect to and run only
 * what comes from this node ('self'), and Cache-Control: no-store, because the page is behind
 * credentials and changes with the binary. Runs on the event loop (rpc/server.c calls it).
 */
#include "rpc/dashboard.h"

#include <stddef.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "rpc/dashboard_files.inc"

#define CSP                                                                                        \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "                    \
    "form-action 'none'; frame-ancestors 'none'"

struct dash_file {
    const char *path;
    const char *type;
    const unsigned char *data;
    size_t len;
};

static const struct dash_file files[] = {
    {"/dashboard", "text/html; charset=utf-8", dashboard_index_html, sizeof(dashboard_index_html)},
    {"/dashboard/", "text/html; charset=utf-8", dashboard_index_html, sizeof(dashboard_index_html)},
    {"/dashboard/app.js", "text/javascript; charset=utf-8", dashboard_app_js,
     sizeof(dashboard_app_js)},
    {"/dashboard/style.css", "text/css; charset=utf-8", dashboard_style_css,
     sizeof(dashboard_style_css)},
    {"/dashboard/icon.svg", "image/svg+xml", dashboard_icon_svg, sizeof(dashboard_icon_svg)},
};

static const struct dash_file *
find(const char *path)
{
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        if (strcmp(files[i].path, path) == 0)
            return &files[i];
    }
    return NULL;
}

int
rpc_dashboard_match(const char *path)
{
    return path != NULL && find(path) != NULL;
}

void
rpc_dashboard_serve(struct evhttp_request *req, const char *path)
{
    const struct dash_file *f = path != NULL ? find(path) : NULL;
    struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
    struct evbuffer *buf = evbuffer_new();

    evhttp_add_header(oh, "Cache-Control", "no-store");
    evhttp_add_header(oh, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(oh, "Referrer-Policy", "no-referrer");
    evhttp_add_header(oh, "Content-Security-Policy", CSP);
    if (f == NULL || buf == NULL || evbuffer_add(buf, f->data, f->len) != 0) {
        evhttp_add_header(oh, "Content-Type", "text/plain; charset=utf-8");
        if (buf != NULL)
            evbuffer_drain(buf, evbuffer_get_length(buf));
        evhttp_send_reply(req, f == NULL ? 404 : 500, f == NULL ? "Not Found" : "Server Error",
                          buf);
    } else {
        evhttp_add_header(oh, "Content-Type", f->type);
        evhttp_send_reply(req, 200, "OK", buf);
    }
    if (buf != NULL)
        evbuffer_free(buf);
}
