/* rpc/ unit tests: the tests in files of their own (test_rpc_help.c, test_rpc_request.c,
 * test_rpc_answer.c, test_rpc_gate.c, test_rpc_head.c), run by test_rpc.c's main. */
#ifndef SBX_TEST_RPC_H
#define SBX_TEST_RPC_H

/* test_rpc_help.c: the help method against the method table; rpc/client.c's configuration. */
void test_help(void **state);
void test_client_conf(void **state);
/* test_rpc_request.c: the JSON-RPC body and envelope (rpc/request.c). */
void test_request_parse(void **state);
void test_request_parse_like_jansson(void **state);
void test_request_check(void **state);

/* test_rpc_answer.c: the node's answers to submissions as outcomes (rpc_methods_submit_done). */
void test_submit_done(void **state);

/* test_rpc_head.c: the raw header the front door reads (rpc/http_head.h). */
void test_http_head_end(void **state);
void test_http_head_parse(void **state);

/* test_rpc_gate.c: the front door's book of client addresses (rpc/gate.h). */
void test_gate_caps(void **state);
void test_gate_failed_logins(void **state);

#endif
