#!/usr/bin/env bash
# Idempotently install what the benchmarks and their baselines need (Debian 12 + PyPI), after what the build needs
# (scripts/setup.sh: the libraries, the MiniLM model). Every benchmark script runs it first (SKIP_SETUP=1 skips it).
#   bash Benchmarks/scripts/setup.sh
# Safe to re-run: skips apt-get when the packages are present, and pip when the
# pinned versions are already installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/setup.sh >&2

# r-doc-pdf: the 3,000-page PDF the extraction benchmarks read; hyperfine and gcc: the C and command baselines; wrk,
# util-linux (taskset): the server load tests; redis-server, redis-tools: the cache benchmark; tesseract: the OCR
# baseline.
APT_PKGS=(r-doc-pdf hyperfine gcc wrk util-linux redis-server redis-tools tesseract-ocr tesseract-ocr-eng)
PIP_PINS=(
  "pymupdf==2.0"
  "numpy==2.4.6"
  "langchain-text-splitters==1.1.3"
  "threadpoolctl==3.8.0"
)
PYTHON="${PYTHON:-python3}"

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "setup: apt packages present (${APT_PKGS[*]})"
fi

need_pip=0
for pin in "${PIP_PINS[@]}"; do
  name="${pin%%==*}"; want="${pin##*==}"
  # `pip show` fails for a package that is not installed: under pipefail that must mean "install it", not "stop".
  have="$("$PYTHON" -m pip show "$name" 2>/dev/null | awk '/^Version:/{print $2}' || true)"
  [ "$have" = "$want" ] || need_pip=1
done
if ((need_pip)); then
  echo "setup: pip install ${PIP_PINS[*]}"
  "$PYTHON" -m pip install --disable-pip-version-check -q "${PIP_PINS[@]}"
else
  echo "setup: pip pins present (${PIP_PINS[*]})"
fi

test -f /usr/share/R/doc/manual/fullrefman.pdf || { echo "setup: fullrefman.pdf missing after install" >&2; exit 1; }
echo "setup: ok"
