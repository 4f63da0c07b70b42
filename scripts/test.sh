#!/usr/bin/env bash
# Runs the whole test suite from a fresh machine: install packages, build every product (the CLI tests run
# the real `rag` binary), then `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
swift build
swift test "$@"
