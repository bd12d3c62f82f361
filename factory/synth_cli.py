"""`factory synthesize` and `factory difficulty` (#14). Thin, like factory/cli.py: each calls a
pipeline function and prints its report."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from factory.cli_common import clean_errors, err, out, table
from factory.errors import FactoryError


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
    from factory.progress import Progress

    progress = Progress("synthesize", unit="requests", log=lambda line: err.print(line, highlight=False, soft_wrap=True))

    def started(requests: int, chunks_done: int) -> None:
        progress.start(requests, f"{chunks_done} chunks already committed" if chunks_done else "")

    report = run_synthesis(scfg, on_chunk=lambda specs, drafts: progress.advance(specs, written=drafts), on_start=started)
    out.print(table(f"synthesis {scfg.run.run.run_id}: yield", ["stage", "problems"], list(report.yields.items())))
    if report.reasons:
        out.print(table("rejections", ["stage:reason", "problems"], sorted(report.reasons.items())))
    rate = report.written / report.wall_s if report.wall_s else 0.0
    out.print(f"{report.chunks_skipped}/{report.chunks_total} chunks were already committed; "
              f"{report.written} problems written in {report.wall_s:.1f} s ({rate:.1f}/s); run dir {report.run_dir}")


@clean_errors
def difficulty(run_dir: Path = typer.Argument(..., help="A run dir whose verdicts give the pass rates."),
               out_dir: Path = typer.Option(..., "--out", help="Folder for difficulty.parquet and verl.parquet."),
               band: str = typer.Option("0:1", help="Pass-rate band LO:HI of the problems exported to verl.parquet."),
               edges: str = typer.Option("0.25,0.5,0.75", help="Band edges for the curriculum column."),
               keep_solved: bool = typer.Option(False, help="Also export all-solved and none-solved problems."),
               system_prompt: str = typer.Option("", help="System prompt of the exported RL prompts."),
               ) -> None:
    """Difficulty from pass rates: bands and all/none-solved tags per problem, and a verl RL set of one band."""
    from pipelines.difficulty import Bands, export_difficulty

    try:
        lo, hi = (float(x) for x in band.split(":"))
        cuts = [float(x) for x in edges.split(",") if x.strip()]
    except ValueError:
        raise FactoryError(f"--band {band!r} / --edges {edges!r}: expected LO:HI and comma-separated numbers") from None
    result = export_difficulty(run_dir, out_dir, (lo, hi), Bands(cuts), system_prompt, keep_solved)
    rows = list({**result["tags"], **result["bands"]}.items())
    out.print(table(f"difficulty of {result['problems']} problems", ["tag / band", "problems"], rows))
    out.print(f"{result['exported']} problems in band {lo:g}:{hi:g} → {result['paths']['verl']}")


def register(app: typer.Typer) -> None:
    """Adds the synthesis commands to the `factory` app."""
    app.command("synthesize")(synthesize)
    app.command("difficulty")(difficulty)

