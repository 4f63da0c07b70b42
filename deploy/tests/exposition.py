"""Real /metrics text for the name checks and the scrape test.

With a real rag-server built (.build/release or .build/debug, it knows --metrics-port): start it on 127.0.0.1
with a small collection and a fake OpenAI server, ask and search once, and read GET /metrics on the metrics port.
When redis-server is installed, the server also gets a throw-away Redis (scripts/redis.sh) the way the chart wires it
(RAG_REDIS_URL without the password, RAG_REDIS_PASSWORD_FILE) and asks one question twice, so that the cache and
Redis families, which it exposes only with Redis configured, are in the text.
Until then: the same engine families from the `rag` CLI's --metrics-file (ingest, extractive ask, search, a
streamed answer through the fake OpenAI server), the engine's golden metrics text, plus the HTTP families of the server
contract (conftest.SERVER_FAMILIES), which are then declared, not observed. `SOURCE` says which one ran.
"""
import contextlib
import json
import os
import pathlib
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

from conftest import ROOT, SERVER_FAMILIES, binary, free_port, real_server
from fake_openai import FakeOpenAI

QUESTION = "How many vacation days do employees get?"


def _corpus(directory):
    docs = directory / "docs"
    docs.mkdir()
    (docs / "handbook.txt").write_text("Vacation.\n\nEmployees get 25 vacation days per year. Unused days expire in March.\n\f"
                                       "Expenses.\n\nTravel is reimbursed within 30 days of a claim.\n")
    (docs / "broken.pdf").write_bytes(b"this is not a PDF at all")
    return docs


def _env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RAG_"))}
    env.update({"RAG_LLM_MAX_ATTEMPTS": "1", "no_proxy": "127.0.0.1,localhost"})
    env.update(extra or {})
    return env


def _get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


@contextlib.contextmanager
def running_server(workdir, env_extra=None):
    """A real rag-server on 127.0.0.1 with an ingested collection; yields (api_port, metrics_port)."""
    server, rag = real_server(), binary("rag")
    collection = workdir / "collection"
    subprocess.run([str(rag), "ingest", str(_corpus(workdir)), "--collection", str(collection)], env=_env(),
                   capture_output=True, timeout=120)
    port, metrics_port = free_port(), free_port()
    log = open(workdir / "server.log", "w")
    proc = subprocess.Popen([str(server), "--collection", str(collection), "--host", "127.0.0.1", "--port", str(port),
                             "--metrics-port", str(metrics_port)], env=_env(env_extra), stdout=log, stderr=log)
    try:
        deadline = time.time() + 30
        while True:
            try:
                if _get(f"http://127.0.0.1:{metrics_port}/readyz")[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("rag-server did not become ready: " + (workdir / "server.log").read_text()[-2000:])
            time.sleep(0.2)
        yield port, metrics_port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@contextlib.contextmanager
def throwaway_redis(workdir):
    """The environment that points rag-server at a throw-away Redis on 127.0.0.1 (scripts/redis.sh), as the chart does:
    the URL without its password, the password in a file. Empty when redis-server is not installed."""
    if not shutil.which("redis-server"):
        yield {}
        return
    directory = workdir / "redis"
    script = ROOT / "scripts" / "redis.sh"
    url = subprocess.run(["bash", str(script), "start", str(directory)], capture_output=True, text=True, timeout=60,
                         check=True).stdout.strip().splitlines()[-1]
    try:
        parts = urllib.parse.urlsplit(url)
        password_file = workdir / "redis-password"
        password_file.write_text(parts.password)
        yield {"RAG_REDIS_URL": f"redis://{parts.hostname}:{parts.port}{parts.path}",
               "RAG_REDIS_PASSWORD_FILE": str(password_file)}
    finally:
        subprocess.run(["bash", str(script), "stop", str(directory)], capture_output=True, timeout=60)


def from_server(workdir):
    with FakeOpenAI() as fake, throwaway_redis(workdir) as redis, \
            running_server(workdir, {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "sk-test", **redis}) as (port, metrics_port):
        _post(f"http://127.0.0.1:{port}/v1/search", {"query": "vacation days"})
        _post(f"http://127.0.0.1:{port}/v1/ask", {"question": QUESTION})
        _post(f"http://127.0.0.1:{port}/v1/ask", {"question": QUESTION})  # a cache hit with Redis
        _post(f"http://127.0.0.1:{port}/v1/ask", {"question": "ratelimit: how many days?"})
        return _get(f"http://127.0.0.1:{metrics_port}/metrics")[1]


def from_cli(workdir):
    rag = binary("rag")
    if rag is None:
        raise RuntimeError("no rag binary: run `swift build --product rag` first (scripts/check-deploy.sh does)")
    collection, texts = workdir / "collection", []

    def run(name, args, env=None):
        out = workdir / f"{name}.prom"
        subprocess.run([str(rag), *args, "--collection", str(collection), "--metrics-file", str(out)],
                       env=_env(env), capture_output=True, timeout=120)
        texts.append(out.read_text() if out.exists() else "")

    run("ingest", ["ingest", str(_corpus(workdir))])            # exit 3: broken.pdf is not a PDF
    run("ask", ["ask", QUESTION, "--llm", "extractive"])
    run("search", ["search", "vacation days"])
    with FakeOpenAI() as fake:
        llm = {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "sk-test"}
        run("ask-llm", ["ask", QUESTION, "--llm", "openai"], llm)
        run("ask-ratelimited", ["ask", "ratelimit: how many days?", "--llm", "openai"], llm)
    # A failing command writes no metrics file, so rag_llm_errors_total comes from the engine's golden /metrics
    # text (Tests/RAGCoreTests/Golden/metrics.prom, which a Swift test compares with the registry's real output).
    texts.append((ROOT / "Tests" / "RAGCoreTests" / "Golden" / "metrics.prom").read_text())
    declared = "".join(f"# TYPE {name} {kind}\n" for name, kind in SERVER_FAMILIES.items())
    return "\n".join(texts) + declared


SOURCE = "server" if real_server() else "cli"


def exposition(workdir):
    return from_server(workdir) if SOURCE == "server" else from_cli(workdir)


def sample_names(text):
    """Sample names in exposition text (for histograms: _bucket, _sum, _count), plus the names of declared
    families (with their histogram suffixes)."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            if name in SERVER_FAMILIES and SOURCE == "cli":
                names |= {name + s for s in ("_bucket", "_sum", "_count")} if kind == "histogram" else {name}
        elif line and not line.startswith("#"):
            names.add(line.split("{", 1)[0].split(" ", 1)[0])
    return names
