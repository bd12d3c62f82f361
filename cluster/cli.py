"""The Ray commands: `factory submit/status/logs/stop` (Ray Jobs) and `factory cluster up/down`
(a local head). Thin, like factory/cli.py: each calls cluster.jobs or cluster.local_head."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from factory.cli_common import clean_errors, err, out, table
from factory.errors import FactoryError

ADDRESS_HELP = "Ray dashboard / Jobs API address (default: $RAY_API_SERVER_ADDRESS, $RAY_ADDRESS or http://127.0.0.1:8265)."
STATE_HELP = "State file recording what 'cluster up' started (default: ~/.cache/reasoning-factory/local-head.json)."


def _address(address: Optional[str]) -> str:
    from cluster.jobs import default_address

    return address or default_address()


@clean_errors
def submit(config: Path = typer.Argument(..., help="Run configuration (TOML), inside the project that is uploaded."),
           address: Optional[str] = typer.Option(None, help=ADDRESS_HELP),
           run_id: Optional[str] = typer.Option(None, help="Override run.run_id."),
           output_dir: Optional[str] = typer.Option(None, help="Override run.output_dir (use shared storage)."),
           backend: Optional[str] = typer.Option(None, help="Override generation.backend."),
           model: Optional[str] = typer.Option(None, help="Override generation.model."),
           executor: str = typer.Option("ray", help="run.executor on the cluster (ray, or local for one process)."),
           working_dir: Optional[Path] = typer.Option(None, help="Folder uploaded as the job's working_dir "
                                                                  "(default: the config's project root)."),
           pip: Optional[list[str]] = typer.Option(None, "--pip", help="Extra pip requirement for the job (repeatable)."),
           env: Optional[list[str]] = typer.Option(None, "--env", help="KEY=VALUE for the job's environment (repeatable)."),
           submission_id: Optional[str] = typer.Option(None, help="Job id to use (default: Ray picks one)."),
           wait: bool = typer.Option(False, "--wait", help="Wait for the end; exit 1 unless it SUCCEEDED."),
           ) -> None:
    """Submit `factory run CONFIG --executor ray` to a Ray cluster as a Ray Job.

    Prints the job id and its dashboard URL; follow it with `factory status JOB` and
    `factory logs JOB --follow`.
    """
    from cluster import jobs

    addr = _address(address)
    spec = jobs.build_job(config, run_id=run_id, output_dir=output_dir, backend=backend, model=model,
                          executor=executor, working_dir=working_dir, pip=pip or [], env=jobs.parse_env(env or []))
    for note in spec.notes:
        err.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)
    job_id = jobs.submit(spec, addr, submission_id=submission_id)
    out.print(f"job: {job_id}", highlight=False)
    out.print(f"dashboard: {jobs.dashboard_job_url(addr, job_id)}", highlight=False, soft_wrap=True)
    out.print(f"entrypoint: {spec.entrypoint}", highlight=False, soft_wrap=True)
    if wait:
        details = jobs.wait(job_id, addr)
        _print_status(job_id, details)
        if jobs.status_name(details) != "SUCCEEDED":
            raise FactoryError(f"job {job_id} {jobs.status_name(details)}: {details.message or ''} "
                                    f"(logs: factory logs {job_id} --address {addr})")


def _print_status(job_id: str, details) -> None:
    from cluster.jobs import status_name

    out.print(table(f"job {job_id}", ["field", "value"],
                    [("status", status_name(details)), ("message", details.message or ""),
                     ("entrypoint", details.entrypoint),
                     ("duration", f"{(details.end_time - details.start_time) / 1000:.1f} s"
                      if details.end_time and details.start_time else "")]))


@clean_errors
def status(job_id: str = typer.Argument(..., help="Job (submission) id printed by 'factory submit'."),
           address: Optional[str] = typer.Option(None, help=ADDRESS_HELP),
           ) -> None:
    """Status (PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED) and message of a submitted job."""
    from cluster import jobs

    _print_status(job_id, jobs.info(job_id, _address(address)))


@clean_errors
def logs(job_id: str = typer.Argument(..., help="Job (submission) id printed by 'factory submit'."),
         address: Optional[str] = typer.Option(None, help=ADDRESS_HELP),
         follow: bool = typer.Option(False, "--follow", "-f", help="Keep streaming until the job ends."),
         ) -> None:
    """The driver's stdout/stderr of a submitted job (the `factory run` output)."""
    from cluster import jobs

    addr = _address(address)
    if follow:
        jobs.follow_logs(job_id, addr, lambda chunk: (sys.stdout.write(chunk), sys.stdout.flush()))
    else:
        sys.stdout.write(jobs.logs(job_id, addr))


@clean_errors
def stop(job_id: str = typer.Argument(..., help="Job (submission) id printed by 'factory submit'."),
         address: Optional[str] = typer.Option(None, help=ADDRESS_HELP),
         ) -> None:
    """Stop a running job (its committed chunks stay; rerunning the config resumes)."""
    from cluster import jobs

    stopped = jobs.stop(job_id, _address(address))
    out.print(f"job {job_id}: {'stop requested' if stopped else 'already ended'}", highlight=False)


cluster_app = typer.Typer(help="A local Ray head for running jobs without a cluster.", no_args_is_help=True)


@cluster_app.command("up")
@clean_errors
def cluster_up(local: bool = typer.Option(False, "--local", help="Start the head on this machine (required: "
                                                                 "use 'ray up cluster/ray-cluster.yaml' for a cloud)."),
               port: int = typer.Option(6379, help="GCS port of the head."),
               dashboard_port: int = typer.Option(8265, help="Dashboard / Jobs API port (bound to 127.0.0.1)."),
               num_cpus: Optional[int] = typer.Option(None, help="CPUs the head offers (default: all)."),
               num_gpus: Optional[int] = typer.Option(None, help="GPUs the head offers (default: detected)."),
               state: Optional[Path] = typer.Option(None, help=STATE_HELP),
               ) -> None:
    """Start a local Ray head (dashboard on 127.0.0.1) and record what was started."""
    from cluster import local_head

    if not local:
        raise FactoryError("only --local is supported here; for a cloud cluster run "
                                      "'ray up cluster/ray-cluster.yaml' (or apply cluster/kuberay-rayjob.yaml)")
    head = local_head.up(state=state, port=port, dashboard_port=dashboard_port, num_cpus=num_cpus, num_gpus=num_gpus)
    out.print(f"Ray head up: dashboard {head.dashboard_url}, GCS {head.gcs_address}, temp dir {head.temp_dir}",
              highlight=False, soft_wrap=True)
    out.print(f"submit with: factory submit CONFIG --address {head.dashboard_url}", highlight=False, soft_wrap=True)


@cluster_app.command("down")
@clean_errors
def cluster_down(state: Optional[Path] = typer.Option(None, help=STATE_HELP)) -> None:
    """Stop the head 'cluster up' started (only its processes; other Ray instances are left alone)."""
    from cluster import local_head

    stopped = local_head.down(state)
    out.print(f"stopped the local head ({stopped} processes)", highlight=False)


@cluster_app.command("status")
@clean_errors
def cluster_status(state: Optional[Path] = typer.Option(None, help=STATE_HELP)) -> None:
    """Whether the head 'cluster up' started is still running."""
    from cluster import local_head

    head, alive = local_head.status(state)
    if head is None:
        out.print("no local head recorded (start one with 'factory cluster up --local')")
    else:
        out.print(f"local head {'running' if alive else 'gone'}: dashboard {head.dashboard_url}, {alive} processes, "
                  f"temp dir {head.temp_dir}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Adds the Ray commands to the `factory` app."""
    for fn in (submit, status, logs, stop):
        app.command(fn.__name__)(fn)
    app.add_typer(cluster_app, name="cluster")
