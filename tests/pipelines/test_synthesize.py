"""The synthesis pipeline end to end with the scripted `synth` solver: every label and filter
rule has a known outcome (factory/generation/scripted_synth.py), plus crash/resume and lineage."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from factory.config import load_config
from factory.errors import ConfigError
from factory.query import run_query
from factory.store import MANIFEST, RunStore
from pipelines.sample import run_sampling
from pipelines.synth_config import load_synth_config
from pipelines.synthesize import run_synthesis, synthesis_yield

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).parent / "data" / "synth_scripted.toml"
EXPECTED_YIELD = {"generated": 32, "well_formed": 24, "clean": 24, "labelled": 22, "deduplicated": 18, "kept": 18}
EXPECTED_REASONS = {"dedup:near_duplicate": 4, "label:unlabelled": 2, "length:too_long": 2, "length:too_short": 2,
                    "well_formed:multiple_questions": 2, "well_formed:no_question": 2}


@pytest.fixture
def synth_config(tmp_path):
    def make(run_id="synth-test", extra="", replace=()):
        text = CONFIG.read_text().replace('output_dir = "runs"', f'output_dir = "{tmp_path / "runs"}"')
        text = text.replace('run_id = "synth-test"', f'run_id = "{run_id}"')
        for old, new in replace:
            assert old in text
            text = text.replace(old, new)
        path = tmp_path / f"{run_id}.toml"
        path.write_text(text + extra)
        return path

    return make


def one(run_dir, sql):
    return run_query(run_dir, sql)[1][0][0]


def test_yield_and_every_rejection_reason(synth_config):
    report = run_synthesis(load_synth_config(synth_config()))
    assert report.yields == EXPECTED_YIELD
    assert report.reasons == EXPECTED_REASONS
    store = RunStore(report.run_dir)
    rejected = store.read("rejections").to_pylist()
    leak = [r for r in store.read("problems").to_pylist() if "counts leak" in r["prompt"]]
    assert leak and "Answer" not in leak[0]["prompt"]  # the writer's answer line is cut from the problem
    assert all(r["details"] for r in rejected)  # stored with what was measured, not only counted


def test_provenance_and_labels_answer_lineage_queries(synth_config):
    run_dir = Path(run_synthesis(load_synth_config(synth_config())).run_dir)
    rows = dict(run_query(run_dir, "SELECT json_extract_string(metadata, '$.provenance.method') AS m, count(*) "
                                   "FROM problems GROUP BY m")[1])
    assert rows == {"seed": 3, "grid": 2, "evol": 13}
    combined = run_query(run_dir, "SELECT json_array_length(metadata -> '$.provenance.parents'), "
                                  "json_extract_string(metadata, '$.provenance.prompt_version') FROM problems "
                                  "WHERE json_extract_string(metadata, '$.provenance.mutation') = 'combine'")[1]
    assert combined and all(r == (2, "test-v1") for r in combined)
    # children of one seed, through the parents list
    seed = one(run_dir, "SELECT json_extract_string(metadata, '$.provenance.parents[0]') FROM problems "
                        "WHERE json_extract_string(metadata, '$.provenance.mutation') = 'harder' LIMIT 1")
    children = one(run_dir, f"SELECT count(*) FROM problems WHERE list_contains("
                            f"json_extract_string(metadata, '$.provenance.parents[*]'), '{seed}')")
    assert children >= 3
    # majority@4 with confidence 0.75: 3 and 3.0 are one answer to the verifier, v + 1 is not
    labels = run_query(run_dir, "SELECT DISTINCT json_extract_string(metadata, '$.label.method'), "
                                "json_extract(metadata, '$.label.confidence')::DOUBLE FROM problems")[1]
    assert labels == [("majority@4", 0.75)]


def test_label_samples_are_stored_and_judged_against_the_label(synth_config):
    run_dir = Path(run_synthesis(load_synth_config(synth_config())).run_dir)
    assert one(run_dir, "SELECT count(*) FROM candidates") == 4 * 18
    assert one(run_dir, "SELECT count(DISTINCT candidate_id) FROM candidates") == 4 * 18
    assert one(run_dir, "SELECT count(*) FROM samples WHERE passed") == 3 * 18
    assert one(run_dir, "SELECT count(*) FROM samples WHERE passed AND sample_idx = 3") == 0


def test_rerun_resumes_and_dedup_spans_the_whole_store(synth_config):
    cfg = load_synth_config(synth_config())
    first = run_synthesis(cfg)
    again = run_synthesis(cfg)
    assert again.chunks_skipped == again.chunks_total and again.written == 0 and again.yields == first.yields
    # a second run into the same store: every problem the first kept is now an exact duplicate
    other = run_synthesis(load_synth_config(synth_config(run_id="synth-other")))
    assert other.yields["kept"] == 0
    assert other.reasons["dedup:exact_duplicate"] == 18


def test_synthesized_problems_flow_into_factory_run(synth_config, tmp_path):
    synth = run_synthesis(load_synth_config(synth_config()))
    config = tmp_path / "sample.toml"
    config.write_text(f'[run]\nrun_id = "use"\noutput_dir = "{tmp_path / "runs"}"\n\n'
                      f'[[sources]]\nname = "synthesized"\nrun_dir = "{synth.run_dir}"\nmethods = ["evol"]\n\n'
                      '[generation]\nbackend = "scripted"\nn = 4\n\n[generation.options]\nsolver = "synth"\n')
    report = run_sampling(load_config(config))
    assert report.summary["problems"] == 13 and report.summary["pass_rate"] == pytest.approx(0.75)
    assert one(Path(report.run_dir), "SELECT count(*) FROM problems WHERE "
                                     "json_extract_string(metadata, '$.provenance.method') = 'evol'") == 13


def test_sigkill_mid_run_then_resume_gives_the_same_rows(synth_config):
    slow = synth_config(run_id="kill", replace=(('solver = "synth"', 'solver = "synth"\ndelay_s = 0.05'),
                                                 ("chunk_size = 4", "chunk_size = 2")))
    run_dir = slow.parent / "runs" / "kill"
    cmd = [sys.executable, "-m", "factory.cli", "synthesize", str(slow)]
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
    assert 3 <= committed < 16, "the kill must land mid-run"
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "kept" in done.stdout
    assert synthesis_yield(run_dir) == (EXPECTED_YIELD, EXPECTED_REASONS)
    assert one(run_dir, "SELECT count(*) - count(DISTINCT candidate_id) FROM candidates") == 0
    assert one(run_dir, "SELECT count(*) - count(DISTINCT problem_id) FROM problems") == 0


def test_decontamination_against_an_eval_set(synth_config, tmp_path):
    evals = tmp_path / "evals.jsonl"
    # the grid's apples problem (both personas), reworded at the start: 8-gram overlap 7/9 > 0.5
    evals.write_text('{"prompt": "Carl sees apples: there are 34 and then 32 more. What is 34 + 32?", "answer": "66"}\n')
    extra = f'\n[[synthesis.filters.eval_sets]]\nname = "jsonl"\npath = "{evals}"\n'
    report = run_synthesis(load_synth_config(synth_config(extra=extra)))
    assert report.reasons["decontam:contaminated"] == 2
    assert report.reasons["dedup:near_duplicate"] == 3  # Bob's apples copy is now caught earlier


@pytest.mark.parametrize("old,new,message", [
    ('rephrase = "Write', 'rephrased = "Write', "no template 'rephrase'"),
    ("{problem}\\n{other}", "{problem}\\n{sibling}", "unknown placeholder {sibling}"),
    ('methods = ["seed", "grid", "evol"]', 'methods = ["seed", "magpie"]', "unknown method 'magpie'"),
    ("label_threshold = 0.6", "label_threshold = 1.5", "label_threshold"),
    ("min_chars = 10", "min_char = 10", "unknown key 'min_char'"),
])
def test_config_errors_name_the_key(synth_config, old, new, message):
    with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("}", r"\}")):
        load_synth_config(synth_config(replace=((old, new),)))


def test_difficulty_bands_tags_and_verl_band_export(scripted_config, tmp_path):
    """The arithmetic solver: even samples right, odd wrong (rate 0.5); fail_every makes some
    problems none-solved; the export keeps the band and leaves solved-by-none out."""
    import pyarrow.parquet as pq

    from pipelines.difficulty import Bands, export_difficulty

    cfg = load_config(scripted_config(count=12, n=4, extra="[generation.options]\nfail_every = 3"))
    run_sampling(cfg)
    result = export_difficulty(cfg.run_dir, tmp_path / "out", (0.25, 0.75), Bands([0.25, 0.5, 0.75]))
    assert result["tags"]["all_solved"] == 0 and result["tags"]["none_solved"] >= 1
    assert result["tags"]["mixed"] == result["exported"] == result["bands"]["[0.5,0.75)"]
    verl = pq.read_table(result["paths"]["verl"]).to_pylist()
    assert {r["extra_info"]["pass_rate"] for r in verl} == {0.5} and verl[0]["reward_model"]["ground_truth"]
    table = pq.read_table(result["paths"]["difficulty"]).to_pylist()
    assert {r["tag"] for r in table if r["pass_rate"] == 0} == {"none_solved"}
    assert Bands([0.25, 0.5, 0.75]).name(1.0) == "[0.75,1]" and Bands().name(0.0) == "[0,0.25)"


def test_synthesize_command_shows_progress_and_the_yield_table(tmp_path):
    """The CLI path: a progress line with counts, rate and elapsed time, then the yield table."""
    from typer.testing import CliRunner

    from factory.cli import app

    config = Path(__file__).parent / "data" / "synth_scripted.toml"
    result = CliRunner().invoke(app, ["synthesize", str(config), "--output-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    assert "synthesize:" in result.output and "requests" in result.output and "elapsed" in result.output
    assert "yield" in result.output
