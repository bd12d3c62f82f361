"""Adaptive sampling and step labelling through the Ray executor (#15): both hand the executor a
plain chunk callable, so on the local test Ray they write the same rows as the local executor,
each exactly once."""

from __future__ import annotations

import pytest

pytest.importorskip("ray", reason="the Ray tests need the 'ray' extra: pip install -e '.[ray]'")

from factory.config import load_config
from factory.query import run_query
from pipelines.adaptive import AdaptiveSettings, run_adaptive
from pipelines.prm_export import connect_with_steps
from pipelines.rollouts import RolloutSettings, label_steps
from pipelines.sample import run_sampling

RATE = '[generation.options]\nsolver = "rate"\npass_rates = [0.0, 0.3, 0.95]\nvariants = 6\n'
STEPS = '[generation.options]\nsolver = "steps"\nstep_error_rate = 0.3\nrollout_error_rate = 0.0\n'
ONCE = "SELECT count(*), count(DISTINCT candidate_id) FROM candidates"


def test_adaptive_rounds_on_ray_match_the_local_executor(ray_session, scripted_config, tmp_path):
    config = scripted_config(run_id="ad", count=10, n=8, chunk_size=4, extra=RATE)
    settings = AdaptiveSettings(round_size=4, target_distinct=3)
    local = run_adaptive(load_config(config, {"run.output_dir": str(tmp_path / "local")}), settings)
    cfg = load_config(config, {"run.output_dir": str(tmp_path / "ray"), "run.executor": "ray"})
    on_ray = run_adaptive(cfg, settings)
    assert on_ray.rounds == local.rounds >= 2
    assert {p: (s.samples, s.passed, s.distinct) for p, s in on_ray.states.items()} == \
           {p: (s.samples, s.passed, s.distinct) for p, s in local.states.items()}
    assert run_query(cfg.run_dir, ONCE)[1][0] == (on_ray.samples, on_ray.samples)
    assert run_adaptive(cfg, settings).samples == on_ray.samples  # a rerun adds nothing


def test_step_labels_on_ray_match_the_local_executor(ray_session, scripted_config, tmp_path):
    config = scripted_config(run_id="st", count=6, n=2, chunk_size=4, difficulty=3, extra=STEPS)
    settings = RolloutSettings(k=2, chunk_size=4, per_problem=0)
    rows = {}
    for where, overrides in (("local", {}), ("ray", {"run.executor": "ray"})):  # label-steps runs on the run's executor
        cfg = load_config(config, {"run.output_dir": str(tmp_path / where), **overrides})
        run_sampling(cfg)
        report = label_steps(cfg.run_dir, settings)
        assert report.chunks_total == 3 and report.candidates == 12
        assert label_steps(cfg.run_dir, settings).rollouts == 0  # everything committed: a rerun labels nothing
        con = connect_with_steps(cfg.run_dir)
        assert con.execute("SELECT count(*) = count(DISTINCT step_id) FROM steps").fetchone() == (True,)
        rows[where] = con.execute("SELECT step_id, label, mc_value, first_bad_step, rollouts FROM steps "
                                  "ORDER BY step_id").fetchall()
    assert rows["ray"] == rows["local"] and len(rows["ray"]) == report.steps
