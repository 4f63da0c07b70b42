#!/usr/bin/env bash
# Run every benchmark side by side: Swift RAGBench (contender) interleaved with
# the Python/C baselines, then print a markdown table of medians and ratios.
#
#   bash Benchmarks/scripts/run.sh            # full run (~5-10 min on 2 cores)
#   QUICK=1 bash Benchmarks/scripts/run.sh    # 1 round, fewer repeats (~2 min)
#
# Knobs (env): ROUNDS (3), EXTRACT_REPEAT (3), SEARCH_REPEAT (32),
#   BATCH_REPEAT (3), CHUNK_REPEAT (10), BW_RUNS (7), SKIP_SETUP=1,
#   SKIP_RAGBENCH=1 (baselines only), RAGBENCH_CMD (contender command,
#   default: swift run -c release --skip-build RAGBench), PDF (fullrefman.pdf), PYTHON (python3).
#
# Every round runs each benchmark's baseline and contender back to back and
# alternates which goes first (odd rounds baseline first, even rounds
# contender first), so drift on this shared machine hits both sides. Each
# program prints one JSON object; they are kept in bench-data/runs/<stamp>/
# as <label>.r<round>.json and pooled by Benchmarks/scripts/report.py.
#
# RAGBench contract (see docs/performance.md): called as
#   swift run -c release --skip-build RAGBench extract PDF --threads N --repeat R
#   swift run -c release --skip-build RAGBench search --vectors F --queries F --repeat R
#   swift run -c release --skip-build RAGBench chunk TEXTFILE --repeat R
# after one `ENABLE_RAG_BENCHMARKS=1 swift build -c release --product RAGBench`; each prints one JSON
# object (last line of stdout starting with "{") with a numeric "median_s".
# If the build fails or a call does not produce that, the row reads
# "RAGBench missing" and the baselines still run.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export ENABLE_RAG_BENCHMARKS=1   # Package.swift declares RAGBench only when this is set
B="Benchmarks/scripts"
PYTHON="${PYTHON:-python3}"
PDF="${PDF:-/usr/share/R/doc/manual/fullrefman.pdf}"
if [ -n "${QUICK:-}" ]; then
  : "${ROUNDS:=1}" "${EXTRACT_REPEAT:=2}" "${SEARCH_REPEAT:=16}" "${BATCH_REPEAT:=2}" "${CHUNK_REPEAT:=5}" "${BW_RUNS:=5}"
fi
ROUNDS="${ROUNDS:-3}"; EXTRACT_REPEAT="${EXTRACT_REPEAT:-3}"; SEARCH_REPEAT="${SEARCH_REPEAT:-32}"
BATCH_REPEAT="${BATCH_REPEAT:-3}"; CHUNK_REPEAT="${CHUNK_REPEAT:-10}"; BW_RUNS="${BW_RUNS:-7}"
STEP_TIMEOUT="${STEP_TIMEOUT:-600}"
RAGBENCH_DEFAULT="swift run -c release --skip-build RAGBench"   # seconds; hard cap per benchmark invocation

[ -n "${SKIP_SETUP:-}" ] || bash "$B/setup.sh" || { echo "run.sh: setup failed" >&2; exit 1; }

mkdir -p bench-data
VEC=bench-data/vectors-1m-384.f32
QRY=bench-data/queries-64-384.f32
TXT=bench-data/fullrefman.txt
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="bench-data/runs/$STAMP"
mkdir -p "$OUT"
echo "run.sh: results in $OUT"

# --- machine note
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "mem: $(free -g | awk '/^Mem:/{print $2}') GiB"
  echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-<unset>} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE-<unset>}"
  echo "loadavg at start: $(cut -d" " -f1-3 /proc/loadavg)"
  echo "git: $(git rev-parse --short HEAD 2>/dev/null)"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt"

# --- inputs (untimed)
gcc -O2 -march=native -pthread -o bench-data/bandwidth "$B/bandwidth.c" || { echo "run.sh: gcc failed" >&2; exit 1; }
if [ ! -s "$TXT" ]; then
  echo "run.sh: writing $TXT"
  "$PYTHON" "$B/extract_pymupdf.py" "$PDF" --repeat 1 --write-text "$TXT" > /dev/null || exit 1
fi
"$PYTHON" "$B/search_numpy.py" --vectors "$VEC" --queries "$QRY" --only-data || exit 1

# --- contender build (RAGBENCH_CMD overrides the command, e.g. for a mock;
#     then no swift build is done)
RAG_OK=0
if [ -n "${RAGBENCH_CMD:-}" ]; then
  RAG_OK=1; echo "run.sh: contender command: $RAGBENCH_CMD" | tee "$OUT/ragbench.log"
elif [ -z "${SKIP_RAGBENCH:-}" ]; then
  echo "run.sh: swift build -c release --product RAGBench (log: $OUT/ragbench.log)"
  if timeout 1800 swift build -c release --product RAGBench > "$OUT/ragbench.log" 2>&1; then
    RAG_OK=1
  else
    echo "RAGBench missing: build failed (see $OUT/ragbench.log)"
  fi
else
  echo "RAGBench missing: SKIP_RAGBENCH set" | tee "$OUT/ragbench.log"
fi
RAGBENCH_CMD="${RAGBENCH_CMD:-$RAGBENCH_DEFAULT}"

# run LABEL ROUND CMD...: capture stdout as $OUT/LABEL.rROUND.json, stderr to .err
run() {
  local label="$1" round="$2"; shift 2
  local f="$OUT/$label.r$round.json"
  printf '  %-16s r%s ... ' "$label" "$round"
  if timeout "$STEP_TIMEOUT" "$@" > "$f" 2> "$OUT/$label.r$round.err"; then
    if grep -q '"median_s"\|"median_gbs"' "$f"; then echo ok; return 0; fi
  fi
  echo "no result (see $f / .err)"
  return 1
}
rag() {  # rag LABEL ROUND SUBCOMMAND ARGS...
  local label="$1" round="$2"; shift 2
  if [ "$RAG_OK" != 1 ]; then return 0; fi
  # shellcheck disable=SC2086
  run "$label" "$round" $RAGBENCH_CMD "$@" \
    || echo "  RAGBench missing: '$*' gave no JSON with median_s"
}
pair() {  # pair ROUND BASELINE_FN CONTENDER_FN: alternate order by round
  if (( $1 % 2 )); then "$2" "$1"; "$3" "$1"; else "$3" "$1"; "$2" "$1"; fi
}

base_bw()      { run bw-1t "$1" bench-data/bandwidth --threads 1 --runs "$BW_RUNS"
                 run bw-2t "$1" bench-data/bandwidth --threads 2 --runs "$BW_RUNS"; }
base_extract() { run pymupdf-1p "$1" "$PYTHON" "$B/extract_pymupdf.py" "$PDF" --procs 1 --repeat "$EXTRACT_REPEAT"
                 run pymupdf-2p "$1" "$PYTHON" "$B/extract_pymupdf.py" "$PDF" --procs 2 --repeat "$EXTRACT_REPEAT"; }
rag_extract()  { rag rag-extract-1t "$1" extract "$PDF" --threads 1 --repeat "$EXTRACT_REPEAT"
                 rag rag-extract-2t "$1" extract "$PDF" --threads 2 --repeat "$EXTRACT_REPEAT"; }
NP_ARGS=(--vectors "$VEC" --queries "$QRY" --repeat "$SEARCH_REPEAT" --batch-repeat "$BATCH_REPEAT")
base_search()  { run numpy-env "$1" "$PYTHON" "$B/search_numpy.py" "${NP_ARGS[@]}"
                 run numpy-unset "$1" env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PYTHON" "$B/search_numpy.py" "${NP_ARGS[@]}"
                 if [ -z "${SKIP_HASWELL:-}" ]; then
                   run numpy-haswell "$1" env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=Haswell "$PYTHON" "$B/search_numpy.py" "${NP_ARGS[@]}"
                 fi; }
rag_search()   { rag rag-search "$1" search --vectors "$VEC" --queries "$QRY" --repeat "$SEARCH_REPEAT"; }
base_chunk()   { run langchain "$1" "$PYTHON" "$B/chunk_langchain.py" "$TXT" --repeat "$CHUNK_REPEAT"; }
rag_chunk()    { rag rag-chunk "$1" chunk "$TXT" --repeat "$CHUNK_REPEAT"; }
nothing()      { :; }

for ((r = 1; r <= ROUNDS; r++)); do
  echo "run.sh: round $r/$ROUNDS"
  base_bw "$r"
  pair "$r" base_extract rag_extract
  pair "$r" base_search rag_search
  pair "$r" base_chunk rag_chunk
done

echo
echo "loadavg at end: $(cut -d" " -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
"$PYTHON" "$B/report.py" "$OUT"
