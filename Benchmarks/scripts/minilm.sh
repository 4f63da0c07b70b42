#!/usr/bin/env bash
# MiniLM embedding throughput: RAGBench minilm (Swift: the fp32 encoder on OpenBLAS and the int8 one, timed
# alternately) and sentence-transformers (PyTorch, CPU) on the same 256-token chunks, in alternating rounds so that
# load on a shared machine hits both alike.
#
#   bash Benchmarks/scripts/minilm.sh
#
# The baseline's Python comes from ST_PYTHON when set; otherwise the script makes its own virtual environment,
# bench-data/st-venv, with PyTorch for CPU (a local "+cpu" wheel when pip can see one, else PyPI's) and
# sentence-transformers 6.2.0, once; when that fails, only the Swift side runs, and it says so.
#
# Knobs (env): ROUNDS (3), CHUNKS (64), REPEAT (3), ST_PYTHON (a Python with torch and sentence-transformers),
#   TORCH_SPEC (what pip installs for torch), RAG_MODELS_DIR (where scripts/fetch-model.sh installs it). Results go to
#   bench-data/minilm/<stamp>/.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export ENABLE_RAG_BENCHMARKS=1   # Package.swift declares RAGBench only when this is set
rounds=${ROUNDS:-3}; chunks=${CHUNKS:-64}; repeat=${REPEAT:-3}
models=${RAG_MODELS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/pdf-chatbot/models}
out=bench-data/minilm/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
[ -n "${SKIP_SETUP:-}" ] || bash Benchmarks/scripts/setup.sh >&2 || { echo "minilm.sh: setup failed" >&2; exit 1; }
swift build -c release --product RAGBench >&2
if [[ -z ${ST_PYTHON:-} ]]; then
  venv=bench-data/st-venv
  if ! "$venv/bin/python" -c "import torch, sentence_transformers" 2>/dev/null; then
    # PyPI's default torch wheel brings the CUDA libraries (gigabytes); a CPU build is enough here.
    cpu=$(pip index versions torch 2>/dev/null | grep -o '[0-9][0-9.]*+cpu' | head -1 || true)
    torch_spec=${TORCH_SPEC:-${cpu:+torch==$cpu}}
    echo "minilm.sh: making $venv (${torch_spec:-torch}, sentence-transformers 6.2.0)" >&2
    python3 -m venv "$venv" && "$venv/bin/pip" install -q "${torch_spec:-torch}" "sentence-transformers==6.2.0" >&2 \
      || echo "minilm.sh: could not install the baseline into $venv" >&2
  fi
  ST_PYTHON=$venv/bin/python
fi
have_baseline=0
if [[ -n ${ST_PYTHON:-} ]] && "$ST_PYTHON" -c "import torch, sentence_transformers" 2>/dev/null; then have_baseline=1; else
  echo "minilm.sh: no ST_PYTHON with torch and sentence-transformers; running the Swift side only" >&2
fi
for round in $(seq 1 "$rounds"); do
  cut -d' ' -f1 /proc/loadavg >> "$out/loadavg"   # the 1-minute load average as each round starts
  swift_run() { .build/release/RAGBench minilm --models "$models" --chunks "$chunks" --repeat "$repeat" --modes 1x1,2x1 > "$out/swift.r$round.json"; }
  python_run() { ((have_baseline)) && "$ST_PYTHON" Benchmarks/scripts/minilm_baseline.py --models "$models" --chunks "$chunks" --repeat "$repeat" > "$out/torch.r$round.json" || true; }
  if ((round % 2)); then python_run; swift_run; else swift_run; python_run; fi
done
python3 - "$out" <<'PY'
import glob, json, statistics, sys
sys.path.insert(0, "Benchmarks/scripts")
from common import write_targets
out = sys.argv[1]
targets = []
def load(prefix): return [json.load(open(f)) for f in sorted(glob.glob(f"{out}/{prefix}.r*.json"))]
swift, torch = load("swift"), load("torch")
print("| cores | Swift fp32 chunks/s | GFLOP/s | sgemm ceiling GFLOP/s | fraction of ceiling | Swift int8 chunks/s | int8 / fp32 | PyTorch chunks/s | fp32 / PyTorch | int8 / PyTorch |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
def modes(cores, precision):
    return [m for run in swift for m in run["modes"] if m["cores"] == cores and m.get("precision", "f32") == precision]
for cores in (1, 2):
    s = modes(cores, "f32")
    rate = statistics.median(m["chunks_per_s"] for m in s)
    gflops = statistics.median(m["gflops"] for m in s)
    ceiling = statistics.median(m["ceiling_gflops"] for m in s)
    fraction = statistics.median(m["fraction_of_ceiling"] for m in s)
    q = modes(cores, "i8")
    qrate = statistics.median(m["chunks_per_s"] for m in q) if q else float("nan")
    t = [m["chunks_per_s"] for run in torch for m in run["modes"] if m["threads"] == cores]
    trate = statistics.median(t) if t else float("nan")
    print(f"| {cores} | {rate:.2f} | {gflops:.1f} | {ceiling:.1f} | {fraction:.2f} | {qrate:.2f} | {qrate / rate:.2f}× | {trate:.2f} | {rate / trate:.2f}× | {qrate / trate:.2f}× |")
    if cores == 2:
        targets.append({"target": "MiniLM, 2 cores, 256-token chunks: ≥ 80 % of the sgemm ceiling", "figure": f"{rate:.2f} chunks/s, {gflops:.1f} GFLOP/s",
                        "baseline": f"sgemm ceiling {ceiling:.1f} GFLOP/s", "ratio": f"{fraction:.2f}", "verdict": "met" if fraction >= 0.8 else "not met"})
        targets.append({"target": "MiniLM, 2 cores: ≥ 1.2× sentence-transformers (PyTorch, CPU)", "figure": f"{rate:.2f} chunks/s",
                        "baseline": f"PyTorch {trate:.2f} chunks/s" if t else "PyTorch not run", "ratio": f"{rate / trate:.2f}×" if t else "",
                        "verdict": ("met" if rate / trate >= 1.2 else "not met") if t else "not measured"})
        if q:
            targets.append({"target": "MiniLM int8 encoder, 2 cores: ≥ 2× the fp32 encoder's chunks/s", "figure": f"{qrate:.2f} chunks/s",
                            "baseline": f"fp32 {rate:.2f} chunks/s", "ratio": f"{qrate / rate:.2f}×", "verdict": "met" if qrate / rate >= 2 else "not met"})
cosines = [run["cosine_to_f32"]["i8"] for run in swift if "i8" in run.get("cosine_to_f32", {})]
if cosines:
    lowest = min(c["min_cosine"] for c in cosines)
    print(f"\nint8 embeddings against fp32 on the benchmark chunks: cosine min {lowest:.4f}, median {statistics.median(c['median_cosine'] for c in cosines):.4f} (kernel {swift[0].get('i8_kernel', '?')})")
    targets.append({"target": "MiniLM int8 encoder: cosine ≥ 0.995 to fp32 (benchmark chunks; reference texts: MiniLMEmbedderTests)", "figure": f"min {lowest:.4f}",
                    "baseline": "fp32 embeddings, same run", "ratio": "", "verdict": "met" if lowest >= 0.995 else "not met"})
print(f"\npeak RSS: Swift {max(r['peak_rss_bytes'] for r in swift) / 2**20:.0f} MiB"
      + (f", PyTorch {max(r['peak_rss_bytes'] for r in torch) / 2**20:.0f} MiB" if torch else ""))
# Per round, so that rounds in which another process held a core (a low 2-core ceiling) can be told apart.
for index, run in enumerate(swift):
    parts = [f"{m['cores']} core(s) {m.get('precision', 'f32')} {m['chunks_per_s']:.2f} chunks/s at {m['fraction_of_ceiling']:.2f} of {m['ceiling_gflops']:.1f}"
             for m in run["modes"]]
    if index < len(torch):
        parts += [f"PyTorch {m['threads']} thread(s) {m['chunks_per_s']:.2f}" for m in torch[index]["modes"]]
    print(f"round {index + 1}: " + ", ".join(parts))
loads = [float(line) for line in open(f"{out}/loadavg")]
print(f"load average (1 min) at the start of the rounds: {min(loads):.2f}–{max(loads):.2f}")
print(f"runs in {out}")
write_targets(out, "minilm", "bash Benchmarks/scripts/minilm.sh", targets)
PY
