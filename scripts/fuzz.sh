#!/bin/sh
# fuzz.sh - build and briefly run every libFuzzer target.
#
#   scripts/fuzz.sh [SECONDS]        (make fuzz FUZZ_TIME=SECONDS; default 30)
#
# Each fuzz/fuzz_NAME.c is compiled with clang and
# -fsanitize=fuzzer,address,undefined and linked against the library (all of
# src/ except src/cli, built into build-fuzz/ with coverage instrumentation),
# then run for SECONDS on a copy of fuzz/corpus/NAME/ (the seeds stay as they
# are). Any crash, leak, timeout or out-of-memory input is copied to
# tests/data/NAME/crashers/, where the unit tests replay it on every run;
# the script then exits 1. Set FUZZ_CC to use another clang.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-30}
cc=${FUZZ_CC:-clang}
out=build-fuzz
# the same pkg-config packages as the Makefile
pkgs=$(sed -n 's/^PKGS[[:space:]]*:=[[:space:]]*//p' Makefile)

command -v "$cc" >/dev/null 2>&1 || { echo "fuzz: $cc not found (scripts/packages-fuzz.txt)" >&2; exit 1; }

san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cflags="-std=c17 -g -O1 -D_GNU_SOURCE -Isrc -pthread $san $(pkg-config --cflags $pkgs 2>/dev/null || true)"
libs="$(pkg-config --libs $pkgs 2>/dev/null || true) -lm -pthread"
isa_avx2="-mavx2 -mfma -mf16c"
isa_avx512="$isa_avx2 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni"

# 1. the library, instrumented for coverage (recompiled when the source or
#    any header is newer than the object)
mkdir -p "$out/obj"
newest_h=$(find src -name '*.h' -newer "$out/.stamp" 2>/dev/null | head -n 1 || true)
[ -f "$out/.stamp" ] || newest_h=all
objs=""
for src in $(find src -name '*.c' -not -path 'src/cli/*' | sort); do
    obj="$out/obj/$(echo "$src" | sed 's|/|_|g; s|\.c$|.o|')"
    objs="$objs $obj"
    if [ -n "$newest_h" ] || [ ! -f "$obj" ] || [ "$src" -nt "$obj" ]; then
        case "$src" in
        *_avx512.c) isa=$isa_avx512 ;;
        *_avx2.c) isa=$isa_avx2 ;;
        *) isa="" ;;
        esac
        echo "fuzz: cc $src"
        # shellcheck disable=SC2086
        if ! $cc $cflags $isa -fsanitize=fuzzer-no-link -c "$src" -o "$obj"; then
            echo "fuzz: warning: $src does not compile with $cc; left out" >&2
            rm -f "$obj"
        fi
    fi
done
touch "$out/.stamp"
rm -f "$out/librathaus.a"
# shellcheck disable=SC2086
ar rcs "$out/librathaus.a" $(for o in $objs; do [ -f "$o" ] && echo "$o"; done)

# 2. each target: build, run on a scratch copy of its corpus, keep crashers
status=0
for target in fuzz/fuzz_*.c; do
    [ -f "$target" ] || continue
    name=$(basename "$target" .c | sed 's/^fuzz_//')
    bin="$out/fuzz_$name"
    echo "fuzz: building $bin"
    # shellcheck disable=SC2086
    if ! $cc $cflags -fsanitize=fuzzer "$target" "$out/librathaus.a" $libs -o "$bin"; then
        echo "fuzz: cannot build $target" >&2
        status=1
        continue
    fi
    work="$out/corpus/$name"
    art="$out/artifacts/$name"
    rm -rf "$work" "$art"
    mkdir -p "$work" "$art"
    [ -d "fuzz/corpus/$name" ] && cp -R "fuzz/corpus/$name/." "$work/"
    echo "fuzz: running $name for ${secs}s"
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$art/" \
        "$work" >"$out/fuzz_$name.log" 2>&1 || true
    tail -n 12 "$out/fuzz_$name.log"
    found=$(find "$art" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) 2>/dev/null)
    if [ -n "$found" ]; then
        mkdir -p "tests/data/$name/crashers"
        for f in $found; do
            cp "$f" "tests/data/$name/crashers/"
            echo "fuzz: $name: kept $(basename "$f") in tests/data/$name/crashers/ (see $out/fuzz_$name.log)"
        done
        status=1
    else
        echo "fuzz: $name: no crashes in ${secs}s"
    fi
done
exit $status
