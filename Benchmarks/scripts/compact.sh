#!/usr/bin/env bash
# Compact vectors (issue #17): today's fp32 search against fp16 and int8 with exact rescoring, on the 1M x 384 bench
# vectors and the 64 bench queries, ROUNDS rounds; each round measures the machine's read bandwidth first (the fp32
# limit is the time to read the fp32 matrix once at that speed) and then runs `RAGBench compact`, which interleaves
# the variants query by query. Prints a markdown table of medians over the rounds.
#
#   bash Benchmarks/scripts/compact.sh [ROUNDS]          # default 5 rounds, about 3 minutes
#   SCALE_ROWS=10000000 bash Benchmarks/scripts/compact.sh 3   # also the scale run: int8 over generated vectors
#                                                         # (a 15.4 GB fp32 file in bench-data/, rescored from it)
# Knobs: REPEAT (batch runs per round, 5), SKIP_SETUP=1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
B=Benchmarks/scripts
ROUNDS="${1:-5}"
REPEAT="${REPEAT:-5}"
[ -n "${SKIP_SETUP:-}" ] || bash "$B/setup.sh" || { echo "compact.sh: setup failed" >&2; exit 1; }
mkdir -p bench-data
VEC=bench-data/vectors-1m-384.f32
QRY=bench-data/queries-64-384.f32
python3 "$B/search_numpy.py" --vectors "$VEC" --queries "$QRY" --only-data
gcc -O2 -march=native -pthread -o bench-data/bandwidth "$B/bandwidth.c"
ENABLE_RAG_BENCHMARKS=1 swift build -c release --product RAGBench > /dev/null
BENCH="$(ENABLE_RAG_BENCHMARKS=1 swift build -c release --product RAGBench --show-bin-path)/RAGBench"
OUT="bench-data/runs/compact-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
printf 'date=%s\ngit=%s%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git rev-parse --short HEAD)" \
  "$(git status --porcelain --untracked-files=no | grep -q . && echo +changes)" > "$OUT/run.txt"
echo "compact.sh: results in $OUT (git $(git rev-parse --short HEAD 2>/dev/null), load $(cut -d' ' -f1-3 /proc/loadavg))"
for ((r = 1; r <= ROUNDS; r++)); do
  echo "compact.sh: round $r/$ROUNDS"
  bench-data/bandwidth --threads 2 --runs 5 > "$OUT/bw.r$r.json"
  "$BENCH" compact --vectors "$VEC" --queries "$QRY" --repeat "$REPEAT" > "$OUT/compact.r$r.json"
done
if [ -n "${SCALE_ROWS:-}" ]; then
  BIG="bench-data/vectors-$((SCALE_ROWS / 1000000))m-384.f32"
  python3 "$B/gen_vectors.py" --rows "$SCALE_ROWS" --out "$BIG"
  for ((r = 1; r <= ROUNDS; r++)); do
    echo "compact.sh: scale round $r/$ROUNDS ($SCALE_ROWS rows)"
    bench-data/bandwidth --threads 2 --runs 5 > "$OUT/scale-bw.r$r.json"
    "$BENCH" compact --only i8 --vectors "$BIG" --queries "$QRY" --repeat "$REPEAT" > "$OUT/scale.r$r.json"
  done
fi
python3 "$B/compact_report.py" "$OUT"
