"""Database mode and embedded mode of the chart (issue #11): with a database every replica writes and uploads are
queued for workers; without one the SQLite collection is opened by exactly one pod."""
import helm_python as helm
import pytest

from conftest import rendered_docs

EXTERNAL_URL = {"database": {"url": "postgres://rag:secret@db.example.com:5432/rag?sslmode=require"}}
EXISTING_SECRET = {"database": {"existingSecret": "rag-database", "secretKey": "url"}}
EMBEDDED = {"postgresql": {"enabled": False}}


def _kinds(docs):
    return {(d["kind"], d["metadata"]["name"]) for d in docs}


def _one(docs, kind, name):
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def _container(workload):
    spec = workload["spec"]
    (c,) = spec.get("jobTemplate", {}).get("spec", spec)["template"]["spec"]["containers"]
    return c


def _env(workload):
    return {e["name"]: e for e in _container(workload)["env"]}


def _access_modes(docs):
    modes = set()
    for d in docs:
        if d["kind"] == "PersistentVolumeClaim":
            modes |= set(d["spec"]["accessModes"])
        if d["kind"] == "StatefulSet":
            for template in d["spec"].get("volumeClaimTemplates", []):
                modes |= set(template["spec"]["accessModes"])
    return modes


@pytest.mark.parametrize("values", [{}, EXTERNAL_URL, EXISTING_SECRET, {"ingest": {"cronJob": {"enabled": True}}}],
                         ids=["bundled", "url", "secret", "with-cronjob"])
def test_database_mode_renders_no_read_only_and_no_read_write_many(values):
    docs = rendered_docs(values)
    assert "ReadWriteMany" not in _access_modes(docs)
    server = _one(docs, "Deployment", "pdf-chatbot")
    env = _env(server)
    assert "RAG_READ_ONLY" not in env and "RAG_COLLECTION" not in env and env["RAG_ROLE"]["value"] == "api"
    assert not any(m.get("readOnly") and m["name"] != "database" for m in _container(server)["volumeMounts"])
    assert ("PersistentVolumeClaim", "pdf-chatbot-collection") not in _kinds(docs)
    assert server["spec"]["strategy"]["type"] == "RollingUpdate"
    assert ("HorizontalPodAutoscaler", "pdf-chatbot") in _kinds(docs)


def test_worker_deployment_and_its_queue_hpa():
    docs = rendered_docs()
    worker = _one(docs, "Deployment", "pdf-chatbot-worker")
    env = _env(worker)
    assert env["RAG_ROLE"]["value"] == "worker" and env["RAG_DATABASE_URL_FILE"]["value"] == "/etc/pdf-chatbot/database/url"
    for name in ("RAG_JOB_LEASE", "RAG_WORKER_CONCURRENCY", "RAG_DATABASE_MAX_CONNECTIONS", "RAG_INDEX_WAIT"):
        assert name in env
    pod = worker["spec"]["template"]["spec"]
    lease = int(env["RAG_JOB_LEASE"]["value"])
    assert int(env["RAG_GRACE_PERIOD"]["value"]) + 5 <= pod["terminationGracePeriodSeconds"]
    assert pod["terminationGracePeriodSeconds"] >= 4 * lease
    assert "replicas" not in worker["spec"]  # the HPA owns them
    hpa = _one(docs, "HorizontalPodAutoscaler", "pdf-chatbot-worker")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "pdf-chatbot-worker"
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "External"
    assert metric["external"]["metric"] == {"name": "rag_ingest_queue_depth", "selector": {"matchLabels": {"state": "queued"}}}
    assert metric["external"]["target"]["type"] == "AverageValue"
    pdb = _one(docs, "PodDisruptionBudget", "pdf-chatbot-worker")
    assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "worker"
    # Prometheus scrapes the workers too (their queue outcomes), through their headless Service.
    service = _one(docs, "Service", "pdf-chatbot-worker")
    monitor = _one(docs, "ServiceMonitor", "pdf-chatbot")
    assert service["metadata"]["labels"]["app.kubernetes.io/component"] in monitor["spec"]["selector"]["matchExpressions"][0]["values"]
    # Without workers the serving replicas ingest themselves.
    docs = rendered_docs({"worker": {"enabled": False}})
    assert _env(_one(docs, "Deployment", "pdf-chatbot"))["RAG_ROLE"]["value"] == "all"
    assert not [d for d in docs if "worker" in d["metadata"]["name"]]


def test_worker_hpa_falls_back_to_cpu():
    hpa = _one(rendered_docs({"worker": {"autoscaling": {"metric": "cpu"}}}), "HorizontalPodAutoscaler", "pdf-chatbot-worker")
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"


def test_adapter_rule_configmap(tmp_path, promtool):
    import subprocess
    import yaml
    docs = rendered_docs({"worker": {"autoscaling": {"adapterRules": {"enabled": True}}}})
    config = yaml.safe_load(_one(docs, "ConfigMap", "pdf-chatbot-prometheus-adapter-rules")["data"]["config.yaml"])
    (rule,) = config["externalRules"]
    assert rule["name"]["as"] == "rag_ingest_queue_depth" and rule["metricsQuery"].startswith("max ")
    # The query the adapter makes of it parses.
    query = rule["metricsQuery"].replace("<<.GroupBy>>", "namespace").replace("<<.Series>>", "rag_ingest_queue_depth") \
        .replace("<<.LabelMatchers>>", 'namespace="default",state="queued"')
    path = tmp_path / "adapter.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "adapter", "rules": [
        {"record": "adapter:query", "expr": query}, {"record": "adapter:series", "expr": rule["seriesQuery"]}]}]}))
    run = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert not [d for d in rendered_docs() if d["kind"] == "ConfigMap" and "adapter" in d["metadata"]["name"]]


def test_bundled_postgresql():
    docs = rendered_docs()
    sts = _one(docs, "StatefulSet", "pdf-chatbot-postgresql")
    pod = sts["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"] == "postgres:15"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["exec"]["command"][0] == "pg_isready", probe
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 999
    assert pod["securityContext"]["fsGroup"] == 999 and pod["automountServiceAccountToken"] is False
    assert c["securityContext"]["allowPrivilegeEscalation"] is False and c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert c["resources"]["requests"] and c["resources"]["limits"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["POSTGRES_PASSWORD_FILE"] == "/etc/postgresql-secret/password" and "POSTGRES_PASSWORD" not in env
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"] and claim["metadata"]["name"] == "data"
    assert {m["name"] for m in c["volumeMounts"]} >= {"data", "secret", "run", "tmp"}
    service = _one(docs, "Service", "pdf-chatbot-postgresql")
    assert sts["spec"]["serviceName"] == "pdf-chatbot-postgresql" and service["spec"]["ports"][0]["port"] == 5432
    assert service["spec"]["selector"] == sts["spec"]["selector"]["matchLabels"]
    secret = _one(docs, "Secret", "pdf-chatbot-postgresql")
    password = secret["stringData"]["password"]
    assert len(password) == 32 and password.isalnum()
    assert secret["stringData"]["database-url"] == \
        f"postgres://pdfchatbot:{password}@pdf-chatbot-postgresql:5432/pdfchatbot?sslmode=disable"
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    given = _one(rendered_docs({"postgresql": {"auth": {"password": "s3cret-~pw"}}}), "Secret", "pdf-chatbot-postgresql")
    assert given["stringData"]["database-url"].startswith("postgres://pdfchatbot:s3cret-~pw@")


@pytest.mark.parametrize("values", [EXTERNAL_URL, EXISTING_SECRET], ids=["url", "secret"])
def test_an_external_database_disables_the_bundled_postgresql(values):
    docs = rendered_docs(values)
    assert not [d for d in docs if "postgresql" in d["metadata"]["name"]]
    assert _one(docs, "Deployment", "pdf-chatbot-worker")


def test_plain_url_is_plain_and_existing_secret_is_a_file():
    env = _env(_one(rendered_docs(EXTERNAL_URL), "Deployment", "pdf-chatbot"))
    assert env["RAG_DATABASE_URL"]["value"] == EXTERNAL_URL["database"]["url"] and "RAG_DATABASE_URL_FILE" not in env
    docs = rendered_docs(EXISTING_SECRET)
    for name in ("pdf-chatbot", "pdf-chatbot-worker"):
        deployment = _one(docs, "Deployment", name)
        env = _env(deployment)
        assert env["RAG_DATABASE_URL_FILE"]["value"] == "/etc/pdf-chatbot/database/url" and "RAG_DATABASE_URL" not in env
        (volume,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "database"]
        assert volume["secret"]["secretName"] == "rag-database" and volume["secret"]["items"] == [{"key": "url", "path": "url"}]
        (mount,) = [m for m in _container(deployment)["volumeMounts"] if m["name"] == "database"]
        assert mount == {"name": "database", "mountPath": "/etc/pdf-chatbot/database", "readOnly": True}


def test_ingestion_jobs_in_database_mode_write_the_database():
    docs = rendered_docs({**EXISTING_SECRET, "ingest": {"cronJob": {"enabled": True}, "job": {"enabled": True}}})
    for kind in ("CronJob", "Job"):
        job = _one(docs, kind, "pdf-chatbot-ingest")
        c = _container(job)
        assert c["args"][-2:] == ["--database-url", "$(RAG_DATABASE_URL)"]
        assert _env(job)["RAG_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "rag-database", "key": "url"}
        assert "collection" not in {m["name"] for m in c["volumeMounts"]}
    assert ("PersistentVolumeClaim", "pdf-chatbot-documents") in _kinds(docs)
    assert ("CronJob", "pdf-chatbot-ingest") not in _kinds(rendered_docs())  # off by default with a database


def test_embedded_mode_is_one_pod():
    docs = rendered_docs(EMBEDDED)
    server = _one(docs, "Deployment", "pdf-chatbot")
    assert server["spec"]["replicas"] == 1 and server["spec"]["strategy"] == {"type": "Recreate"}
    env = _env(server)
    assert env["RAG_READ_ONLY"]["value"] == "false" and env["RAG_COLLECTION"]["value"] == "/data/collection"
    assert not {"RAG_DATABASE_URL", "RAG_DATABASE_URL_FILE"} & set(env)
    # One pod does everything: it serves, and processes its own uploads (inline unless told to queue them).
    assert env["RAG_ROLE"]["value"] == "all" and env["RAG_UPLOAD_MODE"]["value"] == "auto"
    kinds = {k for k, _ in _kinds(docs)}
    assert not kinds & {"HorizontalPodAutoscaler", "PodDisruptionBudget", "StatefulSet", "Secret"}
    assert not [d for d in docs if "worker" in d["metadata"]["name"]]
    collection = _one(docs, "PersistentVolumeClaim", "pdf-chatbot-collection")
    assert collection["spec"]["accessModes"] == ["ReadWriteOnce"] and "ReadWriteMany" not in _access_modes(docs)
    # The ingestion CronJob runs on the server's node (SQLite's WAL is shared only on one machine).
    cron = _one(docs, "CronJob", "pdf-chatbot-ingest")
    affinity = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["affinity"]["podAffinity"]
    (term,) = affinity["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "server"
    assert _container(cron)["args"][-2:] == ["--collection", "/data/collection"]
    assert _one(rendered_docs({**EMBEDDED, "replicaCount": 1, "autoscaling": {"enabled": False}}), "Deployment", "pdf-chatbot")


@pytest.mark.parametrize("values, message", [
    ({**EMBEDDED, "replicaCount": 2}, "replicaCount=2 needs a database"),
    ({**EMBEDDED, "autoscaling": {"enabled": True}}, "autoscaling.enabled=true needs a database"),
    ({"database": {"url": "postgres://db/rag", "existingSecret": "rag-database"}}, "alternatives"),
    ({"worker": {"gracePeriod": 600}}, "worker.terminationGracePeriodSeconds must be at least"),
])
def test_impossible_combinations_fail_to_render(values, message):
    with pytest.raises(helm.HelmError, match=message):
        rendered_docs(values)
