"""externalSecrets: the External Secrets Operator ExternalSecrets validate strictly against the vendored CRD schema,
write exactly the Secrets and keys the pods read, render nothing when off, and the values schema and the chart refuse
values that cannot work. The examples in docs/secrets.md validate too."""
import copy
import json
import re

import helm_python as helm
import jsonschema
import pytest
import yaml

from conftest import CHART, ROOT, SCHEMAS, rendered_docs
from test_manifests import EXTERNAL_SECRETS, validate

ES_SCHEMA = SCHEMAS / "external-secrets.io" / "externalsecret_v1.json"
STORE_SCHEMA = SCHEMAS / "external-secrets.io" / "secretstore_v1.json"
DOC = ROOT / "docs" / "secrets.md"

# The values turning every entry on; EXTERNAL_SECRETS (test_manifests.py) adds the database and API-key Secrets.
ALL_ENTRIES = {"openaiApiKey": {"enabled": True}, "databaseUrl": {"enabled": True}, "apiKeys": {"enabled": True},
               "redisPassword": {"enabled": True}}


def _merge(base, extra):
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _external_secrets(docs):
    return [d for d in docs if d["kind"] == "ExternalSecret"]


def _targets(docs):
    """(Secret, key) -> the ExternalSecret that writes it."""
    out = {}
    for es in _external_secrets(docs):
        (item,) = es["spec"]["data"]
        out[(es["spec"]["target"]["name"], item["secretKey"])] = es
    return out


def _pod_specs(docs):
    for d in docs:
        spec = d.get("spec", {})
        if d["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        if d["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob"):
            yield d, spec["template"]["spec"]


def _reads(docs):
    """(Secret, key) -> the objects whose pods read it, through env secretKeyRef or a secret volume."""
    reads = {}
    for d, pod in _pod_specs(docs):
        who = f"{d['kind']}/{d['metadata']['name']}"
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    reads.setdefault((ref["name"], ref["key"]), set()).add(who)
            for source in c.get("envFrom", []):
                assert "secretRef" not in source, "a whole-Secret envFrom: the test cannot tell its keys"
        for v in pod.get("volumes", []):
            if "secret" not in v:
                continue
            name = v["secret"]["secretName"]
            if "items" in v["secret"]:
                keys = [item["key"] for item in v["secret"]["items"]]
            else:
                # The whole Secret mounted: the keys read are the files the containers' *_FILE variables name in it.
                keys = []
                for c in pod["containers"]:
                    for mount in c.get("volumeMounts", []):
                        if mount["name"] == v["name"]:
                            prefix = mount["mountPath"].rstrip("/") + "/"
                            keys += [e["value"][len(prefix):] for e in c.get("env", [])
                                     if e["name"].endswith("_FILE") and e.get("value", "").startswith(prefix)]
                assert keys, f"{who} mounts Secret {name} but no *_FILE variable names a file in it"
            for key in keys:
                reads.setdefault((name, key), set()).add(who)
    return reads


def test_rendered_external_secrets_validate_strictly():
    docs = rendered_docs(EXTERNAL_SECRETS)
    external = _external_secrets(docs)
    assert len(external) == 4
    schema = json.loads(ES_SCHEMA.read_text())
    for es in external:
        jsonschema.Draft7Validator(schema).validate(es)
        validate(es)  # the same through the deployment checks' dispatcher
        spec = es["spec"]
        assert es["apiVersion"] == "external-secrets.io/v1"
        assert spec["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "aws-secrets-manager"}
        assert spec["refreshInterval"] == "1h"
        assert spec["target"]["creationPolicy"] == "Owner" and spec["target"]["deletionPolicy"] == "Retain"
        assert es["metadata"]["labels"]["app.kubernetes.io/part-of"] == "pdf-chatbot"
    by_name = {es["metadata"]["name"]: es for es in external}
    assert set(by_name) == {"pdf-chatbot-openai-api-key", "pdf-chatbot-database-url", "pdf-chatbot-api-keys",
                            "pdf-chatbot-redis-password"}
    assert by_name["pdf-chatbot-database-url"]["spec"]["data"][0]["remoteRef"] == {"key": "pdf-chatbot/database",
                                                                                   "property": "url"}
    assert by_name["pdf-chatbot-openai-api-key"]["spec"]["data"][0]["remoteRef"] == {"key": "pdf-chatbot/openai-api-key"}


def test_strict_validation_catches_a_misspelt_external_secret_field():
    (es, *_) = _external_secrets(rendered_docs(EXTERNAL_SECRETS))
    es["spec"]["target"]["creationpolicy"] = "Owner"
    with pytest.raises(jsonschema.ValidationError):
        validate(es)
    (es, *_) = _external_secrets(rendered_docs(EXTERNAL_SECRETS))
    es["spec"]["secretStoreRef"]["kind"] = "ClusterSecretstore"
    with pytest.raises(jsonschema.ValidationError):
        validate(es)


@pytest.mark.parametrize("values", [
    EXTERNAL_SECRETS,
    # Other names and keys, another release name, a namespaced SecretStore, a version and Delete.
    _merge(EXTERNAL_SECRETS, {
        "openai": {"secretName": "llm", "secretKey": "token"},
        "database": {"existingSecret": "db", "secretKey": "dsn"},
        "apiKeys": {"secretName": "clients", "secretKey": "keys.txt"},
        "ingest": {"job": {"enabled": True}},
        "externalSecrets": {"storeRef": {"name": "team-store", "kind": "SecretStore"}, "refreshInterval": "15m",
                            "deletionPolicy": "Delete",
                            "apiKeys": {"remoteRef": {"key": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:clients-AbCdEf",
                                                      "version": "AWSPREVIOUS"}},
                            "redisPassword": {"secretName": "cache", "secretKey": "password"}},
    }),
    # The same with Redis: the in-chart one, and an external one.
    _merge(EXTERNAL_SECRETS, {"redis": {"deploy": {"enabled": True}}}),
    _merge(EXTERNAL_SECRETS, {"redis": {"url": "redis://cache.example.com:6379/0"},
                              "externalSecrets": {"redisPassword": {"secretName": "cache", "secretKey": "password"}}}),
], ids=["defaults", "renamed", "in-chart-redis", "external-redis"])
def test_targets_are_the_secrets_the_pods_read(values):
    """Every Secret key an ExternalSecret writes is read by the pods (but the Redis password while Redis is off: it
    may be put in place first), and every Secret key the pods read is written by one: the names come from the same
    values, so they cannot drift. With Redis the serving pods mount the password, and the in-chart Redis requires
    it; the workers and jobs never read it."""
    docs = rendered_docs(values, name="chat")
    targets, reads = _targets(docs), _reads(docs)
    assert len(targets) == 4
    es = values["externalSecrets"]
    redis = (es["redisPassword"].get("secretName") or "chat-pdf-chatbot-redis",
             es["redisPassword"].get("secretKey", "redis-password"))
    assert redis in targets, "the Redis password Secret is written in every case"
    redis_values = values.get("redis", {})
    if redis_values.get("deploy", {}).get("enabled"):
        assert reads[redis] == {"Deployment/chat-pdf-chatbot", "Deployment/chat-pdf-chatbot-redis"}
        assert not [d for d in docs if d["kind"] == "Secret"], "the chart writes no Secret of its own then"
    elif redis_values.get("url"):
        assert reads[redis] == {"Deployment/chat-pdf-chatbot"}
    else:
        assert redis not in reads, "Redis off: the password Secret is written, nothing reads it"
        reads[redis] = set()
    assert set(targets) == set(reads), (sorted(targets), sorted(reads))
    openai = (values.get("openai", {}).get("secretName", "openai-secret"), values.get("openai", {}).get("secretKey", "OPENAI_API_KEY"))
    assert reads[openai] >= {"Deployment/chat-pdf-chatbot", "Deployment/chat-pdf-chatbot-worker"}
    database = (values["database"]["existingSecret"], values["database"]["secretKey"])
    assert {"Deployment/chat-pdf-chatbot", "Deployment/chat-pdf-chatbot-worker", "CronJob/chat-pdf-chatbot-ingest"} <= reads[database]
    api_keys = (values["apiKeys"]["secretName"], values["apiKeys"].get("secretKey", "api-keys"))
    assert reads[api_keys] == {"Deployment/chat-pdf-chatbot", "Deployment/chat-pdf-chatbot-worker"}
    for es_doc in targets.values():
        assert es_doc["spec"]["secretStoreRef"] == {"name": es["storeRef"]["name"], "kind": es["storeRef"]["kind"]}


def test_the_default_names_need_no_change_to_the_pods():
    """The defaults write the Secrets k8s/ and the chart read: openai-secret/OPENAI_API_KEY, and the API keys and the
    database URL under the names and keys their values give (EXTERNAL: database.secretKey=url)."""
    docs = rendered_docs(EXTERNAL_SECRETS)
    targets = _targets(docs)
    assert set(targets) == {("openai-secret", "OPENAI_API_KEY"), ("pdf-chatbot-database", "url"),
                            ("pdf-chatbot-api-keys", "api-keys"), ("pdf-chatbot-redis", "redis-password")}
    off = {k: v for k, v in EXTERNAL_SECRETS.items() if k != "externalSecrets"}
    strip = lambda ds: [d for d in ds if d["kind"] != "ExternalSecret"]
    assert strip(docs) == strip(rendered_docs(off)), "switching externalSecrets on changes nothing else"


def test_with_the_in_chart_redis_the_external_secret_replaces_the_chart_s_secret():
    """The in-chart Redis reads Secret <fullname>-redis, key redis-password, whoever writes it: the chart (a generated
    password) or, with externalSecrets.redisPassword, ESO. Switching the latter on only swaps the writer."""
    with_redis = _merge(EXTERNAL_SECRETS, {"redis": {"deploy": {"enabled": True}}})
    on = [d for d in rendered_docs(with_redis) if d["kind"] != "ExternalSecret"]
    off = rendered_docs({k: v for k, v in with_redis.items() if k != "externalSecrets"})
    (chart_secret,) = [d for d in off if d["kind"] == "Secret"]
    assert chart_secret["metadata"]["name"] == "pdf-chatbot-redis" and set(chart_secret["stringData"]) == {"redis-password"}
    assert on == [d for d in off if d is not chart_secret]


@pytest.mark.parametrize("values", [
    None,
    {"externalSecrets": {"enabled": False, "storeRef": {"name": "aws"}, **ALL_ENTRIES}},
    {"externalSecrets": {"enabled": False}},
], ids=["defaults", "entries-on-but-disabled", "disabled"])
def test_disabled_renders_no_external_secret(values):
    assert not _external_secrets(rendered_docs(values))


@pytest.mark.parametrize("bad", [
    {"externalSecrets": {"storeRef": {"kind": "ClusterSecretstore"}}},
    {"externalSecrets": {"storeRef": {"kind": "Vault"}}},
    {"externalSecrets": {"enabled": True, "openaiApiKey": {"enabled": True}}},  # no storeRef.name
    {"externalSecrets": {"storeRef": {"name": "AWS_Store"}}},
    {"externalSecrets": {"openaiApiKey": {"remoteRef": {"key": ""}}}},
    {"externalSecrets": {"databaseUrl": {"remoteRef": {"key": "has space"}}}},
    {"externalSecrets": {"apiKeys": {"remoteRef": {"propery": "keys"}}}},
    {"externalSecrets": {"apiKeys": {"remoteRef": {"property": "a b"}}}},
    {"externalSecrets": {"redisPassword": {"secretKey": ""}}},
    {"externalSecrets": {"redisPassword": {"secretKey": "redis password"}}},
    {"externalSecrets": {"redisPassword": {"secretName": "Redis"}}},
    {"externalSecrets": {"refreshInterval": "hourly"}},
    {"externalSecrets": {"refreshInterval": 3600}},
    {"externalSecrets": {"deletionPolicy": "Merge"}},
    {"externalSecrets": {"creationPolicy": "Orphan"}},
    {"externalSecrets": {"openaiApiKey": {"enabled": "yes"}}},
    {"externalSecrets": {"openAIApiKey": {"enabled": True}}},
])
def test_values_schema_rejects_bad_external_secrets(bad):
    with helm.Chart.load(str(CHART)) as chart:
        with pytest.raises(helm.HelmError):
            chart.validate_schema(chart.merge_values(bad))


@pytest.mark.parametrize("good", [
    {"externalSecrets": {"enabled": True, "storeRef": {"name": "aws-secrets-manager"}, "refreshInterval": "0",
                         "openaiApiKey": {"enabled": True, "remoteRef": {"key": "prod/pdf-chatbot", "property": "openai"}}}},
    {"externalSecrets": {"storeRef": {"name": "store.example", "kind": "SecretStore"}, "refreshInterval": "1h30m",
                         "deletionPolicy": "Delete",
                         "apiKeys": {"remoteRef": {"key": "arn:aws:secretsmanager:us-east-1:123456789012:secret:k-AbC",
                                                   "version": "uuid/0bd4b2d3-5bd0-4e33-9e3c-1b7c2a3e4f5a"}}}},
])
def test_values_schema_accepts_external_secrets(good):
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(chart.merge_values(good))


@pytest.mark.parametrize("values, message", [
    ({"externalSecrets": {"enabled": True, "storeRef": {"name": "aws"}, "databaseUrl": {"enabled": True}}},
     "needs database.existingSecret"),
    ({"database": {"url": "postgres://u:p@db/rag"},
      "externalSecrets": {"enabled": True, "storeRef": {"name": "aws"}, "databaseUrl": {"enabled": True}}},
     "needs database.existingSecret"),
    ({"externalSecrets": {"enabled": True, "storeRef": {"name": "aws"}, "apiKeys": {"enabled": True}}},
     "needs apiKeys.secretName"),
    ({"externalSecrets": {"enabled": True, "storeRef": {"name": "aws"}}}, "no secret is switched on"),
    ({"apiKeys": {"secretName": "openai-secret"},
      "externalSecrets": {"enabled": True, "storeRef": {"name": "aws"}, "openaiApiKey": {"enabled": True},
                          "apiKeys": {"enabled": True}}},
     "both write Secret"),
], ids=["bundled-database", "plain-url", "no-api-keys-secret", "nothing-on", "one-secret-twice"])
def test_impossible_external_secrets_fail_to_render(values, message):
    with pytest.raises(helm.HelmError, match=message):
        rendered_docs(values)


def _doc_blocks(language):
    return re.findall(rf"^```{language}\n(.*?)^```", DOC.read_text(), re.M | re.S)


def test_the_guide_s_cluster_secret_store_validates():
    """docs/secrets.md's ClusterSecretStore manifests validate strictly against the SecretStore schema (a
    ClusterSecretStore has the same spec; the schema pins kind SecretStore)."""
    stores = [d for block in _doc_blocks("yaml") for d in yaml.safe_load_all(block)
              if isinstance(d, dict) and d.get("kind") == "ClusterSecretStore"]
    assert len(stores) >= 2, "the IRSA and the static-credentials examples"
    schema = json.loads(STORE_SCHEMA.read_text())
    for store in stores:
        assert store["spec"]["provider"]["aws"]["service"] == "SecretsManager"
        jsonschema.Draft7Validator(schema).validate({**store, "kind": "SecretStore"})


def test_the_guide_s_values_render_and_its_iam_policy_is_json():
    """The chart values in docs/secrets.md pass the values schema and render ExternalSecrets whose store is the
    guide's ClusterSecretStore and whose remote keys are the ones its `aws secretsmanager create-secret` commands make."""
    values = [yaml.safe_load(b) for b in _doc_blocks("yaml")]
    values = [v for v in values if isinstance(v, dict) and "externalSecrets" in v]
    assert len(values) == 1
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(chart.merge_values(values[0]))
    docs = rendered_docs(values[0])
    external = _external_secrets(docs)
    assert len(external) == 4
    text = DOC.read_text()
    created = set(re.findall(r"aws secretsmanager create-secret[^\n]*\n?\s*--name (\S+)", text))
    assert {es["spec"]["data"][0]["remoteRef"]["key"] for es in external} <= created, created
    stores = {d["metadata"]["name"] for block in _doc_blocks("yaml") for d in yaml.safe_load_all(block)
              if isinstance(d, dict) and d.get("kind") == "ClusterSecretStore"}
    assert {es["spec"]["secretStoreRef"]["name"] for es in external} <= stores
    policies = [json.loads(b) for b in _doc_blocks("json")]  # each parses
    (policy,) = [p for p in policies if "secretsmanager:" in json.dumps(p)]
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert actions == {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
    assert all(r.startswith("arn:aws:secretsmanager:") for s in policy["Statement"] for r in s["Resource"])
    trust = [p for p in policies if "sts:AssumeRoleWithWebIdentity" in json.dumps(p)]
    assert trust and "eks.amazonaws.com/role-arn" in text


def test_helm_lint_strict_with_external_secrets_on():
    result = helm.lint(str(CHART), EXTERNAL_SECRETS, strict=True, kube_version="1.33.0")
    assert not result["errors"], result
    assert [m for m in result["messages"] if m["severity"] >= 2] == [], result["messages"]
