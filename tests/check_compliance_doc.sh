#!/bin/sh
# Every rule and alert id in compliance/rules.h appears in doc/compliance.md, and every rule-like
# id in the document's tables exists in the code. Exits non-zero and names the mismatch.
set -eu
top=${srcdir:-$(dirname "$0")/..}
rules="$top/compliance/rules.h"
doc="$top/doc/compliance.md"
code_ids=$(sed -n 's/.*X(CMP_[A-Z_]*, *[0-9]*, *"\([a-z_.]*\)").*/\1/p' "$rules" | sort -u)
doc_ids=$(sed -n 's/^| `\([a-z_]*\.[a-z_.]*\)`.*/\1/p' "$doc" | sort -u)
fail=0
n=0
for id in $code_ids; do
    n=$((n + 1))
    if ! printf '%s\n' "$doc_ids" | grep -qx "$id"; then
        echo "FAIL: $id is in compliance/rules.h but has no row in doc/compliance.md"
        fail=$((fail + 1))
    fi
done
for id in $doc_ids; do
    if ! printf '%s\n' "$code_ids" | grep -qx "$id"; then
        echo "FAIL: $id has a row in doc/compliance.md but is not in compliance/rules.h"
        fail=$((fail + 1))
    fi
done
[ "$n" -gt 30 ] || { echo "FAIL: found only $n ids in $rules"; fail=$((fail + 1)); }
echo "compliance doc: $n ids checked, $fail mismatches"
[ "$fail" -eq 0 ]
