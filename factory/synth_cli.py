"""`factory synthesize` (#14). Thin, like factory/cli.py: each calls a
pipeline function and prints its report."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from factory.cli_common import clean_errors, err, out, table


@clean_errors
def synthesize(config: Path = typer.Argument(..., help="Synthesis config (TOML): the run, sources (seeds), "
                                                       "generation and synthesis sections."),
               run_id: Optional[str] = typer.Option(None, help="Override run.run_id (a new id starts a new run)."),
               output_dir: Optional[str] = typer.Option(None, help="Override run.output_dir."),
               backend: Optional[str] = typer.Option(None, help="Override generation.backend."),
               model: Optional[str] = typer.Option(None, help="Override generation.model."),
               ) -> None:
    """Write new problems with an LLM, label them by majority vote, filter them, store the kept ones.

    Rerunning the same run id resumes: committed chunks are skipped, nothing is written twice.
    """
    from factory.cli_common import run_overrides
    from pipelines.synth_config import load_synth_config
    from pipelines.synthesize import run_synthesis

    overrides = run_overrides({"--run-id": run_id, "--output-dir": output_dir, "--backend": backend, "--model": model})
    scfg = load_synth_config(config, overrides)
    done = {"specs": 0, "drafts": 0}

    def progress(specs: int, drafts: int) -> None:
        done["specs"] += specs
        done["drafts"] += drafts
        err.print(f"committed: {done['specs']} requests, {done['drafts']} problems written", highlight=False)

    report = run_synthesis(scfg, on_chunk=progress)
    out.print(table(f"synthesis {scfg.run.run.run_id}: yield", ["stage", "problems"], list(report.yields.items())))
    if report.reasons:
        out.print(table("rejections", ["stage:reason", "problems"], sorted(report.reasons.items())))
    rate = report.written / report.wall_s if report.wall_s else 0.0
    out.print(f"{report.chunks_skipped}/{report.chunks_total} chunks were already committed; "
              f"{report.written} problems written in {report.wall_s:.1f} s ({rate:.1f}/s); run dir {report.run_dir}")


def register(app: typer.Typer) -> None:
    """Adds the synthesis commands to the `factory` app."""
    app.command("synthesize")(synthesize)
