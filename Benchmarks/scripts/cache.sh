#!/usr/bin/env bash
# The response cache's speed target (issue #16): a cache hit for /v1/ask at 100 concurrent clients against the same
# request answered by the instant mock model without Redis, in the same run (release RAGBench serve, wrk -t2 -c100,
# Benchmarks/scripts/ask.lua's one question, so every request after the first is a hit). Three servers, their runs
# interleaved round by round:
#   baseline:       no Redis; the question answered by the mock model (retrieval, prompt, the mock's stream); the
#                   rate limit local (a limit so high it refuses nothing, so that its cost is in both);
#   hit:            the answer from Redis (GET), the rate limit local: 1 Redis round trip per request;
#   hit+shared-rl:  the answer from Redis, the rate limit in Redis (EVALSHA): 2 round trips per request, as
#                   rag-server runs with RAG_REDIS_URL.
# Redis round trips per request: the commands each server sent (its rag_redis_command_duration_seconds counts), divided
# by wrk's request count.
# Also redis-benchmark (Redis's C client, hiredis) GET at 100 clients on the same machine: the round trip itself.
# Usage: Benchmarks/scripts/cache.sh [ROUNDS]   (default 3; results in bench-data/cache-<stamp>/)
set -euo pipefail
cd "$(dirname "$0")/../.."
export ENABLE_RAG_BENCHMARKS=1
rounds=${1:-3}
[ -n "${SKIP_SETUP:-}" ] || bash Benchmarks/scripts/setup.sh >&2 || { echo "cache.sh: setup failed" >&2; exit 1; }
for tool in wrk redis-server redis-cli redis-benchmark; do
  command -v "$tool" >/dev/null || { echo "cache.sh: $tool is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
if [ -n "${RAGBENCH:-}" ]; then bench=$RAGBENCH; else swift build -c release --product RAGBench >/dev/null; bench=.build/release/RAGBench; fi
out="bench-data/cache-$(date -u +%Y%m%dT%H%M%SZ)-$$"
mkdir -p "$out"
cut -d' ' -f1-3 /proc/loadavg > "$out/loadavg-start.txt"

redis_dir=$(mktemp -d /tmp/rag-bench-redis.XXXXXX)
url=$(scripts/redis.sh start "$redis_dir")
password=${url#redis://:}; password=${password%@*}
port=${url##*:}; port=${port%/*}
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  scripts/redis.sh stop "$redis_dir" >/dev/null 2>&1 || true
}
trap cleanup EXIT
# Round trips: the Redis commands each server sent, from its own metrics (Redis's INFO commandstats counts a script's
# inner calls too).
calls() { curl -s "http://127.0.0.1:$1/floor/redis-commands"; }

serve() {  # serve PORT ARGS...
  "$bench" serve --port "$1" "${@:2}" > "$out/serve-$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q "serving on" "$out/serve-$1.log" 2>/dev/null && return; sleep 0.1; done
  echo "cache.sh: the server on port $1 did not start" >&2; cat "$out/serve-$1.log" >&2; exit 1
}
high=1000000000
serve 18521 --rate-limit "$high"
serve 18522 --rate-limit "$high" --redis-url "$url"
serve 18523 --rate-limit "$high" --redis-url "$url" --shared-rate-limit yes
for port_ in 18521 18522 18523; do  # warm up (and store the answer)
  wrk -t2 -c100 -d3s -s Benchmarks/scripts/ask.lua "http://127.0.0.1:$port_/v1/ask" > /dev/null
done
for round in $(seq "$rounds"); do
  case $((round % 3)) in
    1) order="baseline hit hit+shared-rl" ;;
    2) order="hit+shared-rl baseline hit" ;;
    0) order="hit hit+shared-rl baseline" ;;
  esac
  for variant in $order; do
    case $variant in baseline) p=18521 ;; hit) p=18522 ;; hit+shared-rl) p=18523 ;; esac
    before=$(calls $p)
    wrk -t2 -c100 -d10s --latency -s Benchmarks/scripts/ask.lua "http://127.0.0.1:$p/v1/ask" > "$out/$variant.r$round.txt"
    echo $(( $(calls $p) - before )) > "$out/$variant.r$round.calls"
  done
  redis-benchmark -h 127.0.0.1 -p "$port" -a "$password" -c 100 -n 200000 -t get -q 2>/dev/null | tr '\r' '\n' | grep -a "GET" | tail -1 \
    > "$out/redis-benchmark.r$round.txt" || true
done
curl -s -X POST -H 'Content-Type: application/json' -d '{"question":"How many vacation days do employees receive?"}' \
  -D "$out/headers-hit.txt" -o /dev/null http://127.0.0.1:18522/v1/ask
cut -d' ' -f1-3 /proc/loadavg > "$out/loadavg-end.txt"

python3 - "$out" "$rounds" <<'PY'
import statistics, sys
sys.path.insert(0, "Benchmarks/scripts")
from common import wrk_result, write_targets
out, rounds = sys.argv[1], int(sys.argv[2])
def run(name, r):
    result = wrk_result(f"{out}/{name}.r{r}.txt")
    return {**result, "trips": int(open(f"{out}/{name}.r{r}.calls").read()) / result["requests"]}
med = statistics.median
rows = {v: [run(v, r) for r in range(1, rounds + 1)] for v in ["baseline", "hit", "hit+shared-rl"]}
print(f"load average at start: {open(out + '/loadavg-start.txt').read().strip()}; at end: {open(out + '/loadavg-end.txt').read().strip()}")
print(f"\n/v1/ask, wrk -t2 -c100 -d10s, one question; medians of {rounds} rounds (differences taken within a round):\n")
print("| variant | requests/s | p50 | p99 | p99 − baseline p99 | Redis round trips per request | errors |")
print("|---|---|---|---|---|---|---|")
for variant, label in [("baseline", "baseline: instant mock model, no Redis"), ("hit", "cache hit, rate limit local"),
                       ("hit+shared-rl", "cache hit, rate limit in Redis (as rag-server)")]:
    data = rows[variant]
    gap = med(a["p99"] - b["p99"] for a, b in zip(data, rows["baseline"]))
    print(f"| {label} | {med(r['rps'] for r in data):,.0f} | {med(r['p50'] for r in data):.2f} ms | {med(r['p99'] for r in data):.2f} ms | "
          f"{'' if variant == 'baseline' else f'{gap:+.2f} ms'} | {med(r['trips'] for r in data):.2f} | {sum(r['errors'] for r in data)} |")
for variant in ["hit", "hit+shared-rl"]:
    print(f"per round, {variant} p99 − baseline p99: " + ", ".join(f"{a['p99'] - b['p99']:+.2f}" for a, b in zip(rows[variant], rows["baseline"])) + " ms")
bench = [open(f"{out}/redis-benchmark.r{r}.txt").read().strip() for r in range(1, rounds + 1)]
print("redis-benchmark GET, 100 clients (hiredis): " + " | ".join(b for b in bench if b))
gap = {v: med(a["p99"] - b["p99"] for a, b in zip(rows[v], rows["baseline"])) for v in ["hit", "hit+shared-rl"]}
base_p99 = med(r["p99"] for r in rows["baseline"])
write_targets(out, "cache", f"Benchmarks/scripts/cache.sh {rounds}", [
    {"target": "/v1/ask cache hit, rate limit in Redis (as rag-server runs): p99 within 2 ms of the instant mock model, 100 connections",
     "figure": f"p99 {med(r['p99'] for r in rows['hit+shared-rl']):.2f} ms ({gap['hit+shared-rl']:+.2f} ms)", "baseline": f"p99 {base_p99:.2f} ms",
     "ratio": "", "verdict": "met" if gap["hit+shared-rl"] <= 2 else "not met"},
    {"target": "cache hit, rate limit local (information)", "figure": f"p99 {med(r['p99'] for r in rows['hit']):.2f} ms ({gap['hit']:+.2f} ms)",
     "baseline": f"p99 {base_p99:.2f} ms", "ratio": "", "verdict": "information"},
])
print("X-Cache of a request to the hit server: " + next((l.strip() for l in open(out + "/headers-hit.txt") if l.lower().startswith("x-cache")), "none"))
PY
