"""The shipped cluster configs: the cluster-launcher YAML and the KubeRay RayJob parse, carry the
keys their schemas require with the right types, have consistent resources, and run commands
that exist (a real `factory` command whose config loads, real extras, real `ray start` flags)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import typer.main
import yaml
from typer.testing import CliRunner

from factory.cli import app
from factory.config import load_config

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "cluster" / "ray-cluster.yaml"
RAYJOB = ROOT / "cluster" / "kuberay-rayjob.yaml"

# Required keys and their types, from the Ray cluster-launcher reference (docs.ray.io
# "Cluster YAML Configuration Options") and the KubeRay RayJob CRD (ray.io/v1).
LAUNCHER_SCHEMA = {"cluster_name": str, "max_workers": int, "provider": dict, "auth": dict,
                   "available_node_types": dict, "head_node_type": str, "setup_commands": list,
                   "head_start_ray_commands": list, "worker_start_ray_commands": list}
NODE_TYPE_SCHEMA = {"node_config": dict, "resources": dict}
RAYJOB_SPEC_SCHEMA = {"entrypoint": str, "shutdownAfterJobFinishes": bool, "rayClusterSpec": dict}
GROUP_SCHEMA = {"groupName": str, "replicas": int, "minReplicas": int, "maxReplicas": int, "rayStartParams": dict,
                "template": dict}


def require_keys(mapping: dict, schema: dict, where: str) -> None:
    for key, kind in schema.items():
        assert key in mapping, f"{where}: missing {key}"
        assert isinstance(mapping[key], kind), f"{where}.{key}: expected {kind.__name__}, got {mapping[key]!r}"


@pytest.fixture(scope="module")
def launcher() -> dict:
    return yaml.safe_load(LAUNCHER.read_text())


@pytest.fixture(scope="module")
def rayjob() -> dict:
    return yaml.safe_load(RAYJOB.read_text())


def assert_factory_command(command: str) -> None:
    """`command` is a real `factory` command: its options exist, its --help works, and the
    config it names is in the repository and loads with the command's overrides."""
    argv = shlex.split(command)
    assert argv[0] == "factory", command
    name, rest = argv[1], argv[2:]
    click_cmd = typer.main.get_command(app).commands[name]
    help_result = CliRunner().invoke(app, [name, "--help"])
    assert help_result.exit_code == 0, help_result.output
    known = {opt for param in click_cmd.params for opt in param.opts}
    flags = {a: rest[i + 1] for i, a in enumerate(rest) if a.startswith("--")}
    assert set(flags) <= known, f"unknown options {set(flags) - known} for factory {name}"
    config = ROOT / next(a for a in rest if not a.startswith("--") and a not in flags.values())
    assert config.is_file(), config
    overrides = {f"run.{flag[2:].replace('-', '_')}": value for flag, value in flags.items()
                 if flag in ("--executor", "--output-dir", "--run-id")}
    cfg = load_config(config, overrides)
    assert cfg.run.executor == "ray"
    if cfg.run.executor_options:
        from cluster import EXECUTORS

        EXECUTORS.get("ray")(**cfg.run.executor_options)  # validates the options by name and type


# ---- cluster launcher --------------------------------------------------------------------

def test_launcher_has_the_required_keys(launcher):
    require_keys(launcher, LAUNCHER_SCHEMA, "ray-cluster.yaml")
    assert launcher["provider"]["type"] == "aws" and launcher["provider"]["region"]
    assert launcher["auth"]["ssh_user"]
    for name, node in launcher["available_node_types"].items():
        require_keys(node, NODE_TYPE_SCHEMA, f"available_node_types.{name}")


def test_launcher_validates_against_rays_own_schema(launcher):
    ray = pytest.importorskip("ray")
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(ray.__file__).parent / "autoscaler" / "ray-schema.json").read_text())
    jsonschema.validate(launcher, schema)


def test_launcher_node_types_are_consistent(launcher):
    types = launcher["available_node_types"]
    assert launcher["head_node_type"] in types
    workers = {k: v for k, v in types.items() if k != launcher["head_node_type"]}
    assert {"gpu_worker", "cpu_worker"} <= set(workers)
    assert workers["gpu_worker"]["resources"].get("GPU", 0) >= 1
    assert "GPU" not in workers["cpu_worker"]["resources"] and workers["cpu_worker"]["resources"]["CPU"] >= 1
    for name, node in workers.items():
        assert 0 <= node["min_workers"] <= node["max_workers"], name
    assert sum(n["max_workers"] for n in workers.values()) <= launcher["max_workers"]
    assert re.match(r"g\d|p\d", workers["gpu_worker"]["node_config"]["InstanceType"])  # an AWS GPU family


def test_launcher_installs_extras_that_exist(launcher):
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    installs = [m for cmd in launcher["setup_commands"] for m in re.findall(r"pip install -e '\.\[([^\]]+)\]'", cmd)]
    assert installs, "no 'pip install -e .[...]' of the project in setup_commands"
    for group in installs:
        assert set(group.split(",")) <= extras, f"unknown extra in .[{group}] (have {sorted(extras)})"
    assert "gpu" in installs[0] and "ray" in installs[0]
    mounted = list(launcher["file_mounts"])
    assert all(any(cmd.startswith(f"cd {m}") for m in mounted) for cmd in launcher["setup_commands"])


def test_launcher_commands_are_real(launcher):
    """`ray start` flags exist in this Ray; `factory ...` setup commands are real commands."""
    ray_bin = Path(sys.executable).parent / "ray"
    if not ray_bin.exists():
        pytest.skip("the 'ray' command is not installed: pip install -e '.[ray]'")
    help_text = subprocess.run([str(ray_bin), "start", "--help"], capture_output=True, text=True, timeout=60).stdout
    starts = [c for c in launcher["head_start_ray_commands"] + launcher["worker_start_ray_commands"] if "ray start" in c]
    assert any("--head" in c for c in launcher["head_start_ray_commands"]) and len(starts) == 2
    for cmd in starts:
        for flag in re.findall(r"(--[a-z][a-z-]*)", cmd):
            assert flag in help_text, f"{flag} is not a 'ray start' option"
    runner = CliRunner()
    for cmd in launcher["setup_commands"]:
        for part in cmd.split("&&"):
            argv = shlex.split(part)
            if argv and argv[0] == "factory":
                assert runner.invoke(app, argv[1:] + ["--help"]).exit_code == 0, part


# ---- KubeRay RayJob ----------------------------------------------------------------------

def test_rayjob_has_the_required_keys(rayjob):
    assert rayjob["apiVersion"] == "ray.io/v1" and rayjob["kind"] == "RayJob"
    assert rayjob["metadata"]["name"]
    spec = rayjob["spec"]
    require_keys(spec, RAYJOB_SPEC_SCHEMA, "spec")
    yaml.safe_load(spec.get("runtimeEnvYAML", "{}"))  # a string holding YAML, when present
    cluster = spec["rayClusterSpec"]
    head = cluster["headGroupSpec"]
    require_keys(head, {"rayStartParams": dict, "template": dict}, "headGroupSpec")
    groups = cluster["workerGroupSpecs"]
    for group in groups:
        require_keys(group, GROUP_SCHEMA, f"workerGroupSpecs[{group.get('groupName')}]")
    for where, params in [("head", head["rayStartParams"])] + [(g["groupName"], g["rayStartParams"]) for g in groups]:
        assert all(isinstance(v, str) for v in params.values()), f"{where}: rayStartParams values must be strings"
    for pod in [head["template"]] + [g["template"] for g in groups]:
        containers = pod["spec"]["containers"]
        assert containers and all(c["name"] and c["image"] for c in containers)


def test_rayjob_resources_are_consistent(rayjob):
    groups = {g["groupName"]: g for g in rayjob["spec"]["rayClusterSpec"]["workerGroupSpecs"]}
    assert len(groups) == 2

    def limits(group):
        return group["template"]["spec"]["containers"][0]["resources"]["limits"]

    gpu = [g for g in groups.values() if "nvidia.com/gpu" in limits(g)]
    cpu = [g for g in groups.values() if "nvidia.com/gpu" not in limits(g)]
    assert len(gpu) == 1 and len(cpu) == 1
    assert int(limits(gpu[0])["nvidia.com/gpu"]) >= 1
    assert int(gpu[0]["rayStartParams"].get("num-gpus", limits(gpu[0])["nvidia.com/gpu"])) == \
        int(limits(gpu[0])["nvidia.com/gpu"])
    for g in groups.values():
        assert 0 <= g["minReplicas"] <= g["replicas"] <= g["maxReplicas"], g["groupName"]


def test_rayjob_entrypoint_is_a_real_factory_command(rayjob):
    assert_factory_command(rayjob["spec"]["entrypoint"])


def test_the_submitted_entrypoint_is_a_real_factory_command():
    """What `factory submit` sends for the config both cluster files point at."""
    from cluster.jobs import build_job

    spec = build_job(ROOT / "pipelines" / "configs" / "ray_gpu.toml", output_dir="/data/runs")
    assert spec.working_dir == ROOT
    assert_factory_command(spec.entrypoint)
