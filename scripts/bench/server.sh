#!/usr/bin/env bash
# Load tests of rag-server on loopback (release build, mock LLM; see Benchmarks/RAGBench/ServeBench.swift):
#   1. /healthz and /v1/ask with an instant model: requests/s and latency percentiles (wrk, 100 connections);
#   2. /v1/ask with a model that takes 50 ms: p99 − 50 ms is what the server adds at 100 concurrent clients;
#   3. 1,000 concurrent streaming answers from a slow model: the server's memory while all are open.
# Every run is bounded in time; the client shares the machine's 2 cores with the server.
# Usage: scripts/bench/server.sh [ROUNDS]   (default 3; results in bench-data/server-<stamp>/)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
command -v wrk >/dev/null || { echo "server.sh: wrk is missing (apt-get install wrk)" >&2; exit 1; }
swift build -c release --product RAGBench >/dev/null
bench=.build/release/RAGBench
out="bench-data/server-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"

serve() {  # serve PORT ARGS... → sets PID
  "$bench" serve --port "$1" "${@:2}" > "$out/serve-$1.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do grep -q "serving on" "$out/serve-$1.log" 2>/dev/null && return; sleep 0.1; done
  echo "server.sh: the server on port $1 did not start" >&2; cat "$out/serve-$1.log" >&2; exit 1
}

serve 18501
for round in $(seq "$rounds"); do
  wrk -t2 -c100 -d10s --latency "http://127.0.0.1:18501/healthz" > "$out/healthz.r$round.txt"
  wrk -t2 -c100 -d10s --latency -s scripts/bench/ask.lua "http://127.0.0.1:18501/v1/ask" > "$out/ask-instant.r$round.txt"
done
kill "$PID"; wait "$PID" 2>/dev/null || true

serve 18502 --delay-ms 50
for round in $(seq "$rounds"); do
  wrk -t2 -c100 -d15s --latency -s scripts/bench/ask.lua "http://127.0.0.1:18502/v1/ask" > "$out/ask-50ms.r$round.txt"
done
kill "$PID"; wait "$PID" 2>/dev/null || true

serve 18503 --delay-ms 250 --tokens 40
for round in $(seq "$rounds"); do
  python3 scripts/bench/streams.py --port 18503 --pid "$PID" --streams 1000 --timeout 120 > "$out/streams.r$round.json"
done
kill "$PID"; wait "$PID" 2>/dev/null || true

python3 - "$out" "$rounds" <<'PY'
import json, re, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def unit(value):
    number, suffix = float(re.match(r"[\d.]+", value).group()), re.sub(r"[\d.]+", "", value)
    return number * {"us": 1e-3, "ms": 1, "s": 1e3, "m": 6e4}[suffix]
def wrk(name):
    rows = []
    for r in range(1, rounds + 1):
        text = open(f"{out}/{name}.r{r}.txt").read()
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
        pct = {p: unit(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", text, re.M)}
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
        rows.append((rps, pct["50"], pct["99"], int(errors.group(1)) if errors else 0))
    med = lambda i: statistics.median(row[i] for row in rows)
    return med(0), med(1), med(2), sum(row[3] for row in rows)
print("| load | requests/s | p50 | p99 | non-2xx |")
print("|---|---|---|---|---|")
for name, label in [("healthz", "/healthz, 100 connections"), ("ask-instant", "/v1/ask, instant model, 100 connections"), ("ask-50ms", "/v1/ask, 50 ms model, 100 connections")]:
    rps, p50, p99, errors = wrk(name)
    print(f"| {label} | {rps:,.0f} | {p50:.2f} ms | {p99:.2f} ms | {errors} |")
rps, p50, p99, _ = wrk("ask-50ms")
print(f"\nserver added at p99 with a 50 ms model: {p99 - 50:.2f} ms (median of {rounds} runs)")
streams = [json.load(open(f"{out}/streams.r{r}.json")) for r in range(1, rounds + 1)]
print("\n| streams | open at once | completed | RSS before | RSS peak |")
print("|---|---|---|---|---|")
for s in streams:
    print(f"| {s['streams']} | {s['streaming_at_once']} | {s['completed']} | {s['rss_before_mib']} MiB | {s['rss_peak_mib']} MiB |")
print(f"\nmedian peak RSS with 1,000 open streams: {statistics.median(s['rss_peak_mib'] for s in streams)} MiB")
PY
