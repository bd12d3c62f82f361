"""The sampling pipeline end to end with the scripted backend (fast), plus crash/resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from factory.config import load_config
from factory.errors import FactoryError
from factory.query import run_query
from factory.store import MANIFEST
from pipelines.sample import run_sampling

ROOT = Path(__file__).resolve().parents[2]


def count(run_dir, sql):
    return run_query(run_dir, sql)[1][0][0]


def test_scripted_run_has_known_pass_rate(scripted_config):
    cfg = load_config(scripted_config(count=10, n=4, chunk_size=4))
    report = run_sampling(cfg)
    s = report.summary
    assert (s["problems"], s["candidates"]) == (10, 40)
    assert s["pass_rate"] == pytest.approx(0.5)  # even samples right, odd wrong, by construction
    assert s["pass_at_1"] == pytest.approx(0.5) and s["pass_at_n"] == 1.0
    assert report.chunks_total == 3 and report.chunks_skipped == 0
    rows = run_query(cfg.run_dir, "SELECT sample_idx % 2 AS odd, bool_and(passed), bool_or(passed) "
                                  "FROM samples GROUP BY odd ORDER BY odd")[1]
    assert rows == [(0, True, True), (1, False, False)]
    assert count(cfg.run_dir, "SELECT count(*) FROM samples WHERE extracted_answer IS NULL") == 0


def test_rerun_resumes_without_duplicates(scripted_config):
    cfg = load_config(scripted_config(count=10))
    run_sampling(cfg)
    again = run_sampling(cfg)
    assert again.chunks_skipped == again.chunks_total and again.generated_candidates == 0
    assert count(cfg.run_dir, "SELECT count(*) - count(DISTINCT candidate_id) FROM candidates") == 0
    assert count(cfg.run_dir, "SELECT count(*) FROM verdicts") == 40


def test_changed_config_under_same_run_id_is_refused(scripted_config):
    run_sampling(load_config(scripted_config(count=4)))
    with pytest.raises(FactoryError, match="different config"):
        run_sampling(load_config(scripted_config(count=5)))


def test_empty_source_writes_nothing(scripted_config, tmp_path):
    cfg = load_config(scripted_config(count=0))
    with pytest.raises(FactoryError, match="no problems"):
        run_sampling(cfg)
    assert not cfg.run_dir.exists()


def test_bad_model_output_is_stored_with_a_reason(scripted_config):
    texts = '["", "\\u0000\\u0001 binary", "' + "x" * 300_000 + '", "The answer is 41"]'
    cfg = load_config(scripted_config(count=3, n=4, extra=f"[generation.options]\ntexts = {texts}"))
    run_sampling(cfg)
    reasons = dict(run_query(cfg.run_dir, "SELECT reason, count(*) FROM samples GROUP BY reason")[1])
    assert reasons.get("no_answer", 0) >= 3 and reasons.get("bad_output", 0) >= 3
    longest = count(cfg.run_dir, "SELECT max(length(text)) FROM candidates")
    assert longest <= 200_000  # capped, still stored


def test_output_loads_with_datasets_and_duckdb(scripted_config):
    import datasets

    cfg = load_config(scripted_config(count=6))
    run_sampling(cfg)
    files = [str(p) for p in sorted((cfg.run_dir / "candidates").rglob("*.parquet"))]
    ds = datasets.load_dataset("parquet", data_files=files, split="train")
    assert ds.num_rows == 24 and "text" in ds.column_names
    con = duckdb.connect()
    n = con.execute(f"SELECT count(*) FROM read_parquet('{cfg.run_dir}/verdicts/**/*.parquet', "
                    "hive_partitioning = true) WHERE run = 't' AND domain = 'math'").fetchone()[0]
    assert n == 24


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_gives_exact_rows(scripted_config):
    """Kill the real CLI process with SIGKILL after some chunks committed; rerun; check rows."""
    config = scripted_config(run_id="kill", count=40, n=3, chunk_size=2,
                             extra="[generation.options]\ndelay_s = 0.08")
    run_dir = config.parent / "runs" / "kill"
    cmd = [sys.executable, "-m", "factory.cli", "run", str(config)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        manifest = run_dir / MANIFEST
        if manifest.exists() and len(manifest.read_text().splitlines()) >= 3:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    committed = len((run_dir / MANIFEST).read_text().splitlines())
    assert 3 <= committed < 20, "the kill must land mid-run"
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert count(run_dir, "SELECT count(*) FROM candidates") == 120
    assert count(run_dir, "SELECT count(DISTINCT candidate_id) FROM candidates") == 120
    assert count(run_dir, "SELECT count(*) FROM verdicts") == 120
    assert count(run_dir, "SELECT count(DISTINCT problem_id) FROM problems") == 40


def test_code_problems_run_through_the_sandbox(tmp_path):
    import json

    rows = [{"prompt": f"Write sq(x) returning x*x (case {i}).", "reference": "",
             "tests": [{"type": "assert", "code": f"assert sq({i}) == {i * i}"}]} for i in range(3)]
    (tmp_path / "code.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    texts = json.dumps(["```python\ndef sq(x):\n    return x * x\n```", "```python\ndef sq(x):\n    return x + 1\n```"])
    config = tmp_path / "code.toml"
    config.write_text(f"""
[run]
run_id = "code"
output_dir = "{tmp_path / 'runs'}"
[[sources]]
name = "jsonl"
path = "code.jsonl"
domain = "code"
tests_field = "tests"
[generation]
backend = "scripted"
n = 2
[generation.options]
texts = {texts}
""")
    cfg = load_config(config)
    report = run_sampling(cfg)
    assert report.summary["candidates"] == 6 and report.summary["pass_rate"] == pytest.approx(0.5)
    reasons = dict(run_query(cfg.run_dir, "SELECT reason, count(*) FROM verdicts GROUP BY reason")[1])
    assert reasons == {"correct": 3, "wrong_answer": 3}


@pytest.mark.slow
def test_lean_problems_run_through_the_embedded_lean_in_one_batch(tmp_path):
    import json

    config = tmp_path / "lean.toml"
    config.write_text(f"""
[run]
run_id = "lean"
output_dir = "{tmp_path / 'runs'}"
chunk_size = 8
[[sources]]
name = "lean_core"
count = 3
[generation]
backend = "scripted"
n = 2
[generation.options]
texts = {json.dumps(["by omega", "by sorry"])}
""")
    cfg = load_config(config)
    start = time.perf_counter()
    report = run_sampling(cfg)
    assert time.perf_counter() - start < 90  # one Lean start-up (~25 s) for the whole chunk
    assert report.summary["candidates"] == 6
    reasons = dict(run_query(cfg.run_dir, "SELECT reason, count(*) FROM verdicts GROUP BY reason")[1])
    # add_comm / add_assoc fall to omega, mul_comm (non-linear) does not; every sorry fails
    assert reasons == {"correct": 2, "lean_error": 1, "uses_sorry": 3}
