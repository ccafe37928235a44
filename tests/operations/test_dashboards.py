"""The Grafana dashboard, the Prometheus configuration and alert rules, and their compose services — checked
against the code since docker is not on these machines: every metric they name is one the API exports or the
Temporal SDK's runtime serves (scraped here from a real worker), every scrape target is a compose service on the
port its settings give, every mounted file exists, every alert has a runbook entry."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import yaml
from prometheus_client import REGISTRY
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

import observability.business_gauges  # noqa: F401  (registers the gauges)
import observability.http_metrics  # noqa: F401  (registers the request metrics)
from devstack.ports import free_port
from observability.worker_telemetry import worker_runtime
from orchestration.connect import connect
from settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
PROMETHEUS = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
ALERTS = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
DASHBOARD = json.loads((ROOT / "deploy/grafana/dashboards/taxpractice.json").read_text())
RUNBOOK = (ROOT / "docs/operations.md").read_text()
PROMQL_WORDS = {"sum", "min", "max", "avg", "by", "rate", "deriv", "histogram_quantile", "and", "or", "le", "up",
                "status", "route", "kind", "task_queue", "activity_type", "worker_type", "service", "job", "instance",
                "m", "s", "h"}


def metric_names(expression: str) -> set[str]:
    """The series an expression reads: identifiers outside label matchers and strings, less PromQL's words."""
    without_strings = re.sub(r'"[^"]*"', "", expression)
    without_matchers = re.sub(r"\{[^}]*\}", "", without_strings)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_matchers)
    return {word for word in re.findall(r"[a-zA-Z_][a-zA-Z0-9_]*", without_ranges)} - PROMQL_WORDS


def exported_by_us() -> set[str]:
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    return {metric.name + suffix for metric in REGISTRY.collect() for suffix in suffixes.get(metric.type, ("",))}


def alert_rules() -> list[dict]:
    return [rule for group in ALERTS["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    return [target["expr"] for panel in DASHBOARD["panels"] for target in panel["targets"]]


# The probe fails once in each place, so the SDK's failure counters exist too.
_failed_once: set[str] = set()


@workflow.defn(name="MetricsProbe")
class MetricsProbe:
    @workflow.run
    async def run(self) -> str:
        if "workflow_task" not in _failed_once:
            _failed_once.add("workflow_task")
            raise RuntimeError("a workflow task that fails once")  # not an ApplicationError: the task is retried
        return await workflow.execute_activity("metrics_probe_step", start_to_close_timeout=timedelta(seconds=10),
                                               retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100)))


@activity.defn(name="metrics_probe_step")
async def metrics_probe_step() -> str:
    if "activity" not in _failed_once:
        _failed_once.add("activity")
        raise RuntimeError("an activity attempt that fails once")
    return "done"


async def sdk_metric_names(tp) -> set[str]:
    """What a worker's runtime really serves, after one workflow with one activity ran on it."""
    port = free_port()
    client = await connect(tp.settings, runtime=worker_runtime("127.0.0.1", port))
    queue = f"metrics-probe-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[MetricsProbe], activities=[metrics_probe_step],
                      workflow_runner=UnsandboxedWorkflowRunner()):
        assert await client.execute_workflow(MetricsProbe.run, id=queue, task_queue=queue) == "done"
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


async def test_every_metric_the_alerts_and_the_dashboard_read_exists(tp):
    known = exported_by_us() | await sdk_metric_names(tp) | {"up"}
    expressions = [rule["expr"] for rule in alert_rules()] + dashboard_expressions()
    for expression in expressions:
        assert expression.count("(") == expression.count(")"), expression
        unknown = metric_names(expression) - known
        assert not unknown, f"{expression}: {sorted(unknown)} are exported by nothing"


def test_every_alert_has_a_severity_a_duration_and_a_runbook_entry():
    anchors = {re.sub(r"[^a-z0-9]", "", line.lstrip("#").strip().lower()) for line in RUNBOOK.splitlines()
               if line.startswith("###")}
    for rule in alert_rules():
        assert rule["labels"]["severity"] in ("warning", "critical") and rule["for"], rule["alert"]
        anchor = rule["annotations"]["runbook"].split("#", 1)[1]
        assert anchor in anchors, f"{rule['alert']}: docs/operations.md has no '### {anchor}' entry"


def test_the_scrape_targets_are_the_compose_services_on_their_metrics_ports():
    defaults = Settings()
    jobs = {job["job_name"]: job["dns_sd_configs"][0] for job in PROMETHEUS["scrape_configs"]}
    assert jobs["api"]["names"] == ["api"] and jobs["api"]["port"] == defaults.api_metrics_port
    workers = sorted(name for name in COMPOSE["services"] if name.startswith("worker-"))
    assert sorted(jobs["worker"]["names"]) == workers and jobs["worker"]["port"] == defaults.worker_metrics_port
    environment = COMPOSE["x-app-environment"]
    assert int(environment["API_METRICS_PORT"]) == defaults.api_metrics_port
    assert int(environment["WORKER_METRICS_PORT"]) == defaults.worker_metrics_port
    assert environment["METRICS_HOST"] == "0.0.0.0"  # reachable by the prometheus service, published nowhere
    # Prometheus reaches the app on the internal network; Grafana reaches Prometheus on the operators' one.
    assert "internal" in COMPOSE["services"]["prometheus"]["networks"]
    assert set(COMPOSE["services"]["grafana"]["networks"]) & set(COMPOSE["services"]["prometheus"]["networks"])


def test_the_mounted_configuration_files_exist_and_are_wired():
    for name in ("prometheus", "grafana"):
        for volume in COMPOSE["services"][name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"
    command = " ".join(COMPOSE["services"]["prometheus"]["command"])
    assert "/etc/prometheus/prometheus.yml" in command and PROMETHEUS["rule_files"] == ["/etc/prometheus/alerts.yml"]
    datasource = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    assert all(panel["datasource"]["uid"] == uid for panel in DASHBOARD["panels"])
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/taxpractice.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert len({panel["id"] for panel in DASHBOARD["panels"]}) == len(DASHBOARD["panels"])


def test_the_alerts_cover_what_the_issue_asks():
    names = {rule["alert"] for rule in alert_rules()}
    assert {"ReturnsStuck", "OutboxGrowing", "DeliveriesFailing", "WorkerSaturated"} <= names
