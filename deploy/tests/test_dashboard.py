"""The Grafana dashboard is well formed and every query is valid PromQL."""
import subprocess

import yaml

from conftest import K8S, dashboard, dashboard_exprs, grafana_to_promql, load_docs


def test_structure():
    d = dashboard()
    assert d["uid"] == "pdf-chatbot" and d["schemaVersion"] >= 36
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    for p in d["panels"]:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${datasource}" and p["targets"], p["title"]
            assert len({t["refId"] for t in p["targets"]}) == len(p["targets"])
    names = {v["name"] for v in d["templating"]["list"]}
    assert names == {"datasource", "namespace"}
    titles = " ".join(p["title"] for p in d["panels"]).lower()
    for wanted in ("requests per second", "error ratio", "answer latency", "llm latency", "time to first token",
                   "tokens per second", "retrieval latency", "sources matched", "prompt and response length",
                   "replicas", "cpu", "memory"):
        assert wanted in titles, wanted


def test_queries_parse_with_promtool(tmp_path, promtool):
    rules = [{"record": f"dashboard:query_{i}", "expr": grafana_to_promql(expr)}
             for i, (_, expr) in enumerate(dashboard_exprs())]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    run = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_configmap_carries_the_dashboard():
    (cm,) = load_docs(K8S / "grafana-dashboard.yaml")
    import json
    assert json.loads(cm["data"]["pdf-chatbot.json"]) == dashboard()
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
