"""k8s/ and the rendered chart validate strictly against Kubernetes 1.33 and the vendored CRD schemas."""
import hashlib
import json
import re

import jsonschema
import kubernetes_validate
import pytest
import yaml

from conftest import K8S, KUBE_VERSION, SCHEMAS, load_docs, manifest_files, rendered_docs

CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com/servicemonitor_v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com/prometheusrule_v1.json",
    ("external-secrets.io/v1", "ExternalSecret"): "external-secrets.io/externalsecret_v1.json",
}

# Values that switch on everything the defaults leave off, so every template is validated.
ALL_ON = {
    "autoscaling": {"enabled": False},
    "ingress": {"enabled": True, "className": "nginx", "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
                "tls": [{"hosts": ["pdf-chatbot.example.com"], "secretName": "pdf-chatbot-tls"}]},
    "ingest": {"job": {"enabled": True}, "extraArgs": ["--embedder", "openai"]},
    "apiKeys": {"secretName": "pdf-chatbot-api-keys"},
    "openai": {"baseURL": "http://ollama:11434/v1", "model": "llama3.2", "optional": False},
    "server": {"corsOrigin": "https://example.com", "trustedProxies": "10.0.0.0/8"},
    "persistence": {"documents": {"existingClaim": "shared-documents"},
                    "collection": {"storageClassName": "gp3", "accessModes": ["ReadWriteOnce"], "size": "20Gi"}},
    "imagePullSecrets": [{"name": "regcred"}],
    "extraEnv": [{"name": "RAG_LLM_TIMEOUT", "value": "120"}],
    "networkPolicy": {"enabled": True},
    "worker": {"autoscaling": {"adapterRules": {"enabled": True}}},
}
# Embedded mode (no database: one pod, the SQLite collection on a ReadWriteOnce volume) with its options on.
EMBEDDED = {
    "postgresql": {"enabled": False},
    "ingest": {"job": {"enabled": True}},
    "apiKeys": {"secretName": "pdf-chatbot-api-keys"},
    "server": {"corsOrigin": "https://example.com", "trustedProxies": "10.0.0.0/8"},
    "networkPolicy": {"enabled": True},
}
# An external PostgreSQL whose URL is in an existing Secret; workers scaled on CPU; the CronJob on.
EXTERNAL = {
    "database": {"existingSecret": "pdf-chatbot-database", "secretKey": "url"},
    "worker": {"autoscaling": {"metric": "cpu"}},
    "ingest": {"cronJob": {"enabled": True}},
}
# EXTERNAL with every Secret written by External Secrets Operator (docs/secrets.md).
EXTERNAL_SECRETS = {
    **EXTERNAL,
    "apiKeys": {"secretName": "pdf-chatbot-api-keys"},
    "openai": {"optional": False},
    "externalSecrets": {"enabled": True, "storeRef": {"name": "aws-secrets-manager", "kind": "ClusterSecretStore"},
                        "openaiApiKey": {"enabled": True},
                        "databaseUrl": {"enabled": True, "remoteRef": {"key": "pdf-chatbot/database", "property": "url"}},
                        "apiKeys": {"enabled": True}, "redisPassword": {"enabled": True}},
}

# The in-chart Redis (the shared response cache and rate limits) with the NetworkPolicy.
REDIS = {"redis": {"deploy": {"enabled": True}}, "networkPolicy": {"enabled": True}}


def validate(doc):
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key in CRD_SCHEMAS:
        schema = json.loads((SCHEMAS / CRD_SCHEMAS[key]).read_text())
        jsonschema.Draft7Validator(schema).validate(doc)
        return
    # Raises SchemaNotFoundError for kinds it does not know: that is a failure here too.
    kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.name)
def test_k8s_manifest_validates(path):
    docs = load_docs(path)
    assert docs, f"{path.name} holds no object"
    for doc in docs:
        validate(doc)


@pytest.mark.parametrize("values", [None, ALL_ON, EMBEDDED, EXTERNAL, EXTERNAL_SECRETS, REDIS],
                         ids=["defaults", "all-on", "embedded", "external", "external-secrets", "redis"])
def test_rendered_chart_validates(values):
    docs = rendered_docs(values)
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "ServiceMonitor", "PrometheusRule", "ConfigMap"} <= kinds
    for doc in docs:
        validate(doc)


def test_monitoring_off_renders_no_custom_resources():
    kinds = {d["kind"] for d in rendered_docs({"monitoring": {"enabled": False}})}
    assert not kinds & {"ServiceMonitor", "PrometheusRule", "ExternalSecret"}, kinds


def test_strict_validation_catches_a_misspelt_field():
    (deployment,) = [d for d in load_docs(K8S / "deployment.yaml")]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)
    (monitor,) = load_docs(K8S / "servicemonitor.yaml")
    monitor["spec"]["endpoints"][0]["intervall"] = "30s"
    with pytest.raises(jsonschema.ValidationError):
        validate(monitor)


def test_vendored_schemas_match_their_recorded_checksums():
    table = dict(re.findall(r"^\| `([^`]+)` \| ([0-9a-f]{64}) \|$", (SCHEMAS / "README.md").read_text(), re.M))
    assert len(table) == 9
    for name, digest in table.items():
        assert hashlib.sha256((SCHEMAS / name).read_bytes()).hexdigest() == digest, name
    assert (SCHEMAS / "LICENSE-Apache-2.0.txt").read_text().startswith(" " * 30 + "Apache License") or \
        "Apache License" in (SCHEMAS / "LICENSE-Apache-2.0.txt").read_text()[:200]


def _paths(value, prefix=()):
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    else:
        yield prefix


def test_custom_values_keys_exist_in_kube_prometheus_stack():
    upstream = yaml.safe_load((SCHEMAS / "kube-prometheus-stack" / "values-88.5.3.yaml").read_text())
    custom = yaml.safe_load((K8S / "custom-values.yaml").read_text())
    for path in _paths(custom):
        node = upstream
        for i, key in enumerate(path):
            if node == {} or node is None:
                break  # a free-form map upstream (such as resources: {}): any key is allowed below it
            assert isinstance(node, dict) and key in node, f"custom-values.yaml: {'.'.join(path[:i + 1])} is not a kube-prometheus-stack value"
            node = node[key]
    sidecar = custom["grafana"]["sidecar"]["dashboards"]
    (configmap,) = load_docs(K8S / "grafana-dashboard.yaml")
    assert configmap["metadata"]["labels"][sidecar["label"]] == sidecar["labelValue"]


def _workloads(docs):
    return [d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob")]


IMAGES = {"postgresql": "postgres:15", "redis": "redis:7.2"}


@pytest.mark.parametrize("values", [None, EMBEDDED, EXTERNAL, REDIS], ids=["k8s", "embedded", "external", "redis"])
def test_workloads_follow_the_security_baseline(values):
    docs = [d for p in manifest_files() for d in load_docs(p)] if values is None else rendered_docs(values)
    workloads = _workloads(docs)
    assert len(workloads) >= 2
    for doc in workloads:
        spec = doc["spec"]
        pod = (spec.get("jobTemplate", {}).get("spec", spec))["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert c["resources"]["requests"] and c["resources"]["limits"]
            expected = IMAGES.get(doc["metadata"]["labels"]["app.kubernetes.io/component"], "pdf-chatbot:latest")
            assert c["image"] == expected and c["imagePullPolicy"] == "IfNotPresent"


def _server_variables(table="| flag | environment |", after=None):
    """The environment variables of a docs/configuration.md server table: the main one (itself checked against the
    code's table by Tests/RAGServerTests/ConfigurationTests.swift), or the one after the heading `after`."""
    lines = (K8S.parent / "docs" / "configuration.md").read_text().splitlines()
    start = lines.index(after) if after else 0
    header = next(i for i, line in enumerate(lines) if i > start and line.startswith(table))
    variables = []
    for row in lines[header + 2:]:
        if not row.startswith("|"):
            break
        cells = row.replace("\\|", "/").split("|")
        variables.append(cells[2].strip().strip("`"))
    return variables


# The database-mode block of docs/configuration.md (the server contract of issue #11).
DATABASE_VARIABLES = {"RAG_DATABASE_URL", "RAG_DATABASE_URL_FILE", "RAG_DATABASE_MAX_CONNECTIONS", "RAG_DATABASE_WAIT"}
# The Redis settings (issue #16): set only with Redis (redis.url or redis.deploy.enabled), on the serving replicas.
# The chart gives the URL in RAG_REDIS_URL (it holds no password) and never uses RAG_REDIS_URL_FILE.
REDIS_VARIABLES = {"RAG_REDIS_URL", "RAG_REDIS_URL_FILE", "RAG_REDIS_PASSWORD_FILE", "RAG_REDIS_TIMEOUT",
                   "RAG_REDIS_CONNECT_TIMEOUT", "RAG_REDIS_CONNECTIONS", "RAG_REDIS_KEY_PREFIX", "RAG_CACHE",
                   "RAG_CACHE_TTL", "RAG_CACHE_EMBEDDING_TTL", "RAG_CACHE_MAX_ENTRY_BYTES"}


def _env(docs, name):
    (d,) = [doc for doc in docs if doc["kind"] == "Deployment" and doc["metadata"]["name"] == name]
    (c,) = d["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value") for e in c["env"]}


def test_the_deployment_sets_every_server_setting():
    """Each rag-server setting is a chart value (so a deployment states it), but for RAG_API_KEYS (keys come from a
    Secret file instead), RAG_CORS_ORIGIN and RAG_TRUSTED_PROXIES (set only when corsOrigin and trustedProxies are).
    Database mode sets the database block and not RAG_COLLECTION and RAG_READ_ONLY (unused with a database); the URL
    comes as a file (RAG_DATABASE_URL_FILE), or in plain text with database.url; embedded mode sets no database
    variable."""
    variables = _server_variables()
    assert len(variables) >= 30 and "RAG_MAX_FORM_PARTS" in variables
    assert DATABASE_VARIABLES <= set(variables)
    # The Redis variables the table lists (all of them once the server documents them), absent without Redis.
    redis = set(variables) & REDIS_VARIABLES
    embedded = set(_env(rendered_docs(EMBEDDED), "pdf-chatbot"))
    assert set(variables) - embedded == {"RAG_API_KEYS"} | DATABASE_VARIABLES | redis
    bundled = set(_env(rendered_docs(ALL_ON), "pdf-chatbot"))
    assert set(variables) - bundled == {"RAG_API_KEYS", "RAG_DATABASE_URL", "RAG_COLLECTION", "RAG_READ_ONLY"} | redis
    assert set(_env(rendered_docs(ALL_ON), "pdf-chatbot-worker")) == bundled
    plain_url = set(_env(rendered_docs({**ALL_ON, "database": {"url": "postgres://u:p@db:5432/rag"}}), "pdf-chatbot"))
    assert set(variables) - plain_url == {"RAG_API_KEYS", "RAG_DATABASE_URL_FILE", "RAG_COLLECTION", "RAG_READ_ONLY"} | redis
    with_redis = set(_env(rendered_docs({**ALL_ON, **REDIS}), "pdf-chatbot"))
    assert with_redis - bundled == REDIS_VARIABLES - {"RAG_REDIS_URL_FILE"}
    assert set(variables) - with_redis == {"RAG_API_KEYS", "RAG_DATABASE_URL", "RAG_COLLECTION", "RAG_READ_ONLY"} | (
        redis & {"RAG_REDIS_URL_FILE"})
    assert set(_env(rendered_docs({**ALL_ON, **REDIS}), "pdf-chatbot-worker")) == bundled, "the workers take no requests"
    env = _env(load_docs(K8S / "deployment.yaml"), "pdf-chatbot")
    assert set(variables) - set(env) == {"RAG_API_KEYS", "RAG_API_KEYS_FILE", "RAG_CORS_ORIGIN", "RAG_TRUSTED_PROXIES",
                                         "RAG_COLLECTION", "RAG_READ_ONLY", "RAG_DATABASE_URL"} | redis
    # Numbers as the server reads them: digits, never 6.7108864e+07.
    for name in ("RAG_MAX_UPLOAD_BYTES", "RAG_MAX_CHARACTERS", "RAG_MAX_COLLECTION_CHUNKS", "RAG_MIN_CHARACTER_ALLOWANCE",
                 "RAG_DATABASE_MAX_CONNECTIONS", "RAG_JOB_LEASE", "RAG_WORKER_CONCURRENCY"):
        assert re.fullmatch(r"[0-9]+", env[name]), (name, env[name])
    env = _env(rendered_docs({**REDIS, "server": {"cache": {"maxEntryBytes": 67108864, "embeddingTtl": 2592000}}}), "pdf-chatbot")
    for name in ("RAG_CACHE_MAX_ENTRY_BYTES", "RAG_CACHE_EMBEDDING_TTL", "RAG_CACHE_TTL", "RAG_REDIS_CONNECTIONS"):
        assert re.fullmatch(r"[0-9]+", env[name]), (name, env[name])


def test_deployment_contract():
    (d,) = load_docs(K8S / "deployment.yaml")
    pod = d["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    env = {e["name"]: e for e in c["env"]}
    assert env["OPENAI_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "openai-secret"
    assert env["OPENAI_API_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "OPENAI_API_KEY"
    # Database mode (the bundled PostgreSQL): the URL as a file from its Secret, every replica writes.
    assert "RAG_READ_ONLY" not in env and "RAG_COLLECTION" not in env
    assert env["RAG_DATABASE_URL_FILE"]["value"] == "/etc/pdf-chatbot/database/url" and env["RAG_ROLE"]["value"] == "api"
    (volume,) = [v for v in pod["volumes"] if v["name"] == "database"]
    assert volume["secret"]["secretName"] == "pdf-chatbot-postgresql"
    assert volume["secret"]["items"] == [{"key": "database-url", "path": "url"}]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz" and c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert int(env["RAG_GRACE_PERIOD"]["value"]) + 5 <= pod["terminationGracePeriodSeconds"]
    assert pod["terminationGracePeriodSeconds"] >= 30
    assert {p["containerPort"] for p in c["ports"]} == {8501, 8502}
    (svc,) = load_docs(K8S / "service.yaml")
    assert svc["metadata"]["name"] == "pdf-chatbot-service"
    assert {p["port"] for p in svc["spec"]["ports"]} == {8501, 8502}
    (hpa,) = load_docs(K8S / "hpa.yaml")
    assert hpa["apiVersion"] == "autoscaling/v2" and "rag_http_requests_in_flight" in (K8S / "hpa.yaml").read_text()


def test_network_policy_keeps_the_metrics_port_to_prometheus():
    policies = {d["metadata"]["name"]: d for d in rendered_docs({"networkPolicy": {"enabled": True}}) if d["kind"] == "NetworkPolicy"}
    assert set(policies) == {"pdf-chatbot", "pdf-chatbot-worker", "pdf-chatbot-postgresql"}
    (worker,) = policies["pdf-chatbot-worker"]["spec"]["ingress"]
    assert worker["ports"] == [{"port": "metrics", "protocol": "TCP"}] and worker["from"]
    (database,) = policies["pdf-chatbot-postgresql"]["spec"]["ingress"]
    assert database["ports"] == [{"port": "postgresql", "protocol": "TCP"}]
    assert database["from"][0]["podSelector"]["matchExpressions"][0]["values"] == ["server", "worker", "ingest"]
    policy = policies["pdf-chatbot"]
    api, metrics = policy["spec"]["ingress"]
    assert api["ports"] == [{"port": "http", "protocol": "TCP"}] and "from" not in api
    assert metrics["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert metrics["from"] == [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}]
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "server"
    assert not [d for d in rendered_docs() if d["kind"] == "NetworkPolicy"], "off by default"
