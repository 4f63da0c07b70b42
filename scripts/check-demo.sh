#!/usr/bin/env bash
# Runs the README's main-job command as a new user would, without the server (DEMO_SERVE=0), into a new collection,
# and checks what that user must see: the sample ingested with the local MiniLM model, an answer to the question with
# a citation to the handbook's page, and the same collection answering `rag ask` and passing `rag doctor` from another
# working directory (where the model must still be found).
# Usage: scripts/check-demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "check-demo: FAILED: $*" >&2; echo "--- demo output ---" >&2; cat "$work/demo.log" >&2; exit 1; }

echo "check-demo: DEMO_SERVE=0 scripts/demo.sh" >&2
DEMO_SERVE=0 DEMO_COLLECTION="$work/collection" scripts/demo.sh >"$work/demo.log" 2>&1 || fail "scripts/demo.sh exited $?"
grep -q "embedder minilm-l6-v2-d384" "$work/demo.log" || fail "the sample was not embedded with MiniLM (rag list's header)"
grep -q "25 days of paid vacation" "$work/demo.log" || fail "the answer does not quote the vacation policy"
grep -Eq '^\s+\[1\] handbook\.pdf p\. 2\b' "$work/demo.log" || fail "the answer has no citation of handbook.pdf p. 2"

bin=$(swift build -c release --show-bin-path)
cd "$work"
RAG_COLLECTION="$work/collection" "$bin/rag" ask "How long is parental leave?" >"$work/ask.log" 2>&1 \
  || { cat "$work/ask.log" >&2; fail "rag ask from another directory exited non-zero"; }
grep -q "20 weeks" "$work/ask.log" || { cat "$work/ask.log" >&2; fail "rag ask from another directory did not find the answer"; }
RAG_COLLECTION="$work/collection" "$bin/rag" doctor >"$work/doctor.log" 2>&1 \
  || { cat "$work/doctor.log" >&2; fail "rag doctor found a problem"; }
grep -Eq '^ok +model ' "$work/doctor.log" || { cat "$work/doctor.log" >&2; fail "rag doctor does not find the model"; }
echo "check-demo: ok (answer with a citation of handbook.pdf p. 2; rag ask and rag doctor work from another directory)" >&2
