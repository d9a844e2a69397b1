/* Groups of the ledger/ unit tests; each returns the number of failed tests. */
#ifndef SBX_TEST_LEDGER_H
#define SBX_TEST_LEDGER_H

int test_ledger_tx_run(void);       /* test_ledger_tx.c: tx encoding round trips, names */
int test_ledger_txreject_run(void); /* test_ledger_txreject.c: each refusal of tx.c */
int test_ledger_txauth_run(void);   /* test_ledger_txauth.c: block-authenticated transactions */
int test_ledger_keys_run(void);     /* test_ledger_keys.c: signatures, cosignatures, key files */
int test_ledger_state_run(void);    /* test_ledger_state.c: amounts, accounts, balances, changes */
int test_ledger_block_run(void);    /* test_ledger_block.c: blocks, merkle, change sets */
int test_ledger_store_run(void);    /* test_ledger_store.c: LevelDB store, atomic commit, scans */
int test_ledger_verify_run(void);   /* test_ledger_verify.c: crashes, chain verification */
int test_ledger_storekey_run(void); /* test_ledger_storekey.c: every store key, byte for byte */
int test_ledger_time_run(void);     /* test_ledger_time.c: times refused from the year 2200 */
int test_ledger_liabilities_run(void); /* test_ledger_liabilities.c: the sum tree, its proofs */

#endif
