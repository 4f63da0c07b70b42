#!/usr/bin/env python3
"""Writes the plain manifests in k8s/ from the Helm chart's default render (release `pdf-chatbot`), so that the
two never drift: edit helm/pdf-chatbot and run this. `--check` fails when a k8s/ file is out of date.
k8s/secret.example.yaml, k8s/custom-values.yaml and k8s/kustomization.yaml are written by hand.

What differs from `helm template pdf-chatbot helm/pdf-chatbot`: the Helm-only labels (helm.sh/chart,
app.kubernetes.io/managed-by, app.kubernetes.io/version) and the helm.sh/resource-policy annotation are left out,
each file starts with a header comment, and the bundled PostgreSQL's password is VALUES' fixed development one
instead of a random one (a render with `lookup` cannot keep it, and k8s/ must not change on every run).

The plain manifests are the chart's default: database mode with the bundled PostgreSQL (postgresql.yaml), serving
replicas (RAG_ROLE=api) and ingestion workers. The embedded single-pod mode and the ingestion Job/CronJob are only in
the chart (docs/deployment.md).

Usage: deploy/render_k8s.py [--check]
"""
import pathlib
import re
import sys

import helm_python as helm

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHART = ROOT / "helm" / "pdf-chatbot"
K8S = ROOT / "k8s"
RELEASE, NAMESPACE = "pdf-chatbot", "default"
HAND_WRITTEN = {"secret.example.yaml", "custom-values.yaml", "kustomization.yaml"}

# The values k8s/ is rendered with: the chart's defaults but for a fixed password for the bundled PostgreSQL.
VALUES = {"postgresql": {"auth": {"password": "minikube-only-change-me"}}}

HEADERS = {
    "deployment.yaml": "rag-server replicas (RAG_ROLE=api): the collection is in PostgreSQL (URL from a Secret file,\n"
                       "# RAG_DATABASE_URL_FILE), so every replica writes and uploads work on any of them; probes on the metrics\n"
                       "# port, API key from the openai-secret Secret (optional: without it answers are extractive), graceful termination.",
    "postgresql.yaml": "The bundled PostgreSQL 15 for minikube and development: a Secret (password and the URL the app reads),\n"
                       "# a headless Service and a one-pod StatefulSet with a ReadWriteOnce volume.\n"
                       "# DEVELOPMENT ONLY: the password below is public (it is in Git). Anywhere else, change it before the first\n"
                       "# apply (it is fixed when the data directory is created), or use the chart (it generates one) or an\n"
                       "# external PostgreSQL (docs/deployment.md).",
    "worker.yaml": "Ingestion workers (rag-server, RAG_ROLE=worker): they claim the uploads queued in the database and\n"
                   "# ingest them; a headless Service gives Prometheus their metrics port.",
    "worker-hpa.yaml": "Scales the workers on the queue depth, an External metric served by prometheus-adapter (rule below).\n"
                       "# Without the adapter the HPA reports the metric missing and keeps minReplicas.",
    "worker-pdb.yaml": "Lets drains take the workers one at a time.",
    "service.yaml": "pdf-chatbot-service: 8501 (API and chat page) and 8502 (/metrics, /healthz, /readyz).\n"
                    "# NodePort so that `minikube service pdf-chatbot-service` opens it.",
    "hpa.yaml": "Scales the Deployment on CPU (needs metrics-server: `minikube addons enable metrics-server`).",
    "pdb.yaml": "Keeps one replica up during node drains and upgrades.",
    "servicemonitor.yaml": "Makes kube-prometheus-stack's Prometheus scrape 8502/metrics of every replica and worker, with\n"
                           "# job=\"pdf-chatbot\" (the label `release: monitoring` matches a stack installed as `monitoring`).",
    "prometheusrule.yaml": "Alerts; each has a unit test in deploy/alerts/tests.yaml (promtool test rules).",
    "grafana-dashboard.yaml": "The Grafana dashboard; kube-prometheus-stack's sidecar loads ConfigMaps labelled\n"
                              "# grafana_dashboard=\"1\". Source: deploy/grafana/dashboard.py.",
}

# Appended to a file after the rendered objects (comments only).
FOOTERS = {
    "worker-hpa.yaml": """
# prometheus-adapter (prometheus-community/prometheus-adapter chart), values that serve the metric above:
#   rules:
#     external:
#       - seriesQuery: 'rag_ingest_queue_depth{job="pdf-chatbot",namespace!=""}'
#         resources:
#           overrides:
#             namespace: {resource: namespace}
#         name:
#           as: rag_ingest_queue_depth
#         metricsQuery: 'max by (<<.GroupBy>>) (<<.Series>>{<<.LabelMatchers>>})'
""",
    "hpa.yaml": """
# Scaling on a custom metric as well (needs prometheus-adapter exposing the server's in-flight gauge as
# pods/rag_http_requests_in_flight): add under spec.metrics
#    - type: Pods
#      pods:
#        metric:
#          name: rag_http_requests_in_flight
#        target:
#          type: AverageValue
#          averageValue: "4"
""",
}

HELM_ONLY = re.compile(r"^\s*(helm\.sh/chart|app\.kubernetes\.io/managed-by|app\.kubernetes\.io/version):.*\n", re.M)
POLICY = re.compile(r"^(\s*)annotations:\n\1  # Keep the data when the release is uninstalled\.\n\1  helm\.sh/resource-policy: keep\n", re.M)


def render(values=None):
    with helm.Chart.load(str(CHART)) as chart:
        return chart.render(values or VALUES, name=RELEASE, namespace=NAMESPACE, is_install=True)


def plain(text):
    text = "\n".join(line for line in text.splitlines() if not line.startswith("# Source:")) + "\n"
    text = POLICY.sub("", HELM_ONLY.sub("", text))
    return text.strip("\n-") + "\n"


def files():
    out = {}
    for path, text in render().items():
        name = path.rsplit("/", 1)[-1]
        if not name.endswith(".yaml") or not text.strip():
            continue
        header = "# " + HEADERS[name] + "\n# Generated from helm/pdf-chatbot by deploy/render_k8s.py: edit the chart, then run it.\n"
        body = plain(text)
        if not body.startswith("---"):
            body = "---\n" + body
        out[name] = header + body + FOOTERS.get(name, "")
    return out


if __name__ == "__main__":
    check = "--check" in sys.argv[1:]
    stale = []
    generated = files()
    for target in sorted(K8S.glob("*.yaml")):
        if target.name not in generated and target.name not in HAND_WRITTEN:
            if check:
                stale.append(target.name + " (no longer rendered)")
            else:
                target.unlink()
    for name, text in generated.items():
        target = K8S / name
        if check:
            if not target.exists() or target.read_text() != text:
                stale.append(name)
        else:
            K8S.mkdir(exist_ok=True)
            target.write_text(text)
    if stale:
        sys.exit("k8s/ is out of date (" + ", ".join(stale) + "): run deploy/render_k8s.py")
