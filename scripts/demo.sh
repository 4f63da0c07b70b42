#!/usr/bin/env bash
# The main job on the embedded default, from a fresh machine: install packages and the local model, build, make a
# sample PDF, ingest it, answer a question with citations, then serve the chat page over the same collection.
# No network and no API key are needed.
# Usage: scripts/demo.sh ["your question"]        (Ctrl-C stops the server)
#        DEMO_SERVE=0 scripts/demo.sh             (ingest and answer only, no server)
#        DEMO_PORT=8501 scripts/demo.sh           (the chat page's port; metrics on DEMO_PORT+1)
#        DEMO_COLLECTION=DIR scripts/demo.sh      (the collection directory; default sample/collection)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
# One build of every product (rag and rag-server). Naming several --product flags builds only the last one.
swift build -c release
bin=$(swift build -c release --show-bin-path)
python3 scripts/make-sample-pdf.py sample/handbook.pdf >/dev/null

export RAG_COLLECTION=${DEMO_COLLECTION:-$PWD/sample/collection}
"$bin/rag" ingest sample/handbook.pdf
"$bin/rag" list
question=${1:-"How many vacation days do employees get per year?"}
echo
echo "Q: $question"
"$bin/rag" ask "$question"

echo
echo "Ask more from anywhere:  export PATH=\"$bin:\$PATH\" RAG_COLLECTION=\"$RAG_COLLECTION\"; rag ask \"...\""
echo "Check the installation:  rag doctor"
if [[ "${DEMO_SERVE:-1}" != "0" ]]; then
  port=${DEMO_PORT:-8501}
  echo
  echo "Chat page: http://127.0.0.1:$port/   (metrics: http://127.0.0.1:$((port + 1))/metrics; Ctrl-C stops)"
  exec "$bin/rag-server" --host 127.0.0.1 --port "$port" --metrics-port "$((port + 1))" --log-format text
fi
