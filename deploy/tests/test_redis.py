"""Redis in the chart (issue #16): the shared response cache and rate limits. Off by default, and then nothing Redis is
rendered; an external Redis (redis.url, its password in redis.existingSecret) or the in-chart one
(redis.deploy.enabled); the password always reaches the pods as a mounted file or a secretKeyRef, never in plain text;
contradictory values fail to render and the values schema refuses bad ones."""
import json
import re

import helm_python as helm
import pytest
import yaml

from conftest import CHART, rendered_docs
from test_manifests import ALL_ON, EMBEDDED, EXTERNAL, validate

DEPLOY = {"redis": {"deploy": {"enabled": True}}}
EXTERNAL_REDIS = {"redis": {"url": "redis://cache.example.com:6380/2", "existingSecret": "chat-cache",
                            "existingSecretKey": "password"}}
ES_ON = {"enabled": True, "storeRef": {"name": "aws-secrets-manager"}, "redisPassword": {"enabled": True}}

REDIS_ENV = {"RAG_REDIS_URL", "RAG_REDIS_PASSWORD_FILE", "RAG_REDIS_TIMEOUT", "RAG_REDIS_CONNECT_TIMEOUT",
             "RAG_REDIS_CONNECTIONS", "RAG_REDIS_KEY_PREFIX", "RAG_CACHE", "RAG_CACHE_TTL", "RAG_CACHE_EMBEDDING_TTL",
             "RAG_CACHE_MAX_ENTRY_BYTES"}


def _one(docs, kind, name):
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def _pod(workload):
    spec = workload["spec"]
    return spec.get("jobTemplate", {}).get("spec", spec)["template"]["spec"]


def _container(workload):
    (c,) = _pod(workload)["containers"]
    return c


def _env(workload):
    return {e["name"]: e for e in _container(workload)["env"]}


def _workloads(docs):
    return [d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob")]


def _redis_objects(docs):
    return [(d["kind"], d["metadata"]["name"]) for d in docs if "redis" in d["metadata"]["name"]]


@pytest.mark.parametrize("values", [None, ALL_ON, EMBEDDED, EXTERNAL, {"networkPolicy": {"enabled": True}}],
                         ids=["defaults", "all-on", "embedded", "external-database", "network-policy"])
def test_without_redis_nothing_redis_is_rendered(values):
    """No Redis object, no RAG_REDIS_* or RAG_CACHE* variable, no password volume: only the alert rules and the
    dashboard name the Redis metrics (they stay silent and empty without them)."""
    docs = rendered_docs(values)
    assert not _redis_objects(docs)
    for workload in _workloads(docs):
        names = set(_env(workload))
        assert not {n for n in names if n.startswith(("RAG_REDIS", "RAG_CACHE"))}, workload["metadata"]["name"]
        assert "redis-password" not in {v["name"] for v in _pod(workload).get("volumes", [])}
    for d in docs:
        if d["kind"] in ("PrometheusRule", "ConfigMap") and d["metadata"]["name"] in ("pdf-chatbot", "pdf-chatbot-dashboard"):
            continue
        assert "redis" not in yaml.safe_dump(d).lower(), (d["kind"], d["metadata"]["name"])


def test_the_in_chart_redis():
    docs = rendered_docs(DEPLOY)
    assert sorted(_redis_objects(docs)) == [("Deployment", "pdf-chatbot-redis"), ("Secret", "pdf-chatbot-redis"),
                                            ("Service", "pdf-chatbot-redis")]
    redis = _one(docs, "Deployment", "pdf-chatbot-redis")
    pod, c = _pod(redis), _container(redis)
    assert redis["spec"]["replicas"] == 1
    assert c["image"] == "redis:7.2" and c["imagePullPolicy"] == "IfNotPresent"
    # Non-root, read-only root filesystem, no capabilities, no service account token, bounded resources.
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 999
    assert pod["automountServiceAccountToken"] is False
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert c["resources"]["requests"] and c["resources"]["limits"]
    assert {m["mountPath"] for m in c["volumeMounts"]} == {"/data"}
    assert [v for v in pod["volumes"] if v["name"] == "data"][0]["emptyDir"]
    # The command: maxmemory with LRU eviction, no persistence, the password on stdin (not an argument).
    assert c["command"] == ["sh", "-c"]
    (script,) = c["args"]
    assert "exec redis-server - " in script
    for flag in ('--maxmemory 128mb', '--maxmemory-policy allkeys-lru', '--save ""', '--appendonly no', '--port 6379'):
        assert flag in script, flag
    assert "--requirepass" not in script and 'requirepass "$escaped"' in script
    env = {e["name"]: e for e in c["env"]}
    assert set(env) == {"REDIS_PASSWORD"}
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "pdf-chatbot-redis", "key": "redis-password"}
    # Probes: TCP for liveness (a busy Redis is not restarted), an authenticated PING for readiness.
    assert c["livenessProbe"]["tcpSocket"]["port"] == "redis"
    probe = " ".join(c["readinessProbe"]["exec"]["command"])
    assert "REDISCLI_AUTH=" in probe and "redis-cli" in probe and "ping" in probe and "grep -q PONG" in probe
    assert {p["containerPort"] for p in c["ports"]} == {6379}
    # The Service: ClusterIP on 6379, selecting the Redis pod only.
    service = _one(docs, "Service", "pdf-chatbot-redis")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "redis", "port": 6379, "targetPort": "redis", "protocol": "TCP"}]
    assert service["spec"]["selector"] == redis["spec"]["selector"]["matchLabels"]
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "redis"
    # The Secret the chart writes: a generated password (random in a render: `helm template` cannot look one up).
    secret = _one(docs, "Secret", "pdf-chatbot-redis")
    password = secret["stringData"]["redis-password"]
    assert len(password) == 32 and password.isalnum()
    assert "helm.sh/resource-policy" not in secret["metadata"].get("annotations", {}), "no data outlives the release"


def test_the_servers_use_the_in_chart_redis_and_the_workers_do_not():
    docs = rendered_docs(DEPLOY)
    server = _one(docs, "Deployment", "pdf-chatbot")
    env = _env(server)
    assert REDIS_ENV <= set(env)
    assert env["RAG_REDIS_URL"]["value"] == "redis://pdf-chatbot-redis:6379/0"
    assert env["RAG_REDIS_PASSWORD_FILE"]["value"] == "/etc/pdf-chatbot/redis/password"
    assert {k: env[k]["value"] for k in REDIS_ENV - {"RAG_REDIS_URL", "RAG_REDIS_PASSWORD_FILE"}} == {
        "RAG_REDIS_TIMEOUT": "0.25", "RAG_REDIS_CONNECT_TIMEOUT": "2", "RAG_REDIS_CONNECTIONS": "2",
        "RAG_REDIS_KEY_PREFIX": "rag:", "RAG_CACHE": "on", "RAG_CACHE_TTL": "3600", "RAG_CACHE_EMBEDDING_TTL": "86400",
        "RAG_CACHE_MAX_ENTRY_BYTES": "1048576"}
    # The password file: the Secret's key mounted like the database URL's (RAG_DATABASE_URL_FILE).
    (volume,) = [v for v in _pod(server)["volumes"] if v["name"] == "redis-password"]
    assert volume["secret"] == {"secretName": "pdf-chatbot-redis", "defaultMode": 0o440,
                                "items": [{"key": "redis-password", "path": "password"}]}
    (mount,) = [m for m in _container(server)["volumeMounts"] if m["name"] == "redis-password"]
    assert mount == {"name": "redis-password", "mountPath": "/etc/pdf-chatbot/redis", "readOnly": True}
    # The workers take no requests: no cache, no rate limits, no Redis.
    worker = _one(docs, "Deployment", "pdf-chatbot-worker")
    assert not {n for n in _env(worker) if n.startswith(("RAG_REDIS", "RAG_CACHE"))}
    assert "redis-password" not in {v["name"] for v in _pod(worker)["volumes"]}
    # Without workers the serving replicas (RAG_ROLE=all) still get it; so does the one pod of embedded mode.
    for values in ({**DEPLOY, "worker": {"enabled": False}}, {**DEPLOY, "postgresql": {"enabled": False}}):
        assert REDIS_ENV <= set(_env(_one(rendered_docs(values), "Deployment", "pdf-chatbot")))


def test_the_settings_reach_the_environment():
    values = {"redis": {"deploy": {"enabled": True, "maxmemory": "1gb"}, "timeout": 0.5, "connectTimeout": 3,
                        "connections": 4, "keyPrefix": "chat:"},
              "server": {"cache": {"enabled": False, "ttl": 600, "embeddingTtl": 604800, "maxEntryBytes": 67108864}}}
    docs = rendered_docs(values)
    env = {k: v.get("value") for k, v in _env(_one(docs, "Deployment", "pdf-chatbot")).items()}
    assert {k: env[k] for k in REDIS_ENV - {"RAG_REDIS_URL", "RAG_REDIS_PASSWORD_FILE"}} == {
        "RAG_REDIS_TIMEOUT": "0.5", "RAG_REDIS_CONNECT_TIMEOUT": "3", "RAG_REDIS_CONNECTIONS": "4",
        "RAG_REDIS_KEY_PREFIX": "chat:", "RAG_CACHE": "off", "RAG_CACHE_TTL": "600", "RAG_CACHE_EMBEDDING_TTL": "604800",
        "RAG_CACHE_MAX_ENTRY_BYTES": "67108864"}
    (script,) = _container(_one(docs, "Deployment", "pdf-chatbot-redis"))["args"]
    assert "--maxmemory 1gb --maxmemory-policy allkeys-lru" in script


@pytest.mark.parametrize("values", [
    {"redis": {"deploy": {"enabled": True, "password": "Zq8-unique.Redis~pass_42"}}},
    DEPLOY,
], ids=["given", "generated"])
def test_the_password_is_only_in_its_secret(values):
    """The password is in the chart's Secret and nowhere else: not in an argument, an env value, a probe or a URL."""
    docs = rendered_docs(values)
    password = _one(docs, "Secret", "pdf-chatbot-redis")["stringData"]["redis-password"]
    if values["redis"]["deploy"].get("password"):
        assert password == values["redis"]["deploy"]["password"]
    elsewhere = [(d["kind"], d["metadata"]["name"]) for d in docs
                 if not (d["kind"] == "Secret" and d["metadata"]["name"] == "pdf-chatbot-redis")
                 and password in json.dumps(d)]
    assert not elsewhere
    url = _env(_one(docs, "Deployment", "pdf-chatbot"))["RAG_REDIS_URL"]["value"]
    assert "@" not in url and password not in url


def test_an_external_redis():
    docs = rendered_docs(EXTERNAL_REDIS)
    assert not _redis_objects(docs), "no in-chart Redis, no Secret of the chart's"
    server = _one(docs, "Deployment", "pdf-chatbot")
    env = _env(server)
    assert env["RAG_REDIS_URL"]["value"] == "redis://cache.example.com:6380/2"
    assert env["RAG_REDIS_PASSWORD_FILE"]["value"] == "/etc/pdf-chatbot/redis/password"
    (volume,) = [v for v in _pod(server)["volumes"] if v["name"] == "redis-password"]
    assert volume["secret"]["secretName"] == "chat-cache" and volume["secret"]["items"] == [{"key": "password", "path": "password"}]
    # Without a password Secret: a Redis without a password, no file.
    docs = rendered_docs({"redis": {"url": "redis://10.0.0.7:6379/0"}})
    server = _one(docs, "Deployment", "pdf-chatbot")
    env = _env(server)
    assert env["RAG_REDIS_URL"]["value"] == "redis://10.0.0.7:6379/0" and "RAG_REDIS_PASSWORD_FILE" not in env
    assert "redis-password" not in {v["name"] for v in _pod(server)["volumes"]}
    assert "redis-password" not in {m["name"] for m in _container(server)["volumeMounts"]}


@pytest.mark.parametrize("values, secret", [
    ({**DEPLOY, "externalSecrets": ES_ON}, ("pdf-chatbot-redis", "redis-password")),
    ({**DEPLOY, "externalSecrets": {**ES_ON, "redisPassword": {"enabled": True, "secretName": "cache", "secretKey": "pw"}}},
     ("cache", "pw")),
    ({"redis": {"deploy": {"enabled": True}, "existingSecret": "mine", "existingSecretKey": "pw"}}, ("mine", "pw")),
    ({"redis": {"url": "redis://cache:6379/0"}, "externalSecrets": ES_ON}, ("pdf-chatbot-redis", "redis-password")),
], ids=["external-secret", "external-secret-renamed", "existing-secret", "external-redis-external-secret"])
def test_a_password_secret_from_elsewhere(values, secret):
    """With redis.existingSecret or externalSecrets.redisPassword the chart writes no Secret of its own, and the
    servers and the in-chart Redis read that one."""
    docs = rendered_docs(values)
    assert not [d for d in docs if d["kind"] == "Secret" and "redis" in d["metadata"]["name"]]
    server = _one(docs, "Deployment", "pdf-chatbot")
    (volume,) = [v for v in _pod(server)["volumes"] if v["name"] == "redis-password"]
    assert (volume["secret"]["secretName"], volume["secret"]["items"][0]["key"]) == secret
    if values["redis"].get("deploy"):
        ref = _env(_one(docs, "Deployment", "pdf-chatbot-redis"))["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"]) == secret
    if values.get("externalSecrets"):
        (es,) = [d for d in docs if d["kind"] == "ExternalSecret"]
        assert (es["spec"]["target"]["name"], es["spec"]["data"][0]["secretKey"]) == secret


def test_network_policy_lets_only_the_servers_reach_the_in_chart_redis():
    docs = rendered_docs({**DEPLOY, "networkPolicy": {"enabled": True}})
    policy = _one(docs, "NetworkPolicy", "pdf-chatbot-redis")
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "redis"
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": "redis", "protocol": "TCP"}]
    (peer,) = rule["from"]
    assert peer == {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "pdf-chatbot",
                                                    "app.kubernetes.io/instance": "pdf-chatbot",
                                                    "app.kubernetes.io/component": "server"}}}
    # The servers' own policy restricts only what reaches them (Ingress): their connections to Redis are free.
    assert _one(docs, "NetworkPolicy", "pdf-chatbot")["spec"]["policyTypes"] == ["Ingress"]
    # An external Redis gets no policy of the chart's.
    external = rendered_docs({**EXTERNAL_REDIS, "networkPolicy": {"enabled": True}})
    assert "pdf-chatbot-redis" not in {d["metadata"]["name"] for d in external if d["kind"] == "NetworkPolicy"}


@pytest.mark.parametrize("values", [
    {**DEPLOY, "networkPolicy": {"enabled": True}},
    {**DEPLOY, "externalSecrets": ES_ON, "networkPolicy": {"enabled": True}, "postgresql": {"enabled": False}},
    EXTERNAL_REDIS,
], ids=["in-chart", "in-chart-external-secret-embedded", "external"])
def test_rendered_redis_validates_strictly(values):
    """Against the Kubernetes 1.33 schemas (kubernetes-validate --strict) and the vendored CRD schemas, like every other
    object of the chart."""
    docs = rendered_docs(values)
    for doc in docs:
        validate(doc)
    result = helm.lint(str(CHART), values, strict=True, kube_version="1.33.0")
    assert not result["errors"], result
    assert [m for m in result["messages"] if m["severity"] >= 2] == [], result["messages"]


def test_notes_say_where_redis_is():
    with helm.Chart.load(str(CHART)) as chart:
        render = lambda values: chart.render(values, name="pdf-chatbot", namespace="default")["pdf-chatbot/templates/NOTES.txt"]
        deployed, external, off = render(DEPLOY), render(EXTERNAL_REDIS), render({})
        es_only = render({"externalSecrets": ES_ON})
        es_deployed = render({**DEPLOY, "externalSecrets": ES_ON})
    assert "Redis redis://pdf-chatbot-redis:6379/0 (the in-chart Deployment pdf-chatbot-redis" in deployed
    assert "the response cache is on" in deployed and "Secret pdf-chatbot-redis, key redis-password" in deployed
    assert "Redis redis://cache.example.com:6380/2 (redis.url; password from Secret chat-cache, key password)" in external
    assert "redis" not in off.lower()
    assert "nothing reads it while Redis is off" in es_only and "nothing reads it" not in es_deployed


@pytest.mark.parametrize("values, message", [
    ({"redis": {"url": "redis://cache:6379/0", "deploy": {"enabled": True}}}, "redis.url and redis.deploy.enabled are alternatives"),
    ({"redis": {"existingSecret": "cache"}}, "redis.existingSecret needs redis.url"),
    ({"redis": {"deploy": {"password": "pw"}}}, "redis.deploy.password is the in-chart Redis's password"),
    ({"redis": {"url": "redis://cache:6379/0", "deploy": {"password": "pw"}}}, "redis.deploy.password is the in-chart"),
    ({"redis": {"deploy": {"enabled": True, "password": "pw"}, "existingSecret": "cache"}},
     "redis.deploy.password would be ignored: the password comes from redis.existingSecret"),
    ({"redis": {"deploy": {"enabled": True, "password": "pw"}}, "externalSecrets": ES_ON},
     "redis.deploy.password would be ignored: the password comes from externalSecrets.redisPassword"),
    ({"redis": {"url": "redis://cache:6379/0", "existingSecret": "cache"}, "externalSecrets": ES_ON},
     "redis.existingSecret and externalSecrets.redisPassword are alternatives"),
], ids=["url-and-deploy", "secret-without-redis", "password-without-deploy", "password-with-url",
        "password-and-existing-secret", "password-and-external-secret", "existing-and-external-secret"])
def test_contradictions_fail_to_render(values, message):
    with pytest.raises(helm.HelmError, match=re.escape(message)):
        rendered_docs(values)


@pytest.mark.parametrize("bad", [
    {"redis": {"url": "redis://:secret@cache:6379/0"}},
    {"redis": {"url": "redis://user:secret@cache:6379/0"}},
    {"redis": {"url": "http://cache:6379"}},
    {"redis": {"url": "cache:6379"}},
    {"redis": {"url": "redis://cache:6379/zero"}},
    {"redis": {"url": "redis://cache:6379/0?password=x"}},
    {"redis": {"url": "redis://cache name:6379/0"}},
    {"redis": {"existingSecret": "Redis_Secret"}},
    {"redis": {"existingSecretKey": ""}},
    {"redis": {"existingSecretKey": "a key"}},
    {"redis": {"timeout": 0}},
    {"redis": {"timeout": "0.25"}},
    {"redis": {"connectTimeout": -1}},
    {"redis": {"connections": 0}},
    {"redis": {"connections": 1.5}},
    {"redis": {"keyPrefix": "rag :"}},
    {"redis": {"password": "x"}},
    {"redis": {"deploy": {"enabled": "yes"}}},
    {"redis": {"deploy": {"password": "has space"}}},
    {"redis": {"deploy": {"maxmemory": "0"}}},
    {"redis": {"deploy": {"maxmemory": "128 mb"}}},
    {"redis": {"deploy": {"maxmemory": "128Mi"}}},
    {"redis": {"deploy": {"maxmemory": 134217728}}},
    {"redis": {"deploy": {"image": {"tag": ""}}}},
    {"redis": {"deploy": {"image": {"pullPolicy": "Sometimes"}}}},
    {"redis": {"deploy": {"persistence": {"enabled": True}}}},
    {"redis": {"deploy": {"resources": {"limit": {"memory": "1Gi"}}}}},
    {"server": {"cache": {"enabled": "on"}}},
    {"server": {"cache": {"ttl": 0}}},
    {"server": {"cache": {"ttl": "1h"}}},
    {"server": {"cache": {"embeddingTtl": 0}}},
    {"server": {"cache": {"maxEntryBytes": 0}}},
    {"server": {"cache": {"size": "1Gi"}}},
    {"monitoring": {"rules": {"cacheErrorRatio": 0}}},
    {"monitoring": {"rules": {"cacheErrorRatio": 1.5}}},
])
def test_values_schema_rejects_bad_redis_values(bad):
    with helm.Chart.load(str(CHART)) as chart:
        with pytest.raises(helm.HelmError):
            chart.validate_schema(chart.merge_values(bad))


@pytest.mark.parametrize("good", [
    {"redis": {"url": "redis://redis-master.cache.svc.cluster.local:6379/0", "existingSecret": "redis-auth"}},
    {"redis": {"url": "redis://10.0.0.5"}},
    {"redis": {"url": "redis://[fd00::5]:6379/15"}},
    {"redis": {"deploy": {"enabled": True, "password": "Zq8-unique.Redis~pass_42!", "maxmemory": "1gb"},
               "timeout": 0.05, "connectTimeout": 0.5, "connections": 8, "keyPrefix": "staging:rag:"}},
    {"redis": {"deploy": {"maxmemory": "512MB"}}, "server": {"cache": {"enabled": False, "ttl": 1, "embeddingTtl": 1,
                                                                        "maxEntryBytes": 1024}}},
    {"monitoring": {"rules": {"cacheErrorRatio": 1}}},
])
def test_values_schema_accepts_redis_values(good):
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(chart.merge_values(good))
