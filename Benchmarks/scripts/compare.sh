#!/usr/bin/env bash
# Two builds of RAGBench side by side, interleaved round by round (A, B, then B, A, ...), so that load on a shared
# machine hits both alike: the single-query search over 1M × 384 vectors and MiniLM embedding throughput.
#
#   Benchmarks/scripts/compare.sh OLD_RAGBENCH NEW_RAGBENCH [ROUNDS]
#
# Build an earlier commit's RAGBench in a separate checkout (`git archive REV | tar -x -C DIR`, then
# `swift build -c release --product RAGBench` there; before ENABLE_RAG_BENCHMARKS existed it was always declared) and
# this one with `ENABLE_RAG_BENCHMARKS=1 swift build -c release --product RAGBench`. Inputs: bench-data/ as
# Benchmarks/scripts/run.sh makes it (search_numpy.py --only-data) and the MiniLM model (scripts/fetch-model.sh).
# Results in bench-data/compare-<stamp>/, and a table of medians on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
old=$1 new=$2 rounds=${3:-5}
models=${RAG_MODELS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/pdf-chatbot/models}
pdf=${PDF:-/usr/share/R/doc/manual/fullrefman.pdf}
out=bench-data/compare-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
for round in $(seq 1 "$rounds"); do
  cut -d' ' -f1 /proc/loadavg >> "$out/loadavg"
  order=(old new); ((round % 2)) || order=(new old)
  for side in "${order[@]}"; do
    bin=$old; [[ $side == new ]] && bin=$new
    "$bin" search --vectors bench-data/vectors-1m-384.f32 --queries bench-data/queries-64-384.f32 --repeat 64 \
      > "$out/search-$side.r$round.json"
    "$bin" minilm --models "$models" --chunks 64 --repeat 3 --modes 1x1,2x1 > "$out/minilm-$side.r$round.json"
    "$bin" extract "$pdf" --threads 2 --repeat 3 > "$out/extract-$side.r$round.json"
  done
done
python3 - "$out" <<'PY'
import glob, json, statistics, sys
out = sys.argv[1]
def runs(kind, side): return [json.load(open(f)) for f in sorted(glob.glob(f"{out}/{kind}-{side}.r*.json"))]
def med(values): return statistics.median(values)
print("| measure | old (median of rounds) | new (median of rounds) | new / old |")
print("| --- | --- | --- | --- |")
for key, label in (("median_s", "single query, 1M × 384 (ms)"), ("batch_median_s", "64-query batch (ms)")):
    o = med(r[key] for r in runs("search", "old")) * 1000
    n = med(r[key] for r in runs("search", "new")) * 1000
    print(f"| {label} | {o:.2f} | {n:.2f} | {n / o:.3f} |")
for cores in (1, 2):
    o = med(m["chunks_per_s"] for r in runs("minilm", "old") for m in r["modes"] if m["cores"] == cores)
    n = med(m["chunks_per_s"] for r in runs("minilm", "new") for m in r["modes"] if m["cores"] == cores)
    print(f"| MiniLM chunks/s, {cores} core(s) | {o:.2f} | {n:.2f} | {n / o:.3f} |")
o = med(r["median_s"] for r in runs("extract", "old"))
n = med(r["median_s"] for r in runs("extract", "new"))
print(f"| extraction, {runs('extract', 'old')[0]['pages']} pages on 2 threads (s) | {o:.2f} | {n:.2f} | {n / o:.3f} |")
loads = [float(line) for line in open(f"{out}/loadavg")]
print(f"\nload average (1 min) at the start of the rounds: {min(loads):.2f}–{max(loads):.2f}; runs in {out}")
PY
