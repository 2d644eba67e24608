"""Deployment files: no Docker engine runs here, so check what can be checked without one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from platestream.cli import build_parser
from platestream.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {f"PLATESTREAM_{name.upper()}" for name in ServiceSettings.model_fields}


def parses(args: list[str]) -> bool:
    try:
        build_parser().parse_args(args)
    except SystemExit:
        return False
    return True


def test_compose_services_run_real_commands_with_real_settings() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "gateway", "worker", "rq-worker"} <= set(services)
    for name in ("migrate", "gateway", "worker", "rq-worker"):
        service = services[name]
        assert parses(service["command"]), f"{name}: {service['command']} is not a platestream command"
        assert set(service["environment"]) <= SETTINGS, f"{name}: unknown setting"
        for volume in service["volumes"]:
            assert volume.split(":")[0] in compose["volumes"]
    assert services["gateway"]["ports"] == ["8000:8000"]
    dockerfile = ROOT / services["gateway"]["build"]["dockerfile"]
    copied = [p for line in dockerfile.read_text().splitlines() if line.startswith("COPY ") for p in line.split()[1:-1]]
    assert copied and all((ROOT / path).exists() for path in copied)
    mounted = [v.split(":")[0] for s in ("prometheus", "grafana") for v in services[s]["volumes"]]
    assert mounted and all((ROOT / path).exists() for path in mounted)


def test_kubernetes_manifests() -> None:
    documents = list(yaml.safe_load_all((ROOT / "deploy" / "k8s" / "platestream.yaml").read_text()))
    kinds = {(d["kind"], d["metadata"]["name"]) for d in documents}
    assert ("Deployment", "platestream-gateway") in kinds and ("Deployment", "platestream-worker") in kinds
    for doc in documents:
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            assert parses(container["args"]), container["args"]
            assert {e["name"] for e in container.get("env", [])} <= SETTINGS
        if doc["kind"] == "Deployment":
            labels = doc["spec"]["template"]["metadata"]["labels"]
            assert doc["spec"]["selector"]["matchLabels"].items() <= labels.items()


@pytest.mark.parametrize("metric", ["capture_to_result_seconds", "frames_processed_total", "camera_fps",
                                    "stream_length", "frames_dropped_total", "detect_seconds", "errors_total"])
def test_grafana_dashboard_uses_exported_metrics(metric: str) -> None:
    from prometheus_client import generate_latest

    from gateway.metrics import create_metrics

    exported = generate_latest(create_metrics().registry).decode()
    dashboard = (ROOT / "deploy" / "grafana" / "dashboards" / "platestream.json").read_text()
    assert f"platestream_{metric}" in dashboard
    assert f"platestream_{metric.removesuffix('_total')}" in exported
    json.loads(dashboard)
