"""Shared helpers for the deployment checks (run by scripts/check-deploy.sh)."""
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
CHART = ROOT / "helm" / "pdf-chatbot"
SCHEMAS = ROOT / "deploy" / "schemas"
KUBE_VERSION = "1.33"

# Series that come from Kubernetes itself (kube-state-metrics, cAdvisor, Prometheus), not from rag-server.
KUBERNETES_METRICS = {
    "up",
    "kube_deployment_status_replicas_available",
    "kube_deployment_spec_replicas",
    "kube_job_status_failed",
    "container_cpu_usage_seconds_total",
    "container_memory_working_set_bytes",
}

# The families the HTTP server adds to the engine's (the server contract; docs/monitoring.md). Used only while
# no real rag-server binary is available: see metrics_exposition below.
SERVER_FAMILIES = {
    "rag_http_requests_total": "counter",
    "rag_http_request_duration_seconds": "histogram",
    "rag_http_requests_in_flight": "gauge",
    "rag_client_requests_total": "counter",
    "rag_client_tokens_total": "counter",
    "rag_rate_limited_total": "counter",
    "rag_llm_queue_rejected_total": "counter",
    "rag_collection_last_ingest_timestamp_seconds": "gauge",
}


def manifest_files():
    """Every Kubernetes manifest in k8s/ (custom-values.yaml is Helm values and kustomization.yaml kustomize's list,
    not manifests)."""
    return sorted(p for p in K8S.glob("*.yaml") if p.name not in ("custom-values.yaml", "kustomization.yaml"))


def load_docs(path_or_text):
    text = path_or_text.read_text() if isinstance(path_or_text, pathlib.Path) else path_or_text
    return [d for d in yaml.safe_load_all(text) if d]


def render_chart(values=None, name="pdf-chatbot", namespace="default"):
    import helm_python as helm
    with helm.Chart.load(str(CHART)) as chart:
        return chart.render(values or {}, name=name, namespace=namespace, is_install=True)


def rendered_docs(values=None, **kw):
    docs = []
    for path, text in sorted(render_chart(values, **kw).items()):
        if path.endswith(".yaml"):
            docs.extend(load_docs(text))
    return docs


def prometheus_rule():
    (doc,) = [d for d in load_docs(K8S / "prometheusrule.yaml") if d["kind"] == "PrometheusRule"]
    return doc


def dashboard():
    return json.loads((CHART / "dashboards" / "pdf-chatbot.json").read_text())


def dashboard_exprs():
    out = []
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):
            out.append((panel["title"], target["expr"]))
    return out


def grafana_to_promql(expr):
    """A dashboard query with its Grafana variables replaced, so promtool and Prometheus can parse it."""
    return expr.replace("$__rate_interval", "5m").replace("$namespace", ".*")


PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values",
    "group", "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
    "offset", "inf", "nan",
}


def metric_names(expr):
    """Metric names a PromQL expression reads (strings, label matchers, ranges and groupings removed)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", "", e)
    e = re.sub(r"\[[^\]]*\]", "", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    names = set()
    for m in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", e):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary(name):
    """The newest built `name` (release or debug), or None."""
    found = [ROOT / ".build" / c / name for c in ("release", "debug")]
    found = [p for p in found if p.exists()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def real_server():
    """The rag-server binary when it is the real server (it knows --metrics-port), else None."""
    path = binary("rag-server")
    if not path:
        return None
    try:
        out = subprocess.run([str(path), "--help"], capture_output=True, text=True, timeout=20)
    except (subprocess.TimeoutExpired, OSError):
        return None
    return path if "--metrics-port" in out.stdout + out.stderr else None


@pytest.fixture(scope="session")
def promtool():
    path = shutil.which("promtool")
    if not path:
        pytest.fail("promtool is missing: run scripts/check-deploy.sh (apt-get install prometheus)")
    return path
