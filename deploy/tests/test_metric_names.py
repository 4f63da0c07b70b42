"""Every metric the alerts and the dashboard query is one that rag-server really exposes (or, for replicas, CPU
and memory, one that Kubernetes exposes). See exposition.py for where the /metrics text comes from."""
import pytest

import exposition
from conftest import KUBERNETES_METRICS, dashboard_exprs, metric_names, prometheus_rule


@pytest.fixture(scope="module")
def exposed(tmp_path_factory):
    text = exposition.exposition(tmp_path_factory.mktemp("metrics"))
    print(f"/metrics source: {exposition.SOURCE}")
    return exposition.sample_names(text)


def test_metric_name_parser():
    assert metric_names('histogram_quantile(0.95, sum by (namespace, le) (rate(a_bucket{job="x",le=~"1"}[5m]))) > 3') == {"a_bucket"}
    assert metric_names('time() - max by (namespace) (b{job="x"}) > 604800') == {"b"}
    assert metric_names('absent(up{job="pdf-chatbot"})') == {"up"}


def test_the_engine_families_are_really_exposed(exposed):
    for name in ("rag_requests_total", "rag_request_duration_seconds_bucket", "rag_llm_tokens_total",
                 "rag_llm_errors_total", "rag_llm_time_to_first_token_seconds_bucket", "rag_ingest_errors_total"):
        assert name in exposed, name


def test_alert_metrics_exist(exposed):
    for group in prometheus_rule()["spec"]["groups"]:
        for rule in group["rules"]:
            missing = metric_names(rule["expr"]) - exposed - KUBERNETES_METRICS
            assert not missing, f"{rule['alert']} reads {missing}, which /metrics ({exposition.SOURCE}) does not have"


def test_dashboard_metrics_exist(exposed):
    for title, expr in dashboard_exprs():
        missing = metric_names(expr) - exposed - KUBERNETES_METRICS
        assert not missing, f"panel {title!r} reads {missing}, which /metrics ({exposition.SOURCE}) does not have"


def test_the_database_mode_families_are_really_exposed(exposed):
    """The queue and database families that the database-mode alerts and panels read exist from the start, in every
    mode (zero until something happens), so that an alert on them is never silently absent."""
    for name in ("rag_ingest_queue_depth", "rag_ingest_jobs_total", "rag_collection_newest_version", "rag_database_up",
                 "rag_database_errors_total", "rag_collection_version"):
        assert name in exposed, name
