#!/usr/bin/env bash
# Retrieval quality regression check (part of scripts/test.sh): fetches the evaluation PDFs (Debian doc
# packages), runs `rag eval` on eval/questions.jsonl + eval/unanswerable.jsonl (both halves of the split: this
# guards against regressions, it tunes nothing) with the retrievers that need no model (hashed vectors, BM25,
# hybrid of the two) and fails when a score falls below the floor recorded here. `rag eval` also checks that the
# split is by document. Retrieval is deterministic, so the floors sit just under the figures in docs/retrieval.md;
# a change that moves them must update both. MiniLM is left out: its ingestion of 1,701 pages takes minutes in a
# debug build (run `rag eval` from a release build for the full table, as docs/retrieval.md shows).
# Usage: scripts/check-retrieval.sh [rag executable, default .build/debug/rag]
set -euo pipefail
cd "$(dirname "$0")/.."

rag="${1:-.build/debug/rag}"
bash scripts/fetch-eval-pdfs.sh eval/pdfs >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$rag" eval eval/questions.jsonl eval/unanswerable.jsonl --documents eval/pdfs --work-dir "$work" \
  --retrievers hashed,bm25,hybrid-hashed --json >"$work/result.json"

python3 - "$work/result.json" <<'PY'
import json, sys

result = json.load(open(sys.argv[1]))
# name -> (all MRR@10 floor, all recall@10 floor, literal MRR@10 floor), from docs/retrieval.md minus 0.01.
floors = {
    "hashed": (0.356, 0.537, 0.622),
    "bm25": (0.491, 0.674, 0.777),
    "hybrid-hashed": (0.545, 0.69, 0.837),
}
assert result["questions"] == 307 and result["paraphrased"] == 157 and result["unanswerable"] == 65, result
assert len(result["documents"]) == 8, result["documents"]
failures = []
for retriever in result["retrievers"]:
    name = retriever["name"]
    mrr, recall, literal = floors[name]
    got = (retriever["all"]["mrr@10"], retriever["all"]["recall@10"], retriever["literal"]["mrr@10"])
    print(f"{name:14} MRR@10 {got[0]:.3f} (floor {mrr})  recall@10 {got[1]:.3f} (floor {recall})  literal MRR@10 {got[2]:.3f} (floor {literal})")
    for value, floor, what in zip(got, (mrr, recall, literal), ("MRR@10", "recall@10", "literal MRR@10")):
        if value < floor:
            failures.append(f"{name}: {what} {value:.3f} is below {floor}")
hybrid = next(r for r in result["retrievers"] if r["name"] == "hybrid-hashed")
bm25 = next(r for r in result["retrievers"] if r["name"] == "bm25")
if hybrid["all"]["mrr@10"] < bm25["all"]["mrr@10"]:
    failures.append("hybrid-hashed ranks worse than BM25 alone: its fusion weight no longer fits")
if failures:
    print("retrieval quality regressed:\n  " + "\n  ".join(failures))
    sys.exit(1)
print("retrieval quality: ok")
PY
