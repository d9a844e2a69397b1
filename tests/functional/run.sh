#!/bin/sh
# Functional tests: real sbxd processes on loopback (Python 3 standard library only).
# `make check` runs this with SBX_BUILDDIR and SBX_SRCDIR set; by hand, from a build tree:
#   SBX_BUILDDIR=$PWD tests/functional/run.sh [test_module ...]
# Exit status: unittest's (0 all passed), 77 (skipped, for automake) when python3 is missing.
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v python3 >/dev/null 2>&1; then
    echo "python3 not found: functional tests skipped (apt-get install python3)"
    exit 77
fi
cd "$here" || exit 1
if [ "$#" -gt 0 ]; then
    exec python3 -m unittest -v "$@"
fi
exec python3 -m unittest discover -v -s "$here" -p 'test_*.py'
