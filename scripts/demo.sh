#!/usr/bin/env bash
# The main job on the embedded default, from a fresh machine: install packages, build, make a sample PDF,
# ingest it, and answer a question with citations. No network and no API key are needed.
# Usage: scripts/demo.sh ["your question"]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
swift build -c release --product rag
rag=".build/release/rag"
python3 scripts/make-sample-pdf.py sample/handbook.pdf >/dev/null

export RAG_COLLECTION="$PWD/sample/collection"
"$rag" ingest sample/handbook.pdf
question=${1:-"How many vacation days do employees get per year?"}
echo
echo "Q: $question"
"$rag" ask "$question"
