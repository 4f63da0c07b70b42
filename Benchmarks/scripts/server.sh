#!/usr/bin/env bash
# Load tests of rag-server on loopback (release build, mock LLM; see Benchmarks/RAGBench/ServeBench.swift):
#   1. /healthz and /v1/ask with an instant model: requests/s and latency percentiles (wrk, 100 connections);
#   2. what the server adds to an answer at 100 concurrent clients: /v1/ask with a model that takes 50 ms, against
#      two baselines in the same process: the floor (POST /floor: the same 50 ms sleep outside the server's
#      middleware, so framework + timer + wrk on these cores) and the answer without the server (POST /floor/engine:
#      Engine.ask on the same question, i.e. retrieval, prompt and the mock model's stream, outside the middleware,
#      so /v1/ask minus it is the server's own code), in four configurations interleaved round by round:
#        shared: server and wrk free to use both cores (they compete);
#        shared+log: as shared, with rag-server's default logging (JSON access log at info, to a file);
#        pinned: server on core 1, wrk on core 0 (taskset);
#        pinned+log: as pinned, with the default logging;
#      plus how late Task.sleep(50 ms) wakes with nothing else running (RAGBench sleep) and under the floor's load;
#   3. 1,000 concurrent streaming answers from a slow model: the server's memory while all are open.
# Every run is bounded in time. Medians over rounds; differences are taken within a round, then the median.
# Usage: Benchmarks/scripts/server.sh [ROUNDS] [all|latency]   (default 3 all; results in bench-data/server-<stamp>/)
#        RAGBENCH=path/to/RAGBench runs that binary instead of building one (to compare two builds round by round).
set -euo pipefail
cd "$(dirname "$0")/../.."
export ENABLE_RAG_BENCHMARKS=1   # Package.swift declares RAGBench only when this is set
rounds=${1:-3}
sections=${2:-all}
[ -n "${SKIP_SETUP:-}" ] || bash Benchmarks/scripts/setup.sh >&2 || { echo "server.sh: setup failed" >&2; exit 1; }
command -v wrk >/dev/null || { echo "server.sh: wrk is missing (apt-get install wrk)" >&2; exit 1; }
command -v taskset >/dev/null || { echo "server.sh: taskset is missing (apt-get install util-linux)" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "server.sh: the pinned configuration needs 2 cores" >&2; exit 1; }
if [ -n "${RAGBENCH:-}" ]; then
  bench=$RAGBENCH
else
  swift build -c release --product RAGBench >/dev/null
  bench=.build/release/RAGBench
fi
out="bench-data/server-$(date -u +%Y%m%dT%H%M%SZ)-$$"
mkdir -p "$out"
cut -d' ' -f1-3 /proc/loadavg > "$out/loadavg-start.txt"

serve() {  # serve PORT ARGS... → sets PID
  "$bench" serve --port "$1" "${@:2}" > "$out/serve-$1.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do grep -q "serving on" "$out/serve-$1.log" 2>/dev/null && return; sleep 0.1; done
  echo "server.sh: the server on port $1 did not start" >&2; cat "$out/serve-$1.log" >&2; exit 1
}

if [ "$sections" = all ]; then
  serve 18501
  for round in $(seq "$rounds"); do
    wrk -t2 -c100 -d10s --latency "http://127.0.0.1:18501/healthz" > "$out/healthz.r$round.txt"
    wrk -t2 -c100 -d10s --latency -s Benchmarks/scripts/ask.lua "http://127.0.0.1:18501/v1/ask" > "$out/ask-instant.r$round.txt"
  done
  kill "$PID"; wait "$PID" 2>/dev/null || true
fi

serve 18502 --delay-ms 50
quiet=$PID
serve 18504 --delay-ms 50 --log-level info
logged=$PID
for port in 18502 18504; do  # warm up
  wrk -t2 -c100 -d3s -s Benchmarks/scripts/ask.lua "http://127.0.0.1:$port/v1/ask" > /dev/null
done
for round in $(seq "$rounds"); do
  "$bench" sleep --tasks 100 --delay-ms 50 --seconds 5 > "$out/sleep.r$round.json"
  case $((round % 4)) in
    1) configs="shared pinned shared+log pinned+log" ;;
    2) configs="pinned+log shared pinned shared+log" ;;
    3) configs="shared+log pinned+log shared pinned" ;;
    0) configs="pinned shared+log pinned+log shared" ;;
  esac
  case $((round % 3)) in
    1) routes="ask floor engine" ;;
    2) routes="engine ask floor" ;;
    0) routes="floor engine ask" ;;
  esac
  for config in $configs; do
    cores=1; client="taskset -c 0"; port=18502
    case $config in shared*) cores=0-1; client="" ;; esac
    case $config in *+log) port=18504 ;; esac
    for pid in $quiet $logged; do taskset -a -cp "$cores" "$pid" > /dev/null; done
    for route in $routes; do
      case $route in ask) path=/v1/ask ;; floor) path=/floor ;; engine) path=/floor/engine ;; esac
      $client wrk -t2 -c100 -d15s --latency -s Benchmarks/scripts/ask.lua "http://127.0.0.1:$port$path" > "$out/$route-50ms-$config.r$round.txt"
      [ "$route" = floor ] && curl -s "http://127.0.0.1:$port/floor/overshoot" > "$out/overshoot-$config.r$round.json"
    done
  done
done
for pid in $quiet $logged; do kill "$pid"; wait "$pid" 2>/dev/null || true; done

if [ "$sections" = all ]; then
  serve 18503 --delay-ms 250 --tokens 40
  for round in $(seq "$rounds"); do
    python3 Benchmarks/scripts/streams.py --port 18503 --pid "$PID" --streams 1000 --timeout 120 > "$out/streams.r$round.json"
  done
  kill "$PID"; wait "$PID" 2>/dev/null || true
fi
cut -d' ' -f1-3 /proc/loadavg > "$out/loadavg-end.txt"

python3 - "$out" "$rounds" "$sections" <<'PY'
import json, os, statistics, sys
sys.path.insert(0, "Benchmarks/scripts")
from common import wrk_result, write_targets
out, rounds, sections = sys.argv[1], int(sys.argv[2]), sys.argv[3]
targets = []
def run(name, r): return wrk_result(f"{out}/{name}.r{r}.txt")
def med(values): return statistics.median(values)
def table(names):
    print("| load | requests/s | p50 | p99 | non-2xx or socket errors |")
    print("|---|---|---|---|---|")
    for name, label in names:
        rows = [run(name, r) for r in range(1, rounds + 1)]
        print(f"| {label} | {med(r['rps'] for r in rows):,.0f} | {med(r['p50'] for r in rows):.2f} ms | "
              f"{med(r['p99'] for r in rows):.2f} ms | {sum(r['errors'] for r in rows)} |")
print(f"load average (1, 5, 15 min) at start: {open(out + '/loadavg-start.txt').read().strip()}; "
      f"at end: {open(out + '/loadavg-end.txt').read().strip()}\n")
if sections == "all":
    table([("healthz", "/healthz, 100 connections"), ("ask-instant", "/v1/ask, instant model, 100 connections")])
    print()
print(f"50 ms model, 100 connections (wrk -t2 -c100 -d15s), medians of {rounds} rounds:\n")
print("| configuration | route | requests/s | p50 | p99 | p99 − 50 ms | /v1/ask p99 − this p99 | Task.sleep overshoot p99 |")
print("|---|---|---|---|---|---|---|---|")
for config in ["shared", "shared+log", "pinned", "pinned+log"]:
    ask = [run(f"ask-50ms-{config}", r) for r in range(1, rounds + 1)]
    floor = [run(f"floor-50ms-{config}", r) for r in range(1, rounds + 1)]
    engine = [run(f"engine-50ms-{config}", r) for r in range(1, rounds + 1)]
    over = [json.load(open(f"{out}/overshoot-{config}.r{r}.json"))["p99_ms"] for r in range(1, rounds + 1)]
    gap = lambda base: f"{med(a['p99'] - b['p99'] for a, b in zip(ask, base)):.2f} ms"
    for route, rows, extra, sleep in [
        ("/v1/ask", ask, "", ""), ("/floor", floor, gap(floor), f"{med(over):.2f} ms"), ("/floor/engine", engine, gap(engine), ""),
    ]:
        errors = sum(r["errors"] for r in rows)
        print(f"| {config} | {route} | {med(r['rps'] for r in rows):,.0f} | {med(r['p50'] for r in rows):.2f} ms | "
              f"{med(r['p99'] for r in rows):.2f} ms | {med(r['p99'] - 50 for r in rows):.2f} ms | {extra} | {sleep} |"
              + (f" ({errors} errors)" if errors else ""))
    rounds_text = lambda base: ", ".join(f"{a['p99'] - b['p99']:.2f}" for a, b in zip(ask, base))
    if config == "shared":
        targets.append({"target": "what the server adds to an answer: /v1/ask p99 − Engine.ask p99 (/floor/engine), 50 ms model, 100 connections (information)",
                        "figure": f"/v1/ask p99 {med(r['p99'] for r in ask):.2f} ms", "baseline": f"/floor/engine p99 {med(r['p99'] for r in engine):.2f} ms",
                        "ratio": f"{med(a['p99'] - b['p99'] for a, b in zip(ask, engine)):+.2f} ms", "verdict": "information"})
    print(f"| {config} | per round: /v1/ask p99 − /floor p99 {rounds_text(floor)} ms; − /floor/engine p99 {rounds_text(engine)} ms | | | | | | |")
idle = [json.load(open(f"{out}/sleep.r{r}.json")) for r in range(1, rounds + 1)]
print(f"\naccess log lines written by the +log server: {sum(1 for _ in open(out + '/serve-18504.log'))}")
print(f"Task.sleep(50 ms) overshoot with nothing else running (100 tasks, RAGBench sleep): "
      f"p50 {med(s['p50_ms'] for s in idle):.2f} ms, p99 {med(s['p99_ms'] for s in idle):.2f} ms")
print("(/v1/ask p99 − floor p99 is taken within each round, then the median; overshoot is in 10 µs buckets; the floor's")
print(" overshoot is of its own sleeps, the /floor/engine sleeps are inside the mock)")
if sections == "all":
    streams = [json.load(open(f"{out}/streams.r{r}.json")) for r in range(1, rounds + 1)]
    print("\n| streams | open at once | completed | RSS before | RSS peak |")
    print("|---|---|---|---|---|")
    for s in streams:
        print(f"| {s['streams']} | {s['streaming_at_once']} | {s['completed']} | {s['rss_before_mib']} MiB | {s['rss_peak_mib']} MiB |")
    print(f"\nmedian peak RSS with 1,000 open streams: {med(s['rss_peak_mib'] for s in streams)} MiB")
    targets.append({"target": "1,000 streams open at once (information)", "figure": f"peak RSS {med(s['rss_peak_mib'] for s in streams)} MiB",
                    "baseline": f"before {med(s['rss_before_mib'] for s in streams)} MiB", "ratio": "",
                    "verdict": "information" if all(s["completed"] == s["streams"] for s in streams) else "not met (streams failed)"})
write_targets(out, "server", f"Benchmarks/scripts/server.sh {rounds} {sections}", targets)
PY
