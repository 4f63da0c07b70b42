"""A real Prometheus (Debian's `prometheus`, on 127.0.0.1) scrapes rag-server with the relabelling that
prometheus-operator generates for k8s/servicemonitor.yaml, and the request counter is queryable with the labels
the alerts and the dashboard select on. Every alert and dashboard query is then run against it.

The target is a real rag-server when one is built; until then, the `rag` CLI's --metrics-file text served on
127.0.0.1 (exposition.SOURCE says which)."""
import contextlib
import http.server
import json
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest
import yaml

import exposition
from conftest import K8S, dashboard_exprs, free_port, grafana_to_promql, load_docs, prometheus_rule

pytestmark = pytest.mark.scrape
NAMESPACE, POD, NODE = "default", "pdf-chatbot-7d9f8c6b5-x2k4q", "minikube"


def _label(name):
    return "".join(c if c.isalnum() else "_" for c in name)


def scrape_config(target):
    """The scrape job prometheus-operator makes from the ServiceMonitor, with the target's Kubernetes service
    discovery labels supplied statically (the subset the generated relabelling reads)."""
    (monitor,) = load_docs(K8S / "servicemonitor.yaml")
    (service,) = load_docs(K8S / "service.yaml")
    (endpoint,) = monitor["spec"]["endpoints"]
    meta = {
        "__meta_kubernetes_namespace": NAMESPACE,
        "__meta_kubernetes_service_name": service["metadata"]["name"],
        "__meta_kubernetes_endpoint_port_name": endpoint["port"],
        "__meta_kubernetes_pod_name": POD,
        "__meta_kubernetes_pod_container_name": "rag-server",
        "__meta_kubernetes_pod_node_name": NODE,
    }
    for key, value in service["metadata"]["labels"].items():
        meta[f"__meta_kubernetes_service_label_{_label(key)}"] = value
        meta[f"__meta_kubernetes_service_labelpresent_{_label(key)}"] = "true"
    relabel = [{"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"}]
    for key, value in monitor["spec"]["selector"]["matchLabels"].items():
        relabel.append({"action": "keep", "regex": f"({value});true",
                        "source_labels": [f"__meta_kubernetes_service_label_{_label(key)}",
                                          f"__meta_kubernetes_service_labelpresent_{_label(key)}"]})
    relabel += [
        {"action": "keep", "source_labels": ["__meta_kubernetes_endpoint_port_name"], "regex": endpoint["port"]},
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job", "replacement": "${1}"},
        {"source_labels": [f"__meta_kubernetes_service_label_{_label(monitor['spec']['jobLabel'])}"],
         "target_label": "job", "regex": "(.+)", "replacement": "${1}"},
        {"target_label": "endpoint", "replacement": endpoint["port"]},
    ]
    for r in endpoint.get("relabelings", []):
        relabel.append({"action": r.get("action", "replace").lower(), "source_labels": r["sourceLabels"],
                        "target_label": r["targetLabel"]})
    return {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{
                "job_name": f"serviceMonitor/{NAMESPACE}/{monitor['metadata']['name']}/0",
                "honor_labels": False, "metrics_path": endpoint["path"], "scheme": endpoint["scheme"],
                "scrape_interval": "1s", "scrape_timeout": "1s",  # the ServiceMonitor's 30s, shortened for the test
                "static_configs": [{"targets": [target], "labels": meta}],
                "relabel_configs": relabel}]}


@contextlib.contextmanager
def cli_target(workdir):
    text = exposition.from_cli(workdir).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(200 if self.path == "/metrics" else 404)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(text if self.path == "/metrics" else b"")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def target(workdir):
    if exposition.SOURCE == "server":
        with exposition.running_server(workdir) as (port, metrics_port):
            exposition._post(f"http://127.0.0.1:{port}/v1/search", {"query": "vacation days"})
            yield metrics_port
    else:
        with cli_target(workdir) as port:
            yield port


def query(base, promql):
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def test_prometheus_scrapes_rag_server(tmp_path):
    prometheus = shutil.which("prometheus")
    assert prometheus, "prometheus is missing: run scripts/check-deploy.sh"
    with target(tmp_path) as metrics_port:
        config = tmp_path / "prometheus.yml"
        config.write_text(yaml.safe_dump(scrape_config(f"127.0.0.1:{metrics_port}")))
        (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": prometheus_rule()["spec"]["groups"]}))
        cfg = yaml.safe_load(config.read_text())
        cfg["rule_files"] = [str(tmp_path / "rules.yml")]
        config.write_text(yaml.safe_dump(cfg))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = open(tmp_path / "prometheus.log", "w")
        proc = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                 f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=log)
        try:
            selector = f'job="pdf-chatbot",namespace="{NAMESPACE}",service="pdf-chatbot-service",pod="{POD}",' \
                       f'container="rag-server",endpoint="metrics",node="{NODE}"'
            wanted = f"rag_requests_total{{{selector}}}"
            deadline, result = time.time() + 40, []
            while time.time() < deadline and not result:
                time.sleep(1)
                try:
                    result = query(base, wanted)["data"]["result"]
                except OSError:
                    pass
            assert result, f"no {wanted} after 40 s ({exposition.SOURCE}):\n" + (tmp_path / "prometheus.log").read_text()[-3000:]
            assert query(base, f"up{{{selector}}}")["data"]["result"][0]["value"][1] == "1"
            if exposition.SOURCE == "server":
                assert query(base, 'rag_http_requests_total{job="pdf-chatbot"}')["data"]["result"]
            print(f"scraped {len(result)} rag_requests_total series from {exposition.SOURCE}")
            # every alert and dashboard query evaluates on a live server
            exprs = [r["expr"] for g in prometheus_rule()["spec"]["groups"] for r in g["rules"]]
            exprs += [grafana_to_promql(e) for _, e in dashboard_exprs()]
            for expr in exprs:
                assert query(base, expr)["status"] == "success", expr
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            log.close()
