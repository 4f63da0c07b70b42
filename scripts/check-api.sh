#!/usr/bin/env bash
# Checks the live server against docs/openapi.yaml with Schemathesis (PyPI): it generates valid and invalid requests
# for every operation from the spec (examples, boundary values, fuzzing, and stateful sequences such as upload then
# delete) and fails on a 5xx, a status or body the spec does not declare, a valid request refused, an invalid one
# accepted, or a method that should be 405. One rag-server (the debug build) on 127.0.0.1 with a fresh collection
# holding the sample handbook; the API port first, then /metrics on the metrics port. Bounded: SCHEMATHESIS_EXAMPLES
# (default 50) examples per operation, a fixed seed (SCHEMATHESIS_SEED, default 1) so that a CI run is repeatable,
# and a time limit of 10 minutes. Per-operation exceptions are in scripts/schemathesis.toml, each with its reason.
#
# Usage: scripts/check-api.sh            (scripts/test.sh runs it after `swift build`; SKIP_API=1 skips it there)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

python=${PYTHON:-python3}
pin=schemathesis==4.32.5
if ! "$python" -c 'import sys; from importlib.metadata import version; sys.exit(version("schemathesis") != sys.argv[1])' \
  "${pin#*==}" 2>/dev/null; then
  echo "check-api: installing $pin" >&2
  "$python" -m pip install --quiet --disable-pip-version-check "$pin"
fi
st=("$python" -m schemathesis.cli)

bin=$(swift build --show-bin-path)
[[ -x "$bin/rag-server" ]] || swift build --product rag-server

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
metrics_port=$(free_port)
while [[ "$metrics_port" == "$port" ]]; do metrics_port=$(free_port); done

"$python" scripts/make-sample-pdf.py "$work/handbook.pdf" >/dev/null
# No rate limit (Schemathesis sends bursts); everything else at its default.
RAG_COLLECTION="$work/collection" RAG_HOST=127.0.0.1 RAG_PORT=$port RAG_METRICS_PORT=$metrics_port RAG_RATE_LIMIT=0 \
  RAG_LOG_LEVEL=warning "$bin/rag-server" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$metrics_port/readyz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; echo "check-api: rag-server exited" >&2; exit 1; }
  sleep 0.2
done
curl -sf -X POST -H 'Content-Type: application/pdf' --data-binary "@$work/handbook.pdf" \
  "http://127.0.0.1:$port/v1/documents?filename=handbook.pdf" >/dev/null

common=(--checks all --max-examples "${SCHEMATHESIS_EXAMPLES:-50}" --seed "${SCHEMATHESIS_SEED:-1}" --workers 1
  --request-timeout 30 --no-color)
status=0
echo "check-api: schemathesis against the API on 127.0.0.1:$port" >&2
(cd "$work" && timeout 600 "${st[@]}" --config-file "$root/scripts/schemathesis.toml" run "$root/docs/openapi.yaml" \
  --url "http://127.0.0.1:$port" --exclude-path /metrics "${common[@]}") || status=1
echo "check-api: schemathesis against /metrics on 127.0.0.1:$metrics_port" >&2
(cd "$work" && timeout 300 "${st[@]}" --config-file "$root/scripts/schemathesis.toml" run "$root/docs/openapi.yaml" \
  --url "http://127.0.0.1:$metrics_port" --include-path /metrics "${common[@]}") || status=1

if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "check-api: rag-server died during the run" >&2
  status=1
fi
if ((status)); then
  echo "check-api: FAILED (server log: last lines below)" >&2
  tail -n 40 "$work/server.log" >&2
  exit 1
fi
echo "check-api: ok" >&2
