#!/bin/sh
# bench_knowledge.sh - speed of the knowledge subsystem:
#  - ingestion MB/s over the law corpus (Markdown text);
#  - PDF ingestion: the corpus set as text PDFs (bench/mkpdf.c, MuPDF's
#    document writer, one PDF per law, ~530 pages): pages/s and MB/s; one
#    image-only (scanned) page through OCR: seconds per page;
#  - a large index (the corpus replicated with varied text to >= 100,000
#    chunks): index size on disk and search latency p50/p95, wall clock and
#    CPU, over the 60 evaluation questions;
#  - memory: peak RSS of every ingestion and search run (/usr/bin/time,
#    Debian package `time`).
# Prints figures and the load average (the machine may be shared); never
# fails on timing.
#
#   scripts/bench_knowledge.sh [COPIES]      (default 52 copies, ~100,000 chunks)
#
# Uses $RATHAUS_BIN (default build/rathaus) and ../shared/testdata; builds
# bench/mkpdf next to the binary ($build/bench/mkpdf) when needed.
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

load() { echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"; }

# measured CMD...: runs CMD (stdout as given); peak_rss then prints its peak
# RSS (with /usr/bin/time)
TIME=/usr/bin/time
measured() {
    if [ -x "$TIME" ]; then
        "$TIME" -f '%M' -o "$WORK/rss" "$@"
    else
        "$@"
    fi
}
peak_rss() { [ -x "$TIME" ] && echo "peak RSS: $(($(tail -1 "$WORK/rss") / 1024)) MB" || true; }
[ -x "$TIME" ] || echo "bench_knowledge: /usr/bin/time missing (apt-get install time): no memory figures"

# ingest COLLECTION DB DIR [COUNT UNIT]: ingestion with its summary line and
# peak RSS; with COUNT also UNITs/s and ms/UNIT (wall and CPU)
ingest() {
    measured "$BIN" ingest --quiet --collection "$1" --db "$2" "$3" > "$WORK/ingest.out"
    tail -1 "$WORK/ingest.out"
    peak_rss
    if [ $# -ge 5 ]; then
        # "... N chunks, X MB in S s (R MB/s; CPU C s)"
        sed -n 's/.* in \([0-9.]*\) s (.*CPU \([0-9.]*\) s).*/\1 \2/p' "$WORK/ingest.out" | tail -1 |
            awk -v n="$4" -v u="$5" '{
                printf "%d %s%s: %.2f s wall = %.1f %ss/s (%.1f ms/%s); %.2f s CPU = %.1f %ss/s (%.1f ms/%s)\n",
                    n, u, (n == 1 ? "" : "s"), $1, ($1 > 0 ? n / $1 : 0), u, 1000 * $1 / n, u,
                    $2, ($2 > 0 ? n / $2 : 0), u, 1000 * $2 / n, u }'
    fi
}

load
echo "== ingestion of the law corpus ($(du -sh "$CORPUS" | cut -f1))"
ingest gesetze "$WORK/small.db" "$CORPUS"
echo "index size: $(du -k "$WORK/small.db" | cut -f1) KiB"
measured "$BIN" search --collection gesetze --db "$WORK/small.db" --bench "$QUESTIONS" --repeat 5
peak_rss

echo "== PDF ingestion"
build=$(dirname "$BIN")
MKPDF="$build/bench/mkpdf"
if [ ! -x "$MKPDF" ] || [ bench/mkpdf.c -nt "$MKPDF" ]; then
    mkdir -p "$build/bench"
    gcc -std=c17 -O2 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
        -D_GNU_SOURCE bench/mkpdf.c $(pkg-config --cflags --libs scripts/mupdf-static.pc) -lm \
        -o "$MKPDF" || { echo "bench_knowledge: could not build bench/mkpdf; PDF figures skipped" >&2; MKPDF=; }
fi
if [ -n "$MKPDF" ]; then
    mkdir -p "$WORK/pdf" "$WORK/scan"
    pages=0
    for f in "$CORPUS"/*.md; do
        n=$("$MKPDF" "$WORK/pdf/$(basename "$f" .md).pdf" "$f" | sed -n 's/^pages //p')
        pages=$((pages + n))
    done
    echo "text PDFs (Helvetica 10 pt, A4): $(ls "$WORK/pdf" | wc -l) files, $pages pages, $(du -sh "$WORK/pdf" | cut -f1)"
    ingest pdf "$WORK/pdf.db" "$WORK/pdf" "$pages" page
    txt=$(cat "$CORPUS"/*.md | wc -c)
    sed -n 's/.* in \([0-9.]*\) s (.*CPU \([0-9.]*\) s).*/\1 \2/p' "$WORK/ingest.out" | tail -1 |
        awk -v b="$txt" '{ printf "the text set in them: %.2f MB = %.2f MB/s of text wall, %.2f MB/s CPU\n",
                               b / 1e6, ($1 > 0 ? b / 1e6 / $1 : 0), ($2 > 0 ? b / 1e6 / $2 : 0) }'
    echo "-- one scanned page (image only, 200 dpi; OCR at 300 dpi with Tesseract, incl. its start)"
    "$MKPDF" --scan "$WORK/scan/scan.pdf" "$CORPUS/gg.md" > /dev/null
    ingest scan "$WORK/scan.db" "$WORK/scan" 1 page
fi

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
load
ingest big "$WORK/big.db" "$WORK/big"
echo "index size: $(du -k "$WORK/big.db" | cut -f1) KiB (SQLite file incl. chunk text)"
load
echo "-- search, full mode (German analysis, synonyms, statute table, weights)"
measured "$BIN" search --collection big --db "$WORK/big.db" --bench "$QUESTIONS" --repeat 3
peak_rss
echo "-- search, stem+compound (no expansion query)"
measured "$BIN" search --collection big --db "$WORK/big.db" --mode stem+compound+weights --bench "$QUESTIONS" --repeat 3
peak_rss
load
