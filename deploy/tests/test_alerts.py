"""The alert rules pass `promtool check rules`, and every alert has a passing `promtool test rules` case."""
import shutil
import subprocess

import yaml

from conftest import ROOT, prometheus_rule


def _write_rules(directory, annotations=True):
    groups = prometheus_rule()["spec"]["groups"]
    if not annotations:
        for group in groups:
            for rule in group["rules"]:
                rule.pop("annotations", None)
    path = directory / "pdf-chatbot.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


def test_promtool_check_rules(tmp_path, promtool):
    path = _write_rules(tmp_path)
    run = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_promtool_test_rules(tmp_path, promtool):
    _write_rules(tmp_path, annotations=False)
    shutil.copy(ROOT / "deploy" / "alerts" / "tests.yaml", tmp_path / "tests.yaml")
    run = subprocess.run([promtool, "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_alert_has_a_unit_test():
    alerts = {r["alert"] for g in prometheus_rule()["spec"]["groups"] for r in g["rules"] if "alert" in r}
    tests = yaml.safe_load((ROOT / "deploy" / "alerts" / "tests.yaml").read_text())["tests"]
    firing = {t["alertname"] for case in tests for t in case.get("alert_rule_test", []) if t["exp_alerts"]}
    assert alerts == firing, f"alerts without a firing test: {alerts - firing}; tests for unknown alerts: {firing - alerts}"
    required = {"PdfChatbotHighAnswerLatency", "PdfChatbotHighErrorRatio", "PdfChatbotNoReadyReplicas",
                "PdfChatbotTargetDown", "PdfChatbotLLMTimeouts", "PdfChatbotLLMRateLimited",
                "PdfChatbotIngestJobFailed", "PdfChatbotNothingIngested"}
    assert required <= alerts


def test_alerts_have_severity_and_text():
    for group in prometheus_rule()["spec"]["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
            assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
