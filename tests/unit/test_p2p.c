/* node/p2p unit tests: two p2p instances (and hand-made clients) in one event loop on loopback.
 *
 * Covers: the handshake and on_connect with the right key, role and direction; messages both
 * ways (empty, 1 MB, exactly at the frame limit, one byte over); keys refused on either side;
 * a wrong network id; forged, reflected and replayed AUTH proofs; malformed and oversized
 * frames; garbage instead of TLS; the handshake and write timeouts; the send-queue cap; the
 * front door (per-address caps, the oldest handshake dropped for a newer one, the deadline
 * against trickling, accept() at the file limit); connecting to oneself; reconnects after a close
 * and after the listener restarts; the certificate files; configuration errors.
 *
 * Close reasons are checked in the log (every close is logged with its reason), which the test
 * sends to a file. Set SBX_TEST_P2P_STDERR=1 to see it on stderr too.
 *
 * The tests are in test_p2p_link.c, test_p2p_limits.c and test_p2p_door.c, their fixture in
 * test_p2p_fx.c.
 */
#include "tests/unit/test_common.h"
#include "tests/unit/test_p2p.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "util/log.h"
#include "util/sha256.h"
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connect_and_messages, p2p_fx_setup, p2p_fx_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key, p2p_fx_setup, p2p_fx_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_network_id, p2p_fx_setup, p2p_fx_teardown),
#ifdef SBX_TEST_HOOKS
        cmocka_unit_test_setup_teardown(test_forged_signature, p2p_fx_setup, p2p_fx_teardown),
#endif
        cmocka_unit_test_setup_teardown(test_auth_digest_vector, p2p_fx_setup, p2p_fx_teardown),
        cmocka_unit_test_setup_teardown(test_auth_reflect_replay, p2p_fx_setup, p2p_fx_teardown),
        cmocka_unit_test_setup_teardown(test_close_from_callback, p2p_fx_setup, p2p_fx_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_frames, p2p_fx_setup, p2p_fx_teardown),
        cmocka_unit_test_setup_teardown(test_garbage_tcp, p2p_fx_setup, p2p_fx_teardown),
        cmocka_unit_test_setup_teardown(test_handshake_timeout, p2p_fx_setup, p2p_fx_teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_after_restart, p2p_fx_setup,
                                        p2p_fx_teardown),
        cmocka_unit_test_setup_teardown(test_send_queue_full, p2p_fx_setup, p2p_fx_teardown),
#ifdef SBX_TEST_HOOKS
        cmocka_unit_test_setup_teardown(test_write_timeout, p2p_fx_setup, p2p_fx_teardown),
#endif
        cmocka_unit_test_setup_teardown(test_connect_to_self, p2p_fx_setup, p2p_fx_teardown),
        cmocka_unit_test_setup_teardown(test_certdir, p2p_fx_setup, p2p_fx_teardown),
        cmocka_unit_test_setup_teardown(test_config_errors, p2p_fx_setup, p2p_fx_teardown),
        cmocka_unit_test_setup_teardown(test_door_addr_handshakes, p2p_fx_setup, p2p_fx_teardown),
        cmocka_unit_test_setup_teardown(test_door_addr_links, p2p_fx_setup, p2p_fx_teardown),
        cmocka_unit_test_setup_teardown(test_door_known_key_gets_in, p2p_fx_setup, p2p_fx_teardown),
        cmocka_unit_test_setup_teardown(test_door_all_authenticated, p2p_fx_setup, p2p_fx_teardown),
        cmocka_unit_test_setup_teardown(test_door_deadline, p2p_fx_setup, p2p_fx_teardown),
        cmocka_unit_test_setup_teardown(test_door_accept_error, p2p_fx_setup, p2p_fx_teardown),
        cmocka_unit_test_setup_teardown(test_door_quiet, p2p_fx_setup, p2p_fx_teardown),
        cmocka_unit_test_setup_teardown(test_door_groups, p2p_fx_setup, p2p_fx_teardown),
        cmocka_unit_test_setup_teardown(test_door_config, p2p_fx_setup, p2p_fx_teardown),
    };
    char *logdir;
    const char *show = getenv("SBX_TEST_P2P_STDERR");
    int rc;

    signal(SIGPIPE, SIG_IGN); /* as sbxd does: a peer gone mid-write is an error, not a signal */
    if (ledger_keys_global_init() != SBX_OK || sha256_global_init() != SBX_OK ||
        ledger_keys_generate(&key_a) != SBX_OK || ledger_keys_generate(&key_b) != SBX_OK ||
        ledger_keys_generate(&key_c) != SBX_OK)
        return 1;
    memset(net1, 0x11, sizeof(net1));
    memset(net2, 0x22, sizeof(net2));
    logdir = test_tmpdir();
    if (logdir == NULL)
        return 1;
    snprintf(log_path, sizeof(log_path), "%s/p2p.log", logdir);
    if (log_open(log_path) != SBX_OK)
        return 1;
    log_set_stderr(show != NULL && show[0] == '1');
    /* Lines the front door quiets go to the debug level: keep them in the file. */
    if (log_enable("p2p", NULL) != SBX_OK)
        return 1;
    log_set_rate(0, 0); /* the tests look for every line; none may be suppressed */
    cli_ssl = SSL_CTX_new(TLS_client_method());
    if (cli_ssl == NULL || SSL_CTX_set_min_proto_version(cli_ssl, TLS1_3_VERSION) != 1)
        return 1;
    SSL_CTX_set_verify(cli_ssl, SSL_VERIFY_NONE, NULL);

    rc = cmocka_run_group_tests(tests, NULL, NULL);

    SSL_CTX_free(cli_ssl);
    log_close();
    test_rmtree(logdir);
    free(logdir);
    ledger_keys_wipe(&key_a);
    ledger_keys_wipe(&key_b);
    ledger_keys_wipe(&key_c);
    return rc;
}
