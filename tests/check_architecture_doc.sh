#!/bin/sh
# doc/architecture.md and the source tree name the same files: every .c and .h file under
# util/ ledger/ compliance/ node/ rpc/ is named in the document by its path (folder/file.c),
# and every source path the document names (folder/file.c or .h, tests/ included) exists. A
# pattern such as node/chain*.c must match at least one file, but names none: each file needs
# its own line. Exits non-zero and names each mismatch; prints one line of counts.
set -eu
set -f # the names read from the document are not patterns for the shell, but see below
top=${srcdir:-$(dirname "$0")/..}
doc="$top/doc/architecture.md"
if [ ! -f "$doc" ]; then
    echo "FAIL: $doc does not exist"
    exit 1
fi
named=$(grep -oE '(^|[^A-Za-z0-9_./-])(util|ledger|compliance|node|rpc|tests)/[A-Za-z0-9_*./-]*\.[ch]([^A-Za-z0-9_]|$)' "$doc" |
    sed -E 's/^[^a-z]//; s/[^A-Za-z0-9_*./-]$//' | sort -u)
sources=$(cd "$top" && find util ledger compliance node rpc -type f -name '*.[ch]' | sort)
fail=0
nnamed=0
npattern=0
for p in $named; do
    case "$p" in
    *'*'*)
        npattern=$((npattern + 1))
        set +f
        # shellcheck disable=SC2086 # here the pattern is meant to expand
        set -- $(cd "$top" && ls -d $p 2>/dev/null || true)
        set -f
        if [ "$#" -eq 0 ]; then
            echo "FAIL: doc/architecture.md names $p, which matches no file"
            fail=$((fail + 1))
        fi
        ;;
    *)
        nnamed=$((nnamed + 1))
        if [ ! -f "$top/$p" ]; then
            echo "FAIL: doc/architecture.md names $p, which does not exist"
            fail=$((fail + 1))
        fi
        ;;
    esac
done
nsrc=0
for f in $sources; do
    nsrc=$((nsrc + 1))
    if ! printf '%s\n' "$named" | grep -qxF "$f"; then
        echo "FAIL: $f is not named in doc/architecture.md"
        fail=$((fail + 1))
    fi
done
[ "$nsrc" -gt 50 ] || { echo "FAIL: found only $nsrc source files under $top"; fail=$((fail + 1)); }
echo "architecture doc: $nsrc source files, $nnamed paths and $npattern patterns named, $fail mismatches"
[ "$fail" -eq 0 ]
