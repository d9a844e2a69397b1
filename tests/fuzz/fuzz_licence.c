/* libFuzzer target: the licence file reader of `sbxd -init` (compliance/licence_file.c). Any
 * input must be accepted or refused with a code and a message, never crash or read out of
 * bounds; what is accepted gives a licence document that the genesis reader of every node
 * (cmp_params_from_json, canonical) accepts too, with the file's window. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compliance/licence_file.h"
#include "compliance/params.h"
#include "tests/fuzz/fuzz_common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cmp_licence_file lf;
    struct cmp_params p;
    struct sbx_err err;
    uint8_t *copy = fuzz_copy_input(data, size);

    if (copy == NULL)
        return 0;
    sbx_err_clear(&err); /* a refusal must fill it: see the check below */
    if (cmp_licence_file_parse(&lf, (const char *)copy, size, &err) == SBX_OK) {
        if (lf.licence_json == NULL || lf.nassets < 2 || lf.nregulators < 1 ||
            lf.directive_quorum > (int)lf.nregulators ||
            lf.attestation_quorum > (int)lf.nregulators || lf.valid_to <= lf.valid_from)
            abort();
        if (cmp_params_from_json(&p, lf.licence_json, strlen(lf.licence_json), 1, lf.assets,
                                 lf.nassets, &err) != SBX_OK ||
            p.v[CMP_P_VALID_FROM] != lf.valid_from || p.v[CMP_P_VALID_TO] != lf.valid_to)
            abort();
    } else if (err.msg[0] == '\0') {
        abort(); /* refused without saying why */
    }
    cmp_licence_file_release(&lf);
    free(copy);
    return 0;
}
