/* The assets and licence of the genesis that the compliance tests and benchmark build: see
 * test_helpers.h. */
#include "tests/unit/test_helpers.h"

#include <stdio.h>
#include <string.h>

#include "ledger/tx.h"

void
test_genesis_assets(struct ledger_genesis *gen, char *licence)
{
    gen->nassets = 3;
    snprintf(gen->assets[0].symbol, sizeof(gen->assets[0].symbol), "%s", "VND");
    gen->assets[0].decimals = 0;
    snprintf(gen->assets[1].symbol, sizeof(gen->assets[1].symbol), "%s", "BTC");
    gen->assets[1].decimals = 8;
    snprintf(gen->assets[2].symbol, sizeof(gen->assets[2].symbol), "%s", "ETH");
    gen->assets[2].decimals = 8;
    gen->licence_json = licence;
    gen->licence_len = (uint32_t)strlen(licence);
}
