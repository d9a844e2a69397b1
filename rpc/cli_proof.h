/* `sbx-cli verifytxproof`: check a gettxproof result without a node (rpc/cli_proof.c). */
#ifndef SBX_RPC_CLI_PROOF_H
#define SBX_RPC_CLI_PROOF_H

/* What `sbx-cli -help` shows for it. */
extern const char rpc_cli_proof_usage[];

/* Run `verifytxproof` with its arguments (PROOF [GENESIS]); prints one line and returns the
 * exit status: 0 valid, 1 a check failed (the line names it), 2 usage. */
int rpc_cli_proof_main(int argc, char **argv);

/* The same for `verifyliabilityproof` (PROOF [GENESIS]): a getliabilityproof result. */
extern const char rpc_cli_liab_usage[];
int rpc_cli_liab_main(int argc, char **argv);

#endif
