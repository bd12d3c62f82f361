"""Ray Jobs from the CLI against a real head this module starts on 127.0.0.1 (free ports, its own
temp dir) and stops at the end, exactly that head: submit → SUCCEEDED, status, logs, the
Parquet tables; clean errors for an unreachable address, an unknown job and a failed job; and
`cluster up --local` / `down` leaving another head alone."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cluster import jobs, local_head
from factory.cli import app
from factory.errors import FactoryError
from factory.query import run_query
from tests.conftest import SCRIPTED_CONFIG

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    state = tmp_path_factory.mktemp("head") / "state.json"
    started = local_head.up(state=state, port=local_head.free_port(), dashboard_port=local_head.free_port(),
                            num_cpus=2)  # the Ray executor needs one CPU for generation, one for verification
    yield started
    local_head.down(state)
    assert not local_head.processes(started), "cluster down left processes of the test's head behind"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A folder with a tiny scripted config: submit uploads it as the job's working_dir."""
    folder = tmp_path_factory.mktemp("proj")
    text = SCRIPTED_CONFIG.format(run_id="t", out="runs", count=6, n=2, chunk_size=4, difficulty=2, extra="")
    (folder / "job.toml").write_text(text)
    return folder


def invoke(*args: str):
    return runner.invoke(app, list(args))


# ---- without a cluster ---------------------------------------------------------------------

def test_build_job_uploads_the_project_and_runs_the_ray_executor():
    spec = jobs.build_job(ROOT / "pipelines" / "configs" / "demo.toml", run_id="r1", backend="scripted",
                          pip=["requests"], env={"A": "1"})
    assert spec.working_dir == ROOT
    assert shlex.split(spec.entrypoint) == ["factory", "run", "pipelines/configs/demo.toml", "--run-id", "r1",
                                            "--backend", "scripted", "--executor", "ray"]
    assert spec.runtime_env["working_dir"] == str(ROOT)
    assert {".venv/", "runs/", ".git/"} <= set(spec.runtime_env["excludes"])
    assert spec.runtime_env["pip"] == ["requests"] and spec.runtime_env["env_vars"] == {"A": "1"}
    assert spec.notes and "relative" in spec.notes[0]  # demo.toml writes to ../../runs


def test_build_job_errors(tmp_path, project):
    with pytest.raises(FactoryError, match="not inside the working dir"):
        jobs.build_job(project / "job.toml", working_dir=tmp_path)
    with pytest.raises(FactoryError, match="config file not found"):
        jobs.build_job(tmp_path / "absent.toml")
    with pytest.raises(FactoryError, match="KEY=VALUE"):
        jobs.parse_env(["novalue"])


def test_default_address(monkeypatch):
    for var in ("RAY_API_SERVER_ADDRESS", "RAY_ADDRESS"):
        monkeypatch.delenv(var, raising=False)
    assert jobs.default_address() == "http://127.0.0.1:8265"
    monkeypatch.setenv("RAY_ADDRESS", "http://a:1")
    assert jobs.default_address() == "http://a:1"
    monkeypatch.setenv("RAY_API_SERVER_ADDRESS", "http://b:2")
    assert jobs.default_address() == "http://b:2"


def test_unreachable_address_is_a_clean_error(project):
    address = f"http://127.0.0.1:{local_head.free_port()}"
    for args in (["submit", str(project / "job.toml"), "--address", address], ["status", "x", "--address", address],
                 ["logs", "x", "--address", address]):
        result = invoke(*args)
        assert result.exit_code == 1, result.output
        assert f"cannot reach the Ray Jobs API at {address}" in result.output and "Traceback" not in result.output


def test_cluster_up_needs_local():
    result = invoke("cluster", "up")
    assert result.exit_code == 1 and "ray up cluster/ray-cluster.yaml" in result.output


def test_cluster_down_without_a_recorded_head(tmp_path):
    result = invoke("cluster", "down", "--state", str(tmp_path / "none.json"))
    assert result.exit_code == 1 and "stops only what" in result.output


# ---- against the module's head ------------------------------------------------------------

def test_submit_wait_status_logs_and_tables(head, project, tmp_path):
    out = tmp_path / "out"
    result = invoke("submit", str(project / "job.toml"), "--address", head.dashboard_url, "--run-id", "job",
                    "--output-dir", str(out), "--submission-id", "rf-test-ok", "--wait")
    assert result.exit_code == 0, result.output
    assert "job: rf-test-ok" in result.output and f"{head.dashboard_url}/#/jobs/rf-test-ok" in result.output
    assert "SUCCEEDED" in result.output

    status = invoke("status", "rf-test-ok", "--address", head.dashboard_url)
    assert status.exit_code == 0 and "SUCCEEDED" in status.output and "--executor ray" in status.output

    logs = invoke("logs", "rf-test-ok", "--address", head.dashboard_url)
    assert logs.exit_code == 0
    assert "run job" in logs.output and "pass@1" in logs.output and "candidates" in logs.output  # the summary table
    followed = invoke("logs", "rf-test-ok", "--address", head.dashboard_url, "--follow")  # ends with the job
    assert followed.exit_code == 0 and "pass@1" in followed.output

    run_dir = out / "job"
    counts = {view: run_query(run_dir, f"SELECT count(*) FROM {view}")[1][0][0]
              for view in ("problems", "candidates", "verdicts")}
    assert counts == {"problems": 6, "candidates": 12, "verdicts": 12}
    stopped = invoke("stop", "rf-test-ok", "--address", head.dashboard_url)
    assert stopped.exit_code == 0 and "already ended" in stopped.output


def test_unknown_job_is_a_clean_error(head):
    for command in ("status", "logs", "stop"):
        result = invoke(command, "rf-no-such-job", "--address", head.dashboard_url)
        assert result.exit_code == 1, result.output
        assert f"no job 'rf-no-such-job' at {head.dashboard_url}" in result.output and "Traceback" not in result.output


def test_a_failed_job_exits_nonzero_with_wait(head, project, tmp_path):
    # an unknown executor is a config error on the laptop now, before anything is submitted
    local = invoke("submit", str(project / "job.toml"), "--address", head.dashboard_url, "--executor", "nosuch",
                   "--output-dir", str(tmp_path), "--submission-id", "rf-test-never")
    assert local.exit_code == 1 and "run.executor: unknown executor 'nosuch'" in local.output
    # an output dir the job cannot create fails there, as a one-line error in its log
    result = invoke("submit", str(project / "job.toml"), "--address", head.dashboard_url,
                    "--output-dir", "/proc/rf-nowhere", "--submission-id", "rf-test-fail", "--wait")
    assert result.exit_code == 1
    assert "job rf-test-fail FAILED" in result.output and "factory logs rf-test-fail" in result.output
    assert "rf-nowhere" in invoke("logs", "rf-test-fail", "--address", head.dashboard_url).output


def test_cluster_up_and_down_leave_another_head_alone(head, tmp_path):
    state = tmp_path / "state.json"
    port, dashboard = local_head.free_port(), local_head.free_port()
    up = invoke("cluster", "up", "--local", "--port", str(port), "--dashboard-port", str(dashboard),
                "--num-cpus", "1", "--state", str(state))
    assert up.exit_code == 0, up.output
    assert f"dashboard http://127.0.0.1:{dashboard}" in up.output
    second = local_head.LocalHead.load(state)
    assert local_head.dashboard_ready(second.dashboard_url) and local_head.processes(second)
    assert invoke("cluster", "status", "--state", str(state)).output.startswith("local head running")
    again = invoke("cluster", "up", "--local", "--state", str(state))
    assert again.exit_code == 1 and "already running" in again.output

    down = invoke("cluster", "down", "--state", str(state))
    assert down.exit_code == 0, down.output
    assert not local_head.processes(second) and not state.exists()
    assert not local_head.dashboard_ready(second.dashboard_url)
    # the module's head is untouched and still serves jobs
    assert local_head.processes(head) and local_head.dashboard_ready(head.dashboard_url)
    assert isinstance(jobs.client(head.dashboard_url).list_jobs(), list)
