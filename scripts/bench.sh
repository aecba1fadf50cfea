#!/bin/sh
# bench.sh - performance figures of the inference engine (`make bench`).
#
# Synthesizes random-weight models in the shape of TinyLlama 1.1B (Q8_0 and
# Q4_K_M) under build/bench/ if they are absent, then runs `rathaus bench`
# on each with 2 threads and prints the figures. Never fails on timing: only
# a missing binary or a failed synthesis is an error.
#
# Environment: RATHAUS_BIN (default build/rathaus), BENCH_THREADS (default 2),
# BENCH_ARGS (extra arguments for rathaus bench, e.g. --quick or --json).
set -u
cd "$(dirname "$0")/.."
BIN=${RATHAUS_BIN:-build/rathaus}
THREADS=${BENCH_THREADS:-2}
DIR=build/bench
if [ ! -x "$BIN" ]; then
    echo "bench.sh: $BIN not found; run make first" >&2
    exit 1
fi
mkdir -p "$DIR"
status=0
for type in q8_0 q4_k_m; do
    model="$DIR/tinyllama-$type.gguf"
    if [ ! -s "$model" ]; then
        echo "== synthesizing $model (random weights, TinyLlama 1.1B shape)"
        if ! "$BIN" model synth --shape tinyllama-1.1b --type "$type" -t "$THREADS" "$model"; then
            echo "bench.sh: could not write $model" >&2
            status=1
            continue
        fi
    fi
    echo "== $model, $THREADS threads"
    # shellcheck disable=SC2086
    "$BIN" bench -m "$model" -t "$THREADS" ${BENCH_ARGS:-} || echo "bench.sh: rathaus bench failed on $model" >&2
    echo
done
exit $status
