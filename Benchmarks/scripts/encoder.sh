#!/usr/bin/env bash
# The int8 MiniLM encoder end to end, against the fp32 one in the same run: ingestion of the evaluation PDFs (wall
# time and peak resident memory of `rag ingest`) and retrieval quality (`rag eval`, MiniLM alone and hybrid).
#
#   bash Benchmarks/scripts/encoder.sh [rounds, default 2]
#
# Each round ingests eval/pdfs into a fresh collection once per precision, in alternating order, with the release
# build of `rag`; `rag eval` runs once per precision (retrieval is deterministic). Results go to
# bench-data/encoder/<stamp>/ (run.txt, the raw outputs, targets.json for Benchmarks/scripts/targets.py).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
rounds=${1:-2}
out=bench-data/encoder/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
printf 'date=%s\ngit=%s%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git rev-parse --short HEAD)" \
  "$( [ -z "$(git status --porcelain --untracked-files=no)" ] || echo +changes)" > "$out/run.txt"
[ -n "${SKIP_SETUP:-}" ] || bash scripts/setup.sh >&2 || { echo "encoder.sh: setup failed" >&2; exit 1; }
bash scripts/fetch-eval-pdfs.sh eval/pdfs >&2
swift build -c release --product rag >&2
rag=.build/release/rag
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

ingest() {  # precision round
  local collection="$work/$1-$2"
  /usr/bin/time -f 'wall_s=%e\nmax_rss_kb=%M\nuser_s=%U' -o "$out/ingest-$1.r$2.time" \
    "$rag" ingest eval/pdfs --collection "$collection" --embedder minilm --encoder-precision "$1" > "$out/ingest-$1.r$2.log" 2>&1
  rm -rf "$collection"
}
for round in $(seq 1 "$rounds"); do
  cut -d' ' -f1 /proc/loadavg >> "$out/loadavg"
  if ((round % 2)); then ingest f32 "$round"; ingest i8 "$round"; else ingest i8 "$round"; ingest f32 "$round"; fi
done
for precision in f32 i8; do
  "$rag" eval eval/questions.jsonl eval/unanswerable.jsonl --documents eval/pdfs --work-dir "$work/eval-$precision" \
    --retrievers minilm,hybrid-minilm --encoder-precision "$precision" --json > "$out/eval-$precision.json"
done

python3 - "$out" <<'PY'
import glob, json, statistics, sys
sys.path.insert(0, "Benchmarks/scripts")
from common import write_targets
out = sys.argv[1]
def times(precision):
    runs = []
    for path in sorted(glob.glob(f"{out}/ingest-{precision}.r*.time")):
        fields = dict(line.strip().split("=", 1) for line in open(path) if "=" in line)
        runs.append({k: float(v) for k, v in fields.items()})
    return runs
f32, i8 = times("f32"), times("i8")
wall = {p: statistics.median(r["wall_s"] for r in runs) for p, runs in (("f32", f32), ("i8", i8))}
rss = {p: max(r["max_rss_kb"] for r in runs) / 1024 for p, runs in (("f32", f32), ("i8", i8))}
print("| `rag ingest eval/pdfs` (8 PDFs) | wall (median) | peak RSS | runs |")
print("| --- | ---: | ---: | --- |")
for p, runs in (("f32", f32), ("i8", i8)):
    walls = ", ".join("%.1f" % r["wall_s"] for r in runs)
    print(f"| {p} | {wall[p]:.1f} s | {rss[p]:.0f} MiB | {walls} |")
print(f"\nint8 / fp32 wall time: {wall['i8'] / wall['f32']:.2f}")
evals = {p: json.load(open(f"{out}/eval-{p}.json")) for p in ("f32", "i8")}
print("\n| retriever | precision | recall@5 | MRR@10 |")
print("| --- | --- | ---: | ---: |")
worst = 0.0
for name in ("minilm", "hybrid-minilm"):
    scores = {}
    for p in ("f32", "i8"):
        r = next(r for r in evals[p]["retrievers"] if r["name"] == name)["all"]
        scores[p] = (r["recall@5"], r["mrr@10"])
        print(f"| {name} | {p} | {r['recall@5']:.3f} | {r['mrr@10']:.3f} |")
    worst = max(worst, abs(scores["i8"][0] - scores["f32"][0]), abs(scores["i8"][1] - scores["f32"][1]))
print(f"\nlargest difference int8 - fp32: {worst:.3f}")
loads = [float(line) for line in open(f"{out}/loadavg")]
print(f"load average (1 min) at the start of the rounds: {min(loads):.2f}–{max(loads):.2f}")
print(f"runs in {out}")
write_targets(out, "encoder", "bash Benchmarks/scripts/encoder.sh 2", [
    {"target": "int8 encoder: rag eval recall@5 and MRR@10 within 0.01 of fp32 (minilm, hybrid-minilm)", "figure": f"largest difference {worst:.3f}",
     "baseline": "fp32, same run", "ratio": "", "verdict": "met" if worst <= 0.01 else "not met"},
    {"target": "int8 encoder: ingestion of the evaluation PDFs, wall time and peak memory (stated)", "figure": f"{wall['i8']:.1f} s, {rss['i8']:.0f} MiB",
     "baseline": f"fp32 {wall['f32']:.1f} s, {rss['f32']:.0f} MiB", "ratio": f"{wall['i8'] / wall['f32']:.2f}", "verdict": "information"},
])
PY
