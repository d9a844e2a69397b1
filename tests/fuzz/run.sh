#!/bin/sh
# Run every fuzz target for SECONDS on a copy of its seed corpus:
#
#   tests/fuzz/run.sh SECONDS [BUILDDIR]
#
# BUILDDIR (default: $SBX_BUILDDIR, else build-fuzz in the source tree) is a clang
# --enable-fuzz build with the targets built (make fuzz); this script builds nothing. The
# corpora in tests/fuzz/corpus/ are copied to a scratch directory, so the tree is not changed.
# Targets run one at a time, or $SBX_FUZZ_JOBS at a time (CI: 2, one a core). A target missing
# from the build, a crash, a leak, a timeout or an abort of a target's own checks fails the run;
# the input that did it is kept in $SBX_FUZZ_FINDINGS (default ./fuzz-findings) to replay
# (BUILDDIR/tests/fuzz/TARGET FILE). Prints per target: executions, executions per second,
# coverage (cov: edges, ft: features) and corpus size.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:?usage: tests/fuzz/run.sh SECONDS [BUILDDIR]}
build=${2:-${SBX_BUILDDIR:-$src/build-fuzz}}
jobs=${SBX_FUZZ_JOBS:-1}
findings=${SBX_FUZZ_FINDINGS:-$PWD/fuzz-findings}
# The targets' scratch files (fuzz_state's store, the files of fuzz_config and fuzz_proof) go to a
# tmpfs when there is one: on a disk they cost most of the time.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    TMPDIR=/dev/shm
    export TMPDIR
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

# Run target $1; its line of the summary goes to $work/$1/result, and $work/$1/failed marks a
# failure.
run_one() {
    t=$1
    bin=$build/tests/fuzz/$t
    mkdir -p "$work/$t/corpus" "$work/$t/art"
    if [ ! -x "$bin" ]; then
        echo "$t: FAILED: $bin is not built (make fuzz in a clang --enable-fuzz build)" \
            >"$work/$t/result"
        : >"$work/$t/failed"
        return
    fi
    cp "$src/tests/fuzz/corpus/$t"/* "$work/$t/corpus/" 2>/dev/null
    # fuzz_state keeps a LevelDB store between inputs, whose caches grow: a leak check after each
    # input would scan the heap after almost every one (3 times slower); leaks are still checked
    # when the target exits
    leaks=1
    [ "$t" = fuzz_state ] && leaks=0
    (cd "$work/$t" && "$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=25 \
        -rss_limit_mb=2560 -detect_leaks=$leaks -artifact_prefix="$work/$t/art/" corpus \
        >log 2>&1)
    rc=$?
    log=$work/$t/log
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
    if [ "$rc" -ne 0 ] || [ -n "$(ls "$work/$t/art")" ]; then
        mkdir -p "$findings/$t"
        cp "$work/$t/art"/* "$findings/$t/" 2>/dev/null
        {
            echo "$t: FAILED (exit $rc) after ${execs:-?} executions; inputs in $findings/$t:"
            grep -E 'ERROR|SUMMARY|^    #[0-9]' "$log" | head -n 30
        } >"$work/$t/result"
        : >"$work/$t/failed"
    else
        echo "$t: ${execs:-0} executions, ${rate:-0} exec/s, cov ${cov:-?} ft ${ft:-?}," \
            "corpus ${corp:-?}, 0 findings" >"$work/$t/result"
    fi
}

targets=""
for c in "$src"/tests/fuzz/fuzz_*.c; do
    t=$(basename "$c" .c)
    case $t in fuzz_common | fuzz_seeds) ;; *) targets="$targets $t" ;; esac
done
# $jobs lanes, each running its share of the targets one after the other
i=0
for t in $targets; do
    echo "$t" >>"$work/lane.$((i % jobs))"
    i=$((i + 1))
done
for lane in "$work"/lane.*; do
    (while read -r t; do run_one "$t"; done <"$lane") &
done
wait
failed=0
for t in $targets; do
    cat "$work/$t/result"
    [ -f "$work/$t/failed" ] && failed=1
done
[ "$failed" -eq 0 ] && echo "fuzz: every target ran ${secs} s with 0 findings"
exit "$failed"
