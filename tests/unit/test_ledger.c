/* The ledger/ unit test binary: runs each group of ledger tests. */
#include "tests/unit/test_common.h"
#include "tests/unit/test_ledger.h"

int
main(void)
{
    int failed = 0;

    failed += test_ledger_tx_run();
    failed += test_ledger_txreject_run();
    failed += test_ledger_txauth_run();
    failed += test_ledger_keys_run();
    failed += test_ledger_state_run();
    failed += test_ledger_block_run();
    failed += test_ledger_store_run();
    failed += test_ledger_verify_run();
    failed += test_ledger_storekey_run();
    failed += test_ledger_time_run();
    failed += test_ledger_liabilities_run();
    return failed ? 1 : 0;
}
