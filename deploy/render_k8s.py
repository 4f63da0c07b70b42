#!/usr/bin/env python3
"""Writes the plain manifests in k8s/ from the Helm chart's default render (release `pdf-chatbot`), so that the
two never drift: edit helm/pdf-chatbot and run this. `--check` fails when a k8s/ file is out of date.
k8s/secret.example.yaml and k8s/custom-values.yaml are written by hand.

What differs from `helm template pdf-chatbot helm/pdf-chatbot`: the Helm-only labels (helm.sh/chart,
app.kubernetes.io/managed-by, app.kubernetes.io/version) and the helm.sh/resource-policy annotation are left out,
each file starts with a header comment, and k8s/ingest-job.yaml is rendered with ingest.job.enabled=true.

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

HEADERS = {
    "deployment.yaml": "rag-server replicas: read-only collection, probes on the metrics port, API key from the\n"
                       "# openai-secret Secret (optional: without it answers are extractive), graceful termination.",
    "service.yaml": "pdf-chatbot-service: 8501 (API and chat page) and 8502 (/metrics, /healthz, /readyz).\n"
                    "# NodePort so that `minikube service pdf-chatbot-service` opens it.",
    "hpa.yaml": "Scales the Deployment on CPU (needs metrics-server: `minikube addons enable metrics-server`).",
    "pdb.yaml": "Keeps one replica up during node drains and upgrades.",
    "pvc.yaml": "The collection (written by the ingestion jobs, read by every replica) and the source documents.\n"
                "# ReadWriteMany: minikube's hostpath provisioner accepts it; in production use an RWX class (EFS,\n"
                "# Filestore, Azure Files, NFS) or set one replica and ReadWriteOnce.",
    "ingest-cronjob.yaml": "Runs `rag ingest /data/documents` every hour (unchanged files are skipped). Exit code 3\n"
                           "# (some files failed) fails the Job without retries so that PdfChatbotIngestJobFailed fires.\n"
                           "# Run it now: kubectl create job --from=cronjob/pdf-chatbot-ingest ingest-$(date +%s)",
    "ingest-job.yaml": "A one-off ingestion (same pod as the CronJob). A Job is immutable: delete it before applying\n"
                       "# again, or prefer `kubectl create job --from=cronjob/pdf-chatbot-ingest NAME`.",
    "servicemonitor.yaml": "Makes kube-prometheus-stack's Prometheus scrape 8502/metrics of every replica, with\n"
                           "# job=\"pdf-chatbot\" (the label `release: monitoring` matches a stack installed as `monitoring`).",
    "prometheusrule.yaml": "Alerts; each has a unit test in deploy/alerts/tests.yaml (promtool test rules).",
    "grafana-dashboard.yaml": "The Grafana dashboard; kube-prometheus-stack's sidecar loads ConfigMaps labelled\n"
                              "# grafana_dashboard=\"1\". Source: deploy/grafana/dashboard.py.",
}

# Appended to a file after the rendered objects (comments only).
FOOTERS = {
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
        return chart.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)


def plain(text):
    text = "\n".join(line for line in text.splitlines() if not line.startswith("# Source:")) + "\n"
    text = POLICY.sub("", HELM_ONLY.sub("", text))
    return text.strip("\n-") + "\n"


def files():
    out = {}
    for values, names in (({}, None), ({"ingest": {"job": {"enabled": True}}}, {"ingest-job.yaml"})):
        for path, text in render(values).items():
            name = path.rsplit("/", 1)[-1]
            if not name.endswith(".yaml") or not text.strip() or (names and name not in names):
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
    for name, text in files().items():
        target = K8S / name
        if check:
            if not target.exists() or target.read_text() != text:
                stale.append(name)
        else:
            K8S.mkdir(exist_ok=True)
            target.write_text(text)
    if stale:
        sys.exit("k8s/ is out of date (" + ", ".join(stale) + "): run deploy/render_k8s.py")
