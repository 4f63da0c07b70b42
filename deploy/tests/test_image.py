"""The runtime image, built with podman from the Dockerfile (base image made locally by mmdebstrap, binaries built
on the host copied in with BINARIES=prebuilt), runs as non-root on a read-only root filesystem and answers
/healthz. Only --network none or --network host with a 127.0.0.1 bind: never a bridge network."""
import json
import os
import subprocess
import time
import urllib.request

import pytest

from conftest import ROOT, free_port, real_server

pytestmark = pytest.mark.image
IMAGE = "localhost/pdf-chatbot:check"
# Debian 12 minbase made by mmdebstrap and imported by scripts/check-deploy.sh --image (no registry here).
BASE_IMAGE = os.environ.get("PDF_CHATBOT_BASE_IMAGE", "localhost/pdf-chatbot-base:bookworm")
ENV = dict(os.environ, CONTAINERS_CONF=str(ROOT / "deploy" / "podman" / "containers.conf"))


def podman(*args, check=True, timeout=600):
    run = subprocess.run(["podman", *args], capture_output=True, text=True, env=ENV, timeout=timeout)
    if check and run.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    return run


@pytest.fixture(scope="module")
def image():
    assert (ROOT / "deploy" / "prebuilt" / "bin" / "rag").exists(), "run scripts/check-deploy.sh --image"
    podman("build", "--pull=never", "--network", "host", "--format", "docker", "--build-arg", "BINARIES=prebuilt",
           "--build-arg", f"RUNTIME_IMAGE={BASE_IMAGE}",
           "--target", "runtime", "-t", IMAGE, str(ROOT))
    return IMAGE


def test_image_user_is_not_root(image):
    inspect = json.loads(podman("image", "inspect", image).stdout)[0]
    config = inspect["Config"]
    assert config["User"] == "10001:10001"
    out = podman("run", "--rm", "--network", "none", "--read-only", "--entrypoint", "id", image).stdout
    assert out.startswith("uid=10001(rag) gid=10001(rag)"), out
    assert inspect["Healthcheck"]["Test"][0] == "CMD"  # kept because the build uses --format docker


def test_every_library_is_present(image):
    """What the binaries link to. Tesseract is not among it: they dlopen it, for OCR only (next test)."""
    out = podman("run", "--rm", "--network", "none", "--read-only", "--entrypoint", "/bin/sh", image, "-c",
                 "ldd /usr/local/bin/rag /usr/local/bin/rag-server").stdout
    assert "not found" not in out, out


def test_tesseract_is_there_for_ocr(image):
    """Tesseract, which the binaries dlopen to OCR scanned pages (so ldd of them does not show it): the library with
    everything it links to, and the English and orientation data where Debian's build looks (TESSDATA_PREFIX unset),
    readable by the image's user."""
    out = podman("run", "--rm", "--network", "none", "--read-only", "--entrypoint", "/bin/sh", image, "-c",
                 "set -e; ldd $(ls /usr/lib/*/libtesseract.so.5); d=/usr/share/tesseract-ocr/5/tessdata; "
                 "test -r $d/eng.traineddata; test -r $d/osd.traineddata; echo tessdata ok").stdout
    assert "liblept.so.5" in out and "not found" not in out, out
    assert out.rstrip().endswith("tessdata ok"), out


def test_rag_ingests_on_a_read_only_root(image, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "handbook.txt").write_text("Employees get 25 vacation days per year.\n")
    collection = tmp_path / "collection"
    collection.mkdir()
    os.chown(collection, 10001, 10001)  # the volume is writable by the image's user, as fsGroup makes it in k8s
    os.chmod(tmp_path, 0o755)
    run = podman("run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp",
                 "-v", f"{collection}:/data/collection", "-v", f"{docs}:/data/documents:ro", "--entrypoint", "/bin/sh", image, "-c",
                 "rag ingest /data/documents --collection /data/collection && rag search vacation --collection /data/collection")
    assert "vacation" in run.stdout, run.stdout + run.stderr


def test_server_answers_healthz_as_non_root(image, tmp_path):
    if real_server() is None:
        pytest.skip("rag-server is not built yet (the binary in .build does not know --metrics-port)")
    port, metrics_port = free_port(), free_port()
    collection = tmp_path / "collection"
    collection.mkdir()
    os.chown(collection, 10001, 10001)
    os.chmod(tmp_path, 0o755)
    cid = podman("run", "-d", "--rm", "--network", "host", "--read-only", "--tmpfs", "/tmp",
                 "-v", f"{collection}:/data/collection",
                 "-e", "RAG_HOST=127.0.0.1", "-e", f"RAG_PORT={port}", "-e", f"RAG_METRICS_PORT={metrics_port}",
                 image).stdout.strip()
    try:
        deadline, body = time.time() + 30, None
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/healthz", timeout=2) as r:
                    body = (r.status, json.loads(r.read()))
                    break
            except OSError:
                time.sleep(0.3)
        assert body == (200, {"status": "ok"}), podman("logs", cid, check=False).stderr[-2000:]
        assert podman("exec", cid, "id", "-u").stdout.strip() == "10001"
        assert podman("healthcheck", "run", cid, check=False).returncode == 0
    finally:
        podman("stop", "-t", "35", cid, check=False)
