"""The Helm chart lints strictly, its values schema guards the values, and k8s/ equals its default render."""
import importlib.util
import subprocess
import sys

import helm_python as helm
import pytest
import yaml

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
    {"replicaCount": "3"},
    {"autoscaling": {"enabled": "yes"}},
    {"database": {"url": "mysql://db/rag"}},
    {"database": {"maxConnections": 0}},
    {"postgresql": {"auth": {"password": "p@ss word"}}},
    {"postgresql": {"sslmode": "sometimes"}},
    {"worker": {"autoscaling": {"metric": "memory"}}},
    {"worker": {"concurrency": 0}},
    {"worker": {"terminationGracePeriodSeconds": 10}},
    {"service": {"type": "ExternalName"}},
    {"terminationGracePeriodSeconds": 10},
    {"monitoring": {"rules": {"errorRatio": 2}}},
    {"persistence": {"collection": {"size": "lots"}}},
    {"server": {"retrieval": "psychic"}},
    {"server": {"fusion": "weighted:2"}},
    {"server": {"minScore": "high"}},
    {"server": {"minScore": 2}},
    {"server": {"queryRewrites": 9}},
    {"server": {"queryRewrites": -1}},
    {"server": {"hypotheticalAnswer": "yes"}},
    {"server": {"vectorFormat": "int8"}},
    {"server": {"maxFormParts": 0}},
    {"server": {"maxPartHeaderBytes": 0}},
    {"server": {"maxPages": 0}},
    {"server": {"maxCharactersPerByte": -1}},
    {"server": {"maxCollectionChunks": -1}},
    {"server": {"llm": "psychic"}},
    {"server": {"requestTimeout": 86401}},
    {"server": {"ocr": {"mode": "sometimes"}}},
    {"server": {"ocr": {"languages": ""}}},
    {"server": {"ocr": {"languages": "eng deu"}}},
    {"server": {"ocr": {"languages": "eng,deu"}}},
    {"server": {"ocr": {"languages": "en"}}},
    {"server": {"ocr": {"languages": "eng+"}}},
    {"server": {"ocr": {"languages": "+".join(["eng"] * 9)}}},
    {"server": {"ocr": {"dpi": 71}}},
    {"server": {"ocr": {"dpi": 601}}},
    {"server": {"ocr": {"maxPages": 0}}},
    {"server": {"ocr": {"maxPages": 100001}}},
    {"server": {"ocr": {"pageTimeoutSeconds": 0}}},
    {"server": {"ocr": {"pageTimeoutSeconds": 3601}}},
    {"server": {"ocr": {"minConfidence": -1}}},
    {"server": {"ocr": {"minConfidence": 101}}},
    {"server": {"ocr": {"engine": "tesseract"}}},
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
    {"server": {"queryRewrites": 3, "hypotheticalAnswer": True}},
    {"server": {"vectorFormat": "i8"}},
])
def test_values_schema_accepts_retrieval_settings(good):
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(chart.merge_values(good))


@pytest.mark.parametrize("good", [
    {"server": {"ocr": {"mode": "never"}}},
    {"server": {"ocr": {"mode": "always", "languages": "eng+deu+chi_sim", "dpi": 600, "maxPages": 100000,
                        "pageTimeoutSeconds": 3600, "minConfidence": 0}}},
    {"server": {"ocr": {"languages": "+".join(["eng"] * 8), "dpi": 72, "maxPages": 1, "pageTimeoutSeconds": 1,
                        "minConfidence": 100}}},
])
def test_values_schema_accepts_ocr_settings(good):
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(chart.merge_values(good))


def test_ocr_settings_reach_the_servers_and_the_workers():
    """server.ocr becomes the RAG_OCR* variables of both the serving replicas and the workers (the workers OCR the
    queued uploads), numbers as digits."""
    values = {"server": {"ocr": {"mode": "always", "languages": "eng+deu", "dpi": 400, "maxPages": 100000,
                                 "pageTimeoutSeconds": 120, "minConfidence": 50}}}
    expected = {"RAG_OCR": "always", "RAG_OCR_LANGUAGES": "eng+deu", "RAG_OCR_DPI": "400", "RAG_OCR_MAX_PAGES": "100000",
                "RAG_OCR_PAGE_TIMEOUT": "120", "RAG_OCR_MIN_CONFIDENCE": "50"}
    docs = rendered_docs(values)
    for name in ("pdf-chatbot", "pdf-chatbot-worker"):
        (d,) = [doc for doc in docs if doc["kind"] == "Deployment" and doc["metadata"]["name"] == name]
        (c,) = d["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert {k: env.get(k) for k in expected} == expected, name


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


def _render_k8s():
    spec = importlib.util.spec_from_file_location("render_k8s", ROOT / "deploy" / "render_k8s.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_k8s_equals_the_default_render():
    """k8s/ is the default render, but for the bundled PostgreSQL's password (random in a render, fixed in k8s/)."""
    values = _render_k8s().VALUES
    assert values == {"postgresql": {"auth": {"password": values["postgresql"]["auth"]["password"]}}}
    k8s = _by_key([d for p in manifest_files() if p.name != "secret.example.yaml" for d in load_docs(p)])
    chart = _by_key(rendered_docs(values))
    assert set(k8s) == set(chart)
    for key in k8s:
        assert k8s[key] == chart[key], f"{key} differs between k8s/ and the chart"
    default = _by_key(rendered_docs())
    assert set(default) == set(chart)
    assert default[("Secret", "pdf-chatbot-postgresql")]["stringData"]["password"] != values["postgresql"]["auth"]["password"]


def test_kustomization_lists_the_application():
    """`kubectl apply -k k8s/` applies the application (the monitoring objects need the prometheus-operator CRDs and
    are applied on their own; the Secrets' example is not applied)."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    monitoring = {"servicemonitor.yaml", "prometheusrule.yaml", "grafana-dashboard.yaml", "secret.example.yaml"}
    assert set(kustomization["resources"]) == {p.name for p in manifest_files()} - monitoring


def test_generated_files_are_up_to_date():
    for script in ("deploy/render_k8s.py", "deploy/grafana/dashboard.py"):
        run = subprocess.run([sys.executable, str(ROOT / script), "--check"], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr


def test_notes_render():
    with helm.Chart.load(str(CHART)) as chart:
        notes = chart.render({}, name="pdf-chatbot", namespace="default")["pdf-chatbot/templates/NOTES.txt"]
        embedded = chart.render({"postgresql": {"enabled": False}}, name="pdf-chatbot",
                                namespace="default")["pdf-chatbot/templates/NOTES.txt"]
    assert "minikube service pdf-chatbot-service" in notes and "pdf-chatbot-postgresql" in notes
    assert "pdf-chatbot-worker" in notes and "prometheus-adapter" in notes and "cronjob" not in notes
    assert "exactly one replica" in embedded and "create job --from=cronjob/pdf-chatbot-ingest" in embedded


def test_hadolint():
    run = subprocess.run(["hadolint", "--failure-threshold", "info", str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
