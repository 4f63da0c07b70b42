"""Every metric the alerts and the dashboard query is one that rag-server really exposes (or, for replicas, CPU
and memory, one that Kubernetes exposes). See exposition.py for where the /metrics text comes from."""
import pytest

import exposition
from conftest import CONTRACT_METRICS, KUBERNETES_METRICS, dashboard_exprs, metric_names, prometheus_rule


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
            missing = metric_names(rule["expr"]) - exposed - KUBERNETES_METRICS - CONTRACT_METRICS
            assert not missing, f"{rule['alert']} reads {missing}, which /metrics ({exposition.SOURCE}) does not have"


def test_dashboard_metrics_exist(exposed):
    for title, expr in dashboard_exprs():
        missing = metric_names(expr) - exposed - KUBERNETES_METRICS - CONTRACT_METRICS
        assert not missing, f"panel {title!r} reads {missing}, which /metrics ({exposition.SOURCE}) does not have"


def test_contract_metrics_are_read_and_reported(exposed):
    """The database-mode contract names (conftest.CONTRACT_METRICS) are all read by an alert or a panel, and the names
    still missing from real /metrics are printed, so that the list is emptied as the Swift side lands them."""
    read = set()
    for group in prometheus_rule()["spec"]["groups"]:
        for rule in group["rules"]:
            read |= metric_names(rule["expr"])
    for _, expr in dashboard_exprs():
        read |= metric_names(expr)
    assert CONTRACT_METRICS <= read, CONTRACT_METRICS - read
    pending = sorted(CONTRACT_METRICS - exposed)
    print(f"contract metrics not yet in /metrics ({exposition.SOURCE}): {pending or 'none: delete CONTRACT_METRICS'}")
