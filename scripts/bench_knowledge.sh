#!/bin/sh
# bench_knowledge.sh - speed of the knowledge subsystem: ingestion MB/s over
# the law corpus, then a large index (the corpus replicated with varied text
# to >= 100,000 chunks): index size on disk and search latency p50/p95 over
# the 60 evaluation questions. Prints figures; never fails on timing.
#
#   scripts/bench_knowledge.sh [COPIES]      (default 52 copies, ~100,000 chunks)
#
# Uses $RATHAUS_BIN (default build/rathaus) and ../shared/testdata.
set -eu
cd "$(dirname "$0")/.."
BIN=${RATHAUS_BIN:-build/rathaus}
CORPUS=${RATHAUS_TESTDATA:-../shared/testdata}/corpus/gesetze
QUESTIONS=eval/questions-gesetze.jsonl
COPIES=${1:-52}
[ -x "$BIN" ] || { echo "bench_knowledge: $BIN not built (make build/rathaus)" >&2; exit 1; }
[ -d "$CORPUS" ] || { echo "bench_knowledge: $CORPUS not found, skipped"; exit 0; }
WORK=$(mktemp -d /tmp/rathaus-kbench-XXXXXX)
[ -n "${BENCH_KEEP:-}" ] && echo "keeping $WORK" || trap 'rm -rf "$WORK"' EXIT INT TERM

echo "== ingestion of the law corpus ($(du -sh "$CORPUS" | cut -f1))"
"$BIN" ingest --quiet --collection gesetze --db "$WORK/small.db" "$CORPUS" | tail -1
echo "index size: $(du -k "$WORK/small.db" | cut -f1) KiB"
"$BIN" search --collection gesetze --db "$WORK/small.db" --bench "$QUESTIONS" --repeat 5

echo "== large index: $COPIES copies of the corpus with varied text"
mkdir -p "$WORK/big"
i=0
while [ "$i" -lt "$COPIES" ]; do
    d="$WORK/big/c$i"
    mkdir -p "$d"
    for f in "$CORPUS"/*.md; do
        # rotate the words of every text line by a copy-dependent amount and
        # give each copy its own abbreviation: same vocabulary, other texts
        awk -v k="$i" '
            /^jurabk:/ { print $0 "-" k; next }
            /^#/ || /^---/ || /^[A-Za-z]+:/ || NF < 3 { print; next }
            { n = NF; s = k % n; out = "";
              for (j = 1; j <= n; j++) { idx = ((j - 1 + s) % n) + 1; out = out (j > 1 ? " " : "") $idx }
              print out }' "$f" > "$d/$(basename "$f" .md)_$i.md"
    done
    i=$((i + 1))
done
echo "text: $(du -sh "$WORK/big" | cut -f1)"
"$BIN" ingest --quiet --collection big --db "$WORK/big.db" "$WORK/big" | tail -1
echo "index size: $(du -k "$WORK/big.db" | cut -f1) KiB (SQLite file incl. chunk text)"
echo "-- search, full mode (German analysis, synonyms, statute table, weights)"
"$BIN" search --collection big --db "$WORK/big.db" --bench "$QUESTIONS" --repeat 3
echo "-- search, stem+compound (no expansion query)"
"$BIN" search --collection big --db "$WORK/big.db" --mode stem+compound+weights --bench "$QUESTIONS" --repeat 3
