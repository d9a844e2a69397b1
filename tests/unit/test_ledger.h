/* Groups of the ledger/ unit tests; each returns the number of failed tests. */
#ifndef SBX_TEST_LEDGER_H
#define SBX_TEST_LEDGER_H

int test_ledger_tx_run(void);       /* test_ledger_tx.c: tx/block encoding, merkle, signatures */
int test_ledger_state_run(void);    /* test_ledger_state.c: amounts, accounts, balances, changes */
int test_ledger_store_run(void);    /* test_ledger_store.c: LevelDB store, atomic commit, verify */
int test_ledger_storekey_run(void); /* test_ledger_storekey.c: every store key, byte for byte */

#endif
