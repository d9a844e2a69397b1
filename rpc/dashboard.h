/* The supervisor dashboard: one page (HTML, CSS, JavaScript, an icon) embedded in the binary at
 * build time and served under /dashboard on the RPC port, behind the RPC credentials. The page
 * reads the node through GET /events and JSON-RPC POST / with the credentials the browser
 * already holds; nothing is fetched from elsewhere (its Content-Security-Policy allows only
 * 'self'). Runs on the event loop, like rpc/server.c, which calls it.
 */
#ifndef SBX_RPC_DASHBOARD_H
#define SBX_RPC_DASHBOARD_H

struct evhttp_request;

/* Whether the dashboard serves `path` (the path of a request URI, without its query): 1 or 0. */
int rpc_dashboard_match(const char *path);
/* Answer a GET of `path` (one rpc_dashboard_match accepts, else 404) for a client whose
 * credentials the caller has checked: 200 with the file and its headers. */
void rpc_dashboard_serve(struct evhttp_request *req, const char *path);

#endif
