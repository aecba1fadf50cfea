#!/bin/sh
# bench_portal.sh - benchmarks of the portal server (part of `make bench`):
# idle memory, time to first token added by the portal versus the engine
# API, 200 concurrent streaming clients. Prints figures and never fails on
# timing (see bench/portal.mjs for what is measured and the goals).
#
# Environment: RATHAUS_BIN (default build/rathaus), RATHAUS_TESTDATA,
# BENCH_CLIENTS (200), TTFT_REPS (100 per block, two blocks).
set -u
cd "$(dirname "$0")/.."
export RATHAUS_BIN="${RATHAUS_BIN:-$PWD/build/rathaus}"
if [ ! -x "$RATHAUS_BIN" ]; then
    echo "bench_portal: $RATHAUS_BIN not found (build it with make first)" >&2
    exit 1
fi
if ! command -v node >/dev/null 2>&1; then
    echo "bench_portal: skipped (node is not installed: apt-get install nodejs)"
    exit 0
fi
# bench/ttft links the engine from the library next to the binary
build=$(dirname "$RATHAUS_BIN")
pkgs="sqlite3 libmicrohttpd libsodium jansson libcurl libxml-2.0"
TTFT_BIN="$build/bench/ttft"
if [ -f "$build/librathaus.a" ]; then
    mkdir -p "$build/bench"
    if [ ! -x "$TTFT_BIN" ] || [ bench/ttft.c -nt "$TTFT_BIN" ] || [ "$build/librathaus.a" -nt "$TTFT_BIN" ]; then
        gcc -std=c17 -O2 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla -D_GNU_SOURCE -Isrc -pthread bench/ttft.c "$build/librathaus.a" \
            $(pkg-config --libs $pkgs) -lstemmer -lm -o "$TTFT_BIN" ||
            echo "bench_portal: could not build bench/ttft; the TTFT comparison is skipped" >&2
    fi
else
    echo "bench_portal: $build/librathaus.a not found; the TTFT comparison is skipped" >&2
fi
export TTFT_BIN
node bench/portal.mjs
rc=$?
if [ $rc -ne 0 ]; then
    echo "bench_portal: the benchmark did not run through (exit $rc); see above" >&2
fi
exit $rc
