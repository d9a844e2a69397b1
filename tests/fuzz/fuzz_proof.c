/* libFuzzer target: `sbx-cli verifytxproof PROOF [GENESIS]` (rpc/cli_proof.c), which reads a
 * transaction proof anyone can hand over (a gettxproof result, or the whole JSON-RPC response)
 * and optionally the network's genesis block as hex, and checks them with the ledger's own code
 * (ledger_proof_check, ledger_proof_genesis). The input up to its first NUL byte is the proof
 * file; what follows a NUL, if one is there, is the genesis file. Both are written to scratch
 * files and given to rpc_cli_proof_main as sbx-cli gives them; it must answer valid (0) or
 * invalid (1), never crash, leak or read out of bounds. Its one line of output goes to
 * /dev/null. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/cli_proof.h"
#include "tests/fuzz/fuzz_common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    char proof[700], genesis[700];
    char *argv[3] = {proof, genesis, NULL};
    uint8_t *copy = fuzz_copy_input(data, size);
    const uint8_t *nul;
    int rc;

    if (copy == NULL)
        return 0;
    if (!quiet && freopen("/dev/null", "w", stdout) == NULL)
        abort();
    quiet = 1;
    nul = memchr(copy, '\0', size);
    fuzz_write_scratch(proof, sizeof(proof), "proof.json", copy,
                       nul != NULL ? (size_t)(nul - copy) : size);
    if (nul != NULL)
        fuzz_write_scratch(genesis, sizeof(genesis), "genesis.hex", nul + 1,
                           size - (size_t)(nul - copy) - 1);
    rc = rpc_cli_proof_main(nul != NULL ? 2 : 1, argv);
    if (rc != 0 && rc != 1)
        abort(); /* neither valid nor invalid */
    free(copy);
    return 0;
}
