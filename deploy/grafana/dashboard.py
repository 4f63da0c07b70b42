#!/usr/bin/env python3
"""Writes the Grafana dashboard (helm/pdf-chatbot/dashboards/pdf-chatbot.json) that the chart and
k8s/grafana-dashboard.yaml ship. Panels are listed here once; `--check` fails when the JSON is out of date.

Every query selects job="pdf-chatbot" (the ServiceMonitor's jobLabel) and the namespace variable. The replica,
CPU and memory panels use kube-state-metrics and cAdvisor series that kube-prometheus-stack scrapes.

Usage: deploy/grafana/dashboard.py [--check]
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "helm" / "pdf-chatbot" / "dashboards" / "pdf-chatbot.json"
SEL = 'job="pdf-chatbot", namespace=~"$namespace"'
POD = 'namespace=~"$namespace", pod=~"pdf-chatbot-[a-z0-9]+-[a-z0-9]+", container="rag-server"'
RI = "$__rate_interval"


def quantiles(metric, by="", extra=""):
    """p50/p95/p99 targets for a histogram."""
    grouping = f"{by}, le" if by else "le"
    legend = "{{" + by + "}} " if by else ""
    sel = SEL + (", " + extra if extra else "")
    return [
        (f"histogram_quantile({q}, sum by ({grouping}) (rate({metric}_bucket{{{sel}}}[{RI}])))", f"{legend}p{int(q * 100)}")
        for q in (0.5, 0.95, 0.99)
    ]


# (title, unit, targets [(expr, legend)], description)
ROWS = [
    ("Traffic", [
        ("Requests per second by route", "reqps", [
            (f"sum by (route) (rate(rag_http_requests_total{{{SEL}}}[{RI}]))", "{{route}}")],
         "HTTP requests answered, by route template."),
        ("Engine requests per second", "reqps", [
            (f"sum by (operation, outcome) (rate(rag_requests_total{{{SEL}}}[{RI}]))", "{{operation}} {{outcome}}")],
         "ask, search, ingest and remove calls into the engine, by outcome."),
        ("Error ratio", "percentunit", [
            (f'sum(rate(rag_http_requests_total{{{SEL}, status=~"5.."}}[{RI}])) / sum(rate(rag_http_requests_total{{{SEL}}}[{RI}]))', "HTTP 5xx"),
            (f'sum(rate(rag_requests_total{{{SEL}, outcome="error"}}[{RI}])) / sum(rate(rag_requests_total{{{SEL}}}[{RI}]))', "engine errors")],
         "Share of requests that failed. The PdfChatbotHighErrorRatio alert watches the HTTP line."),
        ("Requests in flight", "short", [
            (f"sum by (pod) (rag_http_requests_in_flight{{{SEL}}})", "{{pod}}")],
         "Requests being served now, per pod."),
    ]),
    ("Latency", [
        ("Answer latency (/v1/ask)", "s", quantiles("rag_request_duration_seconds", extra='operation="ask"'),
         "Whole-answer latency percentiles; PdfChatbotHighAnswerLatency watches p95."),
        ("HTTP latency by route (p95)", "s", [
            (f"histogram_quantile(0.95, sum by (route, le) (rate(rag_http_request_duration_seconds_bucket{{{SEL}}}[{RI}])))", "{{route}}")],
         "95th percentile per route."),
        ("LLM latency", "s", quantiles("rag_llm_duration_seconds", by="model"),
         "Time for the language model to produce a whole answer."),
        ("LLM time to first token", "s", quantiles("rag_llm_time_to_first_token_seconds", by="model"),
         "What a user waits before the streamed answer starts."),
        ("Retrieval latency", "s", quantiles("rag_retrieval_duration_seconds"),
         "Query embedding plus vector search."),
        ("Embedding latency", "s", quantiles("rag_embedding_duration_seconds"),
         "One embedder call."),
    ]),
    ("Language model", [
        ("Tokens per second by kind", "short", [
            (f"sum by (kind, model) (rate(rag_llm_tokens_total{{{SEL}}}[{RI}]))", "{{kind}} {{model}}")],
         "Prompt, completion and embedding tokens (estimated when the provider reports none)."),
        ("LLM errors per second by type", "reqps", [
            (f"sum by (type, model) (rate(rag_llm_errors_total{{{SEL}}}[{RI}]))", "{{type}} {{model}}")],
         "timeout and rate_limited have their own alerts."),
        ("Questions turned away", "reqps", [
            (f"sum(rate(rag_llm_queue_rejected_total{{{SEL}}}[{RI}]))", "LLM queue full"),
            (f"sum(rate(rag_rate_limited_total{{{SEL}}}[{RI}]))", "client rate limit")],
         "Rejected because the LLM queue was full, or because a client exceeded RAG_RATE_LIMIT."),
        ("Tokens per second by client", "short", [
            (f"sum by (client, kind) (rate(rag_client_tokens_total{{{SEL}}}[{RI}]))", "{{client}} {{kind}}")],
         "Usage per API key name."),
        ("Query rewrites per second by outcome", "reqps", [
            (f"sum by (outcome) (rate(rag_query_rewrites_total{{{SEL}}}[{RI}]))", "{{outcome}}")],
         "Query rewriting calls (RAG_QUERY_REWRITES, RAG_HYPOTHETICAL_ANSWER; off by default): empty and error searched the question alone."),
        ("Query rewriting tokens per second", "short", [
            (f"sum by (kind, model) (rate(rag_query_rewrite_tokens_total{{{SEL}}}[{RI}]))", "{{kind}} {{model}}")],
         "What rewriting costs; also counted in the tokens by kind panel."),
    ]),
    ("Answers", [
        ("Sources matched per question", "short", [
            (f"sum(rate(rag_sources_matched_sum{{{SEL}}}[{RI}])) / sum(rate(rag_sources_matched_count{{{SEL}}}[{RI}]))", "mean"),
            (f"histogram_quantile(0.05, sum by (le) (rate(rag_sources_matched_bucket{{{SEL}}}[{RI}])))", "p5")],
         "Passages placed in the prompt; a low p5 means questions the documents do not cover."),
        ("Prompt and response length", "short", [
            (f"sum(rate(rag_prompt_length_tokens_sum{{{SEL}}}[{RI}])) / sum(rate(rag_prompt_length_tokens_count{{{SEL}}}[{RI}]))", "prompt mean"),
            (f"histogram_quantile(0.95, sum by (le) (rate(rag_prompt_length_tokens_bucket{{{SEL}}}[{RI}])))", "prompt p95"),
            (f"sum(rate(rag_response_length_tokens_sum{{{SEL}}}[{RI}])) / sum(rate(rag_response_length_tokens_count{{{SEL}}}[{RI}]))", "response mean"),
            (f"histogram_quantile(0.95, sum by (le) (rate(rag_response_length_tokens_bucket{{{SEL}}}[{RI}])))", "response p95")],
         "In (estimated) tokens."),
        ("Collection size", "short", [
            (f"max(rag_collection_documents{{{SEL}}})", "documents"),
            (f"max(rag_collection_chunks{{{SEL}}})", "chunks")],
         "As the serving replicas see it."),
        ("Time since last ingest", "s", [
            (f"time() - max(rag_collection_last_ingest_timestamp_seconds{{{SEL}}})", "age")],
         "PdfChatbotNothingIngested fires past its threshold."),
    ]),
    ("Database and ingestion queue", [
        ("Ingestion queue depth", "short", [
            (f"max by (state) (rag_ingest_queue_depth{{{SEL}}})", "{{state}}")],
         "Uploads waiting for a worker and being processed. Every pod reports the same cluster-wide count, hence max. "
         "The workers' HPA scales on the queued line; PdfChatbotIngestQueueBacklog fires when it stays high."),
        ("Ingestion job outcomes", "short", [
            (f"sum by (outcome) (increase(rag_ingest_jobs_total{{{SEL}}}[{RI}]))", "{{outcome}}")],
         "Queued jobs that ended ready or failed, and those retried after their worker's lease expired."),
        ("Replication lag (collection versions)", "short", [
            (f"max(rag_collection_newest_version{{{SEL}}}) - min(rag_collection_version{{{SEL}}})", "newest - slowest"),
            (f"max(rag_collection_newest_version{{{SEL}}}) - on () group_right () max by (pod) (rag_collection_version{{{SEL}}})", "{{pod}}")],
         "How many changes in the database each replica has yet to apply; PdfChatbotReplicationLag fires when one stays behind."),
        ("Database reachable and errors", "short", [
            (f"min by (pod) (rag_database_up{{{SEL}}})", "up {{pod}}"),
            (f"sum by (operation) (rate(rag_database_errors_total{{{SEL}}}[{RI}]))", "errors/s {{operation}}")],
         "rag_database_up is 1 while a pod reaches the database (it stays ready without it, serving from memory)."),
    ]),
    ("Pods", [
        ("Replicas", "short", [
            ('sum(kube_deployment_status_replicas_available{namespace=~"$namespace", deployment="pdf-chatbot"})', "available"),
            ('sum(kube_deployment_spec_replicas{namespace=~"$namespace", deployment="pdf-chatbot"})', "desired"),
            (f"sum(up{{{SEL}}})", "scraped")],
         "From kube-state-metrics and the scrape targets."),
        ("CPU (cores)", "short", [
            (f"sum by (pod) (rate(container_cpu_usage_seconds_total{{{POD}}}[{RI}]))", "{{pod}}")],
         "From cAdvisor; the HPA scales on CPU utilisation of the request."),
        ("Memory (working set)", "bytes", [
            (f"sum by (pod) (container_memory_working_set_bytes{{{POD}}})", "{{pod}}")],
         "From cAdvisor."),
    ]),
    # Last, so that the panels above keep their ids. Empty without Redis: the servers export these families only when
    # it is configured (redis.url or redis.deploy.enabled).
    ("Cache and Redis", [
        ("Cache hit ratio by layer", "percentunit", [
            (f'sum by (layer) (rate(rag_cache_requests_total{{{SEL}, outcome="hit"}}[{RI}])) / clamp_min(sum by (layer) '
             f'(rate(rag_cache_requests_total{{{SEL}, outcome=~"hit|miss"}}[{RI}])), 1e-9)', "{{layer}}")],
         "Hits over hits plus misses, per layer (answer, retrieval, embedding). An answer hit skips retrieval and the "
         "language model."),
        ("Cache lookups per second by layer and outcome", "reqps", [
            (f"sum by (layer, outcome) (rate(rag_cache_requests_total{{{SEL}}}[{RI}]))", "{{layer}} {{outcome}}")],
         "error: the lookup failed or timed out (RAG_REDIS_TIMEOUT) and the request went on without the cache; "
         "skipped: not looked up in Redis. PdfChatbotCacheErrors watches the errors."),
        ("Cache bytes per second", "Bps", [
            (f"sum by (direction) (rate(rag_cache_bytes_total{{{SEL}}}[{RI}]))", "{{direction}}")],
         "Bytes read from and written to the cache; the in-chart Redis holds at most redis.deploy.maxmemory."),
        ("Redis errors per second by operation", "reqps", [
            (f"sum by (operation) (rate(rag_redis_errors_total{{{SEL}}}[{RI}]))", "{{operation}}")],
         "cache_get, cache_set, rate_limit and connect failures, from every serving pod."),
        ("Redis reachable per pod", "short", [
            (f"min by (pod) (rag_redis_up{{{SEL}}})", "{{pod}}")],
         "1 while the pod's Redis connection works; PdfChatbotCacheDown fires after 5 minutes at 0. Meanwhile answers "
         "go uncached and the rate limits are per replica."),
        ("Redis command latency (p99)", "s", [
            (f"histogram_quantile(0.99, sum by (command, le) (rate(rag_redis_command_duration_seconds_bucket{{{SEL}}}[{RI}])))",
             "{{command}}")],
         "99th percentile per command (get, set, evalsha, ...), to compare with RAG_REDIS_TIMEOUT (redis.timeout)."),
        ("Rate-limit decisions per second by store", "reqps", [
            (f"sum by (store) (rate(rag_rate_limit_decisions_total{{{SEL}}}[{RI}]))", "{{store}}")],
         "redis: counted for the whole deployment; local: a replica's own buckets, while Redis is unreachable."),
    ]),
]


def build():
    panels, pid, y = [], 1, 0
    for row_title, row_panels in ROWS:
        panels.append({"type": "row", "title": row_title, "id": pid, "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        pid, y = pid + 1, y + 1
        for i, (title, unit, targets, description) in enumerate(row_panels):
            panels.append({
                "type": "timeseries", "id": pid, "title": title, "description": description,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": y + 8 * (i // 2)},
                "fieldConfig": {"defaults": {"unit": unit, "custom": {"fillOpacity": 10}}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
                "targets": [{"refId": chr(ord("A") + n), "expr": expr, "legendFormat": legend,
                             "datasource": {"type": "prometheus", "uid": "${datasource}"}}
                            for n, (expr, legend) in enumerate(targets)],
            })
            pid += 1
        y += 8 * ((len(row_panels) + 1) // 2)
    return {
        "uid": "pdf-chatbot", "title": "pdf-chatbot", "tags": ["pdf-chatbot", "rag"],
        "description": "Requests, latency, language model, answers, database, pods, cache and Redis of pdf-chatbot (rag-server).",
        "schemaVersion": 39, "version": 1, "editable": True, "graphTooltip": 1,
        "time": {"from": "now-6h", "to": "now"}, "refresh": "30s", "timezone": "",
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0, "refresh": 1},
            {"name": "namespace", "label": "Namespace", "type": "query",
             "datasource": {"type": "prometheus", "uid": "${datasource}"},
             "query": {"query": 'label_values(rag_requests_total{job="pdf-chatbot"}, namespace)', "refId": "namespace"},
             "definition": 'label_values(rag_requests_total{job="pdf-chatbot"}, namespace)',
             "includeAll": True, "multi": True, "current": {}, "refresh": 2, "hide": 0, "sort": 1},
        ]},
        "annotations": {"list": []},
        "panels": panels,
    }


def render():
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv[1:]:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            sys.exit(f"{OUTPUT.relative_to(ROOT)} is out of date: run deploy/grafana/dashboard.py")
    else:
        OUTPUT.write_text(text)
