"""What a user sees: which runs a query reads, per-run stats, Ctrl-C, library chatter, OS errors."""

from __future__ import annotations

import json
import logging
import warnings

from typer.testing import CliRunner

import pipelines.sample as sample_module
from factory.cli import app
from factory.store import RunStore

runner = CliRunner()


def test_query_reads_every_run_under_runs_and_says_which(scripted_config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for run_id in ("a", "b"):
        assert runner.invoke(app, ["run", str(scripted_config(run_id=run_id, count=4, n=2))]).exit_code == 0
    RunStore(tmp_path / "runs" / "failed").open_run({"config_hash": "x"})  # a start that failed after open
    result = runner.invoke(app, ["query", "-f", "json", "SELECT count(*) AS n FROM candidates"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in result.stdout.splitlines()] == [{"n": 16}]  # both runs, not the empty newest
    said = " ".join(result.stderr.split())
    assert "reading 3 runs:" in said and "runs/a (1 chunks)" in said and "runs/failed (empty)" in said


def test_query_without_runs_is_a_clean_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["query", "SELECT 1"])
    assert result.exit_code == 1 and "runs: no factory run found" in result.output


def test_stats_on_a_folder_counts_per_run(scripted_config, tmp_path):
    for run_id in ("a", "b"):  # the same 4 problems, sampled by both runs
        runner.invoke(app, ["run", str(scripted_config(run_id=run_id, count=4, n=2))])
    from factory.query import STATS_SQL, run_query

    columns, rows = run_query(tmp_path / "runs", STATS_SQL["by run / domain / iteration"])
    per_run = {r[0]: dict(zip(columns, r)) for r in rows}
    assert set(per_run) == {"a", "b"}
    assert all((r["problems"], r["candidates"]) == (4, 8) for r in per_run.values())
    result = runner.invoke(app, ["stats", str(tmp_path / "runs")])
    assert result.exit_code == 0 and "reading 2 runs" in " ".join(result.stderr.split())


def test_ctrl_c_says_what_was_committed_and_how_to_resume(scripted_config, monkeypatch):
    config = scripted_config(run_id="cc", count=12, n=2, chunk_size=2)
    real = sample_module.run_sampling

    def interrupted(cfg, on_chunk=None, on_start=None, **kw):
        done = []

        def chunk(problems, candidates):
            on_chunk(problems, candidates)
            done.append(1)
            if len(done) == 2:
                raise KeyboardInterrupt

        return real(cfg, on_chunk=chunk, on_start=on_start, **kw)

    monkeypatch.setattr(sample_module, "run_sampling", interrupted)
    result = runner.invoke(app, ["run", str(config), "--run-id", "cc2"])
    assert result.exit_code == 130
    said = " ".join(result.stderr.split())
    assert "interrupted: 2 chunks committed (4 problems, 8 candidates)" in said
    assert f"resume with: factory run {config} --run-id cc2" in said and "Traceback" not in result.output
    monkeypatch.undo()
    again = runner.invoke(app, ["run", str(config), "--run-id", "cc2"])
    assert again.exit_code == 0 and "6 (2 already committed)" in again.stdout


def test_library_warnings_go_to_a_log_file_not_the_progress_line(scripted_config, tmp_path, monkeypatch):
    config = scripted_config(run_id="noisy", count=4, n=2)
    real = sample_module.run_sampling

    def noisy(cfg, **kw):
        warnings.warn("torch.distributed.reduce_op is deprecated", FutureWarning)
        logging.getLogger("vllm.engine").error("CPU backend is experimental")  # vLLM runs at ERROR here
        logging.getLogger("ray").error("raylet said something")
        return real(cfg, **kw)

    monkeypatch.setattr(sample_module, "run_sampling", noisy)
    result = runner.invoke(app, ["run", str(config)])
    assert result.exit_code == 0, result.output
    for text in ("reduce_op", "experimental", "raylet"):
        assert text not in result.output
    log = (tmp_path / "runs" / "noisy" / "logs" / "library.log").read_text()
    assert "reduce_op" in log and "vllm.engine" in log and "raylet said something" in log
    assert "3 library warning/log lines →" in " ".join(result.stderr.split())
    assert not logging.getLogger("vllm").handlers or logging.getLogger("vllm").propagate is not None
    assert not (tmp_path / "runs" / "quiet" / "logs").exists()


def test_os_errors_are_one_line(scripted_config, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    config = scripted_config(run_id="ro", count=2, n=1)
    config.write_text(config.read_text().replace(f'output_dir = "{tmp_path / "runs"}"', f'output_dir = "{blocker}"'))
    result = runner.invoke(app, ["run", str(config)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {blocker}/ro: Not a directory"]

    import factory.store.shards as shards

    def full(table, path):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(shards, "write_shard", full)
    result = runner.invoke(app, ["run", str(scripted_config(run_id="full", count=2, n=1))])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "it0-math-00000.parquet: No space left on device" in " ".join(result.stderr.split())


def test_verify_names_a_line_that_is_not_utf8_and_goes_on(tmp_path):
    src, dest = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    good = json.dumps({"id": 1, "reference": "4", "candidate": "\\boxed{4}"}).encode()
    src.write_bytes(good + b"\n" + b'{"id": 2, "reference": "4", "candidate": "\xff"}\n' + good + b"\n")
    result = runner.invoke(app, ["verify", str(src), "-o", str(dest)])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in dest.read_text().splitlines()]
    assert [o["reason"] for o in out] == ["correct", "bad_input", "correct"]
    assert "line 2: not UTF-8 (byte 42" in out[1]["details"] and not list(tmp_path.glob(".tmp-*"))
