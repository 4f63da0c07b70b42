#!/usr/bin/env bash
# Runs the whole test suite from a fresh machine: install packages and the local model, build every product (the
# CLI, server and browser tests run the real binaries), `swift test`, then the README's main-job command as a new
# user runs it (scripts/check-demo.sh: `DEMO_SERVE=0 scripts/demo.sh`, an answer with a citation must come out), the
# retrieval quality check on the evaluation set (scripts/check-retrieval.sh), and the deployment checks (manifests,
# chart, alerts, dashboard, Dockerfile, metric names against the real server, a Prometheus scrape, the podman image).
# After `swift test`, a brief fuzzing run (scripts/fuzz.sh: the multipart parser and the collection decoder under
# libFuzzer and AddressSanitizer, FUZZ_SECONDS=30 each, built in .build-fuzz/), and Schemathesis against the live
# server and docs/openapi.yaml (scripts/check-api.sh, bounded: 50 examples per operation, a fixed seed).
# Usage: scripts/test.sh [swift test arguments]      SKIP_FUZZ=1 skips the fuzzing, SKIP_API=1 the Schemathesis run,
# SKIP_DEMO=1 the demo check, SKIP_RETRIEVAL=1 the retrieval check, SKIP_DEPLOY=1 the deployment checks.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
swift build
# The PostgreSQL store's tests: one throw-away server for the run (each test makes its own database in it).
if [[ -z "${RAG_TEST_DATABASE_URL:-}" ]]; then
  pg_dir=$(mktemp -d /tmp/rag-test-postgres.XXXXXX)
  trap 'scripts/postgres.sh stop "$pg_dir"' EXIT
  RAG_TEST_DATABASE_URL=$(scripts/postgres.sh start "$pg_dir")
  export RAG_TEST_DATABASE_URL
fi
swift test "$@"
if [[ "${SKIP_FUZZ:-0}" != "1" ]]; then
  scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
fi
if [[ "${SKIP_API:-0}" != "1" ]]; then
  scripts/check-api.sh
fi
if [[ "${SKIP_DEMO:-0}" != "1" ]]; then
  scripts/check-demo.sh
fi
if [[ "${SKIP_RETRIEVAL:-0}" != "1" ]]; then
  scripts/check-retrieval.sh
fi
if [[ "${SKIP_DEPLOY:-0}" != "1" ]]; then
  scripts/check-deploy.sh
fi
