"""Ray Jobs: `factory submit/status/logs/stop` on top of `ray.job_submission.JobSubmissionClient`.

A submitted run is the same `factory run CONFIG` a user types, with `--executor ray` so the
driver (which Ray starts on the head, with RAY_ADDRESS set) spreads generation and verification
over the cluster. The runtime env uploads the project that holds the config (the nearest folder
with a pyproject.toml above it, else the config's own folder) as the job's working_dir, so the
config path in the entrypoint is relative to it, and local edits to the code travel with the
job; the cluster still needs the project installed (the launcher YAML and the KubeRay image do
that) for the `factory` command itself."""

from __future__ import annotations

import asyncio
import os
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from factory.errors import FactoryError, require

DEFAULT_ADDRESS = "http://127.0.0.1:8265"
# gitignore-style, relative to the working_dir (Ray also honours the folder's .gitignore)
EXCLUDES = [".venv/", "venv/", "runs/", ".git/", "**/__pycache__/", "*.pyc", ".pytest_cache/", ".mypy_cache/",
            ".ruff_cache/", "*.egg-info/", ".cache/", "build/", "dist/"]
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


def default_address() -> str:
    """The Jobs API address: RAY_API_SERVER_ADDRESS, else RAY_ADDRESS, else the local dashboard."""
    return os.environ.get("RAY_API_SERVER_ADDRESS") or os.environ.get("RAY_ADDRESS") or DEFAULT_ADDRESS


def project_root(config: Path) -> Path:
    """The nearest folder at or above the config that holds a pyproject.toml, else the config's folder."""
    start = config.resolve().parent
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return start


@dataclass
class JobSpec:
    """Everything `submit` sends: built (and unit-tested) without a cluster."""

    entrypoint: str
    runtime_env: dict[str, Any]
    working_dir: Path
    notes: list[str] = field(default_factory=list)  # things the user should know (relative output dir)


def parse_env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise FactoryError(f"--env {pair!r}: expected KEY=VALUE")
        env[key] = value
    return env


def build_job(config: Path, run_id: str | None = None, output_dir: str | None = None, backend: str | None = None,
              model: str | None = None, executor: str = "ray", working_dir: Path | None = None,
              pip: list[str] | None = None, env: dict[str, str] | None = None) -> JobSpec:
    """The entrypoint and runtime env for running `config` as a Ray Job. The config is loaded
    here first, so a bad config fails on the laptop, not on the cluster."""
    from factory.config import load_config, run_overrides

    config = Path(config)
    options = {"--run-id": run_id, "--output-dir": output_dir, "--backend": backend, "--model": model,
               "--executor": executor}
    cfg = load_config(config, run_overrides(options))
    root = Path(working_dir).resolve() if working_dir else project_root(config)
    if not root.is_dir():
        raise FactoryError(f"--working-dir {root}: not a folder")
    try:
        rel = config.resolve().relative_to(root)
    except ValueError:
        raise FactoryError(f"config {config} is not inside the working dir {root}: the job can only read "
                           f"files that are uploaded with it; pass --working-dir") from None
    argv = ["factory", "run", rel.as_posix()]
    for flag, value in options.items():
        if value:
            argv += [flag, value]
    runtime_env: dict[str, Any] = {"working_dir": str(root), "excludes": list(EXCLUDES)}
    if pip:
        runtime_env["pip"] = list(pip)
    if env:
        runtime_env["env_vars"] = dict(env)
    notes = []
    if not Path(cfg.run.output_dir).is_absolute():
        notes.append(f"run.output_dir {cfg.run.output_dir!r} is relative: on the cluster it resolves inside the "
                     f"job's temporary copy of {root.name}/; pass --output-dir with a path on shared storage")
    return JobSpec(shlex.join(argv), runtime_env, root, notes)


def auth_headers() -> dict[str, str]:
    """Ray ≥ 2.5x turns token auth on for a head started where ~/.ray/auth_token exists (and a
    local `ray.init` writes that file), but its Jobs SDK sends the token only when RAY_AUTH_MODE
    is "token". Send it whenever one is configured, the way Ray looks it up: $RAY_AUTH_TOKEN,
    the file $RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token. A head without auth ignores the header."""
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "disabled":
        return {}
    token = os.environ.get("RAY_AUTH_TOKEN", "").strip()
    if not token:
        path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
        try:
            token = path.read_text().strip()
        except OSError:
            token = ""
    return {"Authorization": f"Bearer {token}"} if token else {}


def client(address: str) -> Any:
    """A connected JobSubmissionClient, or a one-line error naming the address."""
    require("ray", "ray")
    from ray.exceptions import AuthenticationError
    from ray.job_submission import JobSubmissionClient

    try:
        return JobSubmissionClient(address, headers=auth_headers() or None)
    except AuthenticationError as exc:
        raise FactoryError(f"the Ray Jobs API at {address} refused the request ({str(exc).splitlines()[0]}); set "
                           f"RAY_AUTH_TOKEN to the cluster's token (on the head: ray get-auth-token)") from None
    except (ConnectionError, RuntimeError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FactoryError(f"cannot reach the Ray Jobs API at {address} ({first}); start a local head with "
                           f"'factory cluster up --local' or pass --address http://HEAD:8265") from None


def _call(address: str, job_id: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except RuntimeError as exc:
        text = str(exc)
        if "404" in text or "does not exist" in text:
            raise FactoryError(f"no job {job_id!r} at {address}") from None
        raise FactoryError(f"Ray Jobs API at {address}: {text.splitlines()[0] if text else exc!r}") from None
    except (ConnectionError, OSError) as exc:
        raise FactoryError(f"lost the Ray Jobs API at {address}: {exc}") from None


def dashboard_job_url(address: str, job_id: str) -> str:
    base = address if address.startswith(("http://", "https://")) else f"http://{address}"
    return f"{base.rstrip('/')}/#/jobs/{job_id}"


def submit(spec: JobSpec, address: str, submission_id: str | None = None) -> str:
    jobs = client(address)
    try:
        return jobs.submit_job(entrypoint=spec.entrypoint, runtime_env=spec.runtime_env, submission_id=submission_id,
                               metadata={"factory": "run"})
    except (RuntimeError, ValueError) as exc:
        raise FactoryError(f"submitting to {address} failed: {str(exc).strip().splitlines()[0]}") from None


def info(job_id: str, address: str) -> Any:
    """The job's JobDetails (status, message, entrypoint, start/end times)."""
    jobs = client(address)
    return _call(address, job_id, lambda: jobs.get_job_info(job_id))


def wait(job_id: str, address: str, timeout_s: float | None = None, poll_s: float = 1.0) -> Any:
    """Polls until the job is SUCCEEDED, FAILED or STOPPED; returns its JobDetails."""
    jobs = client(address)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        details = _call(address, job_id, lambda: jobs.get_job_info(job_id))
        if status_name(details) in TERMINAL:
            return details
        if deadline is not None and time.monotonic() > deadline:
            raise FactoryError(f"job {job_id} still {status_name(details)} after {timeout_s:.0f} s")
        time.sleep(poll_s)


def status_name(details: Any) -> str:
    return getattr(details.status, "value", str(details.status))


def logs(job_id: str, address: str) -> str:
    jobs = client(address)
    return _call(address, job_id, lambda: jobs.get_job_logs(job_id))


def follow_logs(job_id: str, address: str, write: Callable[[str], None]) -> None:
    """Streams the job's logs until it ends (the SDK's websocket tail)."""
    jobs = client(address)
    _call(address, job_id, lambda: jobs.get_job_info(job_id))  # an unknown id fails here, cleanly

    async def tail() -> None:
        async for chunk in jobs.tail_job_logs(job_id):
            write(chunk)

    _call(address, job_id, lambda: asyncio.run(tail()))


def stop(job_id: str, address: str) -> bool:
    """Asks Ray to stop the job; False when it had already ended."""
    jobs = client(address)
    return bool(_call(address, job_id, lambda: jobs.stop_job(job_id)))
