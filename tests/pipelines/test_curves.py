"""Test-time compute curves: the weighted-vote estimator and curves from a labelled run."""

from __future__ import annotations

import pytest

from factory.config import load_config
from pipelines.curves import compute_curves, compute_rows, curve_ks, plot_compute, weighted_vote_at_k
from pipelines.eval import maj_at_k, pass_at_k
from pipelines.rollouts import RolloutSettings, label_steps
from pipelines.sample import run_sampling

SAMPLES = [("3", True), ("4", False), ("4", False), (None, False), ("3", True), ("5", False)]


@pytest.mark.parametrize("k", [1, 2, 3, 6])
def test_uniform_weights_are_a_majority_vote(k):
    uniform = weighted_vote_at_k([(a, ok, 1.0) for a, ok in SAMPLES], k, subsets=4000)
    assert uniform == pytest.approx(maj_at_k(SAMPLES, k), abs=0.03)


def test_weights_that_trust_right_answers_beat_the_majority_and_never_pass_at_k():
    weighted = [(a, ok, 0.9 if ok else 0.2) for a, ok in SAMPLES]
    for k in (2, 3, 4):
        w = weighted_vote_at_k(weighted, k, subsets=2000)
        assert maj_at_k(SAMPLES, k) < w <= pass_at_k(6, 2, k) + 1e-9
    with pytest.raises(ValueError):
        weighted_vote_at_k(weighted, 7)


def test_curve_ks_are_powers_of_two_and_n():
    assert curve_ks(1) == [1] and curve_ks(12) == [1, 2, 4, 8, 12] and curve_ks(16) == [1, 2, 4, 8, 16]


def test_curves_from_a_run_with_step_labels(scripted_config, tmp_path):
    extra = '[generation.options]\nsolver = "steps"\nstep_error_rate = 0.3\nrollout_error_rate = 0.3\n'
    cfg = load_config(scripted_config(count=8, n=8, difficulty=3, extra=extra))
    run_sampling(cfg)
    assert set(compute_curves(cfg.run_dir)[0].accuracy) == {"pass@k", "maj@k"}  # no labels yet
    label_steps(cfg.run_dir, RolloutSettings(k=4, strategy="all", per_problem=0))
    (curve,) = compute_curves(cfg.run_dir)
    assert (curve.n, curve.problems, curve.ks) == (8, 8, [1, 2, 4, 8])
    acc = curve.accuracy
    for k in curve.ks:
        assert acc["maj@k"][k] <= acc["pass@k"][k] + 1e-9 and acc["weighted@k"][k] <= acc["pass@k"][k] + 0.04  # sampled subsets
    assert acc["pass@k"][1] == pytest.approx(acc["maj@k"][1])
    assert acc["weighted@k"][8] >= acc["maj@k"][8]  # step values pick out the error-free chains
    assert curve.tokens(8) == pytest.approx(8 * curve.tokens(1))
    rows = compute_rows([curve])
    assert len(rows) == 4 and {"tokens", "pass@k", "maj@k", "weighted@k"} <= set(rows[0])
    pytest.importorskip("matplotlib")
    (png,) = plot_compute([curve], tmp_path / "report")
    assert png.name == "compute_math.png" and png.stat().st_size > 10_000
