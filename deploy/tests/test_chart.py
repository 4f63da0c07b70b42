"""The Helm chart lints strictly, its values schema guards the values, and k8s/ equals its default render."""
import subprocess
import sys

import helm_python as helm
import pytest

from conftest import CHART, K8S, ROOT, load_docs, manifest_files, rendered_docs

HELM_ONLY_LABELS = ("helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/version")


def test_helm_lint_strict():
    result = helm.lint(str(CHART), strict=True, kube_version="1.33.0")
    assert not result["errors"], result
    # severities: 1 info, 2 warning, 3 error; --strict fails on warnings
    assert [m for m in result["messages"] if m["severity"] >= 2] == [], result["messages"]


@pytest.mark.parametrize("bad", [
    {"image": {"pullPolicy": "Sometimes"}},
    {"replicas": 3},
    {"service": {"type": "ExternalName"}},
    {"terminationGracePeriodSeconds": 10},
    {"monitoring": {"rules": {"errorRatio": 2}}},
    {"persistence": {"collection": {"size": "lots"}}},
    {"server": {"retrieval": "psychic"}},
    {"server": {"fusion": "weighted:2"}},
    {"server": {"minScore": "high"}},
    {"server": {"minScore": 2}},
    {"server": {"maxFormParts": 0}},
    {"server": {"maxPartHeaderBytes": 0}},
    {"server": {"maxPages": 0}},
    {"server": {"maxCharactersPerByte": -1}},
    {"server": {"maxCollectionChunks": -1}},
    {"server": {"llm": "psychic"}},
    {"server": {"requestTimeout": 86401}},
])
def test_values_schema_rejects(bad):
    with helm.Chart.load(str(CHART)) as chart:
        with pytest.raises(helm.HelmError):
            chart.validate_schema(chart.merge_values(bad))


def test_values_schema_accepts_the_defaults():
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(chart.values)


@pytest.mark.parametrize("good", [
    {"server": {"retrieval": "lexical", "fusion": "rrf:60", "neighbours": 1, "minScore": 0.3}},
    {"server": {"fusion": "weighted:0.7", "minScore": "off"}},
])
def test_values_schema_accepts_retrieval_settings(good):
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(chart.merge_values(good))


def _normalise(doc):
    labels = doc.get("metadata", {}).get("labels", {})
    for key in HELM_ONLY_LABELS:
        labels.pop(key, None)
    annotations = doc.get("metadata", {}).get("annotations", {})
    annotations.pop("helm.sh/resource-policy", None)
    if annotations == {}:
        doc["metadata"].pop("annotations", None)

    def walk(node):
        if isinstance(node, dict):
            if "labels" in node and isinstance(node["labels"], dict):
                for key in HELM_ONLY_LABELS:
                    node["labels"].pop(key, None)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(doc)
    return doc


def _by_key(docs):
    return {(d["kind"], d["metadata"]["name"]): _normalise(d) for d in docs}


def test_k8s_equals_the_default_render():
    k8s = _by_key([d for p in manifest_files() if p.name not in ("secret.example.yaml", "ingest-job.yaml")
                   for d in load_docs(p)])
    chart = _by_key(rendered_docs())
    assert set(k8s) == set(chart)
    for key in k8s:
        assert k8s[key] == chart[key], f"{key} differs between k8s/ and the chart"
    job = _by_key(load_docs(K8S / "ingest-job.yaml"))
    rendered_job = {k: v for k, v in _by_key(rendered_docs({"ingest": {"job": {"enabled": True}}})).items() if k[0] == "Job"}
    assert job == rendered_job


def test_generated_files_are_up_to_date():
    for script in ("deploy/render_k8s.py", "deploy/grafana/dashboard.py"):
        run = subprocess.run([sys.executable, str(ROOT / script), "--check"], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr


def test_notes_render():
    with helm.Chart.load(str(CHART)) as chart:
        notes = chart.render({}, name="pdf-chatbot", namespace="default")["pdf-chatbot/templates/NOTES.txt"]
    assert "minikube service pdf-chatbot-service" in notes and "create job --from=cronjob/pdf-chatbot-ingest" in notes


def test_hadolint():
    run = subprocess.run(["hadolint", "--failure-threshold", "info", str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
