#!/usr/bin/env python3
"""Replica lag: how long after a document is `ready` on replica A it is searchable on replica B.

Starts two `rag-server` processes (release build) on one store (`--collection DIR`, or `--database-url URL`),
uploads N small text documents to A one at a time (queued uploads), and for each one measures
  - ready:   upload to `ready` on A's status URL (polled every 2 ms);
  - lag:     `ready` on A to the first search on B (lexical, for the document's own token) that finds it, polled
             every 2 ms, without min_index_version (B follows the change log: LISTEN/NOTIFY on PostgreSQL, the
             --reload-interval poll on SQLite);
  - pinned:  the same search on a third replica C with min_index_version (the read-your-writes path: answered once C
             has applied the version), which is the baseline a client can always have.
Prints one JSON object with the medians and p99s (milliseconds).

Usage: Benchmarks/scripts/replicas.py [--database-url URL | --collection DIR] [--documents 200] [--reload-interval 10]
Only loopback is used.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def request(base, method, path, body=None, content_type="application/json"):
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def start(binary, store, reload_interval, log):
    process = subprocess.Popen(
        [binary, "--host", "127.0.0.1", "--port", "0", "--metrics-port", "0", "--log-format", "json", "--log-level", "info",
         "--upload-mode", "queued", "--rate-limit", "0", "--llm", "extractive", "--reload-interval", str(reload_interval)] + store,
        stdout=log, stderr=subprocess.STDOUT, env={k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))})
    deadline = time.time() + 60
    while time.time() < deadline:
        with open(log.name) as f:
            for line in f:
                if '"serving"' in line:
                    port = json.loads(line).get("http.port")
                    if port:
                        return process, f"http://127.0.0.1:{port}"
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    sys.exit(f"rag-server did not start; see {log.name}")


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--collection")
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--reload-interval", type=float, default=10)
    args = parser.parse_args()
    binary = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.strip() + "/rag-server"
    store = ["--database-url", args.database_url] if args.database_url else ["--collection", args.collection or tempfile.mkdtemp()]
    logs = [tempfile.NamedTemporaryFile("w", suffix=f"-{name}.log", delete=False) for name in "abc"]
    servers = [start(binary, store, args.reload_interval, log) for log in logs]
    (_, a), (_, b), (_, c) = servers
    ready_ms, lag_ms, pinned_ms = [], [], []
    try:
        for i in range(args.documents):
            token = f"zq{i:05d}marker"
            text = f"Document {i}. The {token} appears only here, with a few more words about procedure {i}.\n".encode()
            started = time.perf_counter()
            status, job = request(a, "POST", f"/v1/documents?filename=doc-{i}.txt", text, "text/plain")
            assert status in (200, 202), (status, job)
            while job.get("status") not in ("ready", "failed"):
                time.sleep(0.002)
                _, job = request(a, "GET", job["status_url"])
            assert job["status"] == "ready", job
            ready = time.perf_counter()
            ready_ms.append((ready - started) * 1000)
            version = job["index_version"]
            status, pinned = request(c, "POST", "/v1/search", {"query": token, "retrieval": "lexical", "k": 1, "min_index_version": version})
            assert status == 200 and pinned["hits"], (status, pinned)
            pinned_ms.append((time.perf_counter() - ready) * 1000)
            while True:
                _, found = request(b, "POST", "/v1/search", {"query": token, "retrieval": "lexical", "k": 1})
                if found.get("hits") and token in found["hits"][0]["text"]:
                    break
                time.sleep(0.002)
            lag_ms.append((time.perf_counter() - ready) * 1000)
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait(timeout=30)
    summary = {
        "store": "postgresql" if args.database_url else "sqlite", "documents": args.documents,
        "reload_interval_s": args.reload_interval,
        "upload_to_ready_ms": {"median": round(percentile(ready_ms, 50), 1), "p99": round(percentile(ready_ms, 99), 1)},
        "ready_to_found_on_b_ms": {"median": round(percentile(lag_ms, 50), 1), "p99": round(percentile(lag_ms, 99), 1),
                                   "max": round(max(lag_ms), 1)},
        "ready_to_found_with_min_index_version_ms": {"median": round(percentile(pinned_ms, 50), 1),
                                                     "p99": round(percentile(pinned_ms, 99), 1)},
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
