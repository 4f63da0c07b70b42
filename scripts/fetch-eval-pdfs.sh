#!/usr/bin/env bash
# Fetch the real-world PDFs used by the retrieval evaluation set (eval/questions.jsonl).
#
# The PDFs come from Debian documentation packages, installed with apt-get, and are
# copied (decompressed if shipped as .pdf.gz) into a target directory.
#
# Usage: bash scripts/fetch-eval-pdfs.sh [TARGET_DIR]
#   TARGET_DIR defaults to eval/pdfs (relative to the repository root).
#
# Idempotent: packages already installed are not reinstalled, and files already in
# place with identical content are left alone.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

target="${1:-eval/pdfs}"

# Debian package -> PDF shipped by it (path may also exist as PATH.gz).
packages=(octave-doc texlive-latex-base-doc bash-doc debian-policy glpk-doc xmlstarlet developers-reference)
sources=(
    /usr/share/doc/octave/octave.pdf
    /usr/share/doc/texlive-doc/latex/base/clsguide.pdf
    /usr/share/doc/texlive-doc/latex/amsmath/amsldoc.pdf
    /usr/share/doc/bash/bashref.pdf
    /usr/share/doc/debian-policy/fhs/fhs-3.0.pdf
    /usr/share/doc/glpk-doc/gmpl.pdf
    /usr/share/doc/xmlstarlet/xmlstarlet-ug.pdf
    /usr/share/developers-reference/developers-reference.pdf
)

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo)
fi

missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -gt 0 ]; then
    echo "Installing: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
        echo "apt-get install failed; running apt-get update and retrying" >&2
        "${SUDO[@]}" apt-get update
        "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
    fi
fi

mkdir -p "$target"

for src in "${sources[@]}"; do
    name="$(basename "$src")"
    dest="$target/$name"
    tmp="$dest.tmp.$$"
    if [ -f "$src" ]; then
        cp "$src" "$tmp"
    elif [ -f "$src.gz" ]; then
        gzip -dc "$src.gz" > "$tmp"
    else
        echo "error: neither $src nor $src.gz exists (is the package installed?)" >&2
        exit 1
    fi
    if [ -f "$dest" ] && cmp -s "$tmp" "$dest"; then
        rm -f "$tmp"
    else
        mv -f "$tmp" "$dest"
    fi
    echo "$dest"
done
