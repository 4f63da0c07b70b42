#!/usr/bin/env bash
# Vectors stored compact (issue #17, `--vector-storage`): a SQLite collection of the 1M x 384 bench vectors (in
# documents of 30 chunks, with generated text) stored as f32, then converted to f16 and to i8 (copies of it). For each
# format: the vectors' bytes on disk and in memory, the database file, the time to open it (load the snapshot), the
# conversion's time, recall@10 against the exact fp32 top 10 on the 64 bench queries, and the median single-query
# search, alone and with an int8 scan copy. f32 is the baseline, measured in the same run.
#
#   bash Benchmarks/scripts/vector-storage.sh [REPEAT]   # default 3 opens per format; about 6 minutes, 12 GB of /tmp
# Knobs: CHUNKS (1000000), SKIP_SETUP=1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
B=Benchmarks/scripts
REPEAT="${1:-3}"
[ -n "${SKIP_SETUP:-}" ] || bash "$B/setup.sh" || { echo "vector-storage.sh: setup failed" >&2; exit 1; }
mkdir -p bench-data
VEC=bench-data/vectors-1m-384.f32
QRY=bench-data/queries-64-384.f32
python3 "$B/search_numpy.py" --vectors "$VEC" --queries "$QRY" --only-data
ENABLE_RAG_BENCHMARKS=1 swift build -c release --product RAGBench > /dev/null
BENCH="$(ENABLE_RAG_BENCHMARKS=1 swift build -c release --product RAGBench --show-bin-path)/RAGBench"
OUT="bench-data/runs/vector-storage-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
printf 'date=%s\ngit=%s%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git rev-parse --short HEAD)" \
  "$(git status --porcelain --untracked-files=no | grep -q . && echo +changes)" > "$OUT/run.txt"
echo "vector-storage.sh: results in $OUT (git $(git rev-parse --short HEAD 2>/dev/null), load $(cut -d' ' -f1-3 /proc/loadavg))"
"$BENCH" vector-storage --vectors "$VEC" --queries "$QRY" --chunks "${CHUNKS:-1000000}" --repeat "$REPEAT" --dir "${TMPDIR:-/tmp}" \
  > "$OUT/vector-storage.json"
python3 - "$OUT" <<'PY'
import json, sys
sys.path.insert(0, "Benchmarks/scripts")
from common import write_targets
out = sys.argv[1]
run = json.load(open(f"{out}/vector-storage.json"))
formats = {f["format"]: f for f in run["formats"]}
base = formats["f32"]
gb = lambda n: f"{n / 1e9:.3f} GB"
print(f"| stored as ({base['rows']:,} x {run['dimension']}) | vectors on disk | vectors in memory | database file | open (median) "
      "| recall@10 vs fp32 | identical top 10 | search, 1 query | with an i8 scan copy | convert |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
for name in ("f32", "f16", "i8"):
    f = formats[name]
    scan = f.get("with_i8_scan")
    scan_text = (f"{scan['search_median_s'] * 1e3:.1f} ms, recall {scan['recall_at_10']:.3f}, {gb(scan['memory_bytes'])}" if scan else "(it is int8)")
    convert = f"{f['convert_s']:.1f} s" if "convert_s" in f else ""
    print(f"| {name} | {gb(f['vector_bytes_stored'])} | {gb(f['vector_bytes_memory'])} | {gb(f['database_bytes'])} | "
          f"{f['open_median_s']:.2f} s | {f['recall_at_10']:.3f} | {f['identical_top10']}/{f['queries']} | "
          f"{f['search_median_s'] * 1e3:.1f} ms | {scan_text} | {convert} |")
rows = []
for name in ("f16", "i8"):
    f = formats[name]
    rows.append({
        "target": f"vectors stored as {name} (information): memory and disk per 1M x 384, open, recall@10 against the fp32 top 10",
        "figure": f"{gb(f['vector_bytes_memory'])} in memory, {gb(f['vector_bytes_stored'])} on disk, database {gb(f['database_bytes'])}, "
                  f"open {f['open_median_s']:.2f} s, recall@10 {f['recall_at_10']:.3f} ({f['identical_top10']}/{f['queries']} identical)",
        "baseline": f"f32: {gb(base['vector_bytes_memory'])}, database {gb(base['database_bytes'])}, open {base['open_median_s']:.2f} s",
        "ratio": f"{f['vector_bytes_memory'] / base['vector_bytes_memory']:.2f}",
        "verdict": "information",
    })
write_targets(out, "storage", "bash Benchmarks/scripts/vector-storage.sh 3", rows)
PY
